// engine_test.cpp - every decision path of the session Engine, on a
// ManualClock and real LocalCounters (no sleeps, no libmilter).
//
// Each limit is driven to exactly N (proceeds) and N+1 (refused); monitor
// mode refuses nothing but reports; the open-connection slot is given back
// exactly once on every path a session can take.
#include "harden/milter/engine.hpp"

#include <gtest/gtest.h>

#include <map>

#include "harden/db/counters.hpp"
#include "harden/policy/clock.hpp"

namespace harden::milter {
namespace {

using namespace std::chrono_literals;
using policy::Decision;
using policy::DecisionKind;
using policy::Verdict;

policy::Rule make_rule(std::string_view selector,
                       std::initializer_list<std::pair<const char*, const char*>> attrs) {
  policy::Rule r;
  r.selector = policy::Selector::parse(selector);
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

// Forwards to LocalCounters and counts slots taken and given back per key.
class CountingCounters final : public db::CounterBackend {
 public:
  db::ConnectCount connect(const policy::IpNetwork& key, policy::SteadyTime now,
                           const policy::Limits& limits) override {
    auto r = inner.connect(key, now, limits);
    if (r.slot_taken) ++taken[key.to_string()];
    return r;
  }
  void release(const policy::IpNetwork& key) override {
    ++released[key.to_string()];
    inner.release(key);
  }
  std::uint32_t add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                         const policy::Rate& rate, std::uint32_t n) override {
    return inner.add_rcpt(key, now, rate, n);
  }
  std::uint32_t add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                        const policy::Rate& rate) override {
    return inner.add_msg(key, now, rate);
  }
  std::optional<db::ClientState> inspect(const policy::IpNetwork& key, policy::SteadyTime now,
                                         const policy::Limits& limits) const override {
    return inner.inspect(key, now, limits);
  }
  bool flush(const policy::IpNetwork& key) override { return inner.flush(key); }
  db::CounterStats stats() const override { return inner.stats(); }

  db::LocalCounters inner{{.memory_cap_bytes = 1u << 20, .shards = 4}};
  std::map<std::string, int> taken, released;
};

ConnectInfo client(std::string_view ip, std::string_view name = "mx.example.org") {
  ConnectInfo info;
  info.client = policy::IpAddress::parse(ip);
  info.client_port = 40000;
  info.client_name = std::string(name);
  info.client_resolve = name.empty() ? "FAIL" : "OK";
  return info;
}

class EngineTest : public ::testing::Test {
 protected:
  void make(Mode mode, std::vector<policy::Rule> rules) {
    counters_ = std::make_shared<CountingCounters>();
    engine_ = std::make_unique<Engine>(EngineOptions{mode}, counters_, clock_);
    engine_->set_policy(policy::Policy::build(std::move(rules)));
  }
  void make(std::vector<policy::Rule> rules) { make(Mode::enforce, std::move(rules)); }

  // Opens and closes one session from `ip`; returns the connect decision.
  Decision connect_once(std::string_view ip = "192.0.2.7") {
    Session s;
    Decision d = engine_->connect(s, client(ip));
    engine_->close(s);
    return d;
  }

  std::uint32_t open_of(std::string_view ip) {
    const auto key = policy::ClientKeyer{}.key(policy::IpAddress::parse(ip));
    const auto st = counters_->inspect(key, clock_.steady(), policy::Limits{});
    return st ? st->open : 0;
  }

