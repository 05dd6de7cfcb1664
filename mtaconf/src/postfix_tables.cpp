// postfix_tables.cpp - the policy's block/allow/tempfail rules as a Postfix
// cidr table (addresses, networks) and a pcre table (verified host names,
// suffixes, rDNS patterns) for check_client_access (see postfix.hpp).
//
// Both tables are first-match: rules are written most specific first, the
// order in which Policy::resolve() lets a rule win the `action`. The cidr
// table ends with catch-alls naming the restriction class that consults the
// pcre table, so a name rule decides only for clients no address rule
// decided, as in the milter.
#include "common.hpp"
#include "harden/mtaconf/postfix.hpp"

namespace harden::mtaconf {

namespace {

using Kind = policy::Selector::Kind;
using policy::Rule;

// The table result for a rule that sets `action`.
std::string result_of(const Rule& r, PostfixTableKind kind) {
  const std::string reason =
      postfix_escape(r.attrs.reason.value_or(std::string(detail::kDefaultRefusalText)), kind);
  switch (*r.attrs.action) {
    case policy::Action::allow:
      return "OK";
    case policy::Action::block:
      return "550 5.7.1 " + reason;
    case policy::Action::tempfail:
      return "421 4.7.0 " + reason;
    case policy::Action::limit:
      return "DUNNO";
  }
  return "DUNNO";
}

// `regex` between '/' for a Postfix pcre table: Postfix ends the pattern at
// the first '/' not preceded by a backslash and hands the text, backslashes
// included, to PCRE, where "\/" is a literal '/'. Inside \Q...\E that escape
// would be literal too, so a '/' there is refused.
std::string delimited(const Rule& r, std::string_view regex) {
  std::string out = "/";
  bool quoted = false;
  for (std::size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (!ascii::is_print(c)) {
      throw GenerateError(detail::rule_name(r) +
                          ": regex has a character other than printable ASCII");
    }
    if (quoted && c == '/') {
      throw GenerateError(detail::rule_name(r) +
                          ": regex has '/' inside \\Q...\\E, which a Postfix pcre table cannot "
                          "hold; write it as \\/ outside \\Q...\\E");
    }
    if (c == '\\' && i + 1 < regex.size()) {
      const char next = regex[++i];
      if (!ascii::is_print(next)) {
        throw GenerateError(detail::rule_name(r) +
                            ": regex has a character other than printable ASCII");
      }
      if (quoted && next == 'E') quoted = false;
      if (!quoted && next == 'Q') quoted = true;
      out += c;
      out += next;
      continue;
    }
    if (c == '/') out += '\\';
    out += c;
  }
  return out + "/";
}

// An anchored regex for an exact host name or a suffix (".adsl.example").
std::string name_regex(const Rule& r) {
  const std::string& name = r.selector.name();
  const bool suffix = r.selector.kind() == Kind::suffix;
  if (!detail::is_safe_hostname(suffix ? std::string_view(name).substr(1) : name)) {
    throw GenerateError(detail::rule_name(r) + ": host name unfit for a pcre table");
  }
  std::string re = suffix ? "/" : "/^";
  for (char c : name) {
    if (c == '.') re += '\\';
    re += c;
  }
  return re + "$/";
}

// Writes the name rules. Adjacent pattern rules that share their leading
// terms (fqrdns's `if /guard/ ... endif` blocks, kept as conjunctions) share
// the `if` lines too, so a name that fails a guard skips the whole block: the
// table keeps one `if` per block, not one per rule. The nesting is the
// conjunction, and the rules stay in their order, so the first match is the
// policy's.
class NameTable {
 public:
  explicit NameTable(std::string& out) : out_(out) {}

  void rule(const Rule& r) {
    const std::string result = result_of(r, PostfixTableKind::pcre);
    if (r.selector.kind() != Kind::pattern) {
      open({});
      out_ += "# " + detail::rule_name(r) + "\n" + name_regex(r) + " " + result + "\n";
      return;
    }
    // Every term but a positive last one becomes an `if`; the last one (or
    // /^/ after a negated one) carries the result.
    std::vector<std::string> guards;
    for (const auto& t : r.selector.terms()) {
      guards.push_back((t.negated ? "if !" : "if ") + delimited(r, t.regex));
    }
    std::string line = "/^/";
    if (guards.back().starts_with("if /")) {
      line = guards.back().substr(3);
      guards.pop_back();
    }
    open(guards);
    out_ += "# " + detail::rule_name(r) + "\n" + line + " " + result + "\n";
  }

