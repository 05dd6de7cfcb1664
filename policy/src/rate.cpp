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
