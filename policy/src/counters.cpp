// counters.cpp - sliding-window and concurrency counters.
#include "harden/policy/counters.hpp"

namespace harden::policy {
namespace {

std::int64_t width_ms(std::chrono::seconds window) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(window).count();
  const auto w = ms / SlidingWindow::kBuckets;
  return w > 0 ? w : 1;
}

std::int64_t steady_ms(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Bucket b covers [b*width, (b+1)*width). The ring holds the bucket being
// filled and the kBuckets before it: an event is counted until the bucket
// after it has slid out, i.e. for at least `window`, at most window + width.
std::int64_t SlidingWindow::bucket_of(SteadyTime now) const {
  const auto t = steady_ms(now);
  return t >= 0 ? t / bucket_ms_ : (t - bucket_ms_ + 1) / bucket_ms_;
}

void SlidingWindow::advance(std::int64_t bucket) {
  if (bucket <= head_) return;  // same bucket, or the clock went back: keep counting
  const std::int64_t gap = bucket - head_;
  if (gap >= static_cast<std::int64_t>(counts_.size())) {
    counts_.fill(0);
  } else {
    for (std::int64_t b = head_ + 1; b <= bucket; ++b) {
      counts_[static_cast<std::size_t>(b % static_cast<std::int64_t>(counts_.size()))] = 0;
    }
  }
  head_ = bucket;
}

std::uint32_t SlidingWindow::add(SteadyTime now, std::chrono::seconds window, std::uint32_t n) {
  const auto w = width_ms(window);
  if (w != bucket_ms_) {  // new counter, or the rule's window changed: start over
    counts_.fill(0);
    bucket_ms_ = w;
    head_ = bucket_of(now);
  }
  advance(bucket_of(now));
  auto& slot = counts_[static_cast<std::size_t>(head_ % static_cast<std::int64_t>(counts_.size()))];
  slot = (slot > UINT32_MAX - n) ? UINT32_MAX : slot + n;
  return count(now, window);
}

std::uint32_t SlidingWindow::count(SteadyTime now, std::chrono::seconds window) const {
  if (bucket_ms_ == 0 || width_ms(window) != bucket_ms_) return 0;
  const std::int64_t gap = bucket_of(now) - head_;
  const auto size = static_cast<std::int64_t>(counts_.size());
  if (gap >= size) return 0;
  std::uint64_t total = 0;
  // Buckets older than head_ + gap - kBuckets have slid out.
  for (std::int64_t b = head_ - size + 1; b <= head_; ++b) {
    if (b <= head_ + gap - size) continue;
    total += counts_[static_cast<std::size_t>(((b % size) + size) % size)];
  }
  return total > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(total);
}

bool SlidingWindow::idle(SteadyTime now) const {
  if (bucket_ms_ == 0) return true;
  return bucket_of(now) - head_ >= static_cast<std::int64_t>(counts_.size());
}

}  // namespace harden::policy
