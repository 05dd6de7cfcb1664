// client_memory.cpp - the sharded, capped table of client records.
#include "harden/db/client_memory.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace harden::db {
namespace {

using policy::ClientRecord;
using policy::IpNetwork;
using policy::IpNetworkHash;
using policy::WallMs;

struct Node {
  IpNetwork key;
  ClientRecord rec;
  bool end_pending = false;  // a penalty started whose end is not yet logged
};

// How far from the LRU end eviction looks for a record without a penalty in force.
constexpr int kEvictionScan = 8;
// Compare-and-set rounds against the shared store before keeping a change local.
constexpr int kCasAttempts = 4;

}  // namespace

struct ClientMemory::Shard {
  using Lru = std::list<Node>;  // front = most recently used
  mutable std::mutex mu;
  Lru lru;
  std::unordered_map<IpNetwork, Lru::iterator, IpNetworkHash> map;
  std::unordered_set<IpNetwork, IpNetworkHash> dirty;
  std::unordered_set<IpNetwork, IpNetworkHash> deleted;
  std::vector<PenaltyEnd> ended;  // penalties ended by forget(), reported by sweep()
  std::uint64_t evictions = 0;

  Node* find(const IpNetwork& key) {
    auto it = map.find(key);
    if (it == map.end()) return nullptr;
    lru.splice(lru.begin(), lru, it->second);
    return &*it->second;
  }

  void changed(const IpNetwork& key) {
    dirty.insert(key);
    deleted.erase(key);
  }

  void erase(Lru::iterator it) {
    deleted.insert(it->key);
    dirty.erase(it->key);
    map.erase(it->key);
    lru.erase(it);
  }

  Node& get(const IpNetwork& key, WallMs now, std::size_t cap) {
    if (Node* n = find(key)) return *n;
    if (cap > 0 && map.size() >= cap) {
      auto victim = std::prev(lru.end());
      auto it = victim;
      for (int i = 0; i < kEvictionScan; ++i) {
        if (!it->rec.penalty_at(now)) {
          victim = it;
          break;
        }
        if (it == lru.begin()) break;
        --it;
      }
      erase(victim);
      ++evictions;
    }
    lru.push_front(Node{key, {}, false});
    map.emplace(key, lru.begin());
    return lru.front();
  }
};

ClientMemory::ClientMemory(ClientMemoryOptions options) : shared_(options.shared) {
  shards_.reserve(kShards);
  for (std::size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
  per_shard_ = std::max<std::size_t>(1, (options.max_entries + kShards - 1) / kShards);
}

ClientMemory::~ClientMemory() = default;

ClientMemory::Shard& ClientMemory::shard_of(const IpNetwork& key) const {
  return *shards_[IpNetworkHash{}(key) % shards_.size()];
}

bool ClientMemory::has_pass(const IpNetwork& key, WallMs now) {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  const Node* n = s.find(key);
  return n && n->rec.has_pass(now);
}

void ClientMemory::grant_pass(const IpNetwork& key, WallMs now, std::uint32_t ttl_ms) {
  if (ttl_ms == 0) return;
  apply(key, now, true, [&](ClientRecord& r) {
    r.grant_pass(now, ttl_ms);
    return true;
  });
}

void ClientMemory::drop_pass(const IpNetwork& key) {
  {
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    const Node* n = s.find(key);
    // Known here without a pass: nothing to drop (the shared copy was read at connect).
    if (!n || n->rec.pass_until == 0) return;
  }
  apply(key, 0, false, [](ClientRecord& r) {
    const bool had = r.pass_until != 0;
    r.drop_pass();
    return had;
  });
}

std::optional<policy::Penalty> ClientMemory::penalty(const IpNetwork& key, WallMs now) {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  const Node* n = s.find(key);
  if (!n) return std::nullopt;
  const policy::Penalty* p = n->rec.penalty_at(now);
  return p ? std::optional(*p) : std::nullopt;
}

void ClientMemory::mark_end_pending(const IpNetwork& key) {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  if (Node* n = s.find(key)) n->end_pending = true;
}

std::optional<policy::Penalty> ClientMemory::offend(const IpNetwork& key, WallMs now,
                                                    std::uint32_t weight,
                                                    const policy::PenaltySettings& settings,
                                                    std::string_view why) {
  if (weight == 0 || settings.threshold == 0) return std::nullopt;
  auto started = apply(key, now, true, [&](ClientRecord& r) {
    auto p = r.offend(now, weight, settings, why);
    if (p) r.drop_pass();
    return p;
  });
  if (started) mark_end_pending(key);
  return started;
}

std::optional<ClientRecord> ClientMemory::find(const IpNetwork& key) const {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return std::nullopt;
  return it->second->rec;
}

std::vector<ClientEntry> ClientMemory::entries(WallMs now, std::size_t limit,
                                               std::size_t* total) const {
  struct Rank {
    IpNetwork key;
    WallMs until = 0;  // the penalty in force's end; 0: none
  };
  std::vector<Rank> ranks;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    for (const Node& n : sh->lru) {
      if (n.rec.forgotten(now)) continue;
      const policy::Penalty* p = n.rec.penalty_at(now);
      ranks.push_back({n.key, p ? p->until : 0});
    }
  }
  if (total) *total = ranks.size();
  // Penalties in force first (latest end first), then the others by key.
  const auto before = [](const Rank& a, const Rank& b) {
    if ((a.until != 0) != (b.until != 0)) return a.until != 0;
    if (a.until != b.until) return a.until > b.until;
    return a.key < b.key;
  };
  const std::size_t keep = std::min(limit, ranks.size());
  std::partial_sort(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(keep), ranks.end(),
                    before);
  std::vector<ClientEntry> out;
  out.reserve(keep);
  for (std::size_t i = 0; i < keep; ++i) {
    if (auto rec = find(ranks[i].key)) out.push_back({ranks[i].key, std::move(*rec)});
  }
  return out;
}

