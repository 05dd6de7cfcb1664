// hardenctl_check_test.cpp - `hardenctl check` through the binary: client
// keys, where each limit comes from, matching order, dial-in names from the
// real fqrdns.pcre, loopback, IPv6, expiry, --exit-code, and hostile names.
#include "hardenctl_fixture.hpp"

namespace harden::test {
namespace {

std::vector<std::string> matched_selectors(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& r : j["matched"]) out.push_back(r["selector"].get<std::string>());
  return out;
}

class HardenctlCheck : public HardenctlTest {
 protected:
  void SetUp() override { init_store(); }
  nlohmann::json check(std::vector<std::string> args) const {
    args.insert(args.begin(), "check");
    args.push_back("--json");
    return parse_json(ctl(args));
  }
};

TEST_F(HardenctlCheck, DefaultClientGetsTheDefaultLimits) {
  const auto j = check({"192.0.2.7"});
  EXPECT_EQ(j["key"], "192.0.2.7/32");
  EXPECT_EQ(j["verdict"]["result"], "limit");
  EXPECT_EQ(j["limits"]["conn_rate"]["value"], "5/1m");
  EXPECT_EQ(j["limits"]["conn_rate"]["from"], "from default");
  EXPECT_EQ(j["limits"]["conn_limit"]["value"], "3");
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "2000");
  EXPECT_EQ(matched_selectors(j), std::vector<std::string>{"default"});
  EXPECT_EQ(j["client"]["resolve"], "FAIL");
}

TEST_F(HardenctlCheck, EachLimitNamesTheMostSpecificRuleThatSetsIt) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m", "conn_limit=5"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"})));
  const auto j = check({"192.0.2.7"});
  EXPECT_EQ(j["limits"]["conn_limit"]["value"], "1");
  EXPECT_EQ(j["limits"]["conn_limit"]["from"], "from 192.0.2.7");
  EXPECT_EQ(j["limits"]["conn_rate"]["value"], "10/1m");
  EXPECT_EQ(j["limits"]["conn_rate"]["from"], "from 192.0.2.0/24");
  EXPECT_EQ(j["limits"]["max_rcpts"]["from"], "from default");
  EXPECT_EQ(matched_selectors(j),
            (std::vector<std::string>{"192.0.2.7", "192.0.2.0/24", "default"}));
  const auto other = check({"192.0.2.8"});
  EXPECT_EQ(other["limits"]["conn_limit"]["from"], "from 192.0.2.0/24");
}

TEST_F(HardenctlCheck, HumanOutputExplainsKeyVerdictAndSources) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m"})));
  const ProcessResult r = ctl({"check", "192.0.2.7"});
  ASSERT_TRUE(succeeded(r));
  for (const char* text : {"key", "192.0.2.7/32", "verdict", "limits apply", "from 192.0.2.0/24",
                           "from default", "matching rules", "dial-in", "missing rDNS"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  }
}

TEST_F(HardenctlCheck, LoopbackIsAllowedAndARateOfZeroLiftsOnlyTheRate) {
  auto j = check({"127.0.0.1"});
  EXPECT_EQ(j["verdict"]["result"], "allow");
  EXPECT_EQ(j["verdict"]["from"], "from 127.0.0.0/8");
  EXPECT_EQ(check({"::1"})["verdict"]["result"], "allow");

  ASSERT_TRUE(succeeded(ctl({"rule", "set", "127.0.0.0/8", "action=", "conn_rate=0"})));
  j = check({"127.0.0.1", "--hostname", "localhost"});
  EXPECT_EQ(j["verdict"]["result"], "limit");
  EXPECT_EQ(j["limits"]["conn_rate"]["value"], "0");
  EXPECT_EQ(j["limits"]["conn_rate"]["from"], "from 127.0.0.0/8");
  EXPECT_EQ(j["limits"]["conn_limit"]["value"], "3");
  EXPECT_EQ(j["limits"]["conn_limit"]["from"], "from default");
}

