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
    args.push_back("--socket");
    args.push_back(no_daemon());
    return parse_json(ctl(args));
  }
  // A control socket path where no daemon listens.
  std::string no_daemon() const { return (dir() / "no-daemon.sock").string(); }
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

TEST_F(HardenctlCheck, ShowsTheRdnsClassAndGenericHosting) {
  const auto ec2 = check({"192.0.2.9", "--hostname", "ec2-192-0-2-9.compute-1.amazonaws.com"});
  EXPECT_EQ(ec2["rdns_class"]["class"], "hosting");
  EXPECT_EQ(ec2["rdns_class"]["hit"]["heuristic"], "ipv4-dashed");
  EXPECT_EQ(ec2["verdict"]["result"], "limit");  // generic_hosting is off by default
  EXPECT_TRUE(ec2["generic_hosting"]["hit"].is_null());
  const auto dyn = check({"192.0.2.7", "--hostname", "192-0-2-7.dyn.example.net"});
  EXPECT_EQ(dyn["rdns_class"]["class"], "dynamic");
  const auto mx = check({"192.0.2.7", "--hostname", "mx1.example.net"});
  EXPECT_EQ(mx["rdns_class"]["class"], "static");

  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "generic_hosting=block"})));
  const auto blocked = check({"192.0.2.9", "--hostname", "ec2-192-0-2-9.compute-1.amazonaws.com"});
  EXPECT_EQ(blocked["verdict"]["result"], "block");
  EXPECT_FALSE(blocked["generic_hosting"]["hit"].is_null());
  const ProcessResult text =
      ctl({"check", "192.0.2.9", "--hostname", "ec2-192-0-2-9.compute-1.amazonaws.com"});
  EXPECT_NE(text.out.find("hosting: ipv4-dashed"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("generic_hosting=block"), std::string::npos) << text.out;
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

// The daemon holds at most its greet_pause_cap; check shows that pause and
// why, and says where the cap came from.
TEST_F(HardenctlCheck, GreetPauseIsShownAsHeldCutToTheCap) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "greet_pause=30000"})));
  auto j = check({"192.0.2.7", "--greet-pause-cap", "9s"});
  const auto& g = j["limits"]["greet_pause"];
  EXPECT_EQ(g["value"], "9000");
  EXPECT_EQ(g["held_ms"], 9000);
  EXPECT_EQ(g["policy_ms"], 30000);
  EXPECT_EQ(g["cap_ms"], 9000);
  EXPECT_EQ(g["cut"], true);
  EXPECT_EQ(g["from"], "from 192.0.2.0/24");
  EXPECT_EQ(j["greet_pause_cap"]["ms"], 9000);
  EXPECT_EQ(j["greet_pause_cap"]["from"], "option");
  EXPECT_NE(j["verdict"]["text"].get<std::string>().find("greet_pause 9000"), std::string::npos);
  // Below the cap nothing is cut; the default rule's 2000 stays.
  j = check({"198.51.100.7", "--greet-pause-cap", "9000"});
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "2000");
  EXPECT_EQ(j["limits"]["greet_pause"]["cut"], false);
  EXPECT_EQ(check({"192.0.2.7", "--greet-pause-cap", "0"})["limits"]["greet_pause"]["value"], "0");

  const ProcessResult r =
      ctl({"check", "192.0.2.7", "--greet-pause-cap", "9s", "--socket", no_daemon()});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("greet_pause        9000 (policy 30000, cut to greet_pause_cap)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("greet pause cap  9s (--greet-pause-cap)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("greet_pause 30000"), std::string::npos) << r.out;
}

// Without --greet-pause-cap and no daemon to ask: the default cap, said so.
TEST_F(HardenctlCheck, WithoutADaemonTheDefaultCapIsUsedAndSaid) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "greet_pause=30s"})));
  const auto j = check({"192.0.2.7"});
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "9000");
  EXPECT_EQ(j["greet_pause_cap"]["from"], "default");
  const std::string text = j["greet_pause_cap"]["text"];
  EXPECT_NE(text.find("milter-harden's default"), std::string::npos) << text;
  EXPECT_NE(text.find(no_daemon()), std::string::npos) << text;
  const ProcessResult r = ctl({"check", "192.0.2.7", "--socket", no_daemon()});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("greet pause cap  9s (milter-harden's default"), std::string::npos) << r.out;
}

