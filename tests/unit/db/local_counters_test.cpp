// local_counters_test.cpp - LocalCounters' table: bounded by its capacity,
// least recently used entries evicted first, one holding an open connection
// kept over an older free one; checked against a plain model of that rule
// under random calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <random>
#include <string>
#include <vector>

#include "harden/db/counters.hpp"

namespace harden::db {
namespace {

using policy::IpNetwork;

IpNetwork key(int i) {
  return IpNetwork::parse("192.0.2." + std::to_string(i) + "/32");
}

LocalCounters one_shard_of(std::size_t entries) {
  return LocalCounters({.memory_cap_bytes = entries * LocalCounters::entry_bytes(), .shards = 1});
}

class LocalCountersTable : public ::testing::Test {
 protected:
  bool present(const LocalCounters& c, int i) const {
    return c.inspect(key(i), now_, limits_).has_value();
  }
  policy::SteadyTime now_{};
  policy::Limits limits_{};  // conn_limit 0: unlimited
  policy::Rate rate_{100, std::chrono::seconds{60}};
};

TEST_F(LocalCountersTable, TheLeastRecentlyUsedEntryGoesFirst) {
  LocalCounters c = one_shard_of(3);
  for (int i : {1, 2, 3}) c.add_msg(key(i), now_, rate_);
  c.add_rcpt(key(1), now_, rate_);  // 1 is now the most recently used
  c.add_msg(key(4), now_, rate_);   // evicts 2
  EXPECT_TRUE(present(c, 1));
  EXPECT_FALSE(present(c, 2));
  EXPECT_TRUE(present(c, 3));
  EXPECT_TRUE(present(c, 4));
  EXPECT_EQ(c.stats().entries, 3u);
  EXPECT_EQ(c.stats().evictions, 1u);
  // The survivors kept their counts.
  EXPECT_EQ(c.inspect(key(1), now_, limits_)->rcpt_count, 1u);
  EXPECT_EQ(c.inspect(key(1), now_, limits_)->msg_count, 1u);
}

TEST_F(LocalCountersTable, AFreeEntryGoesBeforeOlderOnesHoldingConnections) {
  LocalCounters c = one_shard_of(3);
  ASSERT_TRUE(c.connect(key(1), now_, limits_).slot_taken);
  ASSERT_TRUE(c.connect(key(2), now_, limits_).slot_taken);
  c.add_msg(key(3), now_, rate_);
  c.add_msg(key(4), now_, rate_);  // 1 and 2 are older, but open
  EXPECT_TRUE(present(c, 1));
  EXPECT_TRUE(present(c, 2));
  EXPECT_FALSE(present(c, 3));
  EXPECT_EQ(c.inspect(key(1), now_, limits_)->open, 1u);
}

TEST_F(LocalCountersTable, NeverHoldsMoreThanItsCapacity) {
  LocalCounters c = one_shard_of(100);
  for (int i = 0; i < 1000; ++i)
    c.connect(IpNetwork::parse("2001:db8:" + std::to_string(i) + "::/64"), now_, limits_);
  const CounterStats st = c.stats();
  EXPECT_EQ(st.capacity, 100u);
  EXPECT_EQ(st.entries, 100u);
  EXPECT_EQ(st.evictions, 900u);
  EXPECT_LE(st.memory_bytes, 100u * LocalCounters::entry_bytes());
}

// The rule written plainly: newest first; evict the oldest entry without an
// open connection among the 8 oldest, else the oldest.
struct Model {
  struct Item {
    int key;
    unsigned open = 0;
  };
  std::size_t cap;
  std::list<Item> lru;  // front: most recently used

  Item* find(int k) {
    const auto it = std::find_if(lru.begin(), lru.end(), [k](const Item& i) { return i.key == k; });
    if (it == lru.end()) return nullptr;
    lru.splice(lru.begin(), lru, it);
    return &lru.front();
  }
  Item& get(int k) {
    if (Item* i = find(k)) return *i;
    lru.push_front(Item{k});
    if (lru.size() > cap) {
      auto victim = std::prev(lru.end());
      auto it = victim;
      for (int n = 0; n < 8 && it != lru.begin(); ++n, --it)
        if (it->open == 0) {
          victim = it;
          break;
        }
      lru.erase(victim);
    }
    return lru.front();
  }
};

TEST_F(LocalCountersTable, FollowsThePlainRuleUnderRandomCalls) {
  constexpr std::size_t kCap = 12;
  LocalCounters c = one_shard_of(kCap);
  Model m{kCap, {}};
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<int> pick_key(1, 40);
  std::uniform_int_distribution<int> pick_call(0, 3);
  for (int step = 0; step < 20000; ++step) {
    const int k = pick_key(rng);
    switch (pick_call(rng)) {
      case 0:
        ASSERT_TRUE(c.connect(key(k), now_, limits_).slot_taken);
        ++m.get(k).open;
        break;
      case 1:
        c.release(key(k));
        if (Model::Item* i = m.find(k); i != nullptr && i->open > 0) --i->open;
        break;
      case 2:
        c.add_rcpt(key(k), now_, rate_);
        m.get(k);
        break;
      default:
        c.add_msg(key(k), now_, rate_);
        m.get(k);
        break;
    }
    ASSERT_EQ(c.stats().entries, m.lru.size()) << "step " << step;
    for (const Model::Item& i : m.lru) {
      const auto s = c.inspect(key(i.key), now_, limits_);
      ASSERT_TRUE(s.has_value()) << "step " << step << ": key " << i.key << " was evicted";
      ASSERT_EQ(s->open, i.open) << "step " << step << ": key " << i.key;
    }
    // The busy index (top_open) holds exactly the keys with open connections.
    std::vector<OpenCount> want;
    for (const Model::Item& i : m.lru)
      if (i.open > 0) want.push_back({key(i.key), i.open});
    want = most_open(std::move(want), kCap);
    const auto got = c.top_open(kCap);
    ASSERT_EQ(got.size(), want.size()) << "step " << step;
    for (std::size_t j = 0; j < got.size(); ++j) {
      ASSERT_EQ(got[j].key, want[j].key) << "step " << step;
      ASSERT_EQ(got[j].open, want[j].open) << "step " << step;
    }
  }
}

}  // namespace
}  // namespace harden::db
