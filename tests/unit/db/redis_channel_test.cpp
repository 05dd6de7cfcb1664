// redis_channel_test.cpp - RedisChannel (the asynchronous, pipelined
// decisions) against a private redis-server (tests/support/redis_server.hpp):
// the same answers as RedisCounters, pipelining, failures and reconnects,
// NOSCRIPT, destruction with commands pending.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harden/db/redis_counters.hpp"
#include "redis_test_util.hpp"
#include "support/redis_server.hpp"

namespace harden::db {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using policy::IpNetwork;
using policy::Limits;
using policy::Rate;
using testing::RedisServer;

using redis_test::limits;
using redis_test::net;
using redis_test::options_for;

// Runs `io` on this thread until done() or until `within` has passed (a
// steady-clock deadline); whether done() holds.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds within = 10s) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!done()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(until - now);
  }
  return true;
}

// A CountDone that stores its answer.
struct Count {
  bool done = false;
  std::string error;
  std::uint32_t n = 0;
  RedisChannel::CountDone callback() {
    return [this](const std::exception* e, std::uint32_t count) {
      done = true;
      error = e != nullptr ? e->what() : "";
      n = count;
    };
  }
};

class RedisChannelTest : public ::testing::Test {
 protected:
  // One add_msg on `ch` run to its end: the channel is connected after it.
  std::uint32_t add_msg(RedisChannel& ch, const IpNetwork& key) {
    Count c;
    ch.add_msg(key, now_, Rate{1'000'000, 60s}, c.callback());
    EXPECT_TRUE(run_until(io_, [&] { return c.done; }));
    EXPECT_EQ(c.error, "");
    return c.n;
  }

  RedisServer redis_;
  asio::io_context io_;
  policy::SteadyTime now_{};
};

// One seeded random sequence through RedisCounters (one key prefix) and
// through RedisChannel (another), the test time hook on: every answer must
// be the same. The channel's calls go in bursts of 1 to 8, one pipeline each.
TEST_F(RedisChannelTest, SameAnswersAsRedisCounters) {
  const unsigned seed = std::random_device{}();
  std::printf("channel differential seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto o = options_for(redis_);
  o.test_time = true;
  o.key_prefix = "sync:";
  RedisCounters sync(o);
  o.key_prefix = "async:";
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  const std::vector<IpNetwork> keys = {net("192.0.2.1"), net("192.0.2.2"), net("2001:db8::/64")};
  const std::vector<std::chrono::seconds> windows = {1s, 7s, 60s};
  std::vector<std::uint32_t> held(keys.size(), 0);
  policy::SteadyTime now{std::chrono::milliseconds{1'000'000}};
  struct Answer {
    int op = 0;
    bool done = false;
    ConnectCount c;
    std::uint32_t n = 0;
  };
  for (int round = 0; round < 120; ++round) {
    const int burst = std::uniform_int_distribution<int>(1, 8)(rng);
    std::vector<Answer> want(static_cast<std::size_t>(burst));
    std::vector<Answer> got(want.size());
    std::vector<std::string> errors;
    for (std::size_t i = 0; i < want.size(); ++i) {
      now += std::chrono::milliseconds{std::uniform_int_distribution<int>(0, 1500)(rng)};
      const std::size_t k = std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng);
      Limits l = limits(std::uniform_int_distribution<std::uint32_t>(0, 3)(rng),
                        windows[std::uniform_int_distribution<std::size_t>(0, 2)(rng)]);
      if ((round * 8 + static_cast<int>(i)) % 97 == 0) l.rcpt_rate.window = 13s;
      int op = std::uniform_int_distribution<int>(0, 3)(rng);
      if (op == 1 && held[k] == 0) op = 0;
      want[i].op = got[i].op = op;
      auto& answer = got[i];
      auto note = [&errors, &answer](const std::exception* e) {
        answer.done = true;
        if (e != nullptr) errors.emplace_back(e->what());
      };
      if (op == 0) {
        want[i].c = sync.connect(keys[k], now, l);
        if (want[i].c.slot_taken) ++held[k];
        ch.connect(keys[k], now, l,
                   [&answer, note](const std::exception* e, const ConnectCount& c) {
                     answer.c = c;
                     note(e);
                   });
      } else if (op == 1) {
        sync.release(keys[k]);
        --held[k];
        ch.release(keys[k], note);
      } else if (op == 2) {
        const auto n = std::uniform_int_distribution<std::uint32_t>(1, 3)(rng);
        want[i].n = sync.add_rcpt(keys[k], now, l.rcpt_rate, n);
        ch.add_rcpt(keys[k], now, l.rcpt_rate, n,
                    [&answer, note](const std::exception* e, std::uint32_t count) {
                      answer.n = count;
                      note(e);
                    });
      } else {
        want[i].n = sync.add_msg(keys[k], now, l.msg_rate);
        ch.add_msg(keys[k], now, l.msg_rate,
                   [&answer, note](const std::exception* e, std::uint32_t count) {
                     answer.n = count;
                     note(e);
                   });
      }
    }
    ASSERT_TRUE(run_until(io_,
                          [&] {
                            for (const auto& a : got)
                              if (!a.done) return false;
                            return true;
                          }))
        << "round " << round;
    ASSERT_TRUE(errors.empty()) << errors.front();
    for (std::size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE("round " + std::to_string(round) + " call " + std::to_string(i) + " op " +
                   std::to_string(want[i].op));
      ASSERT_EQ(want[i].c.conn_count, got[i].c.conn_count);
      ASSERT_EQ(want[i].c.open, got[i].c.open);
      ASSERT_EQ(want[i].c.slot_taken, got[i].c.slot_taken);
      ASSERT_EQ(want[i].c.memory_read, got[i].c.memory_read);
      ASSERT_EQ(want[i].n, got[i].n);
    }
  }
  EXPECT_EQ(ch.pending(), 0u);
}

