// pregreet_watch.cpp - the side of pregreet.hpp that waits: Endpoint text,
// the status names, SystemWaiter, PregreetWatch (probe each tick of the greet
// pause) and DetectionHealth (when to log). The sock_diag probe itself is in
// pregreet_probe.cpp.
#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "harden/milter/pregreet.hpp"
#include "harden/policy/ascii.hpp"

namespace harden::milter {
namespace {

using Clock = std::chrono::steady_clock;
using policy::IpAddress;

}  // namespace
std::optional<Endpoint> Endpoint::from_text(std::string_view address,
                                            std::string_view port) noexcept {
  if (port.empty() || port.size() > 5) return std::nullopt;
  if (!std::all_of(port.begin(), port.end(), ascii::is_digit)) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size()) return std::nullopt;
  if (value == 0 || value > 65535) return std::nullopt;
  const auto addr = IpAddress::try_parse(address);
  if (!addr) return std::nullopt;
  return Endpoint{*addr, static_cast<std::uint16_t>(value)};
}

bool Endpoint::is_wildcard() const {
  const auto& b = address.bytes();
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

std::string Endpoint::to_string() const {
  const std::string port_text = std::to_string(port);
  if (address.is_v4()) return address.to_string() + ":" + port_text;
  return "[" + address.to_string() + "]:" + port_text;
}

std::string_view to_string(ProbeResult::Status s) {
  switch (s) {
    case ProbeResult::Status::talked:
      return "talked";
    case ProbeResult::Status::silent:
      return "silent";
    case ProbeResult::Status::not_found:
      return "not_found";
    case ProbeResult::Status::error:
      return "error";
  }
  return "unknown";
}

std::string_view to_string(WatchResult::Outcome o) {
  switch (o) {
    case WatchResult::Outcome::talked:
      return "talked";
    case WatchResult::Outcome::silent:
      return "silent";
    case WatchResult::Outcome::degraded:
      return "degraded";
    case WatchResult::Outcome::vanished:
      return "vanished";
    case WatchResult::Outcome::cancelled:
      return "cancelled";
  }
  return "unknown";
}

policy::SteadyTime SystemWaiter::now() const {
  return Clock::now();
}

bool SystemWaiter::wait_until(policy::SteadyTime deadline) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_until(lock, deadline, [this] { return cancelled_; });
}

void SystemWaiter::cancel() {
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

bool SystemWaiter::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

PregreetWatch::PregreetWatch(const Probe& probe, Waiter& waiter, std::chrono::milliseconds interval)
    : probe_(probe), waiter_(waiter), interval_(interval) {
  if (interval.count() <= 0)
    throw std::invalid_argument("pregreet probe interval must be at least 1 ms");
}

namespace {

WatchResult finish(WatchResult r, WatchResult::Outcome outcome, policy::SteadyTime start,
                   policy::SteadyTime now) {
  r.outcome = outcome;
  r.waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
  return r;
}

}  // namespace

WatchResult PregreetWatch::plain_delay(policy::SteadyTime start, policy::SteadyTime deadline,
                                       WatchResult result) const {
  const bool waited = waiter_.wait_until(deadline);
  const auto outcome = waited ? WatchResult::Outcome::degraded : WatchResult::Outcome::cancelled;
  return finish(std::move(result), outcome, start, waiter_.now());
}

WatchResult PregreetWatch::watch(const Endpoint& mta_local, const Endpoint& client,
                                 std::chrono::milliseconds greet_pause) const {
  using Outcome = WatchResult::Outcome;
  using Status = ProbeResult::Status;
  WatchResult result;
  const auto start = waiter_.now();
  if (greet_pause.count() <= 0) return result;
  const auto deadline = start + greet_pause;
  Endpoint where = mta_local;
  bool found = false;
  for (;;) {
    result.last = probe_.probe(where, client);
    ++result.probes;
    const Status status = result.last.status;
    if (status == Status::talked)
      return finish(std::move(result), Outcome::talked, start, waiter_.now());
    if (status == Status::silent) {
      found = true;
      if (result.last.local.port != 0) where = result.last.local;
    } else if (status == Status::error) {
      ++result.probe_errors;  // retried on the next tick
      result.probe_error = result.last.error;
    } else if (found) {
      return finish(std::move(result), Outcome::vanished, start, waiter_.now());
    } else {
      return plain_delay(start, deadline, std::move(result));
    }
    const auto now = waiter_.now();
    if (now >= deadline)
      return finish(std::move(result), found ? Outcome::silent : Outcome::degraded, start, now);
    const auto ticks = (now - start) / interval_ + 1;  // next tick on the grid, never in the past
    const auto next = std::min<policy::SteadyTime>(start + ticks * interval_, deadline);
    if (!waiter_.wait_until(next))
      return finish(std::move(result), Outcome::cancelled, start, waiter_.now());
  }
}

DetectionHealth::DetectionHealth(std::chrono::milliseconds relog) : relog_(relog) {}

namespace {

// True (and `last` set to now) when nothing was said within `relog`.
bool due(std::optional<policy::SteadyTime>& last, policy::SteadyTime now,
         std::chrono::milliseconds relog) {
  if (last && now - *last < relog) return false;
  last = now;
  return true;
}

}  // namespace

DetectionHealth::Note DetectionHealth::unavailable(policy::SteadyTime now) {
  std::lock_guard lock(mutex_);
  ++plain_delays_;
  unavailable_ = true;
  Note n;
  if (due(unavailable_logged_, now, relog_)) {
    n.log = true;
    n.count = plain_delays_;
    plain_delays_ = 0;
  }
  return n;
}

DetectionHealth::Note DetectionHealth::available(policy::SteadyTime now) {
  std::lock_guard lock(mutex_);
  Note n;
  if (!unavailable_) return n;
  unavailable_ = false;
  if (due(available_logged_, now, relog_)) {
    n.log = true;
    n.count = plain_delays_;  // plain delays not yet reported
    plain_delays_ = 0;
  }
  return n;
}

DetectionHealth::Note DetectionHealth::probe_errors(policy::SteadyTime now, unsigned count) {
  std::lock_guard lock(mutex_);
  errors_ += count;
  Note n;
  if (count > 0 && due(errors_logged_, now, relog_)) {
    n.log = true;
    n.count = errors_;
    errors_ = 0;
  }
  return n;
}

bool DetectionHealth::is_unavailable() const {
  std::lock_guard lock(mutex_);
  return unavailable_;
}

}  // namespace harden::milter
