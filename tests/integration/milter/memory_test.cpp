// memory_test.cpp - client memory against the built daemon (issue 12): a
// polite client pays the greet pause once; a slammer's third offence turns
// into a penalty that doubles on the next round, expires on time, survives a
// restart and is lifted by `hardenctl offenders remove`.
//
// Pre-greeting detection needs a real TCP connection behind each session
// (the daemon asks the kernel about the MTA's socket), and loopback clients
// are never remembered: the sessions run over a real TCP pair on one of the
// machine's own non-loopback addresses (the test skips, saying so, on a
// machine that has none). Time moves with the daemon's test clock
// (test_clock_control, the control socket's "clock" command), never by
// sleeping.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "daemon_fixture.hpp"
#include "support/fd.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One SMTP client's TCP connection to a stand-in MTA that never reads: what
// the client sends before the greeting stays in the MTA socket's queue, where
// the daemon's probe sees it.
struct TcpPair {
  Fd listener, client, mta;
  std::uint16_t mta_port = 0, client_port = 0;

  explicit TcpPair(const std::string& address) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
    listener = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener.get(), 4) != 0)
      throw std::runtime_error("TcpPair: cannot listen on " + address);
    mta_port = local_port(listener.get());
    a.sin_port = htons(mta_port);
    client = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("TcpPair: cannot connect to " + address);
    client_port = local_port(client.get());
    mta = Fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

  Peer peer(const std::string& address) const {
    Peer p = peer_at(address);
    p.port = client_port;
    p.daemon_addr = address;
    p.daemon_port = std::to_string(mta_port);
    return p;
  }

  void talk_first() const {
    const std::string ehlo = "EHLO slammer.example\r\n";
    ASSERT_EQ(::send(client.get(), ehlo.data(), ehlo.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(ehlo.size()));
  }
};

class ClientMemory : public DaemonTest {
 protected:
  void SetUp() override {
    address_ = local_ipv4_address();
    if (address_.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
    daemon().set("test_clock_control", "true");
    daemon().set("state_flush_interval", "100ms");
  }

  void penalties(const std::string& weights = "pregreet=1") {
    rule("default", {{"greet_pause", "200"},
                     {"penalty", "block"},
                     {"penalty_threshold", "3"},
                     {"penalty_window", "10m"},
                     {"penalty_base", "10m"},
                     {"penalty_max", "6h"},
                     {"penalty_memory", "7d"},
                     {"penalty_reply", "tempfail"},
                     {"penalty_weights", weights}});
  }

  // A session whose client talks before the greeting; its connect reply.
  Reply slam() {
    TcpPair t(address_);
    t.talk_first();
    Session s = open(t.peer(address_));
    Reply r = s.connect_reply();
    s.quit();
    return r;
  }

  // A silent session; its connect reply (and, when `deliver`, a whole
  // transaction up to an accepted RCPT).
  Reply polite(bool deliver = false) {
    TcpPair t(address_);
    Session s = open(t.peer(address_));
    Reply r = s.connect_reply();
    if (deliver && r.is_continue()) {
      EXPECT_CONTINUES(s.helo());
      EXPECT_CONTINUES(s.mail());
      EXPECT_CONTINUES(s.rcpt("<user@example.org>"));
    }
    s.quit();
    return r;
  }

  json control(const json& request) { return json::parse(daemon().control(request.dump())); }
  json show() { return control({{"cmd", "offenders"}, {"action", "show"}, {"ip", address_}}); }
  void advance(std::chrono::milliseconds d) {
    const json r = control({{"cmd", "clock"}, {"advance_ms", d.count()}});
    ASSERT_TRUE(r.value("ok", false)) << r.dump();
  }
  // The penalty's length in seconds: its "until" minus its "start".
  static std::int64_t length_s(const json& record) {
    const auto epoch = [](const std::string& t) {
      std::tm tm{};
      EXPECT_NE(::strptime(t.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm), nullptr) << t;
      return static_cast<std::int64_t>(::timegm(&tm));
    };
    return epoch(record["penalty"].value("until", "")) -
           epoch(record["penalty"].value("start", ""));
  }

  std::string address_;
};

TEST_F(ClientMemory, APoliteClientPaysTheGreetPauseOnce) {
  rule("default", {{"greet_pause", "200"}, {"greet_pass_ttl", "1h"}});
  start();
  EXPECT_CONTINUES(polite(/*deliver=*/true));
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 1.0);
  const json rec = show();
  ASSERT_TRUE(rec.value("known", false)) << rec.dump();
  EXPECT_TRUE(rec["record"]["pass_until"].is_string()) << rec.dump();

  EXPECT_CONTINUES(polite());
  EXPECT_CONTINUES(polite());
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 1.0);  // no pause held again
  EXPECT_EQ(metric("milter_harden_greet_pauses_passed_total"), 2.0);

  // The pass ends with its ttl: the next connection waits again.
  advance(1h);
  EXPECT_CONTINUES(polite());
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 2.0);
}

TEST_F(ClientMemory, AClientThatOnlyConnectsEarnsNoPass) {
  rule("default", {{"greet_pause", "200"}, {"greet_pass_ttl", "1h"}});
  start();
  EXPECT_CONTINUES(polite(/*deliver=*/false));
  EXPECT_CONTINUES(polite(/*deliver=*/false));
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 2.0);
  EXPECT_EQ(metric("milter_harden_greet_pauses_passed_total"), 0.0);
}

