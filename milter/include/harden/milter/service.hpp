// service.hpp - the running daemon as seen by the control socket.
//
// SYNOPSIS
//   DaemonService svc(engine, source, metrics, clock, mode);
//   svc.stats(); svc.client(req); svc.flush(ip); svc.reload();   // see control.hpp
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
  std::string metrics_text() const;

 private:
  Engine& engine_;
  PolicySource& source_;
  Metrics& metrics_;
  const policy::Clock& clock_;
  policy::ClientKeyer keyer_;
  policy::SteadyTime started_;
};

}  // namespace harden::milter
