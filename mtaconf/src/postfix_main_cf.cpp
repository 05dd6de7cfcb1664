// postfix_main_cf.cpp - Postfix main.cf lines for the policy (see postfix.hpp).
//
// Only fixed words, numbers, durations, validated addresses, networks and
// host names, the checked milter spec and the checked table directory are
// written outside comments; nothing holds a '$', '=' or line break of the
// policy's, and no value line starts with a blank (that would continue the
// previous parameter).
#include <algorithm>

#include "common.hpp"
#include "harden/mtaconf/postfix.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "harden/policy/rate.hpp"

namespace harden::mtaconf {

namespace {

using Kind = policy::Selector::Kind;
using detail::quote;
using policy::Rule;

// A margin above the longest greet pause for the milter's connect reply.
constexpr std::chrono::seconds kCommandTimeoutMargin = kReplyTimeoutMargin;
// Postfix's smtpd_hard_error_limit (outside stress); raised above the soft one.
constexpr std::uint32_t kPostfixHardErrorLimit = 20;
constexpr std::size_t kMaxNamesListed = 10;

std::string seconds(std::chrono::seconds s) {
  return std::to_string(s.count()) + "s";
}

std::string milter_default_action_word(MilterDefaultAction a) {
  switch (a) {
    case MilterDefaultAction::accept:
      return "accept";
    case MilterDefaultAction::tempfail:
      return "tempfail";
    case MilterDefaultAction::reject:
      return "reject";
    case MilterDefaultAction::quarantine:
      return "quarantine";
  }
  return "tempfail";
}

struct Writer {
  const policy::Policy& p;
  const PostfixOptions& o;
  policy::UnixTime now;
  std::string out;

  void comment(std::string_view text) { out += "# " + std::string(text) + "\n"; }
  void param(std::string_view name, std::string_view value) {
    out += std::string(name) + " = " + std::string(value) + "\n";
  }

  void milter() {
    if (o.milter.empty()) {
      comment("No milter (--no-milter): Postfix enforces only what follows.");
      return;
    }
    const auto longest = detail::longest_greet_pause(p, now);
    const auto timeout = std::max(kPostfixDefaultCommandTimeout,
                                  detail::ceil_seconds(longest) + kCommandTimeoutMargin);
    comment("--- the milter");
    comment("Debian runs smtpd chrooted in /var/spool/postfix: a unix: path is seen from");
    comment("there (unix:milter-harden/milter.sock); inet: avoids the question.");
    param("smtpd_milters", check_postfix_milter(o.milter));
    comment("What Postfix does while the milter cannot be reached: accept keeps mail flowing");
    comment("under the native limits below; tempfail defers it (451 4.7.1).");
    param("milter_default_action", milter_default_action_word(o.default_action));
    comment("smtpd waits milter_command_timeout for the connect reply, which the milter holds");
    comment("for the greet pause: the longest greet_pause of the policy (" +
            policy::format_duration_ms(longest) + ") plus " +
            policy::format_duration(kCommandTimeoutMargin) + ", never below Postfix's 30s.");
    comment("The daemon cuts every pause to its greet_pause_cap (default 9s).");
    param("milter_command_timeout", seconds(timeout));
    comment("The milter asks for the macros it reads (smfi_setsymlist); Postfix honours that.");
  }

  void rate(std::string_view name, const std::optional<policy::Rate>& r,
            std::optional<std::chrono::seconds> unit, std::string_view attr) {
    if (!r || r->unlimited() || !unit) {
      comment(std::string(attr) + ": not limited by the policy's default rule");
      param(name, "0");
      return;
    }
    const auto limit = anvil_limit(*r, *unit);
    if (limit == 0) {
      comment(std::string(attr) + " " + r->to_string() + ": no anvil limit per " + seconds(*unit) +
              " keeps within it: enforced by the milter only");
      param(name, "0");
      return;
    }
    comment(std::string(attr) + " " + r->to_string() + " -> " + std::to_string(limit) + " per " +
            seconds(*unit) + ": stricter than the policy (anvil's fixed windows can meet");
    comment("  inside one policy window, so each gets only its share)");
    param(name, std::to_string(limit));
  }

