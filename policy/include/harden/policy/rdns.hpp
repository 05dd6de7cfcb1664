// rdns.hpp - classifying a client's reverse-DNS name.
//
// SYNOPSIS
//   PatternSet          many regexes compiled once into one multi-pattern
//                       matcher; match() reports every regex that matches.
//   PatternRuleIndex    pattern rules (conjunctions of terms, see selector.hpp)
//                       over one PatternSet; returns the matching rules in
//                       priority order.
//   SuffixIndex         exact-host and domain-suffix lookups in O(labels),
//                       without scanning every suffix.
//   classify_dynamic_rdns()   the built-in generic dynamic-rDNS heuristic.
//
// THREAD SAFETY
//   All of these are immutable after construction; their const member
//   functions may be called from any number of threads at once.
//
// Everything here is pure: no I/O, no clock. Built once per policy snapshot,
// never per connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/selector.hpp"

namespace harden::policy {

enum class RegexEngine : std::uint8_t { hyperscan, re2, pcre2 };
std::string_view to_string(RegexEngine e);

// One regex the fast engine could not take, and why; it is matched with PCRE2.
struct FallbackReport {
  std::size_t index;  // into the regex list given to PatternSet
  std::string regex;
  std::string reason;  // the fast engine's compile error
};

class PatternSet {
 public:
  // Compiles `regexes` (Postfix pcre syntax, all case-insensitive) into one
  // matcher with the fastest engine available (`preferred`), putting any
  // regex it cannot take on PCRE2. Throws PolicyError if a regex does not
  // compile with PCRE2 either. An empty list is fine (matches nothing).
  explicit PatternSet(std::span<const std::string> regexes,
                      std::optional<RegexEngine> preferred = std::nullopt);
  ~PatternSet();
  PatternSet(PatternSet&&) noexcept;
  PatternSet& operator=(PatternSet&&) noexcept;
  PatternSet(const PatternSet&) = delete;
  PatternSet& operator=(const PatternSet&) = delete;

  std::size_t size() const;
  RegexEngine engine() const;  // the engine that holds most regexes
  const std::vector<FallbackReport>& fallbacks() const;

  // Indices of all regexes matching `subject`, ascending. Thread-safe.
  std::vector<std::uint32_t> match(std::string_view subject) const;
  // The same into `out` (its contents replaced; its capacity reused).
  void match(std::string_view subject, std::vector<std::uint32_t>& out) const;
  // Whether regex `index` alone matches `subject`, with PCRE2 (JIT-compiled
  // when the set was built with RegexEngine::pcre2); false for an index out
  // of range.
  bool matches(std::uint32_t index, std::string_view subject) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PatternRuleIndex {
 public:
  struct Entry {
    std::vector<PatternTerm> terms;
    std::int64_t priority = 0;

    friend bool operator==(const Entry&, const Entry&) = default;
  };
  explicit PatternRuleIndex(std::vector<Entry> rules,
                            std::optional<RegexEngine> preferred = std::nullopt);
  // Indices into the `rules` given, of every rule whose terms all hold for
  // `hostname`, ordered by (priority, index). Thread-safe.
  std::vector<std::uint32_t> match(std::string_view hostname) const;
  // The same into `out` (its contents replaced; its capacity reused).
  void match(std::string_view hostname, std::vector<std::uint32_t>& out) const;
  // The multi-pattern matcher of the filing regexes (each rule's rarest plain
  // term); the other terms are tried one by one, only for candidate rules.
  const PatternSet& patterns() const;
  std::size_t size() const;

 private:
  struct Impl;  // distinct regexes compiled once; rules refer to them by id
  std::shared_ptr<const Impl> impl_;
};

class SuffixIndex {
 public:
  SuffixIndex();
  // Adds an exact host ("mx.example.org") or a suffix (".example.org") with a value.
  void add_host(std::string_view host, std::uint32_t value);
  void add_suffix(std::string_view suffix, std::uint32_t value);
  // The exact host entry for `hostname`, if any.
  std::optional<std::uint32_t> find_host(std::string_view hostname) const;
  // Suffix entries that `hostname` ends with, longest suffix first.
  std::vector<std::uint32_t> find_suffixes(std::string_view hostname) const;
  // The same into `out` (its contents replaced; its capacity reused).
  void find_suffixes(std::string_view hostname, std::vector<std::uint32_t>& out) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct DynamicRdnsHit {
  std::string heuristic;  // e.g. "ipv4-dashed", "keyword"
  std::string detail;     // e.g. "192-0-2-7 in name", "keyword 'dsl'"
};

// The built-in generic dynamic-rDNS heuristic: the client's IPv4 address
// embedded in the name (dotted, dashed, reversed, hex, or plain digits),
// or dynamic keywords (dyn, dynamic, dsl, adsl, cable, pool, ppp, dialup,
// dhcp, client, res, broadband, ...) together with numbers. Names with a
// static/business/mail/mx/smtp label are exempt. `client` may be null
// (then only address-independent forms are recognised).
std::optional<DynamicRdnsHit> classify_dynamic_rdns(std::string_view hostname,
                                                    const IpAddress* client);

}  // namespace harden::policy
