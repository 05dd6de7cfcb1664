// milter_accept.hpp - what libmilter's listener gets from accept() when the
// process is out of file descriptors (internal to the daemon).
//
// Debian's libmilter 8.17 (libmilter/listener.c, mi_listener) retries an
// accept() that failed with EMFILE or ENFILE at once, without a log line, a
// count or a pause, while the connection stays in the backlog: the listener
// thread spins at 100% CPU and the MTA waits for a milter that never
// answers. libmilter offers no setting for this, so the executable
// interposes accept() (accept_hook.cpp, as sigwait_hook.cpp does for
// sigwait) and calls guarded_accept(): on libmilter's listening socket an
// out-of-descriptors failure is counted (accept_failures_total), logged once
// per burst, and the pending connection is taken with the AcceptGuard's
// reserve descriptor and closed at once (accept_shed_total: the MTA sees
// the milter connection closed and applies its milter default action); the
// call then fails with ECONNABORTED, which libmilter skips quietly. Without
// a reserve to spend it backs off (fd_limits.hpp) before failing with EMFILE.
// Every other socket (the control plane's) is passed through untouched.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "harden/milter/fd_limits.hpp"
#include "harden/milter/metrics.hpp"

namespace harden::milter {

// Guards accept() on `listener` from now on (nullptr guard: none). The guard
// and metrics must outlive every accept; set before smfi_main.
void install_accept_guard(AcceptGuard* guard, Metrics* metrics, int listener,
                          std::uint64_t nofile) noexcept;

// accept(2) as libmilter and Asio call it, with the guard above.
int guarded_accept(int fd, sockaddr* addr, socklen_t* len) noexcept;

}  // namespace harden::milter
