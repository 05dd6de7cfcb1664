// clock.hpp - time is injected; policy code has no clock of its own.
//
// Counters take a steady time point; rule expiry takes wall-clock seconds.
// Production passes SystemClock; tests pass ManualClock and advance it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace harden::policy {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime steady() const = 0;
  virtual WallTime wall() const = 0;
};

class SystemClock final : public Clock {
 public:
  SteadyTime steady() const override { return std::chrono::steady_clock::now(); }
  WallTime wall() const override {
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

// The system clock, moved forward by an offset that only grows: the daemon's
// clock. Tests move it with the control socket's "clock" command (config key
// test_clock_control) to see expiries without waiting; otherwise it is
// SystemClock.
class OffsetClock final : public Clock {
 public:
  SteadyTime steady() const override { return std::chrono::steady_clock::now() + offset(); }
  WallTime wall() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now() + offset());
  }
  void advance(std::chrono::milliseconds d) {
    if (d.count() > 0) offset_ms_.fetch_add(d.count(), std::memory_order_relaxed);
  }
  std::chrono::milliseconds offset() const {
    return std::chrono::milliseconds{offset_ms_.load(std::memory_order_relaxed)};
  }

 private:
  std::atomic<std::int64_t> offset_ms_{0};
};

// A clock that moves only when told. Not thread-safe: tests drive it from one thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{std::chrono::seconds{1'800'000'000}})
      : wall_(start) {}
  SteadyTime steady() const override { return steady_; }
  WallTime wall() const override { return std::chrono::floor<std::chrono::seconds>(wall_); }
  void advance(std::chrono::milliseconds d) {
    steady_ += d;
    wall_ += d;
  }

 private:
  SteadyTime steady_{};
  std::chrono::sys_time<std::chrono::milliseconds> wall_;
};

}  // namespace harden::policy
