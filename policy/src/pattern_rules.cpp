// pattern_rules.cpp - PatternRuleIndex: pattern rules over one PatternSet.
//
// SYNOPSIS
//   PatternRuleIndex idx(entries);           // each distinct regex compiled once
//   std::vector<std::uint32_t> rules = idx.match("dsl-1-2-3-4.example.net");
//
// A rule is a conjunction of terms: every plain term must match the name and
// no negated term may. Each rule is filed under one of its plain terms, the
// one the fewest rules share (an "if /cable|dsl/" block condition is shared by
// hundreds of rules, the rule's own regex by one). Only the filing regexes go
// into the multi-pattern matcher; match() looks only at rules whose filing
// regex matched, then checks their other terms. A regex that files no rule
// (a block condition) is compiled apart and tried, with PCRE2, only when a
// rule that needs it is a candidate, at most once per name: most names match
// no rule's own regex and never pay for the broad conditions. Results come in
// (priority, index) order.
//
// Names longer than kMaxHostnameLength match no rule (untrusted input).
#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_map>

#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {

namespace {

constexpr std::uint32_t kNegated = 1u << 31;  // flag on a term: must not match
constexpr std::uint32_t kLazy = 1u << 30;     // flag on a term: a regex of the lazy set
constexpr std::uint32_t kIdMask = kLazy - 1;

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

// Results of lazy regexes already tried on the current name.
class LazyMemo {
 public:
  bool get(const PatternSet& set, std::uint32_t id, std::string_view name) {
    for (std::size_t k = 0; k < size_; ++k)
      if (ids_[k] == id) return results_[k];
    const bool hit = set.matches(id, name);
    if (size_ < ids_.size()) {  // full: later repeats are tried again, still right
      ids_[size_] = id;
      results_[size_++] = hit;
    }
    return hit;
  }

 private:
  std::array<std::uint32_t, 8> ids_{};
  std::array<bool, 8> results_{};
  std::size_t size_ = 0;
};

}  // namespace

struct PatternRuleIndex::Impl {
  std::size_t rule_count = 0;
  // Rules filed under filing regex k: filed[filed_begin[k] .. filed_begin[k + 1]).
  std::vector<std::uint32_t> filed_begin, filed;
  // Other terms of rule r: terms[term_begin[r] .. term_begin[r + 1]),
  // id | kLazy (a regex of `lazy`, else of `set`) | kNegated.
  std::vector<std::uint32_t> term_begin, terms;
  std::vector<std::uint32_t> rank;  // rule -> position in (priority, index) order
  std::optional<PatternSet> set;    // the filing regexes: the multi-pattern matcher
  std::optional<PatternSet> lazy;   // the others: PCRE2, one by one, on demand

  Impl(const std::vector<Entry>& entries, std::optional<RegexEngine> preferred);

  bool holds(std::uint32_t r, const std::vector<std::uint32_t>& hits, std::string_view name,
             LazyMemo& memo) const {
    for (std::uint32_t k = term_begin[r]; k < term_begin[r + 1]; ++k) {
      const std::uint32_t t = terms[k];
      const bool negated = (t & kNegated) != 0;
      const bool hit =
          (t & kLazy) != 0 ? memo.get(*lazy, t & kIdMask, name) : contains(hits, t & kIdMask);
      if (hit == negated) return false;
    }
    return true;
  }
};

PatternRuleIndex::Impl::Impl(const std::vector<Entry>& entries,
                             std::optional<RegexEngine> preferred) {
  if (entries.size() >= kLazy) throw PolicyError("too many pattern rules");
  rule_count = entries.size();
  std::vector<std::string> regexes;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::vector<std::uint32_t> uses;  // per regex id: rules with it as a plain term
  auto id_of = [&](const std::string& re) {
    auto [it, added] = ids.try_emplace(re, static_cast<std::uint32_t>(regexes.size()));
    if (added && regexes.size() + 1 >= kLazy) throw PolicyError("too many pattern regexes");
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

  // File each rule under its rarest plain term.
  std::vector<std::uint32_t> key(rule_terms.size(), kNegated);
  for (std::uint32_t r = 0; r < rule_terms.size(); ++r)
    for (std::uint32_t t : rule_terms[r])
      if ((t & kNegated) == 0 && (key[r] == kNegated || uses[t] < uses[key[r]])) key[r] = t;

  // Filing regexes go to `set`, the rest to `lazy`; new ids in each.
  constexpr std::uint32_t kUnset = ~0u;
  std::vector<std::uint32_t> new_id(regexes.size(), kUnset);
  std::vector<std::string> set_regexes, lazy_regexes;
  for (std::uint32_t k : key) {
    if (new_id[k] != kUnset) continue;
    new_id[k] = static_cast<std::uint32_t>(set_regexes.size());
    set_regexes.push_back(regexes[k]);
  }
  for (std::uint32_t k = 0; k < regexes.size(); ++k) {
    if (new_id[k] != kUnset) continue;
    new_id[k] = static_cast<std::uint32_t>(lazy_regexes.size()) | kLazy;
    lazy_regexes.push_back(regexes[k]);
  }

  std::vector<std::vector<std::uint32_t>> by_regex(set_regexes.size());
  for (std::uint32_t r = 0; r < rule_terms.size(); ++r) {
    auto& ts = rule_terms[r];
    by_regex[new_id[key[r]]].push_back(r);
    std::erase(ts, key[r]);  // filing checks it (a repeated term too)
    for (std::uint32_t& t : ts) t = new_id[t & ~kNegated] | (t & kNegated);
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

  set.emplace(set_regexes, preferred);
  lazy.emplace(lazy_regexes, RegexEngine::pcre2);
}

PatternRuleIndex::PatternRuleIndex(std::vector<Entry> rules, std::optional<RegexEngine> preferred)
    : impl_(std::make_shared<const Impl>(rules, preferred)) {}

std::vector<std::uint32_t> PatternRuleIndex::match(std::string_view hostname) const {
  std::vector<std::uint32_t> out;
  match(hostname, out);
  return out;
}

void PatternRuleIndex::match(std::string_view hostname, std::vector<std::uint32_t>& out) const {
  out.clear();
  const Impl& im = *impl_;
  if (hostname.size() > kMaxHostnameLength || im.rule_count == 0) return;
  thread_local std::vector<std::uint32_t> hits;  // capacity kept across calls
  im.set->match(hostname, hits);
  LazyMemo memo;
  for (std::uint32_t id : hits)
    for (std::uint32_t k = im.filed_begin[id]; k < im.filed_begin[id + 1]; ++k)
      if (im.holds(im.filed[k], hits, hostname, memo)) out.push_back(im.filed[k]);
  if (out.size() > 1) {
    std::sort(out.begin(), out.end(),
              [&](std::uint32_t a, std::uint32_t b) { return im.rank[a] < im.rank[b]; });
  }
}

const PatternSet& PatternRuleIndex::patterns() const {
  return *impl_->set;
}
std::size_t PatternRuleIndex::size() const {
  return impl_->rule_count;
}

}  // namespace harden::policy
