// sendmail_cf_test.cpp - generated sendmail.mc lines and the contrib FEATURE
// through GNU m4 and Debian's real cf/ tree (sendmail-cf, unpacked by
// scripts/fetch-mta.sh): Debian's default sendmail.mc plus our lines must
// build a sendmail.cf without any *** ERROR, with the O options, the X milter
// line and the macro lists the policy and macros.hpp say. m4 needs no root.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "../../unit/mtaconf/test_policy.hpp"
#include "harden/mtaconf/macros.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "mta_tools.hpp"

namespace harden::mtaconf::itest {
namespace {

using namespace mtaconf::test;
using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const policy::Policy> sample_policy() {
  return make_policy({R("default", {{"conn_rate", "5/1m"},
                                    {"conn_limit", "3"},
                                    {"greet_pause", "2000"},
                                    {"max_rcpts", "25"},
                                    {"bad_rcpt_throttle", "2"},
                                    {"rcpt_rate", "100/1h"}}),
                      R("127.0.0.0/8", {{"action", "allow"}}),
                      R("192.0.2.0/24", {{"conn_rate", "20/1m"}, {"conn_limit", "10"}}),
                      R(".slow.example", {{"greet_pause", "30000"}})});
}

// Items of an "O Milter.macros.x=a, b, c" line.
std::vector<std::string> macro_items(const std::string& cf, const std::string& option) {
  const auto l = lines_with(cf, "O Milter.macros." + option + "=");
  EXPECT_EQ(l.size(), 1u) << option;
  std::vector<std::string> out;
  if (l.empty()) return out;
  std::istringstream in(l[0].substr(l[0].find('=') + 1));
  for (std::string item; std::getline(in, item, ',');) {
    out.push_back(item.substr(item.find_first_not_of(' ')));
  }
  return out;
}

// The .cf's macro lists start with sendmail's defaults (as macros.hpp knows
// them: a changed cfhead.m4 fails here) and hold every macro the daemon asks for.
void expect_macro_lists(const std::string& cf) {
  const std::pair<MacroStage, std::string> options[] = {{MacroStage::connect, "connect"},
                                                        {MacroStage::envfrom, "envfrom"},
                                                        {MacroStage::envrcpt, "envrcpt"}};
  for (const auto& [stage, name] : options) {
    const auto l = lines_with(cf, "O Milter.macros." + name + "=");
    ASSERT_EQ(l.size(), 1u);
    EXPECT_THAT(l[0], ::testing::StartsWith("O Milter.macros." + name + "=" +
                                            std::string(sendmail_default(stage))))
        << "sendmail's default for " << name << " differs from macros.hpp";
    const auto items = macro_items(cf, name);
    const std::set<std::string> have(items.begin(), items.end());
    EXPECT_EQ(have.size(), items.size()) << "a macro listed twice: " << l[0];
    for (const auto& list : kMacroLists) {
      if (list.stage != stage) continue;
      for (auto m : list.macros) EXPECT_TRUE(have.count(std::string(m))) << name << " lacks " << m;
    }
  }
}

TEST(SendmailCf, DebianDefaultPlusGeneratedLinesBuilds) {
  TempDir dir;
  auto p = sample_policy();
  SendmailMcOptions o;
  o.socket = "unix:/run/milter-harden/milter.sock";
  o.max_daemon_children = 40;
  o.connection_rate_throttle = 12;
  const ToolResult r = m4_cf(dir.path(), debian_mc(dir.path(), sendmail_mc(*p, o, kFrom, kNow)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("*** ERROR")));
  EXPECT_EQ(r.err, "");
  const std::string& cf = r.out;
  EXPECT_EQ(lines_with(cf, "Xmilter-harden"),
            std::vector<std::string>{"Xmilter-harden, S=unix:/run/milter-harden/milter.sock, F=T, "
                                     "T=C:10s;S:10s;R:40s;E:5m"});
  EXPECT_EQ(lines_with(cf, "O InputMailFilters="),
            std::vector<std::string>{"O InputMailFilters=milter-harden"});
  for (auto want :
       {"O MaxRecipientsPerMessage=25", "O BadRcptThrottle=2", "O ConnectionRateWindowSize=1m",
        "O ConnectionRateThrottle=12", "O MaxDaemonChildren=40", "O Timeout.initial=1m",
        "O Timeout.connect=1m", "O Timeout.helo=2m", "O Timeout.mail=2m", "O Timeout.rcpt=2m",
        "O Timeout.datainit=2m", "O Timeout.datablock=2m", "O Timeout.datafinal=5m",
        "O Timeout.rset=1m", "O Timeout.quit=1m", "O Timeout.misc=1m", "O Timeout.command=1m"}) {
    const std::string key = std::string(want).substr(0, std::string(want).find('=') + 1);
    EXPECT_EQ(lines_with(cf, key), std::vector<std::string>{want}) << key;
  }
  expect_macro_lists(cf);
  // Debian's own features are untouched (no --native-limits).
  EXPECT_EQ(lines_with(cf, "Sgreet_pause").size(), 1u);
}

TEST(SendmailCf, NativeLimitsReplaceDebiansFeatures) {
  TempDir dir;
  auto p = sample_policy();
  SendmailMcOptions o;
  o.native_limits = true;
  const std::string mc =
      debian_mc(dir.path(), sendmail_mc(*p, o, kFrom, kNow),
                {.drop = {"greet_pause", "conncontrol", "ratecontrol"}, .cf_dir = {}});
  const ToolResult r = m4_cf(dir.path(), mc);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string& cf = r.out;
  for (auto rs : {"SRateControl", "SConnControl", "Sgreet_pause"}) {
    EXPECT_EQ(lines_with(cf, rs).size(), 1u) << rs;
  }
  EXPECT_THAT(cf, HasSubstr("R<?> <$*>\t\t$# 2000\n"));                  // the default greet pause
  EXPECT_THAT(cf, HasSubstr("$: 421 Connection rate limit exceeded."));  // terminate
  EXPECT_THAT(cf, HasSubstr("$: 421 Too many open connections."));
  EXPECT_EQ(lines_with(cf, "Kaccess").size(), 1u);
}

TEST(SendmailCf, NativeLimitsWithoutDelayChecksDropNodelay) {
  TempDir dir;
  auto p = sample_policy();
  SendmailMcOptions o;
  o.native_limits = true;
  const std::string mc = debian_mc(
      dir.path(), sendmail_mc(*p, o, kFrom, kNow),
      {.drop = {"greet_pause", "conncontrol", "ratecontrol", "delay_checks"}, .cf_dir = {}});
  const ToolResult r = m4_cf(dir.path(), mc);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // FEATURE(`ratecontrol', `nodelay') without delay_checks would be an m4 *** ERROR.
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(lines_with(r.out, "SRateControl").size(), 1u);
}

TEST(SendmailCf, NativeLimitsOverDebiansOwnFeaturesIsAnM4Error) {
  TempDir dir;
  auto p = sample_policy();
  SendmailMcOptions o;
  o.native_limits = true;
  const ToolResult r = m4_cf(dir.path(), debian_mc(dir.path(), sendmail_mc(*p, o, kFrom, kNow)));
  for (auto f : {"ratecontrol", "conncontrol", "greet_pause"}) {
    EXPECT_THAT(r.err, HasSubstr(std::string("*** ERROR: FEATURE(`") + f +
                                 "') is in the .mc before the milter-harden lines"));
  }
  EXPECT_EQ(lines_with(r.out, "Sgreet_pause").size(), 1u);  // still only Debian's
}

TEST(SendmailCf, HostileRulesDoNotReachM4) {
  TempDir dir;
  const std::string evil = "x')dnl define(`confMAX_DAEMON_CHILDREN', `1') `dnl, ( ) ; : \\N $";
  auto p = make_policy({R("default", {{"reason", evil}, {"greet_pause", "1000"}}),
                        R("/x'\\)dnl`define/", {{"action", "block"}, {"reason", evil}}),
                        R("192.0.2.0/24", {{"action", "tempfail"}, {"reason", evil}})});
  SendmailMcOptions o;
  o.native_limits = true;
  const Provenance from{"hardenctl gen sendmail-mc", "/tmp/store')dnl\ndefine(`confX', `1')"};
  const std::string mc =
      debian_mc(dir.path(), sendmail_mc(*p, o, from, kNow),
                {.drop = {"greet_pause", "conncontrol", "ratecontrol"}, .cf_dir = {}});
  const ToolResult r = m4_cf(dir.path(), mc);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(lines_with(r.out, "O MaxDaemonChildren="),
            std::vector<std::string>{"O MaxDaemonChildren=0"});  // Debian's, not the reason's
  EXPECT_EQ(lines_with(r.out, "Xmilter-harden").size(), 1u);
}

struct FeatureCase {
  std::string args;  // after `milter_harden'
  std::string x_line;
};

TEST(SendmailCf, ContribFeatureBuildsTheMilterLine) {
  const std::vector<FeatureCase> cases{
      {"", "Xmilter-harden, S=unix:/run/milter-harden/milter.sock, F=T, T=C:10s;S:10s;R:70s;E:5m"},
      {", `unix:/run/milter-harden/milter.sock'",
       "Xmilter-harden, S=unix:/run/milter-harden/milter.sock, F=T, T=C:10s;S:10s;R:70s;E:5m"},
      {", `inet6:8894@::1', `R'",
       "Xmilter-harden, S=inet6:8894@::1, F=R, T=C:10s;S:10s;R:70s;E:5m"},
      {", `unix:/run/m.sock', `none'",
       "Xmilter-harden, S=unix:/run/m.sock, T=C:10s;S:10s;R:70s;E:5m"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const fs::path cf = shadow_cf_with_contrib_feature(dir.path());
    const std::string mc = debian_mc(dir.path(), "FEATURE(`milter_harden'" + c.args + ")dnl\n",
                                     {.drop = {}, .cf_dir = cf});
    const ToolResult r = m4_cf(dir.path(), mc);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "") << c.args;
    EXPECT_EQ(lines_with(r.out, "Xmilter-harden"), std::vector<std::string>{c.x_line}) << c.args;
    expect_macro_lists(r.out);
  }
}

TEST(SendmailCf, ContribFeatureTimeoutsCanBeOverridden) {
  TempDir dir;
  const fs::path cf = shadow_cf_with_contrib_feature(dir.path());
  const std::string mc = debian_mc(dir.path(),
                                   "define(`confMILTER_HARDEN_TIMEOUTS', `S:5s;R:20s')dnl\n"
                                   "FEATURE(`milter_harden', `unix:/run/m.sock')dnl\n",
                                   {.drop = {}, .cf_dir = cf});
  const ToolResult r = m4_cf(dir.path(), mc);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines_with(r.out, "Xmilter-harden"),
            std::vector<std::string>{"Xmilter-harden, S=unix:/run/m.sock, F=T, T=S:5s;R:20s"});
}

TEST(SendmailCf, ExampleMcOfContribBuilds) {
  TempDir dir;
  const fs::path cf = shadow_cf_with_contrib_feature(dir.path());
  std::string mc = read_file(contrib_m4_dir() / "sendmail.mc.example");
  // The example is Debian's default: run it from the unpacked tree like debian_mc().
  const std::string inc = "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n";
  ASSERT_NE(mc.find(inc), std::string::npos);
  mc.replace(mc.find(inc), inc.size(),
             "include(`" + (cf / "m4/cf.m4").string() + "')dnl\ninclude(`" +
                 (sendmail_cf_dir() / "debian/autoconf.m4").string() + "')dnl\n");
  for (auto f : {"dialup.m4", "provider.m4"}) {
    const std::string from = std::string("include(`/etc/mail/m4/") + f + "')dnl";
    write_file(dir.path() / f, "");
    ASSERT_NE(mc.find(from), std::string::npos);
    mc.replace(mc.find(from), from.size(), "include(`" + (dir.path() / f).string() + "')dnl");
  }
  const ToolResult r = m4_cf(dir.path(), mc);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(lines_with(r.out, "Xmilter-harden").size(), 1u);
  expect_macro_lists(r.out);
}

}  // namespace
}  // namespace harden::mtaconf::itest