  policy::ManualClock clock_;
  std::shared_ptr<CountingCounters> counters_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, ConnRateTripsAtExactlyNPlusOne) {
  for (const auto& [rate, n] : std::vector<std::pair<const char*, int>>{
           {"1/60s", 1}, {"5/60s", 5}, {"3/10s", 3}, {"20/1h", 20}}) {
    SCOPED_TRACE(rate);
    make({make_rule("default", {{"conn_rate", rate}})});
    for (int i = 1; i <= n; ++i) EXPECT_EQ(connect_once().verdict, Verdict::proceed) << i;
    const Decision d = connect_once();
    EXPECT_EQ(d.verdict, Verdict::tempfail);
    EXPECT_EQ(d.kind, DecisionKind::conn_rate);
    EXPECT_EQ(d.rcode + " " + d.xcode + " " + d.text, "421 4.3.2 Connection rate limit exceeded.");
    EXPECT_EQ(d.rule, "default");
    EXPECT_NE(d.figure.find("conn_rate " + std::to_string(n + 1) + "/"), std::string::npos)
        << d.figure;
  }
}

TEST_F(EngineTest, ConnRateForgetsAfterTheWindow) {
  make({make_rule("default", {{"conn_rate", "2/10s"}})});
  EXPECT_EQ(connect_once().verdict, Verdict::proceed);
  EXPECT_EQ(connect_once().verdict, Verdict::proceed);
  EXPECT_EQ(connect_once().verdict, Verdict::tempfail);
  clock_.advance(12s);  // window + one bucket
  EXPECT_EQ(connect_once().verdict, Verdict::proceed);
}

TEST_F(EngineTest, ConnRateCountsPerClientKeyWithIpv6Per64) {
  make({make_rule("default", {{"conn_rate", "2/60s"}})});
  EXPECT_EQ(connect_once("2001:db8:1:2::1").verdict, Verdict::proceed);
  EXPECT_EQ(connect_once("2001:db8:1:2::ffff").verdict, Verdict::proceed);
  EXPECT_EQ(connect_once("2001:db8:1:2:aaaa::9").verdict, Verdict::tempfail);  // same /64
  EXPECT_EQ(connect_once("2001:db8:1:3::1").verdict, Verdict::proceed);        // next /64
  EXPECT_EQ(connect_once("192.0.2.1").verdict, Verdict::proceed);
  EXPECT_EQ(connect_once("192.0.2.2").verdict, Verdict::proceed);  // IPv4 per /32
}

TEST_F(EngineTest, ConnLimitTripsAtNPlusOneAndAClosedSessionFreesItsSlot) {
  make({make_rule("default", {{"conn_limit", "3"}})});
  std::vector<Session> open(3);
  for (auto& s : open)
    EXPECT_EQ(engine_->connect(s, client("192.0.2.7")).verdict, Verdict::proceed);
  Session fourth;
  const Decision d = engine_->connect(fourth, client("192.0.2.7"));
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.kind, DecisionKind::conn_limit);
  EXPECT_EQ(d.rcode + " " + d.xcode + " " + d.text, "421 4.3.2 Too many open connections.");
  EXPECT_EQ(d.figure, "conn_limit 4 > 3");
  engine_->close(fourth);  // held no slot: gives none back
  EXPECT_EQ(open_of("192.0.2.7"), 3u);
  engine_->close(open[0]);
  Session again;
  EXPECT_EQ(engine_->connect(again, client("192.0.2.7")).verdict, Verdict::proceed);
  EXPECT_EQ(open_of("192.0.2.7"), 3u);
}

TEST_F(EngineTest, MaxRcptsTripsAtNPlusOneAndStartsOverWithTheNextMessage) {
  make({make_rule("default", {{"max_rcpts", "3"}})});
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  for (int msg = 0; msg < 2; ++msg) {
    EXPECT_EQ(engine_->mail(s).verdict, Verdict::proceed);
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::proceed);
    const Decision d = engine_->rcpt(s, false);
    EXPECT_EQ(d.verdict, Verdict::tempfail);
    EXPECT_EQ(d.kind, DecisionKind::max_rcpts);
    EXPECT_EQ(d.rcode + " " + d.xcode, "452 4.5.3");
    EXPECT_EQ(d.figure, "max_rcpts 4 > 3");
    EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::tempfail);  // and every further one
  }
  engine_->close(s);
}