// The calls of one handler go out together after it, and the replies come
// back in order.
TEST_F(RedisChannelTest, PipelinesTheCallsOfOneHandler) {
  RedisChannel ch(std::make_shared<RedisCounters>(options_for(redis_)), io_);
  const auto key = net("192.0.2.7");
  add_msg(ch, key);  // connected, scripts loaded
  const auto before = redis_.calls("evalsha");
  std::vector<std::uint32_t> counts;
  std::vector<std::string> errors;
  std::uint64_t sent_during_handler = 99;
  std::size_t pending_after_handler = 0;
  asio::post(io_, [&] {
    for (int i = 0; i < 200; ++i)
      ch.add_rcpt(key, now_, Rate{1'000'000, 60s}, 1,
                  [&](const std::exception* e, std::uint32_t n) {
                    if (e != nullptr) errors.emplace_back(e->what());
                    counts.push_back(n);
                  });
    sent_during_handler = redis_.calls("evalsha") - before;
    pending_after_handler = ch.pending();
  });
  ASSERT_TRUE(run_until(io_, [&] { return counts.size() == 200; }));
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(sent_during_handler, 0u);  // nothing written from inside the calls
  EXPECT_EQ(pending_after_handler, 200u);
  for (std::size_t i = 0; i < counts.size(); ++i) ASSERT_EQ(counts[i], i + 1) << i;
  EXPECT_EQ(redis_.calls("evalsha") - before, 200u);
  EXPECT_EQ(ch.pending(), 0u);
}

// Callbacks may call the channel again (from inside its read handler).
TEST_F(RedisChannelTest, CallbacksMayCallAgain) {
  RedisChannel ch(std::make_shared<RedisCounters>(options_for(redis_)), io_);
  const auto key = net("192.0.2.7");
  const auto l = limits(1);
  int rounds = 0;
  std::vector<std::string> errors;
  std::function<void()> step = [&] {
    ch.connect(key, now_, l, [&](const std::exception* e, const ConnectCount& c) {
      if (e != nullptr) errors.emplace_back(e->what());
      EXPECT_TRUE(c.slot_taken);  // the previous round released its slot
      ch.release(key, [&](const std::exception* e2) {
        if (e2 != nullptr) errors.emplace_back(e2->what());
        if (++rounds < 50) step();
      });
    });
  };
  step();
  ASSERT_TRUE(run_until(io_, [&] { return rounds == 50; }));
  EXPECT_TRUE(errors.empty()) << errors.front();
}

