// mta_test.cpp - milter-harden under real Postfix and real sendmail on
// loopback: what an SMTP client sees, per MTA. Each test starts its own
// daemon (inet socket, fresh store) and its own MTA instance and stops both,
// however it ends.
//
// The store is `hardenctl init`'s without the loopback allow rules (every
// client here is 127.0.0.1) and with every limit off; each test turns on
// the one it checks. Greet pauses only where a test needs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "harden/db/store.hpp"
#include "harden/policy/selector.hpp"
#include "mta_runner.hpp"
#include "support/daemon.hpp"
#include "support/milter_recorder.hpp"
#include "support/process.hpp"
#include "support/smtp_client.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr auto kGreetPause = 1500ms;

class RealMta : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string why = mta_unavailable(GetParam());
    if (why.starts_with("needs root")) GTEST_SKIP() << why;
    ASSERT_EQ(why, "") << GetParam() << " cannot run here";
    dir_ = std::make_unique<TempDir>("harden-mta", "/run");
    daemon_ = std::make_unique<MilterDaemon>(dir_->path() / "milter");
    std::filesystem::create_directories(daemon_->dir());
    milter_port_ = free_tcp_port();
    daemon_->set("socket", "inet:" + std::to_string(milter_port_) + "@127.0.0.1");
    auto store = db::Store::open(daemon_->store());
    store.init_defaults();
    for (const auto& r : store.rules())
      if (r.selector.kind() != policy::Selector::Kind::default_rule) store.remove(r.selector);
    set_default({{"conn_rate", "0"},
                 {"conn_limit", "0"},
                 {"greet_pause", "0"},
                 {"max_rcpts", "0"},
                 {"bad_rcpt_throttle", "0"},
                 {"rcpt_rate", "0"},
                 {"msg_rate", "0"},
                 {"dialin", "off"},
                 {"missing_rdns", "off"}});
  }

  void TearDown() override {
    // HARDEN_TEST_VERBOSE=1 shows the logs of passing tests too.
    if (mta_ && (HasFailure() || std::getenv("HARDEN_TEST_VERBOSE"))) {
      std::cerr << "---- " << mta_->name() << " log ----\n"
                << mta_->log() << "---- milter log ----\n"
                << daemon_->log() << "---- end ----\n";
    }
    mta_.reset();  // stops the MTA first: its sessions end, then the milter
    recorder_.reset();
    if (daemon_ && daemon_->running()) daemon_->stop();
  }

  void set_default(const std::vector<std::pair<std::string, std::string>>& attrs) {
    auto store = db::Store::open(daemon_->store());
    auto rule = store.find(policy::Selector::for_default());
    for (const auto& [k, v] : attrs) rule->attrs.set(k, v);
    store.update(*rule);
  }

  void start() {
    daemon_->start();
    mta_ = make_mta(GetParam(), dir_->path());
    // HARDEN_RECORD_MILTER_DIR=DIR: relay the milter connection and keep what
    // the MTA sent (the fuzz target's real seed corpus, tests/fuzz/corpus-real).
    if (const char* rec = std::getenv("HARDEN_RECORD_MILTER_DIR"); rec && *rec) {
      const std::string name =
          GetParam() + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::string file;
      for (char ch : name) file += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
      recorder_ = std::make_unique<MilterRecorder>(milter_port_, rec, file);
      mta_->start(recorder_->port());
      return;
    }
    mta_->start(milter_port_);
  }

  SmtpClient client() { return SmtpClient::connect("127.0.0.1", mta_->smtp_port(), 30s); }

  // Greeting, EHLO and MAIL; asserts each got its 2xx.
  SmtpClient session_to_mail() {
    SmtpClient c = client();
    const SmtpReply g = c.read_reply();
    EXPECT_EQ(g.code, 220) << g.describe();
    const SmtpReply e = c.command("EHLO client.test.example");
    EXPECT_EQ(e.code, 250) << e.describe();
    const SmtpReply m = c.command("MAIL FROM:<sender@example.org>");
    EXPECT_EQ(m.code, 250) << m.describe();
    return c;
  }

  // The first reply that is not 220: the greeting if it refuses, else EHLO's.
  SmtpReply first_refusal_or_ehlo(SmtpClient& c) {
    SmtpReply g = c.read_reply();
    if (g.code != 220) return g;
    return c.command("EHLO client.test.example");
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<MilterDaemon> daemon_;
  std::unique_ptr<Mta> mta_;
  std::unique_ptr<MilterRecorder> recorder_;
  std::uint16_t milter_port_ = 0;
};