TEST_F(HardenctlCheck, BadGreetPauseCapsAreUsageErrors) {
  for (const std::string& bad :
       std::vector<std::string>{"61s", "2m", "1.5s", "s", "10 s", "10sec", "-1", "",
                                "18446744073709551616", std::string(5000, '9'), "\x1b[31m9s"}) {
    EXPECT_TRUE(
        is_usage_error(ctl({"check", "192.0.2.7", "--greet-pause-cap", bad}), "--greet-pause-cap"))
        << bad.substr(0, 40);
  }
}

class HardenctlBatch : public HardenctlCheck {
 protected:
  void SetUp() override {
    HardenctlCheck::SetUp();
    ASSERT_TRUE(succeeded(ctl({"import", "pcre", test_data("fqrdns.pcre").string()})));
    ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "greet_pause=30s"})));
    ASSERT_TRUE(succeeded(ctl({"rule", "add", "198.51.100.9", "action=tempfail"})));
  }
  // check ARGS with the time and the cap fixed, so runs compare equal.
  ProcessResult run(std::vector<std::string> args, ProcessOptions opts = {}) const {
    args.insert(args.begin(), "check");
    for (const char* a : {"--at", "2026-06-01T00:00:00Z", "--greet-pause-cap", "9s"})
      args.push_back(a);
    return ctl(args, std::move(opts));
  }
  std::string input(std::string_view text) const {
    const auto path = dir() / "clients.txt";
    write_file(path, text);
    return path.string();
  }
  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
      out.push_back(text.substr(start, nl - start));
    if (start < text.size()) out.push_back(text.substr(start));
    return out;
  }
};

// The same client gives the same answer from --batch as from a single check:
// the --brief line, and the same JSON object.
TEST_F(HardenctlBatch, EachLineIsWhatTheSingleCheckPrints) {
  const std::vector<std::vector<std::string>> clients{
      {"192.0.2.7"},
      {"192.0.2.7", "e123456789.adsl.alicedsl.de"},
      {"192.0.2.8", "e123456789.adsl.alicedsl.de", "FORGED"},
      {"198.51.100.9", "mail.example.org"},
      {"2001:db8::7", "mail.example.org", "OK"},
      {"127.0.0.1"},
      {"203.0.113.5", "-", "TEMP"},
  };
  std::string file;
  for (const auto& c : clients) {
    for (std::size_t i = 0; i < c.size(); ++i) file += (i ? " " : "") + c[i];
    file += '\n';
  }
  const std::string path = input(file);
  const ProcessResult text = run({"--batch", path});
  ASSERT_TRUE(succeeded(text)) << text.err;
  const ProcessResult json = run({"--batch", path, "--json"});
  ASSERT_TRUE(succeeded(json)) << json.err;
  const auto text_lines = lines(text.out);
  const auto json_lines = lines(json.out);
  ASSERT_EQ(text_lines.size(), clients.size()) << text.out;
  ASSERT_EQ(json_lines.size(), clients.size()) << json.out;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    std::vector<std::string> args{clients[i][0]};
    if (clients[i].size() > 1 && clients[i][1] != "-") {
      args.push_back("--hostname");
      args.push_back(clients[i][1]);
    }
    if (clients[i].size() > 2) {
      args.push_back("--resolve");
      args.push_back(clients[i][2]);
    }
    SCOPED_TRACE(file.substr(0, 0) + clients[i][0]);
    auto brief = args;
    brief.push_back("--brief");
    const ProcessResult one = run(brief);
    ASSERT_TRUE(succeeded(one));
    EXPECT_EQ(text_lines[i] + "\n", one.out);
    EXPECT_TRUE(text_lines[i].starts_with(clients[i][0] + " ")) << text_lines[i];
    auto as_json = args;
    as_json.push_back("--json");
    EXPECT_EQ(nlohmann::json::parse(json_lines[i]), parse_json(run(as_json)));
  }
  EXPECT_NE(text_lines[1].find("192.0.2.7 block key=192.0.2.7/32 name=e123456789.adsl.alicedsl.de "
                               "resolve=OK rule="),
            std::string::npos)
      << text_lines[1];
  EXPECT_NE(text_lines[0].find(" greet_pause=9000 greet_pause_policy=30000"), std::string::npos)
      << text_lines[0];
  EXPECT_TRUE(text_lines[3].starts_with("198.51.100.9 tempfail ")) << text_lines[3];
}

