// bench_milter.cpp - milter-harden against a do-nothing libmilter milter,
// over their sockets, in the same run; then its memory after a spray of one
// million distinct client addresses.
//
// SYNOPSIS
//   bench_milter [--seconds S] [--rounds R] [--concurrency C]
//                [--addresses N] [--cap-mib M] [--target RATIO] [--driver threads|epoll]
//                [--spray new|reused]
//
// THROUGHPUT
//   --driver epoll: C sessions at a time from ONE client thread on epoll
//   (non-blocking sockets; the client costs little, so the milter bounds the
//   figure). Default (threads): C client threads play MTAs: one milter connection per SMTP session
//   (as Postfix and sendmail open them): optneg, connect macros + CONNECT,
//   HELO, MAIL, 3 RCPT, QUIT. Clients come from 10.20.0.0/16 (3 in 4) and
//   from distinct IPv6 /64s (1 in 4), each with a verified rDNS name that no
//   rule matches (the worst case for the rDNS matcher: every pattern is
//   tried). milter-harden runs with every fqrdns.pcre rule imported, the
//   store's default limits counted (conn_rate raised so it never trips, so
//   every session is a full one) and greet pause off. The null milter and
//   milter-harden alternate for R rounds of S seconds; the median
//   sessions/s of each and their ratio are printed, with the p99 (and p50)
//   of each callback's reply time, measured at the client.
//
// MEMORY
//   Then N sessions from N distinct client keys (half IPv4 /32s from
//   10.0.0.0/12, half IPv6 /64s) go through milter-harden, each on a new
//   milter connection as an MTA opens one per SMTP session (--spray new, the
//   default: negotiate, CONNECT, MAIL, RCPT, end of message, QUIT), or on
//   reused connections (--spray reused: SMFIC_QUIT_NC between sessions, which
//   fills the counter table faster). Printed: the daemon's VmRSS
//   before, VmHWM (peak) after, and the counter table's own figures
//   (entries, capacity, bytes, evictions from the control socket) against
//   counter_memory_cap (--cap-mib). Within the cap means: the table's own
//   byte count and the peak RSS growth during the spray are both <= the cap.
//
// Exit status 0 when the ratio is at least --target (default 0.8) and the
// counter table stayed within the cap; 1 otherwise; 2 on a setup error.
// Not a ctest test (it takes about a minute): `make bench`.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/milter_client.hpp"
#include "support/process.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Options {
  int seconds = 5;
  int rounds = 3;
  int concurrency = 16;
  std::uint64_t addresses = 1'000'000;
  std::uint64_t cap_mib = 64;
  double target = 0.8;
  bool epoll = false;        // --driver epoll: all sessions from one thread, no blocking reads
  bool spray_reuse = false;  // --spray reused: sessions share milter connections
};

enum Step { kConnect, kHelo, kMail, kRcpt, kSteps };
constexpr const char* kStepNames[kSteps] = {"connect", "helo", "mail", "rcpt"};

struct Tally {
  std::uint64_t sessions = 0;
  std::uint64_t refused = 0;  // a refusal anywhere: the session was cut short
  std::uint64_t errors = 0;
  std::vector<std::uint32_t> micros[kSteps];

  void merge(Tally&& o) {
    sessions += o.sessions;
    refused += o.refused;
    errors += o.errors;
    for (int s = 0; s < kSteps; ++s)
      micros[s].insert(micros[s].end(), o.micros[s].begin(), o.micros[s].end());
  }
};

std::uint32_t to_micros(std::chrono::nanoseconds d) {
  return static_cast<std::uint32_t>(std::min<std::int64_t>(d.count() / 1000, UINT32_MAX));
}

// Client i of the throughput run: 3 in 4 from a /16, 1 in 4 its own /64.
Peer throughput_peer(std::uint64_t i) {
  std::string addr;
  if (i % 4 != 3) {
    addr = "10.20." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::25", static_cast<unsigned>((i >> 16) & 0xffff),
                  static_cast<unsigned>(i & 0xffff));
    addr = buf;
  }
  // Verified names no fqrdns rule or heuristic matches.
  return peer_at(addr, "mail.sender" + std::to_string(i % 50000) + ".example.org", "OK");
}

