// bench_redis.cpp - milter-harden on Redis counters against milter-harden on
// local counters, in the same run; and the Redis calls each session costs.
//
// SYNOPSIS
//   bench_redis [--seconds S] [--rounds R] [--concurrency C] [--target RATIO]
//
// Two daemons (native engine), one with counters: local, one with
// counters: redis on a private redis-server (unix socket, password, no
// persistence; tests/support/redis_server.hpp). Every counting limit is on
// and never trips (conn_rate, rcpt_rate, msg_rate 1000000/1m, conn_limit
// 100000), so each session makes every counter decision: connect (rate and
// slot), MAIL (msg_rate), 3 x RCPT (rcpt_rate), close (release) = 6.
// C client threads run sessions (optneg, connect macros + CONNECT, HELO,
// MAIL, 3 RCPT, QUIT; clients from 10.20.0.0/16), the two daemons
// alternating for R rounds of S seconds. Printed: the median sessions/s of
// each, their ratio, and from INFO commandstats the EVALSHA calls per
// session (must equal the 6 decisions) and the other commands the daemon
// sent (script loads, liveness renewals); the CPU time per session of each
// daemon and of redis-server (/proc).
//
// Exit status 0 when the ratio is at least --target (default 0.5) and the
// calls per session equal the decisions; 1 otherwise; 2 on a setup error.
// Not a ctest test: `make bench`.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/milter_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kDecisionsPerSession = 6;

struct Options {
  int seconds = 3;
  int rounds = 3;
  int concurrency = 8;
  double target = 0.5;
};

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << a << ": needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seconds") {
      o.seconds = std::max(1, std::atoi(next()));
    } else if (a == "--rounds") {
      o.rounds = std::max(1, std::atoi(next()));
    } else if (a == "--concurrency") {
      o.concurrency = std::max(1, std::atoi(next()));
    } else if (a == "--target") {
      o.target = std::atof(next());
    } else {
      std::cerr << "usage: bench_redis [--seconds S] [--rounds R] [--concurrency C] "
                   "[--target RATIO]\n";
      std::exit(2);
    }
  }
  return o;
}

void prepare(MilterDaemon& d) {
  d.init_store();
  d.hardenctl({"rule", "set", "default", "conn_rate=1000000/1m", "conn_limit=100000",
               "rcpt_rate=1000000/1m", "msg_rate=1000000/1m", "greet_pause=0", "max_rcpts=0",
               "bad_rcpt_throttle=0", "dialin=off", "missing_rdns=off"});
  d.set("engine", "native");
  d.set("log_level", "warn");
}

struct Round {
  std::uint64_t sessions = 0;
  std::uint64_t failures = 0;
  double per_second = 0;
};