policy::Penalty ClientMemory::impose(const IpNetwork& key, WallMs now, std::int64_t length_ms,
                                     std::string reason) {
  const policy::Penalty p = apply(key, now, true, [&](ClientRecord& r) {
    const policy::Penalty imposed = r.impose(now, length_ms, reason);
    r.drop_pass();
    return imposed;
  });
  mark_end_pending(key);
  return p;
}

bool ClientMemory::forget(const IpNetwork& key, WallMs now) {
  bool known_shared = false;
  if (shared_) {
    try {
      for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        const std::string before = shared_->memory_get(key);
        if (before.empty()) break;
        if (shared_->memory_cas(key, before, "", 0)) {
          known_shared = true;
          break;
        }
      }
    } catch (const std::exception&) {
      shared_errors_.fetch_add(1);
    }
  }
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return known_shared;
  if (const policy::Penalty* p = it->second->rec.penalty_at(now)) {
    s.ended.push_back({key, *p, true});
  }
  s.erase(it->second);
  return true;
}

void ClientMemory::refresh(const IpNetwork& key, const std::string& text, WallMs now) {
  const auto rec = decode_record(text);
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  if (!rec || rec->forgotten(now)) {
    auto it = s.map.find(key);
    if (it != s.map.end()) s.erase(it->second);
    return;
  }
  Node& n = s.get(key, now, per_shard_);
  if (n.rec == *rec) return;
  n.rec = *rec;
  s.changed(key);
}

template <typename Change>
auto ClientMemory::apply(const IpNetwork& key, WallMs now, bool create, Change&& change)
    -> decltype(change(std::declval<ClientRecord&>())) {
  if (shared_) {
    try {
      for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        const std::string before = shared_->memory_get(key);
        std::optional<ClientRecord> rec = decode_record(before);
        if (!rec && !create) {
          // Nobody remembers it: only this host's stale copy may.
          Shard& s = shard_of(key);
          std::lock_guard lock(s.mu);
          auto it = s.map.find(key);
          if (it != s.map.end()) s.erase(it->second);
          ClientRecord scratch;
          return change(scratch);
        }
        ClientRecord r = rec.value_or(ClientRecord{});
        auto result = change(r);
        const bool gone = r.forgotten(now);
        if (!shared_->memory_cas(key, before, gone ? std::string() : encode_record(r), r.forget_at))
          continue;  // another host changed it meanwhile: read again
        Shard& s = shard_of(key);
        std::lock_guard lock(s.mu);
        if (gone) {
          auto it = s.map.find(key);
          if (it != s.map.end()) s.erase(it->second);
        } else {
          s.get(key, now, per_shard_).rec = std::move(r);
          s.changed(key);
        }
        return result;
      }
    } catch (const std::exception&) {
      shared_errors_.fetch_add(1);
    }
  }
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mu);
  Node* n = create ? &s.get(key, now, per_shard_) : s.find(key);
  if (!n) {
    ClientRecord scratch;
    return change(scratch);
  }
  auto result = change(n->rec);
  s.changed(key);
  return result;
}

