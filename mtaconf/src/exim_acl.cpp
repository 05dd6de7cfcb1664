// exim_acl.cpp - the policy as Exim main options and ACLs (see exim.hpp).
//
// Each attribute is resolved once per connection by a small ACL of its own
// (acl_milter_harden_<attr>): one `accept` statement per rule that sets the
// attribute, most specific rule first, each setting $acl_c_harden_<attr>,
// and the default rule last. That is Policy::resolve()'s order, so Exim
// picks the same rule the milter would. The connect ACL then acts on the
// variables; the rcpt part (inside Debian's acl_check_rcpt) reads them too.
// Rules that share a leading condition (a pcre table's if block) share one
// check of it: a sub-ACL per block (ResolverWriter), with a *suffix
// pre-filter for large blocks. An expiring rule's statements test
// $tod_epoch first; smtp_accept_max_per_host does the same per link.
#include <algorithm>
#include <functional>
#include <optional>

#include "common.hpp"
#include "exim_text.hpp"
#include "harden/mtaconf/exim.hpp"
#include "harden/policy/rate.hpp"

namespace harden::mtaconf {

namespace {

using Kind = policy::Selector::Kind;
using policy::Rule;

constexpr std::string_view kIndent = "          ";  // under "accept  "
constexpr std::size_t kMaxItemsPerStatement = 50;
constexpr std::size_t kMinRulesToPrefilter = 8;
// Exim refuses ACLs nested deeper than 20 ("ACL nested too deep", a defer):
// the connect ACL and a resolver are 2, so blocks nest at most this deep and
// deeper guards stay conditions of their rules' statements.
constexpr int kMaxBlockDepth = 10;

// How one attribute is resolved: which rules set it, and the `set` lines a
// rule (or the default rule, when `r` is the default) gives.
struct Resolver {
  std::string_view attr;  // "conn_rate": acl_milter_harden_conn_rate
  std::function<bool(const Rule&)> sets;
  std::function<std::vector<std::string>(const Rule&)> values;  // "acl_c_harden_x = v"
};

std::string set_lines(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += std::string(kIndent) + "set " + v + "\n";
  return out;
}

// "${if <{$tod_epoch}{EPOCH}}": true while a rule with `expires` is live
// (Rule::expired: expires <= now).
std::string live_until(policy::UnixTime expires) {
  return "${if <{$tod_epoch}{" + std::to_string(expires.time_since_epoch().count()) + "}}";
}

// The first line of a statement ("  accept  " + its first condition), with
// the expiry condition first when the rule has one.
std::string opening(const std::optional<policy::UnixTime>& expires) {
  if (!expires) return "  accept  ";
  return "  accept  condition = " + live_until(*expires) + "\n" + std::string(kIndent);
}

bool names_needed(const Rule& r) {
  const auto k = r.selector.kind();
  return k == Kind::host || k == Kind::suffix || k == Kind::pattern;
}

std::string condition_line(const detail::HostCondition& c, bool names) {
  const std::string defer_ok = names ? "+ignore_defer ; " : "";
  return std::string(c.negated ? "!" : "") +
         "hosts = " + detail::host_list({defer_ok + c.item}, kIndent) + "\n";
}

// A rule as one resolver sees it: the conditions an enclosing guard has not
// checked yet (all of them outside a guard block).
struct Entry {
  const Rule* rule;
  std::vector<detail::HostCondition> conds;
};

std::string statement(const Entry& e, const std::vector<std::string>& values) {
  std::string out = opening(e.rule->expires);
  bool first = true;
  for (const auto& c : e.conds) {
    if (!first) out += kIndent;
    out += condition_line(c, names_needed(*e.rule));
    first = false;
  }
  return out + set_lines(values);
}

// Adjacent single-item rules that set the same values (and expire together)
// share one statement (at most kMaxItemsPerStatement items), so a pattern
// table of 1,500 block rules with one reason is a few statements, not 1,500.
class Group {
 public:
  bool accepts(const Entry& e, const std::vector<std::string>& values) const {
    return items_.empty() || (values == values_ && names_needed(*e.rule) == by_name_ &&
                              e.rule->expires == expires_ && items_.size() < kMaxItemsPerStatement);
  }
  void add(const Entry& e, std::vector<std::string> values) {
    values_ = std::move(values);
    by_name_ = names_needed(*e.rule);
    expires_ = e.rule->expires;
    items_.push_back(e.conds.front().item);
    if (names_.size() < 3) names_.push_back(detail::rule_name(*e.rule));
  }
  // The statement, and the group emptied; "" when empty.
  std::string flush() {
    if (items_.empty()) return "";
    std::string out = "  #";
    for (std::size_t k = 0; k < names_.size(); ++k) out += (k ? ", " : " ") + names_[k];
    if (items_.size() > names_.size()) {
      out += " and " + std::to_string(items_.size() - names_.size()) + " more";
    }
    if (by_name_) items_.insert(items_.begin(), "+ignore_defer");
    out += "\n" + opening(expires_) +
           "hosts = " + detail::host_list(items_, std::string(kIndent) + "        ") + "\n" +
           set_lines(values_);
    *this = Group{};
    return out;
  }

