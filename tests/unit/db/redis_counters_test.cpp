// redis_counters_test.cpp - RedisCounters and FallbackCounters against a
// private redis-server (tests/support/redis_server.hpp), the redis_url
// parser, and the differential test against LocalCounters.
#include "harden/db/redis_counters.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "harden/db/fallback_counters.hpp"
#include "redis_test_util.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace harden::db {
namespace {

using namespace std::chrono_literals;
using policy::IpNetwork;
using policy::Limits;
using policy::Rate;
using testing::RedisServer;

using redis_test::limits;
using redis_test::net;
using redis_test::options_for;

// ---- redis_url ----

TEST(RedisUrl, ParsesTheDocumentedForms) {
  auto u = parse_redis_url("redis://10.0.0.5:6380/3");
  EXPECT_EQ(u.kind, RedisUrl::Kind::tcp);
  EXPECT_EQ(u.host, "10.0.0.5");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 3u);
  u = parse_redis_url("redis://mh:s3cr@t@redis.example.org");
  EXPECT_EQ(u.user, "mh");
  EXPECT_EQ(u.password, "s3cr@t");
  EXPECT_EQ(u.host, "redis.example.org");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.redacted(), "redis://mh@redis.example.org:6379/0");
  u = parse_redis_url("redis://[2001:db8::5]:7000/1");
  EXPECT_EQ(u.host, "2001:db8::5");
  EXPECT_EQ(u.redacted(), "redis://[2001:db8::5]:7000/1");
  u = parse_redis_url("redis://:pw@localhost");
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.password, "pw");
  u = parse_redis_url("unix:/run/redis/redis-server.sock");
  EXPECT_EQ(u.kind, RedisUrl::Kind::unix_path);
  EXPECT_EQ(u.path, "/run/redis/redis-server.sock");
}

TEST(RedisUrl, RefusesNastyInputsWithoutEchoingThePassword) {
  const std::vector<std::string> bad = {
      "",
      "redis://",
      "redis://:6379",
      "http://localhost",
      "redis://host:0",
      "redis://host:65536",
      "redis://host:-1",
      "redis://host:99999999999999999999",
      "redis://host:",
      "redis://host/",
      "redis://host/65536",
      "redis://host/1/2",
      "redis://host/x",
      "redis://[2001:db8::1",
      "redis://[192.0.2.1]:1",
      "redis://[::1]x",
      "redis://bad_host!:1",
      "redis://@host",
      "redis://a b@host",
      "redis://host\n",
      std::string("redis://ho\0st", 13),
      "redis://h\xc3\xa9st",
      "unix:",
      "unix:relative/path",
      "unix:/" + std::string(200, 'a'),
      "redis://" + std::string(2000, 'a'),
      "redis://u/x:pw@host",
  };
  for (const auto& text : bad) {
    try {
      parse_redis_url(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const RedisError& e) {
      EXPECT_EQ(std::string(e.what()).find("redis_url:"), 0u) << e.what();
    }
  }
  try {
    parse_redis_url("redis://u:topsecret@host:99999");
    ADD_FAILURE();
  } catch (const RedisError& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
  }
}

// ---- RedisCounters against a real redis-server ----

class RedisCountersTest : public ::testing::Test {
 protected:
  RedisServer redis_;
  policy::SteadyTime now_{};
};

TEST_F(RedisCountersTest, CountsConnectionsSlotsAndRates) {
  RedisCounters r(options_for(redis_));
  const auto key = net("192.0.2.7");
  const auto l = limits(2);
  auto c = r.connect(key, now_, l);
  EXPECT_EQ(c.conn_count, 1u);
  EXPECT_EQ(c.open, 1u);
  EXPECT_TRUE(c.slot_taken);
  c = r.connect(key, now_, l);
  EXPECT_EQ(c.conn_count, 2u);
  EXPECT_TRUE(c.slot_taken);
  c = r.connect(key, now_, l);
  EXPECT_EQ(c.conn_count, 3u);
  EXPECT_EQ(c.open, 2u);
  EXPECT_FALSE(c.slot_taken);
  r.release(key);
  c = r.connect(key, now_, l);
  EXPECT_TRUE(c.slot_taken);
  EXPECT_EQ(r.add_rcpt(key, now_, l.rcpt_rate, 3), 3u);
  EXPECT_EQ(r.add_rcpt(key, now_, l.rcpt_rate), 4u);
  EXPECT_EQ(r.add_msg(key, now_, l.msg_rate), 1u);
  const auto st = r.inspect(key, now_, l);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->conn_count, 4u);
  EXPECT_EQ(st->open, 2u);
  EXPECT_EQ(st->rcpt_count, 4u);
  EXPECT_EQ(st->msg_count, 1u);
  EXPECT_FALSE(r.inspect(net("192.0.2.8"), now_, l).has_value());

  // flush forgets the rates, keeps the open connections
  EXPECT_TRUE(r.flush(key));
  const auto after = r.inspect(key, now_, l);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->conn_count, 0u);
  EXPECT_EQ(after->rcpt_count, 0u);
  EXPECT_EQ(after->open, 2u);
  EXPECT_FALSE(r.flush(net("192.0.2.9")));
}