  void anvil() {
    const auto& d = p.default_rule().attrs;
    const bool allow_all = d.action == policy::Action::allow;
    const auto unit = allow_all ? std::nullopt : anvil_time_unit(p);
    comment("--- anvil: per-client limits of the default rule");
    if (allow_all) comment("The default rule is action=allow: no limits.");
    if (unit) {
      comment("One time unit for every rate: the default conn_rate window (else the smallest");
      comment("rate window) plus 1s, so that at most two anvil windows meet inside it.");
      param("anvil_rate_time_unit", seconds(*unit));
    }
    const auto& a = allow_all ? policy::Attributes{} : d;
    rate("smtpd_client_connection_rate_limit", a.conn_rate, unit, "conn_rate");
    rate("smtpd_client_message_rate_limit", a.msg_rate, unit, "msg_rate");
    rate("smtpd_client_recipient_rate_limit", a.rcpt_rate, unit, "rcpt_rate");
    comment("conn_limit: simultaneous connections per client (0: no limit).");
    param("smtpd_client_connection_count_limit", std::to_string(a.conn_limit.value_or(0)));
    if (o.version == PostfixVersion::v3_8_plus) {
      comment("Clients are counted by the policy's key (Postfix 3.8 and later).");
      param("smtpd_client_ipv4_prefix_length", std::to_string(p.options().keyer.v4_prefix));
      param("smtpd_client_ipv6_prefix_length", std::to_string(p.options().keyer.v6_prefix));
    }
    exceptions();
  }

  // One list entry for an address, network, host or suffix rule.
  static std::string entry(const Rule& r) {
    if (r.selector.kind() == Kind::host || r.selector.kind() == Kind::suffix) {
      const std::string& n = r.selector.name();
      if (!detail::is_safe_hostname(r.selector.kind() == Kind::suffix ? n.substr(1) : n)) {
        throw GenerateError(detail::rule_name(r) + ": host name unfit for a Postfix list");
      }
      return n;
    }
    const auto& net = r.selector.network();
    if (net.address().is_v4()) return net.to_string();
    return "[" + net.address().to_string() + "]" +
           (net.is_host() ? "" : "/" + std::to_string(net.prefix()));
  }

  void exceptions() {
    std::vector<std::string> entries;
    std::size_t last_positive = 0;
    std::vector<std::string> pattern_allows;
    for (auto i : detail::live_rules_by_specificity(p, now)) {
      const Rule& r = p.rules()[i];
      if (!r.attrs.action || r.selector.kind() == Kind::default_rule) continue;
      const bool allow = *r.attrs.action == policy::Action::allow;
      if (r.selector.kind() == Kind::pattern) {
        if (allow) pattern_allows.push_back(detail::rule_name(r));
        continue;
      }
      entries.push_back((allow ? "" : "!") + entry(r));
      if (allow) last_positive = entries.size();
    }
    entries.resize(last_positive);  // a "!" entry after the last allow changes nothing
    comment("Clients the anvil limits skip: the allow rules (a more specific rule with");
    comment("another action first, as \"!\"). Postfix's default would skip $mynetworks;");
    comment("the policy does not unless it allows them.");
    if (!pattern_allows.empty()) {
      comment("  allow by rDNS pattern cannot be listed here: " + names_list(pattern_allows));
    }
    std::string value;
    for (std::size_t k = 0; k < entries.size(); ++k) {
      value += (k ? ",\n    " : "") + entries[k];
    }
    param("smtpd_client_event_limit_exceptions", value);
  }

