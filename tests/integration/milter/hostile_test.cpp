// hostile_test.cpp - the milter socket is hostile: no sequence of bytes may
// crash the daemon or touch another session (issue 8, item 1). Each case is
// sent on its own connection while a good session stays open beside it; the
// case's connection must be closed, the good session must go on with its
// normal answers, a new session must get its normal answer, and every
// violation is counted and logged once per kind.
//
// The native engine only: libmilter's smfi_getsymval walks its macro array
// two entries at a time and steps over the terminator of an odd list
// (libmilter/smfi.c), so the first case kills a libmilter daemon.
#include <gmock/gmock.h>

#include <chrono>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;

struct HostileCase {
  const char* name;
  bool negotiate;     // send a good OPTNEG first
  std::string bytes;  // then these
};

std::string pkt(char cmd, const std::string& data) {
  const auto n = static_cast<std::uint32_t>(data.size() + 1);
  std::string out{static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff),
                  static_cast<char>((n >> 8) & 0xff), static_cast<char>(n & 0xff)};
  return out + cmd + data;
}

std::string connect_pkt(const std::string& addr) {
  return pkt('C', std::string("h\0"
                              "4\x9c\x40",
                              5) +
                      addr + std::string(1, '\0'));
}

std::vector<HostileCase> cases() {
  std::string many_macros = "C";
  for (int i = 0; i < 200; ++i)
    many_macros += "m" + std::to_string(i) + std::string(1, '\0') + "v" + std::string(1, '\0');
  return {
      // the crash of issue 8: an odd macro list (a NUL inside a value), then CONNECT
      {"odd macros", true,
       pkt('D', std::string("C{client_addr}\0"
                            "192.0.2.93\0injected\0",
                            35)) +
           connect_pkt("192.0.2.93")},
      {"zero length", true, std::string(4, '\0')},
      {"huge length", true, std::string("\x7f\xff\xff\xff", 4) + "C"},
      {"just over 64 KiB", true, std::string("\x00\x01\x00\x01", 4)},
      {"unknown command", true, pkt('Z', "x")},
      {"command before negotiation", false, connect_pkt("192.0.2.94")},
      {"second negotiation", true, pkt('O', std::string(12, '\0'))},
      {"second connect", true, connect_pkt("192.0.2.95") + connect_pkt("192.0.2.95")},
      {"rcpt outside a message", true,
       connect_pkt("192.0.2.96") + pkt('R', std::string("<a@b>\0", 6))},
      {"truncated connect", true, pkt('C', std::string("\0\x34", 2))},
      {"too many macros", true, pkt('D', many_macros)},
      {"macro name too long", true,
       pkt('D', "C" + std::string(100, 'n') + std::string(1, '\0') + "v" + std::string(1, '\0'))},
      {"bad version", false, pkt('O', std::string("\0\0\0\1\0\0\0\0\0\0\0\0", 12))},
  };
}

class HostileInput : public DaemonTest {};

TEST_F(HostileInput, EveryMalformedPacketEndsOnlyItsOwnConnection) {
  if (daemon().engine() != "native")
    GTEST_SKIP() << "libmilter cannot survive an odd macro list (libmilter/smfi.c); "
                    "the native engine is the fix";
  rule("default", {{"max_rcpts", "2"}});
  start();
  Session bystander = open(peer_at("192.0.2.200"));
  EXPECT_PASSES(bystander.connect_reply());
  EXPECT_CONTINUES(bystander.mail());
  const auto mark = daemon().mark();
  const std::vector<HostileCase> all = cases();
  for (const HostileCase& c : all) {
    SCOPED_TRACE(c.name);
    MilterClient m = MilterClient::open(daemon().socket(), 5s);
    if (c.negotiate) m.negotiate();
    m.send_raw(c.bytes);
    EXPECT_TRUE(m.wait_closed(5s)) << "the milter must close this connection";
    ASSERT_TRUE(daemon().running()) << daemon().log();
  }
  // The session beside them goes on with its normal answers...
  EXPECT_CONTINUES(bystander.rcpt("<a@test>"));
  EXPECT_CONTINUES(bystander.rcpt("<b@test>"));
  EXPECT_REFUSED(bystander.rcpt("<c@test>"), "452", "4.5.3");
  bystander.quit();
  // ...and a new session gets its normal answer.
  Session fresh = open(peer_at("192.0.2.201"));
  EXPECT_PASSES(fresh.connect_reply());
  fresh.quit();
  EXPECT_EQ(metric("milter_harden_protocol_violations_total"), static_cast<double>(all.size()));
  // logged once per kind: odd_macros, zero_length, oversized, unknown_command,
  // out_of_order, duplicate_connect, malformed, macro_limits, bad_version
  const auto lines = daemon().log_lines("milter protocol violation", mark);
  EXPECT_EQ(lines.size(), 9u) << daemon().log();
  EXPECT_TRUE(daemon().wait_for_log("odd_macros", 1s, mark));
}

TEST_F(HostileInput, PeerOutsideAllowedPeersIsClosedBeforeAnyByte) {
  if (daemon().engine() != "native") GTEST_SKIP() << "allowed_peers is a native engine setting";
  daemon().set("socket", "inet:" + std::to_string(free_tcp_port()) + "@127.0.0.1");
  daemon().set("allowed_peers", "192.0.2.0/24");  // not loopback: we are refused
  start();                                        // its readiness poll was refused too
  const double before = metric("milter_harden_milter_connections_refused_total");
  MilterClient m = MilterClient::open(daemon().socket(), 5s);
  EXPECT_TRUE(m.wait_closed(5s));
  // >=: the readiness poll's own connection may be refused after `before` was read
  EXPECT_GE(metric("milter_harden_milter_connections_refused_total"), before + 1.0);
  EXPECT_TRUE(daemon().wait_for_log("not in allowed_peers", 5s));
}

TEST_F(HostileInput, ConnectionsPastMaxConnectionsAreClosedAtAccept) {
  if (daemon().engine() != "native") GTEST_SKIP() << "max_connections is a native engine setting";
  daemon().set("max_connections", "2");
  start();
  Session a = open(peer_at("192.0.2.210"));
  Session b = open(peer_at("192.0.2.211"));
  MilterClient third = MilterClient::open(daemon().socket(), 5s);
  EXPECT_TRUE(third.wait_closed(5s));
  a.quit();
  EXPECT_TRUE(poll_until(5s, [&] {
    try {
      Session c = open(peer_at("192.0.2.212"));
      c.quit();
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  b.quit();
}

}  // namespace
}  // namespace harden::testing
