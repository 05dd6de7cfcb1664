// redis_test.cpp - two milter-harden daemons on one private redis-server:
// limits shared across MX hosts, slots of a killed daemon freed, counts kept
// across a restart, and Redis killed in the middle of a load run.
#include <gmock/gmock.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "support/redis_server.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;

class TwoHosts : public ::testing::Test {
 protected:
  TwoHosts() {
    for (const char* name : {"mx1", "mx2"}) {
      std::filesystem::create_directories(dir_ / name);
      auto d = std::make_unique<MilterDaemon>(dir_ / name);
      seed_store_all_off(*d);
      d->set("engine", "native");
      d->set("counters", "redis");
      d->set("redis_url", redis_.url());
      d->set("redis_password_file", redis_.password_file().string());
      d->set("host_id", name);
      d->set("redis_connect_timeout", "200ms");
      d->set("redis_command_timeout", "200ms");
      daemons_.push_back(std::move(d));
    }
  }
  void TearDown() override {
    for (auto& d : daemons_) {
      if (HasFailure())
        std::cerr << "---- " << d->log_path() << " ----\n" << d->log() << "---- end ----\n";
      if (d->running()) {
        EXPECT_TRUE(d->stop());
      }
    }
  }
  // The same rule on both hosts (each has its own store, as two MX hosts do).
  void rule(const std::string& selector, const Attrs& attrs) {
    for (auto& d : daemons_) set_rule(*d, selector, attrs);
  }
  void start() {
    for (auto& d : daemons_) d->start();
  }
  MilterDaemon& mx(std::size_t i) { return *daemons_[i]; }
  Session open(std::size_t i, const std::string& addr) {
    return Session::start(mx(i).socket(), peer_at(addr), timeout_);
  }
  Reply connect_once(std::size_t i, const std::string& addr) {
    Session s = open(i, addr);
    Reply r = s.connect_reply();
    s.quit();
    return r;
  }
  json stats(std::size_t i) { return json::parse(mx(i).control(R"({"cmd":"stats"})")); }

  RedisServer redis_;
  TempDir dir_{"milter-redis"};
  std::vector<std::unique_ptr<MilterDaemon>> daemons_;
  std::chrono::milliseconds timeout_{5000};
};

TEST_F(TwoHosts, ConnRateIsSharedWhicheverHostTheClientLandsOn) {
  rule("192.0.2.7", {{"conn_rate", "4/60s"}});
  start();
  for (std::size_t i = 0; i < 4; ++i) EXPECT_CONTINUES(connect_once(i % 2, "192.0.2.7")) << i;
  EXPECT_REFUSED(connect_once(0, "192.0.2.7"), "421", "4.3.2");
  EXPECT_REFUSED(connect_once(1, "192.0.2.7"), "421", "4.3.2");
  EXPECT_CONTINUES(connect_once(1, "192.0.2.8"));  // another client is not affected
  // one EVALSHA per decision: 7 connects + their 7 releases (a release is
  // sent when the daemon sees the QUIT: poll for the last ones)
  poll_until(5s, [&] { return redis_.calls("evalsha") >= 14; });
  EXPECT_EQ(redis_.calls("evalsha"), 14u);
}