// Hostile lines are errors for that line alone, with file and line number;
// the rest is checked; exit status 2.
TEST_F(HardenctlBatch, BadLinesAreReportedWithTheirNumberAndTheRestGoesOn) {
  std::string file =
      "# clients seen today\n"                               // 1
      "\n"                                                   // 2
      "192.0.2.7\n"                                          // 3
      "300.1.1.1\n"                                          // 4
      "192.0.2.8 bad..name\n"                                // 5
      "192.0.2.9 mx.example.org MAYBE\n"                     // 6
      "192.0.2.10 mx.example.org OK extra\n"                 // 7
      "192.0.2.11 - OK\n";                                   // 8
  file += std::string("192.0.2.12 mx\0.example.org\n", 28);  // 9: a NUL byte
  file += "192.0.2.13 " + std::string(5000, 'a') + "\n";     // 10: longer than 4096
  file += "\x1b[31m192.0.2.14\n";                            // 11: control bytes
  file += "192.0.2.15 mx.example.org\r\n";                   // 12: CRLF is fine
  file += "   \t  \n";                                       // 13: blank
  file += "2001:db8::1";                                     // 14: no final newline
  const std::string path = input(file);
  const ProcessResult r = run({"--batch", path});
  EXPECT_EQ(r.exit_code, 2);
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;
  EXPECT_TRUE(out[0].starts_with("192.0.2.7 limit ")) << out[0];
  EXPECT_TRUE(out[1].starts_with("192.0.2.15 limit key=192.0.2.15/32 name=mx.example.org "))
      << out[1];
  EXPECT_TRUE(out[2].starts_with("2001:db8::1 limit ")) << out[2];
  const auto err = lines(r.err);
  const std::vector<std::string> want{
      path + ":4: error: not an IP address: '300.1.1.1'",
      path + ":5: error: HOSTNAME: ",
      path + ":6: error: ",
      path + ":7: error: 4 fields; expected IP [HOSTNAME [RESOLVE]]",
      path + ":8: error: RESOLVE OK needs a HOSTNAME",
      path + ":9: error: NUL byte in the line",
      path + ":10: error: line longer than 4096 bytes",
      path + ":11: error: not an IP address: '\\x1b[31m192.0.2.14'",
      "hardenctl: 8 of 11 lines bad",
  };
  ASSERT_EQ(err.size(), want.size()) << r.err;
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(err[i].starts_with(want[i])) << err[i];
  for (const char c : r.err) EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << int(c);
}

// Memory stays bounded: a line of 8 MiB without a newline is one bad line.
TEST_F(HardenctlBatch, AHugeLineIsOneBadLine) {
  ProcessOptions o;
  o.stdin_text = "192.0.2.7\n" + std::string(8u << 20, '9');
  const ProcessResult r = run({"--batch", "-"}, o);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(lines(r.out).size(), 1u);
  EXPECT_NE(r.err.find("stdin:2: error: line longer than 4096 bytes"), std::string::npos) << r.err;
}

TEST_F(HardenctlBatch, StdinJsonLinesAndTheExitCode) {
  ProcessOptions o;
  o.stdin_text = "192.0.2.7\n198.51.100.1\n";
  ProcessResult r = run({"--batch", "-", "--json", "--exit-code"}, o);
  ASSERT_TRUE(succeeded(r)) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(out[1])["client"]["address"], "198.51.100.1");
  EXPECT_EQ(nlohmann::json::parse(out[0])["limits"]["greet_pause"]["value"], "9000");
  o.stdin_text += "198.51.100.9\n";  // tempfail
  r = run({"--batch", "-", "--exit-code"}, o);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(lines(r.out).size(), 3u);
  EXPECT_TRUE(r.err.empty());
  EXPECT_EQ(run({"--batch", "-"}, o).exit_code, 0);
  o.stdin_text = "";
  r = run({"--batch", "-"}, o);
  EXPECT_TRUE(succeeded(r));
  EXPECT_TRUE(r.out.empty());
}

TEST_F(HardenctlBatch, BatchWithAClientOnTheCommandLineIsAUsageError) {
  const std::string path = input("192.0.2.7\n");
  EXPECT_TRUE(is_usage_error(run({"192.0.2.7", "--batch", path}), "--batch"));
  EXPECT_TRUE(is_usage_error(run({"--batch", path, "--hostname", "mx.example.org"}), "--batch"));
  EXPECT_TRUE(is_usage_error(run({"--batch", path, "--resolve", "OK"}), "--batch"));
  EXPECT_TRUE(is_usage_error(run({"--batch", path, "--brief", "--json"}), "--json"));
  EXPECT_TRUE(is_usage_error(ctl({"check"}), "--batch"));
  EXPECT_TRUE(is_usage_error(run({"--batch", (dir() / "missing.txt").string()}), "missing.txt"));
  EXPECT_TRUE(is_usage_error(run({"--batch", dir().string()}), "is a directory"));
}

}  // namespace
}  // namespace harden::test