// One full SMTP session on a new milter connection.
void one_session(const std::string& spec, std::uint64_t i, Tally& t) {
  try {
    Session s = Session::start(spec, throughput_peer(i), 10s);
    t.micros[kConnect].push_back(to_micros(s.connect_reply().elapsed));
    bool refused = s.connect_reply().refuses();
    if (!refused) {
      const Reply h = s.helo();
      if (!h.skipped) t.micros[kHelo].push_back(to_micros(h.elapsed));
      const Reply m = s.mail();
      if (!m.skipped) t.micros[kMail].push_back(to_micros(m.elapsed));
      refused = h.refuses() || m.refuses();
      for (int r = 0; r < 3 && !refused; ++r) {
        const Reply rc = s.rcpt("<user" + std::to_string(r) + "@example.net>");
        if (!rc.skipped) t.micros[kRcpt].push_back(to_micros(rc.elapsed));
        refused = rc.refuses();
      }
    }
    s.quit();
    ++t.sessions;
    if (refused) ++t.refused;
  } catch (const MilterError&) {
    ++t.errors;
  }
}

struct PhaseResult {
  double per_second = 0;
  Tally tally;
};

PhaseResult throughput(const std::string& spec, const Options& o,
                       std::atomic<std::uint64_t>& next) {
  std::vector<Tally> tallies(static_cast<std::size_t>(o.concurrency));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o.seconds);
  for (auto& t : tallies)
    threads.emplace_back([&spec, &next, &t, deadline] {
      while (Clock::now() < deadline) one_session(spec, next.fetch_add(1), t);
    });
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  PhaseResult r;
  for (auto& t : tallies) r.tally.merge(std::move(t));
  r.per_second = static_cast<double>(r.tally.sessions) / secs;
  return r;
}

// --driver epoll: `concurrency` sessions at a time from this one thread, each
// a state machine over a non-blocking unix socket (the same packets as
// one_session: negotiate, connect macros + CONNECT, MAIL, 3 RCPT, QUIT). A
// client that costs little CPU and wakes once per ready batch, so the milter
// rather than the client bounds the figure.
std::string be32s(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff),
          static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
std::string pkt(char cmd, const std::string& data) {
  return be32s(static_cast<std::uint32_t>(data.size() + 1)) + cmd + data;
}
std::string nul_list(std::initializer_list<std::string> v) {
  std::string out;
  for (const auto& x : v) out += x + std::string(1, '\0');
  return out;
}

// The request of step `step` of session `i` (0 negotiate .. 5 last RCPT, 6 QUIT).
std::string step_request(int step, std::uint64_t i) {
  const Peer p = throughput_peer(i);
  switch (step) {
    case 0:
      return pkt('O', be32s(6) + be32s(0x1ff) + be32s(0x1fffff));
    case 1: {
      const bool v6 = p.address.find(':') != std::string::npos;
      std::string c = p.hostname + std::string(1, '\0') + (v6 ? "6" : "4") +
                      be32s(p.port).substr(2) + p.address + std::string(1, '\0');
      return pkt('D',
                 "C" + nul_list({"j", "mx.test.local", "{daemon_addr}", v6 ? "::1" : "127.0.0.1",
                                 "{daemon_port}", "25", "{client_addr}", p.address, "{client_port}",
                                 std::to_string(p.port), "{client_name}", p.hostname,
                                 "{client_resolve}", p.resolve})) +
             pkt('C', c);
    }
    case 2:
      return pkt('D', "M" + nul_list({"i", "4AbCdEf123", "{mail_addr}", "<s@example.org>"})) +
             pkt('M', nul_list({"<s@example.org>"}));
    case 3:
    case 4:
    case 5:
      return pkt('D', "R" + nul_list({"{rcpt_mailer}", "local"})) +
             pkt('R', nul_list({"<user" + std::to_string(step) + "@example.net>"}));
    default:
      return pkt('Q', "");
  }
}

