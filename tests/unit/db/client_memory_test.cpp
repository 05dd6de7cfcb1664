// client_memory_test.cpp - ClientMemory (the capped, sharded table) and
// StateStore (its SQLite file): changes reach the file in batches, records
// come back after a "restart", the cap holds, ended penalties are reported once.
#include "harden/db/client_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "harden/db/client_memory_json.hpp"
#include "harden/db/store.hpp"

namespace harden::db {
namespace {

using policy::IpNetwork;
using policy::WallMs;

constexpr WallMs kMinute = 60'000;
constexpr WallMs kStart = 1'800'000'000'000;

policy::PenaltySettings settings() {
  policy::PenaltySettings s;
  s.threshold = 3;
  s.window_ms = 10 * kMinute;
  s.base_ms = 10 * kMinute;
  s.max_ms = 360 * kMinute;
  s.memory_ms = 7 * 24 * 60 * kMinute;
  return s;
}

IpNetwork key(int i) {
  return IpNetwork::parse("10." + std::to_string((i >> 16) & 255) + "." +
                          std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255));
}

class TempPath {
 public:
  TempPath() {
    dir_ = std::filesystem::temp_directory_path() /
           ("mh-memory-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempPath() { std::filesystem::remove_all(dir_); }
  std::filesystem::path file(const char* name) const { return dir_ / name; }

 private:
  std::filesystem::path dir_;
};

TEST(ClientMemoryTest, LookupsNeverCreateRecords) {
  ClientMemory m;
  EXPECT_FALSE(m.has_pass(key(1), kStart));
  EXPECT_FALSE(m.penalty(key(1), kStart));
  m.drop_pass(key(1));
  EXPECT_EQ(m.stats(kStart).entries, 0u);
  EXPECT_TRUE(m.take_changes().empty());
}

TEST(ClientMemoryTest, ThirdOffenceStartsAPenaltyAndDropsThePass) {
  ClientMemory m;
  m.grant_pass(key(1), kStart, 3'600'000);
  EXPECT_TRUE(m.has_pass(key(1), kStart + 1));
  EXPECT_FALSE(m.offend(key(1), kStart, 1, settings(), "pregreet"));
  EXPECT_FALSE(m.offend(key(1), kStart + 1, 1, settings(), "pregreet"));
  const auto p = m.offend(key(1), kStart + 2, 1, settings(), "pregreet");
  ASSERT_TRUE(p);
  EXPECT_EQ(m.penalty(key(1), kStart + 3)->until, kStart + 2 + 10 * kMinute);
  EXPECT_FALSE(m.has_pass(key(1), kStart + 3));
  EXPECT_FALSE(m.penalty(key(2), kStart + 3));  // keys are apart
}

TEST(ClientMemoryTest, EndedPenaltiesAreReportedOnceAndForgottenRecordsDropped) {
  ClientMemory m;
  m.impose(key(1), kStart, kMinute, "manual: a");
  m.impose(key(2), kStart, 2 * kMinute, "manual: b");
  EXPECT_TRUE(m.sweep(kStart + kMinute - 1).empty());
  auto ended = m.sweep(kStart + kMinute);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].key, key(1));
  EXPECT_FALSE(ended[0].lifted);
  EXPECT_TRUE(m.sweep(kStart + kMinute + 1).empty());  // once
  EXPECT_TRUE(m.forget(key(2), kStart + kMinute));
  ended = m.sweep(kStart + kMinute + 2);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_TRUE(ended[0].lifted);
  EXPECT_FALSE(m.forget(key(2), kStart));
  // The manual penalty of key(1) is remembered for the doubling (its history)
  // as long as its record lives; with no memory setting it lives to its end.
  EXPECT_EQ(m.stats(kStart + 2 * kMinute).entries, 0u);
}

TEST(ClientMemoryTest, EntriesRankPenaltiesFirstAndCopyOnlyWhatIsAsked) {
  ClientMemory m;
  for (int i = 10; i < 20; ++i) m.offend(key(i), kStart, 1, settings(), "conn_rate");
  m.impose(key(1), kStart, 5 * kMinute, "manual: short");
  m.impose(key(2), kStart, 50 * kMinute, "manual: long");
  m.impose(key(3), kStart, 20 * kMinute, "manual: middle");
  std::size_t total = 0;
  const auto two = m.entries(kStart + 1, 2, &total);
  EXPECT_EQ(total, 13u);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].key, key(2));  // the latest end first
  EXPECT_EQ(two[1].key, key(3));
  const auto all = m.entries(kStart + 1);
  ASSERT_EQ(all.size(), 13u);
  EXPECT_EQ(all[2].key, key(1));
  EXPECT_EQ(all[3].key, key(10));  // then the others by key
  EXPECT_TRUE(m.entries(kStart + 1, 0, &total).empty());
  EXPECT_EQ(total, 13u);
}

