// sendmail_run_test.cpp - the real sendmail and makemap (Debian sendmail-bin,
// unpacked) over generated configuration: `sendmail -C file -bt` must read
// every generated sendmail.cf without a word on stderr, makemap must take the
// generated access file, and sendmail's own RateControl / ConnControl
// rulesets and access lookups, fed the client's {client_addr} as sendmail
// writes it, must give the limits the policy says. Needs root (the sandbox).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "../../unit/mtaconf/test_policy.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "mta_tools.hpp"

namespace harden::mtaconf::itest {
namespace {

using namespace mtaconf::test;
using ::testing::HasSubstr;

class SendmailRun : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!sandbox_available()) GTEST_SKIP() << kNeedsRoot;
  }

  fs::path sendmail() const { return sendmail_root() / "usr/libexec/sendmail/sendmail"; }
  fs::path makemap() const { return sendmail_root() / "usr/libexec/sendmail/makemap"; }

  // A sendmail.cf from Debian's .mc and the generated lines, its access map
  // moved into the test directory.
  fs::path build_cf(const std::string& generated, const McOptions& o = {}) {
    const ToolResult r = m4_cf(dir_.path(), debian_mc(dir_.path(), generated, o));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::string cf = r.out;
    const std::string map = " /etc/mail/access\n";
    const auto at = cf.find(map);
    EXPECT_NE(at, std::string::npos);
    if (at != std::string::npos)
      cf.replace(at, map.size(), " " + (dir_.path() / "access\n").string());
    const fs::path path = dir_.path() / "sendmail.cf";
    write_file(path, cf);
    return path;
  }

  ToolResult bt(const fs::path& cf, const std::string& input) {
    return run_sandboxed({sendmail().string(), "-C", cf.string(), "-bt"}, input + "/quit\n");
  }

  TempDir dir_;
};

TEST_F(SendmailRun, ReadsTheGeneratedCf) {
  auto p = make_policy({R("default", {{"greet_pause", "2000"}, {"max_rcpts", "25"}})});
  const fs::path cf = build_cf(sendmail_mc(*p, {}, kFrom, kNow));
  const ToolResult r = bt(cf, "$j\n$=w\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr(".test.example"));  // the sandbox's qualified host name
}

TEST_F(SendmailRun, ReadsTheCfOfTheContribFeature) {
  const fs::path shadow = shadow_cf_with_contrib_feature(dir_.path());
  const fs::path cf =
      build_cf("FEATURE(`milter_harden', `unix:/run/milter-harden/milter.sock')dnl\n",
               {.drop = {}, .cf_dir = shadow});
  const ToolResult r = bt(cf, "$j\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

// The policy of the native-limits checks below.
std::shared_ptr<const policy::Policy> native_policy() {
  return make_policy(
      {R("default", {{"conn_rate", "5/1m"}, {"conn_limit", "3"}, {"greet_pause", "2000"}}),
       R("127.0.0.0/8", {{"action", "allow"}}),
       R("192.0.2.0/24", {{"conn_rate", "20/1m"}, {"conn_limit", "10"}}),
       R("192.0.2.7", {{"conn_rate", "2/30s"}}), R("198.51.100.0/23", {{"conn_limit", "1"}}),
       R("2001:db8:1::/48", {{"conn_rate", "7/1m"}}), R("mx.example.org", {{"greet_pause", "0"}}),
       R(".slow.example", {{"greet_pause", "9000"}})});
}

struct Query {
  std::string ruleset;  // RateControl or ConnControl
  std::string client_addr;
  unsigned figure;  // {client_rate} or {client_connections}
  bool refused;
};

TEST_F(SendmailRun, NativeLimitsEnforceThePolicyThroughTheAccessMap) {
  auto p = native_policy();
  SendmailMcOptions o;
  o.native_limits = true;
  const fs::path cf =
      build_cf(sendmail_mc(*p, o, kFrom, kNow),
               {.drop = {"greet_pause", "conncontrol", "ratecontrol"}, .cf_dir = {}});
  const ToolResult mm = run_sandboxed(
      {makemap().string(), "-C", cf.string(), "hash", (dir_.path() / "access").string()},
      sendmail_access(*p, kFrom, kNow));
  ASSERT_EQ(mm.exit_code, 0) << mm.err;
  EXPECT_EQ(mm.err, "");
  ASSERT_TRUE(fs::exists(dir_.path() / "access.db"));

  // {client_addr} as sendmail writes it: IPv6 with "IPv6:" and uncompressed.
  const std::vector<Query> queries{
      {"RateControl", "203.0.113.9", 5, false},  // default 5 per minute
      {"RateControl", "203.0.113.9", 6, true},
      {"RateControl", "192.0.2.99", 20, false},  // the /24 allows 20
      {"RateControl", "192.0.2.99", 21, true},
      {"RateControl", "192.0.2.7", 4, false},  // 2 per 30 s = 4 per minute
      {"RateControl", "192.0.2.7", 5, true},
      {"RateControl", "127.0.0.1", 100000, false},  // allow: 0 = unlimited
      {"RateControl", "IPv6:2001:db8:1:5:0:0:0:1", 7, false},
      {"RateControl", "IPv6:2001:db8:1:5:0:0:0:1", 8, true},
      {"RateControl", "IPv6:2001:db8:2:0:0:0:0:1", 6, true},  // outside the /48: default
      {"ConnControl", "203.0.113.9", 3, false},
      {"ConnControl", "203.0.113.9", 4, true},
      {"ConnControl", "192.0.2.99", 10, false},
      {"ConnControl", "192.0.2.99", 11, true},
      {"ConnControl", "198.51.101.200", 2, true},  // the /23: both /24 keys
      {"ConnControl", "198.51.100.1", 1, false},
      {"ConnControl", "127.0.0.1", 500, false},
  };
  std::string input;
  for (const auto& q : queries) {
    const std::string macro = q.ruleset == "RateControl" ? "client_rate" : "client_connections";
    input += ".D{client_addr}" + q.client_addr + "\n.D{" + macro + "}" + std::to_string(q.figure) +
             "\n" + q.ruleset + " x\n";
  }
  const ToolResult r = bt(cf, input);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::regex ret(R"(^(?:> )*(RateControl|ConnControl) +returns: (.*)$)");
  std::vector<std::string> results;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, ret)) results.push_back(m[2]);
  }
  ASSERT_EQ(results.size(), queries.size()) << r.out;
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const auto& q = queries[i];
    const bool refused = results[i].find("$# error $@ 4 . 3 . 2") != std::string::npos;
    EXPECT_EQ(refused, q.refused) << q.ruleset << " " << q.client_addr << " at " << q.figure << ": "
                                  << results[i];
  }
}

