// greet.hpp - the greet pause with pre-greeting detection (internal to the adapter).
//
// SYNOPSIS
//   Decision d = hold_greeting(rt, state, pause);   // in xxfi_connect, before replying
//
// The MTA sends its 220 only after our connect reply, so holding the reply
// for `pause` holds the greeting. Meanwhile PregreetWatch asks the kernel
// whether the client has sent anything on the MTA's socket, found from
// {daemon_addr}:{daemon_port} and the client's address and port:
//   talked     -> Engine::pregreet(bytes): 554 5.7.1 (or "would reject" in monitor)
//   silent     -> proceed after the whole pause
//   degraded   -> the socket is not visible from here (macros missing, other
//                 host or network namespace, proxy), or every probe of this
//                 pause failed: the pause was a plain delay; counted in
//                 pregreet_unavailable_total, logged ("pre-greeting detection
//                 unavailable: ...") at most once a minute; the next session
//                 that sees its socket logs "... available again" (also at
//                 most once a minute): the state is re-checked, not latched
//   vanished   -> the client went away: proceed, close follows
//   cancelled  -> shutdown: proceed at once
// Failed probes (no netlink socket, a timeout) are retried on the next tick,
// counted in pregreet_probe_errors_total, logged at most once a minute.
// `pause` is Session::held_greet_pause(): the client's greet_pause cut by the
// Engine to greet_pause_cap (engine.hpp, THE GREET PAUSE), which must stay
// below the MTA's wait for the connect reply (sendmail T=R:, default 10 s;
// Postfix milter_command_timeout, default 30 s).
#pragma once

#include <chrono>

#include "harden/milter/adapter.hpp"
#include "harden/policy/decision.hpp"
#include "session_state.hpp"

namespace harden::milter {

// What `cap` would hold of this session's greet_pause (policy::held_greet_pause);
// 0 = none. The adapter holds Session::held_greet_pause(), cut by the Engine's cap.
std::chrono::milliseconds greet_pause_for(const Session& s, std::chrono::milliseconds cap);

policy::Decision hold_greeting(MilterRuntime& rt, SessionState& st,
                               std::chrono::milliseconds pause);

}  // namespace harden::milter
