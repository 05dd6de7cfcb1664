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

constexpr std::uint32_t kNegated = 1u << 31;  // flag on a term: must not match

bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

// Flattens per-key lists into one array with offsets (few cache lines per lookup).
template <typename T>
void flatten(const std::vector<std::vector<T>>& lists, std::vector<std::uint32_t>& begin,
             std::vector<T>& items) {
  begin.clear();
  items.clear();
  for (const auto& l : lists) {
    begin.push_back(static_cast<std::uint32_t>(items.size()));
    items.insert(items.end(), l.begin(), l.end());
  }
  begin.push_back(static_cast<std::uint32_t>(items.size()));
}

}  // namespace

struct PatternRuleIndex::Impl {
  std::size_t rule_count = 0;
  // Rules filed under regex id k: filed[filed_begin[k] .. filed_begin[k + 1]).
  std::vector<std::uint32_t> filed_begin, filed;
  // Other terms of rule r: terms[term_begin[r] .. term_begin[r + 1]), id | kNegated.
  std::vector<std::uint32_t> term_begin, terms;
  std::vector<std::uint32_t> rank;  // rule -> position in (priority, index) order
  std::optional<PatternSet> set;

  Impl(const std::vector<Entry>& entries, std::optional<RegexEngine> preferred);

  bool holds(std::uint32_t r, const std::vector<std::uint32_t>& hits) const {
    for (std::uint32_t k = term_begin[r]; k < term_begin[r + 1]; ++k) {
      const bool negated = (terms[k] & kNegated) != 0;
      if (contains(hits, terms[k] & ~kNegated) == negated) return false;
    }
    return true;
  }
};

PatternRuleIndex::Impl::Impl(const std::vector<Entry>& entries,
                             std::optional<RegexEngine> preferred) {
  if (entries.size() >= kNegated / 2) throw PolicyError("too many pattern rules");
  rule_count = entries.size();
  std::vector<std::string> regexes;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::uint32_t> uses;  // per regex id: rules with it as a plain term
  auto id_of = [&](const std::string& re) {
    auto [it, added] = ids.try_emplace(re, static_cast<std::uint32_t>(regexes.size()));
    if (added && regexes.size() + 1 >= kNegated) throw PolicyError("too many pattern regexes");
    if (added) {
      regexes.push_back(re);
      uses.push_back(0);
    }
    return it->second;
  };

  std::vector<std::vector<std::uint32_t>> rule_terms(entries.size());
  for (std::size_t r = 0; r < entries.size(); ++r) {
    bool positive = false;
    for (const PatternTerm& t : entries[r].terms) {
      const std::uint32_t id = id_of(t.regex);
      rule_terms[r].push_back(t.negated ? id | kNegated : id);
      if (!t.negated) ++uses[id];
      positive = positive || !t.negated;
    }
    if (!positive)
      throw PolicyError("pattern rule " + std::to_string(r) + " has no term that must match");
  }

  std::vector<std::vector<std::uint32_t>> by_regex(regexes.size());
  for (std::uint32_t r = 0; r < rule_terms.size(); ++r) {
    auto& ts = rule_terms[r];
    std::uint32_t key = kNegated;
    for (std::uint32_t t : ts)
      if ((t & kNegated) == 0 && (key == kNegated || uses[t] < uses[key])) key = t;
    by_regex[key].push_back(r);
    std::erase(ts, key);  // filing checks it (a repeated term too)
    std::sort(ts.begin(), ts.end());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  }
  flatten(by_regex, filed_begin, filed);
  flatten(rule_terms, term_begin, terms);

  std::vector<std::uint32_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return entries[a].priority < entries[b].priority;
  });
  rank.resize(order.size());
  for (std::uint32_t pos = 0; pos < order.size(); ++pos) rank[order[pos]] = pos;

  set.emplace(regexes, preferred);
}

PatternRuleIndex::PatternRuleIndex(std::vector<Entry> rules, std::optional<RegexEngine> preferred)
    : impl_(std::make_shared<const Impl>(rules, preferred)) {}

std::vector<std::uint32_t> PatternRuleIndex::match(std::string_view hostname) const {
  std::vector<std::uint32_t> out;
  const Impl& im = *impl_;
  if (hostname.size() > kMaxHostnameLength || im.rule_count == 0) return out;
  const std::vector<std::uint32_t> hits = im.set->match(hostname);
  for (std::uint32_t id : hits)
    for (std::uint32_t k = im.filed_begin[id]; k < im.filed_begin[id + 1]; ++k)
      if (im.holds(im.filed[k], hits)) out.push_back(im.filed[k]);
  if (out.size() > 1) {
    std::sort(out.begin(), out.end(),
              [&](std::uint32_t a, std::uint32_t b) { return im.rank[a] < im.rank[b]; });
  }
  return out;
}

const PatternSet& PatternRuleIndex::patterns() const {
  return *impl_->set;
}
std::size_t PatternRuleIndex::size() const {
  return impl_->rule_count;
}

}  // namespace harden::policy