TEST_F(HardenctlCheck, Ipv6ClientsAreCountedByTheirSlash64) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "2001:db8::/48", "conn_limit=7"})));
  const auto j = check({"2001:db8:0:1:2:3:4:5"});
  EXPECT_EQ(j["key"], "2001:db8:0:1::/64");
  EXPECT_EQ(j["limits"]["conn_limit"]["from"], "from 2001:db8::/48");
  EXPECT_EQ(check({"2001:DB8::7"})["key"], "2001:db8::/64");
  EXPECT_EQ(check({"::ffff:192.0.2.7"})["key"], "192.0.2.7/32");
}

// The daemon may count clients by other prefixes (ipv4_prefix, ipv6_prefix);
// check mirrors it when told the same.
TEST_F(HardenctlCheck, ClientKeyPrefixesAsTheDaemonIsConfigured) {
  EXPECT_EQ(check({"192.0.2.77", "--ipv4-prefix", "24"})["key"], "192.0.2.0/24");
  EXPECT_EQ(check({"2001:db8:1:2:3::7", "--ipv6-prefix", "48"})["key"], "2001:db8:1::/48");
  EXPECT_EQ(check({"2001:db8:1:2:3::7", "--ipv6-prefix", "128"})["key"], "2001:db8:1:2:3::7/128");
  EXPECT_EQ(check({"192.0.2.77", "--ipv6-prefix", "48"})["key"], "192.0.2.77/32");
  for (const char* bad : {"7", "33", "-1", "x", "99999999999999999999", ""})
    EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7", "--ipv4-prefix", bad}), "--ipv4-prefix"))
        << bad;
  for (const char* bad : {"15", "129", "64.5"})
    EXPECT_TRUE(is_usage_error(ctl({"check", "::1", "--ipv6-prefix", bad}), "--ipv6-prefix"))
        << bad;
}

TEST_F(HardenctlCheck, DialInNamesFromFqrdnsAreBlocked) {
  ASSERT_TRUE(succeeded(ctl({"import", "pcre", test_data("fqrdns.pcre").string()})));
  // Line 424: /^[a-z][0-9]{9}\.adsl\.alicedsl\.de$/ inside "if /cable|dsl|.../".
  const std::vector<std::string> args{"check", "192.0.2.7", "--hostname",
                                      "e123456789.adsl.alicedsl.de"};
  auto with_json = args;
  with_json.push_back("--json");
  const auto j = parse_json(ctl(with_json));
  EXPECT_EQ(j["verdict"]["result"], "block");
  EXPECT_EQ(j["verdict"]["reason"], "Generic - Please relay via ISP (alicedsl.de)");
  EXPECT_NE(j["verdict"]["from"].get<std::string>().find("alicedsl"), std::string::npos);
  EXPECT_EQ(ctl(args).exit_code, 0);
  auto with_exit = args;
  with_exit.push_back("--exit-code");
  const ProcessResult r = ctl(with_exit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("block"), std::string::npos);
  EXPECT_TRUE(r.err.empty());

  // Pattern rules match verified names only.
  const auto forged =
      check({"192.0.2.7", "--hostname", "e123456789.adsl.alicedsl.de", "--resolve", "FORGED"});
  EXPECT_NE(forged["verdict"]["result"], "block");
  EXPECT_EQ(check({"192.0.2.7", "--hostname", "mail.example.org"})["verdict"]["result"], "limit");
}

TEST_F(HardenctlCheck, SuffixRuleIsMoreSpecificThanPatterns) {
  ASSERT_TRUE(succeeded(ctl({"import", "pcre", test_data("fqrdns.pcre").string()})));
  ASSERT_TRUE(succeeded(ctl(
      {"rule", "add", ".adsl.alicedsl.de", "action=block", "reason=Dial-in, relay via your ISP"})));
  const auto j = check({"192.0.2.7", "--hostname", "E123456789.ADSL.alicedsl.de."});
  EXPECT_EQ(j["client"]["hostname"], "e123456789.adsl.alicedsl.de");
  EXPECT_EQ(j["verdict"]["reason"], "Dial-in, relay via your ISP");
  EXPECT_EQ(j["verdict"]["from"], "from .adsl.alicedsl.de");
  const auto matched = matched_selectors(j);
  ASSERT_GE(matched.size(), 3u);
  EXPECT_EQ(matched.front(), ".adsl.alicedsl.de");
  EXPECT_EQ(matched.back(), "default");
}

