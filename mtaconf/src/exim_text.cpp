// exim_text.cpp - Exim syntax pieces (see exim_text.hpp).
#include "exim_text.hpp"

#include "common.hpp"
#include "harden/mtaconf/exim.hpp"

namespace harden::mtaconf {

std::string exim_escape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!ascii::is_print(c)) {
      throw GenerateError("text " + detail::quote(text) +
                          " has a character other than printable ASCII");
    }
    if (c == '\\') {
      out += "\\x5c";  // not "\\\\": a line ending in a backslash continues
    } else if (c == '$') {
      out += "\\$";
    } else if (c == '"') {
      out += "\\x22";  // a value starting with " would be read as a quoted string
    } else if (c == ' ' && (i == 0 || i + 1 == text.size())) {
      out += "\\x20";  // Exim trims blanks around a value
    } else {
      out += c;
    }
  }
  return out;
}

namespace detail {

namespace {

using Kind = policy::Selector::Kind;

// For a `<;` list: ';' doubled.
std::string list_item(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ';') out += ';';
  }
  return out;
}

std::string checked_regex(const policy::Rule& r, std::string_view regex) {
  for (char c : regex) {
    if (!ascii::is_print(c)) {
      throw GenerateError(rule_name(r) + ": regex has a character other than printable ASCII");
    }
  }
  if (regex.find("\\N") != std::string_view::npos) {
    throw GenerateError(rule_name(r) +
                        ": regex holds \\N, which ends Exim's \\N...\\N quoting; write it as "
                        "[^\\n] instead");
  }
  if (regex.starts_with("(*")) {
    throw GenerateError(rule_name(r) +
                        ": regex starts with a PCRE verb (*...), which Exim's wrapping breaks");
  }
  // Exim takes a host list item holding ';' for a lookup ("type;data"), even
  // a regex: write ';' as the PCRE escape \x3b (also inside [...]). Inside
  // \Q...\E escapes do not work, so a ';' there is refused.
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < regex.size(); ++i) {
    const char c = regex[i];
    if (c == '\\' && i + 1 < regex.size()) {
      const char next = regex[++i];
      if (quoted && next == ';') {
        throw GenerateError(rule_name(r) +
                            ": regex has ';' inside \\Q...\\E, which Exim cannot take");
      }
      if (quoted && next == 'E') quoted = false;
      if (!quoted && next == 'Q') quoted = true;
      out += next == ';' ? std::string("\\x3b") : std::string{'\\', next};
      continue;
    }
    if (c == ';' && quoted) {
      throw GenerateError(rule_name(r) +
                          ": regex has ';' inside \\Q...\\E, which Exim cannot take");
    }
    out += c == ';' ? std::string("\\x3b") : std::string(1, c);
  }
  return out;
}

std::string host_regex(const std::string& name) {
  std::string re = "\\N^(?i)";
  for (char c : name) {
    if (c == '.') re += '\\';
    re += c;
  }
  return re + "$\\N";
}

}  // namespace

std::vector<HostCondition> host_conditions(const policy::Rule& r) {
  const auto& s = r.selector;
  switch (s.kind()) {
    case Kind::default_rule:
      return {};
    case Kind::address:
    case Kind::network:
      return {{false, s.network().to_string()}};
    case Kind::host:
      if (!is_safe_hostname(s.name())) throw GenerateError(rule_name(r) + ": bad host name");
      return {{false, host_regex(s.name())}};
    case Kind::suffix:
      if (!is_safe_hostname(s.name().substr(1))) throw GenerateError(rule_name(r) + ": bad suffix");
      return {{false, "*" + s.name()}};
    case Kind::pattern: {
      std::vector<HostCondition> out;
      for (const auto& t : s.terms()) {
        out.push_back(
            {t.negated, list_item("\\N^(?i).*?(?:" + checked_regex(r, t.regex) + ")\\N")});
      }
      return out;
    }
  }
  return {};
}

bool single_item(const policy::Rule& r) {
  const auto& s = r.selector;
  if (s.kind() == Kind::default_rule) return false;
  if (s.kind() != Kind::pattern) return true;
  return s.terms().size() == 1 && !s.terms().front().negated;
}

std::string host_list(const std::vector<std::string>& items, std::string_view indent) {
  std::string out = "<; ";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += " ; \\\n" + std::string(indent);
    out += items[i];
  }
  return out;
}

// Exim's smoothed rate (acl.c, acl_ratelimit): at each event, after an
// interval i since the previous one, with x = i / p,
//   rate = (1 - e^-x) / x + e^-x * rate,  then  rate = max(rate, 1),
// and the event is refused when rate >= m. Both terms only grow when more
// events are added (refused ones too, in strict mode), and
// (1 - e^-x) / x >= e^-x, so N + 1 events within W (x summing to at most
// X = W / p) leave rate >= (N + 1) e^-X >= (N + 1)(1 - X). With
// p >= 10 (N + 1) W / 9 that is >= N + 0.1 = m: the (N + 1)th is refused,
// whatever came before. A fresh burst of N measures 1, 2, ... N < m: it
// passes. The price: the smoothed rate remembers events for about p, so a
// client that keeps sending at a steady interval T passes only while
// p / T < m, i.e. one event per p / m (2 W for N = 1, 1.1 W for large N)
// once its burst is spent.
const std::string_view kEximRateBound =
    "# Rates: Exim's ratelimit is a smoothed (exponentially decaying) rate, not a\n"
    "# sliding window. A policy rate N/W is written as m = N + 0.1 per period\n"
    "# p = 10(N+1)W/9 seconds (rounded up), strict: Exim then never admits N+1\n"
    "# events within any W and admits a fresh burst of N, but once the burst is\n"
    "# spent a client sending steadily passes only one event per 10(N+1)W/(9N+0.9)\n"
    "# (2 W for N = 1, 1.4 W for N = 3, towards 1.1 W for large N): stricter than\n"
    "# the milter, which admits N per W.\n";

std::string exim_rate(const policy::Rule& rule, const policy::Rate& rate) {
  if (rate.unlimited()) return "0";
  constexpr std::uint64_t kMaxEximTime = 2'147'483'647;  // readconf_readtime: an int
  const std::uint64_t scaled =
      10 * (std::uint64_t{rate.count} + 1) * static_cast<std::uint64_t>(rate.window.count());
  const std::uint64_t period = (scaled + 8) / 9;
  if (period > kMaxEximTime) {
    throw GenerateError(rule_name(rule) + ": rate " + rate.to_string() +
                        " needs an Exim ratelimit period beyond 2^31 s");
  }
  return std::to_string(rate.count) + ".1 / " + std::to_string(period) + "s";
}

}  // namespace detail
}  // namespace harden::mtaconf
