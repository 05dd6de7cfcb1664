// service.cpp - stats, client, flush, reload for the control socket.
#include "harden/milter/service.hpp"

#include <unistd.h>

#include "harden/milter/config.hpp"

#ifndef HARDEN_VERSION
#define HARDEN_VERSION "unknown"
#endif

namespace harden::milter {

using nlohmann::json;

DaemonService::DaemonService(Engine& engine, PolicySource& source, Metrics& metrics,
                             const policy::Clock& clock, policy::ClientKeyer keyer)
    : engine_(engine),
      source_(source),
      metrics_(metrics),
      clock_(clock),
      keyer_(keyer),
      started_(clock.steady()) {}

json DaemonService::stats() {
  const auto c = engine_.counters().stats();
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.steady() - started_).count();
  return {{"ok", true},
          {"version", HARDEN_VERSION},
          {"pid", ::getpid()},
          {"uptime_seconds", uptime},
          {"mode", std::string(to_string(engine_.mode()))},
          {"greet_pause_cap_ms", engine_.greet_pause_cap().count()},
          {"policy",
           {{"store", source_.path().string()},
            {"rules", source_.rules()},
            {"loaded_at", source_.loaded_unix()},
            {"data_version", source_.data_version()}}},
          {"counters",
           {{"entries", c.entries},
            {"capacity", c.capacity},
            {"memory_bytes", c.memory_bytes},
            {"evictions", c.evictions},
            {"backend", c.backend},
            {"target", c.target},
            {"fallback", c.fallback},
            {"latency_us", c.latency_us},
            {"errors", c.errors}}},
          {"metrics", metrics_.to_json()}};
}

json DaemonService::client(const ControlRequest& r) {
  return describe_client(engine_, r, clock_);
}

json DaemonService::flush(const policy::IpAddress& ip) {
  const auto snapshot = engine_.policy();
  const policy::IpNetwork key = (snapshot ? snapshot->options().keyer : keyer_).key(ip);
  const bool flushed = engine_.counters().flush(key);
  return {{"ok", true}, {"key", key.to_string()}, {"flushed", flushed}};
}

json DaemonService::reload() {
  const ReloadResult r = source_.reload("hardenctl reload");
  if (!r.ok) return {{"ok", false}, {"error", r.message}};
  return {{"ok", true}, {"message", r.message}, {"rules", r.rules}};
}

std::string DaemonService::metrics_text() const {
  MetricsExtras x;
  x.counters = engine_.counters().stats();
  x.policy_rules = source_.rules();
  x.policy_loaded_unix = source_.loaded_unix();
  return metrics_.render(x);
}

}  // namespace harden::milter
