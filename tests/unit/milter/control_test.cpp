// control_test.cpp - control socket requests (parsing hostile input),
// dispatch and error replies, the "client" description, peer credentials,
// and the metrics the control plane exports.
#include "harden/milter/control.hpp"

#include <gtest/gtest.h>

#include "harden/db/counters.hpp"
#include "harden/milter/control_plane.hpp"
#include "harden/milter/metrics.hpp"

namespace harden::milter {
namespace {

using nlohmann::json;
using Command = ControlRequest::Command;
using namespace std::chrono_literals;

std::string parse_error(std::string_view line) {
  try {
    parse_control_request(line);
  } catch (const ControlError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ControlRequestTest, ParsesEveryCommand) {
  EXPECT_EQ(parse_control_request(R"({"cmd":"stats"})").command, Command::stats);
  EXPECT_EQ(parse_control_request(R"({"cmd":"reload"})").command, Command::reload);
  const auto c = parse_control_request(R"({"cmd":"client","ip":"192.0.2.7"})");
  EXPECT_EQ(c.command, Command::client);
  EXPECT_EQ(c.ip->to_string(), "192.0.2.7");
  EXPECT_EQ(c.hostname, "");
  const auto h =
      parse_control_request(R"({"cmd":"client","ip":"2001:DB8::7","hostname":"MX.Example.ORG"})");
  EXPECT_EQ(h.ip->to_string(), "2001:db8::7");
  EXPECT_EQ(h.hostname, "mx.example.org");
  const auto f = parse_control_request(R"( {"ip":"::ffff:192.0.2.9","cmd":"flush","extra":1} )");
  EXPECT_EQ(f.command, Command::flush);
  EXPECT_EQ(f.ip->to_string(), "192.0.2.9");
  const auto t = parse_control_request(R"({"cmd":"top"})");
  EXPECT_EQ(t.command, Command::top);
  EXPECT_EQ(t.limit, kDefaultTopN);
  EXPECT_EQ(parse_control_request(R"({"cmd":"top","n":3})").limit, 3u);
  EXPECT_EQ(parse_control_request(R"({"cmd":"offenders","limit":7})").limit, 7u);
  EXPECT_EQ(parse_control_request(R"({"cmd":"offenders"})").limit, 0u);  // the default 1,000
}

TEST(ControlDispatchTest, ServicesWithoutTopSaySo) {
  struct Bare final : ControlService {
    json stats() override { return {}; }
    json client(const ControlRequest&) override { return {}; }
    json flush(const policy::IpAddress&) override { return {}; }
    json reload() override { return {}; }
  } svc;
  const json j = json::parse(handle_control_line(R"({"cmd":"top"})", svc));
  EXPECT_EQ(j.at("ok"), false);
  EXPECT_EQ(j.at("error"), "top is not available here");
}

TEST(RefusalTallyTest, CountsPerKeyMostRefusedFirst) {
  RefusalTally t;
  const auto k = [](const char* s) { return policy::IpNetwork::parse(s); };
  for (int i = 0; i < 5; ++i) t.count(k("192.0.2.66/32"), policy::DecisionKind::conn_rate);
  t.count(k("192.0.2.66/32"), policy::DecisionKind::penalty);
  for (int i = 0; i < 3; ++i) t.count(k("2001:db8::/64"), policy::DecisionKind::blocked);
  t.count(k("192.0.2.9/32"), policy::DecisionKind::pregreet);
  EXPECT_EQ(t.total(), 10u);
  const auto top = t.top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].key, k("192.0.2.66/32"));
  EXPECT_EQ(top[0].refusals, 6u);
  EXPECT_EQ(top[0].error, 0u);
  EXPECT_EQ(top[0].last, policy::DecisionKind::penalty);
  EXPECT_EQ(top[1].key, k("2001:db8::/64"));
  EXPECT_EQ(t.top(100).size(), 3u);
}

TEST(RefusalTallyTest, ASprayCannotGrowItOrHideAHeavyHitter) {
  RefusalTally t;
  const auto heavy = policy::IpNetwork::parse("198.51.100.1/32");
  // 100,000 addresses refused once each, one heavy hitter refused every 20th time.
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const std::uint32_t a = 0x0a000000u + i;  // 10.0.0.0 + i
    const policy::IpAddress addr =
        policy::IpAddress::try_parse(std::to_string(a >> 24) + "." +
                                     std::to_string((a >> 16) & 255) + "." +
                                     std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255))
            .value();
    t.count(policy::IpNetwork(addr, 32), policy::DecisionKind::conn_rate);
    if (i % 20 == 0) t.count(heavy, policy::DecisionKind::conn_rate);
  }
  const auto top = t.top(RefusalTally::kShards * RefusalTally::kSlotsPerShard + 10);
  EXPECT_EQ(top.size(), t.capacity());  // fixed size, whatever the spray
  ASSERT_FALSE(top.empty());
  EXPECT_EQ(top[0].key, heavy);
  EXPECT_GE(top[0].refusals, 5'000u);  // never below the truth
  EXPECT_LE(top[0].refusals - top[0].error, 5'000u);
  EXPECT_EQ(t.total(), 105'000u);
}

TEST(ControlRequestTest, RefusesHostileInputWithOneLine) {
  struct Case {
    std::string line;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"", "bad JSON"},
           {"{", "bad JSON"},
           {"stats", "bad JSON"},
           {R"(["cmd","stats"])", "must be a JSON object"},
           {R"("stats")", "must be a JSON object"},
           {R"({})", "cmd: missing"},
           {R"({"cmd":5})", "cmd: must be a string"},
           {R"({"cmd":"shutdown"})",
            "unknown cmd 'shutdown' (known: stats, client, flush, reload, offenders, clock, top)"},
           {R"({"cmd":"top","n":0})", "n: 0 is out of range 1..100"},
           {R"({"cmd":"top","n":101})", "n: 101 is out of range 1..100"},
           {R"({"cmd":"top","n":"5"})", "n: must be an integer"},
           {R"({"cmd":"offenders","limit":0})", "limit: 0 is out of range 1..1000"},
           {R"({"cmd":"STATS"})", "unknown cmd"},
           {R"({"cmd":"client"})", "ip: missing"},
           {R"({"cmd":"flush","ip":null})", "ip: missing"},
           {R"({"cmd":"flush","ip":["192.0.2.7"]})", "ip: must be a string"},
           {R"({"cmd":"flush","ip":"192.0.2.0/24"})", "is not an IP address"},
           {R"({"cmd":"flush","ip":"999.1.1.1"})", "is not an IP address"},
           {R"({"cmd":"client","ip":"192.0.2.7","hostname":"bad host"})", "is not a host name"},
           {R"({"cmd":"client","ip":"192.0.2.7","hostname":7})", "hostname: must be a string"},
           {std::string(R"({"cmd":"stats"})") + std::string("\0", 1), "bad JSON"},
           {R"({"cmd":"stats\u0000"})", "unknown cmd"},
           {R"({"cmd":"x)" + std::string(5000, 'y') + R"("})", "request too long"},
           {std::string(3000, '[') + std::string(3000, ']'), "request too long"},
           {std::string(2000, '[') + std::string(2000, ']'), "must be a JSON object"},
           {"{\"cmd\":\"\xff\xfe\"}", "bad JSON"},
           {R"({"cmd":"offenders","action":"zap"})", "unknown action 'zap'"},
           {R"({"cmd":"offenders","action":7})", "action: must be a string"},
           {R"({"cmd":"offenders","action":"show"})", "ip: missing"},
           {R"({"cmd":"offenders","action":"remove","ip":"x"})", "is not an IP address"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7"})", "for_ms: must be an integer"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":"1h"})",
            "for_ms: must be an integer"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":999})",
            "out of range 1000.."},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":1e30})",
            "for_ms: must be an integer"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":-5})", "out of range"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":60000,"reason":"a\nb"})",
            "reason"},
           {R"({"cmd":"offenders","action":"add","ip":"192.0.2.7","for_ms":60000,"reason":")" +
                std::string(300, 'r') + R"("})",
            "reason"},
           {R"({"cmd":"clock"})", "advance_ms: must be an integer"},
           {R"({"cmd":"clock","advance_ms":0})", "out of range"},
       }) {
    const std::string err = parse_error(c.line);
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.line.substr(0, 60) << " -> " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_LT(err.size(), 400u);
  }
}