TEST_F(EngineTest, RcptRateCountsAcrossSessionsOfTheClient) {
  make({make_rule("default", {{"rcpt_rate", "4/1m"}})});
  for (int session = 0; session < 2; ++session) {
    Session s;
    engine_->connect(s, client("192.0.2.7"));
    engine_->mail(s);
    EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::proceed);
    EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::proceed);
    engine_->close(s);
  }
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  const Decision d = engine_->rcpt(s, false);
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.kind, DecisionKind::rcpt_rate);
  EXPECT_EQ(d.rcode + " " + d.xcode, "450 4.7.1");
  EXPECT_EQ(d.figure, "rcpt_rate 5/1m > 4/1m");
  engine_->close(s);
}

TEST_F(EngineTest, MsgRateTripsAtNPlusOne) {
  make({make_rule("default", {{"msg_rate", "2/1m"}})});
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  EXPECT_EQ(engine_->mail(s).verdict, Verdict::proceed);
  EXPECT_EQ(engine_->mail(s).verdict, Verdict::proceed);
  const Decision d = engine_->mail(s);
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.kind, DecisionKind::msg_rate);
  EXPECT_EQ(d.figure, "msg_rate 3/1m > 2/1m");
  engine_->close(s);
}

TEST_F(EngineTest, BadRcptThrottleDelaysEveryRcptAfterNRejected) {
  make({make_rule("default", {{"bad_rcpt_throttle", "2"}, {"max_rcpts", "1"}})});
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  engine_->mail(s);
  EXPECT_EQ(engine_->rcpt(s, true).delay, 0ms);  // 1st rejected
  EXPECT_EQ(engine_->rcpt(s, true).delay, 0ms);  // 2nd rejected: N reached
  const Decision third = engine_->rcpt(s, true);
  EXPECT_EQ(third.delay, 1000ms);
  EXPECT_EQ(third.kind, DecisionKind::bad_rcpt_throttle);
  EXPECT_EQ(third.verdict, Verdict::proceed);
  EXPECT_EQ(third.figure, "bad_rcpt_throttle 2 >= 2");
  EXPECT_EQ(engine_->rcpt(s, false).delay, 1000ms);  // accepted ones too
  const Decision refused = engine_->rcpt(s, false);  // max_rcpts 1: refused, still late
  EXPECT_EQ(refused.verdict, Verdict::tempfail);
  EXPECT_EQ(refused.delay, 1000ms);
  engine_->close(s);
}

TEST_F(EngineTest, PregreetRefusesOnlyATalker) {
  make({make_rule("default", {{"greet_pause", "3000"}})});
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  EXPECT_EQ(s.greet_pause(), 3000u);
  EXPECT_EQ(engine_->pregreet(s, 0).verdict, Verdict::proceed);
  const Decision d = engine_->pregreet(s, 22);
  EXPECT_EQ(d.verdict, Verdict::reject);
  EXPECT_EQ(d.kind, DecisionKind::pregreet);
  EXPECT_EQ(d.rcode + " " + d.xcode, "554 5.7.1");
  EXPECT_NE(d.text.find("pre-greeting traffic"), std::string::npos);
  engine_->close(s);
}

// The greet pause is decided once, at connect: the policy's cut to the
// engine's greet_pause_cap; none for an allow-listed client or after close.
TEST_F(EngineTest, ConnectDecidesTheHeldGreetPauseWithTheEnginesCap) {
  counters_ = std::make_shared<CountingCounters>();
  engine_ = std::make_unique<Engine>(EngineOptions{.greet_pause_cap = 4000ms}, counters_, clock_);
  engine_->set_policy(policy::Policy::build({make_rule("default", {{"greet_pause", "3000"}}),
                                             make_rule("192.0.2.0/24", {{"greet_pause", "30s"}}),
                                             make_rule("198.51.100.0/24", {{"action", "allow"}})}));
  EXPECT_EQ(engine_->greet_pause_cap(), 4000ms);
  Session s;
  engine_->connect(s, client("203.0.113.5"));
  EXPECT_EQ(s.held_greet_pause(), 3000ms);
  engine_->connect(s, client("192.0.2.7"));
  EXPECT_EQ(s.greet_pause(), 30000u);
  EXPECT_EQ(s.held_greet_pause(), 4000ms);
  engine_->close(s);
  EXPECT_EQ(s.held_greet_pause(), 0ms);
  engine_->connect(s, client("198.51.100.1"));
  EXPECT_EQ(s.held_greet_pause(), 0ms);
  engine_->close(s);
  EXPECT_EQ(engine_->held_pause(30000).held_ms, 4000u);
  EXPECT_EQ(EngineOptions{}.greet_pause_cap.count(), policy::kDefaultGreetPauseCapMs);
}

