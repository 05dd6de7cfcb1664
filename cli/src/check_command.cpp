// check_command.cpp - `hardenctl check IP`: what the policy does to one client.
//
//   check IP [--hostname NAME] [--resolve OK|FAIL|FORGED|TEMP] [--at TIME]
//            [--ipv4-prefix N] [--ipv6-prefix N] [--exit-code] [--json]
//
// Loads the snapshot the daemon would load, resolves the client once
// (policy::Policy::resolve) and explains: the client key, every effective
// limit with who set it ("from default", "from 192.0.2.0/24"), every matching
// rule most specific first, the dial-in heuristic and missing-rDNS outcome,
// and the verdict at connect. --resolve defaults to OK with --hostname, FAIL
// without. The host name is untrusted input and is validated.
#include <fmt/format.h>

#include <iostream>
#include <optional>

#include "commands.hpp"
#include "harden/policy/error.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

using policy::Attr;
using policy::Source;

struct CheckOptions {
  std::string ip, hostname, resolve, at;
  policy::ClientKeyer keyer;  // as the daemon's ipv4_prefix / ipv6_prefix
  CLI::Option* hostname_opt = nullptr;
  CLI::Option* resolve_opt = nullptr;
  CLI::Option* at_opt = nullptr;
  bool exit_code = false;
  bool json = false;
};

struct Verdict {
  std::string result;  // allow, block, tempfail, limit
  std::string text;    // for people
  bool rejects = false;
};

std::string hostname_arg(const std::string& name) {
  try {
    return policy::normalize_hostname(name);
  } catch (const policy::PolicyError& e) {
    throw UsageError(fmt::format("--hostname: {}", e.what()));
  }
}

policy::Client make_client(const CheckOptions& o) {
  policy::Client c;
  c.address = policy::IpAddress::parse(o.ip);
  if (o.hostname_opt->count() > 0) c.hostname = hostname_arg(o.hostname);
  c.resolve = c.hostname.empty() ? policy::RdnsStatus::fail : policy::RdnsStatus::ok;
  if (o.resolve_opt->count() > 0) c.resolve = policy::parse_rdns_status(o.resolve);
  if (c.resolve == policy::RdnsStatus::ok && c.hostname.empty()) {
    throw UsageError("--resolve OK needs --hostname NAME");
  }
  return c;
}

// The effective values as Attributes, so each prints in its canonical text.
policy::Attributes as_attributes(const policy::Limits& l) {
  policy::Attributes a;
  a.action = l.action;
  a.conn_rate = l.conn_rate;
  a.conn_limit = l.conn_limit;
  a.greet_pause = l.greet_pause;
  a.max_rcpts = l.max_rcpts;
  a.bad_rcpt_throttle = l.bad_rcpt_throttle;
  a.rcpt_rate = l.rcpt_rate;
  a.msg_rate = l.msg_rate;
  if (!l.reason.empty()) a.reason = std::string(l.reason);
  a.dialin = l.dialin;
  a.missing_rdns = l.missing_rdns;
  return a;
}

bool is_limit(Attr a) {
  return a != Attr::action && a != Attr::reason && a != Attr::dialin && a != Attr::missing_rdns;
}

std::string source_text(const policy::Policy& p, const policy::Resolution& r, Attr a) {
  const Source& s = r.source(a);
  switch (s.kind) {
    case Source::Kind::rule:
      if (s.rule >= 0 && static_cast<std::size_t>(s.rule) < p.rules().size()) {
        return "from " + p.rules()[static_cast<std::size_t>(s.rule)].selector.text();
      }
      return "from a rule";
    case Source::Kind::heuristic:
      return r.detail.empty() ? "heuristic" : "heuristic: " + r.detail;
    case Source::Kind::builtin:
      return r.detail.empty() ? "built-in" : "built-in: " + r.detail;
    case Source::Kind::none:
      break;
  }
  return "built-in default";
}

std::string limits_in_force(const policy::Attributes& a) {
  std::string text;
  for (const auto& info : policy::attributes()) {
    const auto value = a.get(info.attr);
    if (!is_limit(info.attr) || !value || *value == "0") continue;
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", info.name, *value);
  }
  return text.empty() ? "no limits set" : text;
}

Verdict verdict_of(const policy::Resolution& r) {
  const policy::Limits& l = r.limits;
  const std::string reason(l.reason.empty() ? std::string_view("(no reason set)") : l.reason);
  const std::string action(policy::to_string(l.action));
  if (l.monitor_only) {
    return {"limit", fmt::format("limits apply; monitor mode: would {}: {}", action, reason),
            false};
  }
  switch (l.action) {
    case policy::Action::allow:
      return {"allow", "allow: every limit lifted", false};
    case policy::Action::block:
      return {"block", "block: " + reason, true};
    case policy::Action::tempfail:
      return {"tempfail", "tempfail: " + reason, true};
    case policy::Action::limit:
      break;
  }
  return {"limit", "limits apply: " + limits_in_force(as_attributes(l)), false};
}

