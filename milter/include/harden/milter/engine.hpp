// engine.hpp - one SMTP session's checks, between the libmilter adapter and
// the pure policy layer.
//
// SYNOPSIS
//   Engine engine(options, counters, clock);
//   engine.set_policy(snapshot);                 // atomic swap; sessions keep theirs
//   Session s;
//   Decision d = engine.connect(s, info);        // allow-list, blocks, conn_limit, conn_rate
//   if (d.verdict == proceed && s.held_greet_pause() > 0ms) { ...wait, probe...
//     d = engine.pregreet(s, bytes_seen); }
//   d = engine.mail(s);                          // msg_rate
//   d = engine.rcpt(s, rejected_by_mta);         // bad_rcpt_throttle, max_rcpts, rcpt_rate
//   engine.close(s);                             // releases the slot exactly once
//
// ASYNCHRONOUS COUNTERS
//   connect(), mail() and rcpt() make at most ONE counter call each, on
//   counters(). A caller that makes that call itself, asynchronously (the
//   native engine on counters: redis, db::CounterChannel), runs each step in
//   two halves around it:
//     Step st = engine.connect_begin(s, info);
//     if (!st.waits()) d = st.decision;
//     else ...channel.connect(s.res.key, st.call.now, s.res.limits) -> counts...
//          d = engine.connect_end(s, counts);  // then take_refused_slot(s)
//   and likewise mail_begin/mail_end(count) and rcpt_begin/rcpt_end(count);
//   at the end take_slot(s) and a release on the channel, then close(s).
//   connect(), mail() and rcpt() are the two halves with the call between.
//
// CLIENT MEMORY (policy/memory.hpp, db/client_memory.hpp)
//   connect() refuses a key with a penalty in force (check_penalty) and
//   skips the pause of a key holding a greet pass (Session::pass_used);
//   pregreet(s, 0) after a silent pause and an accepted rcpt() grant the
//   pass; every refusal is an offence weighted by penalty_weights, and the
//   one that reaches penalty_threshold comes back with penalty_started set.
//   Allow-listed and loopback clients are never remembered.
//
// THE GREET PAUSE
//   The greet pause is decided here, once per session: connect() sets the
//   pause the daemon holds, min(policy greet_pause, EngineOptions::
//   greet_pause_cap) (policy::held_greet_pause), and both milter engines hold
//   Session::held_greet_pause(); the control socket's "client" answer shows
//   Engine::held_pause(). EngineOptions is the one options struct with the
//   cap; its default is policy::kDefaultGreetPauseCapMs (hardenctl check
//   assumes it too; a test holds the config key's "9s" equal), the config
//   key greet_pause_cap sets it. The 60 s ceiling, of the policy's
//   greet_pause and of the cap alike, is policy::kMaxGreetPauseMs.
//
// The engine does no I/O: it reads the clock it was given, counts through the
// CounterBackend, and returns policy::Decision values. In monitor mode (or
// when a policy setting is "monitor") a refusal comes back as proceed with
// `monitor` set, so the caller logs "would reject" and enforces nothing.
// The caller logs, counts metrics, sleeps for Decision::delay, and maps the
// decision to a milter reply.
//
// THREAD SAFETY
//   Engine: all members may be called from any thread. Session: one thread
//   at a time (libmilter serialises the callbacks of one connection).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "harden/db/client_memory.hpp"
#include "harden/db/counters.hpp"
#include "harden/policy/clock.hpp"
#include "harden/policy/decision.hpp"
#include "harden/policy/policy.hpp"

namespace harden::milter {

enum class Mode : std::uint8_t { enforce, monitor };

// What the MTA told us at connect, copied out of libmilter. All strings are
// untrusted and may be empty (macro not sent).
struct ConnectInfo {
  std::optional<policy::IpAddress> client;  // nullopt: not an IP client (local socket)
  std::uint16_t client_port = 0;
  std::string client_name;     // {client_name} / xxfi_connect hostname
  std::string client_ptr;      // {client_ptr} (Postfix: unverified name)
  std::string client_resolve;  // {client_resolve} (sendmail: OK FAIL FORGED TEMP)
};

// Turns the MTA's view of the client into a policy::Client: sendmail's
// {client_resolve} when present; otherwise Postfix's convention ("unknown"
// or "[addr]" as name = no verified name; a {client_ptr} then = FORGED).
// Names that are not valid host names count as no name.
policy::Client interpret_client(const policy::IpAddress& addr, const ConnectInfo& info);

struct Session {
  std::shared_ptr<const policy::Policy> policy;  // pinned at connect
  policy::Client client;
  policy::Resolution res;   // its reason views `policy`, pinned with it
  bool active = false;      // connect() resolved a client
  bool accept_all = false;  // allow-listed: skip everything
  bool slot_held = false;   // an open-connection slot to give back
  std::uint32_t rcpts_in_msg = 0;
  std::uint32_t bad_rcpts = 0;
  std::uint32_t held_pause_ms = 0;  // set by connect(): greet_pause cut to the cap
  bool remembered = false;          // client memory applies (not loopback, memory on)
  bool pass_used = false;           // its greet pass skipped the pause
  bool paused_clean = false;        // waited the pause in silence (pregreet(s, 0))
  bool pass_granted = false;        // a pass was granted in this session
  // connect_begin() to connect_end(): a monitored refusal before the limits
  // (logged unless the limits say more).
  std::optional<policy::Decision> monitored;
  bool give_back_now = false;  // a penalty refused the connection: its slot goes back at once

