// local_counters.cpp - the in-process counter backend (sharded, capped, LRU).
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "harden/db/counters.hpp"

namespace harden::db {
namespace {

// One client's counters. It lives in the map's own node (one allocation per
// client; node addresses never move), linked into its shard's LRU order and,
// while it holds an open connection, into its shard's busy list.
struct Entry {
  const policy::IpNetwork* key = nullptr;  // the node's key
  Entry* newer = nullptr;
  Entry* older = nullptr;
  Entry* busy_next = nullptr;
  Entry* busy_prev = nullptr;
  policy::SlidingWindow conn;
  policy::SlidingWindow rcpt;
  policy::SlidingWindow msg;
  policy::Concurrency open;
};

using KeyHash = policy::IpNetworkHash;
using Map = std::unordered_map<policy::IpNetwork, Entry, KeyHash>;

}  // namespace

struct LocalCounters::Shard {
  mutable std::mutex mu;
  Map map;
  Entry* newest = nullptr;  // the LRU order: newest ... oldest
  Entry* oldest = nullptr;
  // The entries holding an open connection (top_open scans only these): an
  // intrusive list, so that a flood of new clients costs no allocation and
  // no rehash here (an unordered_set of them was ~10 % of a flood's connect).
  Entry* busy = nullptr;
  std::uint64_t evictions = 0;

  // A new client's key is looked for in a table far larger than the caches:
  // with buckets at most half full, most lookups of a new key find an empty
  // bucket and touch no node (measured: a little faster under a flood).
  Shard() { map.max_load_factor(0.5f); }

  void link_front(Entry& e) {
    e.older = newest;
    e.newer = nullptr;
    (newest != nullptr ? newest->newer : oldest) = &e;
    newest = &e;
  }
  void unlink(Entry& e) {
    (e.newer != nullptr ? e.newer->older : newest) = e.older;
    (e.older != nullptr ? e.older->newer : oldest) = e.newer;
  }

  bool is_busy(const Entry& e) const { return e.busy_prev != nullptr || busy == &e; }
  void mark_busy(Entry& e) {
    if (is_busy(e)) return;
    e.busy_prev = nullptr;
    e.busy_next = busy;
    if (busy != nullptr) busy->busy_prev = &e;
    busy = &e;
  }
  void mark_idle(Entry& e) {
    if (!is_busy(e)) return;
    (e.busy_prev != nullptr ? e.busy_prev->busy_next : busy) = e.busy_next;
    if (e.busy_next != nullptr) e.busy_next->busy_prev = e.busy_prev;
    e.busy_next = e.busy_prev = nullptr;
  }

  Entry* find(const policy::IpNetwork& key) {
    auto it = map.find(key);
    if (it == map.end()) return nullptr;
    if (newest != &it->second) {
      unlink(it->second);
      link_front(it->second);
    }
    return &it->second;
  }

  // One hash and one walk of the bucket for a client seen or new.
  Entry& get(const policy::IpNetwork& key, std::size_t cap) {
    auto [it, fresh] = map.try_emplace(key);
    Entry& e = it->second;
    if (!fresh) {
      if (newest != &e) {
        unlink(e);
        link_front(e);
      }
      return e;
    }
    e.key = &it->first;
    link_front(e);
    if (map.size() > cap) evict_one();  // never `e`: it is the newest
    return e;
  }

  // Drops the least recently used entry, preferring one without open
  // connections among the oldest few.
  void evict_one() {
    Entry* victim = oldest;
    Entry* e = oldest;
    for (int i = 0; i < 8 && e != nullptr && e != newest; ++i, e = e->newer) {
      if (e->open.open() == 0) {
        victim = e;
        break;
      }
    }
    if (victim == nullptr || victim == newest) return;
    mark_idle(*victim);
    unlink(*victim);
    const policy::IpNetwork key = *victim->key;  // not a reference into the node erased
    map.erase(key);
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
  // growth and not only a count: its map node (next pointer, key, counters,
  // LRU links, and room for a cached hash code) is one allocation, which
  // glibc's malloc rounds up to 16 bytes after an 8-byte header; the bucket
  // array holds up to 4 pointers per entry (at most half full, and it
  // doubles as it grows).
  const auto chunk = [](std::size_t n) { return (n + 8 + 15) & ~std::size_t{15}; };
  const std::size_t node = chunk(sizeof(void*) + sizeof(Map::value_type) + sizeof(std::size_t));
  return node + 4 * sizeof(void*);
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
  if (r.slot_taken && r.open == 1) s.mark_busy(e);
  return r;
}

void LocalCounters::release(const policy::IpNetwork& key) {
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  Entry* e = s.find(key);
  if (e == nullptr) return;
  e->open.release();
  if (e->open.open() == 0) s.mark_idle(*e);
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
  const Entry& e = it->second;
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
      for (const Entry* e = s->busy; e != nullptr; e = e->busy_next)
        best.push_back({*e->key, e->open.open()});
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
