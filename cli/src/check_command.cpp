// check_command.cpp - `hardenctl check IP`: what the policy does to one client,
// and `hardenctl check --batch FILE|-`: the same for many, one line each.
//
//   check IP [--hostname NAME] [--resolve OK|FAIL|FORGED|TEMP] [--at TIME]
//            [--ipv4-prefix N] [--ipv6-prefix N] [--greet-pause-cap DURATION]
//            [--socket PATH] [--exit-code] [--brief | --json]
//   check --batch FILE|- [same options but --hostname/--resolve]
//
// Loads the snapshot the daemon would load, resolves the client once
// (policy::Policy::resolve) and explains: the client key, every effective
// limit with who set it ("from default", "from 192.0.2.0/24"), every matching
// rule most specific first, the dial-in heuristic and missing-rDNS outcome,
// and the verdict at connect. --resolve defaults to OK with --hostname, FAIL
// without. The host name is untrusted input and is validated.
//
// greet_pause is shown as the daemon holds it: cut to its greet_pause_cap
// ("9000 (policy 30000, cut to greet_pause_cap)"). The cap is
// --greet-pause-cap, else the running daemon's (its control socket's
// "stats"), else milter-harden's default, and the output says which.
//
// --batch reads lines "IP [HOSTNAME [RESOLVE]]" (HOSTNAME "-": none; blank
// lines and # comments skipped; at most kMaxBatchLine bytes), loads the
// snapshot once, and prints per line what --brief (or --json, as one JSON
// Lines object) prints for the same client. A bad line is reported on
// stderr as "FILE:LINE: error: why" and the rest goes on; then the exit
// status is 2.
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "control_commands.hpp"
#include "harden/policy/decision.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rate.hpp"
#include "harden/policy/rdns.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

using policy::Attr;
using policy::Source;

// A batch line longer than this is an error for that line.
constexpr std::size_t kMaxBatchLine = 4096;
// How long check waits for the daemon's "stats" (the cap) before using the default.
constexpr std::chrono::milliseconds kCapQueryTimeout{2000};

struct CheckOptions {
  std::string ip, hostname, resolve, at, greet_pause_cap, batch;
  std::string socket{kDefaultControlSocket};
  policy::ClientKeyer keyer;  // as the daemon's ipv4_prefix / ipv6_prefix
  CLI::Option* hostname_opt = nullptr;
  CLI::Option* resolve_opt = nullptr;
  CLI::Option* at_opt = nullptr;
  CLI::Option* cap_opt = nullptr;
  CLI::Option* batch_opt = nullptr;
  bool exit_code = false;
  bool json = false;
  bool brief = false;
};

// The greet_pause_cap the check assumes and where it comes from.
struct PauseCap {
  std::chrono::milliseconds value{policy::kDefaultGreetPauseCapMs};
  std::string from;  // "option", "daemon", "default"
  std::string text;  // for people: "9s (from milter-harden at /run/...)"
};

// One client's check: what every output form is made of.
struct Check {
  const policy::Policy& p;
  const policy::Client& c;
  const policy::Resolution& r;
  policy::UnixTime at;
  const PauseCap& cap;
  policy::HeldPause pause;
};

// What a client's input fields are called in errors: the options of a single
// check, the fields of a batch line.
struct InputNames {
  std::string_view hostname, resolve_needs_name;
};
constexpr InputNames kOptionNames{"--hostname", "--resolve OK needs --hostname NAME"};
constexpr InputNames kBatchNames{"HOSTNAME", "RESOLVE OK needs a HOSTNAME"};

struct Verdict {
  std::string result;  // allow, block, tempfail, limit
  std::string text;    // for people
  bool rejects = false;
};

std::string hostname_arg(std::string_view name, std::string_view what) {
  try {
    return policy::normalize_hostname(name);
  } catch (const policy::PolicyError& e) {
    throw UsageError(fmt::format("{}: {}", what, e.what()));
  }
}

