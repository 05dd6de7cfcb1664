// pattern_rules.cpp - PatternRuleIndex: pattern rules over one PatternSet.
//
// SYNOPSIS
//   PatternRuleIndex idx(entries);           // each distinct regex compiled once
//   std::vector<std::uint32_t> rules = idx.match("dsl-1-2-3-4.example.net");
//
// A rule is a conjunction of terms: every plain term must match the name and
// no negated term may. Each rule is filed under one of its plain terms, the
// one the fewest rules share (an "if /cable|dsl/" block condition is shared by
// hundreds of rules, the rule's own regex by one), so match() looks only at
// rules whose filing regex matched, then checks their other terms against the
// sorted list of matching regexes. Results come in (priority, index) order.
//
// Names longer than kMaxHostnameLength match no rule (untrusted input).
#include <algorithm>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_map>

#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {

namespace {

struct CompiledRule {
  std::vector<std::uint32_t> positive;  // regex ids that must match (filing id excluded)
  std::vector<std::uint32_t> negative;  // regex ids that must not match
  std::uint32_t rank = 0;               // position in (priority, index) order
};

bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

}  // namespace

struct PatternRuleIndex::Impl {
  std::size_t rule_count = 0;
  std::vector<CompiledRule> rules;
  // filed[regex id] = rules filed under that regex, ascending.
  std::vector<std::vector<std::uint32_t>> filed;
  std::optional<PatternSet> set;

  Impl(const std::vector<Entry>& entries, std::optional<RegexEngine> preferred);

  bool holds(const CompiledRule& r, const std::vector<std::uint32_t>& hits) const {
    return std::all_of(r.positive.begin(), r.positive.end(),
                       [&](std::uint32_t id) { return contains(hits, id); }) &&
           std::none_of(r.negative.begin(), r.negative.end(),
                        [&](std::uint32_t id) { return contains(hits, id); });
  }
};

PatternRuleIndex::Impl::Impl(const std::vector<Entry>& entries,
                             std::optional<RegexEngine> preferred) {
  if (entries.size() > std::numeric_limits<std::uint32_t>::max() / 2)
    throw PolicyError("too many pattern rules");
  rule_count = entries.size();
  std::vector<std::string> regexes;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::uint32_t> uses;  // per regex id: rules with it as a plain term
  auto id_of = [&](const std::string& re) {
    auto [it, added] = ids.try_emplace(re, static_cast<std::uint32_t>(regexes.size()));
    if (added) {
      regexes.push_back(re);
      uses.push_back(0);
    }
    return it->second;
  };

  rules.resize(entries.size());
  for (std::size_t r = 0; r < entries.size(); ++r) {
    for (const PatternTerm& t : entries[r].terms) {
      const std::uint32_t id = id_of(t.regex);
      (t.negated ? rules[r].negative : rules[r].positive).push_back(id);
      if (!t.negated) ++uses[id];
    }
    if (rules[r].positive.empty())
      throw PolicyError("pattern rule " + std::to_string(r) + " has no term that must match");
  }

  filed.resize(regexes.size());
  for (std::uint32_t r = 0; r < rules.size(); ++r) {
    auto& pos = rules[r].positive;
    const auto key =
        std::min_element(pos.begin(), pos.end(),
                         [&](std::uint32_t a, std::uint32_t b) { return uses[a] < uses[b]; });
    filed[*key].push_back(r);
    const std::uint32_t key_id = *key;
    std::erase(pos, key_id);  // checked by filing; a repeated term is checked by filing too
    std::sort(pos.begin(), pos.end());
    std::sort(rules[r].negative.begin(), rules[r].negative.end());
  }

  std::vector<std::uint32_t> order(rules.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return entries[a].priority < entries[b].priority;
  });
  for (std::uint32_t pos = 0; pos < order.size(); ++pos) rules[order[pos]].rank = pos;

  set.emplace(regexes, preferred);
}

PatternRuleIndex::PatternRuleIndex(std::vector<Entry> rules, std::optional<RegexEngine> preferred)
    : impl_(std::make_shared<const Impl>(rules, preferred)) {}

std::vector<std::uint32_t> PatternRuleIndex::match(std::string_view hostname) const {
  std::vector<std::uint32_t> out;
  if (hostname.size() > kMaxHostnameLength || impl_->rule_count == 0) return out;
  const Impl& im = *impl_;
  const std::vector<std::uint32_t> hits = im.set->match(hostname);
  for (std::uint32_t id : hits)
    for (std::uint32_t r : im.filed[id])
      if (im.holds(im.rules[r], hits)) out.push_back(r);
  std::sort(out.begin(), out.end(),
            [&](std::uint32_t a, std::uint32_t b) { return im.rules[a].rank < im.rules[b].rank; });
  return out;
}

const PatternSet& PatternRuleIndex::patterns() const {
  return *impl_->set;
}
std::size_t PatternRuleIndex::size() const {
  return impl_->rule_count;
}

}  // namespace harden::policy
