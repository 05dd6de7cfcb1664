// policy.cpp - building a snapshot and resolving a client's limits.
#include "harden/policy/policy.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

struct AddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept {
    return hash_address_bytes(a.bytes(), static_cast<std::uint64_t>(a.family()));
  }
};

constexpr std::string_view kDialinReason =
    "Dynamic or dial-in host; please relay via your ISP's mail server";
constexpr std::string_view kGenericHostingReason =
    "Generic cloud or hosting host name; please send from a named mail server";
constexpr std::string_view kMissingRdnsReason = "Client host rejected: cannot find your hostname";

}  // namespace

std::string_view to_string(RdnsStatus s) {
  switch (s) {
    case RdnsStatus::ok:
      return "OK";
    case RdnsStatus::fail:
      return "FAIL";
    case RdnsStatus::forged:
      return "FORGED";
    case RdnsStatus::tempfail:
      return "TEMP";
  }
  return "?";
}

RdnsStatus parse_rdns_status(std::string_view text) {
  std::string up;
  for (char c : text.substr(0, 16)) up += ascii::to_upper(c);
  if (text.size() <= 16) {
    if (up == "OK") return RdnsStatus::ok;
    if (up == "FAIL") return RdnsStatus::fail;
    if (up == "FORGED") return RdnsStatus::forged;
    if (up == "TEMP" || up == "TEMPFAIL") return RdnsStatus::tempfail;
  }
  throw PolicyError("bad rDNS status " + quote(text) + " (expected OK, FAIL, FORGED or TEMP)");
}

// Lookup structures of one snapshot: networks by prefix length (longest
// first) per family, host and suffix names, and the pattern rules.
struct Policy::Index {
  struct ByPrefix {
    unsigned prefix;
    std::unordered_map<IpAddress, std::int32_t, AddressHash> nets;
  };
  std::vector<ByPrefix> v4, v6;  // sorted by prefix, longest first
  SuffixIndex names;
  std::vector<std::int32_t> pattern_rule;  // PatternRuleIndex entry -> rule index

  // What resolve() needs of every matching rule, packed (16 bytes a rule),
  // so that a name matching a cold rule (the usual case with thousands of
  // pattern rules) costs no cache miss on the Rule itself unless the rule
  // sets a limit too.
  struct Hot {
    std::int64_t expires = std::numeric_limits<std::int64_t>::max();  // seconds; max: never
    std::uint32_t attrs = 0;                                          // bit per Attr the rule sets
    Action action = Action::limit;                                    // when it sets `action`
  };
  std::vector<Hot> hot;                  // per rule
  std::vector<std::string_view> reason;  // per rule: its reason, if set

  bool live(std::int32_t r, UnixTime now) const {
    return hot[static_cast<std::size_t>(r)].expires > now.time_since_epoch().count();
  }

  void add_network(const IpNetwork& n, std::int32_t rule) {
    auto& list = n.address().is_v4() ? v4 : v6;
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const ByPrefix& b) { return b.prefix == n.prefix(); });
    if (it == list.end()) {
      list.push_back(ByPrefix{n.prefix(), {}});
      std::sort(list.begin(), list.end(),
                [](const ByPrefix& a, const ByPrefix& b) { return a.prefix > b.prefix; });
      it = std::find_if(list.begin(), list.end(),
                        [&](const ByPrefix& b) { return b.prefix == n.prefix(); });
    }
    it->nets.emplace(n.address(), rule);
  }
};

