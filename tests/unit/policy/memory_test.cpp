// memory_test.cpp - the pass and penalty arithmetic of policy/memory.hpp on
// a simulated clock: escalation, decay, caps, the pass lifecycle, weights.
#include "harden/policy/memory.hpp"

#include <gtest/gtest.h>

#include "harden/policy/error.hpp"
#include "harden/policy/rule.hpp"

namespace harden::policy {
namespace {

constexpr WallMs kSecond = 1000;
constexpr WallMs kMinute = 60 * kSecond;
constexpr WallMs kHour = 60 * kMinute;
constexpr WallMs kDay = 24 * kHour;
constexpr WallMs kStart = 1'800'000'000'000;

PenaltySettings defaults() {
  PenaltySettings s;
  s.threshold = 3;
  s.window_ms = 10 * kMinute;
  s.base_ms = 10 * kMinute;
  s.max_ms = 6 * kHour;
  s.memory_ms = 7 * kDay;
  return s;
}

// Offends `weight` until a penalty starts; returns it (fails the test if none does).
Penalty offend_until_penalty(ClientRecord& r, WallMs& now, const PenaltySettings& s) {
  for (int i = 0; i < 100; ++i) {
    if (auto p = r.offend(now, 1, s, "pregreet")) return *p;
    now += kSecond;
  }
  ADD_FAILURE() << "no penalty after 100 offences";
  return {};
}

TEST(PenaltyLength, DoublesFromBaseAndStopsAtTheCap) {
  const PenaltySettings s = defaults();
  EXPECT_EQ(penalty_length_ms(s, 1), 10 * kMinute);
  EXPECT_EQ(penalty_length_ms(s, 2), 20 * kMinute);
  EXPECT_EQ(penalty_length_ms(s, 3), 40 * kMinute);
  EXPECT_EQ(penalty_length_ms(s, 6), 320 * kMinute);
  EXPECT_EQ(penalty_length_ms(s, 7), 6 * kHour);  // 640 min capped
  EXPECT_EQ(penalty_length_ms(s, 1000), 6 * kHour);
  PenaltySettings uncapped = s;
  uncapped.max_ms = 0;
  EXPECT_EQ(penalty_length_ms(uncapped, 1000), (10 * kMinute) << 20);  // no overflow
}

TEST(ClientRecordTest, TheThirdOffenceInTheWindowStartsAPenalty) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  EXPECT_FALSE(r.offend(kStart, 1, s, "pregreet"));
  EXPECT_FALSE(r.offend(kStart + kMinute, 1, s, "pregreet"));
  const auto p = r.offend(kStart + 2 * kMinute, 1, s, "pregreet");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->n, 1u);
  EXPECT_EQ(p->start, kStart + 2 * kMinute);
  EXPECT_EQ(p->until, kStart + 12 * kMinute);
  EXPECT_EQ(p->reason, "pregreet");
  EXPECT_NE(r.penalty_at(kStart + 12 * kMinute - 1), nullptr);
  EXPECT_EQ(r.penalty_at(kStart + 12 * kMinute), nullptr);  // over on time
  EXPECT_TRUE(r.offences.empty());                          // the slate is clean
}

TEST(ClientRecordTest, OffencesOutsideTheWindowDoNotCount) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  EXPECT_FALSE(r.offend(kStart, 1, s, "conn_rate"));
  EXPECT_FALSE(r.offend(kStart + 5 * kMinute, 1, s, "conn_rate"));
  // The first is exactly one window old: gone.
  EXPECT_FALSE(r.offend(kStart + 10 * kMinute, 1, s, "conn_rate"));
  EXPECT_EQ(r.score(kStart + 10 * kMinute, s.window_ms), 2u);
  EXPECT_TRUE(r.offend(kStart + 11 * kMinute, 1, s, "conn_rate"));
}

TEST(ClientRecordTest, WeightsAddUp) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  EXPECT_FALSE(r.offend(kStart, 2, s, "pregreet"));
  EXPECT_TRUE(r.offend(kStart + 1, 1, s, "conn_rate"));
  ClientRecord heavy;
  EXPECT_TRUE(heavy.offend(kStart, 3, s, "blocked"));
  ClientRecord none;
  EXPECT_FALSE(none.offend(kStart, 0, s, "conn_limit"));
  EXPECT_TRUE(none.offences.empty());  // weight 0 is not recorded
}

TEST(ClientRecordTest, EachPenaltyWithinTheMemoryDoublesTheNext) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  WallMs now = kStart;
  std::vector<WallMs> lengths;
  for (int round = 0; round < 8; ++round) {
    const Penalty p = offend_until_penalty(r, now, s);
    EXPECT_EQ(p.n, static_cast<std::uint32_t>(round + 1));
    lengths.push_back(p.until - p.start);
    now = p.until;  // it ends; the client comes back and offends again
  }
  EXPECT_EQ(lengths[0], 10 * kMinute);
  EXPECT_EQ(lengths[1], 20 * kMinute);
  EXPECT_EQ(lengths[2], 40 * kMinute);
  EXPECT_EQ(lengths[6], 6 * kHour);
  EXPECT_EQ(lengths[7], 6 * kHour);
}

