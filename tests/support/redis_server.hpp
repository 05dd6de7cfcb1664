// redis_server.hpp - a private redis-server for tests and the benchmark.
//
// SYNOPSIS
//   RedisServer r;                        // starts /usr/bin/redis-server in a temp dir
//   r.url();                              // "unix:/tmp/.../redis.sock"
//   r.password();                         // requirepass (random per server)
//   r.command({"INFO", "commandstats"});  // one command, the reply as text
//   r.kill(); r.start();                  // SIGKILL; start again on the same socket
//   // ~RedisServer(): killed, temp dir removed
//
// The server listens on a unix socket only (port 0), mode 0700, with a
// password, no persistence (save "" , appendonly no) and its log in the
// temp dir. start() polls with a deadline until PING answers PONG.
// REDIS_SERVER_PATH (environment) overrides /usr/bin/redis-server.
//
// THREAD SAFETY
//   One thread; command() opens its own connection per call.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace harden::testing {

class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  void start(std::chrono::milliseconds within = std::chrono::seconds(10));
  void kill();  // SIGKILL, reaped
  bool running() { return child_.running(); }
  pid_t pid() const { return child_.pid(); }

  std::filesystem::path socket() const { return dir_ / "redis.sock"; }
  std::string url() const { return "unix:" + socket().string(); }
  const std::string& password() const { return password_; }
  // The password in a file of mode 0600, for redis_password_file.
  std::filesystem::path password_file() const { return dir_ / "redis.pass"; }

  // Runs one command (authenticated); the reply as text: strings and status
  // as they are, integers in decimal, arrays one element per line, errors as
  // "ERR ..." prefixed with "error: ". Throws std::runtime_error when the
  // server cannot be reached.
  std::string command(const std::vector<std::string>& args) const;
  // calls=N of `cmdstat_NAME` in INFO commandstats (0 if absent).
  std::uint64_t calls(const std::string& name) const;

 private:
  TempDir dir_{"harden-redis"};
  std::string password_;
  Child child_;
};

}  // namespace harden::testing