int unix_connect_nb(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

PhaseResult throughput_epoll(const std::string& spec, const Options& o,
                             std::atomic<std::uint64_t>& next) {
  struct S {
    int fd = -1;
    std::uint64_t i = 0;
    int step = 0;
    std::string in;
    Clock::time_point sent{};
  };
  const std::string path = spec.substr(5);  // unix:PATH
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<S> ss(static_cast<std::size_t>(o.concurrency));
  PhaseResult r;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(o.seconds);
  bool draining = false;
  std::size_t open = 0;
  const auto begin = [&](std::size_t k) {
    S& x = ss[k];
    x = S{};
    x.i = next.fetch_add(1);
    x.fd = unix_connect_nb(path);
    if (x.fd < 0) {
      ++r.tally.errors;
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = k;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, x.fd, &ev);
    const std::string req = step_request(0, x.i);
    x.sent = Clock::now();
    if (::send(x.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
      ++r.tally.errors;
    ++open;
  };
  const auto finish = [&](std::size_t k, bool ok, bool refused) {
    S& x = ss[k];
    if (ok) {
      const std::string q = step_request(6, x.i);
      (void)::send(x.fd, q.data(), q.size(), MSG_NOSIGNAL);
      ++r.tally.sessions;
      if (refused) ++r.tally.refused;
    } else {
      ++r.tally.errors;
    }
    ::close(x.fd);
    x.fd = -1;
    --open;
    if (!draining) begin(k);
  };
  for (std::size_t k = 0; k < ss.size(); ++k) begin(k);
  std::vector<epoll_event> evs(ss.size());
  char buf[4096];
  while (open > 0) {
    if (!draining && Clock::now() >= deadline) draining = true;
    const int n = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
    for (int e = 0; e < n; ++e) {
      const std::size_t k = evs[static_cast<std::size_t>(e)].data.u64;
      S& x = ss[k];
      if (x.fd < 0) continue;
      const ssize_t got = ::recv(x.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got < 0 && errno == EAGAIN) continue;
        finish(k, false, false);
        continue;
      }
      x.in.append(buf, static_cast<std::size_t>(got));
      while (x.fd >= 0 && x.in.size() >= 4) {
        const std::uint32_t len = (std::uint32_t{static_cast<unsigned char>(x.in[0])} << 24) |
                                  (std::uint32_t{static_cast<unsigned char>(x.in[1])} << 16) |
                                  (std::uint32_t{static_cast<unsigned char>(x.in[2])} << 8) |
                                  std::uint32_t{static_cast<unsigned char>(x.in[3])};
        if (x.in.size() < 4 + len) break;
        const char cmd = len > 0 ? x.in[4] : 0;
        x.in.erase(0, 4 + len);
        const auto us = to_micros(Clock::now() - x.sent);
        if (x.step == 1) r.tally.micros[kConnect].push_back(us);
        if (x.step == 2) r.tally.micros[kMail].push_back(us);
        if (x.step >= 3) r.tally.micros[kRcpt].push_back(us);
        const bool refuses = cmd != 'c' && cmd != 'O' && cmd != 'a';
        if (refuses || cmd == 'a' || x.step == 5) {
          finish(k, true, refuses);
          break;
        }
        ++x.step;
        const std::string req = step_request(x.step, x.i);
        x.sent = Clock::now();
        if (::send(x.fd, req.data(), req.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(req.size())) {
          finish(k, false, false);
          break;
        }
      }
    }
  }
  ::close(ep);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  r.per_second = static_cast<double>(r.tally.sessions) / secs;
  return r;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;  // ms
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::uint64_t proc_status_kib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field))
      return std::strtoull(line.c_str() + std::strlen(field), nullptr, 10);
  return 0;
}

// N sessions from N distinct client keys, each on its own milter connection
// or (reuse) on a few reused ones.
std::uint64_t spray(const std::string& spec, std::uint64_t n, int concurrency, bool reuse) {
  std::atomic<std::uint64_t> next{0}, done{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < concurrency; ++c)
    threads.emplace_back([&] {
      std::optional<MilterClient> m;
      for (std::uint64_t i; (i = next.fetch_add(1)) < n;) {
        if (!m) {
          m.emplace(MilterClient::open(spec, 10s));
          m->negotiate();
        }
        char addr[64];
        if (i % 2 == 0)
          std::snprintf(addr, sizeof addr, "10.%u.%u.%u", static_cast<unsigned>((i >> 17) & 15),
                        static_cast<unsigned>((i >> 9) & 255),
                        static_cast<unsigned>((i >> 1) & 255));
        else
          std::snprintf(addr, sizeof addr, "2001:db8:%x:%x::1",
                        static_cast<unsigned>((i >> 17) & 0xffff),
                        static_cast<unsigned>((i >> 1) & 0xffff));
        const bool v6 = i % 2 == 1;
        m->macros('C', {{"{client_addr}", addr},
                        {"{client_name}", "[" + std::string(addr) + "]"},
                        {"{daemon_addr}", "127.0.0.1"},
                        {"{daemon_port}", "25"}});
        const Reply conn = m->connect(std::string("[") + addr + "]",
                                      v6 ? Family::inet6 : Family::inet, 25000, addr);
        if (!conn.refuses()) {
          m->mail({"<s@example.org>"});
          m->rcpt({"<r@example.net>"});
        }
        m->eom();
        if (reuse) {
          m->quit_nc();
        } else {
          m->quit();
          m.reset();
        }
        done.fetch_add(1);
      }
      if (m) m->quit();
    });
  for (auto& t : threads) t.join();
  return done.load();
}

void print_latencies(const char* who, Tally& t) {
  std::printf("  %-14s", who);
  for (int s = 0; s < kSteps; ++s) {
    if (t.micros[s].empty()) {
      std::printf("  %-7s %-22s", kStepNames[s], "not asked for");
      continue;
    }
    std::printf("  %-7s p50 %6.3f p99 %6.3f", kStepNames[s], percentile(t.micros[s], 0.50),
                percentile(t.micros[s], 0.99));
  }
  std::printf("   (ms)\n");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--seconds")
      o.seconds = std::atoi(v);
    else if (k == "--rounds")
      o.rounds = std::atoi(v);
    else if (k == "--concurrency")
      o.concurrency = std::atoi(v);
    else if (k == "--addresses")
      o.addresses = std::strtoull(v, nullptr, 10);
    else if (k == "--cap-mib")
      o.cap_mib = std::strtoull(v, nullptr, 10);
    else if (k == "--target")
      o.target = std::atof(v);
    else if (k == "--spray" && (std::string(v) == "new" || std::string(v) == "reused"))
      o.spray_reuse = std::string(v) == "reused";
    else if (k == "--driver" && (std::string(v) == "epoll" || std::string(v) == "threads"))
      o.epoll = std::string(v) == "epoll";
    else
      throw std::invalid_argument("unknown option " + k + " (see the header of bench_milter.cpp)");
  }
  if (o.seconds < 1 || o.rounds < 1 || o.concurrency < 1 || o.cap_mib < 1)
    throw std::invalid_argument("--seconds, --rounds, --concurrency, --cap-mib must be >= 1");
  return o;
}