// Client memory on Redis (issue 12): offences on either host add up, the
// penalty one host starts is in force on the other at its next connect (read
// in the connect's own EVALSHA), and forgetting it on one forgets it on both.
TEST_F(TwoHosts, PenaltiesAreSharedAndLiftedEverywhere) {
  rule("default", {{"conn_rate", "1/1h"},
                   {"penalty", "block"},
                   {"penalty_threshold", "2"},
                   {"penalty_window", "10m"},
                   {"penalty_base", "10m"},
                   {"penalty_max", "1h"},
                   {"penalty_memory", "1d"},
                   {"penalty_weights", "conn_rate=1"}});
  start();
  EXPECT_CONTINUES(connect_once(0, "192.0.2.40"));
  EXPECT_REFUSED(connect_once(1, "192.0.2.40"), "421", "4.3.2");  // offence 1, on mx2
  EXPECT_REFUSED(connect_once(0, "192.0.2.40"), "421", "4.3.2");  // offence 2, on mx1: penalty
  EXPECT_TRUE(mx(0).wait_for_log("penalty: client=[192.0.2.40]", 5s));
  EXPECT_REFUSED(connect_once(1, "192.0.2.40"), "421", "4.7.0");  // in force on mx2 too
  EXPECT_REFUSED(connect_once(0, "192.0.2.40"), "421", "4.7.0");
  const json shown =
      json::parse(mx(1).control(R"({"cmd":"offenders","action":"show","ip":"192.0.2.40"})"));
  EXPECT_EQ(shown["record"]["penalty"]["n"], 1) << shown.dump();
  // Lifted on mx2, gone on mx1: its next refusal is conn_rate's again.
  const json removed =
      json::parse(mx(1).control(R"({"cmd":"offenders","action":"remove","ip":"192.0.2.40"})"));
  EXPECT_EQ(removed["removed"], true) << removed.dump();
  EXPECT_REFUSED(connect_once(0, "192.0.2.40"), "421", "4.3.2");
  // Another client is untouched throughout.
  EXPECT_CONTINUES(connect_once(1, "192.0.2.41"));
}

TEST_F(TwoHosts, ConnLimitHoldsAcrossBothAndSlotsComeBack) {
  rule("192.0.2.20", {{"conn_limit", "2"}});
  start();
  Session a = open(0, "192.0.2.20");
  Session b = open(1, "192.0.2.20");
  EXPECT_CONTINUES(a.connect_reply());
  EXPECT_CONTINUES(b.connect_reply());
  const Reply over1 = connect_once(0, "192.0.2.20");
  EXPECT_REFUSED(over1, "421", "4.3.2");
  EXPECT_THAT(over1.text, HasSubstr("Too many open connections"));
  EXPECT_REFUSED(connect_once(1, "192.0.2.20"), "421", "4.3.2");
  b.quit();  // a slot held by mx2 comes back, usable on mx1
  std::vector<Session> more;
  EXPECT_TRUE(poll_until(5s, [&] {
    Session s = open(0, "192.0.2.20");
    if (!s.connect_reply().is_continue()) return false;
    more.push_back(std::move(s));
    return true;
  }));
  EXPECT_REFUSED(connect_once(1, "192.0.2.20"), "421", "4.3.2");
}

TEST_F(TwoHosts, AnIpv6Slash64IsOneClientAndControlSeesSharedState) {
  rule("2001:db8:5::/64", {{"conn_rate", "2/60s"}});
  start();
  EXPECT_CONTINUES(connect_once(0, "2001:db8:5::1"));
  EXPECT_CONTINUES(connect_once(1, "2001:db8:5::2"));
  EXPECT_REFUSED(connect_once(0, "2001:db8:5::ffff"), "421", "4.3.2");
  // hardenctl client on either host reads the shared counters
  const json c = json::parse(mx(1).control(R"({"cmd":"client","ip":"2001:db8:5::77"})"));
  EXPECT_EQ(c["key"], "2001:db8:5::/64");
  EXPECT_EQ(c["counters"]["conn_count"], 3);
  // flush on one host clears it for both
  const json f = json::parse(mx(0).control(R"({"cmd":"flush","ip":"2001:db8:5::9"})"));
  EXPECT_EQ(f["flushed"], true);
  EXPECT_CONTINUES(connect_once(1, "2001:db8:5::3"));
  // status names the backend
  const json st = stats(0);
  EXPECT_EQ(st["counters"]["backend"], "redis");
  EXPECT_EQ(st["counters"]["fallback"], false);
  EXPECT_EQ(st["counters"]["target"], redis_.url());
  const auto out = mx(0).hardenctl({"status"});
  EXPECT_THAT(out.output, HasSubstr("backend    redis unix:"));
}