TEST(ClientRecordTest, PenaltiesOlderThanTheMemoryAreForgiven) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  WallMs now = kStart;
  EXPECT_EQ(offend_until_penalty(r, now, s).n, 1u);
  now += 3 * kDay;
  EXPECT_EQ(offend_until_penalty(r, now, s).n, 2u);
  now += 5 * kDay;  // the first is 8 days old now, the second 5
  const Penalty p = offend_until_penalty(r, now, s);
  EXPECT_EQ(p.n, 2u);
  EXPECT_EQ(p.until - p.start, 20 * kMinute);
  now += 8 * kDay;
  EXPECT_EQ(offend_until_penalty(r, now, s).n, 1u);
}

TEST(ClientRecordTest, APenaltyInForceStartsNoOther) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  WallMs now = kStart;
  const Penalty first = offend_until_penalty(r, now, s);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(r.offend(now + i, 1, s, "pregreet"));
  EXPECT_EQ(r.penalty->start, first.start);
  EXPECT_EQ(r.history.size(), 1u);
}

TEST(ClientRecordTest, ThresholdZeroOrNoBaseMeansNoPenalties) {
  PenaltySettings s = defaults();
  s.threshold = 0;
  ClientRecord r;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(r.offend(kStart + i, 5, s, "pregreet"));
  s = defaults();
  s.base_ms = 0;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(r.offend(kStart + i, 5, s, "pregreet"));
}

TEST(ClientRecordTest, OffencesAndHistoryAreBounded) {
  ClientRecord r;
  PenaltySettings s = defaults();
  s.threshold = 1'000'000;
  for (int i = 0; i < 1000; ++i) r.offend(kStart + i, 1, s, "conn_rate");
  EXPECT_EQ(r.offences.size(), ClientRecord::kMaxOffences);
  for (int i = 0; i < 100; ++i) r.impose(kStart + i * kHour, kMinute, "manual");
  EXPECT_EQ(r.history.size(), ClientRecord::kMaxHistory);
}

TEST(ClientRecordTest, PassLifecycle) {
  ClientRecord r;
  EXPECT_FALSE(r.has_pass(kStart));
  r.grant_pass(kStart, 24 * 3600 * 1000);
  EXPECT_TRUE(r.has_pass(kStart + kDay - 1));
  EXPECT_FALSE(r.has_pass(kStart + kDay));  // expires on time
  r.grant_pass(kStart, 0);                  // ttl 0: nothing cached
  EXPECT_EQ(r.pass_until, kStart + kDay);
  r.drop_pass();
  EXPECT_FALSE(r.has_pass(kStart + 1));
}

TEST(ClientRecordTest, ForgetAtCoversEverythingThatStillMatters) {
  ClientRecord r;
  const PenaltySettings s = defaults();
  r.grant_pass(kStart, static_cast<std::uint32_t>(kHour));
  EXPECT_EQ(r.forget_at, kStart + kHour);
  r.offend(kStart, 1, s, "pregreet");
  EXPECT_EQ(r.forget_at, kStart + kHour);  // the window ends sooner
  WallMs now = kStart;
  offend_until_penalty(r, now, s);
  EXPECT_EQ(r.forget_at, now + s.memory_ms);  // the penalty's start counts for a week
  EXPECT_FALSE(r.forgotten(now + s.memory_ms - 1));
  EXPECT_TRUE(r.forgotten(now + s.memory_ms));
}

TEST(ClientRecordTest, LiftEndsAPenaltyNow) {
  ClientRecord r;
  const Penalty p = r.impose(kStart, kHour, "manual: test");
  EXPECT_EQ(p.n, 1u);
  EXPECT_NE(r.penalty_at(kStart + 1), nullptr);
  r.lift(kStart + 1);
  EXPECT_EQ(r.penalty_at(kStart + 1), nullptr);
}

TEST(OffenceWeightsTest, ParsesAndPrintsCanonically) {
  const auto w = OffenceWeights::parse("conn_rate=2,pregreet=1");
  EXPECT_EQ(w[Offence::pregreet], 1u);
  EXPECT_EQ(w[Offence::conn_rate], 2u);
  EXPECT_EQ(w[Offence::dialin], 0u);
  EXPECT_EQ(w.to_string(), "pregreet=1,conn_rate=2");
  EXPECT_EQ(OffenceWeights::parse(w.to_string()), w);
  EXPECT_TRUE(OffenceWeights::parse("none").none());
  EXPECT_EQ(OffenceWeights::parse("none").to_string(), "none");
  EXPECT_TRUE(OffenceWeights::parse("pregreet=0").none());
}

TEST(OffenceWeightsTest, RejectsBadText) {
  for (const char* bad : {"", "pregreet", "pregreet=", "pregreet=x", "pregreet=101", "nope=1",
                          "pregreet=1,pregreet=2", "pregreet=1,", ",pregreet=1", "pregreet=-1",
                          "pregreet =1", "pregreet=1\n"}) {
    EXPECT_THROW(OffenceWeights::parse(bad), PolicyError) << bad;
  }
}

TEST(OffenceWeightsTest, IsAnAttributeOfAnyRule) {
  Attributes a;
  a.set("penalty_weights", "pregreet=3");
  EXPECT_EQ(*a.get(Attr::penalty_weights), "pregreet=3");
  EXPECT_THROW(a.set("penalty_weights", "x=1"), PolicyError);
  a.set("penalty", "monitor");
  a.set("greet_pass_ttl", "1d");
  EXPECT_EQ(*a.get(Attr::greet_pass_ttl), "86400000");  // durations print in ms
  EXPECT_THROW(a.set("greet_pass_ttl", "31d"), PolicyError);
  a.set("penalty_reply", "reject");
  EXPECT_THROW(a.set("penalty_reply", "drop"), PolicyError);
}

}  // namespace
}  // namespace harden::policy
