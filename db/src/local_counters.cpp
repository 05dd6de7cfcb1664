// local_counters.cpp - the in-process counter backend (sharded, capped, LRU).
#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "harden/db/counters.hpp"

namespace harden::db {
namespace {

struct Entry {
  policy::IpNetwork key;
  policy::SlidingWindow conn;
  policy::SlidingWindow rcpt;
  policy::SlidingWindow msg;
  policy::Concurrency open;
};

using KeyHash = policy::IpNetworkHash;

}  // namespace

struct LocalCounters::Shard {
  using Lru = std::list<Entry>;  // front = most recently used
  mutable std::mutex mu;
  Lru lru;
  std::unordered_map<policy::IpNetwork, Lru::iterator, KeyHash> map;
  // The entries holding an open connection (top_open scans only these).
  // List nodes do not move, so pointers stay valid until the entry is evicted.
  std::unordered_set<const Entry*> busy;
  std::uint64_t evictions = 0;

  Entry* find(const policy::IpNetwork& key) {
    auto it = map.find(key);
    if (it == map.end()) return nullptr;
    lru.splice(lru.begin(), lru, it->second);
    return &*it->second;
  }

  Entry& get(const policy::IpNetwork& key, std::size_t cap) {
    if (Entry* e = find(key)) return *e;
    if (map.size() >= cap && !lru.empty()) evict_one();
    lru.push_front(Entry{key, {}, {}, {}, {}});
    map.emplace(key, lru.begin());
    return lru.front();
  }

  // Drops the least recently used entry, preferring one without open
  // connections among the oldest few.
  void evict_one() {
    auto victim = std::prev(lru.end());
    auto it = victim;
    for (int i = 0; i < 8; ++i) {
      if (it->open.open() == 0) {
        victim = it;
        break;
      }
      if (it == lru.begin()) break;
      --it;
    }
    busy.erase(&*victim);
    map.erase(victim->key);
    lru.erase(victim);
    ++evictions;
  }
};

LocalCounters::LocalCounters(LocalCountersOptions options) {
  const std::size_t n = options.shards == 0 ? 1 : options.shards;
  const std::size_t total = options.memory_cap_bytes / entry_bytes();
  per_shard_cap_ = total / n > 0 ? total / n : 1;
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

LocalCounters::~LocalCounters() = default;

std::size_t LocalCounters::entry_bytes() {
  // What an entry really costs the heap, so that the cap bounds the process's
  // growth and not only a count: each node is its own allocation, which
  // glibc's malloc rounds up to 16 bytes after an 8-byte header; the bucket
  // array holds up to 2 pointers per entry (the table doubles as it grows).
  const auto chunk = [](std::size_t n) { return (n + 8 + 15) & ~std::size_t{15}; };
  const std::size_t list_node = chunk(2 * sizeof(void*) + sizeof(Entry));
  const std::size_t hash_node =  // next, key, iterator, cached hash
      chunk(sizeof(void*) + sizeof(policy::IpNetwork) + sizeof(void*) + sizeof(std::size_t));
  return list_node + hash_node + 2 * sizeof(void*);
}

LocalCounters::Shard& LocalCounters::shard_for(const policy::IpNetwork& key) const {
  return *shards_[KeyHash{}(key) % shards_.size()];
}

ConnectCount LocalCounters::connect(const policy::IpNetwork& key, policy::SteadyTime now,
                                    const policy::Limits& limits) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  Entry& e = s.get(key, per_shard_cap_);
  ConnectCount r;
  r.conn_count = e.conn.add(now, limits.conn_rate.window);
  r.slot_taken = e.open.try_acquire(limits.conn_limit);
  r.open = e.open.open();
  if (r.slot_taken && r.open == 1) s.busy.insert(&e);
  return r;
}

void LocalCounters::release(const policy::IpNetwork& key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  Entry* e = s.find(key);
  if (e == nullptr) return;
  e->open.release();
  if (e->open.open() == 0) s.busy.erase(e);
}

std::uint32_t LocalCounters::add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                                      const policy::Rate& rate, std::uint32_t n) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  return s.get(key, per_shard_cap_).rcpt.add(now, rate.window, n);
}

std::uint32_t LocalCounters::add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                                     const policy::Rate& rate) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  return s.get(key, per_shard_cap_).msg.add(now, rate.window);
}

std::optional<ClientState> LocalCounters::inspect(const policy::IpNetwork& key,
                                                  policy::SteadyTime now,
                                                  const policy::Limits& limits) const {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return std::nullopt;
  const Entry& e = *it->second;
  return ClientState{e.conn.count(now, limits.conn_rate.window), e.open.open(),
                     e.rcpt.count(now, limits.rcpt_rate.window),
                     e.msg.count(now, limits.msg_rate.window)};
}

bool LocalCounters::flush(const policy::IpNetwork& key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  Entry* e = s.find(key);
  if (e == nullptr) return false;
  e->conn = {};
  e->rcpt = {};
  e->msg = {};
  return true;
}

CounterStats LocalCounters::stats() const {
  CounterStats st;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    st.entries += s->map.size();
    st.evictions += s->evictions;
  }
  st.capacity = per_shard_cap_ * shards_.size();
  st.memory_bytes = st.entries * entry_bytes();
  return st;
}

std::vector<OpenCount> LocalCounters::top_open(std::size_t n) const {
  std::vector<OpenCount> best;
  if (n == 0) return best;
  for (const auto& s : shards_) {
    {
      std::lock_guard lock(s->mu);
      for (const Entry* e : s->busy) best.push_back({e->key, e->open.open()});
    }
    if (best.size() > 4 * n) best = most_open(std::move(best), n);
  }
  return most_open(std::move(best), n);
}

std::vector<OpenCount> most_open(std::vector<OpenCount> all, std::size_t n) {
  const auto more = [](const OpenCount& a, const OpenCount& b) {
    return a.open != b.open ? a.open > b.open : a.key < b.key;
  };
  const std::size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(), more);
  all.resize(keep);
  return all;
}

}  // namespace harden::db
