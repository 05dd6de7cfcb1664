// lifecycle_test.cpp - milter-harden as a running daemon: monitor mode,
// policy changes picked up live (data_version poll, SIGHUP), a broken or
// corrupt store never replacing the good snapshot, hostile bytes on the
// milter socket, the control socket, and a clean SIGTERM.
#include <gmock/gmock.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class Lifecycle : public DaemonTest {
 protected:
  // Connections a fresh client gets through before the first refusal (at
  // most `cap`): how the daemon's conn_rate in force shows from outside.
  unsigned passes_before_refusal(const std::string& address, unsigned cap = 10) {
    for (unsigned i = 0; i < cap; ++i)
      if (!passes(connect_once(peer_at(address)))) return i;
    return cap;
  }
  void sqlite(const std::string& sql) {
    // .timeout: wait for the daemon's own lock (a reload) instead of failing BUSY
    const RunResult r =
        run({"sqlite3", "-cmd", ".timeout 10000", daemon().store().string(), sql}, 30s);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.output;
  }
  std::string fresh_ip() { return "198.18.0." + std::to_string(++ip_); }
  double reloads_ok() { return metric("milter_harden_reload_success_total"); }
  double reloads_failed() { return metric("milter_harden_reload_failure_total"); }

 private:
  int ip_ = 0;
};

TEST_F(Lifecycle, MonitorModeEnforcesNothingAndLogsWouldReject) {
  daemon().set("mode", "monitor");
  rule("default", {{"conn_rate", "1/1m"},
                   {"conn_limit", "1"},
                   {"max_rcpts", "1"},
                   {"msg_rate", "1/1m"},
                   {"bad_rcpt_throttle", "1"}});
  rule(".dyn.example.net", {{"action", "block"}});
  start();
  const auto mark = daemon().mark();
  std::vector<Session> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(open(peer_at("192.0.2.90")));
    EXPECT_CONTINUES(held.back().connect_reply()) << i;
  }
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.91", "a-1.dyn.example.net", "OK")));
  Session& s = held.front();
  for (int m = 0; m < 2; ++m) {
    EXPECT_CONTINUES(s.mail());
    for (int i = 0; i < 3; ++i) {
      const Reply r = s.rcpt("<nouser@example.org>", true);
      EXPECT_CONTINUES(r);
      EXPECT_LT(r.elapsed, 500ms) << "monitor mode must not delay";
      EXPECT_CONTINUES(s.rcpt("<u@example.org>"));
    }
    s.abort();
  }
  EXPECT_TRUE(daemon().wait_for_log("would reject", 5s, mark)) << daemon().log();
  EXPECT_FALSE(daemon().log_lines("192.0.2.91", mark).empty());
  for (const auto& line : daemon().log_lines("would reject", mark))
    EXPECT_THAT(line, ::testing::AnyOf(HasSubstr("192.0.2.90"), HasSubstr("192.0.2.91")));
}

TEST_F(Lifecycle, PolicyChangeWithHardenctlIsPickedUpLive) {
  start();
  EXPECT_EQ(passes_before_refusal(fresh_ip(), 4), 4u);  // conn_rate off
  const double before = reloads_ok();
  daemon().hardenctl({"rule", "set", "default", "conn_rate=2/1m"});
  // reload_interval is 2 s by default: poll the observable effect with a deadline.
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_ok() > before; })) << "no reload seen";
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 2u);
  daemon().hardenctl({"rule", "add", "198.18.1.0/24", "action=allow"});
  EXPECT_TRUE(poll_until(10s, [&] { return passes_before_refusal("198.18.1.1", 5) == 5u; }));
}

TEST_F(Lifecycle, SighupReloads) {
  daemon().set("reload_interval", "0");  // no polling: only the signal reloads
  start();
  daemon().hardenctl({"rule", "set", "default", "conn_rate=1/1m"});
  EXPECT_EQ(passes_before_refusal(fresh_ip(), 3), 3u);  // not noticed without polling
  const double before = reloads_ok();
  daemon().signal(SIGHUP);
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_ok() > before; }));
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 1u);
}

TEST_F(Lifecycle, ControlReloadAndClient) {
  daemon().set("reload_interval", "0");
  rule("default", {{"conn_rate", "3/1m"}});
  start();
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.95")));
  const std::string client = daemon().control(R"({"cmd":"client","ip":"192.0.2.95"})");
  EXPECT_THAT(client, HasSubstr("\"ok\":true"));
  EXPECT_THAT(client, HasSubstr("\"conn_count\":1"));
  daemon().hardenctl({"rule", "set", "default", "conn_rate=1/1m"});
  EXPECT_THAT(daemon().control(R"({"cmd":"reload"})"), HasSubstr("\"ok\":true"));
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.95")), "421", "4.3.2");
  EXPECT_THAT(daemon().control(R"({"cmd":"flush","ip":"192.0.2.95"})"), HasSubstr("\"ok\":true"));
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.95")));  // rates forgotten
}