  // What the policy asks (ms) and what the daemon holds; 0 = no pause.
  std::uint32_t greet_pause() const { return active && !accept_all ? res.limits.greet_pause : 0; }
  std::chrono::milliseconds held_greet_pause() const {
    return std::chrono::milliseconds{active && !accept_all ? held_pause_ms : 0};
  }
};

// The one counter call a step waits for (see ASYNCHRONOUS COUNTERS): on
// the session's client key (Session::res.key), with its limits
// (res.limits), at `now`.
struct CounterCall {
  enum class Kind : std::uint8_t { none, connect, msg, rcpt } kind = Kind::none;
  policy::SteadyTime now{};
};

// A step's first half: its decision, or the counter call it waits for.
struct Step {
  policy::Decision decision;  // when !waits()
  CounterCall call;
  bool waits() const { return call.kind != CounterCall::Kind::none; }
};

struct EngineOptions {
  Mode mode = Mode::enforce;
  // The longest greet pause held, whatever the policy asks (config key
  // greet_pause_cap): below the MTA's wait for the connect reply.
  std::chrono::milliseconds greet_pause_cap{policy::kDefaultGreetPauseCapMs};
};

class Engine {
 public:
  // `memory` (may be null: no passes, no penalties) remembers clients
  // across sessions: greet passes and offences (policy/memory.hpp).
  Engine(EngineOptions options, std::shared_ptr<db::CounterBackend> counters,
         const policy::Clock& clock, std::shared_ptr<db::ClientMemory> memory = nullptr);

  void set_policy(std::shared_ptr<const policy::Policy> p);
  std::shared_ptr<const policy::Policy> policy() const;
  Mode mode() const { return options_.mode; }
  std::chrono::milliseconds greet_pause_cap() const { return options_.greet_pause_cap; }
  // A policy's greet_pause as this engine holds it (connect() stores this).
  policy::HeldPause held_pause(std::uint32_t policy_ms) const {
    return policy::held_greet_pause(policy_ms, options_.greet_pause_cap);
  }
  db::CounterBackend& counters() { return *counters_; }
  db::ClientMemory* memory() { return memory_.get(); }
  // Wall-clock milliseconds of the engine's clock (client memory's time).
  policy::WallMs now_ms() const;

  policy::Decision connect(Session& s, const ConnectInfo& info);
  policy::Decision pregreet(Session& s, std::uint64_t bytes_before_greeting);
  policy::Decision mail(Session& s);
  policy::Decision rcpt(Session& s, bool rejected_by_mta);
  void close(Session& s);

  // The steps split around their counter call (ASYNCHRONOUS COUNTERS).
  Step connect_begin(Session& s, const ConnectInfo& info);
  policy::Decision connect_end(Session& s, const db::ConnectCount& counts);
  Step mail_begin(Session& s);
  policy::Decision mail_end(Session& s, std::uint32_t count);
  Step rcpt_begin(Session& s, bool rejected_by_mta);
  policy::Decision rcpt_end(Session& s, std::uint32_t count);
  // The key of the slot the session holds, now no longer held: the caller
  // gives it back (close() does it on counters()). nullopt: none held.
  std::optional<policy::IpNetwork> take_slot(Session& s);
  // After connect_end(): the slot a refusal for a penalty gives back at
  // once (take_slot(); the session stays active), else nullopt.
  std::optional<policy::IpNetwork> take_refused_slot(Session& s);

 private:
  policy::Decision finish(policy::Decision d) const;
  static policy::Decision with_delay(policy::Decision d, const policy::Decision& throttle);
  // With the connection counted, refuses a penalty in force (set in
  // `penalty`; a monitor one is left there for the caller), conn_limit, conn_rate.
  policy::Decision connect_limits(Session& s, const db::ConnectCount& counts,
                                  policy::Decision& penalty);
  policy::Decision rcpt_rest(Session& s, const policy::Decision& throttle);
  // Counts a refusal as an offence (penalty_weights) and drops the pass a
  // refusal for pre-greeting traffic or a block rule forfeits.
  policy::Decision remember(Session& s, policy::Decision d);
  void grant_pass(Session& s);

  EngineOptions options_;
  std::shared_ptr<db::CounterBackend> counters_;
  const policy::Clock& clock_;
  std::shared_ptr<db::ClientMemory> memory_;
  // A mutex, not std::atomic<shared_ptr>: libstdc++ 12's lock-bit version
  // releases with memory_order_relaxed after load(), which ThreadSanitizer
  // reports as a race with store(). One lock per connect costs nothing.
  mutable std::mutex policy_mutex_;
  std::shared_ptr<const policy::Policy> policy_;
};

}  // namespace harden::milter
