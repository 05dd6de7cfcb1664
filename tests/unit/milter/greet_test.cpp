// greet_test.cpp - the greet pause of xxfi_connect: the cap, slammer
// detection, and the plain-delay fallback with its one log line and metric.
// A fake Probe and a Waiter on a ManualClock: nothing sleeps.
#include "greet.hpp"

#include <gtest/gtest.h>

#include "harden/db/counters.hpp"

namespace harden::milter {
namespace {

using namespace std::chrono_literals;

class ScriptedProbe final : public Probe {
 public:
  ProbeResult probe(const Endpoint&, const Endpoint&) const override {
    ++calls;
    ProbeResult r;
    if (calls <= errors_first) {
      r.status = ProbeResult::Status::error;
      r.error = "netlink sock_diag socket: Too many open files";
      return r;
    }
    r.status = status;
    r.bytes_received = calls >= talk_after ? 17 : 0;
    if (status == ProbeResult::Status::silent && calls >= talk_after)
      r.status = ProbeResult::Status::talked;
    r.error = "no such socket";
    return r;
  }
  ProbeResult::Status status = ProbeResult::Status::silent;
  unsigned talk_after = 1000;
  unsigned errors_first = 0;  // the first calls fail (no netlink socket)
  mutable unsigned calls = 0;
};

class ManualWaiter final : public Waiter {
 public:
  explicit ManualWaiter(policy::ManualClock& c) : clock(c) {}
  policy::SteadyTime now() const override { return clock.steady(); }
  bool wait_until(policy::SteadyTime deadline) override {
    if (deadline > clock.steady())
      clock.advance(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.steady()));
    return true;
  }
  policy::ManualClock& clock;
};

policy::Rule default_rule(const char* greet_pause) {
  policy::Rule r;
  r.attrs.set("greet_pause", greet_pause);
  return r;
}

class GreetTest : public ::testing::Test {
 protected:
  GreetTest()
      : engine_(EngineOptions{.greet_pause_cap = 9000ms}, std::make_shared<db::LocalCounters>(),
                clock_),
        waiter_(clock_),
        watch_(probe_, waiter_, 100ms),
        rt_(engine_, metrics_, AdapterOptions{false}, watch_, waiter_) {
    engine_.set_policy(policy::Policy::build({default_rule("3000")}));
  }

  SessionState connect(std::string daemon_addr = "192.0.2.1", std::string port = "25") {
    SessionState st;
    ConnectInfo info;
    info.client = policy::IpAddress::parse("198.51.100.7");
    info.client_port = 40000;
    info.client_resolve = "FAIL";
    engine_.connect(st.session, info);
    st.greet = GreetTarget{std::move(daemon_addr), std::move(port), info.client, info.client_port};
    return st;
  }