// A write that leaves a rule the daemon cannot validate is refused as a
// whole: the change riding with it (conn_rate 1) does not come into force.
TEST_F(Lifecycle, InvalidRuleInStoreKeepsGoodSnapshot) {
  rule("default", {{"conn_rate", "2/1m"}});
  start();
  ASSERT_EQ(passes_before_refusal(fresh_ip()), 2u);
  const double failed = reloads_failed();
  sqlite(
      "BEGIN;"
      "UPDATE rules SET conn_rate = '1/1m' WHERE kind = 'default';"
      "INSERT INTO rules (selector, kind, priority, action) "
      "VALUES ('/(unclosed/', 'pattern', 1, 'block');"
      "COMMIT;");
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_failed() > failed; })) << "no refused reload";
  EXPECT_TRUE(daemon().running());
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 2u) << "the broken store replaced the snapshot";
  // Repaired, the next reload puts the new policy in force.
  const double ok = reloads_ok();
  sqlite("DELETE FROM rules WHERE kind = 'pattern';");
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_ok() > ok; }));
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 1u);
}

TEST_F(Lifecycle, BadAttributeValueInStoreKeepsGoodSnapshot) {
  rule("default", {{"conn_rate", "2/1m"}});
  start();
  const double failed = reloads_failed();
  sqlite("UPDATE rules SET conn_rate = 'lots' WHERE kind = 'default';");
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_failed() > failed; }));
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 2u);
}

TEST_F(Lifecycle, CorruptStoreFileKeepsGoodSnapshot) {
  rule("default", {{"conn_rate", "2/1m"}});
  start();
  const double failed = reloads_failed();
  // Replace the store by a file that is not a database (as a botched copy
  // would), then ask for a reload.
  const auto path = daemon().store();
  const auto tmp = daemon().dir() / "garbage.db";
  write_file(tmp, std::string(8192, 'x'));
  std::filesystem::rename(tmp, path);  // -wal/-shm left as they are
  daemon().signal(SIGHUP);
  EXPECT_TRUE(poll_until(10s, [&] { return reloads_failed() > failed; }));
  EXPECT_TRUE(daemon().running());
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 2u);
}

// Garbage on the milter socket costs that one connection, nothing more.
TEST_F(Lifecycle, HostileBytesOnTheMilterSocket) {
  rule("default", {{"conn_rate", "2/1m"}});
  start();
  const std::vector<std::string> packets{
      std::string("\x7f\xff\xff\xff", 4) + "O",          // absurd length
      std::string("\x00\x00\x00\x00", 4) + "C",          // zero length
      std::string("\x00\x00\x00\x02", 4) + "Z\x01",      // unknown command
      std::string("\x00\x00\x00\x03", 4) + "C\x00\x34",  // truncated CONNECT
      std::string("\x00\x00\x00\x05", 4) + "DCabc",      // macros without NULs
  };
  for (std::size_t i = 0; i < packets.size(); ++i) {
    MilterClient c = MilterClient::open(daemon().socket(), 5s);
    if (i > 0) c.negotiate();
    c.send_raw(packets[i]);
    if (i < 2) {
      EXPECT_TRUE(c.wait_closed(5s)) << "a bad length must end the connection";
    }
  }
  // Huge but well-formed macro values and a CONNECT with a NUL-less name.
  {
    MilterClient c = MilterClient::open(daemon().socket(), 5s);
    c.negotiate();
    c.macros('C', {{"{client_addr}", std::string(60000, '1')},
                   {"{client_name}", std::string("evil\x01\x7f\xff", 7)},
                   {"{client_resolve}", "OK\nINJECT"}});
    try {
      c.connect(std::string(5000, 'a'), Family::inet, 1, "999.1.2.3");
    } catch (const MilterError&) {
      // closing the connection is a fine answer to this
    }
    c.quit();
  }
  EXPECT_TRUE(daemon().running());
  EXPECT_EQ(passes_before_refusal(fresh_ip()), 2u);  // still serving, still counting
}

// The driver's sessions have no real TCP connection behind them, so the
// pre-greeting probe finds no socket: the greet pause degrades to a plain
// delay of the configured length, said once in the log and counted.
TEST_F(Lifecycle, GreetPauseWithoutAVisibleSocketIsAPlainDelay) {
  rule("default", {{"greet_pause", "400"}});
  start();
  for (int i = 0; i < 3; ++i) {
    const Reply r = connect_once(peer_at("192.0.2.98"));
    EXPECT_CONTINUES(r);
    EXPECT_GE(r.elapsed, 380ms) << "the connect reply was not held for the greet pause";
    EXPECT_LT(r.elapsed, 5s);
  }
  EXPECT_GE(metric("milter_harden_pregreet_unavailable_total"), 3.0);
  EXPECT_EQ(metric("milter_harden_pregreet_detections_total"), 0.0);
  EXPECT_EQ(daemon().log_lines("pre-greeting detection unavailable").size(), 1u) << daemon().log();
}

TEST_F(Lifecycle, StopsCleanlyOnSigterm) {
  start();
  Session s = open(peer_at("192.0.2.97"));
  EXPECT_CONTINUES(s.connect_reply());
  s.quit();
  EXPECT_TRUE(daemon().stop(10s));
  EXPECT_TRUE(WIFEXITED(daemon().exit_status())) << daemon().exit_status();
  EXPECT_EQ(WEXITSTATUS(daemon().exit_status()), 0);
}

}  // namespace
}  // namespace harden::testing
