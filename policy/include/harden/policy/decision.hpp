// decision.hpp - the closed vocabulary of verdicts and the pure checks.
//
// SYNOPSIS
//   Decision d = check_action(res, policy);                  // allow / block / tempfail
//   Decision d = check_conn_limit(res, policy, open, taken); // 421 4.3.2 too many open
//   Decision d = check_conn_rate(res, policy, count);        // 421 4.3.2 rate exceeded
//   Decision d = check_counters(available);                  // 421 4.3.0 counters down
//   Decision d = check_pregreet(res, policy, bytes);         // 554 5.7.1 pre-greeting traffic
//   Decision d = check_max_rcpts(res, policy, n);            // 452 4.5.3 too many recipients
//   Decision d = check_bad_rcpt_throttle(res, policy, bad);  // proceed after a 1 s delay
//   Decision d = check_rcpt_rate(res, policy, count);        // 450 4.7.1
//   Decision d = check_msg_rate(res, policy, count);         // 450 4.7.1
//   Decision d = check_penalty(res, policy, penalty);        // 421 4.7.0 repeat offender
//   HeldPause p = held_greet_pause(policy_ms, cap);          // the pause held, and why
//   std::string s = source_name(res, policy, Attr::conn_rate);  // which rule set it
//
// Each check is a small named function of figures the caller observed
// (counters live elsewhere); the connect-time order is DESIGN's: action
// (allow-list, block rules, dial-in, missing rDNS) -> conn_limit ->
// conn_rate -> greet pause. Every refusing Decision says which rule or
// heuristic decided and the figure that tripped ("conn_rate 6/1m > 5/1m"),
// so one log line can be written from it. The milter maps a Decision to a
// milter reply in exactly one place (milter/reply.hpp), for both engines.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harden/policy/policy.hpp"

namespace harden::policy {

enum class Verdict : std::uint8_t {
  proceed,     // go on with the session
  accept_all,  // allow-listed: no further checks in this session
  reject,      // permanent refusal (5xx)
  tempfail,    // temporary refusal (4xx)
};
std::string_view to_string(Verdict v);

// What decided; also the metric label and the log word.
enum class DecisionKind : std::uint8_t {
  none,
  allowed,
  blocked,       // block / tempfail rule
  dialin,        // built-in dynamic-rDNS heuristic
  missing_rdns,  // no or forged rDNS
  conn_limit,
  conn_rate,
  pregreet,
  max_rcpts,
  bad_rcpt_throttle,
  rcpt_rate,
  msg_rate,
  counters,         // the shared counters are down and redis_failure is tempfail
  generic_hosting,  // built-in generic cloud/hosting-rDNS heuristic
  penalty,          // a penalty for repeated offences is in force (memory.hpp)
};
inline constexpr std::size_t kDecisionKindCount = 15;
std::string_view to_string(DecisionKind k);

// A penalty this decision started (Engine, client memory), for its log line.
struct PenaltyStart {
  Penalty penalty;
  IpNetwork key;
  bool monitor = false;  // "would penalise": the daemon or the penalty setting monitors
};

struct Decision {
  Verdict verdict = Verdict::proceed;
  DecisionKind kind = DecisionKind::none;
  std::string rcode;   // "421"; empty when proceeding
  std::string xcode;   // "4.3.2"
  std::string text;    // the reply text, printable ASCII
  std::string rule;    // the selector or heuristic that decided ("default", "dialin ipv4-dashed")
  std::string figure;  // what tripped ("conn_rate 6/1m > 5/1m")
  std::chrono::milliseconds delay{0};  // answer this late (bad_rcpt_throttle)
  bool monitor = false;  // refusal turned into a log line (mode or setting is monitor)
  // This refusal, counted as an offence, started a penalty (logged on its own line).
  std::optional<PenaltyStart> penalty_started;

  bool refuses() const { return verdict == Verdict::reject || verdict == Verdict::tempfail; }
};

// The allow-list / block / dial-in / missing-rDNS outcome of a resolution.
Decision check_action(const Resolution& res, const Policy& policy);
// `open` counts this connection if `taken`; a connection that could not take
// a slot is refused.
Decision check_conn_limit(const Resolution& res, const Policy& policy, std::uint32_t open,
                          bool taken);
// `count` is the number of connections in the window, this one included.
Decision check_conn_rate(const Resolution& res, const Policy& policy, std::uint32_t count);
// The counter backend could not count (ConnectCount::unavailable: Redis down,
// redis_failure tempfail): 421 4.3.0, rule "redis_failure tempfail".
Decision check_counters(bool available);
// `bytes` the client sent before the greeting.
Decision check_pregreet(const Resolution& res, const Policy& policy, std::uint64_t bytes);
// `rcpts` recipients in this message so far, this one included.
Decision check_max_rcpts(const Resolution& res, const Policy& policy, std::uint32_t rcpts);
// `bad` rejected recipients so far in this session.
Decision check_bad_rcpt_throttle(const Resolution& res, const Policy& policy, std::uint32_t bad);
Decision check_rcpt_rate(const Resolution& res, const Policy& policy, std::uint32_t count);
Decision check_msg_rate(const Resolution& res, const Policy& policy, std::uint32_t count);

// A penalty `p` in force (penalty off: proceed; monitor: a monitor decision):
// 421 4.7.0 or 554 5.7.1 by penalty_reply.
Decision check_penalty(const Resolution& res, const Policy& policy, const Penalty& p);
// The offence a refusal of kind `k` is (penalty_weights), or nullopt.
std::optional<Offence> offence_of(DecisionKind k);

// The greet pause the daemon holds: the policy's greet_pause cut to the
// daemon's greet_pause_cap (config key; the policy allows up to 60 s, an MTA
// waits less). The one place the cut is made: milter::Engine decides each
// session's pause with it (Engine::held_pause); `hardenctl check` and the
// control socket's "client" answer show it so, never the policy's figure alone.
struct HeldPause {
  std::uint32_t policy_ms = 0;  // what the policy asks
  std::uint32_t cap_ms = 0;     // greet_pause_cap
  std::uint32_t held_ms = 0;    // min(policy, cap)
  bool cut() const { return held_ms < policy_ms; }
};
HeldPause held_greet_pause(std::uint32_t policy_ms, std::chrono::milliseconds cap);
// "2000", or "9000 (policy 30000, cut to greet_pause_cap)".
std::string held_pause_text(const HeldPause& p);

// The selector text of the rule behind attribute `a` of `res` (or the
// heuristic's description), for logs and `hardenctl check`.
std::string source_name(const Resolution& res, const Policy& policy, Attr a);

}  // namespace harden::policy