 private:
  std::vector<std::string> items_;
  std::vector<std::string> values_;
  std::vector<std::string> names_;
  std::optional<policy::UnixTime> expires_;
  bool by_name_ = false;
};

bool same_condition(const detail::HostCondition& a, const detail::HostCondition& b) {
  return a.negated == b.negated && a.item == b.item;
}

// Writes one resolver: its statements, and a sub-ACL per guard block. A run
// of two or more adjacent rules whose next condition is the same (the `if`
// of an imported pcre table: every rule of the block starts with it) becomes
// ONE statement that checks that condition and calls a sub-ACL holding the
// rules without it, recursively for nested blocks. A name that fails the
// guard costs one regex for the whole block; the sub-ACL's implicit deny at
// its end makes the `acl =` condition false, so resolution goes on after the
// block exactly as if each rule had been tried.
class ResolverWriter {
 public:
  explicit ResolverWriter(const Resolver& res) : res_(res) {}

  std::string body(const std::vector<Entry>& entries, int depth = 0) {
    std::string out;
    Group group;
    for (std::size_t i = 0; i < entries.size();) {
      const Entry& e = entries[i];
      std::size_t j = i + 1;
      if (e.conds.size() >= 2 && depth < kMaxBlockDepth) {
        while (j < entries.size() && entries[j].conds.size() >= 2 &&
               same_condition(entries[j].conds.front(), e.conds.front())) {
          ++j;
        }
      }
      if (j - i >= 2) {
        out += group.flush() + block(entries, i, j, depth);
        i = j;
        continue;
      }
      auto values = res_.values(*e.rule);
      if (e.conds.size() != 1 || e.conds.front().negated) {
        out += group.flush() + "  # " + detail::rule_name(*e.rule) + "\n" + statement(e, values);
      } else {
        if (!group.accepts(e, values)) out += group.flush();
        group.add(e, std::move(values));
      }
      ++i;
    }
    return out + group.flush();
  }

  // The sub-ACLs written so far, each after its parent's text.
  const std::string& sub_acls() const { return subs_; }

 private:
  std::string block(const std::vector<Entry>& entries, std::size_t from, std::size_t to,
                    int depth) {
    const auto& guard = entries[from].conds.front();
    const std::string name =
        "acl_milter_harden_" + std::string(res_.attr) + "_block" + std::to_string(++blocks_);
    std::vector<Entry> inner;
    for (std::size_t k = from; k < to; ++k) {
      inner.push_back({entries[k].rule, {entries[k].conds.begin() + 1, entries[k].conds.end()}});
    }
    std::string head = "  # guard of " + std::to_string(to - from) + " rules (" +
                       detail::rule_name(*entries[from].rule) + " ...)\n  accept  " +
                       condition_line(guard, true) + std::string(kIndent) + "acl = " + name + "\n";
    std::string sub = name + ":\n" + prefilter(entries, from, to);
    sub += body(inner, depth + 1);  // may add nested sub-ACLs to subs_ first
    subs_ += sub + "\n";
    return head;
  }

