// fail2ban_test.cpp - contrib/fail2ban/filter.d/milter-harden.conf under the
// real fail2ban-regex, over lines built by the daemon's own
// harden::milter::enforcement_line: only the client address the daemon wrote
// is ever found, whatever host name the client chose; "would reject:" and
// "throttle:" lines find nothing. Skipped when fail2ban is not installed.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harden/milter/reply.hpp"
#include "harden/policy/decision.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using harden::milter::enforcement_line;
using harden::milter::LogClient;
using harden::milter::penalty_end_line;
using harden::milter::penalty_line;
namespace policy = harden::policy;
using harden::policy::Decision;
using harden::policy::DecisionKind;
using harden::policy::Verdict;
using harden::testing::run;
using harden::testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kFail2banRegex = "/usr/bin/fail2ban-regex";
constexpr const char* kCommonConf = "/etc/fail2ban/filter.d/common.conf";

Decision refusal(DecisionKind kind) {
  Decision d;
  d.verdict = Verdict::reject;
  d.kind = kind;
  d.rcode = "554";
  d.xcode = "5.7.1";
  d.text = "Rejected";
  d.rule = "default";
  d.figure = "pregreet 22 bytes before greeting";
  return d;
}

class Fail2banFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kFail2banRegex) || !fs::exists(kCommonConf))
      GTEST_SKIP() << "fail2ban not installed (apt-get install fail2ban)";
    // The filter includes common.conf from its own directory.
    fs::create_directories(dir_ / "filter.d");
    fs::copy_file(fs::path(HARDEN_SOURCE_DIR) / "contrib/fail2ban/filter.d/milter-harden.conf",
                  filter_);
    fs::create_symlink(kCommonConf, dir_ / "filter.d/common.conf");
  }

  // The addresses fail2ban-regex finds in `lines` (each written as syslog
  // does, and once more as the daemon's stderr line relayed by journald).
  std::multiset<std::string> found(const std::vector<std::string>& lines, bool stderr_too = true) {
    const fs::path log = dir_ / "mail.log";
    {
      std::ofstream out(log, std::ios::trunc);
      for (const auto& l : lines) {
        out << "Dec  2 12:00:00 mx milter-harden[123]: " << l << '\n';
        if (stderr_too)
          out << "Dec  2 12:00:01 mx milter-harden[123]: 2026-12-02 12:00:01.234 info " << l
              << '\n';
      }
    }
    const auto r = run({kFail2banRegex, "-o", "ip", log.string(), filter_.string()}, 60s);
    EXPECT_TRUE(r.ok()) << r.output;
    std::multiset<std::string> ips;
    std::istringstream in(r.output);
    for (std::string ip; std::getline(in, ip);)
      if (!ip.empty()) ips.insert(ip);
    return ips;
  }

  TempDir dir_{"harden-fail2ban"};
  fs::path filter_ = dir_ / "filter.d/milter-harden.conf";
};

TEST_F(Fail2banFilterTest, FindsTheClientOfEveryBannedKind) {
  std::vector<std::string> lines;
  for (auto k : {DecisionKind::blocked, DecisionKind::dialin, DecisionKind::pregreet,
                 DecisionKind::conn_rate})
    lines.push_back(enforcement_line(refusal(k), {"192.0.2.7", "dsl-1-2.example.net"}));
  EXPECT_EQ(found(lines, false),
            (std::multiset<std::string>{"192.0.2.7", "192.0.2.7", "192.0.2.7", "192.0.2.7"}));
  EXPECT_EQ(found(lines).size(), 8u);  // the journald-relayed stderr form as well
}

TEST_F(Fail2banFilterTest, FindsAnIpv6Client) {
  const auto line = enforcement_line(refusal(DecisionKind::pregreet), {"2001:db8::7", "unknown"});
  EXPECT_EQ(found({line}), (std::multiset<std::string>{"2001:db8::7", "2001:db8::7"}));
}

TEST_F(Fail2banFilterTest, KindsNotBannedByDefaultFindNothing) {
  std::vector<std::string> lines;
  for (auto k : {DecisionKind::conn_limit, DecisionKind::missing_rdns, DecisionKind::max_rcpts,
                 DecisionKind::rcpt_rate, DecisionKind::msg_rate})
    lines.push_back(enforcement_line(refusal(k), {"192.0.2.7", "unknown"}));
  EXPECT_TRUE(found(lines).empty());
}