// A client that waits for the greeting gets through to 250 for RCPT,
// greet pause and all.
TEST_P(RealMta, PoliteClientGetsThrough) {
  set_default({{"greet_pause", std::to_string(kGreetPause.count())}});
  start();
  SmtpClient c = client();
  const SmtpReply g = c.read_reply();
  EXPECT_EQ(g.code, 220) << g.describe();
  EXPECT_GE(g.elapsed, kGreetPause - 100ms) << "the greeting was not held for the greet pause";
  EXPECT_EQ(c.command("EHLO client.test.example").code, 250);
  EXPECT_EQ(c.command("MAIL FROM:<sender@example.org>").code, 250);
  const SmtpReply r = c.command("RCPT TO:" + mta_->good_rcpt());
  EXPECT_EQ(r.code, 250) << r.describe();
  EXPECT_EQ(c.command("QUIT").code, 221);
  EXPECT_TRUE(daemon_->log_lines("pregreet").empty()) << daemon_->log();
}

// A client that talks before the greeting is refused, and the milter logs
// it. sendmail answers 554; Postfix refuses the session on the milter's 554
// at connect (and logs "improper command pipelining after CONNECT" too when
// the early bytes were already there at its own peek right after accept: a
// race with the client, so not asserted).
TEST_P(RealMta, PregreetTalkerIsRejected) {
  set_default({{"greet_pause", std::to_string(kGreetPause.count())}});
  start();
  SmtpClient c = client();
  c.send_raw("EHLO slammer.example\r\n");
  const SmtpReply first = c.read_reply();
  EXPECT_EQ(first.code, 554) << first.describe();
  EXPECT_LT(first.elapsed, kGreetPause) << "the milter should stop waiting once it saw the bytes";
  EXPECT_TRUE(daemon_->wait_for_log("kind=pregreet", 10s)) << daemon_->log();
  const auto lines = daemon_->log_lines("kind=pregreet");
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.front(), HasSubstr("127.0.0.1"));
  EXPECT_THAT(lines.front(), HasSubstr("554"));
  if (GetParam() == "postfix") {
    // Even when Postfix has read the early bytes itself, the milter still
    // sees them counted on smtpd's socket; the refusal is the milter's.
    const bool logged = poll_until(5s, [&] {
      return mta_->log().find("milter-reject: CONNECT from unknown[127.0.0.1]: 554 5.7.1") !=
             std::string::npos;
    });
    EXPECT_TRUE(logged) << mta_->log();
  }
}

