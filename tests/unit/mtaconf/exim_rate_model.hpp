// exim_rate_model.hpp - Exim's ratelimit arithmetic, for tests that check
// what the generated ratelimit settings admit.
//
// SYNOPSIS
//   EximRateModel exim(3.1, 89);            // limit m, period p in seconds
//   bool passed = exim.event(t);            // t: seconds, increasing
//   std::size_t n = most_in_window(times, 20);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace harden::mtaconf::test {

// Exim's smoothed rate as acl.c's acl_ratelimit computes it (strict mode: every
// event updates the record); true when the event at `t` is admitted.
class EximRateModel {
 public:
  EximRateModel(double limit, double period) : limit_(limit), period_(period) {}
  bool event(double t) {
    if (!seen_) {
      rate_ = 1.0;
      seen_ = true;
    } else {
      const double interval = t - last_ <= 0.0 ? 1e-9 : t - last_;
      const double i_over_p = interval / period_;
      const double a = std::exp(-i_over_p);
      rate_ = (1 - a) / i_over_p + a * rate_;
      if (rate_ < 1.0) rate_ = 1.0;
    }
    last_ = t;
    return rate_ < limit_;
  }

 private:
  double limit_, period_, rate_ = 0, last_ = 0;
  bool seen_ = false;
};

// Most admitted events inside any closed window of `w` seconds.
inline std::size_t most_in_window(const std::vector<double>& admitted, double w) {
  std::size_t most = 0;
  for (std::size_t i = 0, j = 0; j < admitted.size(); ++j) {
    while (admitted[j] - admitted[i] > w) ++i;
    most = std::max(most, j - i + 1);
  }
  return most;
}

}  // namespace harden::mtaconf::test