bool verified(const policy::Client& c) {
  return c.resolve == policy::RdnsStatus::ok && !c.hostname.empty();
}

// The built-in checks (missing_rdns, dialin) run only while no rule more
// specific than default sets the action and the action is still "limit".
std::optional<std::string> exempted_by(const policy::Policy& p, const policy::Resolution& r) {
  const Source& s = r.source(Attr::action);
  if (s.kind != Source::Kind::rule || s.rule < 0) return std::nullopt;
  const auto& rule = p.rules()[static_cast<std::size_t>(s.rule)];
  const bool is_default = rule.selector.kind() == policy::Selector::Kind::default_rule;
  if (is_default && r.limits.action == policy::Action::limit) return std::nullopt;
  return "action set by " + rule.selector.text();
}

std::string decided_text(const policy::Resolution& r) {
  return r.limits.monitor_only ? "monitor mode, logged only" : "decides the verdict";
}

std::string dialin_text(const policy::Policy& p, const policy::Client& c,
                        const policy::Resolution& r) {
  const std::string mode = fmt::format("dialin={}", policy::to_string(r.limits.dialin));
  if (!verified(c)) {
    return exempted_by(p, r) ? "not checked: no verified rDNS name"
                             : fmt::format("not checked: no verified rDNS name ({})", mode);
  }
  if (r.dialin_hit) {
    return fmt::format("dynamic name: {} ({}), {}: {}", r.dialin_hit->heuristic,
                       r.dialin_hit->detail, mode, decided_text(r));
  }
  if (const auto why = exempted_by(p, r)) return "not checked: " + *why;
  if (r.limits.dialin == policy::DialinMode::off) return mode;
  return fmt::format("no dynamic-looking name ({})", mode);
}

std::string missing_rdns_text(const policy::Policy& p, const policy::Client& c,
                              const policy::Resolution& r) {
  if (verified(c)) return "rDNS verified (OK)";
  const std::string status = fmt::format("no verified rDNS ({})", policy::to_string(c.resolve));
  if (const auto why = exempted_by(p, r)) return status + ": not applied, " + *why;
  const std::string text =
      fmt::format("{}, missing_rdns={}", status, policy::to_string(r.limits.missing_rdns));
  if (r.source(Attr::action).kind == Source::Kind::builtin) return text + ": " + decided_text(r);
  return text;
}

// Always with the prefix length: "192.0.2.7/32", "2001:db8::/64".
std::string key_text(const policy::IpNetwork& key) {
  return fmt::format("{}/{}", key.address().to_string(), key.prefix());
}

std::string rdns_text(const policy::Client& c) {
  if (c.hostname.empty()) return fmt::format("none ({})", policy::to_string(c.resolve));
  return fmt::format("{} ({})", c.hostname, policy::to_string(c.resolve));
}

void print_text(const policy::Policy& p, const policy::Client& c, const policy::Resolution& r,
                policy::UnixTime at) {
  const Verdict v = verdict_of(r);
  Table head({"client", c.address.to_string()});
  head.add({"rDNS", rdns_text(c)});
  head.add({"key", key_text(r.key)});
  head.add({"at", policy::format_time(at)});
  const Source& decided = r.source(Attr::action);
  head.add({"verdict", decided.kind == Source::Kind::none
                           ? v.text
                           : v.text + "  [" + source_text(p, r, Attr::action) + "]"});
  head.add({"dial-in", dialin_text(p, c, r)});
  head.add({"missing rDNS", missing_rdns_text(p, c, r)});
  head.print(std::cout);

  const policy::Attributes eff = as_attributes(r.limits);
  Table limits({"ATTRIBUTE", "VALUE", "FROM"});
  for (const auto& info : policy::attributes()) {
    limits.add(
        {std::string(info.name), eff.get(info.attr).value_or("-"), source_text(p, r, info.attr)});
  }
  std::cout << "\neffective limits\n";
  limits.print(std::cout, "  ");

  Table matched({"SELECTOR", "KIND", "ATTRIBUTES"});
  for (const auto i : r.matched) {
    const auto& rule = p.rules()[static_cast<std::size_t>(i)];
    matched.add(
        {rule.selector.text(), std::string(rule.selector.kind_name()), attrs_text(rule.attrs)});
  }
  std::cout << "\nmatching rules, most specific first\n";
  matched.print(std::cout, "  ");
}