TEST_F(RedisCountersTest, EveryKeyWrittenHasATtl) {
  RedisCounters r(options_for(redis_));
  const auto key = net("2001:db8:1:2::/64");
  const auto l = limits(5);
  r.connect(key, now_, l);
  r.add_rcpt(key, now_, l.rcpt_rate);
  r.add_msg(key, now_, l.msg_rate);
  const std::string keys = redis_.command({"KEYS", "*"});
  std::size_t n = 0;
  for (std::size_t at = 0; at < keys.size();) {
    const auto nl = keys.find('\n', at);
    const std::string k = keys.substr(at, nl - at);
    at = nl + 1;
    ++n;
    const long ttl = std::stol(redis_.command({"PTTL", k}));
    EXPECT_GT(ttl, 0) << k;
  }
  // conn, rcpt, msg, open and this instance's liveness key
  EXPECT_EQ(n, 5u) << keys;
  EXPECT_NE(keys.find("mh:c:2001:db8:1:2::/64:conn"), std::string::npos) << keys;
}

TEST_F(RedisCountersTest, OneEvalshaPerDecisionAndReloadOnNoscript) {
  RedisCounters r(options_for(redis_));
  const auto key = net("192.0.2.7");
  const auto l = limits(0);
  r.connect(key, now_, l);  // opens the connection, loads the script
  const auto before = redis_.calls("evalsha");
  r.add_msg(key, now_, l.msg_rate);
  r.add_rcpt(key, now_, l.rcpt_rate);
  r.release(key);
  EXPECT_EQ(redis_.calls("evalsha") - before, 3u);
  redis_.command({"SCRIPT", "FLUSH"});
  EXPECT_EQ(r.add_msg(key, now_, l.msg_rate), 2u);  // NOSCRIPT, loaded again, counted once
}

TEST_F(RedisCountersTest, WrongPasswordAndWrongTypeAreErrorsNotCrashes) {
  auto o = options_for(redis_);
  o.password = "wrong";
  RedisCounters bad(o);
  EXPECT_THROW(bad.connect(net("192.0.2.7"), now_, limits(1)), RedisError);

  RedisCounters r(options_for(redis_));
  // a window key that is not a packed window, or not a string at all
  redis_.command({"SET", "mh:c:192.0.2.9:conn:v2", "not a window"});
  EXPECT_THROW(r.connect(net("192.0.2.9"), now_, limits(1)), RedisError);
  redis_.command({"HSET", "mh:c:192.0.2.11:msg:v2", "w", "6000"});
  EXPECT_THROW(r.add_msg(net("192.0.2.11"), now_, Rate{5, 60s}), RedisError);
  // the pool dropped nothing it should keep: the next call works
  EXPECT_EQ(r.add_msg(net("192.0.2.10"), now_, Rate{5, 60s}), 1u);
}

// The hashes of the previous key format (c:CLIENT:conn|rcpt|msg, before
// :v2) are never read: during a rolling upgrade they count apart and expire.
TEST_F(RedisCountersTest, WindowsOfThePreviousFormatAreNotRead) {
  RedisCounters r(options_for(redis_));
  const auto key = net("192.0.2.12");
  for (const char* what : {"conn", "rcpt", "msg"})
    redis_.command({"HSET", std::string("mh:c:192.0.2.12:") + what, "w", "6000", "h", "1", "0", "7",
                    "1", "7"});
  const auto c = r.connect(key, now_, limits(0));
  EXPECT_EQ(c.conn_count, 1u);
  EXPECT_EQ(r.add_rcpt(key, now_, Rate{10, 60s}), 1u);
  EXPECT_EQ(r.add_msg(key, now_, Rate{10, 60s}), 1u);
  EXPECT_EQ(redis_.command({"HGET", "mh:c:192.0.2.12:conn", "0"}), "7");  // left alone
  // flush forgets the rates in both formats
  EXPECT_TRUE(r.flush(key));
  EXPECT_EQ(redis_.command({"EXISTS", "mh:c:192.0.2.12:conn", "mh:c:192.0.2.12:rcpt",
                            "mh:c:192.0.2.12:msg", "mh:c:192.0.2.12:conn:v2"}),
            "0");
}

