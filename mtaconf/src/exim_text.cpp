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

std::string exim_rate(const policy::Rate& r) {
  if (r.unlimited()) return "0";
  return std::to_string(r.count) + ".5 / " + policy::format_duration(r.window);
}

}  // namespace detail
}  // namespace harden::mtaconf