TEST_F(EngineTest, AllowListedClientSkipsEveryLimitAndHoldsNoSlot) {
  make({make_rule("default", {{"conn_rate", "1/1m"}, {"max_rcpts", "1"}, {"greet_pause", "5000"}}),
        make_rule("192.0.2.0/24", {{"action", "allow"}})});
  for (int i = 0; i < 3; ++i) {
    Session s;
    const Decision d = engine_->connect(s, client("192.0.2.7"));
    EXPECT_EQ(d.verdict, Verdict::accept_all);
    EXPECT_EQ(d.kind, DecisionKind::allowed);
    EXPECT_EQ(s.greet_pause(), 0u);
    EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::proceed);
    EXPECT_EQ(engine_->rcpt(s, false).verdict, Verdict::proceed);
    engine_->close(s);
  }
  EXPECT_EQ(counters_->taken["192.0.2.7"], 0);
}

TEST_F(EngineTest, BlockRuleRejectsAtConnectWithItsReason) {
  make({make_rule("default", {{"conn_limit", "5"}}),
        make_rule(".dsl.example.net", {{"action", "block"}, {"reason", "Dial-in, use your ISP"}}),
        make_rule("198.51.100.9", {{"action", "tempfail"}})});
  Session s;
  Decision d = engine_->connect(s, client("192.0.2.7", "host-1.dsl.example.net"));
  EXPECT_EQ(d.verdict, Verdict::reject);
  EXPECT_EQ(d.kind, DecisionKind::blocked);
  EXPECT_EQ(d.rcode + " " + d.xcode + " " + d.text, "550 5.7.1 Dial-in, use your ISP");
  EXPECT_EQ(d.rule, ".dsl.example.net");
  engine_->close(s);
  d = engine_->connect(s, client("198.51.100.9"));
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.rcode, "421");
  engine_->close(s);
  EXPECT_EQ(open_of("192.0.2.7"), 0u);
}

TEST_F(EngineTest, MonitorModeRefusesNothingButReportsEveryLimit) {
  make(Mode::monitor, {make_rule("default", {{"conn_rate", "1/1m"},
                                             {"conn_limit", "1"},
                                             {"max_rcpts", "1"},
                                             {"bad_rcpt_throttle", "1"},
                                             {"msg_rate", "1/1m"}}),
                       make_rule("198.51.100.9", {{"action", "block"}})});
  Session a, b;
  EXPECT_FALSE(engine_->connect(a, client("192.0.2.7")).monitor);
  const Decision limit = engine_->connect(b, client("192.0.2.7"));  // conn_limit and conn_rate
  EXPECT_EQ(limit.verdict, Verdict::proceed);
  EXPECT_TRUE(limit.monitor);
  EXPECT_EQ(limit.rcode, "421");  // the reply it would have sent
  engine_->mail(a);
  const Decision msg = engine_->mail(a);
  EXPECT_TRUE(msg.monitor);
  EXPECT_EQ(msg.kind, DecisionKind::msg_rate);
  EXPECT_EQ(engine_->rcpt(a, true).delay, 0ms);
  const Decision throttled = engine_->rcpt(a, false);  // throttle and max_rcpts both would act
  EXPECT_EQ(throttled.verdict, Verdict::proceed);
  EXPECT_EQ(throttled.delay, 0ms);
  EXPECT_TRUE(throttled.monitor);
  const Decision over = engine_->rcpt(a, false);
  EXPECT_EQ(over.verdict, Verdict::proceed);
  EXPECT_TRUE(over.monitor);
  Session c;
  const Decision blocked = engine_->connect(c, client("198.51.100.9"));
  EXPECT_EQ(blocked.verdict, Verdict::proceed);
  EXPECT_TRUE(blocked.monitor);
  EXPECT_EQ(blocked.rcode, "550");
  for (Session* s : {&a, &b, &c}) engine_->close(*s);
}

