// process.hpp - child processes for integration tests and the benchmark:
// daemons in their own process group, killed with the group however the
// test ends; and short commands run to completion with a deadline.
//
// SYNOPSIS
//   Child d = Child::spawn({"/path/milter-harden", "--config", cfg}, log_to(dir / "log"));
//   d.running(); d.pid();
//   d.terminate(5s);          // SIGTERM to the group, wait, SIGKILL the group past the deadline
//   // ~Child(): SIGKILL to the group and reap, if still running
//
//   RunResult r = run({"/usr/sbin/postfix", "-c", dir, "start"}, 30s);
//   r.ok(); r.exit_code; r.output (stdout and stderr together)
//
//   bool ok = poll_until(5s, [&] { return file_exists(sock); });   // bounded polling
//
// No shell is involved: argv is passed to execvp as is. The child gets its
// own process group (setpgid), so everything it forks is stopped with it.
// Waiting is polling with a bounded deadline, never a sleep for timing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace harden::testing {

struct SpawnOptions {
  std::filesystem::path log;  // stdout+stderr appended here; empty: /dev/null
  std::vector<std::pair<std::string, std::string>> env;  // added to the environment
  // false: the program makes itself a session leader (Postfix's master
  // calls setsid(), which fails in a process group leader); it must do so
  // at once, since stopping it signals the group of its pid.
  bool new_process_group = true;
  // > 0: the child's RLIMIT_NOFILE, soft and hard, set before exec.
  std::uint64_t nofile = 0;
};
// Output to `log`, nothing else changed.
inline SpawnOptions log_to(const std::filesystem::path& log) {
  SpawnOptions o;
  o.log = log;
  return o;
}

class Child {
 public:
  static Child spawn(const std::vector<std::string>& argv, const SpawnOptions& opts = {});

  Child() = default;
  Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  // Reaps it if it has exited; true while it runs.
  bool running();
  // Waits up to `within` for it to exit by itself; true if it did.
  bool wait_exit(std::chrono::milliseconds within);
  // SIGTERM to the process group; SIGKILL to the group if it has not exited
  // within `grace`. Returns true if it exited on SIGTERM.
  bool terminate(std::chrono::milliseconds grace);
  void kill_group();
  // Exit status as from waitpid (valid after it has exited).
  int status() const { return status_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string output;
  bool ok() const { return exit_code == 0; }
};

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::pair<std::string, std::string>>& env = {});

// Calls `done` every few milliseconds until it returns true or `within`
// passes; returns its last answer.
bool poll_until(std::chrono::milliseconds within, const std::function<bool()>& done);

// A fresh directory under `parent` (default: the system temp dir), mode
// 0755, removed with everything in it by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "harden-test",
                   const std::filesystem::path& parent = {});
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& content);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Racy in principle; good enough for tests on a quiet loopback.
std::uint16_t free_tcp_port();
// An IPv4 address of this machine that is not loopback (the first one up), or
// "": clients that must not look like loopback (client memory never
// remembers loopback) connect from it.
std::string local_ipv4_address();

// What /proc says of a process (benchmarks): CPU seconds used (user +
// system), VmRSS and VmHWM in MiB, thread count. Zeros when it is gone.
struct ProcessStats {
  double cpu_seconds = 0;
  double rss_mib = 0;
  double hwm_mib = 0;
  int threads = 0;
};
ProcessStats process_stats(pid_t pid);

// True when a socket listens on TCP `port` (any local address, IPv4 or
// IPv6), read from /proc/net/tcp{,6}: a readiness check that makes no
// connection (a probe connection would count against a rate limit).
bool tcp_listening(std::uint16_t port);

}  // namespace harden::testing
