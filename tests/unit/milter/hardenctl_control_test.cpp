// hardenctl_control_test.cpp - `hardenctl status|client|flush|reload`
// against the real control plane (ControlPlane on a temp socket) with a
// scripted service behind it: what is printed, and that every failure is one
// line on stderr with exit status 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "harden/milter/control_plane.hpp"
#include "support/process.hpp"

namespace harden::milter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

class ScriptedService final : public ControlService {
 public:
  json stats() override {
    json j = {
        {"ok", true},
        {"version", "0.1.0"},
        {"pid", 4242},
        {"uptime_seconds", 3725},
        {"mode", "monitor"},
        {"policy", {{"store", "/x/policy.db"}, {"rules", 1603}, {"data_version", 9}}},
        {"counters", {{"entries", 7}, {"capacity", 100}, {"memory_bytes", 700}, {"evictions", 0}}},
        {"metrics",
         {{"sessions_total", 12},
          {"sessions_open", 2},
          {"decisions", {{"conn_rate", {{"tempfail", 2}}}}}}}};
    if (report_cap) j["greet_pause_cap_ms"] = 4000;
    return j;
  }
  json client(const ControlRequest& r) override {
    return {
        {"ok", true},
        {"ip", r.ip->to_string()},
        {"key", r.ip->to_string()},
        {"hostname", r.hostname},
        {"resolve", r.hostname.empty() ? "FAIL" : "OK"},
        {"limits",
         {{"max_rcpts", {{"value", "25"}, {"source", "default"}}},
          {"action", {{"value", "limit"}, {"source", "built-in default"}}},
          {"conn_rate", {{"value", "10/1m"}, {"source", "192.0.2.0/24"}}},
          {"greet_pause",
           {{"value", "9000"},
            {"source", "192.0.2.0/24"},
            {"held_ms", 9000},
            {"policy_ms", 30000},
            {"cap_ms", 9000},
            {"cut", true},
            {"text", "9000 (policy 30000, cut to greet_pause_cap)"}}}}},
        {"counters",
         {{"known", true}, {"conn_count", 3}, {"open", 1}, {"rcpt_count", 0}, {"msg_count", 0}}}};
  }
  json flush(const policy::IpAddress& ip) override {
    return {{"ok", true}, {"key", ip.to_string()}, {"flushed", ip.to_string() == "192.0.2.7"}};
  }
  json reload() override { return {{"ok", false}, {"error", "store is broken: rule 3"}}; }
  std::atomic<bool> report_cap{true};  // false: a daemon from before greet_pause_cap_ms (set by the
                                       // test thread, read by the control plane's)
};

class HardenctlControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("harden-ctl-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sock_ = (dir_ / "control.sock").string();
    ControlHooks hooks;
    hooks.service = &svc_;
    plane_ = std::make_unique<ControlPlane>(ControlPlaneOptions{sock_, "", {}}, hooks);
    plane_->bind(static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    plane_->start();
  }
  void TearDown() override {
    plane_.reset();
    fs::remove_all(dir_);
  }
  testing::RunResult hardenctl(std::vector<std::string> args) {
    args.insert(args.begin(), HARDENCTL_PATH);
    args.push_back("--socket");
    args.push_back(sock_);
    return testing::run(args, 20s);
  }

  fs::path dir_;
  std::string sock_;
  ScriptedService svc_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(HardenctlControlTest, StatusSummarisesTheDaemon) {
  const auto r = hardenctl({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* want : {"milter-harden 0.1.0, pid 4242, up 1h 2m, mode monitor\n",
                           "policy     1603 rules from /x/policy.db, data_version 9\n",
                           "sessions   12 total, 2 open\n", "decisions  conn_rate: tempfail 2\n"}) {
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  }
  const auto j = hardenctl({"status", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.output;
  EXPECT_EQ(json::parse(j.output)["policy"]["rules"], 1603);
}

TEST_F(HardenctlControlTest, ClientListsLimitsInTheAttributeTableOrder) {
  const auto r = hardenctl({"client", "192.0.2.7", "--hostname", "MX.example.org"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("client 192.0.2.7 (counted as 192.0.2.7, rDNS OK mx.example.org)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("live: 3 connections in the conn_rate window, 1 open"),
            std::string::npos);
  const auto action = r.output.find("\n  action ");
  const auto conn_rate = r.output.find("\n  conn_rate ");
  const auto max_rcpts = r.output.find("\n  max_rcpts ");
  ASSERT_NE(max_rcpts, std::string::npos) << r.output;
  EXPECT_LT(action, conn_rate);
  EXPECT_LT(conn_rate, max_rcpts);
  EXPECT_NE(r.output.find("192.0.2.0/24"), std::string::npos);
}

// The pause the daemon holds, and why, as the daemon tells it.
TEST_F(HardenctlControlTest, ClientShowsTheGreetPauseHeld) {
  const auto r = hardenctl({"client", "192.0.2.7"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\n  greet_pause  9000 (policy 30000, cut to greet_pause_cap)  "
                          "192.0.2.0/24\n"),
            std::string::npos)
      << r.output;
}

// check without --greet-pause-cap asks the running daemon for its cap.
TEST_F(HardenctlControlTest, CheckTakesTheGreetPauseCapFromTheDaemon) {
  const std::string db = (dir_ / "policy.db").string();
  ASSERT_EQ(testing::run({HARDENCTL_PATH, "--db", db, "init"}, 20s).exit_code, 0);
  ASSERT_EQ(testing::run(
                {HARDENCTL_PATH, "--db", db, "rule", "add", "192.0.2.0/24", "greet_pause=30s"}, 20s)
                .exit_code,
            0);
  auto r = hardenctl({"--db", db, "check", "192.0.2.7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  json j = json::parse(r.output);
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "4000");
  EXPECT_EQ(j["limits"]["greet_pause"]["cap_ms"], 4000);
  EXPECT_EQ(j["greet_pause_cap"]["from"], "daemon");
  EXPECT_EQ(j["greet_pause_cap"]["text"], "4s (from milter-harden at " + sock_ + ")");
  r = hardenctl({"--db", db, "check", "192.0.2.7", "--brief"});
  EXPECT_EQ(r.output,
            "192.0.2.7 limit key=192.0.2.7/32 name=- resolve=FAIL rule=\"built-in default\" "
            "greet_pause=4000 greet_pause_policy=30000\n");
  // The option wins over the daemon.
  r = hardenctl({"--db", db, "check", "192.0.2.7", "--json", "--greet-pause-cap", "5s"});
  EXPECT_EQ(json::parse(r.output)["greet_pause_cap"]["from"], "option");
  // A daemon that does not report its cap: the default, and why.
  svc_.report_cap = false;
  r = hardenctl({"--db", db, "check", "192.0.2.7", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  j = json::parse(r.output);
  EXPECT_EQ(j["greet_pause_cap"]["from"], "default");
  EXPECT_EQ(j["limits"]["greet_pause"]["value"], "9000");
  EXPECT_NE(j["greet_pause_cap"]["text"].get<std::string>().find("does not report"),
            std::string::npos)
      << j;
}

TEST_F(HardenctlControlTest, FlushSaysWhetherTheClientWasKnown) {
  const auto known = hardenctl({"flush", "192.0.2.7"});
  EXPECT_EQ(known.exit_code, 0);
  EXPECT_EQ(known.output, "flushed 192.0.2.7\n");
  const auto unknown = hardenctl({"flush", "192.0.2.8"});
  EXPECT_EQ(unknown.exit_code, 0);
  EXPECT_EQ(unknown.output, "192.0.2.8 was not in the counter table\n");
}

TEST_F(HardenctlControlTest, FailuresAreOneLineAndExitTwo) {
  struct Case {
    std::vector<std::string> args;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {{"reload"}, "hardenctl: milter-harden: store is broken: rule 3\n"},
           {{"client", "not-an-ip"},
            "hardenctl: milter-harden: ip: 'not-an-ip' is not an IP address\n"},
           {{"client", "192.0.2.7", "--hostname", "bad host"},
            "hardenctl: milter-harden: hostname: 'bad host' is not a host name\n"},
       }) {
    const auto r = hardenctl(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(r.output, c.expect);
  }
  const auto missing =
      testing::run({HARDENCTL_PATH, "status", "--socket", (dir_ / "nope.sock").string()}, 20s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("no control socket at"), std::string::npos) << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1);
}

}  // namespace
}  // namespace harden::milter
