// service.cpp - stats, client, flush, reload for the control socket.
#include "harden/milter/service.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "harden/db/client_memory_json.hpp"
#include "harden/milter/config.hpp"
#include "harden/milter/reply.hpp"

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
          {"client_memory", memory_stats()},
          {"metrics", metrics_.to_json()}};
}

json DaemonService::memory_stats() const {
  const db::ClientMemory* mem = engine_.memory();
  if (!mem) return nullptr;
  const auto st = mem->stats(engine_.now_ms());
  return {{"entries", st.entries},
          {"capacity", st.capacity},
          {"evictions", st.evictions},
          {"passes", st.passes},
          {"penalties", st.penalties}};
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

json DaemonService::offenders(const ControlRequest& r) {
  db::ClientMemory* mem = engine_.memory();
  if (!mem) return {{"ok", false}, {"error", "client memory is off"}};
  const policy::WallMs now = engine_.now_ms();
  using A = ControlRequest::Action;
  if (r.action == A::list) {
    const std::size_t most = r.limit > 0 ? std::min(r.limit, kMaxListed) : kMaxListed;
    std::size_t total = 0;
    const auto listed = mem->entries(now, most, &total);
    json list = json::array();
    for (const auto& e : listed) list.push_back(db::client_record_json(e.key, e.record, now));
    return {
        {"ok", true}, {"now", policy::format_wall_ms(now)}, {"total", total}, {"offenders", list}};
  }
  const auto snapshot = engine_.policy();
  const policy::IpNetwork key = (snapshot ? snapshot->options().keyer : keyer_).key(*r.ip);
  switch (r.action) {
    case A::show: {
      const auto rec = mem->find(key);
      return {{"ok", true},
              {"key", key.to_string()},
              {"known", rec.has_value()},
              {"record", rec ? db::client_record_json(key, *rec, now) : json(nullptr)}};
    }
    case A::remove: {
      const bool removed = mem->forget(key, now);
      if (removed)
        spdlog::info("offenders: {} forgotten (hardenctl offenders remove)", key.to_string());
      return {{"ok", true}, {"key", key.to_string()}, {"removed", removed}};
    }
    case A::add: {
      if (r.ip->is_loopback()) return {{"ok", false}, {"error", "loopback is never penalised"}};
      const policy::Penalty p = mem->impose(key, now, r.duration_ms,
                                            "manual" + (r.reason.empty() ? "" : ": " + r.reason));
      spdlog::info("{}", penalty_line(policy::PenaltyStart{p, key, false},
                                      LogClient{r.ip, "unknown"}, "hardenctl"));
      metrics_.bump(Metric::penalties_started_total);
      const auto rec = mem->find(key);
      return {{"ok", true},
              {"key", key.to_string()},
              {"record", rec ? db::client_record_json(key, *rec, now) : json(nullptr)}};
    }
    default:
      return {{"ok", false}, {"error", "unknown action"}};
  }
}

json DaemonService::clock(std::chrono::milliseconds advance) {
  if (!test_clock_) return ControlService::clock(advance);
  test_clock_->advance(advance);
  spdlog::warn("clock moved forward {} ms by the control socket (test_clock_control)",
               advance.count());
  return {{"ok", true}, {"offset_ms", test_clock_->offset().count()}};
}

json DaemonService::top(std::size_t n) {
  db::CounterBackend& counters = engine_.counters();
  json by_open = json::array();
  for (const auto& c : counters.top_open(n))
    by_open.push_back({{"key", c.key.to_string()}, {"open", c.open}});
  // counters: redis answers with the slots this daemon holds (FallbackCounters).
  const char* scope = counters.stats().backend == "redis" ? "this host" : "local";
  json by_refusals = json::array();
  const RefusalTally& tally = metrics_.refusals();
  for (const auto& c : tally.top(n)) {
    by_refusals.push_back({{"key", c.key.to_string()},
                           {"refusals", c.refusals},
                           {"error", c.error},
                           {"last", std::string(policy::to_string(c.last))}});
  }
  return {{"ok", true},
          {"n", n},
          {"by_open", by_open},
          {"open_scope", scope},
          {"by_refusals", by_refusals},
          {"refusals_total", tally.total()},
          {"refusals_tracked", tally.capacity()}};
}

std::string DaemonService::metrics_text() const {
  MetricsExtras x;
  x.counters = engine_.counters().stats();
  x.policy_rules = source_.rules();
  x.policy_loaded_unix = source_.loaded_unix();
  return metrics_.render(x);
}

}  // namespace harden::milter