// Redis killed with commands sent and not answered: every one fails, well
// within the command timeout; after a restart the next call reconnects.
TEST_F(RedisChannelTest, ServerKilledFailsEveryPendingCommandThenReconnects) {
  auto o = options_for(redis_);
  o.command_timeout = 1000ms;
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  const auto key = net("192.0.2.7");
  add_msg(ch, key);
  ASSERT_EQ(::kill(redis_.pid(), SIGSTOP), 0);  // no reply to what is sent now
  std::vector<std::string> errors;
  int answered = 0;
  for (int i = 0; i < 50; ++i)
    ch.add_rcpt(key, now_, Rate{1'000'000, 60s}, 1, [&](const std::exception* e, std::uint32_t n) {
      ++answered;
      if (e != nullptr) errors.emplace_back(e->what());
      EXPECT_EQ(n, 0u);
    });
  bool flushed = false;  // posted after the channel's flush: runs after it
  asio::post(io_, [&] { flushed = true; });
  ASSERT_TRUE(run_until(io_, [&] { return flushed; }));
  EXPECT_EQ(ch.pending(), 50u);
  EXPECT_EQ(answered, 0);
  const auto t0 = std::chrono::steady_clock::now();
  redis_.kill();
  ASSERT_TRUE(run_until(
      io_, [&] { return answered == 50; }, o.command_timeout + 2000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, o.command_timeout + 2000ms);
  ASSERT_EQ(errors.size(), 50u);
  for (const auto& e : errors) EXPECT_EQ(e.find("redis: "), 0u) << e;
  EXPECT_EQ(ch.pending(), 0u);

  redis_.start();
  EXPECT_EQ(add_msg(ch, key), 1u);  // a new connection (the restarted Redis has no data)
}

// A hung Redis: every pending command fails with "command timeout", not
// before the command timeout and not long after it.
TEST_F(RedisChannelTest, HungServerTimesOut) {
  auto o = options_for(redis_);
  o.command_timeout = 300ms;
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  const auto key = net("192.0.2.7");
  add_msg(ch, key);
  ASSERT_EQ(::kill(redis_.pid(), SIGSTOP), 0);
  std::vector<std::string> errors;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i)
    ch.add_msg(key, now_, Rate{1'000'000, 60s}, [&](const std::exception* e, std::uint32_t) {
      errors.emplace_back(e ? e->what() : "");
    });
  const bool all = run_until(
      io_, [&] { return errors.size() == 20; }, o.command_timeout + 2000ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  ::kill(redis_.pid(), SIGCONT);
  ASSERT_TRUE(all) << errors.size();
  EXPECT_GE(took, o.command_timeout);
  for (const auto& e : errors) EXPECT_EQ(e, "redis: command timeout");
  EXPECT_EQ(ch.pending(), 0u);
  EXPECT_GE(add_msg(ch, key), 2u);  // reconnected (the 20 may have been counted)
}

// A hung Redis cannot make the queue grow without bound: past kMaxPending
// commands waiting for replies, a new call fails (from a later handler) and
// the others are not touched by it.
TEST_F(RedisChannelTest, PastThePendingCapANewCallFails) {
  auto o = options_for(redis_);
  o.command_timeout = 3s;
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  const auto key = net("192.0.2.7");
  add_msg(ch, key);
  ASSERT_EQ(::kill(redis_.pid(), SIGSTOP), 0);
  std::size_t done = 0;
  std::size_t over_cap = 0;
  const std::string kTooMany = "redis: too many commands pending";
  for (std::size_t i = 0; i < RedisChannel::kMaxPending; ++i)
    ch.add_msg(key, now_, Rate{1'000'000, 60s}, [&](const std::exception* e, std::uint32_t) {
      ++done;
      if (e != nullptr && e->what() == kTooMany) ++over_cap;
    });
  EXPECT_EQ(ch.pending(), RedisChannel::kMaxPending);
  Count last;
  ch.add_msg(key, now_, Rate{1'000'000, 60s}, last.callback());
  EXPECT_FALSE(last.done);                             // never from inside the call
  EXPECT_EQ(ch.pending(), RedisChannel::kMaxPending);  // it did not join them
  const bool failed = run_until(
      io_, [&] { return last.done; }, 10s);
  // The others time out while the server is stopped.
  const bool all = run_until(
      io_, [&] { return done == RedisChannel::kMaxPending; }, 30s);
  ::kill(redis_.pid(), SIGCONT);
  ASSERT_TRUE(failed);
  EXPECT_EQ(last.error, kTooMany);
  ASSERT_TRUE(all) << done;
  EXPECT_EQ(over_cap, 0u);
  EXPECT_EQ(ch.pending(), 0u);
  EXPECT_GE(add_msg(ch, key), 1u);  // and the channel works again
}

// A call on a channel whose Redis is down gets its error from a later
// handler, never from inside the call.
TEST_F(RedisChannelTest, ErrorWhileDownComesFromALaterHandler) {
  auto o = options_for(redis_);
  o.connect_timeout = 300ms;
  o.command_timeout = 300ms;
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  redis_.kill();
  bool returned = false;
  bool called = false;
  bool returned_before = false;
  std::string error;
  ch.connect(net("192.0.2.7"), now_, limits(1),
             [&](const std::exception* e, const ConnectCount& c) {
               called = true;
               returned_before = returned;
               error = e != nullptr ? e->what() : "";
               EXPECT_FALSE(c.slot_taken);
             });
  returned = true;
  EXPECT_FALSE(called);
  EXPECT_EQ(ch.pending(), 1u);  // waits for the connection being made
  ASSERT_TRUE(run_until(io_, [&] { return called; }));
  EXPECT_TRUE(returned_before);
  EXPECT_EQ(error.find("redis: "), 0u) << error;

  redis_.start();
  EXPECT_EQ(add_msg(ch, net("192.0.2.7")), 1u);
}

// Connecting does not hold the loop: with the server stopped (it accepts,
// it does not answer AUTH) a call returns at once with its command waiting
// for the connection, the loop runs other handlers meanwhile, and the
// command goes out and is answered once the server runs again.
TEST_F(RedisChannelTest, ConnectingDoesNotHoldTheLoop) {
  auto o = options_for(redis_);
  o.connect_timeout = 5000ms;
  o.command_timeout = 5000ms;
  RedisChannel ch(std::make_shared<RedisCounters>(o), io_);
  ASSERT_EQ(::kill(redis_.pid(), SIGSTOP), 0);
  Count c;
  ch.add_msg(net("192.0.2.7"), now_, Rate{1'000'000, 60s}, c.callback());
  EXPECT_EQ(ch.pending(), 1u) << "the call waited for the connection";
  bool other = false;
  asio::post(io_, [&] { other = true; });
  ASSERT_TRUE(run_until(io_, [&] { return other; }));
  EXPECT_FALSE(c.done);
  ASSERT_EQ(::kill(redis_.pid(), SIGCONT), 0);
  ASSERT_TRUE(run_until(io_, [&] { return c.done; }));
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.n, 1u);
}

