// rate.cpp - durations and rates.
#include "harden/policy/rate.hpp"

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

struct Unit {
  char letter;
  std::int64_t seconds;
};
constexpr Unit kUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

struct MsUnit {
  std::string_view name;
  std::uint64_t ms;
};
// Largest first: format_duration_ms picks the first exact one.
constexpr MsUnit kMsUnits[] = {
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};

}  // namespace

std::chrono::seconds parse_duration(std::string_view text) {
  if (text.size() < 2) {
    throw PolicyError("bad duration " + quote(text) + " (expected e.g. 60s, 5m, 1h, 1d)");
  }
  const char u = text.back();
  const Unit* unit = nullptr;
  for (const auto& k : kUnits) {
    if (k.letter == u) unit = &k;
  }
  const auto n = parse_decimal(text.substr(0, text.size() - 1),
                               static_cast<std::uint64_t>(kMaxWindow.count()));
  if (unit == nullptr || !n) {
    throw PolicyError("bad duration " + quote(text) + " (expected e.g. 60s, 5m, 1h, 1d)");
  }
  const auto secs = static_cast<std::int64_t>(*n) * unit->seconds;
  if (secs < 1 || secs > kMaxWindow.count()) {
    throw PolicyError("duration " + quote(text) + " out of range (1s..7d)");
  }
  return std::chrono::seconds{secs};
}

std::string format_duration(std::chrono::seconds d) {
  for (const auto& k : kUnits) {
    if (d.count() != 0 && d.count() % k.seconds == 0) {
      return std::to_string(d.count() / k.seconds) + k.letter;
    }
  }
  return std::to_string(d.count()) + "s";
}

std::uint64_t parse_duration_ms(std::string_view text, std::uint64_t max_ms) {
  const auto bad = [&] {
    return PolicyError("bad duration " + quote(text) +
                       " (expected a whole number with unit ms, s, m, h or d, e.g. 2s or 250ms; "
                       "bare digits are ms)");
  };
  const auto too_large = [&] {
    return PolicyError("duration " + quote(text) + " is too large (at most " +
                       format_duration_ms(max_ms) + ")");
  };
  std::size_t i = 0;
  std::uint64_t n = 0;
  for (; i < text.size() && ascii::is_digit(text[i]); ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - digit) / 10) throw too_large();
    n = n * 10 + digit;
  }
  if (i == 0) throw bad();
  const std::string_view unit = text.substr(i);
  std::uint64_t factor = 0;
  if (unit.empty()) factor = 1;  // bare digits: milliseconds
  for (const auto& u : kMsUnits) {
    if (u.name == unit) factor = u.ms;
  }
  if (factor == 0) throw bad();
  if (n > max_ms / factor) throw too_large();
  return n * factor;
}

std::string format_duration_ms(std::uint64_t ms) {
  if (ms == 0) return "0";
  for (const auto& u : kMsUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + std::string(u.name);
  }
  return std::to_string(ms) + "ms";
}

std::uint32_t parse_count(std::string_view text, std::string_view what, std::uint32_t max) {
  const auto n = parse_decimal(text, max);
  if (!n) {
    throw PolicyError(std::string(what) + ": bad number " + quote(text) + " (expected 0.." +
                      std::to_string(max) + ")");
  }
  return static_cast<std::uint32_t>(*n);
}

Rate Rate::parse(std::string_view text) {
  if (text == "0") return Rate{};
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) {
    throw PolicyError("bad rate " + quote(text) + " (expected N/WINDOW, e.g. 5/60s, or 0)");
  }
  Rate r;
  r.count = parse_count(text.substr(0, slash), "rate count");
  r.window = parse_duration(text.substr(slash + 1));
  if (r.count == 0) return Rate{};  // unlimited whatever the window: one canonical form
  return r;
}

std::string Rate::to_string() const {
  if (count == 0) return "0";
  return std::to_string(count) + "/" + format_duration(window);
}

}  // namespace harden::policy