TEST_F(EngineTest, SlotIsReleasedExactlyOnceOnEveryPath) {
  make({make_rule("default", {{"conn_limit", "10"}, {"conn_rate", "2/1m"}, {"max_rcpts", "1"}}),
        make_rule("198.51.100.9", {{"action", "block"}}),
        make_rule("203.0.113.1", {{"action", "allow"}})});
  {  // allowed, closed twice
    Session s;
    engine_->connect(s, client("192.0.2.1"));
    engine_->close(s);
    engine_->close(s);
  }
  {  // message aborted mid-way (the adapter resets the count), then close
    Session s;
    engine_->connect(s, client("192.0.2.2"));
    engine_->mail(s);
    engine_->rcpt(s, false);
    s.rcpts_in_msg = 0;
    engine_->close(s);
  }
  {  // refused at connect by conn_rate after taking a slot
    for (int i = 0; i < 2; ++i) connect_once("192.0.2.3");
    Session s;
    EXPECT_EQ(engine_->connect(s, client("192.0.2.3")).kind, DecisionKind::conn_rate);
    EXPECT_TRUE(s.slot_held);
    engine_->close(s);
  }
  {  // reconnect on the same Session without close (QUIT_NC): the old slot goes back
    Session s;
    engine_->connect(s, client("192.0.2.4"));
    engine_->connect(s, client("192.0.2.5"));
    engine_->close(s);
  }
  for (const char* blocked_or_allowed : {"198.51.100.9", "203.0.113.1"})
    connect_once(blocked_or_allowed);
  EXPECT_EQ(counters_->taken, counters_->released);
  for (const char* ip : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"})
    EXPECT_EQ(open_of(ip), 0u) << ip;
  EXPECT_EQ(counters_->taken["192.0.2.3"], 3);
  EXPECT_EQ(counters_->taken.count("198.51.100.9"), 0u);
}

TEST_F(EngineTest, NoPolicyOrNoIpClientDecidesNothingAndCountsNothing) {
  counters_ = std::make_shared<CountingCounters>();
  engine_ = std::make_unique<Engine>(EngineOptions{}, counters_, clock_);
  Session s;
  EXPECT_EQ(engine_->connect(s, client("192.0.2.7")).kind, DecisionKind::none);  // no policy
  EXPECT_FALSE(s.active);
  EXPECT_EQ(engine_->rcpt(s, false).kind, DecisionKind::none);
  engine_->close(s);
  engine_->set_policy(policy::Policy::build({make_rule("default", {{"conn_limit", "1"}})}));
  ConnectInfo local;  // a local (non-IP) client
  EXPECT_EQ(engine_->connect(s, local).kind, DecisionKind::none);
  engine_->close(s);
  EXPECT_TRUE(counters_->taken.empty());
  EXPECT_TRUE(counters_->released.empty());
}

TEST_F(EngineTest, SessionsKeepThePolicyTheyStartedWith) {
  make({make_rule("default", {{"max_rcpts", "1"}})});
  Session s;
  engine_->connect(s, client("192.0.2.7"));
  engine_->set_policy(policy::Policy::build({make_rule("default", {{"max_rcpts", "5"}})}));
  engine_->rcpt(s, false);
  EXPECT_EQ(engine_->rcpt(s, false).kind, DecisionKind::max_rcpts);  // still 1
  engine_->close(s);
  Session t;
  engine_->connect(t, client("192.0.2.7"));
  engine_->rcpt(t, false);
  EXPECT_EQ(engine_->rcpt(t, false).verdict, Verdict::proceed);  // the new one
  engine_->close(t);
}

TEST(InterpretClientTest, ReadsSendmailAndPostfixConventions) {
  const auto addr = policy::IpAddress::parse("192.0.2.7");
  struct Case {
    const char* name;
    const char* ptr;
    const char* resolve;
    policy::RdnsStatus want;
    const char* host;
  };
  for (const Case& c : std::vector<Case>{
           {"mx.example.org", "", "OK", policy::RdnsStatus::ok, "mx.example.org"},
           {"MX.Example.ORG.", "", "", policy::RdnsStatus::ok, "mx.example.org"},
           {"[192.0.2.7]", "", "FAIL", policy::RdnsStatus::fail, ""},
           {"unknown", "", "", policy::RdnsStatus::fail, ""},
           {"unknown", "spoof.example.net", "", policy::RdnsStatus::forged, ""},
           {"mx.example.org", "", "FORGED", policy::RdnsStatus::forged, ""},
           {"mx.example.org", "", "bogus", policy::RdnsStatus::fail, ""},
           {"bad name!", "", "OK", policy::RdnsStatus::fail, ""},
       }) {
    SCOPED_TRACE(c.name);
    ConnectInfo info;
    info.client_name = c.name;
    info.client_ptr = c.ptr;
    info.client_resolve = c.resolve;
    const policy::Client got = interpret_client(addr, info);
    EXPECT_EQ(got.resolve, c.want);
    EXPECT_EQ(got.hostname, c.host);
  }
}

}  // namespace
}  // namespace harden::milter

