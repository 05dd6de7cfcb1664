// counters_setup.cpp - LocalCounters or FallbackCounters(RedisCounters) from the config.
#include "counters_setup.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "harden/db/fallback_counters.hpp"
#include "harden/db/redis_counters.hpp"

namespace harden::milter {
namespace {

constexpr std::size_t kMaxPasswordFile = 1024;

// The first line of the file. Errors name the file, never its content.
std::string read_password_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("redis_password_file " + path + ": cannot be read");
  std::string text(kMaxPasswordFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxPasswordFile)
    throw std::runtime_error("redis_password_file " + path + ": larger than 1 KiB");
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  const bool ok = !text.empty() && std::none_of(text.begin(), text.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f;
  });
  if (!ok)
    throw std::runtime_error("redis_password_file " + path +
                             ": the first line must be the password (no control characters)");
  return text;
}

db::LocalCountersOptions local_options(const Config& c) {
  return db::LocalCountersOptions{.memory_cap_bytes =
                                      static_cast<std::size_t>(c.counter_memory_cap)};
}

}  // namespace

std::shared_ptr<db::CounterBackend> make_counters(const Config& c, Metrics& metrics) {
  auto local = std::make_shared<db::LocalCounters>(local_options(c));
  if (c.counters == CounterKind::local) return local;

  db::RedisCountersOptions o;
  o.url = db::parse_redis_url(c.redis_url);
  if (!c.redis_password_file.empty() && !c.redis_url_password.empty())
    throw std::runtime_error(
        "redis: give the password in redis_url or redis_password_file, not both");
  o.password = c.redis_password_file.empty() ? c.redis_url_password
                                             : read_password_file(c.redis_password_file);
  o.key_prefix = c.redis_key_prefix;
  o.connect_timeout = c.redis_connect_timeout;
  o.command_timeout = c.redis_command_timeout;
  o.host_id = c.host_id;
  o.liveness_ttl = c.redis_liveness_ttl;
  auto redis = std::make_shared<db::RedisCounters>(std::move(o));
  redis->start();

  db::FallbackHooks hooks;
  const std::string failure(to_string(c.redis_failure));
  hooks.on_switch = [&metrics, failure](bool down, const std::string& why) {
    if (down) {
      metrics.add(Metric::redis_fallback, 1);
      spdlog::warn("counters: Redis unreachable ({}); redis_failure {} until it answers again", why,
                   failure);
    } else {
      metrics.add(Metric::redis_fallback, -1);
      spdlog::info("counters: Redis answers again; counting on Redis");
    }
  };
  hooks.on_error = [&metrics] { metrics.bump(Metric::redis_errors_total); };
  spdlog::info("counters: redis {} (host_id {}, key prefix {}, redis_failure {})",
               redis->options().url.redacted(), redis->options().host_id, c.redis_key_prefix,
               failure);
  return std::make_shared<db::FallbackCounters>(std::move(redis), std::move(local),
                                                db::FallbackOptions{.failure = c.redis_failure},
                                                std::move(hooks));
}

void set_native_io(const Config& c, NativeOptions& n) {
  // counters: redis too: the native engine waits for Redis without holding
  // its thread (db::CounterChannel), so the shape is the same.
  n.threads = static_cast<unsigned>(c.io_threads);  // 0: one per core
}

}  // namespace harden::milter
