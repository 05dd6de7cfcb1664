// rdns_test.cpp - connect-time verdicts of milter-harden from the client's
// name and address, over its socket: suffix, pattern and imported fqrdns
// block rules, the built-in dial-in heuristic, missing rDNS, allow rules.
#include <gmock/gmock.h>

#include <chrono>
#include <string>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

class Rdns : public DaemonTest {};

TEST_F(Rdns, SuffixRuleBlocks) {
  rule(".dyn.example.net", {{"action", "block"}, {"reason", "Dial-in, relay via your ISP"}});
  start();
  const Reply r = connect_once(peer_at("198.51.100.23", "host-23.dyn.example.net", "OK"));
  EXPECT_REFUSED(r, "550", "5.7.1");
  EXPECT_THAT(r.text, HasSubstr("Dial-in, relay via your ISP"));
  // Only names ending so; the suffix is a whole-label match.
  EXPECT_CONTINUES(connect_once(peer_at("198.51.100.24", "mail.example.net", "OK")));
  EXPECT_CONTINUES(connect_once(peer_at("198.51.100.25", "host.notdyn.example.net", "OK")));
  EXPECT_TRUE(daemon().wait_for_log("198.51.100.23", 5s));
  const auto lines = daemon().log_lines("198.51.100.23");
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr(".dyn.example.net"));  // names the rule that decided
}

TEST_F(Rdns, PatternRuleBlocks) {
  rule("/^dsl-[0-9-]+\\./", {{"action", "block"}, {"reason", "Dynamic pool"}});
  start();
  const Reply r = connect_once(peer_at("203.0.113.7", "DSL-203-0-113-7.example.com", "OK"));
  EXPECT_REFUSED(r, "550", "5.7.1");
  EXPECT_THAT(r.text, HasSubstr("Dynamic pool"));
  EXPECT_CONTINUES(connect_once(peer_at("203.0.113.8", "mail.dsl-provider.example", "OK")));
}

// A name that did not verify (sendmail FORGED) is not matched against name rules.
TEST_F(Rdns, NameRulesNeedAVerifiedName) {
  rule(".dyn.example.net", {{"action", "block"}});
  start();
  EXPECT_CONTINUES(connect_once(peer_at("198.51.100.30", "x.dyn.example.net", "FORGED")));
}

TEST_F(Rdns, ImportedFqrdnsRulesBlock) {
  const auto r =
      daemon().hardenctl({"import", "pcre", std::string(HARDEN_TEST_DATA_DIR) + "/fqrdns.pcre"});
  ASSERT_TRUE(r.ok()) << r.output;
  start();
  struct Case {
    std::string address, name, reason;
  };
  // Names chosen by hand from fqrdns.pcre lines (inside and outside its if-blocks).
  const std::vector<Case> blocked{
      {"198.51.100.40", "10-20-30-40.pool.nctc.com", "nctc.com"},
      {"198.51.100.41", "node10-20-30-40.bb.velocitytech.net", "velocitytech.net"},
      {"198.51.100.42", "i0a1b2c3d.versanet.de", "versanet.de"},
      {"198.51.100.43", "printer.localdomain", "relay via ISP"},
  };
  for (const auto& c : blocked) {
    const Reply rep = connect_once(peer_at(c.address, c.name, "OK"));
    EXPECT_REFUSED(rep, "550", "5.7.1") << c.name;
    EXPECT_THAT(rep.text, HasSubstr(c.reason)) << c.name;
  }
  for (const std::string name : {"mail.example.org", "mx1.example.com", "smtp.example.net"})
    EXPECT_CONTINUES(connect_once(peer_at("198.51.100.50", name, "OK"))) << name;
}

