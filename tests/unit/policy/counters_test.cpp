// counters_test.cpp - SlidingWindow and Concurrency against counters.hpp,
// driven by ManualClock (no sleeps).
//
// The header's promise, tested at both edges: an event is counted for at
// least the whole window (so a limit never lets more through than it says)
// and forgotten at most window + window/kBuckets after it happened.
#include "harden/policy/counters.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "harden/policy/clock.hpp"

namespace harden::policy {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;

milliseconds slack_of(seconds window) {
  return std::chrono::duration_cast<milliseconds>(window) / SlidingWindow::kBuckets;
}

TEST(SlidingWindowTest, CountsEventsWithinTheWindowExactly) {
  ManualClock clock;
  SlidingWindow w;
  for (std::uint32_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(w.add(clock.steady(), 60s), i);
    clock.advance(10s);
  }
  EXPECT_EQ(w.count(clock.steady(), 60s), 5u);  // at 50 s: all five
  EXPECT_EQ(w.add(clock.steady(), 60s), 6u);    // the sixth is seen
  EXPECT_EQ(w.count(clock.steady(), 60s), 6u);
}

TEST(SlidingWindowTest, EventsAcrossTheWholeWindowAreAllCounted) {
  ManualClock clock;
  clock.advance(123'457ms);  // not on any bucket edge
  SlidingWindow w;
  for (std::uint32_t i = 1; i <= 60; ++i) {
    EXPECT_EQ(w.add(clock.steady(), 60s), i);
    clock.advance(999ms);
  }
  // The first event is 59.94 s old now: still inside the window.
  EXPECT_EQ(w.count(clock.steady(), 60s), 60u);
}

TEST(SlidingWindowTest, AddTakesACount) {
  ManualClock clock;
  SlidingWindow w;
  EXPECT_EQ(w.add(clock.steady(), 60s, 3), 3u);
  EXPECT_EQ(w.add(clock.steady(), 60s), 4u);
  EXPECT_EQ(w.add(clock.steady(), 60s, 1'000'000), 1'000'004u);
  EXPECT_EQ(w.count(clock.steady(), 60s), 1'000'004u);
}

TEST(SlidingWindowTest, FreshCounterIsEmptyAndIdle) {
  ManualClock clock;
  const SlidingWindow w;
  EXPECT_EQ(w.count(clock.steady(), 60s), 0u);
  EXPECT_TRUE(w.idle(clock.steady()));
  clock.advance(1000h);
  EXPECT_EQ(w.count(clock.steady(), 60s), 0u);
  EXPECT_TRUE(w.idle(clock.steady()));
}

// For several windows and for an event at every position inside a bucket:
// counted (and not idle) at every age below the window, forgotten (and idle)
// at every age past window + window/kBuckets.
TEST(SlidingWindowTest, RemembersAtLeastTheWindowAndAtMostOneBucketMore) {
  for (seconds window : {1s, 7s, 60s, 3600s, seconds{7 * 24 * 3600}}) {
    const milliseconds slack = slack_of(window);
    const milliseconds win = window;
    for (milliseconds phase :
         {0ms, 1ms, slack / 2, slack - 1ms, slack, slack + 1ms, slack * 3 + 7ms}) {
      SCOPED_TRACE("window " + std::to_string(window.count()) + "s, phase " +
                   std::to_string(phase.count()) + "ms");
      ManualClock clock;
      clock.advance(1000h + phase);
      const SteadyTime t0 = clock.steady();
      SlidingWindow w;
      ASSERT_EQ(w.add(t0, window), 1u);
      for (milliseconds age : {0ms, 1ms, win / 37, win / 2, win - slack, win - 1ms}) {
        EXPECT_EQ(w.count(t0 + age, window), 1u) << "forgotten too early, age " << age.count();
        EXPECT_FALSE(w.idle(t0 + age)) << "idle too early, age " << age.count();
      }
      for (milliseconds age : {win + slack + 1ms, win + slack * 3, win * 2, win * 100}) {
        EXPECT_EQ(w.count(t0 + age, window), 0u) << "remembered too long, age " << age.count();
        EXPECT_TRUE(w.idle(t0 + age)) << "not idle, age " << age.count();
      }
    }
  }
}

TEST(SlidingWindowTest, FineSweepNeverForgetsEarly) {
  const seconds window = 10s;
  for (milliseconds phase = 0ms; phase < 1000ms; phase += 137ms) {
    ManualClock clock;
    clock.advance(phase);
    SlidingWindow w;
    const SteadyTime t0 = clock.steady();
    w.add(t0, window);
    for (milliseconds age = 0ms; age < window; age += 53ms) {
      ASSERT_EQ(w.count(t0 + age, window), 1u)
          << "phase " << phase.count() << "ms age " << age.count() << "ms";
    }
    for (milliseconds age = window + slack_of(window) + 1ms; age < 3 * window; age += 53ms) {
      ASSERT_EQ(w.count(t0 + age, window), 0u)
          << "phase " << phase.count() << "ms age " << age.count() << "ms";
    }
  }
}

TEST(SlidingWindowTest, OlderEventsExpireWhileNewerStay) {
  ManualClock clock;
  SlidingWindow w;
  const SteadyTime t0 = clock.steady();
  w.add(t0, 60s, 4);
  clock.advance(30s);
  EXPECT_EQ(w.add(clock.steady(), 60s), 5u);
  // 66.001 s after t0: the four are gone, the one from t0+30s is 36 s old.
  EXPECT_EQ(w.count(t0 + 66'001ms, 60s), 1u);
  EXPECT_FALSE(w.idle(t0 + 66'001ms));
  EXPECT_EQ(w.count(t0 + 96'001ms, 60s), 0u);
  EXPECT_TRUE(w.idle(t0 + 96'001ms));
}

TEST(SlidingWindowTest, SteadyStreamStaysWithinTheBounds) {
  // One event a second, window 10 s: after warm-up, each add sees at least
  // the 10 events younger than 10 s and at most those not older than 11 s.
  ManualClock clock;
  clock.advance(777ms);
  SlidingWindow w;
  for (int i = 0; i < 5000; ++i) {
    const std::uint32_t n = w.add(clock.steady(), 10s);
    if (i >= 12) {
      ASSERT_GE(n, 10u) << "at event " << i;
      ASSERT_LE(n, 12u) << "at event " << i;
    }
    clock.advance(1s);
  }
}

// Admit an event only while fewer than `limit` are counted: in no window of
// the configured length may more than `limit` get through, and the counter
// must let traffic through again once old events are forgotten.
TEST(SlidingWindowTest, LimitNeverLetsMoreThroughThanItSays) {
  constexpr std::uint32_t kLimit = 5;
  const seconds window = 60s;
  ManualClock clock;
  clock.advance(4'321ms);
  SlidingWindow w;
  std::deque<SteadyTime> admitted;
  std::size_t total = 0;
  for (int i = 0; i < 600; ++i) {
    const SteadyTime now = clock.steady();
    if (w.count(now, window) + 1 <= kLimit) {
      w.add(now, window);
      ++total;
      admitted.push_back(now);
      while (now - admitted.front() >= window) admitted.pop_front();
      ASSERT_LE(admitted.size(), kLimit) << "at second " << i;
    }
    clock.advance(1s);
  }
  // Forgotten within 66 s at the latest: at least 5 per 67 s get through.
  EXPECT_GE(total, 40u);
}

TEST(SlidingWindowTest, WindowChangeStartsOver) {
  ManualClock clock;
  SlidingWindow w;
  for (int i = 0; i < 5; ++i) w.add(clock.steady(), 60s);
  ASSERT_EQ(w.count(clock.steady(), 60s), 5u);
  EXPECT_EQ(w.add(clock.steady(), 120s), 1u);
  EXPECT_EQ(w.add(clock.steady(), 120s), 2u);
  EXPECT_EQ(w.add(clock.steady(), 60s), 1u);
}

TEST(SlidingWindowTest, HugeGapForgetsEverything) {
  ManualClock clock;
  SlidingWindow w;
  w.add(clock.steady(), 1s, 50);
  clock.advance(24h * 365 * 10);
  EXPECT_EQ(w.count(clock.steady(), 1s), 0u);
  EXPECT_EQ(w.add(clock.steady(), 1s), 1u);
}

// Threads take `now` before the counter table's lock, so a slightly older
// time point can arrive after a newer one; it is still an event in the window.
TEST(SlidingWindowTest, SlightlyOutOfOrderTimesAreCounted) {
  ManualClock clock;
  clock.advance(100s);
  SlidingWindow w;
  const SteadyTime t = clock.steady();
  EXPECT_EQ(w.add(t, 60s), 1u);
  EXPECT_EQ(w.add(t - 7s, 60s), 2u);
  EXPECT_EQ(w.count(t, 60s), 2u);
}

TEST(ConcurrencyTest, LimitIsHeld) {
  Concurrency c;
  EXPECT_TRUE(c.try_acquire(2));
  EXPECT_TRUE(c.try_acquire(2));
  EXPECT_EQ(c.open(), 2u);
  EXPECT_FALSE(c.try_acquire(2));
  EXPECT_EQ(c.open(), 2u);  // a refusal takes nothing
  c.release();
  EXPECT_EQ(c.open(), 1u);
  EXPECT_TRUE(c.try_acquire(2));
  EXPECT_FALSE(c.try_acquire(1));  // a lower limit after reload
  EXPECT_EQ(c.open(), 2u);
}

TEST(ConcurrencyTest, ZeroIsUnlimited) {
  Concurrency c;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(c.try_acquire(0));
  EXPECT_EQ(c.open(), 1000u);
}

TEST(ConcurrencyTest, NeverBelowZero) {
  Concurrency c;
  c.release();
  EXPECT_EQ(c.open(), 0u);
  EXPECT_TRUE(c.try_acquire(1));
  c.release();
  c.release();
  c.release();
  EXPECT_EQ(c.open(), 0u);
  EXPECT_TRUE(c.try_acquire(1));
  EXPECT_FALSE(c.try_acquire(1));
}

}  // namespace
}  // namespace harden::policy