class FakeService final : public ControlService {
 public:
  json stats() override { return {{"ok", true}, {"calls", ++calls}}; }
  json client(const ControlRequest& r) override { return {{"ip", r.ip->to_string()}}; }
  json flush(const policy::IpAddress&) override { throw std::runtime_error("boom\nsecond line"); }
  json reload() override { return {{"ok", false}, {"error", "store is broken"}}; }
  int calls = 0;
};

TEST(ControlDispatchTest, EveryReplyIsOneJsonLine) {
  FakeService svc;
  struct Case {
    std::string line;
    bool ok;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"cmd":"stats"})", true, ""},
           {R"({"cmd":"client","ip":"192.0.2.7"})", true, ""},
           {R"({"cmd":"flush","ip":"192.0.2.7"})", false, "boom second line"},
           {R"({"cmd":"reload"})", false, "store is broken"},
           {"garbage\x01", false, "bad JSON"},
       }) {
    const std::string reply = handle_control_line(c.line, svc);
    EXPECT_EQ(reply.find('\n'), std::string::npos) << reply;
    const json j = json::parse(reply);
    EXPECT_EQ(j.at("ok"), c.ok) << reply;
    if (!c.ok) {
      EXPECT_EQ(j.at("error"), c.error) << reply;
    }
  }
  EXPECT_EQ(svc.calls, 1);
  EXPECT_EQ(json::parse(handle_control_line(R"({"cmd":"client","ip":"192.0.2.7"})", svc))["ip"],
            "192.0.2.7");
}