Round run_round(const MilterDaemon& d, const Options& o, std::uint32_t& next_client) {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sessions{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint32_t> client{next_client};
  const std::string socket = d.socket();
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uint32_t c = client.fetch_add(1);
        const std::string addr =
            "10.20." + std::to_string((c >> 8) & 255) + "." + std::to_string(c & 255);
        try {
          Session s = Session::start(socket, peer_at(addr), 5s);
          bool ok =
              s.connect_reply().is_continue() && s.helo().is_continue() && s.mail().is_continue();
          for (int r = 0; r < 3 && ok; ++r)
            ok = s.rcpt("<rcpt" + std::to_string(r) + "@example.org>").is_continue();
          s.quit();
          if (ok) {
            sessions.fetch_add(1, std::memory_order_relaxed);
          } else {
            failures.fetch_add(1, std::memory_order_relaxed);
          }
        } catch (const std::exception&) {
          failures.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(o.seconds));  // the measuring period
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  next_client = client.load();
  Round r;
  r.sessions = sessions.load();
  r.failures = failures.load();
  r.per_second = static_cast<double>(r.sessions) / secs;
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The other commands the daemon sent. INFO commandstats also counts the
// commands a script runs, so only those a script cannot send are read from
// it (SCRIPT LOAD, SELECT; AUTH is left out: the bench's own INFO
// connections send it too); the liveness SETs are the SET calls less
// the window writes of the scripts: one SET per decision but the release
// (connect, MAIL, 3 x RCPT).
constexpr std::uint64_t kWindowWritesPerSession = 5;
std::string other_commands(const RedisServer& redis, std::uint64_t sessions) {
  const auto set = redis.calls("set");
  const auto windows = sessions * kWindowWritesPerSession;
  return "script|load=" + std::to_string(redis.calls("script|load")) +
         ", select=" + std::to_string(redis.calls("select")) +
         ", liveness SET=" + std::to_string(set >= windows ? set - windows : 0);
}

int run_bench(const Options& o) {
  RedisServer redis;
  TempDir dir("bench-redis");
  std::filesystem::create_directories(dir / "local");
  std::filesystem::create_directories(dir / "redis");
  MilterDaemon local(dir / "local");
  MilterDaemon shared(dir / "redis");
  prepare(local);
  prepare(shared);
  shared.set("counters", "redis");
  shared.set("redis_url", redis.url());
  shared.set("redis_password_file", redis.password_file().string());
  shared.set("host_id", "bench");
  local.start();
  shared.start();

  std::printf("bench_redis: concurrency %d, %d rounds of %d s, %llu counter decisions/session\n",
              o.concurrency, o.rounds, o.seconds,
              static_cast<unsigned long long>(kDecisionsPerSession));
  std::vector<double> local_rates;
  std::vector<double> redis_rates;
  std::uint64_t local_sessions = 0;
  std::uint64_t redis_sessions = 0;
  const double cpu_local0 = process_stats(local.pid()).cpu_seconds;
  const double cpu_shared0 = process_stats(shared.pid()).cpu_seconds;
  const double cpu_redis0 = process_stats(redis.pid()).cpu_seconds;
  std::uint64_t failures = 0;
  std::uint32_t next_client = 1;
  const std::uint64_t evalsha_before = redis.calls("evalsha");
  for (int r = 0; r < o.rounds; ++r) {
    const Round l = run_round(local, o, next_client);
    const Round s = run_round(shared, o, next_client);
    local_rates.push_back(l.per_second);
    redis_rates.push_back(s.per_second);
    redis_sessions += s.sessions + s.failures;
    local_sessions += l.sessions + l.failures;
    failures += l.failures + s.failures;
    std::printf("  round %d: local %.0f sessions/s, redis %.0f sessions/s\n", r + 1, l.per_second,
                s.per_second);
  }
  // The releases follow the QUITs: wait until the count stops moving.
  const std::uint64_t want = redis_sessions * kDecisionsPerSession;
  poll_until(5s, [&] { return redis.calls("evalsha") - evalsha_before >= want; });
  const std::uint64_t evalsha = redis.calls("evalsha") - evalsha_before;
  const double lm = median(local_rates);
  const double rm = median(redis_rates);
  const double ratio = lm > 0 ? rm / lm : 0;
  const double per_session =
      redis_sessions > 0 ? static_cast<double>(evalsha) / static_cast<double>(redis_sessions) : 0;
  const auto stats = shared.control(R"({"cmd":"stats"})");
  std::printf("local counters: %.0f sessions/s (median)\n", lm);
  std::printf("redis counters: %.0f sessions/s (median), %.2fx local (target >= %.2fx)\n", rm,
              ratio, o.target);
  std::printf("redis calls: %llu EVALSHA for %llu sessions = %.3f per session (decisions: %llu)\n",
              static_cast<unsigned long long>(evalsha),
              static_cast<unsigned long long>(redis_sessions), per_session,
              static_cast<unsigned long long>(kDecisionsPerSession));
  std::printf("other commands from the daemon (whole run): %s\n",
              other_commands(redis, redis_sessions).c_str());
  auto us_per = [](double secs, std::uint64_t n) { return n > 0 ? secs * 1e6 / double(n) : 0.0; };
  std::printf(
      "CPU per session: milter-harden local %.0f us; milter-harden redis %.0f us + "
      "redis-server %.0f us\n",
      us_per(process_stats(local.pid()).cpu_seconds - cpu_local0, local_sessions),
      us_per(process_stats(shared.pid()).cpu_seconds - cpu_shared0, redis_sessions),
      us_per(process_stats(redis.pid()).cpu_seconds - cpu_redis0, redis_sessions));
  std::printf("failed sessions: %llu\n", static_cast<unsigned long long>(failures));
  std::printf("daemon status: %s\n", stats.c_str());
  local.stop();
  shared.stop();
  const bool ok = ratio >= o.target && evalsha == want && failures == 0;
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace harden::testing

int main(int argc, char** argv) {
  const auto o = harden::testing::parse_args(argc, argv);
  try {
    return harden::testing::run_bench(o);
  } catch (const std::exception& e) {
    std::cerr << "bench_redis: " << e.what() << "\n";
    return 2;
  }
}
