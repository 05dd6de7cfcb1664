// memory.cpp - pass and penalty arithmetic of one client record.
#include "harden/policy/memory.hpp"

#include <algorithm>

#include "harden/policy/error.hpp"
#include "harden/policy/policy.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

constexpr std::array<std::string_view, kOffenceCount> kOffenceNames{
    "pregreet",  "conn_rate",         "conn_limit", "rcpt_rate", "msg_rate",
    "max_rcpts", "bad_rcpt_throttle", "blocked",    "dialin",    "missing_rdns"};

// The longest escalation: 2^20 * base (about 20 doublings), so the
// arithmetic never overflows whatever penalty_max says.
constexpr std::uint32_t kMaxDoublings = 20;

}  // namespace

std::string_view to_string(Offence o) {
  return kOffenceNames[static_cast<std::size_t>(o)];
}
std::optional<Offence> offence_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kOffenceNames.size(); ++i) {
    if (kOffenceNames[i] == name) return static_cast<Offence>(i);
  }
  return std::nullopt;
}

std::string format_wall_ms(WallMs ms) {
  return format_time(std::chrono::floor<std::chrono::seconds>(
      std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(ms))));
}

OffenceWeights OffenceWeights::parse(std::string_view text) {
  OffenceWeights w;
  if (text == "none") return w;
  if (text.empty()) throw PolicyError("empty weights (write none for no offences)");
  std::array<bool, kOffenceCount> seen{};
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view part = text.substr(pos, comma - pos);
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      throw PolicyError("bad weight " + quote(part) + " (expected KIND=N, e.g. pregreet=1)");
    }
    const auto kind = offence_from_name(part.substr(0, eq));
    if (!kind) {
      std::string known;
      for (auto n : kOffenceNames) known += (known.empty() ? "" : ", ") + std::string(n);
      throw PolicyError("unknown offence " + quote(part.substr(0, eq)) + " (known: " + known + ")");
    }
    const auto i = static_cast<std::size_t>(*kind);
    if (seen[i]) throw PolicyError("offence " + quote(part.substr(0, eq)) + " given twice");
    seen[i] = true;
    w.weight[i] = static_cast<std::uint8_t>(
        parse_count(part.substr(eq + 1), policy::to_string(*kind), kMaxOffenceWeight));
    pos = comma + 1;
  }
  return w;
}

std::string OffenceWeights::to_string() const {
  std::string out;
  for (std::size_t i = 0; i < kOffenceCount; ++i) {
    if (weight[i] == 0) continue;
    if (!out.empty()) out += ',';
    out += std::string(kOffenceNames[i]) + "=" + std::to_string(weight[i]);
  }
  return out.empty() ? "none" : out;
}

bool OffenceWeights::none() const {
  return std::all_of(weight.begin(), weight.end(), [](std::uint8_t v) { return v == 0; });
}

PenaltySettings penalty_settings(const Limits& l) {
  PenaltySettings s;
  s.threshold = l.penalty_threshold;
  s.window_ms = l.penalty_window;
  s.base_ms = l.penalty_base;
  s.max_ms = l.penalty_max;
  s.memory_ms = l.penalty_memory;
  return s;
}

std::int64_t penalty_length_ms(const PenaltySettings& s, std::uint32_t n) {
  const std::uint32_t doublings = std::min(n == 0 ? 0 : n - 1, kMaxDoublings);
  const std::int64_t len = s.base_ms << doublings;
  return s.max_ms > 0 ? std::min(len, s.max_ms) : len;
}

void ClientRecord::grant_pass(WallMs now, std::uint32_t ttl_ms) {
  if (ttl_ms == 0) return;
  pass_until = now + ttl_ms;
  extend_forget(pass_until);
}

const Penalty* ClientRecord::penalty_at(WallMs now) const {
  // Not "start <= now": a penalty stays in force until its end even if the
  // clock went back (a restart after the test clock moved, NTP steps).
  return penalty && now < penalty->until ? &*penalty : nullptr;
}

std::uint32_t ClientRecord::score(WallMs now, std::int64_t window_ms) const {
  std::uint32_t sum = 0;
  for (const auto& o : offences) {
    if (o.at > now - window_ms && o.at <= now) sum += o.weight;
  }
  return sum;
}

std::optional<Penalty> ClientRecord::offend(WallMs now, std::uint32_t weight,
                                            const PenaltySettings& s, std::string_view why) {
  if (weight == 0 || s.threshold == 0 || s.base_ms <= 0) return std::nullopt;
  // Offences outside the window are gone for good.
  std::erase_if(offences, [&](const OffenceAt& o) { return o.at <= now - s.window_ms; });
  if (offences.size() >= kMaxOffences) offences.erase(offences.begin());
  offences.push_back({now, weight});
  extend_forget(now + s.window_ms);
  if (penalty_at(now) || score(now, s.window_ms) < s.threshold) return std::nullopt;

  std::erase_if(history, [&](WallMs t) { return t <= now - s.memory_ms; });
  offences.clear();
  const Penalty p = impose(
      now, penalty_length_ms(s, static_cast<std::uint32_t>(history.size()) + 1), std::string(why));
  extend_forget(now + s.memory_ms);  // its start counts for penalty_memory
  return p;
}

Penalty ClientRecord::impose(WallMs now, std::int64_t length_ms, std::string reason) {
  if (history.size() >= kMaxHistory) history.erase(history.begin());
  history.push_back(now);
  const auto n = static_cast<std::uint32_t>(history.size());
  penalty = Penalty{now, now + std::max<std::int64_t>(length_ms, 1), n, std::move(reason)};
  extend_forget(penalty->until);
  return *penalty;
}

void ClientRecord::lift(WallMs now) {
  if (penalty_at(now)) penalty->until = now;
}

}  // namespace harden::policy
