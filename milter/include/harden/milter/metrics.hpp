// metrics.hpp - the daemon's counters, declared once, rendered as Prometheus text.
//
// SYNOPSIS
//   Metrics m;
//   m.bump(Metric::sessions_total);  m.add(Metric::sessions_open, -1);
//   m.count_decision(decision);              // decisions_total{kind,outcome}
//   std::string text = m.render(extras);     // GET /metrics
//   nlohmann::json j = m.to_json();          // control "stats"
//   m.refusals().count(key, kind);           // the per-key tally (control "top")
//
// Every metric is one line of HARDEN_MILTER_METRICS (name, type, help); the
// enum, the storage, the Prometheus HELP/TYPE lines and the JSON keys all
// come from it (Envoy's ALL_*_STATS pattern). Names are exported with the
// prefix "milter_harden_". Policy code never sees this: the adapter bumps.
//
// decisions_total{kind="conn_rate",outcome="tempfail"} counts every decision
// that did something: outcome is accept (allow-listed), reject (5xx),
// tempfail (4xx), delay (bad_rcpt_throttle) or monitor (would have refused).
//
// THREAD SAFETY
//   All members may be called from any thread (relaxed atomics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "harden/db/counters.hpp"
#include "harden/milter/refusal_tally.hpp"
#include "harden/policy/decision.hpp"

// X(name, type, help)
#define HARDEN_MILTER_METRICS(X)                                                                \
  X(sessions_total, counter, "SMTP sessions the MTA announced to the milter (xxfi_connect)")    \
  X(sessions_open, gauge, "sessions between connect and close")                                 \
  X(greet_pauses_total, counter, "greet pauses held before the MTA's greeting")                 \
  X(greet_pauses_skipped_total, counter,                                                        \
    "greet pauses the policy asked for and the daemon did not hold (greet_pause_cap 0; engine " \
    "libmilter with libmilter_greet_pause skip)")                                               \
  X(greet_pauses_passed_total, counter,                                                         \
    "greet pauses skipped because the client key holds a greet pass (greet_pass_ttl)")          \
  X(penalties_started_total, counter, "penalties started for repeated offences")                \
  X(penalties_active, gauge, "client keys with a penalty in force")                             \
  X(greet_passes_active, gauge, "client keys holding a greet pass")                             \
  X(client_memory_entries, gauge, "client records in memory (passes, offences, penalties)")     \
  X(client_memory_evictions_total, counter,                                                     \
    "client records evicted at client_memory_entries (least recently used first)")              \
  X(state_flush_failures_total, counter,                                                        \
    "batches of client records not written to the state file")                                  \
  X(pregreet_detections_total, counter, "clients that talked before the greeting")              \
  X(pregreet_unavailable_total, counter,                                                        \
    "greet pauses held as a plain delay because the client's socket was not visible")           \
  X(pregreet_probe_errors_total, counter,                                                       \
    "pre-greeting probes that failed (netlink error, no socket); retried on the next tick")     \
  X(accept_failures_total, counter,                                                             \
    "accept() on the milter socket failed for lack of file descriptors")                        \
  X(accept_shed_total, counter,                                                                 \
    "milter connections closed at accept for lack of file descriptors")                         \
  X(open_files_limit, gauge, "the soft RLIMIT_NOFILE in force (raised to the hard limit)")      \
  X(throttle_delays_total, counter, "RCPT replies delayed by bad_rcpt_throttle")                \
  X(reload_success_total, counter, "policy snapshots loaded and put in force")                  \
  X(reload_failure_total, counter, "policy reloads refused; the previous snapshot stayed")      \
  X(internal_errors_total, counter, "callbacks that failed and answered on_internal_error")     \
  X(redis_errors_total, counter,                                                                \
    "Redis counter calls that failed or timed out (counters: redis); each was answered "        \
    "by redis_failure")                                                                         \
  X(redis_fallback, gauge, "1 while Redis is down and redis_failure answers, else 0")           \
  X(control_requests_total, counter, "control socket requests served")                          \
  X(control_denied_total, counter, "control socket connections refused (peer credentials)")     \
  X(milter_connections_open, gauge, "MTA connections open on the native engine")                \
  X(milter_connections_refused_total, counter,                                                  \
    "MTA connections closed at accept: peer not in allowed_peers, or max_connections")          \
  X(milter_idle_timeouts_total, counter, "MTA connections closed for silence (native)")         \
  X(protocol_violations_total, counter,                                                         \
    "MTA connections closed for a malformed or out-of-order milter packet (native)")
namespace harden::milter {

enum class Metric : std::uint8_t {
#define HARDEN_METRIC_ENUM(name, type, help) name,
  HARDEN_MILTER_METRICS(HARDEN_METRIC_ENUM)
#undef HARDEN_METRIC_ENUM
};

enum class Outcome : std::uint8_t { accept, reject, tempfail, delay, monitor };
inline constexpr std::size_t kOutcomeCount = 5;
std::string_view to_string(Outcome o);

// Figures read from elsewhere at scrape time.
struct MetricsExtras {
  db::CounterStats counters;
  std::size_t policy_rules = 0;
  std::int64_t policy_loaded_unix = 0;  // when the snapshot in force was loaded
};

class Metrics {
 public:
  static constexpr std::size_t kCount = 0
#define HARDEN_METRIC_COUNT(name, type, help) +1
      HARDEN_MILTER_METRICS(HARDEN_METRIC_COUNT)
#undef HARDEN_METRIC_COUNT
      ;

  void bump(Metric m) {
    add(m, 1);
  }
  void add(Metric m, std::int64_t n) {
    values_[static_cast<std::size_t>(m)].fetch_add(n, std::memory_order_relaxed);
  }
  void set(Metric m, std::int64_t v) {
    values_[static_cast<std::size_t>(m)].store(v, std::memory_order_relaxed);
  }
  std::int64_t get(Metric m) const {
    return values_[static_cast<std::size_t>(m)].load(std::memory_order_relaxed);
  }
  // Counts `d` under decisions_total if it did something (see above).
  void count_decision(const policy::Decision& d);
  std::uint64_t decisions(policy::DecisionKind k, Outcome o) const;

  std::string render(const MetricsExtras& extras) const;
  nlohmann::json to_json() const;

  // Refusals per client key, the most refused kept (refusal_tally.hpp); not
  // a Prometheus metric (one series per client would be unbounded).
  RefusalTally& refusals() {
    return refusals_;
  }
  const RefusalTally& refusals() const {
    return refusals_;
  }

 private:
  RefusalTally refusals_;
  std::array<std::atomic<std::int64_t>, kCount> values_{};
  std::array<std::array<std::atomic<std::uint64_t>, kOutcomeCount>, policy::kDecisionKindCount>
      decisions_{};
};

}  // namespace harden::milter
