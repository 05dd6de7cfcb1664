// fd_limits.hpp - file descriptors: the process limit, the capacity it gives,
// and what to do at accept when they run out. No libmilter, no logging: the
// libmilter adapter (milter_accept.hpp) and a native engine use it alike.
//
// SYNOPSIS
//   NofileLimit l = raise_nofile_limit();        // at start: soft RLIMIT_NOFILE := hard
//   std::uint64_t n = session_capacity(l.soft, probe_sockets);
//
//   AcceptGuard guard;                           // holds one reserve descriptor
//   int fd = accept(listener, ...);
//   if (fd < 0 && is_out_of_descriptors(errno)) {
//     AcceptFailure f = guard.out_of_descriptors(listener);
//     // f.shed: one pending connection was taken with the reserve and closed
//     // at once (the peer sees its connection closed, not a silent backlog);
//     // f.first_in_burst: log now; f.backoff: sleep this long before the next try
//   } else if (fd >= 0) {
//     AcceptRecovery r = guard.accepted();       // r.ended_burst: log the burst's figures
//   }
//
// CAPACITY
//   Each milter session holds one descriptor in this process: its milter
//   connection (libmilter's worker pool polls them all from one array; the
//   pre-greeting probe shares a few netlink sockets opened at start, see
//   pregreet.hpp). Everything else is fixed and counted in
//   kFixedDescriptors: stdin/stdout/stderr (3), the milter listener (1),
//   libmilter's worker-pool pipe (2), the control socket and the metrics
//   listener (2), the Asio reactor (epoll, its eventfd and timerfd, the
//   signal pipe: 5), the reserve descriptor (1), syslog (1), the policy store
//   while a reload reads it (SQLite: database, -wal, -shm, journal: 4), and
//   the control and metrics connections at their caps (32 + 32). The probe's
//   sockets are added by session_capacity. So with the soft limit N:
//   sessions = N - kFixedDescriptors - probe_sockets.
//
// THREAD SAFETY
//   AcceptGuard's members may be called from any thread (a mutex); the
//   reserve is spent and taken back under it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace harden::milter {

struct NofileLimit {
  std::uint64_t before = 0;  // soft limit found at start
  std::uint64_t soft = 0;    // soft limit now in force
  std::uint64_t hard = 0;
  std::string error;  // why it could not be raised ("" when it was, or already was)
};

// Raises the soft RLIMIT_NOFILE to the hard limit (an unlimited hard limit
// is capped at /proc/sys/fs/nr_open). Never lowers it; never throws.
NofileLimit raise_nofile_limit() noexcept;

// Descriptors the daemon holds whatever the number of sessions (see CAPACITY).
inline constexpr std::uint64_t kFixedDescriptors = 3 + 1 + 2 + 2 + 5 + 1 + 1 + 4 + 32 + 32;

// Concurrent milter sessions the soft limit `nofile` allows (0 if none).
std::uint64_t session_capacity(std::uint64_t nofile, std::size_t probe_sockets);

// EMFILE or ENFILE.
bool is_out_of_descriptors(int err);

// Listening sockets open in this process now (from /proc/self/fd and
// SO_ACCEPTCONN), lowest first.
std::vector<int> listening_sockets();

struct AcceptFailure {
  bool first_in_burst = false;  // the first failure since descriptors were last available
  bool shed = false;            // a pending connection was taken and closed
  std::uint64_t failures = 0;   // in this burst so far
  std::uint64_t shed_count = 0;
  std::chrono::milliseconds backoff{0};  // wait before the next accept (0: at once)
};

struct AcceptRecovery {
  bool ended_burst = false;  // this accept ended a burst of failures
  std::uint64_t failures = 0;
  std::uint64_t shed_count = 0;
  std::chrono::milliseconds lasted{0};
};

class AcceptGuard {
 public:
  // Opens the reserve descriptor (/dev/null); a failure is retried later.
  AcceptGuard();
  ~AcceptGuard();
  AcceptGuard(const AcceptGuard&) = delete;
  AcceptGuard& operator=(const AcceptGuard&) = delete;

  // accept() on `listener` has just failed for lack of descriptors. Spends
  // the reserve to take one pending connection (if any is ready) and closes
  // it at once, then takes the reserve back. When there is no reserve to
  // spend, asks for a back-off instead (10 ms, doubling to 200 ms) so an
  // accept loop that retries at once does not spin.
  AcceptFailure out_of_descriptors(int listener);
  // An accept succeeded: ends a burst of failures, if one was going on and
  // its last failure is 500 ms old (a flood that keeps hitting the limit
  // stays one burst).
  AcceptRecovery accepted();

  bool reserve_held() const;

 private:
  using Clock = std::chrono::steady_clock;
  mutable std::mutex mutex_;
  int reserve_ = -1;
  bool in_burst_ = false;
  std::uint64_t failures_ = 0;
  std::uint64_t shed_ = 0;
  std::chrono::milliseconds backoff_{0};
  Clock::time_point burst_start_{};
  Clock::time_point last_failure_{};
};

}  // namespace harden::milter