  void session_limits() {
    const auto& d = p.default_rule().attrs;
    const bool allow_all = d.action == policy::Action::allow;
    comment("--- per-session limits of the default rule");
    if (!allow_all && d.max_rcpts.value_or(0) != 0) {
      comment("max_rcpts: 452 4.5.3 past it, as the milter.");
      param("smtpd_recipient_limit", std::to_string(*d.max_rcpts));
    } else {
      comment("max_rcpts: no limit in the policy; Postfix keeps its own smtpd_recipient_limit");
      comment("  (1000; it has no unlimited setting)");
    }
    const std::uint32_t throttle = allow_all ? 0 : d.bad_rcpt_throttle.value_or(0);
    if (throttle == 0) {
      comment("bad_rcpt_throttle: off in the policy; Postfix keeps its own error limits");
      comment("  (smtpd_soft_error_limit 10 has no off setting)");
      return;
    }
    comment("bad_rcpt_throttle " + std::to_string(throttle) +
            ": once a session has made that many errors every reply waits");
    comment("  smtpd_error_sleep_time. Postfix counts every 4xx/5xx reply, not only rejected");
    comment("  recipients, and delays every reply: stricter than the milter.");
    param("smtpd_soft_error_limit", std::to_string(throttle));
    param("smtpd_error_sleep_time", "1s");
    if (throttle >= kPostfixHardErrorLimit) {
      comment("  The hard limit (disconnect) is raised above the soft one.");
      param("smtpd_hard_error_limit",
            "${stress?{1}:{" + std::to_string(throttle + kPostfixHardErrorLimit) + "}}");
    }
  }

  void restrictions() {
    const std::string dir = check_postfix_table_dir(o.table_dir);
    const auto& d = p.default_rule().attrs;
    comment("--- block, tempfail and allow rules (tables: hardenctl gen postfix-tables " + dir +
            ")");
    comment("The address table first; clients it does not decide go on to the class below.");
    comment("If main.cf has smtpd_client_restrictions or smtpd_restriction_classes already,");
    comment("put these entries first in them instead. With smtpd_delay_reject = yes (the");
    comment("default) the client gets the refusal at RCPT, not at connect.");
    param("smtpd_restriction_classes", kPostfixNamesClass);
    std::string names_class;
    switch (d.missing_rdns.value_or(policy::MissingRdnsMode::off)) {
      case policy::MissingRdnsMode::off:
        break;
      case policy::MissingRdnsMode::monitor:
        names_class = "warn_if_reject reject_unknown_client_hostname, ";
        break;
      case policy::MissingRdnsMode::tempfail:
      case policy::MissingRdnsMode::block:
        names_class = "reject_unknown_client_hostname, ";
        break;
    }
    if (!names_class.empty()) {
      comment("missing_rdns " + std::string(policy::to_string(*d.missing_rdns)) +
              ": clients without a verified name (address rules with an action decided");
      comment("  before this point, as in the milter).");
      if (d.missing_rdns == policy::MissingRdnsMode::block) {
        param("unknown_client_reject_code", "550");
      }
      if (d.missing_rdns == policy::MissingRdnsMode::tempfail) {
        param("unknown_client_reject_code", "450");
      }
    }
    param(kPostfixNamesClass,
          names_class + "check_client_access pcre:" + dir + "/" + std::string(kPostfixNameTable));
    param("smtpd_client_restrictions",
          "check_client_access cidr:" + dir + "/" + std::string(kPostfixCidrTable));
  }

  void postscreen() {
    if (!o.postscreen) return;
    const auto& d = p.default_rule().attrs;
    const std::uint32_t pause = d.action == policy::Action::allow ? 0 : d.greet_pause.value_or(0);
    comment("--- postscreen: the default rule's greet pause before smtpd sees the client");
    comment("postscreen waits postscreen_greet_wait for early talkers; drop answers 521 and");
    comment("closes (the milter: 554). A client that passed is remembered for");
    comment("postscreen_greet_ttl and not paused again; per-rule pauses, the allow rules and");
    comment("the pre-greeting check of the milter still apply in smtpd.");
    if (pause == 0) {
      param("postscreen_greet_action", "ignore");
    } else {
      param("postscreen_greet_wait", seconds(detail::ceil_seconds(pause)));
      param("postscreen_greet_action", "drop");
    }
    comment("master.cf: replace the \"smtp inet ... smtpd\" line with:");
    comment("  smtp      inet  n       -       y       -       1       postscreen");
    comment("  smtpd     pass  -       -       y       -       -       smtpd");
    comment("  dnsblog   unix  -       -       y       -       0       dnsblog");
    comment("  tlsproxy  unix  -       -       y       -       0       tlsproxy");
  }