TEST_F(HardenctlCheck, TempfailAndExitCode) {
  ASSERT_TRUE(
      succeeded(ctl({"rule", "add", "198.51.100.0/24", "action=tempfail", "reason=try later"})));
  const ProcessResult r = ctl({"check", "198.51.100.1", "--exit-code"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("tempfail"), std::string::npos);
  EXPECT_EQ(ctl({"check", "198.51.100.1"}).exit_code, 0);
  EXPECT_EQ(ctl({"check", "192.0.2.1", "--exit-code"}).exit_code, 0);
}

TEST_F(HardenctlCheck, ExpiredRulesStopMatchingAtTheirTime) {
  ASSERT_TRUE(
      succeeded(ctl({"rule", "add", "192.0.2.7", "action=block", "--expires", "2099-01-01"})));
  EXPECT_EQ(check({"192.0.2.7", "--at", "2098-12-31T23:59:59Z"})["verdict"]["result"], "block");
  EXPECT_EQ(check({"192.0.2.7", "--at", "2099-01-01T00:00:01Z"})["verdict"]["result"], "limit");
  EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7", "--at", "yesterday"})));
}

TEST_F(HardenctlCheck, MissingRdnsSettingOfTheDefaultRule) {
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "missing_rdns=block"})));
  const ProcessResult r = ctl({"check", "203.0.113.5", "--exit-code"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(
      ctl({"check", "203.0.113.5", "--hostname", "mail.example.org", "--exit-code"}).exit_code, 0);
  // An explicit action on a more specific rule exempts the client.
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "203.0.113.0/24", "action=limit"})));
  EXPECT_EQ(ctl({"check", "203.0.113.5", "--exit-code"}).exit_code, 0);
}

TEST_F(HardenctlCheck, DialinHeuristicOfTheDefaultRule) {
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "dialin=block"})));
  const auto j = check({"192.0.2.7", "--hostname", "192-0-2-7.dyn.example.net"});
  EXPECT_EQ(j["verdict"]["result"], "block");
  EXPECT_FALSE(j["dialin"]["hit"].is_null());
  const auto mx = check({"192.0.2.7", "--hostname", "mx1.example.net"});
  EXPECT_EQ(mx["verdict"]["result"], "limit");
  EXPECT_TRUE(mx["dialin"]["hit"].is_null());
}

TEST_F(HardenctlCheck, MonitorModeOnlyLogsAndDoesNotFailTheExitCode) {
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "dialin=monitor"})));
  const std::vector<std::string> args{"check", "192.0.2.7", "--hostname",
                                      "192-0-2-7.dyn.example.net"};
  auto with_json = args;
  with_json.push_back("--json");
  const auto j = parse_json(ctl(with_json));
  EXPECT_EQ(j["verdict"]["result"], "limit");
  EXPECT_EQ(j["verdict"]["monitor_only"], true);
  EXPECT_FALSE(j["dialin"]["hit"].is_null());
  auto with_exit = args;
  with_exit.push_back("--exit-code");
  const ProcessResult r = ctl(with_exit);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("monitor mode: would block"), std::string::npos) << r.out;
}

TEST_F(HardenctlCheck, BadClientsAndHostnamesAreUsageErrors) {
  for (const char* ip : {"300.1.1.1", "::g", "", "192.0.2.0/24", "example.org", "1.2.3"}) {
    EXPECT_TRUE(is_usage_error(ctl({"check", ip}))) << ip;
  }
  const std::string long_label(64, 'a');
  for (const std::string& name :
       {std::string("bad..name"), std::string("-"), std::string("a b.example"),
        std::string("\x1b[31mred.example"), std::string("[192.0.2.7]"), long_label + ".example",
        std::string(300, 'a'), std::string("b\xc3\xbc") + "cher.de", std::string("x\ny.example")}) {
    EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7", "--hostname", name}), "--hostname"))
        << name;
  }
  EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7", "--resolve", "MAYBE"})));
  EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7", "--resolve", "OK"}), "--hostname"));
}

}  // namespace
}  // namespace harden::test