namespace harden::milter {
namespace {

// A backend that cannot count (FallbackCounters with redis_failure tempfail).
class UnavailableCounters final : public db::CounterBackend {
 public:
  db::ConnectCount connect(const policy::IpNetwork&, policy::SteadyTime,
                           const policy::Limits&) override {
    db::ConnectCount c;
    c.unavailable = true;
    return c;
  }
  void release(const policy::IpNetwork&) override { ++releases; }
  std::uint32_t add_rcpt(const policy::IpNetwork&, policy::SteadyTime, const policy::Rate&,
                         std::uint32_t) override {
    return 0;
  }
  std::uint32_t add_msg(const policy::IpNetwork&, policy::SteadyTime,
                        const policy::Rate&) override {
    return 0;
  }
  std::optional<db::ClientState> inspect(const policy::IpNetwork&, policy::SteadyTime,
                                         const policy::Limits&) const override {
    return std::nullopt;
  }
  bool flush(const policy::IpNetwork&) override { return false; }
  db::CounterStats stats() const override { return {}; }
  int releases = 0;
};

TEST(EngineCounters, UnavailableCountersAnswerTempfailAndHoldNothing) {
  policy::ManualClock clock;
  auto counters = std::make_shared<UnavailableCounters>();
  Engine engine(EngineOptions{}, counters, clock);
  policy::Rule r;
  r.selector = policy::Selector::parse("default");
  engine.set_policy(policy::Policy::build({r}));
  Session s;
  ConnectInfo info;
  info.client = policy::IpAddress::parse("192.0.2.7");
  const Decision d = engine.connect(s, info);
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.kind, DecisionKind::counters);
  EXPECT_EQ(d.rcode + " " + d.xcode, "421 4.3.0");
  EXPECT_EQ(d.rule, "redis_failure tempfail");
  engine.close(s);
  EXPECT_EQ(counters->releases, 0);
  // monitor mode only reports it
  Engine monitor(EngineOptions{Mode::monitor}, counters, clock);
  monitor.set_policy(policy::Policy::build({r}));
  Session m;
  const Decision md = monitor.connect(m, info);
  EXPECT_EQ(md.verdict, Verdict::proceed);
  EXPECT_TRUE(md.monitor);
}

}  // namespace
}  // namespace harden::milter
