// policy.hpp - the immutable policy snapshot and limit resolution.
//
// SYNOPSIS
//   auto p = Policy::build(rules, options);       // validates; throws PolicyError
//   auto q = Policy::build(rules2, options, p.get());  // reuses p's compiled patterns if unchanged
//   Resolution r = p->resolve(client, now);       // pure, thread-safe, no throw
//                                                 // (r.limits.reason views p's text)
//   as_attributes(r.limits).get(Attr::conn_rate);  // an effective value's canonical text
//
// RESOLUTION
//   Every attribute comes from the most specific matching rule that sets it:
//   exact address, then longest CIDR, then exact host, then longest suffix,
//   then pattern rules by priority, then `default`. Expired rules never match.
//   So "127.0.0.1 conn_rate=0" lifts only the rate limit; "action allow"
//   lifts everything. Host, suffix and pattern rules match only a verified
//   rDNS name (client_resolve OK).
//
//   When no rule more specific than `default` sets `action`, the default
//   rule's `missing_rdns` (client without / with forged rDNS) and `dialin`
//   (built-in dynamic-rDNS heuristic) settings may block the client; an
//   explicit `action` on any more specific rule (even `limit`) exempts it.
//   A dial-in block answers with the default rule's `reason` when it has one,
//   else "Dynamic or dial-in host; please relay via your ISP's mail server".
//
// THREAD SAFETY
//   A Policy is immutable; share it as shared_ptr<const Policy> and call
//   resolve() from any thread.
#pragma once

#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/rdns.hpp"
#include "harden/policy/rule.hpp"

namespace harden::policy {

// {client_resolve} of sendmail / Postfix: did the rDNS name verify?
enum class RdnsStatus : std::uint8_t { ok, fail, forged, tempfail };
std::string_view to_string(RdnsStatus s);
// "OK", "FAIL", "FORGED", "TEMP" (case-insensitive). Throws PolicyError.
RdnsStatus parse_rdns_status(std::string_view text);

struct Client {
  IpAddress address;
  std::string hostname;  // verified rDNS name, lower-case; empty if none
  RdnsStatus resolve = RdnsStatus::fail;
};

struct PolicyOptions {
  ClientKeyer keyer;                        // how clients are counted
  std::optional<RegexEngine> regex_engine;  // nullopt: fastest available
};

// Who set an effective value (what fired, for a heuristic or built-in
// check: Resolution::detail).
struct Source {
  enum class Kind : std::uint8_t { none, rule, heuristic, builtin } kind = Kind::none;
  std::int32_t rule = -1;  // index into Policy::rules() when kind == rule
};

// An attribute's type in Limits: text is a view, not a copy.
template <typename T>
struct LimitOf {
  using type = T;
};
template <>
struct LimitOf<std::string> {
  using type = std::string_view;
};
template <typename T>
using LimitOf_t = typename LimitOf<T>::type;

// The effective values: one member per attribute of HARDEN_POLICY_ATTRIBUTES
// (rule.hpp), value-initialised to the built-in default when no rule sets
// it: action limit, counts, durations and rates 0 (unlimited), modes off.
// `reason` is that of the rule (or heuristic) that decided the action: a
// view of the Policy's own text (or of static text), valid while the Policy
// lives.
struct Limits {
#define HARDEN_LIMITS_MEMBER(name, type, ...) LimitOf_t<type> name{};
  HARDEN_POLICY_ATTRIBUTES(HARDEN_LIMITS_MEMBER)
#undef HARDEN_LIMITS_MEMBER
  // `action` was set to block/tempfail by a monitor-mode setting: log only.
  bool monitor_only = false;
};

// The effective values as Attributes, every one set (an empty reason stays
// unset), so each prints in its canonical text: as_attributes(l).get(a).
Attributes as_attributes(const Limits& l);

struct Resolution {
  IpNetwork key;  // the client key counters use
  Limits limits;
  std::array<Source, kAttrCount> sources;  // per Attr, who set it
  // Every matching rule, most specific first (rarely more than a handful).
  boost::container::small_vector<std::int32_t, 6> matched;
  std::optional<DynamicRdnsHit> dialin_hit;    // dialin on and the name is dynamic
  std::optional<RdnsHit> generic_hosting_hit;  // generic_hosting on and the name is hosting
  // When the action came from the heuristic or a built-in check: what fired
  // ("dialin keyword: ...", "missing_rdns: client_resolve FAIL").
  std::string detail;

  const Source& source(Attr a) const { return sources[static_cast<std::size_t>(a)]; }
};

class Policy {
 public:
  // Validates every rule (throws PolicyError naming the first bad rule:
  // "rule 12 (.example.org): ..."), refuses duplicate selectors, compiles
  // the pattern rules once. A policy without a default rule gets an empty one.
  //
  // Compiling a large pattern set takes seconds (Hyperscan, fqrdns.pcre), so
  // when `previous` has exactly the same pattern rules and engine its compiled
  // matcher is shared instead: a reload after `rule add 192.0.2.7 ...` costs
  // milliseconds.
  static std::shared_ptr<const Policy> build(std::vector<Rule> rules, PolicyOptions options = {},
                                             const Policy* previous = nullptr);

  const std::vector<Rule>& rules() const { return rules_; }
  const PolicyOptions& options() const { return options_; }
  const Rule& default_rule() const { return rules_[static_cast<std::size_t>(default_index_)]; }
  const PatternRuleIndex& patterns() const { return *patterns_; }

  // Pure; never throws except std::bad_alloc.
  Resolution resolve(const Client& client, UnixTime now) const;

 private:
  Policy() = default;
  struct Index;

  std::vector<Rule> rules_;
  PolicyOptions options_;
  std::int32_t default_index_ = -1;
  std::shared_ptr<const Index> index_;
  std::shared_ptr<const PatternRuleIndex> patterns_;
  std::vector<PatternRuleIndex::Entry> pattern_entries_;  // what patterns_ was built from
};

}  // namespace harden::policy