  // Closes every open `if`.
  void close() { open({}); }

 private:
  // Leaves exactly `guards` open: closes what differs, opens the rest.
  void open(const std::vector<std::string>& guards) {
    std::size_t same = 0;
    while (same < open_.size() && same < guards.size() && open_[same] == guards[same]) ++same;
    for (; open_.size() > same; open_.pop_back()) out_ += "endif\n";
    for (std::size_t k = same; k < guards.size(); ++k) {
      out_ += guards[k] + "\n";
      open_.push_back(guards[k]);
    }
  }

  std::string& out_;
  std::vector<std::string> open_;
};

std::string expiry_line(const policy::Policy& p, policy::UnixTime now) {
  const auto first = detail::earliest_expiry(p, now);
  if (!first) return "No rule of the policy expires.";
  return "The first rule expires " + policy::format_time(*first) +
         ": Postfix does not expire entries, generate again then.";
}

}  // namespace

std::string postfix_escape(std::string_view text, PostfixTableKind kind) {
  std::string out;
  for (char c : text) {
    if (!ascii::is_print(c)) {
      throw GenerateError("text " + detail::quote(text) +
                          " has a character other than printable ASCII");
    }
    if (c == '$' && kind == PostfixTableKind::pcre) out += '$';
    out += c;
  }
  return out;
}

std::vector<PostfixTable> postfix_tables(const policy::Policy& p, const Provenance& from,
                                         policy::UnixTime now) {
  const std::string expiry = expiry_line(p, now);
  std::string cidr = detail::header(
      from, "# ",
      {"Postfix cidr table: the policy's address and network rules that set `action`,",
       "most specific first (first match wins). Used by smtpd_client_restrictions =",
       "check_client_access cidr:DIR/" + std::string(kPostfixCidrTable) +
           " (hardenctl gen postfix).",
       "Clients no rule here decides go on to the host name table through the",
       "restriction class " + std::string(kPostfixNamesClass) + ".", expiry});
  std::string names = detail::header(
      from, "# ",
      {"Postfix pcre table: the policy's host, suffix and rDNS pattern rules that set",
       "`action`, most specific first. check_client_access looks up the verified",
       "client name (\"unknown\" when it did not verify) and then the address; the",
       "guards let only names reach the rules, as the policy matches only verified names.",
       expiry});
  names += "if !/^unknown$/\nif !/^[0-9.]+$/\nif !/:/\n";
  const auto& rules = p.rules();
  NameTable name_table(names);
  for (auto i : detail::live_rules_by_specificity(p, now)) {
    const Rule& r = rules[i];
    if (!r.attrs.action) continue;
    switch (r.selector.kind()) {
      case Kind::address:
      case Kind::network:
        cidr += "# " + detail::rule_name(r) + "\n" + r.selector.network().to_string() + "\t" +
                result_of(r, PostfixTableKind::cidr) + "\n";
        break;
      case Kind::host:
      case Kind::suffix:
      case Kind::pattern:
        name_table.rule(r);
        break;
      case Kind::default_rule:
        break;
    }
  }
  name_table.close();
  names += "endif\nendif\nendif\n";
  const Rule& d = p.default_rule();
  if (d.attrs.action && *d.attrs.action != policy::Action::limit) {
    names += "# default rule: every client no rule above decided\n/^/ " +
             result_of(d, PostfixTableKind::pcre) + "\n";
  }
  cidr += "# every other client: the host name rules\n";
  cidr += "0.0.0.0/0\t" + std::string(kPostfixNamesClass) + "\n";
  cidr += "::/0\t" + std::string(kPostfixNamesClass) + "\n";
  for (const auto& r : rules) {
    if (r.expired(now)) {
      const std::string line = "# " + detail::rule_name(r) + ": expired, left out\n";
      (r.selector.kind() == Kind::address || r.selector.kind() == Kind::network ? cidr : names) +=
          line;
    }
  }
  return {{std::string(kPostfixCidrTable), cidr}, {std::string(kPostfixNameTable), names}};
}

}  // namespace harden::mtaconf
