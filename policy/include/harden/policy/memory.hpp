// memory.hpp - what milter-harden remembers about a client key: its greet
// pass and its offences and penalties. Pure arithmetic on a given time; the
// tables that hold these records live in db/ (client_memory.hpp).
//
// SYNOPSIS
//   OffenceWeights w = OffenceWeights::parse("pregreet=1,conn_rate=1");
//   PenaltySettings s = penalty_settings(res.limits);
//   ClientRecord r;
//   if (auto p = r.offend(now, w[Offence::pregreet], s, "pregreet")) { ...penalty p starts }
//   r.penalty_at(now);            // the penalty in force, or nullptr
//   r.grant_pass(now, ttl_ms);   r.has_pass(now);   r.drop_pass();
//
// THE PASS (postscreen's temporary allow-list, per client key)
//   A key that waited its greet pause in silence and then had a recipient
//   accepted keeps a pass for greet_pass_ttl; while it holds one its greet
//   pause is skipped. A refusal for pre-greeting traffic, a block rule or a
//   penalty drops it at once.
//
// OFFENCES AND PENALTIES (fail2ban's bantime.increment / recidive, per key)
//   Each refusal is an offence of its kind, weighted by penalty_weights. When
//   the weights of a key's offences within penalty_window reach
//   penalty_threshold, the key gets a penalty: refused at connect for
//     penalty_base * 2^(n-1), at most penalty_max,
//   where n - 1 is the number of its earlier penalties that started within
//   penalty_memory. The offences that led to it are then forgotten; a
//   penalty in force starts no other. Times are wall-clock milliseconds
//   (they survive a restart in the state file).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace harden::policy {

struct Limits;

enum class PenaltyReply : std::uint8_t { tempfail, reject };  // 421 4.7.0 | 554 5.7.1
std::string_view to_string(PenaltyReply r);

// The refusals that can count as offences (their DecisionKind words).
enum class Offence : std::uint8_t {
  pregreet,
  conn_rate,
  conn_limit,
  rcpt_rate,
  msg_rate,
  max_rcpts,
  bad_rcpt_throttle,
  blocked,
  dialin,
  missing_rdns,
};
inline constexpr std::size_t kOffenceCount = 10;
inline constexpr std::uint32_t kMaxOffenceWeight = 100;
std::string_view to_string(Offence o);
std::optional<Offence> offence_from_name(std::string_view name);

// penalty_weights: "pregreet=1,conn_rate=1" (kinds not named weigh 0), or
// "none". Canonical text: the non-zero kinds in the enum's order.
struct OffenceWeights {
  std::array<std::uint8_t, kOffenceCount> weight{};

  // Throws PolicyError naming the bad part.
  static OffenceWeights parse(std::string_view text);
  std::string to_string() const;
  std::uint32_t operator[](Offence o) const { return weight[static_cast<std::size_t>(o)]; }
  bool none() const;
  friend bool operator==(const OffenceWeights&, const OffenceWeights&) = default;
};

using WallMs = std::int64_t;  // milliseconds since the Unix epoch
// "2026-12-31T23:59:59Z" (the second it falls in).
std::string format_wall_ms(WallMs ms);

struct PenaltySettings {
  std::uint32_t threshold = 0;  // 0: no penalties
  std::int64_t window_ms = 0;
  std::int64_t base_ms = 0;
  std::int64_t max_ms = 0;
  std::int64_t memory_ms = 0;
};
PenaltySettings penalty_settings(const Limits& l);

// The length of a key's n-th penalty (n >= 1): base * 2^(n-1), at most max
// (max 0: no cap beyond the arithmetic's own, 2^20 * base).
std::int64_t penalty_length_ms(const PenaltySettings& s, std::uint32_t n);

struct Penalty {
  WallMs start = 0;
  WallMs until = 0;
  std::uint32_t n = 0;  // 1: the first within penalty_memory
  std::string reason;   // the offence that tipped it, or "manual: TEXT"
  friend bool operator==(const Penalty&, const Penalty&) = default;
};

struct ClientRecord {
  // Bounds: a key keeps at most this many offences and penalty starts.
  static constexpr std::size_t kMaxOffences = 64;
  static constexpr std::size_t kMaxHistory = 32;

  struct OffenceAt {
    WallMs at = 0;
    std::uint32_t weight = 0;
    friend bool operator==(const OffenceAt&, const OffenceAt&) = default;
  };

  WallMs pass_until = 0;            // 0: no pass
  std::vector<OffenceAt> offences;  // oldest first, since the last penalty
  std::vector<WallMs> history;      // starts of its penalties, oldest first
  std::optional<Penalty> penalty;   // the last penalty (maybe over)
  WallMs forget_at = 0;             // nothing here matters after this time

  bool has_pass(WallMs now) const { return pass_until > now; }
  void grant_pass(WallMs now, std::uint32_t ttl_ms);
  void drop_pass() { pass_until = 0; }

  // The penalty in force at `now`, or nullptr.
  const Penalty* penalty_at(WallMs now) const;
  // The offences' weight within the window ending at `now`.
  std::uint32_t score(WallMs now, std::int64_t window_ms) const;

  // Counts one offence; returns the penalty it starts, if any.
  std::optional<Penalty> offend(WallMs now, std::uint32_t weight, const PenaltySettings& s,
                                std::string_view why);
  // An administrator's penalty (hardenctl offenders add): in force for
  // `length_ms` from now, counted in the history like any other.
  Penalty impose(WallMs now, std::int64_t length_ms, std::string reason);
  // Lifts a penalty in force (the history stays).
  void lift(WallMs now);

  // True when nothing in the record matters any more at `now`.
  bool forgotten(WallMs now) const { return forget_at <= now; }

  friend bool operator==(const ClientRecord&, const ClientRecord&) = default;

 private:
  void extend_forget(WallMs t) { forget_at = forget_at > t ? forget_at : t; }
};

}  // namespace harden::policy