policy::Rule make_rule(std::string_view selector,
                       std::initializer_list<std::pair<const char*, const char*>> attrs) {
  policy::Rule r;
  r.selector = policy::Selector::parse(selector);
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

TEST(DescribeClientTest, ShowsEffectiveLimitsWithSourcesAndLiveCounters) {
  policy::ManualClock clock;
  auto counters = std::make_shared<db::LocalCounters>();
  Engine engine(EngineOptions{}, counters, clock);
  ControlRequest req = parse_control_request(R"({"cmd":"client","ip":"192.0.2.7"})");
  EXPECT_THROW(describe_client(engine, req, clock), ControlError);  // no policy yet
  engine.set_policy(
      policy::Policy::build({make_rule("default", {{"conn_rate", "5/60s"}, {"max_rcpts", "25"}}),
                             make_rule("192.0.2.0/24", {{"conn_rate", "10/1m"}}),
                             make_rule(".example.org", {{"max_rcpts", "50"}})}));
  json j = describe_client(engine, req, clock);
  EXPECT_EQ(j["key"], "192.0.2.7");
  EXPECT_EQ(j["resolve"], "FAIL");
  EXPECT_EQ(j["counters"]["known"], false);
  EXPECT_EQ(j["limits"]["conn_rate"]["value"], "10/1m");
  EXPECT_EQ(j["limits"]["conn_rate"]["source"], "192.0.2.0/24");
  EXPECT_EQ(j["limits"]["max_rcpts"]["value"], "25");
  EXPECT_EQ(j["limits"]["max_rcpts"]["source"], "default");
  EXPECT_EQ(j["limits"].size(), policy::kAttrCount);
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "0");
  EXPECT_EQ(j["limits"]["greet_pause"]["cut"], false);

  Session a, b;
  engine.connect(a,
                 ConnectInfo{policy::IpAddress::parse("192.0.2.7"), 1, "mx.example.org", "", "OK"});
  engine.connect(b,
                 ConnectInfo{policy::IpAddress::parse("192.0.2.7"), 2, "mx.example.org", "", "OK"});
  engine.close(b);
  req.hostname = "mx.example.org";
  j = describe_client(engine, req, clock);
  EXPECT_EQ(j["resolve"], "OK");
  EXPECT_EQ(j["limits"]["max_rcpts"]["value"], "50");
  EXPECT_EQ(j["limits"]["max_rcpts"]["source"], ".example.org");
  EXPECT_EQ(j["counters"]["known"], true);
  EXPECT_EQ(j["counters"]["conn_count"], 2);
  EXPECT_EQ(j["counters"]["open"], 1);
  engine.close(a);
}

