// redis_server.cpp - spawn and talk to a private redis-server (see redis_server.hpp).
#include "support/redis_server.hpp"

#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>

namespace harden::testing {
namespace {

std::string server_binary() {
  const char* p = std::getenv("REDIS_SERVER_PATH");
  return p != nullptr && *p != '\0' ? p : "/usr/bin/redis-server";
}

std::string random_password() {
  std::random_device rd;
  std::string out = "t";
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 24; ++i) out += kHex[rd() % 16];
  return out;
}

std::string reply_text(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return "error: " + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_ARRAY: {
      std::string out;
      for (std::size_t i = 0; i < r->elements; ++i) out += reply_text(r->element[i]) + "\n";
      return out;
    }
    default:
      return "";
  }
}

}  // namespace

RedisServer::RedisServer() : password_(random_password()) {
  write_file(password_file(), password_ + "\n");
  ::chmod(password_file().c_str(), 0600);
  start();
}

RedisServer::~RedisServer() {
  if (child_.running()) child_.kill_group();
}

void RedisServer::start(std::chrono::milliseconds within) {
  std::filesystem::remove(socket());
  child_ = Child::spawn(
      {server_binary(), "--port", "0", "--unixsocket", socket().string(), "--unixsocketperm", "700",
       "--requirepass", password_, "--save", "", "--appendonly", "no", "--dir",
       dir_.path().string(), "--daemonize", "no", "--databases", "16"},
      log_to(dir_ / "redis.log"));
  const bool up = poll_until(within, [&] {
    if (!child_.running()) return true;
    try {
      return command({"PING"}) == "PONG";
    } catch (const std::exception&) {
      return false;
    }
  });
  if (!up || !child_.running())
    throw std::runtime_error("redis-server did not start: " + read_file(dir_ / "redis.log"));
}

void RedisServer::kill() {
  child_.kill_group();
}

std::string RedisServer::command(const std::vector<std::string>& args) const {
  const timeval tv{2, 0};
  std::unique_ptr<redisContext, void (*)(redisContext*)> c(
      redisConnectUnixWithTimeout(socket().c_str(), tv), redisFree);
  if (!c || c->err != 0) throw std::runtime_error("redis: cannot connect");
  redisSetTimeout(c.get(), tv);
  auto run = [&](const std::vector<std::string>& a) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) throw std::runtime_error("redis: connection lost");
    std::string text = reply_text(r);
    freeReplyObject(r);
    return text;
  };
  const std::string auth = run({"AUTH", password_});
  if (auth != "OK") throw std::runtime_error("redis: AUTH: " + auth);
  return run(args);
}

std::uint64_t RedisServer::calls(const std::string& name) const {
  const std::string info = command({"INFO", "commandstats"});
  const std::string needle = "cmdstat_" + name + ":calls=";
  const auto at = info.find(needle);
  if (at == std::string::npos) return 0;
  return std::strtoull(info.c_str() + at + needle.size(), nullptr, 10);
}

}  // namespace harden::testing