nlohmann::json json_of(const policy::Policy& p, const policy::Client& c,
                       const policy::Resolution& r, policy::UnixTime at) {
  const Verdict v = verdict_of(r);
  nlohmann::json j;
  j["client"] = {{"address", c.address.to_string()},
                 {"hostname", c.hostname},
                 {"resolve", std::string(policy::to_string(c.resolve))}};
  j["key"] = key_text(r.key);
  j["at"] = policy::format_time(at);
  j["verdict"] = {{"result", v.result},
                  {"reason", r.limits.reason},
                  {"monitor_only", r.limits.monitor_only},
                  {"text", v.text},
                  {"from", source_text(p, r, Attr::action)}};
  const policy::Attributes eff = as_attributes(r.limits);
  for (const auto& info : policy::attributes()) {
    j["limits"][std::string(info.name)] = {{"value", eff.get(info.attr).value_or("")},
                                           {"from", source_text(p, r, info.attr)}};
  }
  j["matched"] = nlohmann::json::array();
  for (const auto i : r.matched)
    j["matched"].push_back(rule_json(p.rules()[static_cast<std::size_t>(i)], at));
  j["dialin"] = {{"mode", std::string(policy::to_string(r.limits.dialin))},
                 {"text", dialin_text(p, c, r)}};
  j["dialin"]["hit"] = r.dialin_hit ? nlohmann::json{{"heuristic", r.dialin_hit->heuristic},
                                                     {"detail", r.dialin_hit->detail}}
                                    : nlohmann::json(nullptr);
  j["missing_rdns"] = {{"mode", std::string(policy::to_string(r.limits.missing_rdns))},
                       {"text", missing_rdns_text(p, c, r)}};
  return j;
}

int run_check(const Globals& g, const CheckOptions& o) {
  const policy::Client client = make_client(o);
  const policy::UnixTime at = o.at_opt->count() > 0 ? policy::parse_time(o.at) : now();
  const db::Store store = open_store(g, Access::read);
  policy::PolicyOptions options;
  options.keyer = o.keyer;
  const auto snapshot = store.load_snapshot(options);
  const policy::Resolution r = snapshot->resolve(client, at);
  if (o.json) {
    print_json(std::cout, json_of(*snapshot, client, r, at));
  } else {
    print_text(*snapshot, client, r, at);
  }
  return o.exit_code && verdict_of(r).rejects ? kExitPolicy : kExitOk;
}

}  // namespace

void add_check_command(CLI::App& app, Dispatch& d) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = add_command(app, "check", "explain what the policy does to a client", R"(
Shows the client key counters use (IPv4 /32, IPv6 /64, or as the daemon's
ipv4_prefix / ipv6_prefix: give the same with --ipv4-prefix / --ipv6-prefix),
each effective limit and the rule that set it, every matching rule (most
specific first), the dial-in heuristic and missing-rDNS outcome, and the
verdict at connect. Host name, suffix and pattern rules match only a verified
name (--resolve OK).

Exit status: 0, or with --exit-code 1 when the verdict is block or tempfail.

Examples:
  hardenctl check 192.0.2.7
  hardenctl check 192.0.2.7 --hostname dsl-192-0-2-7.dyn.example.net
  hardenctl check 2001:db8::7 --hostname mail.example.org --resolve FORGED --json
  hardenctl check 127.0.0.1 --at 2026-12-31 --exit-code
  hardenctl check 2001:db8::7 --ipv6-prefix 48)");
  sub->add_option("ip", o->ip, "client address (IPv4 or IPv6)")->required()->type_name("IP");
  o->hostname_opt =
      sub->add_option("--hostname", o->hostname, "the client's rDNS name")->type_name("NAME");
  o->resolve_opt = sub->add_option("--resolve", o->resolve, "rDNS verification result")
                       ->type_name("OK|FAIL|FORGED|TEMP");
  o->at_opt =
      sub->add_option("--at", o->at, "evaluate at this UTC time (rule expiry)")->type_name("TIME");
  sub->add_option("--ipv4-prefix", o->keyer.v4_prefix,
                  "count IPv4 clients by their /N (8..32, default 32), as the daemon's "
                  "ipv4_prefix")
      ->type_name("N")
      ->check(CLI::Range(8u, 32u).description(""));
  sub->add_option("--ipv6-prefix", o->keyer.v6_prefix,
                  "count IPv6 clients by their /N (16..128, default 64), as the daemon's "
                  "ipv6_prefix")
      ->type_name("N")
      ->check(CLI::Range(16u, 128u).description(""));
  sub->add_flag("--exit-code", o->exit_code, "exit 1 if the verdict is block or tempfail");
  sub->add_flag("--json", o->json, "print JSON");
  on_run(sub, d, o, run_check);
}

}  // namespace harden::cli
