// daemon.hpp - start and stop the built milter-harden on a private store and
// config, for the protocol tests, the real-MTA tests and the benchmark.
//
// SYNOPSIS
//   TempDir dir;
//   MilterDaemon d(dir.path());                // store dir/policy.db, socket unix:dir/milter.sock
//   d.set("mode", "monitor");                   // any config key, written as YAML
//   d.set_nofile_limit(256);                    // RLIMIT_NOFILE soft = hard for the daemon
//   harden::db::Store::open(d.store()) ...      // or d.hardenctl({"rule", "add", ...})
//   d.start();                                  // spawns, waits until the socket takes connections
//   Session s = Session::start(d.socket(), peer, 5s);
//   d.wait_for_log("would reject", 5s);         // log lines since start (or since mark())
//   d.control(R"({"cmd":"stats"})");             // one JSON line on the control socket
//   d.stop();                                   // SIGTERM, clean exit expected
//
// The daemon runs in its own process group with stdout and stderr in
// dir/milter.log; the destructor kills the group if the test did not stop
// it. start() polls with a bounded deadline until the milter socket takes
// connections, the control socket exists and the metrics port listens (those
// configured), and fails early, with the log in the message, if the daemon
// exits instead.
//
// The engine is the daemon's default (native) unless the environment sets
// HARDEN_TEST_ENGINE=libmilter (the protocol suite runs once per engine).
//
// Binaries: MILTER_HARDEN_PATH and HARDENCTL_PATH (compile definitions of
// the support library) unless given.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "support/process.hpp"

namespace harden::testing {

std::string milter_harden_path();
std::string hardenctl_path();

class MilterDaemon {
 public:
  explicit MilterDaemon(std::filesystem::path dir, std::string binary = milter_harden_path());
  ~MilterDaemon();
  MilterDaemon(const MilterDaemon&) = delete;
  MilterDaemon& operator=(const MilterDaemon&) = delete;

  // Sets a config key (value written verbatim after "key: "). Defaults:
  // socket, store, mode enforce, control_socket dir/control.sock.
  void set(const std::string& key, const std::string& value);
  void unset(const std::string& key);
  // The daemon's RLIMIT_NOFILE, soft and hard (0: inherited), from the next start().
  void set_nofile_limit(std::uint64_t n) { nofile_ = n; }

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path store() const { return dir_ / "policy.db"; }
  std::filesystem::path config_path() const { return dir_ / "milter-harden.yaml"; }
  std::filesystem::path log_path() const { return dir_ / "milter.log"; }
  std::string socket() const;  // the socket spec in the config
  // "native" or "libmilter": the config's engine; HARDEN_TEST_ENGINE sets it.
  std::string engine() const;
  std::filesystem::path control_socket() const;

  // Creates the store with hardenctl init (default rule + loopback allows).
  void init_store();
  // Runs hardenctl on this daemon's store (and control socket); throws on a
  // non-zero exit unless `may_fail`.
  RunResult hardenctl(const std::vector<std::string>& args, bool may_fail = false) const;

  void start(std::chrono::milliseconds within = std::chrono::seconds(15));
  // SIGTERM; true if it exited by itself within `grace`.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  bool running() { return child_.running(); }
  pid_t pid() const { return child_.pid(); }
  int exit_status() const { return child_.status(); }

  // One request line on the control socket, its one-line JSON reply (throws
  // std::runtime_error on failure or after `timeout`).
  std::string control(const std::string& request_line,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // Sends a signal to the daemon (not its group).
  void signal(int sig) const;

  std::string log() const;
  // The log's current size; wait_for_log(needle, within, mark) looks after it.
  std::size_t mark() const;
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds within,
                    std::size_t from = 0) const;
  // Lines of the log after `from` that contain `needle`.
  std::vector<std::string> log_lines(const std::string& needle, std::size_t from = 0) const;

 private:
  void write_config() const;

  std::filesystem::path dir_;
  std::string binary_;
  std::vector<std::pair<std::string, std::string>> config_;
  Child child_;
  std::uint64_t nofile_ = 0;
};

}  // namespace harden::testing
