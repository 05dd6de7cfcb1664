// control.hpp - the control socket protocol: requests, replies, dispatch.
//
// SYNOPSIS
//   ControlRequest r = parse_control_request(line);      // throws ControlError
//   std::string reply = handle_control_line(line, svc);  // never throws; one JSON line
//   nlohmann::json j = describe_client(engine, req, clock);
//
// PROTOCOL
//   A unix stream socket (control_socket, mode 0660). The peer must be root,
//   or have the daemon's uid or gid (SO_PEERCRED); anyone else gets one error
//   reply and is disconnected. Requests and replies are single lines of
//   JSON, one reply per request, in order; a connection may send several.
//   A request line is at most kMaxControlRequest bytes; a longer one gets an
//   error reply and the connection is closed. Idle connections are closed
//   after 30 s.
//
//   request                                      reply (besides "ok": true)
//   {"cmd":"stats"}                              version, pid, uptime_seconds, mode,
//                                                greet_pause_cap_ms (the Engine's cap),
//                                                policy {store, rules, loaded_at,
//                                                data_version}, counters {entries,
//                                                capacity, memory_bytes, evictions (the
//                                                local table), backend "local"|"redis",
//                                                target (URL, no password), fallback
//                                                (Redis down), latency_us, errors},
//                                                metrics {<metric>: n, decisions:
//                                                {<kind>: {<outcome>: n}}}
//   {"cmd":"client","ip":"192.0.2.7"}            ip, key (the client key counted),
//   {"cmd":"client","ip":"192.0.2.7",            hostname, resolve, limits {<attribute>:
//    "hostname":"mx.example.org"}                {value, source}}, counters {known,
//                                                conn_count, open, rcpt_count, msg_count}
//                                                limits.greet_pause: value is the pause
//                                                HELD (Engine::held_pause: the policy's
//                                                cut to greet_pause_cap),
//                                                beside held_ms, policy_ms, cap_ms, cut and
//                                                text ("9000 (policy 30000, cut to
//                                                greet_pause_cap)"); memory: the client
//                                                key's record (as "offenders show") or null
//   {"cmd":"flush","ip":"192.0.2.7"}             key, flushed (false: not in the table)
//   With counters: redis, client and flush read and clear the client's
//   counters on Redis (every MX host sees the change); while Redis is down,
//   the local fallback table.
//   {"cmd":"reload"}                             message, rules
//   {"cmd":"offenders"}                          now, total, offenders: [record...] (penalties
//   {"cmd":"offenders","action":"list"}          in force first, at most 1,000, or "limit"
//   {"cmd":"offenders","limit":10}               1..1000); record: key, pass_until,
//                                                penalty {n, start, until, reason,
//                                                in_force}, history, offences, forget_at
//   {"cmd":"offenders","action":"show","ip":A}   key, known, record
//   {"cmd":"offenders","action":"remove","ip":A} key, removed (false: not known)
//   {"cmd":"offenders","action":"add","ip":A,    key, penalty (for_ms 1000..30 days;
//    "for_ms":3600000,"reason":"text"}           reason printable, at most 200)
//   {"cmd":"clock","advance_ms":N}               offset_ms; only with test_clock_control
//   {"cmd":"top"}                                n, by_open: [{key, open}...] (the n client
//   {"cmd":"top","n":10}                         keys with the most open connections, most
//                                                first; n 1..100, default 10), open_scope,
//                                                by_refusals: [{key, refusals, error,
//                                                last}...] (the n keys refused most since
//                                                start, from the RefusalTally; refusals is
//                                                at most `error` above the truth; last: the
//                                                kind of the latest refusal),
//                                                refusals_total, refusals_tracked (keys the
//                                                tally holds at most)
//   open_scope says whose connections by_open counts: "local" (this daemon's
//   counter table), "this host" (counters: redis: the slots this daemon
//   holds, not the other MX hosts'; Redis has no cheap top). hardenctl top
//   polls stats, top and offenders (limit n) once a second.
//
//   "hostname" is taken as the client's verified rDNS name; without it the
//   client is resolved as one without rDNS (as the MTA would report it).
//   Every failure is {"ok":false,"error":"one line"}: bad JSON, not an object,
//   unknown cmd, missing or bad ip, a reload that was refused, no policy yet.
//
// THREAD SAFETY
//   parse_control_request and describe_client are pure / thread-safe;
//   handle_control_line calls the service from the caller's thread (the
//   control thread).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "harden/milter/engine.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/clock.hpp"

namespace harden::milter {

inline constexpr std::size_t kMaxControlRequest = 4096;

class ControlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ControlRequest {
  enum class Command : std::uint8_t {
    stats,
    client,
    flush,
    reload,
    offenders,
    clock,
    top
  } command = Command::stats;
  enum class Action : std::uint8_t { list, show, remove, add } action = Action::list;
  std::optional<policy::IpAddress> ip;  // client, flush, offenders show|remove|add
  std::string hostname;                 // client: lower-cased, validated; may be empty
  std::int64_t duration_ms = 0;         // offenders add: "for_ms"; clock: "advance_ms"
  std::string reason;                   // offenders add: printable ASCII, bounded
  std::size_t limit = 0;                // top: "n" (default 10); offenders list: "limit"
};

inline constexpr std::size_t kDefaultTopN = 10;
inline constexpr std::size_t kMaxTopN = 100;

// Throws ControlError with one line: "bad JSON", "unknown cmd 'x'", "ip: ...".
ControlRequest parse_control_request(std::string_view line);

// What the commands act on; the daemon implements it, tests fake it.
class ControlService {
 public:
  virtual ~ControlService() = default;
  virtual nlohmann::json stats() = 0;
  virtual nlohmann::json client(const ControlRequest& r) = 0;
  virtual nlohmann::json flush(const policy::IpAddress& ip) = 0;
  virtual nlohmann::json reload() = 0;  // {"ok":false,...} when refused
  // Client memory (offenders list|show|remove|add) and the test clock; a
  // service without them says so.
  virtual nlohmann::json offenders(const ControlRequest& r);
  virtual nlohmann::json clock(std::chrono::milliseconds advance);
  // The top clients by open connections and by refusals (hardenctl top).
  virtual nlohmann::json top(std::size_t n);
};

// One reply line (without the newline) for one request line. Anything the
// service throws becomes {"ok":false,"error":...}.
std::string handle_control_line(std::string_view line, ControlService& svc) noexcept;

// Effective limits (with the rule each came from) and live counters of the
// client. Throws ControlError when no policy is loaded.
// greet_pause is the pause held (Engine::held_pause: cut to the engine's
// greet_pause_cap), with the policy's figure and the cap beside it.
nlohmann::json describe_client(Engine& engine, const ControlRequest& r, const policy::Clock& clock);

// {"ok":false,"error":msg} as one line.
std::string control_error_reply(std::string_view msg);

}  // namespace harden::milter
