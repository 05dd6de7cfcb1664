// native_server_test.cpp - the native engine's own timers, on a NativeServer
// in this process with short timeouts: a silent MTA connection is closed at
// negotiate_timeout, and the idle deadline runs from the last command (it
// moves with every command and comes earlier once negotiation is done).
// These are real timers, so the checks have wide margins: a timeout may fire
// late on a loaded machine, never early.
#include "harden/milter/native_server.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "harden/db/counters.hpp"
#include "harden/policy/clock.hpp"
#include "support/milter_client.hpp"

namespace harden::milter {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::MilterClient;

// Never asked: no session here reaches a greet pause.
class NoProbe final : public Probe {
 public:
  ProbeResult probe(const Endpoint&, const Endpoint&) const override { return {}; }
};

class NativeServerTimers : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds negotiate, std::chrono::milliseconds idle) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mh-native-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    socket_ = "unix:" + (dir_ / "milter.sock").string();
    NativeOptions o;
    o.socket = socket_;
    o.threads = 1;
    o.negotiate_timeout = negotiate;
    o.idle_timeout = idle;
    server_ = std::make_unique<NativeServer>(o, engine_, metrics_, probe_);
    server_->listen(::getuid(), ::getgid());
    thread_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->stop(0ms);
      thread_.join();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::int64_t idle_timeouts() const { return metrics_.get(Metric::milter_idle_timeouts_total); }

  policy::SystemClock clock_;
  Engine engine_{EngineOptions{}, std::make_shared<db::LocalCounters>(db::LocalCountersOptions{}),
                 clock_};
  Metrics metrics_;
  NoProbe probe_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<NativeServer> server_;
  std::thread thread_;
};

TEST_F(NativeServerTimers, ASilentConnectionIsClosedAtTheNegotiateTimeout) {
  start(300ms, 10s);
  const auto opened = Clock::now();
  MilterClient c = MilterClient::open(socket_, 5s);
  ASSERT_TRUE(c.wait_closed(10s));
  EXPECT_GE(Clock::now() - opened, 300ms);
  EXPECT_EQ(idle_timeouts(), 1);
}

TEST_F(NativeServerTimers, TheIdleDeadlineRunsFromTheLastCommand) {
  // negotiate_timeout far off: once negotiated, the (earlier) idle deadline
  // must take over; then every command moves it.
  start(20s, 1s);
  MilterClient c = MilterClient::open(socket_, 5s);
  const auto opened = Clock::now();
  c.negotiate();
  for (int i = 0; i < 8; ++i) {  // 1.6 s of commands, each within the idle timeout
    std::this_thread::sleep_for(200ms);
    c.macros('C', {{"j", "mx.test"}});
  }
  const auto last = Clock::now();
  EXPECT_FALSE(c.wait_closed(0ms)) << "closed while commands kept coming";
  ASSERT_TRUE(c.wait_closed(15s)) << "the idle deadline did not replace the negotiate one";
  const auto closed = Clock::now();
  EXPECT_GE(closed - last, 1s);
  EXPECT_GE(closed - opened, 2600ms);
  EXPECT_LT(closed - opened, 19s);
  EXPECT_EQ(idle_timeouts(), 1);
}

}  // namespace
}  // namespace harden::milter
