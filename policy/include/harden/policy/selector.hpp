// selector.hpp - what a rule applies to.
//
// SYNOPSIS
//   Selector::parse("default")              every client
//   Selector::parse("192.0.2.7")            that address ("2001:db8::7" too)
//   Selector::parse("192.0.2.0/24")         that network (host bits must be zero)
//   Selector::parse("mx.example.org")       that rDNS name exactly
//   Selector::parse(".adsl.alicedsl.de")    any rDNS name ending so (hosts.deny style)
//   Selector::parse("/^dsl-[0-9-]+\\./")     rDNS regex, case-insensitive, Postfix pcre syntax
//   Selector::parse("/cable|dsl/ && /^cm[0-9]+\\./")   all terms must match
//   Selector::parse("!/static/ && /dyn/")    a term with "!" must not match
//
// Conjunctions are how Postfix pcre "if /re/ ... endif" blocks are kept
// exactly: each rule inside the block carries the block's condition as a term.
//
// Parsing is strict and every error names the bad part. Host names and
// suffixes are lower-cased and a trailing dot is dropped; a /32 or /128
// network is the same selector as the bare address. Regexes are checked with
// PCRE2 when parsed, so a stored pattern always compiles.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/address.hpp"

namespace harden::policy {

inline constexpr std::size_t kMaxHostnameLength = 253;
inline constexpr std::size_t kMaxPatternLength = 4096;  // one selector's text

struct PatternTerm {
  std::string regex;     // between the slashes, as written (Postfix pcre syntax)
  bool negated = false;  // "!/re/": the name must NOT match

  friend bool operator==(const PatternTerm&, const PatternTerm&) = default;
};

class Selector {
 public:
  // Ordered from least to most specific kind; see specificity().
  enum class Kind : std::uint8_t { default_rule, pattern, suffix, host, network, address };

  Selector() = default;                          // default
  static Selector parse(std::string_view text);  // throws PolicyError
  static Selector for_default() { return Selector{}; }
  static Selector for_network(const IpNetwork& n);
  static Selector for_host(std::string_view name);              // validated, lower-cased
  static Selector for_suffix(std::string_view suffix);          // with or without the leading dot
  static Selector for_pattern(std::vector<PatternTerm> terms);  // validated

  Kind kind() const { return kind_; }
  // address, network: the network (a host network for an address).
  const IpNetwork& network() const { return network_; }
  // host: the name; suffix: the suffix with its leading dot (".adsl.example").
  const std::string& name() const { return name_; }
  // pattern: the terms, at least one not negated.
  const std::vector<PatternTerm>& terms() const { return terms_; }

  // Canonical text; parse(text()) == *this.
  std::string text() const;
  // A word for the kind: "default", "address", "network", "host", "suffix", "pattern".
  std::string_view kind_name() const;

  friend bool operator==(const Selector&, const Selector&) = default;

 private:
  Kind kind_ = Kind::default_rule;
  IpNetwork network_;
  std::string name_;
  std::vector<PatternTerm> terms_;
};

// Lower-cases and validates an rDNS host name (labels of letters, digits, '-'
// and '_', 1..63 chars each, 253 in all, trailing dot dropped). Throws
// PolicyError naming the bad label.
std::string normalize_hostname(std::string_view name);
// Same check without throwing; used on untrusted input from the MTA.
bool is_valid_hostname(std::string_view name) noexcept;

// Checks that `regex` compiles as a case-insensitive PCRE2 pattern. Throws
// PolicyError with PCRE2's message and the offset of the bad part.
void check_regex(std::string_view regex);

}  // namespace harden::policy
