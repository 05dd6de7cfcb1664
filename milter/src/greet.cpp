// greet.cpp - hold the connect reply, watch for a slammer.
#include "greet.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace harden::milter {
namespace {

using std::chrono::milliseconds;

void note_unavailable(MilterRuntime& rt, std::string_view why) {
  rt.metrics.bump(Metric::pregreet_unavailable_total);
  const auto note = rt.pregreet_health.unavailable(rt.waiter.now());
  if (note.log)
    spdlog::warn(
        "pre-greeting detection unavailable: {}; greet pauses are plain delays until a "
        "client's socket is seen again ({} such pauses since the last line; counted in "
        "milter_harden_pregreet_unavailable_total)",
        why, note.count);
}

void note_available(MilterRuntime& rt) {
  const auto note = rt.pregreet_health.available(rt.waiter.now());
  if (note.log)
    spdlog::info("pre-greeting detection available again (after {} plain-delay pauses)",
                 note.count);
}

void note_probe_errors(MilterRuntime& rt, const WatchResult& w) {
  if (w.probe_errors == 0) return;
  rt.metrics.add(Metric::pregreet_probe_errors_total, w.probe_errors);
  const auto note = rt.pregreet_health.probe_errors(rt.waiter.now(), w.probe_errors);
  if (note.log)
    spdlog::warn(
        "pre-greeting probe failed: {}; retried on the next tick ({} failed probes since the "
        "last line; counted in milter_harden_pregreet_probe_errors_total)",
        w.probe_error, note.count);
}

// The greet pause without a probe: wait, interruptibly.
void plain_delay(MilterRuntime& rt, milliseconds pause) {
  rt.waiter.wait_until(rt.waiter.now() + pause);
}

}  // namespace

milliseconds greet_pause_for(const Session& s, milliseconds cap) {
  return milliseconds{policy::held_greet_pause(s.greet_pause(), cap).held_ms};
}

policy::Decision hold_greeting(MilterRuntime& rt, SessionState& st, milliseconds pause) {
  rt.metrics.bump(Metric::greet_pauses_total);
  const GreetTarget& g = st.greet;
  const auto mta = Endpoint::from_text(g.daemon_addr, g.daemon_port);
  std::optional<Endpoint> client;
  if (g.client && g.client_port != 0) client = Endpoint{*g.client, g.client_port};
  spdlog::debug("greet pause {}ms: MTA socket '{}':'{}', client {}", pause.count(), g.daemon_addr,
                g.daemon_port, client ? client->to_string() : std::string("?"));
  if (!mta || !client) {
    note_unavailable(rt, !mta ? "the MTA sends no usable {daemon_addr}/{daemon_port}"
                              : "the MTA sends no client port");
    plain_delay(rt, pause);
    return policy::Decision{};
  }
  const WatchResult w = rt.watch.watch(*mta, *client, pause);
  note_probe_errors(rt, w);
  switch (w.outcome) {
    case WatchResult::Outcome::talked: {
      note_available(rt);
      rt.metrics.bump(Metric::pregreet_detections_total);
      const std::uint64_t bytes = std::max<std::uint64_t>(w.last.bytes_received, w.last.rqueue);
      return rt.engine.pregreet(st.session, std::max<std::uint64_t>(bytes, 1));
    }
    case WatchResult::Outcome::degraded:
      note_unavailable(rt,
                       "socket " + mta->to_string() + " <- " + client->to_string() +
                           (w.last.status == ProbeResult::Status::error ? " could not be probed: "
                                                                        : " not found: ") +
                           w.last.error);
      break;
    case WatchResult::Outcome::silent:
      note_available(rt);
      return rt.engine.pregreet(st.session, 0);  // waited in silence: may earn a greet pass
    case WatchResult::Outcome::vanished:
      note_available(rt);
      break;
    case WatchResult::Outcome::cancelled:
      break;
  }
  return policy::Decision{};
}

}  // namespace harden::milter
