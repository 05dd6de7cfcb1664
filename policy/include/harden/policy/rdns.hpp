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
//   classify_rdns()     the built-in generic-name heuristic: dynamic (dial-in,
//                       DSL, cable pools), hosting (generic cloud/VPS names)
//                       or neither (static or unknown), with what fired.
//   classify_dynamic_rdns()   its dynamic outcome alone (what dialin acts on).
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

// What a generic rDNS name is. "Static or unknown" is no hit at all.
enum class RdnsClass : std::uint8_t {
  dynamic,  // an access ISP's subscriber pool: dial-in, DSL, cable, FTTH, mobile
  hosting,  // a cloud, VPS, dedicated-server, colocation or CDN provider's generic name
};
std::string_view to_string(RdnsClass c);

struct RdnsHit {
  RdnsClass kind = RdnsClass::dynamic;
  std::string heuristic;  // e.g. "ipv4-dashed", "keyword", "hosting-word"
  std::string detail;     // e.g. "192-0-2-7 in name", "keyword 'dsl' with numbers"
};
using DynamicRdnsHit = RdnsHit;

// The built-in generic-name heuristic. The client's IPv4 address embedded in
// the name (dotted, dashed, reversed, in another order, hex, zero-padded or
// packed digits, its first three octets with the fourth elsewhere, or its
// last two octets) is strong evidence of a generic name; hosting words
// around it (compute, cloud, vps, server, dedicated, colo, hosting, ... in
// the host part or the provider's domain, or a large provider's domain), or
// the address in the registrable domain itself (ip-A-B-C.eu), make it
// `hosting`, else it is `dynamic`. Without the address, dynamic keywords
// (dyn, dynamic, dsl, cable, pool, ppp, dhcp, broadband, ...) with numbers,
// an access keyword beside the client's last octet, or a CPE's MAC address
// make it `dynamic`, hosting words with numbers `hosting`. Mail words
// (mail*, smtp*, mx, mta, relay, out; a mail* or smtp* registrable domain)
// exempt a name from both; fixed-line words (static, business, biz, fixed,
// fixo, sta) from `dynamic`.
// `client` may be null (then only address-independent forms are recognised).
// Pure; never throws except std::bad_alloc.
std::optional<RdnsHit> classify_rdns(std::string_view hostname, const IpAddress* client);

// classify_rdns() when it says `dynamic`, else nothing.
std::optional<DynamicRdnsHit> classify_dynamic_rdns(std::string_view hostname,
                                                    const IpAddress* client);

}  // namespace harden::policy