// The client of one check, from the single check's options or a batch line.
policy::Client client_of(std::string_view ip, std::optional<std::string_view> hostname,
                         std::optional<std::string_view> resolve, const InputNames& names) {
  policy::Client c;
  c.address = policy::IpAddress::parse(ip);
  if (hostname) c.hostname = hostname_arg(*hostname, names.hostname);
  c.resolve = c.hostname.empty() ? policy::RdnsStatus::fail : policy::RdnsStatus::ok;
  if (resolve) c.resolve = policy::parse_rdns_status(*resolve);
  if (c.resolve == policy::RdnsStatus::ok && c.hostname.empty()) {
    throw UsageError(std::string(names.resolve_needs_name));
  }
  return c;
}

policy::Client make_client(const CheckOptions& o) {
  std::optional<std::string_view> hostname, resolve;
  if (o.hostname_opt->count() > 0) hostname = o.hostname;
  if (o.resolve_opt->count() > 0) resolve = o.resolve;
  return client_of(o.ip, hostname, resolve, kOptionNames);
}

std::string cap_text(std::chrono::milliseconds cap) {
  return policy::format_duration_ms(static_cast<std::uint64_t>(cap.count()));
}

// --greet-pause-cap, else the running daemon's cap, else the default.
PauseCap pause_cap(const CheckOptions& o) {
  if (o.cap_opt->count() > 0) {
    std::uint64_t ms = 0;
    try {
      ms = policy::parse_duration_ms(o.greet_pause_cap, policy::kMaxGreetPauseMs);
    } catch (const policy::PolicyError& e) {
      throw UsageError(fmt::format("--greet-pause-cap: {}", e.what()));
    }
    const std::chrono::milliseconds cap{static_cast<std::int64_t>(ms)};
    return {cap, "option", cap_text(cap) + " (--greet-pause-cap)"};
  }
  std::string why;
  try {
    const auto reply = control_request(o.socket, {{"cmd", "stats"}}, kCapQueryTimeout);
    const auto it = reply.find("greet_pause_cap_ms");
    if (!reply.value("ok", false)) {
      why = fmt::format("milter-harden at {} answered: {}", o.socket,
                        reply.value("error", std::string("failed")));
    } else if (it == reply.end() || !it->is_number_unsigned() ||
               it->get<std::uint64_t>() > policy::kMaxGreetPauseMs) {
      why = fmt::format("milter-harden at {} does not report its greet_pause_cap", o.socket);
    } else {
      const std::chrono::milliseconds cap{it->get<std::int64_t>()};
      return {cap, "daemon", fmt::format("{} (from milter-harden at {})", cap_text(cap), o.socket)};
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  const std::chrono::milliseconds cap{policy::kDefaultGreetPauseCapMs};
  return {cap, "default",
          fmt::format("{} (milter-harden's default; no daemon asked: {}; give --greet-pause-cap)",
                      cap_text(cap), why)};
}

// The effective values as the daemon holds them: greet_pause cut to the cap.
policy::Attributes held_attributes(const Check& k) {
  policy::Attributes a = policy::as_attributes(k.r.limits);
  a.greet_pause = k.pause.held_ms;
  return a;
}

std::string limit_text(const Check& k, Attr a) {
  if (a == Attr::greet_pause) return policy::held_pause_text(k.pause);
  return held_attributes(k).get(a).value_or("-");
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
    if (!policy::is_limit(info.attr) || !value || *value == "0") continue;
    text += fmt::format("{}{} {}", text.empty() ? "" : ", ", info.name, *value);
  }
  return text.empty() ? "no limits set" : text;
}

Verdict verdict_of(const Check& k) {
  const policy::Limits& l = k.r.limits;
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
  return {"limit", "limits apply: " + limits_in_force(held_attributes(k)), false};
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
  if (r.limits.dialin == policy::ModeSetting::off) return mode;
  return fmt::format("no dynamic-looking name ({})", mode);
}

// What the built-in generic-name heuristic makes of the verified name, with
// what fired, whatever dialin and generic_hosting say.
std::optional<policy::RdnsHit> rdns_class(const policy::Client& c) {
  if (!verified(c)) return std::nullopt;
  return policy::classify_rdns(c.hostname, &c.address);
}

std::string rdns_class_text(const policy::Client& c) {
  if (!verified(c)) return "not checked: no verified rDNS name";
  const auto hit = rdns_class(c);
  if (!hit) return "static or unknown (no generic form)";
  return fmt::format("{}: {} ({})", policy::to_string(hit->kind), hit->heuristic, hit->detail);
}

std::string generic_hosting_text(const policy::Policy& p, const policy::Client& c,
                                 const policy::Resolution& r) {
  const std::string mode =
      fmt::format("generic_hosting={}", policy::to_string(r.limits.generic_hosting));
  if (!verified(c)) return fmt::format("not checked: no verified rDNS name ({})", mode);
  if (r.generic_hosting_hit) {
    return fmt::format("hosting name: {} ({}), {}: {}", r.generic_hosting_hit->heuristic,
                       r.generic_hosting_hit->detail, mode, decided_text(r));
  }
  if (const auto why = exempted_by(p, r)) return "not checked: " + *why;
  return mode;
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

void print_text(const Check& k) {
  const auto& [p, c, r, at, cap, pause] = k;
  const Verdict v = verdict_of(k);
  Table head({"client", c.address.to_string()});
  head.add({"rDNS", rdns_text(c)});
  head.add({"key", key_text(r.key)});
  head.add({"at", policy::format_time(at)});
  const Source& decided = r.source(Attr::action);
  head.add({"verdict", decided.kind == Source::Kind::none
                           ? v.text
                           : v.text + "  [" + source_text(p, r, Attr::action) + "]"});
  head.add({"rDNS class", rdns_class_text(c)});
  head.add({"dial-in", dialin_text(p, c, r)});
  head.add({"hosting", generic_hosting_text(p, c, r)});
  head.add({"missing rDNS", missing_rdns_text(p, c, r)});
  head.add({"greet pause cap", cap.text});
  head.print(std::cout);

  Table limits({"ATTRIBUTE", "VALUE", "FROM"});
  for (const auto& info : policy::attributes()) {
    limits.add({std::string(info.name), limit_text(k, info.attr), source_text(p, r, info.attr)});
  }
  std::cout << "\neffective limits (greet_pause as held: cut to greet_pause_cap)\n";
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

nlohmann::json json_of(const Check& k) {
  const auto& [p, c, r, at, cap, pause] = k;
  const Verdict v = verdict_of(k);
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
  const policy::Attributes eff = held_attributes(k);
  for (const auto& info : policy::attributes()) {
    j["limits"][std::string(info.name)] = {{"value", eff.get(info.attr).value_or("")},
                                           {"from", source_text(p, r, info.attr)}};
  }
  auto& greet = j["limits"]["greet_pause"];
  greet["held_ms"] = pause.held_ms;
  greet["policy_ms"] = pause.policy_ms;
  greet["cap_ms"] = pause.cap_ms;
  greet["cut"] = pause.cut();
  greet["text"] = policy::held_pause_text(pause);
  j["greet_pause_cap"] = {{"ms", cap.value.count()}, {"from", cap.from}, {"text", cap.text}};
  j["matched"] = nlohmann::json::array();
  for (const auto i : r.matched)
    j["matched"].push_back(rule_json(p.rules()[static_cast<std::size_t>(i)], at));
  j["dialin"] = {{"mode", std::string(policy::to_string(r.limits.dialin))},
                 {"text", dialin_text(p, c, r)}};
  j["dialin"]["hit"] = r.dialin_hit ? nlohmann::json{{"heuristic", r.dialin_hit->heuristic},
                                                     {"detail", r.dialin_hit->detail}}
                                    : nlohmann::json(nullptr);
  const auto cls = rdns_class(c);
  j["rdns_class"] = {{"class", cls ? std::string(policy::to_string(cls->kind))
                                   : std::string(verified(c) ? "static" : "unchecked")},
                     {"text", rdns_class_text(c)}};
  j["rdns_class"]["hit"] =
      cls ? nlohmann::json{{"heuristic", cls->heuristic}, {"detail", cls->detail}}
          : nlohmann::json(nullptr);
  j["generic_hosting"] = {{"mode", std::string(policy::to_string(r.limits.generic_hosting))},
                          {"text", generic_hosting_text(p, c, r)}};
  j["generic_hosting"]["hit"] =
      r.generic_hosting_hit ? nlohmann::json{{"heuristic", r.generic_hosting_hit->heuristic},
                                             {"detail", r.generic_hosting_hit->detail}}
                            : nlohmann::json(nullptr);
  j["missing_rdns"] = {{"mode", std::string(policy::to_string(r.limits.missing_rdns))},
                       {"text", missing_rdns_text(p, c, r)}};
  return j;
}

// One line, IP and verdict first, then key=value fields (values with spaces
// or shell characters double-quoted), the free-text reason last:
//   192.0.2.7 block key=192.0.2.7/32 name=dsl-7.example.net resolve=OK
//   rule=.example.net greet_pause=2000 reason="Dial-in, relay via your ISP"
// "would=block" follows a monitor-only verdict; "greet_pause_policy=30000"
// follows a pause cut to the cap.
std::string brief_line(const Check& k) {
  const auto& [p, c, r, at, cap, pause] = k;
  const Verdict v = verdict_of(k);
  std::string line = fmt::format("{} {} key={} name={} resolve={} rule={}", c.address.to_string(),
                                 v.result, key_text(r.key), c.hostname.empty() ? "-" : c.hostname,
                                 policy::to_string(c.resolve),
                                 quote_value(printable(policy::source_name(r, p, Attr::action))));
  if (r.limits.monitor_only) line += fmt::format(" would={}", policy::to_string(r.limits.action));
  line += fmt::format(" greet_pause={}", pause.held_ms);
  if (pause.cut()) line += fmt::format(" greet_pause_policy={}", pause.policy_ms);
  if (v.rejects || r.limits.monitor_only) {
    line += " reason=" + quote_value(printable(r.limits.reason));
  }
  return line + '\n';
}

void print_one(const Check& k, const CheckOptions& o) {
  if (o.json) {
    print_json(std::cout, json_of(k));
  } else if (o.brief) {
    std::cout << brief_line(k);
  } else {
    print_text(k);
  }
}

std::shared_ptr<const policy::Policy> load_policy(const Globals& g, const CheckOptions& o) {
  const db::Store store = open_store(g, Access::read);
  policy::PolicyOptions options;
  options.keyer = o.keyer;
  return store.load_snapshot(options);
}

policy::UnixTime check_time(const CheckOptions& o) {
  return o.at_opt->count() > 0 ? policy::parse_time(o.at) : now();
}

// Splits a batch line at blanks.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// The client of one batch line; nullopt for a blank or comment line. Throws
// (UsageError, PolicyError) for a bad one.
std::optional<policy::Client> batch_client(const std::string& line, bool too_long) {
  if (too_long) throw UsageError(fmt::format("line longer than {} bytes", kMaxBatchLine));
  if (line.find('\0') != std::string::npos) throw UsageError("NUL byte in the line");
  const auto fields = fields_of(line);
  if (fields.empty() || fields.front().front() == '#') return std::nullopt;
  if (fields.size() > 3) {
    throw UsageError(fmt::format("{} fields; expected IP [HOSTNAME [RESOLVE]]", fields.size()));
  }
  std::optional<std::string_view> hostname, resolve;
  if (fields.size() > 1 && fields[1] != "-") hostname = fields[1];
  if (fields.size() > 2) resolve = fields[2];
  return client_of(fields[0], hostname, resolve, kBatchNames);
}

int run_batch(const Globals& g, const CheckOptions& o) {
  const policy::UnixTime at = check_time(o);
  const std::string name = o.batch == "-" ? "stdin" : printable(o.batch);
  const auto in = open_input_stream(o.batch);
  const auto snapshot = load_policy(g, o);
  const PauseCap cap = pause_cap(o);
  LineReader lines(*in, kMaxBatchLine);
  std::string line, out;
  bool too_long = false;
  std::size_t bad = 0, checked = 0;
  bool rejects = false;
  while (lines.next(line, too_long)) {
    try {
      const auto client = batch_client(line, too_long);
      if (!client) continue;
      const policy::Resolution r = snapshot->resolve(*client, at);
      const Check k{*snapshot, *client, r,
                    at,        cap,     policy::held_greet_pause(r.limits.greet_pause, cap.value)};
      out += o.json
                 ? json_of(k).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n'
                 : brief_line(k);
      rejects = rejects || verdict_of(k).rejects;
      ++checked;
    } catch (const std::exception& e) {
      ++bad;
      std::cout << out << std::flush;  // keep stdout and stderr in input order
      out.clear();
      std::cerr << fmt::format("{}:{}: error: {}\n", name, lines.line_no(), escaped_line(e.what()));
    }
    if (out.size() >= 64 * 1024) {
      std::cout << out;
      out.clear();
    }
  }
  std::cout << out;
  if (lines.failed()) throw UsageError(fmt::format("{}: read error", name));
  if (bad > 0) {
    std::cerr << fmt::format("hardenctl: {} of {} lines bad\n", bad, bad + checked);
    return kExitUsage;
  }
  return o.exit_code && rejects ? kExitPolicy : kExitOk;
}

int run_check(const Globals& g, const CheckOptions& o) {
  if (o.batch_opt->count() > 0) return run_batch(g, o);
  if (o.ip.empty()) throw UsageError("check needs a client IP, or --batch FILE");
  const policy::Client client = make_client(o);
  const policy::UnixTime at = check_time(o);
  const auto snapshot = load_policy(g, o);
  const PauseCap cap = pause_cap(o);
  const policy::Resolution r = snapshot->resolve(client, at);
  const Check k{*snapshot, client, r,
                at,        cap,    policy::held_greet_pause(r.limits.greet_pause, cap.value)};
  print_one(k, o);
  return o.exit_code && verdict_of(k).rejects ? kExitPolicy : kExitOk;
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

greet_pause is shown as the daemon holds it, cut to its greet_pause_cap:
--greet-pause-cap, else asked of the running daemon (--socket), else
milter-harden's default (9s); the output says which.

--batch FILE (or - for stdin) checks one client per line, "IP [HOSTNAME
[RESOLVE]]" (HOSTNAME - for none; blank lines and # comments skipped; at most
4096 bytes), loading the policy once. Each line prints what --brief prints
("IP VERDICT key=... name=... resolve=... rule=... greet_pause=..."), or with
--json one JSON object (JSON Lines). Bad lines are reported on stderr as
"FILE:LINE: error: ..." and skipped.

Exit status: 0, or with --exit-code 1 when the verdict (of any line, with
--batch) is block or tempfail; 2 on a usage error or, with --batch, when any
line was bad.

Examples:
  hardenctl check 192.0.2.7
  hardenctl check 192.0.2.7 --hostname dsl-192-0-2-7.dyn.example.net
  hardenctl check 2001:db8::7 --hostname mail.example.org --resolve FORGED --json
  hardenctl check 127.0.0.1 --at 2026-12-31 --exit-code
  hardenctl check 2001:db8::7 --ipv6-prefix 48 --greet-pause-cap 9s
  awk '{print $1, $2}' clients.log | hardenctl check --batch - | grep ' block ')");
  CLI::Option* ip = sub->add_option("ip", o->ip, "client address (IPv4 or IPv6)")->type_name("IP");
  o->hostname_opt =
      sub->add_option("--hostname", o->hostname, "the client's rDNS name")->type_name("NAME");
  o->resolve_opt = sub->add_option("--resolve", o->resolve, "rDNS verification result")
                       ->type_name("OK|FAIL|FORGED|TEMP");
  o->batch_opt = sub->add_option("--batch", o->batch,
                                 "check the clients listed in FILE (- for stdin), one per line")
                     ->type_name("FILE|-")
                     ->excludes(ip)
                     ->excludes(o->hostname_opt)
                     ->excludes(o->resolve_opt);
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
  o->cap_opt = sub->add_option("--greet-pause-cap", o->greet_pause_cap,
                               "the daemon's greet_pause_cap (9s, 9000, 0..1m); default: ask "
                               "the running daemon, else 9s")
                   ->type_name("DURATION");
  sub->add_option("--socket", o->socket,
                  "the daemon's control socket, asked for greet_pause_cap (default "
                  "/run/milter-harden/control.sock)")
      ->envname(std::string(kControlSocketEnvVar))
      ->type_name("PATH");
  sub->add_flag("--exit-code", o->exit_code, "exit 1 if the verdict is block or tempfail");
  CLI::Option* json = sub->add_flag("--json", o->json, "print JSON (with --batch: JSON Lines)");
  sub->add_flag("--brief", o->brief, "print one line, as --batch does")->excludes(json);
  on_run(sub, d, o, run_check);
}

}  // namespace harden::cli