  policy::ManualClock clock_;
  Metrics metrics_;
  Engine engine_;
  ScriptedProbe probe_;
  ManualWaiter waiter_;
  PregreetWatch watch_;
  MilterRuntime rt_;
};

TEST_F(GreetTest, PauseIsTheClientsGreetPauseCutToTheCap) {
  SessionState st = connect();
  EXPECT_EQ(greet_pause_for(st.session, 9000ms), 3000ms);
  EXPECT_EQ(greet_pause_for(st.session, 1000ms), 1000ms);
  EXPECT_EQ(greet_pause_for(st.session, 0ms), 0ms);
  engine_.close(st.session);
}

TEST_F(GreetTest, SilentClientWaitsTheWholePauseAndProceeds) {
  SessionState st = connect();
  const auto start = clock_.steady();
  const policy::Decision d = hold_greeting(rt_, st, 3000ms);
  EXPECT_EQ(d.verdict, policy::Verdict::proceed);
  EXPECT_EQ(clock_.steady() - start, 3000ms);
  EXPECT_GT(probe_.calls, 10u);
  EXPECT_EQ(metrics_.get(Metric::greet_pauses_total), 1);
  EXPECT_EQ(metrics_.get(Metric::pregreet_detections_total), 0);
  engine_.close(st.session);
}

TEST_F(GreetTest, TalkerIsRejectedAsSoonAsSeen) {
  probe_.talk_after = 5;
  SessionState st = connect();
  const auto start = clock_.steady();
  const policy::Decision d = hold_greeting(rt_, st, 3000ms);
  EXPECT_EQ(d.verdict, policy::Verdict::reject);
  EXPECT_EQ(d.rcode, "554");
  EXPECT_NE(d.figure.find("17 bytes"), std::string::npos) << d.figure;
  EXPECT_LT(clock_.steady() - start, 1000ms);
  EXPECT_EQ(metrics_.get(Metric::pregreet_detections_total), 1);
  engine_.close(st.session);
}

TEST_F(GreetTest, InvisibleSocketDegradesToAPlainDelayCountedEachTimeLoggedOnce) {
  probe_.status = ProbeResult::Status::not_found;
  for (int i = 0; i < 2; ++i) {
    SessionState st = connect();
    const auto start = clock_.steady();
    EXPECT_EQ(hold_greeting(rt_, st, 2000ms).verdict, policy::Verdict::proceed);
    EXPECT_EQ(clock_.steady() - start, 2000ms);
    engine_.close(st.session);
  }
  EXPECT_EQ(metrics_.get(Metric::pregreet_unavailable_total), 2);
  EXPECT_TRUE(rt_.pregreet_health.is_unavailable());
}

// Not latched: the next session that sees its socket ends the spell.
TEST_F(GreetTest, DetectionIsRecheckedBySessionsAfterAnUnavailableSpell) {
  probe_.status = ProbeResult::Status::not_found;
  SessionState first = connect();
  hold_greeting(rt_, first, 1000ms);
  engine_.close(first.session);
  ASSERT_TRUE(rt_.pregreet_health.is_unavailable());
  probe_.status = ProbeResult::Status::silent;
  probe_.talk_after = probe_.calls + 2;
  SessionState second = connect();
  EXPECT_EQ(hold_greeting(rt_, second, 1000ms).verdict, policy::Verdict::reject);
  engine_.close(second.session);
  EXPECT_FALSE(rt_.pregreet_health.is_unavailable());
  EXPECT_EQ(metrics_.get(Metric::pregreet_detections_total), 1);
}

// A probe that fails (no netlink socket) costs that tick, not the session's
// detection: the next tick probes again and catches the talker.
TEST_F(GreetTest, FailedProbesAreRetriedOnTheNextTickAndCounted) {
  probe_.errors_first = 3;
  probe_.talk_after = 5;
  SessionState st = connect();
  const auto start = clock_.steady();
  const policy::Decision d = hold_greeting(rt_, st, 3000ms);
  EXPECT_EQ(d.verdict, policy::Verdict::reject);
  EXPECT_EQ(clock_.steady() - start, 400ms);  // probes at 0, 100, 200 failed; 300 silent; 400
  EXPECT_EQ(metrics_.get(Metric::pregreet_probe_errors_total), 3);
  EXPECT_EQ(metrics_.get(Metric::pregreet_unavailable_total), 0);
  engine_.close(st.session);
}

// Every probe of the pause failed: that one session's pause is a plain
// delay, counted; the next session probes again and is not affected.
TEST_F(GreetTest, ProbeFailuresThroughAWholePauseDegradeOnlyThatSession) {
  probe_.errors_first = 11;  // 0, 100, ..., 1000: the whole first pause
  SessionState first = connect();
  const auto start = clock_.steady();
  EXPECT_EQ(hold_greeting(rt_, first, 1000ms).verdict, policy::Verdict::proceed);
  EXPECT_EQ(clock_.steady() - start, 1000ms);
  engine_.close(first.session);
  EXPECT_EQ(metrics_.get(Metric::pregreet_probe_errors_total), 11);
  EXPECT_EQ(metrics_.get(Metric::pregreet_unavailable_total), 1);
  probe_.talk_after = probe_.calls + 1;
  SessionState second = connect();
  EXPECT_EQ(hold_greeting(rt_, second, 1000ms).verdict, policy::Verdict::reject);
  engine_.close(second.session);
  EXPECT_EQ(metrics_.get(Metric::pregreet_unavailable_total), 1);
}

TEST_F(GreetTest, MissingMacrosMeanAPlainDelayWithoutProbing) {
  SessionState st = connect("", "");
  const auto start = clock_.steady();
  EXPECT_EQ(hold_greeting(rt_, st, 1500ms).verdict, policy::Verdict::proceed);
  EXPECT_EQ(clock_.steady() - start, 1500ms);
  EXPECT_EQ(probe_.calls, 0u);
  EXPECT_EQ(metrics_.get(Metric::pregreet_unavailable_total), 1);
  engine_.close(st.session);
}

TEST_F(GreetTest, MonitorModeOnlyReportsTheTalker) {
  Engine monitor(EngineOptions{Mode::monitor}, std::make_shared<db::LocalCounters>(), clock_);
  monitor.set_policy(policy::Policy::build({default_rule("3000")}));
  MilterRuntime rt(monitor, metrics_, AdapterOptions{false}, watch_, waiter_);
  probe_.talk_after = 1;
  SessionState st;
  ConnectInfo info;
  info.client = policy::IpAddress::parse("198.51.100.7");
  monitor.connect(st.session, info);
  st.greet = GreetTarget{"192.0.2.1", "25", info.client, 4000};
  const policy::Decision d = hold_greeting(rt, st, 3000ms);
  EXPECT_EQ(d.verdict, policy::Verdict::proceed);
  EXPECT_TRUE(d.monitor);
  EXPECT_EQ(d.kind, policy::DecisionKind::pregreet);
  monitor.close(st.session);
}

}  // namespace
}  // namespace harden::milter
