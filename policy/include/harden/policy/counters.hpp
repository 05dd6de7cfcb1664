// counters.hpp - per-client counters as plain data, driven by an injected clock.
//
// SYNOPSIS
//   SlidingWindow w;  w.add(now, 60s) -> events in the last 60 s, this one included
//   Concurrency c;    c.try_acquire(limit) / c.release()
//
// A SlidingWindow keeps kBuckets sub-buckets of window/kBuckets each, plus the
// one being filled, so an event is remembered for at least the whole window
// and at most window + window/kBuckets: a limit never lets through more than
// it says. It takes ~64 bytes whatever the rate, so millions of clients fit.
// If the window of a rule changes (policy reload), the counter starts over.
//
// THREAD SAFETY
//   None: these are values. The counter table that owns them locks.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "harden/policy/clock.hpp"

namespace harden::policy {

class SlidingWindow {
 public:
  static constexpr unsigned kBuckets = 10;

  // Records `n` events at `now`; returns the number in the window afterwards.
  std::uint32_t add(SteadyTime now, std::chrono::seconds window, std::uint32_t n = 1);
  // Events in the window ending at `now`.
  std::uint32_t count(SteadyTime now, std::chrono::seconds window) const;
  // True when nothing in it is younger than the window: safe to evict.
  bool idle(SteadyTime now) const;

 private:
  std::int64_t bucket_of(SteadyTime now) const;
  void advance(std::int64_t bucket);

  std::array<std::uint32_t, kBuckets + 1> counts_{};
  std::int64_t head_ = 0;       // index of the bucket being filled
  std::int64_t bucket_ms_ = 0;  // width; 0 = empty counter
};

class Concurrency {
 public:
  // Takes a slot if fewer than `limit` are open (limit 0 = unlimited).
  // Returns false, taking nothing, when the limit is reached.
  bool try_acquire(std::uint32_t limit) {
    if (limit != 0 && open_ >= limit) return false;
    ++open_;
    return true;
  }
  // Gives a slot back; never goes below zero.
  void release() {
    if (open_ > 0) --open_;
  }
  std::uint32_t open() const { return open_; }

 private:
  std::uint32_t open_ = 0;
};

}  // namespace harden::policy
