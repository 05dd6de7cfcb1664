// bench_client_memory.cpp - the client memory table (db::ClientMemory) under
// a spray of distinct client keys, each one offence (what a botnet's refused
// connections leave behind), at the daemon's default cap and at a small one.
// The changes are taken as the daemon's flush does, so the dirty and deleted
// sets stay bounded too. Prints, for each run: the keys sprayed, ns per offend() and per lookup,
// the entries kept, evictions, and this process's RSS growth (VmHWM - VmRSS before), so the cap's
// bound on memory is seen, not assumed.
//
//   bench_client_memory [--keys N] [--cap N] [--runs R]
//   (defaults: 1,000,000 keys, cap 200,000 = client_memory_entries, 3 runs)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "harden/db/client_memory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string f(field);
  while (std::getline(in, line))
    if (line.rfind(f, 0) == 0) return std::strtoull(line.c_str() + f.size(), nullptr, 10);
  return 0;
}

harden::policy::IpNetwork key(std::uint32_t i, bool v6) {
  if (!v6) {
    return harden::policy::IpNetwork::parse(
        std::to_string(10 + (i >> 24 & 0x3f)) + "." + std::to_string(i >> 16 & 255) + "." +
        std::to_string(i >> 8 & 255) + "." + std::to_string(i & 255));
  }
  char text[64];
  std::snprintf(text, sizeof text, "2001:db8:%x:%x::/64", i >> 16, i & 0xffff);
  return harden::policy::IpNetwork::parse(text);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t keys = 1'000'000;
  std::size_t cap = 200'000;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--keys") keys = static_cast<std::uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    if (a == "--cap") cap = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  harden::policy::PenaltySettings s;
  s.threshold = 3;
  s.window_ms = 600'000;
  s.base_ms = 600'000;
  s.max_ms = 6 * 3'600'000;
  s.memory_ms = 7 * 86'400'000LL;
  const harden::policy::WallMs now = 1'800'000'000'000;
  std::printf("client memory spray: %u keys per run, cap %zu entries\n", keys, cap);
  for (int run = 1; run <= runs; ++run) {
    const bool v6 = run % 2 == 0;
    const std::uint64_t rss_before = status_kib("VmRSS:");
    auto mem = std::make_unique<harden::db::ClientMemory>(harden::db::ClientMemoryOptions{cap});
    const auto t0 = Clock::now();
    for (std::uint32_t i = 0; i < keys; ++i) {
      mem->offend(key(i, v6), now + i, 1, s, "pregreet");
      // The daemon takes the changes every state_flush_interval; here every
      // 20,000 offences (a botnet's 5 s at 4,000 refusals/s).
      if (i % 20'000 == 19'999) mem->take_changes();
    }
    const auto t1 = Clock::now();
    std::uint32_t hits = 0;
    for (std::uint32_t i = 0; i < keys; ++i) hits += mem->penalty(key(i, v6), now + keys) ? 1u : 0u;
    const auto t2 = Clock::now();
    const auto st = mem->stats(now + keys);
    const std::uint64_t hwm = status_kib("VmHWM:");
    const double ns_offend =
        std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(keys);
    const double ns_lookup =
        std::chrono::duration<double, std::nano>(t2 - t1).count() / static_cast<double>(keys);
    std::printf(
        "run %d (%s): offend %.0f ns, lookup %.0f ns (key parsing included); entries %zu of cap "
        "%zu, evictions %llu, penalties %u; RSS growth (peak) %.1f MiB\n",
        run, v6 ? "IPv6 /64" : "IPv4", ns_offend, ns_lookup, st.entries, st.capacity,
        static_cast<unsigned long long>(st.evictions), hits,
        static_cast<double>(hwm - std::min(hwm, rss_before)) / 1024);
    if (st.entries > st.capacity) {
      std::printf("FAIL: %zu entries above the cap %zu\n", st.entries, st.capacity);
      return 1;
    }
  }
  return 0;
}
