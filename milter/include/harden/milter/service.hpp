// service.hpp - the running daemon as seen by the control socket.
//
// SYNOPSIS
//   DaemonService svc(engine, source, metrics, clock, mode);
//   svc.stats(); svc.client(req); svc.flush(ip); svc.reload();   // see control.hpp
//   svc.offenders(req); svc.top(n);
//   std::string text = svc.metrics_text();                       // GET /metrics
//
// THREAD SAFETY
//   Called on the control thread only (PolicySource is single-threaded);
//   Engine, counters and Metrics are thread-safe.
#pragma once

#include <chrono>
#include <string>

#include "harden/milter/control.hpp"
#include "harden/milter/engine.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/policy_source.hpp"
#include "harden/policy/clock.hpp"

namespace harden::milter {

class DaemonService final : public ControlService {
 public:
  DaemonService(Engine& engine, PolicySource& source, Metrics& metrics, const policy::Clock& clock,
                policy::ClientKeyer keyer);

  nlohmann::json stats() override;
  nlohmann::json client(const ControlRequest& r) override;
  nlohmann::json flush(const policy::IpAddress& ip) override;
  nlohmann::json reload() override;
  nlohmann::json offenders(const ControlRequest& r) override;
  nlohmann::json clock(std::chrono::milliseconds advance) override;
  nlohmann::json top(std::size_t n) override;
  std::string metrics_text() const;

  // The test clock the "clock" command moves (test_clock_control), or null.
  void allow_clock_control(policy::OffsetClock* clock) { test_clock_ = clock; }
  // Most records an "offenders" list returns.
  static constexpr std::size_t kMaxListed = 1000;

 private:
  nlohmann::json memory_stats() const;
  Engine& engine_;
  PolicySource& source_;
  Metrics& metrics_;
  const policy::Clock& clock_;
  policy::ClientKeyer keyer_;
  policy::SteadyTime started_;
  policy::OffsetClock* test_clock_ = nullptr;
};

}  // namespace harden::milter
