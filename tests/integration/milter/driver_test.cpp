// driver_test.cpp - the milter driver (tests/support) against real libmilter
// (the do-nothing null_milter), so the protocol tests of milter-harden stand
// on a driver that is itself checked: negotiation, macros, every command,
// SMFIR_REPLYCODE, honouring SMFIP_NO* steps, and deadlines.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "support/milter_client.hpp"
#include "support/process.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;

class NullMilter {
 public:
  explicit NullMilter(const TempDir& dir, bool reject_rcpt = false)
      : spec_("unix:" + (dir / "null.sock").string()) {
    std::vector<std::string> argv{NULL_MILTER_PATH, "-p", spec_};
    if (reject_rcpt) argv.push_back("-r");
    child_ = Child::spawn(argv, log_to(dir / "null.log"));
    const bool up = poll_until(10s, [&] {
      try {
        MilterClient::open(spec_, 200ms);
        return true;
      } catch (const MilterError&) {
        return !child_.running();
      }
    });
    if (!up || !child_.running()) throw std::runtime_error("null_milter did not start");
  }
  const std::string& spec() const { return spec_; }

 private:
  std::string spec_;
  Child child_;
};

TEST(MilterDriver, NegotiatesWithLibmilter) {
  TempDir dir("driver");
  NullMilter nm(dir);
  MilterClient c = MilterClient::open(nm.spec(), 5s);
  const Negotiated n = c.negotiate();
  EXPECT_EQ(n.version, 6u);
  EXPECT_TRUE(n.wants(smfi::kRcptRej));
  EXPECT_TRUE(n.wants(smfi::kNoData));
  EXPECT_FALSE(n.wants(smfi::kNoConnect));
  EXPECT_FALSE(n.wants(smfi::kNrRcpt));
  c.quit();
}

TEST(MilterDriver, WholeSessionContinues) {
  TempDir dir("driver");
  NullMilter nm(dir);
  Session s = Session::start(nm.spec(), Peer{}, 5s);
  EXPECT_TRUE(s.connect_reply().is_continue()) << s.connect_reply().describe();
  EXPECT_TRUE(s.helo().is_continue());
  EXPECT_TRUE(s.mail().is_continue());
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(s.rcpt("<u" + std::to_string(i) + "@test>").is_continue());
  EXPECT_TRUE(s.rcpt("<nobody@test>", true).is_continue());
  s.abort();
  EXPECT_TRUE(s.mail().is_continue());  // a second message on the same connection
  s.quit();
}

TEST(MilterDriver, SkipsStepsTheMilterDeclined) {
  TempDir dir("driver");
  NullMilter nm(dir);
  Session s = Session::start(nm.spec(), Peer{}, 5s);
  const Reply d = s.client().data();  // SMFIP_NODATA negotiated: not sent, nothing to read
  EXPECT_TRUE(d.skipped);
  EXPECT_TRUE(s.helo().is_continue());  // the stream is still in step
  s.quit();
}

TEST(MilterDriver, ReadsReplyCodes) {
  TempDir dir("driver");
  NullMilter nm(dir, /*reject_rcpt=*/true);
  Session s = Session::start(nm.spec(), peer_at("2001:db8::5"), 5s);
  ASSERT_TRUE(s.connect_reply().is_continue());
  s.mail();
  const Reply r = s.rcpt("<x@test>");
  EXPECT_EQ(r.code, 'y');
  EXPECT_EQ(r.smtp_code(), "550");
  EXPECT_EQ(r.enhanced_code(), "5.1.1");
  EXPECT_TRUE(r.refuses());
  EXPECT_NE(r.text.find("null milter says no"), std::string::npos) << r.text;
  s.quit();
}

// Several SMTP sessions over one milter connection: end of message, then
// SMFIC_QUIT_NC, then the next CONNECT (what the benchmark's spray does).
TEST(MilterDriver, ReusesAConnectionAfterQuitNc) {
  TempDir dir("driver");
  NullMilter nm(dir);
  MilterClient c = MilterClient::open(nm.spec(), 5s);
  c.negotiate();
  for (int i = 0; i < 3; ++i) {
    const std::string addr = "192.0.2." + std::to_string(i + 1);
    c.macros('C', {{"{client_addr}", addr}});
    EXPECT_TRUE(c.connect("[" + addr + "]", Family::inet, 25, addr).is_continue()) << i;
    EXPECT_TRUE(c.mail({"<a@example.org>"}).is_continue()) << i;
    EXPECT_TRUE(c.rcpt({"<b@example.org>"}).is_continue()) << i;
    EXPECT_TRUE(c.eom().is_continue()) << i;
    c.quit_nc();
  }
  c.quit();
}

TEST(MilterDriver, ConnectsOverInet) {
  TempDir dir("driver");
  const std::uint16_t port = free_tcp_port();
  const std::string spec = "inet:" + std::to_string(port) + "@127.0.0.1";
  Child child = Child::spawn({NULL_MILTER_PATH, "-p", spec}, log_to(dir / "log"));
  ASSERT_TRUE(poll_until(10s, [&] {
    try {
      MilterClient::open(spec, 200ms);
      return true;
    } catch (const MilterError&) {
      return false;
    }
  }));
  Session s = Session::start(spec, Peer{}, 5s);
  EXPECT_TRUE(s.connect_reply().is_continue());
  s.quit();
  child.kill_group();
}

// A peer that accepts and never answers: the driver gives up at its deadline.
TEST(MilterDriver, TimesOutOnASilentMilter) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(lfd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const std::string spec = "inet:" + std::to_string(ntohs(sa.sin_port)) + "@127.0.0.1";
  MilterClient c = MilterClient::open(spec, 300ms);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(c.negotiate(), MilterError);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 3s);
  ::close(lfd);
}

TEST(MilterDriver, RefusesAnOversizedReply) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  MilterClient c =
      MilterClient::open("inet:" + std::to_string(ntohs(sa.sin_port)) + "@127.0.0.1", 2s);
  const int peer = ::accept(lfd, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  const unsigned char huge[] = {0x7f, 0xff, 0xff, 0xff, 'c'};
  ASSERT_EQ(::write(peer, huge, sizeof huge), static_cast<ssize_t>(sizeof huge));
  EXPECT_THROW(c.read_reply(), MilterError);
  ::close(peer);
  ::close(lfd);
}

}  // namespace
}  // namespace harden::testing