  static std::string names_list(const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t k = 0; k < names.size() && k < kMaxNamesListed; ++k) {
      s += (k ? ", " : "") + names[k];
    }
    if (names.size() > kMaxNamesListed) {
      s += " and " + std::to_string(names.size() - kMaxNamesListed) + " more";
    }
    return s;
  }

  // The header's list of what Postfix cannot express.
  std::vector<std::string> not_expressible() const {
    std::vector<std::string> per_rule;
    for (auto i : detail::live_rules_by_specificity(p, now)) {
      const Rule& r = p.rules()[i];
      const auto& a = r.attrs;
      if (r.selector.kind() == Kind::default_rule || a.action == policy::Action::allow) continue;
      if (a.conn_rate || a.conn_limit || a.greet_pause || a.max_rcpts || a.bad_rcpt_throttle ||
          a.rcpt_rate || a.msg_rate) {
        per_rule.push_back(detail::rule_name(r));
      }
    }
    std::vector<std::string> list{
        "- sliding windows: anvil counts fixed windows that restart, so each rate is",
        "  cut to the share that keeps any policy window within the policy (stricter);",
        "- one time unit for all rates (anvil_rate_time_unit): a rate too small for it",
        "  is left to the milter;",
        "- shared counters: anvil counts per Postfix instance, the milter's counters",
        "  may be shared between MXes;",
        "- greet_pause per rule, and the pre-greeting check before the pause ends",
        "  (postscreen's greet test is global and remembers clients that passed);",
        "- the dial-in heuristic, allow rules by rDNS pattern for the anvil limits;"};
    if (o.version == PostfixVersion::v3_7) {
      list.push_back("- the IPv6 client key /" + std::to_string(p.options().keyer.v6_prefix) +
                     " (and IPv4 /" + std::to_string(p.options().keyer.v4_prefix) +
                     "): Postfix 3.7 counts");
      list.push_back("  single addresses; smtpd_client_ipv6_prefix_length needs 3.8.");
    }
    if (!per_rule.empty()) {
      list.push_back("- per-rule limits (only the default rule's reach anvil): " +
                     std::to_string(per_rule.size()) + " rules:");
      list.push_back("  " + names_list(per_rule));
    }
    return list;
  }
};

}  // namespace

PostfixVersion parse_postfix_version(std::string_view text) {
  if (text == "3.7") return PostfixVersion::v3_7;
  if (text == "3.8+" || text == "3.8" || text == "3.9" || text == "3.10") {
    return PostfixVersion::v3_8_plus;
  }
  throw GenerateError("Postfix version " + quote(text) + ": expected 3.7 or 3.8+");
}

MilterDefaultAction parse_milter_default_action(std::string_view text) {
  if (text == "accept") return MilterDefaultAction::accept;
  if (text == "tempfail") return MilterDefaultAction::tempfail;
  if (text == "reject") return MilterDefaultAction::reject;
  if (text == "quarantine") return MilterDefaultAction::quarantine;
  throw GenerateError("milter_default_action " + quote(text) +
                      ": expected accept, tempfail, reject or quarantine");
}