TEST_F(Rdns, DialinHeuristicBlocksWhenOn) {
  rule("default", {{"dialin", "block"}});
  start();
  const Reply r = connect_once(peer_at("198.51.100.23", "198-51-100-23.dyn.example.net", "OK"));
  EXPECT_REFUSED(r, "550", "5.7.1");
  EXPECT_CONTINUES(connect_once(peer_at("198.51.100.25", "mail.example.com", "OK")));
  EXPECT_CONTINUES(
      connect_once(peer_at("198.51.100.26", "static-198-51-100-26.business.example.net", "OK")));
  EXPECT_TRUE(daemon().wait_for_log("198.51.100.23", 5s));
  EXPECT_THAT(daemon().log_lines("198.51.100.23").back(), HasSubstr("dialin"));
}

TEST_F(Rdns, DialinHeuristicOffByDefaultHere) {
  start();  // dialin off
  EXPECT_CONTINUES(connect_once(peer_at("198.51.100.23", "198-51-100-23.dyn.example.net", "OK")));
}

TEST_F(Rdns, MissingRdnsBlocksOrTempfails) {
  rule("default", {{"missing_rdns", "block"}});
  rule("192.0.2.128/25", {{"conn_rate", "0"}});  // a rule without `action` does not exempt
  start();
  // sendmail style: [addr] as name and {client_resolve} FAIL
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.130", "", "FAIL")), "550", "5.7.1");
  // Postfix style: no {client_resolve}, name "unknown"
  Peer postfix = peer_at("192.0.2.131");
  postfix.hostname = "unknown";
  EXPECT_REFUSED(connect_once(postfix), "550", "5.7.1");
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.132", "forged.example.org", "FORGED")), "550",
                 "5.7.1");
  EXPECT_CONTINUES(connect_once(peer_at("192.0.2.133", "mail.example.org", "OK")));
}

TEST_F(Rdns, MissingRdnsTempfail) {
  rule("default", {{"missing_rdns", "tempfail"}});
  start();
  const Reply r = connect_once(peer_at("192.0.2.140", "", "FAIL"));
  EXPECT_TRUE(r.refuses()) << r.describe();
  EXPECT_EQ(r.smtp_code().substr(0, 1), "4") << r.describe();
}

TEST_F(Rdns, AllowRulesLiftEverything) {
  rule("default", {{"dialin", "block"},
                   {"missing_rdns", "block"},
                   {"conn_rate", "1/1m"},
                   {"max_rcpts", "1"},
                   {"bad_rcpt_throttle", "1"}});
  rule(".dyn.example.net", {{"action", "block"}});
  rule("203.0.113.0/24", {{"action", "allow"}});
  start();
  for (int i = 0; i < 4; ++i) {
    EXPECT_PASSES(connect_once(peer_at("203.0.113.9", "203-0-113-9.dyn.example.net", "OK"))) << i;
    EXPECT_PASSES(connect_once(peer_at("203.0.113.10", "", "FAIL"))) << i;
  }
  // An allow-listed session is accepted at connect (the MTA asks nothing
  // more) or, if the milter goes on, nothing later refuses or delays it.
  Session s = open(peer_at("203.0.113.11"));
  ASSERT_TRUE(passes(s.connect_reply()));
  if (s.connect_reply().is_continue()) {
    s.mail();
    for (int i = 0; i < 5; ++i) {
      const Reply r = s.rcpt("<bad@example.org>", true);
      EXPECT_CONTINUES(r);
      EXPECT_LT(r.elapsed, 500ms);
    }
  }
  s.quit();
  // Outside the allowed network the same default still bites.
  EXPECT_REFUSED(connect_once(peer_at("198.51.100.60", "", "FAIL")), "550", "5.7.1");
}

TEST_F(Rdns, LoopbackIsAllowedByTheSeededStore) {
  rule("default", {{"missing_rdns", "block"}, {"conn_rate", "1/1m"}});
  start();
  for (int i = 0; i < 3; ++i) {
    EXPECT_PASSES(connect_once(peer_at("127.0.0.1", "", "FAIL")));
    EXPECT_PASSES(connect_once(peer_at("::1", "", "FAIL")));
  }
}

}  // namespace
}  // namespace harden::testing