void set_up_store(MilterDaemon& d) {
  d.init_store();
  d.hardenctl({"import", "pcre", std::string(HARDEN_TEST_DATA_DIR) + "/fqrdns.pcre"});
  d.hardenctl({"rule", "set", "default", "greet_pause=0", "conn_rate=100000/1m"});
}

int run_bench(const Options& o) {
  TempDir dir("bench-milter");
  MilterDaemon d(dir.path() / "harden");
  std::filesystem::create_directories(d.dir());
  d.set("counter_memory_cap", std::to_string(o.cap_mib) + "MiB");
  d.set("log_level", "warn");
  set_up_store(d);
  d.start();
  // The baseline asks for exactly the protocol steps milter-harden asks for.
  std::uint32_t protocol = 0;
  {
    MilterClient probe = MilterClient::open(d.socket(), 10s);
    protocol = probe.negotiate().protocol;
    probe.quit();
  }
  char mask[16];
  std::snprintf(mask, sizeof mask, "0x%x", protocol);
  const std::string null_spec = "unix:" + (dir / "null.sock").string();
  Child null_milter =
      Child::spawn({NULL_MILTER_PATH, "-p", null_spec, "-P", mask}, log_to(dir / "null.log"));
  if (!poll_until(10s, [&] {
        try {
          MilterClient::open(null_spec, 200ms);
          return true;
        } catch (const MilterError&) {
          return false;
        }
      }))
    throw std::runtime_error("null_milter did not start");

  const std::string listing = d.hardenctl({"rule", "list"}).output;
  const long rules = std::count(listing.begin(), listing.end(), '\n');
  std::printf(
      "bench_milter: %d client %s, %d rounds x %d s each, milter-harden with %ld "
      "store rules (fqrdns.pcre imported), greet pause off; both milters negotiated "
      "protocol mask %s\n",
      o.concurrency, o.epoll ? "sessions on one epoll thread" : "threads", o.rounds, o.seconds,
      rules, mask);
  std::atomic<std::uint64_t> next{0};
  std::vector<double> null_rates, harden_rates, null_cpu, harden_cpu;
  Tally null_all, harden_all;
  for (int r = 0; r < o.rounds; ++r) {
    const double n0 = process_stats(null_milter.pid()).cpu_seconds;
    PhaseResult n = o.epoll ? throughput_epoll(null_spec, o, next) : throughput(null_spec, o, next);
    const double n1 = process_stats(null_milter.pid()).cpu_seconds;
    const double h0 = process_stats(d.pid()).cpu_seconds;
    PhaseResult h =
        o.epoll ? throughput_epoll(d.socket(), o, next) : throughput(d.socket(), o, next);
    const double h1 = process_stats(d.pid()).cpu_seconds;
    const auto per_session = [](double secs, const PhaseResult& p) {
      return 1e6 * secs / std::max(1.0, static_cast<double>(p.tally.sessions));
    };
    null_cpu.push_back(per_session(n1 - n0, n));
    harden_cpu.push_back(per_session(h1 - h0, h));
    std::printf(
        "  round %d: null_milter %8.0f sessions/s   milter-harden %8.0f sessions/s"
        "   (refused %llu, errors %llu / %llu; CPU per session %.1f / %.1f us)\n",
        r + 1, n.per_second, h.per_second, static_cast<unsigned long long>(h.tally.refused),
        static_cast<unsigned long long>(n.tally.errors),
        static_cast<unsigned long long>(h.tally.errors), null_cpu.back(), harden_cpu.back());
    null_rates.push_back(n.per_second);
    harden_rates.push_back(h.per_second);
    null_all.merge(std::move(n.tally));
    harden_all.merge(std::move(h.tally));
  }
  const double null_rate = median(null_rates), harden_rate = median(harden_rates);
  const double ratio = harden_rate / null_rate;
  std::printf("\nTHROUGHPUT (median of %d rounds)\n", o.rounds);
  std::printf("  null_milter    %10.0f sessions/s\n  milter-harden  %10.0f sessions/s\n", null_rate,
              harden_rate);
  std::printf("  ratio          %10.2f   (target >= %.2f: %s)\n", ratio, o.target,
              ratio >= o.target ? "PASS" : "FAIL");
  std::printf(
      "CPU per session, in the milter process (median): null_milter %.1f us, milter-harden %.1f "
      "us (%.2fx less)\n  (the client threads share the cores with both milters, so sessions/s "
      "are of the whole setup; CPU per session is the milter's own cost)\n",
      median(null_cpu), median(harden_cpu), median(null_cpu) / std::max(0.001, median(harden_cpu)));
  std::printf("LATENCY per callback, at the client\n");
  print_latencies("null_milter", null_all);
  print_latencies("milter-harden", harden_all);
  if (harden_all.refused > 0 || harden_all.errors > 0)
    std::printf("  note: milter-harden refused %llu and failed %llu sessions (expected 0)\n",
                static_cast<unsigned long long>(harden_all.refused),
                static_cast<unsigned long long>(harden_all.errors));

  const std::uint64_t rss_before = proc_status_kib(d.pid(), "VmRSS:");
  const auto t0 = Clock::now();
  const std::uint64_t sprayed = spray(d.socket(), o.addresses, o.concurrency, o.spray_reuse);
  const double spray_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::uint64_t hwm = proc_status_kib(d.pid(), "VmHWM:");
  const std::uint64_t rss_after = proc_status_kib(d.pid(), "VmRSS:");
  const auto stats = nlohmann::json::parse(d.control(R"({"cmd":"stats"})"));
  const auto& c = stats.at("counters");
  const double cap = static_cast<double>(o.cap_mib);
  const double table = c.at("memory_bytes").get<double>() / (1024.0 * 1024.0);
  const double growth = static_cast<double>(hwm - std::min(hwm, rss_before)) / 1024;
  const bool within = table <= cap && growth <= cap;
  std::printf("\nMEMORY after %llu distinct client keys (%.1f s, %.0f sessions/s, %s)\n",
              static_cast<unsigned long long>(sprayed), spray_secs,
              static_cast<double>(sprayed) / spray_secs,
              o.spray_reuse ? "on reused milter connections" : "each on a new milter connection");
  std::printf("  daemon VmRSS before %.1f MiB, after %.1f MiB, peak (VmHWM) %.1f MiB\n",
              static_cast<double>(rss_before) / 1024, static_cast<double>(rss_after) / 1024,
              static_cast<double>(hwm) / 1024);
  std::printf("  counter table: %llu entries (capacity %llu), %.1f MiB, %llu evictions\n",
              c.at("entries").get<unsigned long long>(), c.at("capacity").get<unsigned long long>(),
              table, c.at("evictions").get<unsigned long long>());
  std::printf(
      "  counter_memory_cap %.0f MiB: table %.1f MiB, peak RSS growth during the spray "
      "%.1f MiB (within cap: %s)\n",
      cap, table, growth, within ? "PASS" : "FAIL");
  d.stop();
  null_milter.terminate(10s);
  return ratio >= o.target && within ? 0 : 1;
}

}  // namespace
}  // namespace harden::testing

int main(int argc, char** argv) {
  try {
    return harden::testing::run_bench(harden::testing::parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_milter: %s\n", e.what());
    return 2;
  }
}
