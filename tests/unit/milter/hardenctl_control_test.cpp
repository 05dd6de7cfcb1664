// hardenctl_control_test.cpp - `hardenctl status|client|flush|reload`
// against the real control plane (ControlPlane on a temp socket) with a
// scripted service behind it: what is printed, and that every failure is one
// line on stderr with exit status 2.
#include <gtest/gtest.h>
#include <unistd.h>

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
    return {
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
          {"conn_rate", {{"value", "10/1m"}, {"source", "192.0.2.0/24"}}}}},
        {"counters",
         {{"known", true}, {"conn_count", 3}, {"open", 1}, {"rcpt_count", 0}, {"msg_count", 0}}}};
  }
  json flush(const policy::IpAddress& ip) override {
    return {{"ok", true}, {"key", ip.to_string()}, {"flushed", ip.to_string() == "192.0.2.7"}};
  }
  json reload() override { return {{"ok", false}, {"error", "store is broken: rule 3"}}; }
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