std::shared_ptr<const Policy> Policy::build(std::vector<Rule> rules, PolicyOptions options,
                                            const Policy* previous) {
  options.keyer.validate();
  std::unordered_set<std::string> seen;
  for (const auto& r : rules) {
    try {
      r.validate();
    } catch (const PolicyError& e) {
      if (r.id == 0) throw;
      throw PolicyError(std::string(e.what()) + " [rule id " + std::to_string(r.id) + "]");
    }
    if (!seen.insert(r.selector.text()).second) {
      throw PolicyError("rule " + r.selector.text() + ": duplicate selector");
    }
  }
  auto default_it = std::find_if(rules.begin(), rules.end(), [](const Rule& r) {
    return r.selector.kind() == Selector::Kind::default_rule;
  });
  if (default_it == rules.end()) rules.push_back(Rule{});

  std::shared_ptr<Policy> p(new Policy());
  p->rules_ = std::move(rules);
  p->options_ = options;
  auto index = std::make_shared<Index>();

  std::vector<std::int32_t> pattern_rules;
  index->hot.resize(p->rules_.size());
  index->reason.resize(p->rules_.size());
  for (std::size_t i = 0; i < p->rules_.size(); ++i) {
    const auto idx = static_cast<std::int32_t>(i);
    const Rule& rule = p->rules_[i];
    Index::Hot& hot = index->hot[i];
    if (rule.expires) hot.expires = rule.expires->time_since_epoch().count();
    if (rule.attrs.action) hot.action = *rule.attrs.action;
    if (rule.attrs.reason) index->reason[i] = *rule.attrs.reason;
    for (const auto& ai : attributes()) {
      const bool allowed = !ai.default_only || rule.selector.kind() == Selector::Kind::default_rule;
      if (allowed && rule.attrs.has(ai.attr)) hot.attrs |= 1u << static_cast<unsigned>(ai.attr);
    }
    const Selector& s = rule.selector;
    switch (s.kind()) {
      case Selector::Kind::default_rule:
        p->default_index_ = idx;
        break;
      case Selector::Kind::address:
      case Selector::Kind::network:
        index->add_network(s.network(), idx);
        break;
      case Selector::Kind::host:
        index->names.add_host(s.name(), static_cast<std::uint32_t>(i));
        break;
      case Selector::Kind::suffix:
        index->names.add_suffix(s.name(), static_cast<std::uint32_t>(i));
        break;
      case Selector::Kind::pattern:
        pattern_rules.push_back(idx);
        break;
    }
  }
  std::stable_sort(pattern_rules.begin(), pattern_rules.end(), [&](std::int32_t a, std::int32_t b) {
    return p->rules_[static_cast<std::size_t>(a)].priority <
           p->rules_[static_cast<std::size_t>(b)].priority;
  });
  std::vector<PatternRuleIndex::Entry> entries;
  entries.reserve(pattern_rules.size());
  for (auto r : pattern_rules) {
    const Rule& rule = p->rules_[static_cast<std::size_t>(r)];
    entries.push_back({rule.selector.terms(), rule.priority});
  }
  index->pattern_rule = std::move(pattern_rules);
  if (previous != nullptr && previous->pattern_entries_ == entries &&
      previous->options_.regex_engine == options.regex_engine) {
    p->patterns_ = previous->patterns_;
  } else {
    p->patterns_ = std::make_shared<const PatternRuleIndex>(entries, options.regex_engine);
  }
  p->pattern_entries_ = std::move(entries);
  p->index_ = std::move(index);
  return p;
}

namespace {
template <typename T>
std::optional<T> limit_as_attribute(const T& v) {
  return v;
}
std::optional<std::string> limit_as_attribute(std::string_view v) {
  if (v.empty()) return std::nullopt;
  return std::string(v);
}
}  // namespace

Attributes as_attributes(const Limits& l) {
  Attributes a;
#define HARDEN_ATTR_FROM_LIMIT(name, ...) a.name = limit_as_attribute(l.name);
  HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_FROM_LIMIT)
#undef HARDEN_ATTR_FROM_LIMIT
  return a;
}

