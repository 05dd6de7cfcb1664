// metrics.cpp - Prometheus text exposition (format 0.0.4) and JSON of the metrics.
#include "harden/milter/metrics.hpp"

#include <fmt/format.h>

namespace harden::milter {
namespace {

struct MetricInfo {
  std::string_view name;
  std::string_view type;
  std::string_view help;
};

constexpr std::array<MetricInfo, Metrics::kCount> kInfo{{
#define HARDEN_METRIC_INFO(name, type, help) {#name, #type, help},
    HARDEN_MILTER_METRICS(HARDEN_METRIC_INFO)
#undef HARDEN_METRIC_INFO
}};

constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames{"accept", "reject", "tempfail",
                                                                    "delay", "monitor"};

std::optional<Outcome> outcome_of(const policy::Decision& d) {
  if (d.kind == policy::DecisionKind::none) return std::nullopt;
  if (d.monitor) return Outcome::monitor;
  switch (d.verdict) {
    case policy::Verdict::accept_all:
      return Outcome::accept;
    case policy::Verdict::reject:
      return Outcome::reject;
    case policy::Verdict::tempfail:
      return Outcome::tempfail;
    case policy::Verdict::proceed:
      break;
  }
  if (d.delay.count() > 0) return Outcome::delay;
  return std::nullopt;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP milter_harden_{} {}\n# TYPE milter_harden_{} {}\n", name, help, name,
                     type);
}

void gauge(std::string& out, std::string_view name, std::string_view help, std::uint64_t v) {
  family(out, name, "gauge", help);
  out += fmt::format("milter_harden_{} {}\n", name, v);
}

}  // namespace

std::string_view to_string(Outcome o) {
  return kOutcomeNames[static_cast<std::size_t>(o)];
}

void Metrics::count_decision(const policy::Decision& d) {
  if (const auto o = outcome_of(d)) {
    decisions_[static_cast<std::size_t>(d.kind)][static_cast<std::size_t>(*o)].fetch_add(
        1, std::memory_order_relaxed);
  }
}

std::uint64_t Metrics::decisions(policy::DecisionKind k, Outcome o) const {
  return decisions_[static_cast<std::size_t>(k)][static_cast<std::size_t>(o)].load(
      std::memory_order_relaxed);
}

std::string Metrics::render(const MetricsExtras& x) const {
  std::string out;
  for (std::size_t i = 0; i < kCount; ++i) {
    family(out, kInfo[i].name, kInfo[i].type, kInfo[i].help);
    out += fmt::format("milter_harden_{} {}\n", kInfo[i].name, values_[i].load());
  }
  family(out, "decisions_total", "counter", "decisions that did something, by kind and outcome");
  for (std::size_t k = 1; k < policy::kDecisionKindCount; ++k) {
    for (std::size_t o = 0; o < kOutcomeCount; ++o) {
      const auto n = decisions_[k][o].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out +=
          fmt::format("milter_harden_decisions_total{{kind=\"{}\",outcome=\"{}\"}} {}\n",
                      policy::to_string(static_cast<policy::DecisionKind>(k)), kOutcomeNames[o], n);
    }
  }
  gauge(out, "counter_entries", "clients in the counter table", x.counters.entries);
  gauge(out, "counter_capacity", "clients the counter memory cap allows", x.counters.capacity);
  gauge(out, "counter_memory_bytes", "estimated memory of the counter table",
        x.counters.memory_bytes);
  family(out, "counter_evictions_total", "counter", "clients evicted from the full counter table");
  out += fmt::format("milter_harden_counter_evictions_total {}\n", x.counters.evictions);
  gauge(out, "policy_rules", "rules in the policy snapshot in force", x.policy_rules);
  gauge(out, "policy_loaded_timestamp_seconds", "when the snapshot in force was loaded",
        static_cast<std::uint64_t>(x.policy_loaded_unix));
  return out;
}

nlohmann::json Metrics::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t i = 0; i < kCount; ++i) j[std::string(kInfo[i].name)] = values_[i].load();
  nlohmann::json dec = nlohmann::json::object();
  for (std::size_t k = 1; k < policy::kDecisionKindCount; ++k) {
    for (std::size_t o = 0; o < kOutcomeCount; ++o) {
      const auto n = decisions_[k][o].load(std::memory_order_relaxed);
      if (n != 0)
        dec[std::string(policy::to_string(static_cast<policy::DecisionKind>(k)))]
           [std::string(kOutcomeNames[o])] = n;
    }
  }
  j["decisions"] = dec;
  return j;
}

}  // namespace harden::milter