// SCRIPT FLUSH: the scripts are loaded again (once for a whole pipeline of
// NOSCRIPTs) and each command counted once.
TEST_F(RedisChannelTest, ReloadsTheScriptsOnNoscript) {
  RedisChannel ch(std::make_shared<RedisCounters>(options_for(redis_)), io_);
  const auto key = net("192.0.2.7");
  const auto loads0 = redis_.calls("script|load");
  EXPECT_EQ(add_msg(ch, key), 1u);
  const auto scripts = redis_.calls("script|load") - loads0;  // what a connection loads
  ASSERT_GT(scripts, 0u);
  redis_.command({"SCRIPT", "FLUSH"});
  EXPECT_EQ(add_msg(ch, key), 2u);
  EXPECT_EQ(redis_.calls("script|load") - loads0, 2 * scripts);

  redis_.command({"SCRIPT", "FLUSH"});
  std::vector<std::uint32_t> counts;
  std::vector<std::string> errors;
  asio::post(io_, [&] {
    for (int i = 0; i < 5; ++i)
      ch.add_msg(key, now_, Rate{1'000'000, 60s}, [&](const std::exception* e, std::uint32_t n) {
        if (e != nullptr) errors.emplace_back(e->what());
        counts.push_back(n);
      });
  });
  ASSERT_TRUE(run_until(io_, [&] { return counts.size() == 5; }));
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(counts, (std::vector<std::uint32_t>{3, 4, 5, 6, 7}));
  EXPECT_EQ(redis_.calls("script|load") - loads0, 3 * scripts);  // once for the 5
  EXPECT_EQ(ch.pending(), 0u);
}

