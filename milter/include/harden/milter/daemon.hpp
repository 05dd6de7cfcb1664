// daemon.hpp - milter-harden's life: start-up, serving, shutdown.
//
// SYNOPSIS
//   return run_daemon(config);   // from main(); exit code
//
// START-UP (any failure: one line on stderr, exit 1, nothing left running)
//   1. logging; the soft RLIMIT_NOFILE is raised to the hard limit
//      (fd_limits.hpp); the account to switch to (user/group) is looked up
//   2. the policy store is opened (created and seeded if missing) and the
//      first snapshot loaded; a store that does not load refuses start-up
//   3. counters, engine, pre-greeting probe (its netlink sockets are opened
//      now), the reserve descriptor, metrics
//   4. sockets: the milter socket (libmilter, smfi_opensocket; its accept()
//      is guarded from then on, milter_accept.hpp), the control socket, the
//      metrics endpoint; the limit and the session capacity are logged; then
//      privileges are dropped
//   5. the control thread starts (signals, control socket, metrics, the
//      data_version poll) and libmilter serves (smfi_main)
//
// SIGNALS
//   libmilter's own signal thread would stop the milter on SIGHUP; it is
//   parked (sigwait_hook.cpp) so SIGHUP, SIGTERM and SIGINT reach only the
//   control thread: SIGHUP reloads the policy; SIGTERM/SIGINT cancel every
//   greet pause and throttle delay at once and call smfi_stop(). libmilter
//   notices within its accept-loop check (at once when no session is open:
//   the daemon pokes its own socket; else up to 5 s); sessions still open get
//   a grace period (kShutdownGrace) before the process exits. libmilter's
//   worker pool can wedge its own shutdown (it destroys its lock while
//   threads still take it), so the process also ends by itself
//   kShutdownGrace + 5 s after the signal, whatever libmilter does.
#pragma once

#include <chrono>

#include "harden/milter/config.hpp"

namespace harden::milter {

inline constexpr std::chrono::seconds kShutdownGrace{10};

int run_daemon(const Config& config);

// Called by the sigwait hook when libmilter's signal thread has been parked.
void note_libmilter_signals_parked() noexcept;
bool libmilter_signals_parked() noexcept;

}  // namespace harden::milter
