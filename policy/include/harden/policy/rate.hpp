// rate.hpp - durations ("60s", "5m", "1h", "1d"), millisecond durations
// ("2s", "250ms", "2000") and rates ("5/60s").
//
// A rate is N events per window. N == 0 means unlimited, as in sendmail's
// access map ("ClientRate:127.0.0.1 0"). Parsing is strict: digits only, no
// sign, no overflow, a unit is required on the window ("5/60" is refused,
// because sendmail reads it as seconds and Postfix as something else).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace harden::policy {

// Upper bounds that keep every figure sane and every product in range.
inline constexpr std::uint32_t kMaxCount = 10'000'000;
inline constexpr std::chrono::seconds kMaxWindow{7 * 24 * 3600};

// "30s", "5m", "2h", "1d" -> seconds. Throws PolicyError. Window 1s..7d.
std::chrono::seconds parse_duration(std::string_view text);
// Shortest exact text: 60s -> "1m", 90s -> "90s", 3600s -> "1h".
std::string format_duration(std::chrono::seconds d);

// The one duration grammar of pauses and intervals, in rule values
// (greet_pause) and in the daemon's config (greet_pause_cap, reload_interval):
// a whole number and a unit, "250ms", "2s", "1m", "1h", or bare digits meaning
// milliseconds ("2000"). No sign, space, fraction or other unit. Returns
// milliseconds; throws PolicyError quoting the text when it does not parse or
// exceeds max_ms (overflow included). Callers check their own lower bounds.
std::uint64_t parse_duration_ms(std::string_view text, std::uint64_t max_ms);
// Shortest exact text with the largest unit: 9000 -> "9s", 2500 -> "2500ms",
// 60000 -> "1m", 0 -> "0". parse_duration_ms reads it back.
std::string format_duration_ms(std::uint64_t ms);

// A non-negative decimal within [0, max]. Throws PolicyError naming `what`.
std::uint32_t parse_count(std::string_view text, std::string_view what,
                          std::uint32_t max = kMaxCount);

struct Rate {
  std::uint32_t count = 0;  // 0 = unlimited
  std::chrono::seconds window{60};

  bool unlimited() const { return count == 0; }
  // "5/60s", "100/1h", or "0" for unlimited. Throws PolicyError.
  static Rate parse(std::string_view text);
  std::string to_string() const;  // "5/1m", "0"

  friend bool operator==(const Rate&, const Rate&) = default;
};

}  // namespace harden::policy