std::string check_postfix_milter(std::string_view spec) {
  if (spec.size() > 300) throw GenerateError("milter " + quote(spec) + ": too long");
  if (spec.starts_with("unix:")) {
    const std::string_view path = spec.substr(5);
    if (path.empty() || path.size() > 107 ||
        !std::all_of(path.begin(), path.end(), detail::is_path_char)) {
      throw GenerateError("milter " + quote(spec) +
                          ": the path may hold only letters, digits and . _ / + -");
    }
    return std::string(spec);
  }
  if (!spec.starts_with("inet:")) {
    throw GenerateError("milter " + quote(spec) + ": expected unix:PATH or inet:HOST:PORT");
  }
  const std::string_view rest = spec.substr(5);
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    throw GenerateError("milter " + quote(spec) + ": expected inet:HOST:PORT");
  }
  std::string_view host = rest.substr(0, colon);
  std::uint32_t port = 0;
  try {
    port = policy::parse_count(rest.substr(colon + 1), "port", 65535);
  } catch (const policy::PolicyError&) {
    port = 0;
  }
  if (port == 0) throw GenerateError("milter " + quote(spec) + ": bad port");
  const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  const auto addr = policy::IpAddress::try_parse(host);
  if (addr && !addr->is_v4() != bracketed) {
    throw GenerateError("milter " + quote(spec) + ": write an IPv6 address in brackets, " +
                        "an IPv4 address without");
  }
  if (!addr && (bracketed || !detail::is_safe_hostname(host))) {
    throw GenerateError("milter " + quote(spec) + ": bad host");
  }
  const std::string h = addr ? addr->to_string() : std::string(host);
  return "inet:" + (bracketed ? "[" + h + "]" : h) + ":" + std::to_string(port);
}

std::string check_postfix_table_dir(std::string_view dir) {
  if (dir.empty() || dir.front() != '/' || dir.size() > 200 ||
      !std::all_of(dir.begin(), dir.end(), detail::is_path_char)) {
    throw GenerateError("table directory " + quote(dir) +
                        ": expected an absolute path of letters, digits and . _ / + -");
  }
  std::string out(dir);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::optional<std::chrono::seconds> anvil_time_unit(const policy::Policy& p) {
  const auto& d = p.default_rule().attrs;
  if (d.conn_rate && !d.conn_rate->unlimited())
    return d.conn_rate->window + std::chrono::seconds{1};
  std::optional<std::chrono::seconds> smallest;
  for (const auto* r : {&d.msg_rate, &d.rcpt_rate}) {
    if (*r && !(*r)->unlimited() && (!smallest || (*r)->window < *smallest)) {
      smallest = (*r)->window;
    }
  }
  if (smallest) return *smallest + std::chrono::seconds{1};
  return std::nullopt;
}

std::uint32_t anvil_limit(const policy::Rate& r, std::chrono::seconds unit) {
  if (r.unlimited() || unit.count() <= 0) return 0;
  const auto w = static_cast<std::uint64_t>(r.window.count());
  const auto t = static_cast<std::uint64_t>(unit.count());
  const std::uint64_t windows = (w + t + 1 + t - 1) / t;  // ceil((W + T + 1) / T)
  return static_cast<std::uint32_t>(r.count / windows);
}

std::string postfix_main_cf(const policy::Policy& p, const PostfixOptions& o,
                            const Provenance& from, policy::UnixTime now) {
  Writer w{p, o, now, {}};
  const auto first = detail::earliest_expiry(p, now);
  const std::string version = o.version == PostfixVersion::v3_7 ? "3.7" : "3.8 and later";
  w.out = detail::header(
      from, "# ",
      {"Postfix " + version + " main.cf lines. Merge into /etc/postfix/main.cf: delete the",
       "parameters set here from it first (Postfix warns about a parameter set twice),",
       "write the tables with `hardenctl gen postfix-tables DIR`, then `postfix reload`.",
       "Postfix enforces these with the milter or without it.",
       first ? "The first rule expires " + policy::format_time(*first) +
                   ": Postfix does not expire anything, generate again then."
             : "No rule of the policy expires.",
       "Not expressible in Postfix (enforced by the milter only):"});
  for (const auto& l : w.not_expressible()) w.comment("  " + l);
  w.milter();
  w.anvil();
  w.session_limits();
  w.restrictions();
  w.postscreen();
  return w.out;
}

}  // namespace harden::mtaconf