// Client memory (issue 12): a client that waited its greet pause in silence
// and had a recipient accepted gets its next greeting at once. It connects
// from a non-loopback address of this machine: loopback is never remembered.
TEST_P(RealMta, AClientThatPassedGetsItsNextGreetingAtOnce) {
  const std::string source = local_ipv4_address();
  if (source.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  set_default({{"greet_pause", std::to_string(kGreetPause.count())}, {"greet_pass_ttl", "1h"}});
  start();
  {
    SmtpClient c = SmtpClient::connect("127.0.0.1", mta_->smtp_port(), 30s, source);
    const SmtpReply g = c.read_reply();
    ASSERT_EQ(g.code, 220) << g.describe();
    EXPECT_GE(g.elapsed, kGreetPause - 100ms) << "the first greeting was not held";
    EXPECT_EQ(c.command("EHLO client.test.example").code, 250);
    EXPECT_EQ(c.command("MAIL FROM:<sender@example.org>").code, 250);
    const SmtpReply r = c.command("RCPT TO:" + mta_->good_rcpt());
    EXPECT_EQ(r.code, 250) << r.describe();
    EXPECT_EQ(c.command("QUIT").code, 221);
  }
  SmtpClient c = SmtpClient::connect("127.0.0.1", mta_->smtp_port(), 30s, source);
  const SmtpReply g = c.read_reply();
  EXPECT_EQ(g.code, 220) << g.describe();
  EXPECT_LT(g.elapsed, kGreetPause / 2) << "the greet pass did not skip the pause";
  EXPECT_EQ(c.command("QUIT").code, 221);
  const auto stats = daemon_->control(R"({"cmd":"stats"})");
  EXPECT_THAT(stats, HasSubstr("\"greet_pauses_passed_total\":1")) << stats;
}

// conn_rate N/window: N connections pass, the (N+1)-th gets 421.
TEST_P(RealMta, ConnectionOverTheRateGets421) {
  constexpr int kN = 3;
  set_default({{"conn_rate", std::to_string(kN) + "/1m"}});
  start();
  for (int i = 1; i <= kN; ++i) {
    SmtpClient c = client();
    const SmtpReply r = first_refusal_or_ehlo(c);
    EXPECT_EQ(r.code, 250) << "connection " << i << ": " << r.describe();
    c.command("QUIT");
  }
  SmtpClient over = client();
  const SmtpReply r = first_refusal_or_ehlo(over);
  EXPECT_EQ(r.code, 421) << r.describe();
  EXPECT_TRUE(daemon_->wait_for_log("kind=conn_rate", 5s)) << daemon_->log();
}

// max_rcpts N: N recipients 250, the (N+1)-th 452.
TEST_P(RealMta, RecipientOverTheCapGets452) {
  constexpr int kN = 3;
  set_default({{"max_rcpts", std::to_string(kN)}});
  start();
  SmtpClient c = session_to_mail();
  for (int i = 0; i < kN; ++i) {
    const SmtpReply r = c.command("RCPT TO:" + mta_->good_rcpt(i));
    EXPECT_EQ(r.code, 250) << "recipient " << i + 1 << ": " << r.describe();
  }
  const SmtpReply over = c.command("RCPT TO:" + mta_->good_rcpt(kN));
  EXPECT_EQ(over.code, 452) << over.describe();
  EXPECT_THAT(over.text, HasSubstr("4.5.3"));
  c.command("QUIT");
}

// bad_rcpt_throttle N: after N recipients the MTA refused (unknown users),
// every further RCPT is answered about a second late; the first N are not.
TEST_P(RealMta, BadRecipientRunIsSlowedDown) {
  constexpr int kN = 2;
  set_default({{"bad_rcpt_throttle", std::to_string(kN)}});
  start();
  SmtpClient c = session_to_mail();
  for (int i = 0; i < kN; ++i) {
    const SmtpReply r = c.command("RCPT TO:" + mta_->bad_rcpt(i));
    EXPECT_EQ(r.code, 550) << r.describe();
    EXPECT_LT(r.elapsed, 700ms) << "bad recipient " << i + 1 << " was delayed";
  }
  for (int i = kN; i < kN + 2; ++i) {
    const SmtpReply r = c.command("RCPT TO:" + mta_->bad_rcpt(i));
    EXPECT_EQ(r.code, 550) << r.describe();
    EXPECT_GE(r.elapsed, 900ms) << "bad recipient " << i + 1 << " was not slowed down";
  }
  const SmtpReply good = c.command("RCPT TO:" + mta_->good_rcpt());
  EXPECT_EQ(good.code, 250) << good.describe();
  EXPECT_GE(good.elapsed, 900ms) << "later recipients are slowed down too";
  c.command("QUIT");
  EXPECT_TRUE(daemon_->wait_for_log("throttle", 5s)) << daemon_->log();
}

INSTANTIATE_TEST_SUITE_P(Mta, RealMta, ::testing::Values("postfix", "sendmail"),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace harden::testing