Resolution Policy::resolve(const Client& client, UnixTime now) const {
  Resolution res;
  res.key = options_.keyer.key(client.address);
  const Index& ix = *index_;

  auto consider = [&](std::int32_t r) {
    if (ix.live(r, now)) res.matched.push_back(r);
  };
  for (const auto& bp : client.address.is_v4() ? ix.v4 : ix.v6) {
    auto it = bp.nets.find(client.address.masked(bp.prefix));
    if (it != bp.nets.end()) consider(it->second);
  }
  const bool named = client.resolve == RdnsStatus::ok && !client.hostname.empty();
  if (named) {
    thread_local std::vector<std::uint32_t> found;  // capacity kept across calls
    if (auto h = ix.names.find_host(client.hostname)) consider(static_cast<std::int32_t>(*h));
    ix.names.find_suffixes(client.hostname, found);
    for (auto s : found) consider(static_cast<std::int32_t>(s));
    patterns_->match(client.hostname, found);
    for (auto e : found) consider(ix.pattern_rule[e]);
  }
  consider(default_index_);

  // Each attribute from the first (most specific) matching rule that sets it.
  static_assert(kAttrCount < 32, "Index::Hot::attrs holds a bit per attribute");
  std::uint32_t unset = (1u << kAttrCount) - 1;
  for (auto r : res.matched) {
    std::uint32_t take = ix.hot[static_cast<std::size_t>(r)].attrs & unset;
    unset &= ~take;
    for (; take != 0; take &= take - 1) {
      const auto a = static_cast<std::size_t>(std::countr_zero(take));
      res.sources[a] = Source{Source::Kind::rule, r};
    }
    if (unset == 0) break;
  }
  auto from = [&](Attr a) -> const Attributes* {
    const Source& s = res.source(a);
    return s.kind == Source::Kind::rule ? &rules_[static_cast<std::size_t>(s.rule)].attrs : nullptr;
  };
  Limits& L = res.limits;
  const Source& action_src = res.source(Attr::action);
  if (action_src.kind == Source::Kind::rule) {
    // The reason goes with the action: that of the rule that decided it.
    const auto decider = static_cast<std::size_t>(action_src.rule);
    L.action = ix.hot[decider].action;
    L.reason = ix.reason[decider];
  }
  res.sources[static_cast<std::size_t>(Attr::reason)] = action_src;
  // Every other attribute from the rule that is its source.
#define HARDEN_ATTR_RESOLVE(name, ...)                                      \
  if constexpr (Attr::name != Attr::action && Attr::name != Attr::reason) { \
    if (auto a = from(Attr::name)) L.name = *a->name;                       \
  }
  HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_RESOLVE)
#undef HARDEN_ATTR_RESOLVE

  const bool specific_action =
      action_src.kind == Source::Kind::rule && action_src.rule != default_index_;
  if (L.action == Action::allow) {
    const Source allow_src = action_src;
    const std::string_view reason = L.reason;
    L = Limits{};
    L.action = Action::allow;
    L.reason = reason;
    res.sources.fill(allow_src);  // every attribute: lifted by the allow
    return res;
  }
  if (specific_action || L.action != Action::limit) return res;

  auto builtin_block = [&](Source::Kind kind, bool monitor, Action act, std::string detail,
                           std::string_view reason) {
    L.action = act;
    L.monitor_only = monitor;
    L.reason = reason;
    res.sources[static_cast<std::size_t>(Attr::action)] = Source{kind, -1};
    res.detail = std::move(detail);
    res.sources[static_cast<std::size_t>(Attr::reason)] = res.source(Attr::action);
  };
  if (!named && L.missing_rdns != MissingRdnsMode::off) {
    Action act = L.missing_rdns == MissingRdnsMode::tempfail ? Action::tempfail : Action::block;
    // A DNS timeout is no proof of anything: never a permanent refusal.
    if (client.resolve == RdnsStatus::tempfail) act = Action::tempfail;
    builtin_block(Source::Kind::builtin, L.missing_rdns == MissingRdnsMode::monitor, act,
                  "missing_rdns: client_resolve " + std::string(to_string(client.resolve)),
                  kMissingRdnsReason);
  } else if (named && (L.dialin != ModeSetting::off || L.generic_hosting != ModeSetting::off)) {
    auto hit = classify_rdns(client.hostname, &client.address);
    const auto& own = default_rule().attrs.reason;  // the admin's words win
    if (hit && hit->kind == RdnsClass::dynamic && L.dialin != ModeSetting::off) {
      builtin_block(Source::Kind::heuristic, L.dialin == ModeSetting::monitor, Action::block,
                    "dialin " + hit->heuristic + ": " + hit->detail,
                    own ? std::string_view(*own) : kDialinReason);
      res.dialin_hit = std::move(hit);
    } else if (hit && hit->kind == RdnsClass::hosting && L.generic_hosting != ModeSetting::off) {
      builtin_block(Source::Kind::heuristic, L.generic_hosting == ModeSetting::monitor,
                    Action::block, "generic_hosting " + hit->heuristic + ": " + hit->detail,
                    own ? std::string_view(*own) : kGenericHostingReason);
      res.generic_hosting_hit = std::move(hit);
    }
  }
  return res;
}

}  // namespace harden::policy