// An error reply fails its command and every one after it, and closes the
// connection; the next call connects again.
TEST_F(RedisChannelTest, AnErrorReplyFailsEveryPendingCommand) {
  RedisChannel ch(std::make_shared<RedisCounters>(options_for(redis_)), io_);
  const auto good = net("192.0.2.7");
  const auto bad = net("192.0.2.9");
  add_msg(ch, good);
  redis_.command({"SET", "mh:c:192.0.2.9:conn:v2", "not a window"});
  Count first;
  Count third;
  bool second = false;
  std::string second_error;
  asio::post(io_, [&] {
    ch.add_msg(good, now_, Rate{1'000'000, 60s}, first.callback());
    ch.connect(bad, now_, limits(1), [&](const std::exception* e, const ConnectCount&) {
      second = true;
      second_error = e != nullptr ? e->what() : "";
    });
    ch.add_msg(good, now_, Rate{1'000'000, 60s}, third.callback());
  });
  ASSERT_TRUE(run_until(io_, [&] { return first.done && second && third.done; }));
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(first.n, 2u);
  EXPECT_EQ(second_error.find("redis: "), 0u) << second_error;
  EXPECT_NE(second_error.find("ERR"), std::string::npos) << second_error;
  EXPECT_EQ(third.error, second_error);
  EXPECT_EQ(third.n, 0u);
  EXPECT_EQ(ch.pending(), 0u);
  EXPECT_GE(add_msg(ch, good), 3u);  // a new connection; the third may have run
}

// Destroying the channel with commands pending calls none of them: before
// anything was written, with the commands written, and from a callback.
TEST_F(RedisChannelTest, DestructionWithCommandsPendingCallsNothing) {
  const auto owner = std::make_shared<RedisCounters>(options_for(redis_));
  const auto key = net("192.0.2.7");
  for (int when = 0; when < 3; ++when) {
    SCOPED_TRACE("case " + std::to_string(when));
    auto ch = std::make_unique<RedisChannel>(owner, io_);
    add_msg(*ch, key);
    int called = 0;
    for (int i = 0; i < 50; ++i)
      ch->add_rcpt(key, now_, Rate{1'000'000, 60s}, 1, [&](const std::exception*, std::uint32_t) {
        ++called;
        if (when == 2) ch.reset();
      });
    if (when == 0) {
      ch.reset();
    } else if (when == 1) {
      bool flushed = false;
      asio::post(io_, [&] { flushed = true; });
      ASSERT_TRUE(run_until(io_, [&] { return flushed; }));
      ch.reset();
    }
    // Without the channel the io_context runs out of work: its read and
    // timer were cancelled. (Case 2: after the first callback.)
    io_.restart();
    const auto t0 = std::chrono::steady_clock::now();
    io_.run_for(10s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_EQ(called, when == 2 ? 1 : 0);
    EXPECT_EQ(ch, nullptr);
  }
  // A channel never run, destroyed after its io_context stopped.
  {
    asio::io_context io;
    RedisChannel ch(owner, io);
    int called = 0;
    ch.add_msg(key, now_, Rate{1'000'000, 60s},
               [&](const std::exception*, std::uint32_t) { ++called; });
    io.stop();
    io.run();
    EXPECT_EQ(called, 0);
  }
}

// One channel per io thread, both on one RedisCounters (its latency and
// liveness shared): slots taken and released in turn never leak.
TEST_F(RedisChannelTest, ChannelsOnSeveralThreadsShareOneRedisCounters) {
  const auto owner = std::make_shared<RedisCounters>(options_for(redis_));
  owner->start();
  const auto key = net("198.51.100.1");
  const auto l = limits(0);
  std::atomic<int> errors{0};
  std::atomic<int> finished{0};
  auto worker = [&] {
    asio::io_context io;
    RedisChannel ch(owner, io);
    int rounds = 0;
    std::function<void()> step = [&] {
      ch.connect(key, now_, l, [&](const std::exception* e, const ConnectCount& c) {
        if (e != nullptr || !c.slot_taken) ++errors;
        ch.release(key, [&](const std::exception* e2) {
          if (e2 != nullptr) ++errors;
          if (++rounds < 100) step();
        });
      });
    };
    for (int i = 0; i < 4; ++i) asio::post(io, step);  // 4 chains at once
    if (!run_until(
            io, [&] { return rounds >= 100; }, 30s))
      ++errors;
    // the other chains' last calls
    run_until(
        io, [&] { return ch.pending() == 0; }, 10s);
    ++finished;
  };
  std::thread a(worker);
  std::thread b(worker);
  a.join();
  b.join();
  EXPECT_EQ(finished.load(), 2);
  EXPECT_EQ(errors.load(), 0);
  const auto st = owner->inspect(key, now_, l);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->open, 0u);
  EXPECT_GT(owner->latency_us(), 0u);
}

}  // namespace
}  // namespace harden::db