std::string encode_record(const ClientRecord& r) {
  std::string out = "1;" + std::to_string(r.pass_until) + ";" + std::to_string(r.forget_at) + ";";
  if (r.penalty) {
    out += std::to_string(r.penalty->start) + ";" + std::to_string(r.penalty->until) + ";" +
           std::to_string(r.penalty->n) + ";";
  } else {
    out += ";;;";
  }
  out += encode_times(r.history) + ";" + encode_offences(r.offences) + ";";
  if (r.penalty) out += r.penalty->reason;
  return out;
}

std::optional<ClientRecord> decode_record(std::string_view text) {
  // Nine fields; the last (the reason) may hold ';'.
  std::array<std::string_view, 9> f{};
  std::size_t pos = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::size_t semi = text.find(';', pos);
    if (semi == std::string_view::npos) return std::nullopt;
    f[i] = text.substr(pos, semi - pos);
    pos = semi + 1;
  }
  f[8] = text.substr(pos);
  if (f[0] != "1" || f[8].size() > 300) return std::nullopt;
  const auto num = [](std::string_view v) -> std::optional<std::int64_t> {
    std::int64_t n = 0;
    const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || r.ec != std::errc{} || r.ptr != v.data() + v.size()) return std::nullopt;
    return n;
  };
  ClientRecord r;
  const auto pass = num(f[1]);
  const auto forget = num(f[2]);
  if (!pass || !forget) return std::nullopt;
  r.pass_until = *pass;
  r.forget_at = *forget;
  if (!f[3].empty()) {
    const auto start = num(f[3]);
    const auto until = num(f[4]);
    const auto n = num(f[5]);
    if (!start || !until || !n || *n < 1 || *n > (1 << 20)) return std::nullopt;
    r.penalty = policy::Penalty{*start, *until, static_cast<std::uint32_t>(*n), std::string(f[8])};
  }
  r.history = decode_times(f[6]);
  r.offences = decode_offences(f[7]);
  return r;
}

ClientMemory::Changes ClientMemory::take_changes() {
  Changes c;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    for (const auto& key : sh->dirty) {
      auto it = sh->map.find(key);
      if (it != sh->map.end()) c.upserts.push_back({key, it->second->rec});
    }
    c.deletes.insert(c.deletes.end(), sh->deleted.begin(), sh->deleted.end());
    sh->dirty.clear();
    sh->deleted.clear();
  }
  return c;
}

void ClientMemory::requeue(const Changes& changes) {
  for (const auto& e : changes.upserts) {
    Shard& s = shard_of(e.key);
    std::lock_guard lock(s.mu);
    if (s.map.count(e.key) != 0 && s.deleted.count(e.key) == 0) s.dirty.insert(e.key);
  }
  for (const auto& key : changes.deletes) {
    Shard& s = shard_of(key);
    std::lock_guard lock(s.mu);
    if (s.map.count(key) == 0) s.deleted.insert(key);
  }
}

void ClientMemory::load(std::vector<ClientEntry> entries, WallMs now) {
  for (auto& e : entries) {
    if (e.record.forgotten(now)) continue;
    Shard& s = shard_of(e.key);
    std::lock_guard lock(s.mu);
    Node& n = s.get(e.key, now, per_shard_);
    n.rec = std::move(e.record);
    n.end_pending = n.rec.penalty_at(now) != nullptr;
  }
}

std::vector<PenaltyEnd> ClientMemory::sweep(WallMs now) {
  std::vector<PenaltyEnd> out;
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    out.insert(out.end(), sh->ended.begin(), sh->ended.end());
    sh->ended.clear();
    for (auto it = sh->lru.begin(); it != sh->lru.end();) {
      Node& n = *it;
      if (n.end_pending && n.rec.penalty && n.rec.penalty->until <= now) {
        out.push_back({n.key, *n.rec.penalty, false});
        n.end_pending = false;
      }
      if (n.rec.forgotten(now)) {
        auto dead = it++;
        sh->erase(dead);
      } else {
        ++it;
      }
    }
  }
  return out;
}

ClientMemoryStats ClientMemory::stats(WallMs now) const {
  ClientMemoryStats st;
  st.capacity = per_shard_ * shards_.size();
  for (const auto& sh : shards_) {
    std::lock_guard lock(sh->mu);
    st.entries += sh->map.size();
    st.evictions += sh->evictions;
    for (const Node& n : sh->lru) {
      if (n.rec.has_pass(now)) ++st.passes;
      if (n.rec.penalty_at(now)) ++st.penalties;
    }
  }
  return st;
}

}  // namespace harden::db