TEST_F(SendmailRun, GreetPauseEntriesAreFoundByNameAndAddress) {
  auto p = native_policy();
  SendmailMcOptions o;
  o.native_limits = true;
  const fs::path cf =
      build_cf(sendmail_mc(*p, o, kFrom, kNow),
               {.drop = {"greet_pause", "conncontrol", "ratecontrol"}, .cf_dir = {}});
  ASSERT_EQ(run_sandboxed(
                {makemap().string(), "-C", cf.string(), "hash", (dir_.path() / "access").string()},
                sendmail_access(*p, kFrom, kNow))
                .exit_code,
            0);
  // sendmail's greet_pause ruleset looks up the name with D, then the address with A.
  const std::vector<std::pair<std::string, std::string>> lookups{
      {"D <mx.example.org> <?> <! GreetPause> <>", "< 0 >"},
      {"D <a.b.slow.example> <?> <! GreetPause> <>", "< 9000 >"},
      {"D <other.example> <?> <! GreetPause> <>", "< ? >"},
      {"A <127.0.0.1> <?> <! GreetPause> <>", "< 0 >"},
      {"A <203.0.113.9> <?> <! GreetPause> <>", "< ? >"},
  };
  std::vector<Call> calls;
  for (const auto& [query, want] : lookups) {
    calls.push_back({{sendmail().string(), "-C", cf.string(), "-bt"}, query + "\n/quit\n"});
  }
  const auto results = run_sandboxed_batch(dir_.path() / "bt", calls);
  for (std::size_t i = 0; i < lookups.size(); ++i) {
    const auto& [query, want] = lookups[i];
    ASSERT_EQ(results[i].exit_code, 0) << results[i].err;
    std::string last;  // the outermost call returns last
    for (const auto& l : lines_with(results[i].out, "")) {
      if (l.find("returns:") != std::string::npos) last = l;
    }
    EXPECT_THAT(last, HasSubstr("returns: " + want)) << query << "\n" << results[i].out;
  }
}

TEST_F(SendmailRun, MakemapTakesHostileButValidPolicies) {
  const std::string evil = "x')dnl # ; : \\N $ `quoted' \"double\"";
  auto p = make_policy({R("default", {{"reason", evil}, {"conn_rate", "5/1m"}}),
                        R("/dnl'`\\t#/", {{"action", "block"}, {"reason", evil}}),
                        R("192.0.2.0/24", {{"action", "block"}, {"reason", evil}}),
                        R("host-1.example.org", {{"greet_pause", "0"}})});
  const std::string text = sendmail_access(*p, kFrom, kNow);
  const fs::path cf = build_cf(sendmail_mc(*p, {}, kFrom, kNow));
  const ToolResult mm = run_sandboxed(
      {makemap().string(), "-C", cf.string(), "hash", (dir_.path() / "access").string()}, text);
  EXPECT_EQ(mm.exit_code, 0) << mm.err;
  EXPECT_EQ(mm.err, "");
  // The dump of the map holds exactly the entries, no word of the reason.
  const ToolResult dump =
      run_sandboxed({(sendmail_root() / "usr/libexec/sendmail/makemap").string(), "-C", cf.string(),
                     "-u", "hash", (dir_.path() / "access").string()});
  EXPECT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("clientrate:\t5"));  // makemap folds keys to lower case
  EXPECT_THAT(dump.out, HasSubstr("greetpause:host-1.example.org\t0"));
  EXPECT_EQ(dump.out.find("dnl"), std::string::npos) << dump.out;
}

}  // namespace
}  // namespace harden::mtaconf::itest
