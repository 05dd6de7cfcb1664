// refusal_tally.cpp - see refusal_tally.hpp.
#include "harden/milter/refusal_tally.hpp"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace harden::milter {

struct RefusalTally::Shard {
  mutable std::mutex mu;
  std::vector<RefusalCount> slots;  // at most kSlotsPerShard
  std::unordered_map<policy::IpNetwork, std::size_t, policy::IpNetworkHash> index;
  std::uint64_t total = 0;

  void count(const policy::IpNetwork& key, policy::DecisionKind kind) {
    ++total;
    if (const auto it = index.find(key); it != index.end()) {
      RefusalCount& c = slots[it->second];
      ++c.refusals;
      c.last = kind;
      return;
    }
    if (slots.size() < kSlotsPerShard) {
      index.emplace(key, slots.size());
      slots.push_back({key, 1, 0, kind});
      return;
    }
    const auto min = std::min_element(
        slots.begin(), slots.end(),
        [](const RefusalCount& a, const RefusalCount& b) { return a.refusals < b.refusals; });
    index.erase(min->key);
    index.emplace(key, static_cast<std::size_t>(min - slots.begin()));
    *min = RefusalCount{key, min->refusals + 1, min->refusals, kind};
  }
};

RefusalTally::RefusalTally() {
  for (auto& s : shards_) s = std::make_unique<Shard>();
}

RefusalTally::~RefusalTally() = default;

void RefusalTally::count(const policy::IpNetwork& key, policy::DecisionKind kind) {
  Shard& s = *shards_[policy::IpNetworkHash{}(key) % kShards];
  std::lock_guard lock(s.mu);
  s.count(key, kind);
}

std::vector<RefusalCount> RefusalTally::top(std::size_t n) const {
  std::vector<RefusalCount> all;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    all.insert(all.end(), s->slots.begin(), s->slots.end());
  }
  const std::size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                    [](const RefusalCount& a, const RefusalCount& b) {
                      return a.refusals != b.refusals ? a.refusals > b.refusals : a.key < b.key;
                    });
  all.resize(keep);
  return all;
}

std::uint64_t RefusalTally::total() const {
  std::uint64_t t = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    t += s->total;
  }
  return t;
}

}  // namespace harden::milter