TEST_F(RedisCountersTest, TwoHostsShareLimitsAndADeadHostsSlotsExpire) {
  auto o1 = options_for(redis_, "mx1");
  o1.liveness_ttl = 1000ms;
  auto o2 = options_for(redis_, "mx2");
  o2.liveness_ttl = 1000ms;
  auto mx1 = std::make_unique<RedisCounters>(o1);
  RedisCounters mx2(o2);
  mx1->start();
  mx2.start();
  const auto key = net("192.0.2.7");
  const auto l = limits(2);
  EXPECT_TRUE(mx1->connect(key, now_, l).slot_taken);
  EXPECT_TRUE(mx2.connect(key, now_, l).slot_taken);
  auto c = mx1->connect(key, now_, l);
  EXPECT_FALSE(c.slot_taken);
  EXPECT_EQ(c.open, 2u);
  EXPECT_EQ(c.conn_count, 3u);
  // mx1 dies without releasing: its liveness stops being renewed.
  mx1.reset();
  EXPECT_FALSE(mx2.connect(key, now_, l).slot_taken);
  const bool freed = testing::poll_until(5s, [&] {
    const bool taken = mx2.connect(key, now_, l).slot_taken;
    if (taken) mx2.release(key);
    return taken;
  });
  EXPECT_TRUE(freed);
  const auto st = mx2.inspect(key, now_, l);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->open, 1u);  // mx2's own slot only
}

TEST_F(RedisCountersTest, ConcurrentConnectsNeverExceedTheLimit) {
  RedisCounters r(options_for(redis_));
  const auto key = net("198.51.100.1");
  const auto l = limits(3);
  std::atomic<int> held{0};
  std::atomic<int> max_held{0};
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        const auto c = r.connect(key, policy::SteadyTime{}, l);
        if (!c.slot_taken) continue;
        const int h = ++held;
        if (h > 3) ++over;
        int m = max_held.load();
        while (h > m && !max_held.compare_exchange_weak(m, h)) {
        }
        --held;
        r.release(key);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_GE(max_held.load(), 1);
  const auto st = r.inspect(key, policy::SteadyTime{}, l);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->open, 0u);
}