TEST(ClientMemoryTest, TheCapHoldsUnderASprayAndSparesPenalties) {
  ClientMemory m({.max_entries = 1600});
  m.impose(key(0), kStart, 60 * kMinute, "manual: keep me");
  for (int i = 1; i < 100'000; ++i) m.offend(key(i), kStart, 1, settings(), "conn_rate");
  const auto st = m.stats(kStart);
  EXPECT_LE(st.entries, st.capacity);
  EXPECT_GE(st.evictions, 100'000u - st.capacity);
  EXPECT_TRUE(m.penalty(key(0), kStart + 1));
}

TEST(ClientMemoryTest, ConcurrentUseFromManyThreads) {
  ClientMemory m({.max_entries = 10'000});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 5000; ++i) {
        const IpNetwork k = key(i % 300);
        m.offend(k, kStart + i, 1, settings(), "pregreet");
        m.has_pass(k, kStart + i);
        m.grant_pass(k, kStart + i, 1000);
        m.penalty(k, kStart + i);
        if (i % 97 == t) m.take_changes();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(m.stats(kStart).entries, 300u);
}

TEST(StateStoreTest, BatchesReachTheFileAndComeBackAfterARestart) {
  TempPath tmp;
  const auto path = tmp.file("state.db");
  {
    ClientMemory m;
    auto st = StateStore::open(path);
    EXPECT_EQ(st.schema_version(), StateStore::kSchemaVersion);
    m.grant_pass(key(1), kStart, 3'600'000);
    for (int i = 0; i < 3; ++i) m.offend(key(2), kStart + i, 1, settings(), "pregreet");
    m.offend(key(3), kStart, 1, settings(), "conn_rate");
    st.save(m.take_changes());
    EXPECT_TRUE(m.take_changes().empty());  // taken once
    m.forget(key(3), kStart);
    st.save(m.take_changes());
  }
  ClientMemory again;
  auto st = StateStore::open(path);
  again.load(st.load(kStart + 1), kStart + 1);
  EXPECT_TRUE(again.has_pass(key(1), kStart + 1));
  const auto p = again.penalty(key(2), kStart + 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->n, 1u);
  EXPECT_EQ(p->reason, "pregreet");
  EXPECT_FALSE(again.find(key(3)));
  // Loaded records are not rewritten.
  EXPECT_TRUE(again.take_changes().empty());
  // Forgotten ones are not loaded at all.
  EXPECT_TRUE(st.load(kStart + 8 * 24 * 60 * kMinute).empty());
}

TEST(StateStoreTest, RefusesForeignFilesAndNewerSchemas) {
  TempPath tmp;
  EXPECT_THROW(StateStore::open(tmp.file("missing.db"), StateStore::Mode::read_only), DbError);
  std::ofstream(tmp.file("junk.db")) << "this is not sqlite at all, not even close............";
  EXPECT_THROW(StateStore::open(tmp.file("junk.db")), std::exception);
  {
    auto policy_store = Store::open(tmp.file("policy.db"));
    policy_store.init_defaults();
  }
  EXPECT_THROW(StateStore::open(tmp.file("policy.db")), DbError);
  EXPECT_THROW(StateStore::open(tmp.file("")), DbError);  // the directory itself
}

TEST(StateStoreTest, MalformedRowsAreSkippedNotFatal) {
  EXPECT_EQ(decode_times("1,2,x,3,,4"), (std::vector<WallMs>{1, 2, 3, 4}));
  const auto o = decode_offences("5:1,6:0,7:x,8,9:2,10:101");
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o[0].at, 5);
  EXPECT_EQ(o[1].weight, 2u);
  std::string many;
  for (int i = 0; i < 1000; ++i) many += std::to_string(i) + ",";
  EXPECT_EQ(decode_times(many).size(), policy::ClientRecord::kMaxHistory);
}

TEST(ClientRecordJson, ShowsWhatAnAdminNeeds) {
  policy::ClientRecord r;
  r.impose(kStart, 10 * kMinute, "manual: x");
  const auto j = client_record_json(key(7), r, kStart + kMinute);
  EXPECT_EQ(j["key"], "10.0.0.7");
  EXPECT_EQ(j["penalty"]["n"], 1);
  EXPECT_EQ(j["penalty"]["in_force"], true);
  EXPECT_EQ(j["penalty"]["remaining_s"], 540);
  EXPECT_TRUE(j["pass_until"].is_null());
  EXPECT_EQ(j["history"].size(), 1u);
}

}  // namespace
}  // namespace harden::db

namespace harden::db {
namespace {

// A shared store in memory, with the compare-and-set Redis gives, and knobs
// to make it fail or lose a race.
class FakeShared final : public SharedMemory {
 public:
  std::string memory_get(const policy::IpNetwork& key) override {
    if (down) throw std::runtime_error("down");
    ++gets;
    auto it = data.find(key.to_string());
    return it == data.end() ? std::string() : it->second;
  }
  bool memory_cas(const policy::IpNetwork& key, const std::string& expected,
                  const std::string& value, policy::WallMs) override {
    if (down) throw std::runtime_error("down");
    if (race > 0) {  // another host wrote between our read and our write
      --race;
      data[key.to_string()] = "1;0;0;;;;;;";
      return false;
    }
    auto& cur = data[key.to_string()];
    if (cur != expected) return false;
    if (value.empty()) {
      data.erase(key.to_string());
    } else {
      cur = value;
    }
    return true;
  }
  std::map<std::string, std::string> data;
  bool down = false;
  int race = 0;
  int gets = 0;
};

TEST(SharedClientMemory, RecordsRoundTripAsText) {
  policy::ClientRecord r;
  r.grant_pass(kStart, 1000);
  r.offend(kStart, 2, settings(), "pregreet");
  r.impose(kStart + 5, kMinute, "manual: a;b;c");
  const auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);
  EXPECT_EQ(*decode_record(encode_record(policy::ClientRecord{})), policy::ClientRecord{});
  for (const char* bad :
       {"", "2;0;0;;;;;;", "1;x;0;;;;;;", "1;0;0;5;;;;;", "1;0;0;1;2;0;;;r", "1;0;0"})
    EXPECT_FALSE(decode_record(bad)) << bad;
}

TEST(SharedClientMemory, OffencesOnTwoHostsAddUpAndThePenaltyIsSeenByBoth) {
  FakeShared redis;
  ClientMemory mx1({.shared = &redis});
  ClientMemory mx2({.shared = &redis});
  EXPECT_FALSE(mx1.offend(key(1), kStart, 1, settings(), "conn_rate"));
  EXPECT_FALSE(mx2.offend(key(1), kStart + 1, 1, settings(), "conn_rate"));
  const auto p = mx1.offend(key(1), kStart + 2, 1, settings(), "conn_rate");
  ASSERT_TRUE(p);                                 // the third offence, counted across both hosts
  EXPECT_FALSE(mx2.penalty(key(1), kStart + 3));  // mx2 has not read it yet
  mx2.refresh(key(1), redis.memory_get(key(1)), kStart + 3);  // its next connect
  EXPECT_EQ(mx2.penalty(key(1), kStart + 3)->until, p->until);
  // Forgotten on mx2: gone from the shared store, and from mx1 at its next read.
  EXPECT_TRUE(mx2.forget(key(1), kStart + 4));
  EXPECT_EQ(redis.memory_get(key(1)), "");
  mx1.refresh(key(1), redis.memory_get(key(1)), kStart + 5);
  EXPECT_FALSE(mx1.penalty(key(1), kStart + 5));
}

TEST(SharedClientMemory, ALostRaceIsRetriedNotLost) {
  FakeShared redis;
  ClientMemory mx1({.shared = &redis});
  redis.race = 2;
  mx1.grant_pass(key(2), kStart, 60'000);
  EXPECT_TRUE(mx1.has_pass(key(2), kStart + 1));
  EXPECT_TRUE(decode_record(redis.data.at(key(2).to_string()))->has_pass(kStart + 1));
}

TEST(SharedClientMemory, WhileTheSharedStoreIsDownChangesStayLocal) {
  FakeShared redis;
  ClientMemory mx1({.shared = &redis});
  redis.down = true;
  mx1.impose(key(3), kStart, kMinute, "manual: x");
  EXPECT_TRUE(mx1.penalty(key(3), kStart + 1));
  EXPECT_GE(mx1.shared_errors(), 1u);
  EXPECT_TRUE(redis.data.empty());
}

}  // namespace
}  // namespace harden::db