// The daemon holds at most greet_pause_cap: "client" shows that, not the
// policy's figure alone.
TEST(DescribeClientTest, GreetPauseIsThePauseHeldCutToTheCap) {
  policy::ManualClock clock;
  Engine engine(EngineOptions{.greet_pause_cap = 9000ms}, std::make_shared<db::LocalCounters>(),
                clock);
  engine.set_policy(policy::Policy::build({make_rule("default", {{"greet_pause", "2000"}}),
                                           make_rule("192.0.2.0/24", {{"greet_pause", "30s"}})}));
  const ControlRequest req = parse_control_request(R"({"cmd":"client","ip":"192.0.2.7"})");
  json g = describe_client(engine, req, clock)["limits"]["greet_pause"];
  EXPECT_EQ(g["value"], "9000");
  EXPECT_EQ(g["held_ms"], 9000);
  EXPECT_EQ(g["policy_ms"], 30000);
  EXPECT_EQ(g["cap_ms"], 9000);
  EXPECT_EQ(g["cut"], true);
  EXPECT_EQ(g["text"], "9000 (policy 30000, cut to greet_pause_cap)");
  EXPECT_EQ(g["source"], "192.0.2.0/24");
  g = describe_client(engine, parse_control_request(R"({"cmd":"client","ip":"198.51.100.1"})"),
                      clock)["limits"]["greet_pause"];
  EXPECT_EQ(g["value"], "2000");
  EXPECT_EQ(g["cut"], false);
  EXPECT_EQ(g["text"], "2000");
}

TEST(PeerCredentialsTest, RootOrTheDaemonsUserOrGroupOnly) {
  EXPECT_TRUE(ControlPlane::peer_allowed(0, 0, 110, 120));       // root
  EXPECT_TRUE(ControlPlane::peer_allowed(110, 5, 110, 120));     // same user
  EXPECT_TRUE(ControlPlane::peer_allowed(1000, 120, 110, 120));  // same group
  EXPECT_FALSE(ControlPlane::peer_allowed(1000, 1000, 110, 120));
  EXPECT_FALSE(ControlPlane::peer_allowed(65534, 65534, 110, 120));
}

TEST(MetricsTest, CountsDecisionsByKindAndOutcome) {
  Metrics m;
  policy::Decision refuse;
  refuse.verdict = policy::Verdict::tempfail;
  refuse.kind = policy::DecisionKind::conn_rate;
  m.count_decision(refuse);
  m.count_decision(refuse);
  policy::Decision monitor = refuse;
  monitor.verdict = policy::Verdict::proceed;
  monitor.monitor = true;
  m.count_decision(monitor);
  policy::Decision delay;
  delay.kind = policy::DecisionKind::bad_rcpt_throttle;
  delay.delay = std::chrono::seconds{1};
  m.count_decision(delay);
  m.count_decision(policy::Decision{});  // nothing happened: not counted
  EXPECT_EQ(m.decisions(policy::DecisionKind::conn_rate, Outcome::tempfail), 2u);
  EXPECT_EQ(m.decisions(policy::DecisionKind::conn_rate, Outcome::monitor), 1u);
  EXPECT_EQ(m.decisions(policy::DecisionKind::bad_rcpt_throttle, Outcome::delay), 1u);
  EXPECT_EQ(m.decisions(policy::DecisionKind::none, Outcome::accept), 0u);
  m.bump(Metric::sessions_total);
  m.add(Metric::sessions_open, 3);
  m.add(Metric::sessions_open, -1);

  MetricsExtras x;
  x.counters.entries = 7;
  x.counters.evictions = 2;
  x.policy_rules = 1600;
  const std::string text = m.render(x);
  for (const char* want :
       {"# TYPE milter_harden_sessions_total counter\nmilter_harden_sessions_total 1\n",
        "# TYPE milter_harden_sessions_open gauge\nmilter_harden_sessions_open 2\n",
        "milter_harden_pregreet_unavailable_total 0\n",
        "milter_harden_decisions_total{kind=\"conn_rate\",outcome=\"tempfail\"} 2\n",
        "milter_harden_decisions_total{kind=\"conn_rate\",outcome=\"monitor\"} 1\n",
        "milter_harden_decisions_total{kind=\"bad_rcpt_throttle\",outcome=\"delay\"} 1\n",
        "milter_harden_counter_entries 7\n", "milter_harden_counter_evictions_total 2\n",
        "milter_harden_policy_rules 1600\n"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want;
  }
  EXPECT_EQ(text.find("outcome=\"reject\""), std::string::npos);  // zero series are left out
  const json j = m.to_json();
  EXPECT_EQ(j["sessions_open"], 2);
  EXPECT_EQ(j["decisions"]["conn_rate"]["tempfail"], 2);
}

}  // namespace
}  // namespace harden::milter