TEST_F(Fail2banFilterTest, WouldRejectAndThrottleFindNothing) {
  Decision monitor = refusal(DecisionKind::pregreet);
  monitor.verdict = Verdict::proceed;
  monitor.monitor = true;
  Decision throttle;
  throttle.kind = DecisionKind::bad_rcpt_throttle;
  throttle.delay = 1000ms;
  throttle.rule = "default";
  Decision would_throttle = throttle;
  would_throttle.monitor = true;
  const std::vector<std::string> lines = {
      enforcement_line(monitor, {"192.0.2.7", "unknown"}),
      enforcement_line(throttle, {"192.0.2.7", "unknown"}),
      enforcement_line(would_throttle, {"192.0.2.7", "unknown"}),
  };
  ASSERT_EQ(lines[0].rfind("would reject: ", 0), 0u) << lines[0];
  ASSERT_EQ(lines[1].rfind("throttle: ", 0), 0u) << lines[1];
  ASSERT_EQ(lines[2].rfind("would throttle: ", 0), 0u) << lines[2];
  EXPECT_TRUE(found(lines).empty());
}

// A penalty's start line ("penalty: ... kind=penalty") is found when the jail
// asks for kinds="penalty"; "would penalise:" and the end line never are.
TEST_F(Fail2banFilterTest, PenaltyStartLinesMatchTheKindPenalty) {
  policy::PenaltyStart p;
  p.penalty = policy::Penalty{1'800'000'000'000, 1'800'000'600'000, 1, "pregreet"};
  p.key = policy::IpNetwork::parse("192.0.2.66");
  const std::string start = penalty_line(p, {"192.0.2.66", "unknown"}, "default");
  p.monitor = true;
  const std::string would = penalty_line(p, {"192.0.2.66", "unknown"}, "default");
  const std::string end = penalty_end_line(p.key, p.penalty, false);
  ASSERT_EQ(start.rfind("penalty: client=[192.0.2.66]", 0), 0u) << start;
  EXPECT_TRUE(found({start, would, end}).empty());  // not a default kind
  std::string text;
  {
    std::ifstream in(filter_);
    std::ostringstream all;
    all << in.rdbuf();
    text = all.str();
  }
  const auto at = text.find("kinds = blocked|dialin|pregreet|conn_rate");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("kinds = blocked|dialin|pregreet|conn_rate").size(),
               "kinds = penalty");
  std::ofstream(filter_, std::ios::trunc) << text;
  EXPECT_EQ(found({start, would, end}, false), (std::multiset<std::string>{"192.0.2.66"}));
}

const std::vector<std::string>& hostile_names() {
  static const std::vector<std::string> names = {
      "x milter-harden[1]: reject: client=[203.0.113.66] kind=pregreet",
      "[203.0.113.66]",
      "203.0.113.66] name=x kind=pregreet",
      "kind=blocked",
      "a\" kind=blocked client=[203.0.113.66] x=\"",
      "a\\\" kind=blocked client=[203.0.113.66] \\",
      "a\\",
      "\\\\\" kind=pregreet",
      "]\" kind=dialin",
      "x\nDec  2 12:00:00 mx milter-harden[1]: reject: client=[203.0.113.66] name=a kind=pregreet ",
      std::string(1100, 'a') + " kind=pregreet client=[203.0.113.66]",
      "a kind=pregreet",
  };
  return names;
}

TEST_F(Fail2banFilterTest, AHostileNameNeverSuppliesTheAddress) {
  for (const auto& name : hostile_names()) {
    const auto line = enforcement_line(refusal(DecisionKind::conn_rate), {"192.0.2.8", name});
    EXPECT_EQ(found({line}), (std::multiset<std::string>{"192.0.2.8", "192.0.2.8"})) << line;
  }
}

TEST_F(Fail2banFilterTest, AHostileNameNeverSuppliesTheKind) {
  for (const auto& name : hostile_names()) {
    const auto line = enforcement_line(refusal(DecisionKind::max_rcpts), {"192.0.2.8", name});
    EXPECT_TRUE(found({line}).empty()) << line;
  }
}

}  // namespace
