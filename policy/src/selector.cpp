// selector.cpp - parsing and printing rule selectors.
#include "harden/policy/selector.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

constexpr std::size_t kMaxLabel = 63;

// Why `name` is not a valid host name, or empty if it is. `name` has no trailing dot.
std::string hostname_problem(std::string_view name) {
  if (name.empty()) return "empty host name";
  if (name.size() > kMaxHostnameLength) {
    return "host name longer than " + std::to_string(kMaxHostnameLength) + " characters";
  }
  std::size_t start = 0;
  bool all_numeric = true;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty()) return "empty label in " + quote(name);
    if (label.size() > kMaxLabel) return "label longer than 63 characters: " + quote(label);
    if (label.front() == '-' || label.back() == '-') {
      return "label " + quote(label) + " starts or ends with '-'";
    }
    for (char c : label) {
      const bool ok = ascii::is_alnum(c) || c == '-' || c == '_';
      if (!ok) return "bad character in label " + quote(label);
      if (!ascii::is_digit(c)) all_numeric = false;
    }
    start = dot + 1;
  }
  if (all_numeric) return quote(name) + " is neither an IP address nor a host name";
  return {};
}

// Parses "/re/ && !/re2/ ..." into terms. Throws PolicyError.
std::vector<PatternTerm> parse_terms(std::string_view text) {
  std::vector<PatternTerm> terms;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  for (;;) {
    skip_space();
    PatternTerm t;
    if (i < text.size() && text[i] == '!') {
      t.negated = true;
      ++i;
    }
    if (i >= text.size() || text[i] != '/') {
      throw PolicyError("pattern term must be /regex/ at " + quote(text.substr(i)));
    }
    const std::size_t open = i++;
    while (i < text.size() && text[i] != '/') {
      if (text[i] == '\\') ++i;
      ++i;
    }
    if (i >= text.size()) {
      throw PolicyError("unterminated pattern " + quote(text.substr(open)) +
                        " (missing closing '/')");
    }
    t.regex = std::string(text.substr(open + 1, i - open - 1));
    ++i;
    if (t.regex.empty()) throw PolicyError("empty pattern '//'");
    terms.push_back(std::move(t));
    skip_space();
    if (i == text.size()) break;
    if (text.substr(i, 2) != "&&") {
      throw PolicyError("expected '&&' or end after a pattern term at " + quote(text.substr(i)) +
                        " (flags are not supported)");
    }
    i += 2;
  }
  return terms;
}

// A '/' not escaped by a backslash would end the term in the text form:
// write it as '\/', which PCRE reads as '/'.
std::string escape_slashes(std::string_view regex) {
  std::string out;
  out.reserve(regex.size());
  for (std::size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] == '\\' && i + 1 < regex.size()) {
      out += regex[i];
      out += regex[++i];
      continue;
    }
    if (regex[i] == '/') out += '\\';
    out += regex[i];
  }
  return out;
}

}  // namespace

bool is_valid_hostname(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  try {
    return hostname_problem(name).empty();
  } catch (...) {
    return false;
  }
}

std::string normalize_hostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (auto why = hostname_problem(name); !why.empty()) throw PolicyError(why);
  return ascii::to_lower(name);
}

void check_regex(std::string_view regex) {
  if (regex.size() > kMaxPatternLength) {
    throw PolicyError("pattern longer than " + std::to_string(kMaxPatternLength) + " characters");
  }
  for (char c : regex) {
    if (ascii::is_control(c)) {
      throw PolicyError("control character in pattern " + quote(regex));
    }
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code(
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(regex.data()), regex.size(), PCRE2_CASELESS, &err,
                    &offset, nullptr),
      &pcre2_code_free);
  if (!code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw PolicyError("bad pattern /" + std::string(regex) + "/: " +
                      reinterpret_cast<const char*>(msg) + " at offset " + std::to_string(offset));
  }
}

Selector Selector::for_network(const IpNetwork& n) {
  Selector s;
  s.kind_ = n.is_host() ? Kind::address : Kind::network;
  s.network_ = n;
  return s;
}

Selector Selector::for_host(std::string_view name) {
  Selector s;
  s.kind_ = Kind::host;
  s.name_ = normalize_hostname(name);
  return s;
}

Selector Selector::for_suffix(std::string_view suffix) {
  if (!suffix.empty() && suffix.front() == '.') suffix.remove_prefix(1);
  Selector s;
  s.kind_ = Kind::suffix;
  s.name_ = "." + normalize_hostname(suffix);
  return s;
}

Selector Selector::for_pattern(std::vector<PatternTerm> terms) {
  if (terms.empty()) throw PolicyError("a pattern needs at least one /regex/");
  bool positive = false;
  for (auto& t : terms) {
    if (t.regex.empty()) throw PolicyError("empty pattern '//'");
    t.regex = escape_slashes(t.regex);
    check_regex(t.regex);
    positive = positive || !t.negated;
  }
  if (!positive) throw PolicyError("a pattern needs at least one term without '!'");
  Selector s;
  s.kind_ = Kind::pattern;
  s.terms_ = std::move(terms);
  if (s.text().size() > kMaxPatternLength) {
    throw PolicyError("pattern longer than " + std::to_string(kMaxPatternLength) + " characters");
  }
  return s;
}

Selector Selector::parse(std::string_view text) {
  if (text.empty()) throw PolicyError("empty selector");
  if (text.size() > kMaxPatternLength) {
    throw PolicyError("selector longer than " + std::to_string(kMaxPatternLength) + " characters");
  }
  if (text == "default") return Selector{};
  {
    const std::string lower = ascii::to_lower(text.substr(0, 9));
    if (lower == "default" || lower == "default.") {
      throw PolicyError("selector " + quote(text) +
                        ": the default rule is written 'default' (a host cannot be named so)");
    }
  }
  if (text.front() == '/' || text.front() == '!') return for_pattern(parse_terms(text));
  for (char c : text) {
    if (c == ' ' || ascii::is_control(c)) {
      throw PolicyError("selector " + quote(text) + " contains a space or control character");
    }
  }
  if (text.substr(0, 2) == "*.") {
    throw PolicyError("selector " + quote(text) + ": write a domain suffix as " +
                      quote(text.substr(1)));
  }
  if (text.front() == '.') {
    if (text.size() == 1) throw PolicyError("selector '.' names no domain");
    return for_suffix(text);
  }
  const bool looks_ip = text.find(':') != std::string_view::npos ||
                        text.find('/') != std::string_view::npos ||
                        text.find_first_not_of("0123456789.") == std::string_view::npos;
  if (looks_ip) return for_network(IpNetwork::parse(text));
  return for_host(text);
}

std::string Selector::text() const {
  switch (kind_) {
    case Kind::default_rule:
      return "default";
    case Kind::address:
    case Kind::network:
      return network_.to_string();
    case Kind::host:
    case Kind::suffix:
      return name_;
    case Kind::pattern: {
      std::string out;
      for (const auto& t : terms_) {
        if (!out.empty()) out += " && ";
        if (t.negated) out += '!';
        out += '/' + t.regex + '/';
      }
      return out;
    }
  }
  return {};
}

std::string_view Selector::kind_name() const {
  switch (kind_) {
    case Kind::default_rule:
      return "default";
    case Kind::address:
      return "address";
    case Kind::network:
      return "network";
    case Kind::host:
      return "host";
    case Kind::suffix:
      return "suffix";
    case Kind::pattern:
      return "pattern";
  }
  return "?";
}

}  // namespace harden::policy
