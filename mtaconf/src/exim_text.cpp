// exim_text.cpp - Exim syntax pieces (see exim_text.hpp).
#include "exim_text.hpp"

#include <algorithm>

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
      return {{false, s.network().to_string(), ""}};
    case Kind::host:
      if (!is_safe_hostname(s.name())) throw GenerateError(rule_name(r) + ": bad host name");
      return {{false, host_regex(s.name()), ""}};
    case Kind::suffix:
      if (!is_safe_hostname(s.name().substr(1))) throw GenerateError(rule_name(r) + ": bad suffix");
      return {{false, "*" + s.name(), ""}};
    case Kind::pattern: {
      std::vector<HostCondition> out;
      for (const auto& t : s.terms()) {
        std::string re = checked_regex(r, t.regex);
        out.push_back({t.negated, list_item("\\N^(?i).*?(?:" + re + ")\\N"), re});
      }
      return out;
    }
  }
  return {};
}

namespace {

// Where the escape starting at re[i] == '\\' ends: "\\." and "\\d" are two
// characters, but "\\x3b", "\\x{3b}", "\\101", "\\pL", "\\p{Lu}", "\\cA",
// "\\g{-1}", "\\k<name>" take what follows too (PCRE2's escapes).
std::size_t escape_end(std::string_view re, std::size_t i) {
  const std::size_t n = re.size();
  if (i + 1 >= n) return n;
  const char c = re[i + 1];
  std::size_t j = i + 2;
  auto until = [&](char close) {
    const auto at = re.find(close, j);
    return at == std::string_view::npos ? n : at + 1;
  };
  if (j < n && re[j] == '{' && std::string_view("xopPNgk").find(c) != std::string_view::npos) {
    return until('}');
  }
  if (c == 'x') {
    while (j < n && j < i + 4 && ascii::is_xdigit(re[j])) ++j;
  } else if (ascii::is_digit(c)) {
    while (j < n && j < i + 4 && ascii::is_digit(re[j])) ++j;
  } else if (c == 'c' || c == 'p' || c == 'P') {
    j = std::min(n, j + 1);
  } else if ((c == 'g' || c == 'k') && j < n && (re[j] == '<' || re[j] == '\'')) {
    return until(re[j] == '<' ? '>' : '\'');
  } else if (c == 'g') {
    if (j < n && (re[j] == '-' || re[j] == '+')) ++j;
    while (j < n && ascii::is_digit(re[j])) ++j;
  }
  return j;
}

// The regex split into atoms: escapes (whole, see escape_end), "[...]"
// classes, single characters.
std::vector<std::string_view> atoms(std::string_view re) {
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < re.size();) {
    std::size_t j = i + 1;
    if (re[i] == '\\') {
      j = escape_end(re, i);
    } else if (re[i] == '[') {
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') j += re[j] == '\\' ? std::size_t{2} : std::size_t{1};
      j = std::min(re.size(), j + 1);
    }
    out.push_back(re.substr(i, j - i));
    i = j;
  }
  return out;
}

// True when `re` can be one branch of an alternation without changing what
// it matches: no back references, named or numbered group references,
// branch resets, conditionals, recursion or verbs (all depend on group
// numbers or the whole pattern). Options such as (?i) stay inside (?:...).
bool combinable(std::string_view re) {
  const auto a = atoms(re);
  for (std::size_t k = 0; k < a.size(); ++k) {
    const auto x = a[k];
    if (x.size() >= 2 && x[0] == '\\' && (ascii::is_digit(x[1]) || x[1] == 'g' || x[1] == 'k')) {
      return false;  // back references (\\0nn octal too: kept apart, harmless)
    }
    if (x == "(" && k + 1 < a.size() && (a[k + 1] == "*" || a[k + 1] == "?")) {
      if (a[k + 1] == "*") return false;
      const std::string_view next = k + 2 < a.size() ? a[k + 2] : "";
      const std::string_view after = k + 3 < a.size() ? a[k + 3] : "";
      const bool lookaround = next == ":" || next == "=" || next == "!" || next == ">" ||
                              (next == "<" && (after == "=" || after == "!"));
      const bool options = next == "i" || next == "m" || next == "s" || next == "x" || next == "-";
      if (!lookaround && !options) return false;
    }
  }
  return true;
}

}  // namespace

std::string required_suffix(std::string_view regex) {
  const auto a = atoms(regex);
  int depth = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    const auto x = a[k];
    if (x == "(") ++depth;
    if (x == ")") --depth;
    if (x == "|" && depth == 0) return "";
    if (x == "\\Q") return "";  // quoted to \E or the end: a final $ may be literal
    // (?x...) makes blanks and #... comments mean nothing: the end may not be the end.
    if (x == "(" && k + 1 < a.size() && a[k + 1] == "?") {
      for (std::size_t o = k + 2; o < a.size() && a[o] != ")" && a[o] != ":"; ++o) {
        if (a[o] == "x") return "";
      }
    }
  }
  if (a.empty() || a.back() != "$") return "";
  std::string tail;
  for (std::size_t k = a.size() - 1; k-- > 0;) {
    const auto x = a[k];
    const bool plain = x.size() == 1 && (ascii::is_alnum(x[0]) || x[0] == '-' || x[0] == '_');
    const bool escaped = x == "\\." || x == "\\-";
    if (!plain && !escaped) break;
    tail.insert(tail.begin(), x.back());
  }
  return tail;
}

std::vector<std::string> prefilter_items(const std::vector<std::string>& regexes) {
  std::vector<std::string> suffixes;
  std::vector<std::string> items;
  std::vector<std::string> branches;
  auto flush = [&] {
    if (branches.empty()) return;
    std::string re;
    for (const auto& b : branches) re += (re.empty() ? "(?:" : "|(?:") + b + ")";
    items.push_back(list_item("\\N^(?i).*?(?:" + re + ")\\N"));
    branches.clear();
  };
  for (const auto& re : regexes) {
    if (auto tail = required_suffix(re); !tail.empty()) {
      suffixes.push_back("*" + tail);
    } else if (combinable(re)) {
      branches.push_back(re);
      if (branches.size() == kRegexesPerAlternation) flush();
    } else {
      items.push_back(list_item("\\N^(?i).*?(?:" + re + ")\\N"));
    }
  }
  flush();
  std::sort(suffixes.begin(), suffixes.end());
  suffixes.erase(std::unique(suffixes.begin(), suffixes.end()), suffixes.end());
  suffixes.insert(suffixes.end(), items.begin(), items.end());
  return suffixes;
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
    "# the milter, which admits N per W. Exim's floating point keeps this exact for\n"
    "# N x W up to 10^7 seconds; above, events microseconds apart (pipelined RCPTs)\n"
    "# can pass N+1 or N+2 within W.\n";

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
