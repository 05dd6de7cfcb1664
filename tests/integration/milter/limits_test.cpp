// limits_test.cpp - every counting limit of milter-harden, driven over its
// socket: each trips at exactly the configured count and not one earlier.
// Each row of a table is a client address with its own rule, so several
// values of N are checked against one running daemon.
#include <gmock/gmock.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct Row {
  std::string address;
  unsigned n;
};

std::string rate(unsigned n) {
  return std::to_string(n) + "/1m";
}

class Limits : public DaemonTest {};

TEST_F(Limits, ConnRateTripsAtNPlusOne) {
  const std::vector<Row> rows{{"192.0.2.11", 1}, {"192.0.2.12", 4}, {"192.0.2.13", 7}};
  for (const auto& r : rows) rule(r.address, {{"conn_rate", rate(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " conn_rate " + rate(r.n));
    for (unsigned i = 1; i <= r.n; ++i) EXPECT_CONTINUES(connect_once(peer_at(r.address))) << i;
    const Reply over = connect_once(peer_at(r.address));
    EXPECT_REFUSED(over, "421", "4.3.2");
    EXPECT_THAT(over.text, HasSubstr("Connection rate limit exceeded"));
    EXPECT_REFUSED(connect_once(peer_at(r.address)), "421", "4.3.2");  // stays refused
  }
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.99")));  // others are not affected
  // One line per enforcement: the client, what decided, the figure that tripped, the reply.
  ASSERT_TRUE(daemon().wait_for_log("[192.0.2.12]", 5s)) << daemon().log();
  const auto lines = daemon().log_lines("[192.0.2.12]");
  EXPECT_THAT(lines.front(), HasSubstr("conn_rate"));
  EXPECT_THAT(lines.front(), HasSubstr("5/1m > 4/1m"));
  EXPECT_THAT(lines.front(), HasSubstr("421 4.3.2"));
}

TEST_F(Limits, ConnLimitTripsAtNPlusOneAndReleasesOnQuit) {
  const std::vector<Row> rows{{"192.0.2.21", 1}, {"192.0.2.22", 3}};
  for (const auto& r : rows) rule(r.address, {{"conn_limit", std::to_string(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " conn_limit " + std::to_string(r.n));
    std::vector<Session> open_sessions;
    for (unsigned i = 1; i <= r.n; ++i) {
      open_sessions.push_back(open(peer_at(r.address)));
      EXPECT_CONTINUES(open_sessions.back().connect_reply()) << i;
    }
    const Reply over = connect_once(peer_at(r.address));
    EXPECT_REFUSED(over, "421", "4.3.2");
    EXPECT_THAT(over.text, HasSubstr("Too many open connections"));
    // One leaves: a slot is free again (the release happens when the
    // daemon sees the QUIT, so poll for it with a deadline).
    open_sessions.front().quit();
    open_sessions.erase(open_sessions.begin());
    std::vector<Session> more;
    EXPECT_TRUE(poll_until(3s, [&] {
      Session s = open(peer_at(r.address));
      if (!s.connect_reply().is_continue()) return false;
      more.push_back(std::move(s));
      return true;
    }));
    EXPECT_REFUSED(connect_once(peer_at(r.address)), "421", "4.3.2");  // full again
  }
}

// A slot is given back whatever way the session ends: QUIT after ABORT, the
// MTA dropping the milter connection, or a refusal at connect. The daemon
// releases a slot when it has processed the end of the session, a moment
// after the client sent it, so taking the slot again is polled for.
TEST_F(Limits, ConnLimitSlotReleasedOnEveryPath) {
  rule("192.0.2.31", {{"conn_limit", "1"}});
  start();
  const Peer p = peer_at("192.0.2.31");
  std::optional<Session> s;
  auto take_slot = [&] {
    return poll_until(3s, [&] {
      Session t = open(p);
      if (!t.connect_reply().is_continue()) return false;
      s.emplace(std::move(t));
      return true;
    });
  };
  ASSERT_TRUE(take_slot());
  s->helo();
  s->mail();
  s->abort();
  s->quit();
  ASSERT_TRUE(take_slot()) << "not released after abort + quit";
  s->client().close();  // the MTA goes away without QUIT
  ASSERT_TRUE(take_slot()) << "not released after the MTA dropped the connection";
  for (int i = 0; i < 5; ++i) EXPECT_REFUSED(connect_once(p), "421", "4.3.2");
  s->quit();
  EXPECT_TRUE(take_slot()) << "refusals at connect must not hold slots";
  s->quit();
}

TEST_F(Limits, MaxRcptsTripsAtNPlusOnePerMessage) {
  const std::vector<Row> rows{{"192.0.2.41", 1}, {"192.0.2.42", 5}};
  for (const auto& r : rows) rule(r.address, {{"max_rcpts", std::to_string(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " max_rcpts " + std::to_string(r.n));
    Session s = open(peer_at(r.address));
    ASSERT_TRUE(continues(s.connect_reply()));
    EXPECT_CONTINUES(s.helo());
    EXPECT_CONTINUES(s.mail());
    for (unsigned i = 1; i <= r.n; ++i)
      EXPECT_CONTINUES(s.rcpt("<u" + std::to_string(i) + "@example.org>")) << i;
    const Reply over = s.rcpt("<over@example.org>");
    EXPECT_REFUSED(over, "452", "4.5.3");
    EXPECT_THAT(over.text, HasSubstr("Too many recipients"));
    // The count is per message: the next message starts over.
    s.abort();
    EXPECT_CONTINUES(s.mail());
    for (unsigned i = 1; i <= r.n; ++i) EXPECT_CONTINUES(s.rcpt("<v@example.org>")) << i;
    EXPECT_REFUSED(s.rcpt("<over@example.org>"), "452", "4.5.3");
    s.quit();
  }
}

TEST_F(Limits, MaxRcptsCountsOnlyAcceptedRecipients) {
  rule("192.0.2.43", {{"max_rcpts", "2"}});
  start();
  Session s = open(peer_at("192.0.2.43"));
  s.mail();
  EXPECT_CONTINUES(s.rcpt("<unknown1@example.org>", /*rejected_by_mta=*/true));
  EXPECT_CONTINUES(s.rcpt("<a@example.org>"));
  EXPECT_CONTINUES(s.rcpt("<unknown2@example.org>", true));
  EXPECT_CONTINUES(s.rcpt("<b@example.org>"));
  EXPECT_REFUSED(s.rcpt("<c@example.org>"), "452", "4.5.3");
  s.quit();
}

TEST_F(Limits, RcptRateTripsAtNPlusOneAcrossSessions) {
  const std::vector<Row> rows{{"192.0.2.51", 1}, {"192.0.2.52", 6}};
  for (const auto& r : rows) rule(r.address, {{"rcpt_rate", rate(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " rcpt_rate " + rate(r.n));
    unsigned sent = 0;
    // Spread the N allowed recipients over two sessions: the rate is per client.
    for (int session = 0; session < 2; ++session) {
      Session s = open(peer_at(r.address));
      s.mail();
      const unsigned upto = session == 0 ? r.n / 2 : r.n;
      for (; sent < upto; ++sent) EXPECT_CONTINUES(s.rcpt("<r@example.org>")) << sent + 1;
      if (session == 1) {
        const Reply over = s.rcpt("<over@example.org>");
        EXPECT_REFUSED(over, "450", "4.7.1");
        EXPECT_THAT(over.text, HasSubstr("too many recipients"));
      }
      s.quit();
    }
  }
}

TEST_F(Limits, MsgRateTripsAtNPlusOne) {
  const std::vector<Row> rows{{"192.0.2.61", 1}, {"192.0.2.62", 3}};
  for (const auto& r : rows) rule(r.address, {{"msg_rate", rate(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " msg_rate " + rate(r.n));
    Session s = open(peer_at(r.address));
    for (unsigned i = 1; i <= r.n; ++i) {
      EXPECT_CONTINUES(s.mail()) << i;
      s.abort();
    }
    const Reply over = s.mail();
    EXPECT_REFUSED(over, "450", "4.7.1");
    EXPECT_THAT(over.text, HasSubstr("too many messages"));
    s.quit();
    Session again = open(peer_at(r.address));  // a new session of the same client
    EXPECT_REFUSED(again.mail(), "450", "4.7.1");
    again.quit();
  }
}

// After N recipients the MTA rejected, each further RCPT is answered about
// one second late; the first N are not delayed. Measured, not slept.
TEST_F(Limits, BadRcptThrottleDelaysAfterN) {
  const std::vector<Row> rows{{"192.0.2.71", 1}, {"192.0.2.72", 3}};
  for (const auto& r : rows) rule(r.address, {{"bad_rcpt_throttle", std::to_string(r.n)}});
  start();
  for (const auto& r : rows) {
    SCOPED_TRACE(r.address + " bad_rcpt_throttle " + std::to_string(r.n));
    Session s = open(peer_at(r.address));
    s.mail();
    for (unsigned i = 1; i <= r.n; ++i) {
      const Reply fast = s.rcpt("<nouser" + std::to_string(i) + "@example.org>", true);
      EXPECT_CONTINUES(fast);
      EXPECT_LT(fast.elapsed, 500ms) << "bad rcpt " << i << " of " << r.n << " was delayed";
    }
    const Reply slow_bad = s.rcpt("<nouser-more@example.org>", true);
    EXPECT_GE(slow_bad.elapsed, 900ms) << slow_bad.describe();
    const Reply slow_good = s.rcpt("<real@example.org>");  // every further RCPT
    EXPECT_CONTINUES(slow_good);
    EXPECT_GE(slow_good.elapsed, 900ms) << slow_good.describe();
    s.quit();
    // Per session, as sendmail: a new session starts fast again.
    Session next = open(peer_at(r.address));
    next.mail();
    EXPECT_LT(next.rcpt("<nouser@example.org>", true).elapsed, 500ms);
    next.quit();
  }
}

TEST_F(Limits, Ipv6ClientsCountedPerSlash64) {
  rule("2001:db8:1::/48", {{"conn_rate", "2/1m"}});
  start();
  EXPECT_CONTINUES(connect_once(peer_at("2001:db8:1:2::1")));
  EXPECT_CONTINUES(connect_once(peer_at("2001:db8:1:2::ffff")));  // same /64, 2nd
  EXPECT_REFUSED(connect_once(peer_at("2001:db8:1:2:abcd::9")), "421", "4.3.2");
  EXPECT_CONTINUES(connect_once(peer_at("2001:db8:1:3::1")));  // next /64: its own count
}

TEST_F(Limits, Ipv4ClientsCountedPerAddress) {
  rule("192.0.2.0/24", {{"conn_rate", "1/1m"}});
  start();
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.81")));
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.82")));
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.81")), "421", "4.3.2");
}

// The threads of a process by name (/proc/PID/task/*/comm), each with the
// nanoseconds it has run (schedstat's first field).
std::map<std::string, std::uint64_t> thread_runtimes(pid_t pid) {
  std::map<std::string, std::uint64_t> threads;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::ifstream comm(t.path() / "comm");
    std::ifstream sched(t.path() / "schedstat");
    std::string name;
    std::uint64_t ns = 0;
    if (std::getline(comm, name) && (sched >> ns)) threads[name] = ns;
  }
  return threads;
}

// The first I/O thread serves sessions alone up to 64 in progress (packed);
// past that new connections go to the other threads, and the sessions of one
// client there still share one count.
TEST_F(Limits, ConnLimitHoldsWhenSessionsSpreadOverIoThreads) {
  if (daemon().engine() != "native") GTEST_SKIP() << "io_threads is a native engine setting";
  constexpr unsigned kLimit = 80;  // past the 64 the first thread serves alone
  daemon().set("io_threads", "3");
  rule("192.0.2.91", {{"conn_limit", std::to_string(kLimit)}});
  start();
  std::map<std::string, std::uint64_t> before;
  ASSERT_TRUE(poll_until(5s, [&] {  // the threads are named as they start
    before = thread_runtimes(daemon().pid());
    return before.count("mh-io-1") && before.count("mh-io-2");
  })) << ::testing::PrintToString(before);
  EXPECT_FALSE(before.count("mh-io-3")) << ::testing::PrintToString(before);
  std::vector<Session> open_sessions;
  for (unsigned i = 1; i <= kLimit; ++i) {
    open_sessions.push_back(open(peer_at("192.0.2.91")));
    EXPECT_CONTINUES(open_sessions.back().connect_reply()) << i;
  }
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.91")), "421", "4.3.2");
  const auto after = thread_runtimes(daemon().pid());
  EXPECT_GT(after.at("mh-io-1") + after.at("mh-io-2"), before.at("mh-io-1") + before.at("mh-io-2"))
      << "no session reached the other I/O threads";
  open_sessions.front().quit();
  std::vector<Session> more;
  EXPECT_TRUE(poll_until(3s, [&] {
    Session s = open(peer_at("192.0.2.91"));
    if (!s.connect_reply().is_continue()) return false;
    more.push_back(std::move(s));
    return true;
  }));
}

}  // namespace
}  // namespace harden::testing
