// Each check of decision.hpp: proceeds at the limit, refuses one past it with
// DESIGN's reply, names the rule and the figure.
#include "harden/policy/decision.hpp"

#include <gtest/gtest.h>

namespace harden::policy {
namespace {

Rule make_rule(std::string_view selector,
               std::initializer_list<std::pair<const char*, const char*>> attrs) {
  Rule r;
  r.selector = Selector::parse(selector);
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

class DecisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_ = Policy::build({
        make_rule("default", {{"conn_rate", "5/60s"},
                              {"conn_limit", "3"},
                              {"greet_pause", "2000"},
                              {"max_rcpts", "25"},
                              {"bad_rcpt_throttle", "2"},
                              {"rcpt_rate", "100/1h"},
                              {"msg_rate", "10/1m"}}),
        make_rule("192.0.2.0/24", {{"conn_rate", "10/1m"}}),
        make_rule(".dsl.example.net",
                  {{"action", "block"}, {"reason", "Dial-in, relay via your ISP"}}),
        make_rule("198.51.100.9", {{"action", "tempfail"}}),
        make_rule("203.0.113.1", {{"action", "allow"}}),
    });
  }
  Resolution resolve(std::string_view ip, std::string_view host = "") {
    Client c;
    c.address = IpAddress::parse(ip);
    c.hostname = std::string(host);
    c.resolve = host.empty() ? RdnsStatus::fail : RdnsStatus::ok;
    return policy_->resolve(c, UnixTime{std::chrono::seconds{1'800'000'000}});
  }
  std::shared_ptr<const Policy> policy_;
};

TEST_F(DecisionTest, ConnRateProceedsAtTheLimitAndRefusesOnePast) {
  const auto r = resolve("192.0.2.7");
  EXPECT_EQ(check_conn_rate(r, *policy_, 10).verdict, Verdict::proceed);
  const Decision d = check_conn_rate(r, *policy_, 11);
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.kind, DecisionKind::conn_rate);
  EXPECT_EQ(d.rcode, "421");
  EXPECT_EQ(d.xcode, "4.3.2");
  EXPECT_EQ(d.text, "Connection rate limit exceeded.");
  EXPECT_EQ(d.rule, "192.0.2.0/24");
  EXPECT_EQ(d.figure, "conn_rate 11/1m > 10/1m");
}

TEST_F(DecisionTest, ConnLimitRefusesOnlyWhenNoSlotWasTaken) {
  const auto r = resolve("10.1.1.1");
  EXPECT_EQ(check_conn_limit(r, *policy_, 3, true).verdict, Verdict::proceed);
  const Decision d = check_conn_limit(r, *policy_, 3, false);
  EXPECT_EQ(d.verdict, Verdict::tempfail);
  EXPECT_EQ(d.rcode + " " + d.xcode + " " + d.text, "421 4.3.2 Too many open connections.");
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.figure, "conn_limit 4 > 3");
}

TEST_F(DecisionTest, RecipientChecks) {
  const auto r = resolve("10.1.1.1");
  EXPECT_EQ(check_max_rcpts(r, *policy_, 25).verdict, Verdict::proceed);
  const Decision m = check_max_rcpts(r, *policy_, 26);
  EXPECT_EQ(m.rcode + " " + m.xcode + " " + m.text, "452 4.5.3 Too many recipients");

  EXPECT_EQ(check_bad_rcpt_throttle(r, *policy_, 1).delay.count(), 0);
  const Decision t = check_bad_rcpt_throttle(r, *policy_, 2);
  EXPECT_EQ(t.verdict, Verdict::proceed);
  EXPECT_EQ(t.delay, std::chrono::seconds{1});
  EXPECT_EQ(t.kind, DecisionKind::bad_rcpt_throttle);

  EXPECT_EQ(check_rcpt_rate(r, *policy_, 100).verdict, Verdict::proceed);
  const Decision rr = check_rcpt_rate(r, *policy_, 101);
  EXPECT_EQ(rr.rcode + " " + rr.xcode, "450 4.7.1");
  EXPECT_NE(rr.text.find("too many recipients from 10.1.1.1"), std::string::npos);
  EXPECT_EQ(check_msg_rate(r, *policy_, 10).verdict, Verdict::proceed);
  EXPECT_EQ(check_msg_rate(r, *policy_, 11).rcode, "450");
}

TEST_F(DecisionTest, PregreetTrafficIsRejected) {
  const auto r = resolve("10.1.1.1");
  EXPECT_EQ(check_pregreet(r, *policy_, 0).verdict, Verdict::proceed);
  const Decision d = check_pregreet(r, *policy_, 22);
  EXPECT_EQ(d.verdict, Verdict::reject);
  EXPECT_EQ(d.rcode, "554");
  EXPECT_NE(d.text.find("pre-greeting traffic"), std::string::npos);
  EXPECT_NE(d.figure.find("22 bytes"), std::string::npos);
}

TEST_F(DecisionTest, ActionsMapToTheirReplies) {
  const Decision blocked = check_action(resolve("10.1.1.1", "host-1.dsl.example.net"), *policy_);
  EXPECT_EQ(blocked.verdict, Verdict::reject);
  EXPECT_EQ(blocked.kind, DecisionKind::blocked);
  EXPECT_EQ(blocked.rcode + " " + blocked.xcode, "550 5.7.1");
  EXPECT_EQ(blocked.text, "Dial-in, relay via your ISP");
  EXPECT_EQ(blocked.rule, ".dsl.example.net");

  const Decision temp = check_action(resolve("198.51.100.9"), *policy_);
  EXPECT_EQ(temp.verdict, Verdict::tempfail);
  EXPECT_EQ(temp.rcode.front(), '4');

  const Decision allowed = check_action(resolve("203.0.113.1", "host-1.dsl.example.net"), *policy_);
  EXPECT_EQ(allowed.verdict, Verdict::accept_all);
  EXPECT_EQ(allowed.rule, "203.0.113.1");

  EXPECT_EQ(check_action(resolve("10.1.1.1"), *policy_).verdict, Verdict::proceed);
}

TEST_F(DecisionTest, UnlimitedNeverRefuses) {
  auto p = Policy::build(
      {make_rule("default", {{"conn_rate", "0"}, {"conn_limit", "0"}, {"max_rcpts", "0"}})});
  Client c;
  c.address = IpAddress::parse("10.0.0.1");
  const auto r = p->resolve(c, UnixTime{});
  EXPECT_EQ(check_conn_rate(r, *p, 1'000'000).verdict, Verdict::proceed);
  EXPECT_EQ(check_conn_limit(r, *p, 1'000'000, true).verdict, Verdict::proceed);
  EXPECT_EQ(check_conn_limit(r, *p, 1'000'000, false).verdict, Verdict::proceed);
  EXPECT_EQ(check_max_rcpts(r, *p, 1'000'000).verdict, Verdict::proceed);
}

TEST(HeldPauseTest, ThePolicyPauseIsCutToTheCap) {
  using std::chrono::milliseconds;
  const HeldPause cut = held_greet_pause(30'000, milliseconds{9000});
  EXPECT_EQ(cut.policy_ms, 30'000u);
  EXPECT_EQ(cut.cap_ms, 9000u);
  EXPECT_EQ(cut.held_ms, 9000u);
  EXPECT_TRUE(cut.cut());
  EXPECT_EQ(held_pause_text(cut), "9000 (policy 30000, cut to greet_pause_cap)");
  const HeldPause kept = held_greet_pause(2000, milliseconds{9000});
  EXPECT_FALSE(kept.cut());
  EXPECT_EQ(held_pause_text(kept), "2000");
  EXPECT_EQ(held_pause_text(held_greet_pause(9000, milliseconds{9000})), "9000");
  EXPECT_EQ(held_pause_text(held_greet_pause(0, milliseconds{0})), "0");
  EXPECT_EQ(held_pause_text(held_greet_pause(2000, milliseconds{0})),
            "0 (policy 2000, cut to greet_pause_cap)");
  EXPECT_EQ(held_greet_pause(2000, milliseconds{-5}).held_ms, 0u);
}

}  // namespace
}  // namespace harden::policy