TEST_F(TwoHosts, SigkilledHostFreesItsSlotsWithinTheLivenessTtl) {
  for (auto& d : daemons_) d->set("redis_liveness_ttl", "1s");
  rule("192.0.2.30", {{"conn_limit", "1"}});
  start();
  Session held = open(0, "192.0.2.30");
  EXPECT_CONTINUES(held.connect_reply());
  EXPECT_REFUSED(connect_once(1, "192.0.2.30"), "421", "4.3.2");
  mx(0).signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  std::vector<Session> more;
  EXPECT_TRUE(poll_until(5s, [&] {
    Session s = open(1, "192.0.2.30");
    if (!s.connect_reply().is_continue()) return false;
    more.push_back(std::move(s));
    return true;
  }));
  // within the TTL (1 s) plus the polling and a loaded machine's slack
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 3s);
}

TEST_F(TwoHosts, CountsSurviveADaemonRestart) {
  rule("192.0.2.40", {{"conn_rate", "2/60s"}});
  start();
  EXPECT_CONTINUES(connect_once(0, "192.0.2.40"));
  EXPECT_CONTINUES(connect_once(0, "192.0.2.40"));
  ASSERT_TRUE(mx(0).stop());
  mx(0).start();
  EXPECT_REFUSED(connect_once(0, "192.0.2.40"), "421", "4.3.2");
}

TEST_F(TwoHosts, RedisKilledMidLoadLosesNoSessionAndLimitsComeBack) {
  rule("192.0.2.50", {{"conn_rate", "2/60s"}});
  start();
  std::atomic<bool> stop{false};
  std::atomic<int> sessions{0};
  std::atomic<int> errors{0};
  std::atomic<int> late{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      int i = 0;
      while (!stop.load()) {
        const std::string addr = "198.51.100." + std::to_string(1 + (t * 50 + i++) % 200);
        try {
          const auto t0 = std::chrono::steady_clock::now();
          Session s =
              Session::start(mx(static_cast<std::size_t>(t % 2)).socket(), peer_at(addr), 2s);
          if (!s.connect_reply().is_continue()) ++errors;
          if (std::chrono::steady_clock::now() - t0 > 1s) ++late;
          s.quit();
          ++sessions;
        } catch (const std::exception&) {
          ++errors;
        }
      }
    });
  }
  auto wait_sessions = [&](int n) { return poll_until(10s, [&] { return sessions.load() >= n; }); };
  EXPECT_TRUE(wait_sessions(100));
  redis_.kill();
  const int at_kill = sessions.load();
  EXPECT_TRUE(wait_sessions(at_kill + 200));
  EXPECT_EQ(stats(0)["counters"]["fallback"], true);
  redis_.start();
  const int at_restart = sessions.load();
  EXPECT_TRUE(wait_sessions(at_restart + 100));
  // back on Redis once the back-off (2 s) is over and a call probed it
  EXPECT_TRUE(poll_until(10s, [&] {
    return stats(0)["counters"]["fallback"] == false && stats(1)["counters"]["fallback"] == false;
  }));
  stop = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(late.load(), 0);
  EXPECT_GT(stats(0)["metrics"]["redis_errors_total"].get<int>(), 0);
  EXPECT_EQ(stats(0)["metrics"]["redis_fallback"], 0);
  EXPECT_TRUE(mx(0).wait_for_log("Redis unreachable", 1s));
  EXPECT_TRUE(mx(0).wait_for_log("Redis answers again", 1s));
  EXPECT_EQ(mx(0).log_lines("Redis unreachable").size(), 1u);
  // limits enforced again, shared: the restarted Redis starts from zero
  EXPECT_CONTINUES(connect_once(0, "192.0.2.50"));
  EXPECT_CONTINUES(connect_once(1, "192.0.2.50"));
  EXPECT_REFUSED(connect_once(0, "192.0.2.50"), "421", "4.3.2");
}

TEST_F(TwoHosts, TempfailWhileRedisIsDown) {
  for (auto& d : daemons_) d->set("redis_failure", "tempfail");
  start();
  EXPECT_CONTINUES(connect_once(0, "192.0.2.60"));
  redis_.kill();
  const Reply r = connect_once(0, "192.0.2.60");
  EXPECT_REFUSED(r, "421", "4.3.0");
  EXPECT_TRUE(mx(0).wait_for_log("redis_failure tempfail", 2s));
}

}  // namespace
}  // namespace harden::testing