  // For a block of kMinRulesToPrefilter rules or more, whose rules all end
  // in a positive pattern term: a first statement that leaves the sub-ACL
  // (deny: the caller's `acl =` is false) when none of those last terms can
  // match, checked mostly as "*suffix" items (string compares, no regex to
  // compile). A name that passes the guard but matches no rule then costs a
  // few regexes, not one per rule.
  static std::string prefilter(const std::vector<Entry>& entries, std::size_t from,
                               std::size_t to) {
    if (to - from < kMinRulesToPrefilter) return "";
    std::vector<std::string> regexes;
    for (std::size_t k = from; k < to; ++k) {
      const auto& last = entries[k].conds.back();
      if (last.negated || last.regex.empty()) return "";
      regexes.push_back(last.regex);
    }
    auto items = detail::prefilter_items(regexes);
    items.insert(items.begin(), "+ignore_defer");
    return "  # None of the block's rules can match a name outside this list.\n"
           "  deny    !hosts = " +
           detail::host_list(items, std::string(kIndent) + "         ") + "\n";
  }

  const Resolver& res_;
  std::string subs_;
  int blocks_ = 0;
};

std::string resolve_acl(const policy::Policy& p, const std::vector<std::size_t>& order,
                        const Resolver& res) {
  std::vector<Entry> entries;
  for (auto i : order) {
    const Rule& r = p.rules()[i];
    if (r.selector.kind() == Kind::default_rule || !res.sets(r)) continue;
    entries.push_back({&r, detail::host_conditions(r)});
  }
  ResolverWriter writer(res);
  std::string out = "acl_milter_harden_" + std::string(res.attr) + ":\n" + writer.body(entries);
  const auto defaults = res.values(p.default_rule());
  out += "  # default rule\n  accept  set " + defaults.front() + "\n";
  for (std::size_t k = 1; k < defaults.size(); ++k) {
    out += std::string(kIndent) + "set " + defaults[k] + "\n";
  }
  return out + "\n" + writer.sub_acls();
}

std::vector<Resolver> resolvers() {
  auto count = [](std::string_view var, auto member) {
    return [var, member](const Rule& r) {
      const auto& v = r.attrs.*member;
      return std::vector<std::string>{"acl_c_harden_" + std::string(var) + " = " +
                                      std::to_string(v.value_or(0))};
    };
  };
  auto rate = [](std::string_view var, auto member) {
    return [var, member](const Rule& r) {
      const auto& v = r.attrs.*member;
      return std::vector<std::string>{"acl_c_harden_" + std::string(var) + " = " +
                                      detail::exim_rate(r, v.value_or(policy::Rate{}))};
    };
  };
  using A = policy::Attributes;
  return {
      {"action", [](const Rule& r) { return r.attrs.action.has_value(); },
       [](const Rule& r) {
         const bool is_default = r.selector.kind() == Kind::default_rule;
         const auto action = r.attrs.action.value_or(policy::Action::limit);
         const std::string reason =
             r.attrs.reason.value_or(std::string(detail::kDefaultRefusalText));
         return std::vector<std::string>{
             "acl_c_harden_action = " + std::string(policy::to_string(action)),
             "acl_c_harden_reason = " + exim_escape(reason),
             std::string("acl_c_harden_decided = ") + (is_default ? "default" : "rule")};
       }},
      {"conn_rate", [](const Rule& r) { return r.attrs.conn_rate.has_value(); },
       rate("conn_rate", &A::conn_rate)},
      {"greet_pause", [](const Rule& r) { return r.attrs.greet_pause.has_value(); },
       [](const Rule& r) {
         const auto s = detail::ceil_seconds(r.attrs.greet_pause.value_or(0));
         return std::vector<std::string>{"acl_c_harden_greet_pause = " + std::to_string(s.count()) +
                                         "s"};
       }},
      {"max_rcpts", [](const Rule& r) { return r.attrs.max_rcpts.has_value(); },
       count("max_rcpts", &A::max_rcpts)},
      {"bad_rcpt_throttle", [](const Rule& r) { return r.attrs.bad_rcpt_throttle.has_value(); },
       count("bad_rcpt_throttle", &A::bad_rcpt_throttle)},
      {"rcpt_rate", [](const Rule& r) { return r.attrs.rcpt_rate.has_value(); },
       rate("rcpt_rate", &A::rcpt_rate)},
      {"msg_rate", [](const Rule& r) { return r.attrs.msg_rate.has_value(); },
       rate("msg_rate", &A::msg_rate)},
  };
}

std::string client_key(const policy::ClientKeyer& k) {
  auto masked = [](unsigned prefix, unsigned full) {
    return prefix == full ? std::string("$sender_host_address")
                          : "${mask:$sender_host_address/" + std::to_string(prefix) + "}";
  };
  return "${if isip4{$sender_host_address}{" + masked(k.v4_prefix, 32) + "}{" +
         masked(k.v6_prefix, 128) + "}}";
}

// --- smtp_accept_max_per_host: conn_limit by address, as an expansion --------

// One link of a first-match chain over address/network rules: the networks
// of adjacent rules that give the same value and expire together.
struct Link {
  std::vector<std::string> nets;
  std::string value;
  std::optional<policy::UnixTime> expires;
};

// An expansion that gives, for $sender_host_address, the value of the most
// specific live address/network rule that `value` answers for (nullopt: the
// rule does not set it), else `fallback`. Links are most specific first, as
// `order` is; an expiring rule's link carries its $tod_epoch test.
std::string first_match(const policy::Policy& p, const std::vector<std::size_t>& order,
                        const std::function<std::optional<std::string>(const Rule&)>& value,
                        const std::string& fallback) {
  std::vector<Link> chain;
  for (auto i : order) {
    const Rule& r = p.rules()[i];
    const auto k = r.selector.kind();
    if (k != Kind::address && k != Kind::network) continue;
    auto v = value(r);
    if (!v) continue;
    if (!chain.empty() && chain.back().value == *v && chain.back().expires == r.expires) {
      chain.back().nets.push_back(r.selector.network().to_string());
    } else {
      chain.push_back({{r.selector.network().to_string()}, std::move(*v), r.expires});
    }
  }
  while (!chain.empty() && chain.back().value == fallback) chain.pop_back();
  std::string expr = fallback;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    std::string cond = "match_ip{$sender_host_address}{" + detail::host_list(it->nets, "  ") + "}";
    if (it->expires) {
      const auto epoch = std::to_string(it->expires->time_since_epoch().count());
      cond = "and{{" + cond + "}{<{$tod_epoch}{" + epoch + "}}}";
    }
    expr = "${if " + cond + "{" + it->value + "}\\\n  {" + expr + "}}";
  }
  return expr;
}

// conn_limit by address: 0 (unlimited) when the client's action resolves to
// allow, else its conn_limit, each attribute from its own most specific rule
// as Policy::resolve() does.
std::string accept_max_per_host(const policy::Policy& p, const std::vector<std::size_t>& order) {
  const auto& d = p.default_rule().attrs;
  const std::string allowed = first_match(
      p, order,
      [](const Rule& r) -> std::optional<std::string> {
        if (!r.attrs.action) return std::nullopt;
        return r.attrs.action == policy::Action::allow ? "1" : "0";
      },
      d.action == policy::Action::allow ? "1" : "0");
  const std::string limit = first_match(
      p, order,
      [](const Rule& r) -> std::optional<std::string> {
        if (!r.attrs.conn_limit) return std::nullopt;
        return std::to_string(*r.attrs.conn_limit);
      },
      std::to_string(d.conn_limit.value_or(0)));
  if (allowed == "0") return limit;
  if (allowed == "1") return "0";
  return "${if eq{" + allowed + "}{1}\\\n  {0}\\\n  {" + limit + "}}";
}

std::uint32_t recipients_ceiling(const policy::Policy& p, policy::UnixTime now) {
  std::uint32_t most = 0;
  for (const auto& r : p.rules()) {
    if (r.expired(now)) continue;
    if (r.attrs.action == policy::Action::allow) return 0;
    if (r.attrs.max_rcpts) {
      if (*r.attrs.max_rcpts == 0) return 0;
      most = std::max(most, *r.attrs.max_rcpts);
    }
  }
  return p.default_rule().attrs.max_rcpts.value_or(0) == 0 ? 0 : most;
}

// The header line naming the earliest expiry, "" when no live rule expires.
std::string expiry_note(const policy::Policy& p, policy::UnixTime now) {
  const auto first = detail::earliest_expiry(p, now);
  if (!first) return "";
  return "# Regenerate before " + policy::format_time(*first) +
         ", the earliest rule expiry. Exim already stops\n"
         "# applying each expiring rule on time ($tod_epoch conditions); generating\n"
         "# again drops the expired ones from this file.\n";
}

std::string main_part(const policy::Policy& p, const EximAclOptions& o, const Provenance& from,
                      const std::vector<std::size_t>& order, policy::UnixTime now) {
  std::string out =
      detail::header(from, "# ",
                     {"Exim main options (Debian split config: " + std::string(kEximMainFile) + ";",
                      "non-split: /etc/exim4/exim4.conf.localmacros). Then update-exim4.conf."});
  out += expiry_note(p, now);
  out += ".ifndef CONFDIR\nCONFDIR = /etc/exim4\n.endif\n";
  out += "# Clients are counted by the policy's key: IPv4 /" +
         std::to_string(p.options().keyer.v4_prefix) + ", IPv6 /" +
         std::to_string(p.options().keyer.v6_prefix) + ".\n";
  out += "HARDEN_CLIENT_KEY = " + client_key(p.options().keyer) + "\n";
  out += "smtp_accept_max = " + std::to_string(o.smtp_accept_max) + "\n";
  out +=
      "# conn_limit per IP address (0 = no limit). Exim cannot: count an IPv6\n"
      "# client's whole prefix (it counts single addresses, the policy /" +
      std::to_string(p.options().keyer.v6_prefix) +
      "), apply host\n"
      "# name rules here (no name is known yet), or give its fixed reply \"421 Too\n"
      "# many concurrent SMTP connections from this IP address\" an enhanced code.\n";
  out += "smtp_accept_max_per_host = " + accept_max_per_host(p, order) + "\n";
  out +=
      "# A global cap no rule is stricter than (0: none); the RCPT part applies\n"
      "# each client's max_rcpts. false: 452 to the surplus RCPTs, as sendmail.\n";
  out += "recipients_max = " + std::to_string(recipients_ceiling(p, now)) + "\n";
  out += "recipients_max_reject = false\n";
  out +=
      "# Pre-greeting talkers: refuse input before the greeting; since Exim 4.94\n"
      "# early pipelining (PIPECONNECT) would otherwise hide them.\n";
  out += "smtp_enforce_sync = true\npipelining_connect_advertise_hosts = :\n";
  out +=
      "# If your configuration has its own connect ACL, drop this line and end that\n"
      "# ACL with `require acl = acl_milter_harden_connect` instead.\n";
  out += "acl_smtp_connect = acl_milter_harden_connect\n";
  out += "CHECK_RCPT_LOCAL_ACL_FILE = CONFDIR/milter-harden-rcpt.acl\n";
  return out;
}

std::string missing_rdns_statement(const policy::Policy& p) {
  const auto mode = p.default_rule().attrs.missing_rdns.value_or(policy::MissingRdnsMode::off);
  const std::string cond = "condition = ${if eq{$acl_c_harden_decided}{default}}\n" +
                           std::string(kIndent) + "!verify = reverse_host_lookup\n" +
                           std::string(kIndent);
  const std::string text = "Client host rejected: cannot find your hostname";
  switch (mode) {
    case policy::MissingRdnsMode::off:
      return "";
    case policy::MissingRdnsMode::monitor:
      return "  warn    " + cond + "log_message = milter-harden would reject: missing rDNS\n";
    case policy::MissingRdnsMode::tempfail:
      return "  defer   " + cond + "message = 421 4.7.0 " + text + "\n";
    case policy::MissingRdnsMode::block:
      return "  deny    " + cond + "message = 550 5.7.1 " + text + "\n";
  }
  return "";
}

std::string connect_acl(const policy::Policy& p, const std::vector<Resolver>& rs) {
  std::string out = "acl_milter_harden_connect:\n";
  out += "  # Resolve each limit for this client, most specific rule first.\n";
  for (const auto& r : rs) out += "  warn    acl = acl_milter_harden_" + std::string(r.attr) + "\n";
  out += "  # The allow list first: no limits at all.\n";
  out += "  accept  condition = ${if eq{$acl_c_harden_action}{allow}}\n";
  out += "  deny    condition = ${if eq{$acl_c_harden_action}{block}}\n";
  out += std::string(kIndent) + "message = 550 5.7.1 $acl_c_harden_reason\n";
  out += "  defer   condition = ${if eq{$acl_c_harden_action}{tempfail}}\n";
  out += std::string(kIndent) + "message = 421 4.7.0 $acl_c_harden_reason\n";
  out += missing_rdns_statement(p);
  const auto dialin = p.default_rule().attrs.dialin.value_or(policy::ModeSetting::off);
  if (dialin != policy::ModeSetting::off) {
    out += "  # dialin " + std::string(policy::to_string(dialin)) +
           ": the milter's built-in heuristic has no Exim form; import a pattern\n"
           "  # table (hardenctl import pcre) to block dial-in names here.\n";
  }
  out += "  defer   condition = ${if !eq{$acl_c_harden_conn_rate}{0}}\n";
  out += std::string(kIndent) +
         "ratelimit = $acl_c_harden_conn_rate / per_conn / strict / HARDEN_CLIENT_KEY\n";
  out += std::string(kIndent) + "message = 421 4.3.2 Connection rate limit exceeded.\n";
  out +=
      "  # Greet pause. Exim cannot refuse a client that talks first before the pause\n"
      "  # ends: it waits the whole delay, then smtp_enforce_sync answers the early\n"
      "  # input with 554 SMTP synchronization error (the milter refuses at once).\n";
  out += "  accept  delay = $acl_c_harden_greet_pause\n\n";
  return out;
}

std::string acl_part(const policy::Policy& p, const Provenance& from,
                     const std::vector<std::size_t>& order, policy::UnixTime now) {
  std::string out =
      detail::header(from, "# ",
                     {"Exim ACLs (Debian split config: " + std::string(kEximAclFile) + ";",
                      "non-split: after \"begin acl\" in /etc/exim4/exim4.conf.template)."});
  out += expiry_note(p, now);
  out += detail::kEximRateBound;
  const auto rs = resolvers();
  out += connect_acl(p, rs);
  for (const auto& r : rs) out += resolve_acl(p, order, r);
  return out;
}

std::string rcpt_part(const Provenance& from) {
  const std::string not_allowed = "{def:acl_c_harden_action}{!eq{$acl_c_harden_action}{allow}}";
  std::string out = detail::header(
      from, "# ",
      {"Statements for Debian's acl_check_rcpt (" + std::string(kEximRcptFile) + ",",
       "included through CHECK_RCPT_LOCAL_ACL_FILE). Debian accepts relay_from_hosts",
       "and authenticated senders before this point, so these limits skip them."});
  out += "  defer   condition = ${if and{" + not_allowed + "{!eq{$acl_c_harden_max_rcpts}{0}}\\\n" +
         std::string(kIndent) + "{>={$recipients_count}{$acl_c_harden_max_rcpts}}}}\n";
  out += std::string(kIndent) + "message = 452 4.5.3 Too many recipients\n";
  out += "  defer   condition = ${if and{" + not_allowed + "{!eq{$acl_c_harden_rcpt_rate}{0}}}}\n";
  out += std::string(kIndent) +
         "ratelimit = $acl_c_harden_rcpt_rate / per_rcpt / strict / HARDEN_CLIENT_KEY\n";
  out += std::string(kIndent) +
         "message = 450 4.7.1 Error: too many recipients from $sender_host_address\n";
  out += "  defer   condition = ${if and{" + not_allowed + "{!eq{$acl_c_harden_msg_rate}{0}}}}\n";
  out += std::string(kIndent) +
         "ratelimit = $acl_c_harden_msg_rate / per_mail / strict / HARDEN_CLIENT_KEY\n";
  out += std::string(kIndent) +
         "message = 450 4.7.1 Error: too many messages from $sender_host_address\n";
  out +=
      "  # bad_rcpt_throttle: Debian rejects unknown recipients before this point, so\n"
      "  # the 1 s delay falls on the accepted recipients that follow N rejected ones.\n";
  out += "  warn    condition = ${if and{" + not_allowed +
         "{!eq{$acl_c_harden_bad_rcpt_throttle}{0}}\\\n" + std::string(kIndent) +
         "{>={$rcpt_fail_count}{$acl_c_harden_bad_rcpt_throttle}}}}\n";
  out += std::string(kIndent) + "delay = 1s\n";
  return out;
}

}  // namespace

EximAclParts exim_acl(const policy::Policy& p, const EximAclOptions& o, const Provenance& from,
                      policy::UnixTime now) {
  const auto order = detail::live_rules_by_specificity(p, now);
  EximAclParts parts;
  parts.main = main_part(p, o, from, order, now);
  parts.acl = acl_part(p, from, order, now);
  parts.rcpt = rcpt_part(from);
  return parts;
}

std::string render_exim_acl(const EximAclParts& parts) {
  // Each part starts with its own provenance comment naming its file.
  return parts.main + "\n" + parts.acl + parts.rcpt;
}

}  // namespace harden::mtaconf
