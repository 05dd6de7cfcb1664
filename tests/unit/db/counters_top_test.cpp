// counters_top_test.cpp - LocalCounters::top_open (hardenctl top): the keys
// with the most open connections, from the per-shard index of busy entries,
// which follows connect, release and eviction.
#include <gtest/gtest.h>

#include "harden/db/counters.hpp"

namespace harden::db {
namespace {

using policy::IpNetwork;

IpNetwork key(const char* text) {
  return IpNetwork::parse(text);
}

class TopOpen : public ::testing::Test {
 protected:
  void open(LocalCounters& c, const char* k, int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(c.connect(key(k), now_, limits_).slot_taken);
  }
  policy::SteadyTime now_{};
  policy::Limits limits_{};  // conn_limit 0: unlimited
};

TEST_F(TopOpen, MostOpenFirstTiesByKey) {
  LocalCounters c;
  open(c, "192.0.2.7/32", 3);
  open(c, "192.0.2.8/32", 1);
  open(c, "2001:db8::/64", 5);
  open(c, "192.0.2.9/32", 1);
  const auto top = c.top_open(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].key, key("2001:db8::/64"));
  EXPECT_EQ(top[0].open, 5u);
  EXPECT_EQ(top[1].key, key("192.0.2.7/32"));
  EXPECT_EQ(top[1].open, 3u);
  EXPECT_EQ(top[2].key, key("192.0.2.8/32"));  // 192.0.2.9 ties, and sorts after
  EXPECT_EQ(c.top_open(0).size(), 0u);
  EXPECT_EQ(c.top_open(100).size(), 4u);
}

TEST_F(TopOpen, ReleasedKeysLeaveTheIndexButStayCounted) {
  LocalCounters c;
  open(c, "192.0.2.7/32", 2);
  c.release(key("192.0.2.7/32"));
  ASSERT_EQ(c.top_open(5).size(), 1u);
  EXPECT_EQ(c.top_open(5)[0].open, 1u);
  c.release(key("192.0.2.7/32"));
  EXPECT_TRUE(c.top_open(5).empty());
  EXPECT_EQ(c.stats().entries, 1u);  // still in the table, with its rates
  open(c, "192.0.2.7/32", 1);
  EXPECT_EQ(c.top_open(5).size(), 1u);
}

TEST_F(TopOpen, EvictedEntriesLeaveTheIndex) {
  // One shard of two entries: a third key evicts the least recently used,
  // even when every entry holds a connection.
  LocalCounters c({.memory_cap_bytes = 2 * LocalCounters::entry_bytes(), .shards = 1});
  open(c, "192.0.2.1/32", 1);
  open(c, "192.0.2.2/32", 1);
  open(c, "192.0.2.3/32", 1);
  const auto top = c.top_open(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key, key("192.0.2.2/32"));
  EXPECT_EQ(top[1].key, key("192.0.2.3/32"));
  c.release(key("192.0.2.1/32"));  // unknown now: nothing happens
  EXPECT_EQ(c.top_open(10).size(), 2u);
}

TEST(TopOpenDefault, ABackendThatCannotTellKnowsNone) {
  struct Null final : CounterBackend {
    ConnectCount connect(const IpNetwork&, policy::SteadyTime, const policy::Limits&) override {
      return {};
    }
    void release(const IpNetwork&) override {}
    std::uint32_t add_rcpt(const IpNetwork&, policy::SteadyTime, const policy::Rate&,
                           std::uint32_t) override {
      return 0;
    }
    std::uint32_t add_msg(const IpNetwork&, policy::SteadyTime, const policy::Rate&) override {
      return 0;
    }
    std::optional<ClientState> inspect(const IpNetwork&, policy::SteadyTime,
                                       const policy::Limits&) const override {
      return std::nullopt;
    }
    bool flush(const IpNetwork&) override { return false; }
    CounterStats stats() const override { return {}; }
  } null;
  EXPECT_TRUE(null.top_open(10).empty());
}

}  // namespace
}  // namespace harden::db
