// burst_test.cpp - every session's greet pause is its own (issue 17): K
// milter sessions are opened, then their K CONNECTs are sent back to back, as
// a busy MX does at every burst. Each connect reply must come after the pause
// and well before a second pause could have passed. The driver's sessions have
// no TCP connection behind them, so each pause is a plain delay (the probe finds
// no socket): what is measured is whether pauses queue behind each other.
//
// libmilter's worker pool hands the sessions that become ready in one wake-up
// to its few idle workers, which then hold them a pause each: there K=10 waits
// up to 5 pauses. The native engine holds each pause on a timer. So on
// libmilter the daemon holds no pause unless told to (libmilter_greet_pause:
// hold, which the reference suite sets and this test does not assert): by
// default every CONNECT there is answered at once, each skipped pause counted
// and the choice logged once at start-up. The figures under a real-TCP flood
// are in tests/bench (bench_greet_flood).
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class GreetBurst : public DaemonTest, public ::testing::WithParamInterface<int> {};

std::string connect_data(const std::string& address, std::uint16_t port) {
  std::string data = "[" + address + "]";
  data.push_back('\0');
  data.push_back('4');
  const std::uint16_t be = htons(port);
  data.append(reinterpret_cast<const char*>(&be), 2);
  data += address;
  data.push_back('\0');
  return data;
}

TEST_P(GreetBurst, EachPauseIsItsOwn) {
  const bool libmilter = daemon().engine() == "libmilter";
  if (libmilter) daemon().set("libmilter_greet_pause", "skip");  // the daemon's default
  constexpr auto kPause = 600ms;
  // Far below a second pause, far above any scheduling noise on a loaded CI
  // machine; the exact p99 is the benchmark's job.
  constexpr auto kSlack = 300ms;
  const int k = GetParam();
  rule("default", {{"greet_pause", std::to_string(kPause.count())}});
  start();
  std::vector<MilterClient> clients;
  for (int i = 0; i < k; ++i) {
    clients.push_back(MilterClient::open(daemon().socket(), 10s));
    clients.back().negotiate();
  }
  std::vector<Clock::time_point> sent(static_cast<std::size_t>(k));
  for (int i = 0; i < k; ++i) {
    const std::string addr = "198.51.100." + std::to_string(i + 1);
    auto& c = clients[static_cast<std::size_t>(i)];
    c.macros('C', {{"{client_addr}", addr}, {"{client_port}", std::to_string(40000 + i)}});
    c.send_packet('C', connect_data(addr, static_cast<std::uint16_t>(40000 + i)));
    sent[static_cast<std::size_t>(i)] = Clock::now();
  }
  std::vector<Clock::duration> waited;
  for (int i = 0; i < k; ++i) {
    const Reply r = clients[static_cast<std::size_t>(i)].read_reply();
    waited.push_back(Clock::now() - sent[static_cast<std::size_t>(i)]);
    EXPECT_TRUE(r.is_continue()) << i << ": " << r.describe();
  }
  std::sort(waited.begin(), waited.end());
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  std::printf("K=%d: connect replies after %lld ms (min) %lld ms (p50) %lld ms (max)\n", k,
              static_cast<long long>(ms(waited.front())),
              static_cast<long long>(ms(waited[waited.size() / 2])),
              static_cast<long long>(ms(waited.back())));
  for (auto& c : clients) c.quit();
  if (libmilter) {
    EXPECT_LE(waited.back(), kSlack) << "libmilter held a greet pause it should skip";
    EXPECT_EQ(metric("milter_harden_greet_pauses_total"), 0.0);
    EXPECT_EQ(metric("milter_harden_greet_pauses_skipped_total"), static_cast<double>(k));
    EXPECT_EQ(daemon().log_lines("greet pauses are not held").size(), 1u) << daemon().log();
    return;
  }
  EXPECT_GE(waited.front(), kPause - 20ms) << "the greet pause was not held";
  EXPECT_LE(waited.back(), kPause + kSlack) << "a pause waited behind another";
  EXPECT_EQ(metric("milter_harden_greet_pauses_total"), static_cast<double>(k));
  EXPECT_EQ(metric("milter_harden_greet_pauses_skipped_total"), 0.0);
}

INSTANTIATE_TEST_SUITE_P(K, GreetBurst, ::testing::Values(3, 10, 100));

}  // namespace
}  // namespace harden::testing