// One seeded random sequence through LocalCounters and RedisCounters (test
// time hook): every answer must be the same.
TEST_F(RedisCountersTest, DifferentialAgainstLocalCounters) {
  const unsigned seed = std::random_device{}();
  std::printf("differential seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto o = options_for(redis_);
  o.test_time = true;
  RedisCounters redis(o);
  LocalCounters local;
  const std::vector<IpNetwork> keys = {net("192.0.2.1"), net("192.0.2.2"), net("2001:db8::/64")};
  const std::vector<std::chrono::seconds> windows = {1s, 7s, 60s};
  std::vector<std::uint32_t> held(keys.size(), 0);
  policy::SteadyTime now{std::chrono::milliseconds{1'000'000}};
  for (int step = 0; step < 600; ++step) {
    now += std::chrono::milliseconds{std::uniform_int_distribution<int>(0, 1500)(rng)};
    const std::size_t k = std::uniform_int_distribution<std::size_t>(0, keys.size() - 1)(rng);
    Limits l = limits(std::uniform_int_distribution<std::uint32_t>(0, 3)(rng),
                      windows[std::uniform_int_distribution<std::size_t>(0, 2)(rng)]);
    // now and then the rule's window changes: both counters start over
    if (step % 97 == 0) l.rcpt_rate.window = 13s;
    const int op = std::uniform_int_distribution<int>(0, 4)(rng);
    SCOPED_TRACE("step " + std::to_string(step) + " op " + std::to_string(op));
    if (op == 0) {
      const auto a = local.connect(keys[k], now, l);
      const auto b = redis.connect(keys[k], now, l);
      ASSERT_EQ(a.conn_count, b.conn_count);
      ASSERT_EQ(a.open, b.open);
      ASSERT_EQ(a.slot_taken, b.slot_taken);
      if (a.slot_taken) ++held[k];
    } else if (op == 1 && held[k] > 0) {
      local.release(keys[k]);
      redis.release(keys[k]);
      --held[k];
    } else if (op == 2) {
      const auto n = std::uniform_int_distribution<std::uint32_t>(1, 3)(rng);
      ASSERT_EQ(local.add_rcpt(keys[k], now, l.rcpt_rate, n),
                redis.add_rcpt(keys[k], now, l.rcpt_rate, n));
    } else if (op == 3) {
      ASSERT_EQ(local.add_msg(keys[k], now, l.msg_rate), redis.add_msg(keys[k], now, l.msg_rate));
    } else {
      const auto a = local.inspect(keys[k], now, l);
      const auto b = redis.inspect(keys[k], now, l);
      if (a && b) {
        ASSERT_EQ(a->conn_count, b->conn_count);
        ASSERT_EQ(a->open, b->open);
        ASSERT_EQ(a->rcpt_count, b->rcpt_count);
        ASSERT_EQ(a->msg_count, b->msg_count);
      }
    }
  }
}

// ---- a server that answers nonsense ----

// Accepts one connection on a unix socket and answers every command with the
// next canned reply (the last one repeated).
class FakeRedis {
 public:
  FakeRedis(const std::filesystem::path& path, std::vector<std::string> replies)
      : path_(path), replies_(std::move(replies)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
      throw std::runtime_error("fake redis: bind");
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeRedis() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

 private:
  void serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::size_t i = 0;
    char buf[65536];
    // One read per command: hiredis writes each command in one go.
    while (::read(c, buf, sizeof buf) > 0) {
      const std::string& r = replies_[std::min(i++, replies_.size() - 1)];
      if (::write(c, r.data(), r.size()) < 0) break;
    }
    ::close(c);
  }
  std::filesystem::path path_;
  std::vector<std::string> replies_;
  int fd_ = -1;
  std::thread thread_;
};

TEST(RedisCountersFake, UnexpectedReplyTypesAreErrors) {
  const std::string sha = "$40\r\n" + std::string(40, 'a') + "\r\n";
  const std::vector<std::vector<std::string>> cases = {
      {sha, ":5\r\n"},                         // connect wants an array
      {sha, "*1\r\n:5\r\n"},                   // too short
      {sha, "*3\r\n$1\r\nx\r\n:1\r\n:1\r\n"},  // a string where a count goes
      {sha, "$-1\r\n"},                        // nil
      {":1\r\n"},                              // SCRIPT LOAD answered with an integer
      {"$3\r\nabc\r\n"},                       // a sha of the wrong length
  };
  for (const auto& replies : cases) {
    testing::TempDir dir("harden-fake-redis");
    FakeRedis fake(dir / "fake.sock", replies);
    RedisCountersOptions o;
    o.url = parse_redis_url("unix:" + (dir / "fake.sock").string());
    o.command_timeout = 2000ms;
    o.connect_timeout = 2000ms;
    RedisCounters r(o);
    EXPECT_THROW(r.connect(net("192.0.2.7"), policy::SteadyTime{}, limits(1)), RedisError);
  }
}

// ---- FallbackCounters ----

class FallbackTest : public ::testing::Test {
 protected:
  std::unique_ptr<FallbackCounters> make(RedisFailure failure, RedisCountersOptions o) {
    o.command_timeout = 300ms;
    o.connect_timeout = 300ms;
    redis_counters_ = std::make_shared<RedisCounters>(o);
    local_ = std::make_shared<LocalCounters>();
    FallbackHooks hooks;
    hooks.on_switch = [this](bool down, const std::string& why) {
      switches_.push_back(down ? "down: " + why : "up");
    };
    hooks.on_error = [this] { ++errors_; };
    return std::make_unique<FallbackCounters>(
        redis_counters_, local_, FallbackOptions{.failure = failure, .retry = 2000ms}, hooks);
  }

  RedisServer redis_;
  policy::ManualClock clock_;
  std::shared_ptr<RedisCounters> redis_counters_;
  std::shared_ptr<LocalCounters> local_;
  std::vector<std::string> switches_;
  int errors_ = 0;
};

TEST_F(FallbackTest, FallsBackToLocalAndComesBackAfterTheBackoff) {
  auto f = make(RedisFailure::local, options_for(redis_));
  const auto key = net("192.0.2.7");
  const auto l = limits(1);
  EXPECT_TRUE(f->connect(key, clock_.steady(), l).slot_taken);  // on Redis
  EXPECT_FALSE(f->down());
  redis_.kill();
  const auto t0 = std::chrono::steady_clock::now();
  auto c = f->connect(key, clock_.steady(), l);  // fails, answered locally
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_TRUE(f->down());
  EXPECT_TRUE(c.slot_taken);  // the local table has no slot of this client yet
  EXPECT_FALSE(f->connect(key, clock_.steady(), l).slot_taken);  // local limit holds
  EXPECT_EQ(errors_, 1);  // the second call did not try Redis (breaker open)
  ASSERT_EQ(switches_.size(), 1u);
  EXPECT_EQ(switches_[0].find("down: redis"), 0u) << switches_[0];
  EXPECT_TRUE(f->stats().fallback);

  // both releases go where their slots were taken; the Redis one was
  // forgotten with the rotated instance, so nothing is sent to Redis
  f->release(key);
  f->release(key);
  EXPECT_EQ(local_->inspect(key, clock_.steady(), l)->open, 0u);

  redis_.start();
  clock_.advance(1000ms);
  f->add_msg(key, clock_.steady(), l.msg_rate);
  EXPECT_TRUE(f->down());  // still backing off: Redis not asked
  clock_.advance(1001ms);
  EXPECT_EQ(f->add_msg(key, clock_.steady(), l.msg_rate), 1u);  // the probe, on Redis
  EXPECT_FALSE(f->down());
  ASSERT_EQ(switches_.size(), 2u);
  EXPECT_EQ(switches_[1], "up");
  EXPECT_EQ(errors_, 1);
}

TEST_F(FallbackTest, TopOpenIsThisHostsSlotsOnRedisAndInTheFallbackTable) {
  auto f = make(RedisFailure::local, options_for(redis_));
  const auto a = net("192.0.2.7");
  const auto b = net("192.0.2.8");
  const auto l = limits(0);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(f->connect(a, clock_.steady(), l).slot_taken);
  EXPECT_TRUE(f->connect(b, clock_.steady(), l).slot_taken);
  auto top = f->top_open(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key, a);
  EXPECT_EQ(top[0].open, 2u);
  EXPECT_EQ(top[1].key, b);
  redis_.kill();
  // The failed call rotates the instance (its Redis slots are forgotten) and
  // is answered locally; then two more local slots for b.
  EXPECT_TRUE(f->connect(b, clock_.steady(), l).slot_taken);
  EXPECT_TRUE(f->connect(b, clock_.steady(), l).slot_taken);
  top = f->top_open(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].key, b);
  EXPECT_EQ(top[0].open, 2u);
  f->release(b);
  f->release(b);
  EXPECT_TRUE(f->top_open(10).empty());
}