TEST_F(ClientMemory, ABlockRuleRefusalLosesThePass) {
  rule("default", {{"greet_pause", "200"}, {"greet_pass_ttl", "1h"}});
  start();
  EXPECT_CONTINUES(polite(/*deliver=*/true));
  ASSERT_TRUE(show()["record"]["pass_until"].is_string());
  rule(address_, {{"action", "block"}});
  daemon().control(R"({"cmd":"reload"})");
  EXPECT_REFUSED(polite(), "550", "5.7.1");
  EXPECT_FALSE(show()["record"]["pass_until"].is_string());
  remove_rule(address_);
  daemon().control(R"({"cmd":"reload"})");
  EXPECT_CONTINUES(polite());
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 2.0);  // the pause is paid again
  EXPECT_EQ(metric("milter_harden_greet_pauses_passed_total"), 0.0);
}

TEST_F(ClientMemory, ASlammersThirdOffenceIsAPenaltyThatDoublesExpiresAndSurvivesARestart) {
  penalties();
  start();
  EXPECT_REFUSED(slam(), "554", "5.7.1");
  EXPECT_REFUSED(slam(), "554", "5.7.1");
  const std::size_t mark = daemon().mark();
  EXPECT_REFUSED(slam(), "554", "5.7.1");  // the third: a penalty starts
  EXPECT_TRUE(daemon().wait_for_log("penalty: client=[" + address_ + "]", 5s, mark));
  EXPECT_TRUE(daemon().wait_for_log("length=10m", 5s, mark));
  EXPECT_EQ(metric("milter_harden_penalties_started_total"), 1.0);

  // In force: refused at connect, before any pause.
  EXPECT_REFUSED(polite(), "421", "4.7.0");
  json rec = show()["record"];
  EXPECT_EQ(rec["penalty"]["n"], 1);
  EXPECT_EQ(length_s(rec), 600);

  // Still in force shortly before its end (10 s: more than this test takes
  // in real time since the penalty began), over after it.
  advance(10min - 10s);
  EXPECT_REFUSED(polite(), "421", "4.7.0");
  advance(10s);
  EXPECT_CONTINUES(polite());

  // The next round within penalty_memory: twice as long.
  for (int i = 0; i < 3; ++i) EXPECT_REFUSED(slam(), "554", "5.7.1");
  rec = show()["record"];
  EXPECT_EQ(rec["penalty"]["n"], 2);
  EXPECT_EQ(length_s(rec), 1200);
  EXPECT_REFUSED(polite(), "421", "4.7.0");

  // A restart keeps it (the state file), then hardenctl lifts it at once.
  ASSERT_TRUE(daemon().stop());
  start();
  EXPECT_REFUSED(polite(), "421", "4.7.0");
  const auto r = daemon().hardenctl(
      {"offenders", "remove", address_, "--socket", daemon().control_socket().string()});
  EXPECT_NE(r.output.find("forgotten"), std::string::npos) << r.output;
  EXPECT_CONTINUES(polite());
  EXPECT_FALSE(show().value("known", true));
}

TEST_F(ClientMemory, MonitorModeOnlySaysItWouldPenalise) {
  penalties();
  daemon().set("mode", "monitor");
  start();
  for (int i = 0; i < 3; ++i) EXPECT_CONTINUES(slam());
  EXPECT_TRUE(daemon().wait_for_log("would penalise: client=[" + address_ + "]", 5s));
  const std::size_t mark = daemon().mark();
  EXPECT_CONTINUES(polite());
  EXPECT_TRUE(daemon().wait_for_log("would reject: client=[" + address_ + "]", 5s, mark));
  EXPECT_TRUE(daemon().wait_for_log("kind=penalty", 5s, mark));
}

TEST_F(ClientMemory, AllowRulesAreNeverPenalised) {
  penalties("pregreet=3");
  rule(address_, {{"action", "allow"}});
  start();
  for (int i = 0; i < 3; ++i) EXPECT_PASSES(slam());
  EXPECT_FALSE(show().value("known", true));
}

TEST_F(ClientMemory, AnAdminsPenaltyAppliesAtOnceAndIsListed) {
  penalties();
  start();
  const auto r =
      daemon().hardenctl({"offenders", "add", address_, "--for", "1h", "--reason", "seen in a trap",
                          "--socket", daemon().control_socket().string()});
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_REFUSED(polite(), "421", "4.7.0");
  const auto list = daemon().hardenctl(
      {"offenders", "list", "--json", "--socket", daemon().control_socket().string()});
  const json j = json::parse(list.output);
  ASSERT_EQ(j["offenders"].size(), 1u);
  EXPECT_EQ(j["offenders"][0]["penalty"]["reason"], "manual: seen in a trap");
  // "client" shows the record beside the limits and counters.
  const json client = control({{"cmd", "client"}, {"ip", address_}});
  EXPECT_EQ(client["memory"]["penalty"]["in_force"], true) << client.dump();
  // The control socket refuses bad requests with one line.
  EXPECT_FALSE(control({{"cmd", "offenders"}, {"action", "add"}, {"ip", address_}, {"for_ms", 5}})
                   .value("ok", true));
  EXPECT_FALSE(
      control({{"cmd", "offenders"}, {"action", "add"}, {"ip", "127.0.0.1"}, {"for_ms", 60000}})
          .value("ok", true));
  EXPECT_FALSE(
      control({{"cmd", "offenders"}, {"action", "zap"}, {"ip", address_}}).value("ok", true));
}

TEST_F(ClientMemory, TheClockMovesOnlyWhenTheConfigSaysSo) {
  daemon().set("test_clock_control", "false");
  start();
  EXPECT_FALSE(control({{"cmd", "clock"}, {"advance_ms", 1000}}).value("ok", true));
}

}  // namespace
}  // namespace harden::testing