TEST_F(FallbackTest, ContinueCountsNothingAndTempfailSaysUnavailable) {
  {
    auto f = make(RedisFailure::proceed, options_for(redis_));
    redis_.kill();
    for (int i = 0; i < 5; ++i) {
      const auto c = f->connect(net("192.0.2.7"), clock_.steady(), limits(1));
      EXPECT_TRUE(c.slot_taken);
      EXPECT_EQ(c.conn_count, 0u);
      EXPECT_FALSE(c.unavailable);
    }
    EXPECT_EQ(f->add_rcpt(net("192.0.2.7"), clock_.steady(), Rate{1, 60s}), 0u);
    f->release(net("192.0.2.7"));  // nothing held: no-op
    redis_.start();
  }
  {
    auto f = make(RedisFailure::tempfail, options_for(redis_));
    redis_.kill();
    const auto c = f->connect(net("192.0.2.7"), clock_.steady(), limits(1));
    EXPECT_TRUE(c.unavailable);
    EXPECT_FALSE(c.slot_taken);
  }
}

TEST_F(FallbackTest, AHungRedisCostsAtMostTheCommandTimeout) {
  auto f = make(RedisFailure::local, options_for(redis_));
  const auto key = net("192.0.2.7");
  f->connect(key, clock_.steady(), limits(0));
  ::kill(redis_.pid(), SIGSTOP);
  const auto t0 = std::chrono::steady_clock::now();
  const auto c = f->connect(key, clock_.steady(), limits(0));
  const auto took = std::chrono::steady_clock::now() - t0;
  ::kill(redis_.pid(), SIGCONT);
  EXPECT_TRUE(f->down());
  EXPECT_EQ(c.conn_count, 1u);  // counted locally
  EXPECT_LT(took, 1500ms);      // command timeout 300 ms, with slack for sanitizers
  EXPECT_GE(took, 250ms);
}

}  // namespace
}  // namespace harden::db
