// native_server.hpp - the native milter engine: the MTA side of the milter
// protocol on Boost.Asio, one ProtocolSession (protocol.hpp) per MTA
// connection, the Engine called inline.
//
// SYNOPSIS
//   NativeServer srv(options, engine, metrics, probe);
//   srv.listen(uid, gid);        // bind + listen, before dropping privileges
//   std::thread t([&] { srv.run(); });   // returns once stopped and drained
//   srv.stop(kShutdownGrace);    // any thread, idempotent
//
// HOW IT RUNS
//   A fixed pool of I/O threads (options.threads, default
//   default_io_threads(): one per core), each running its own io_context;
//   each MTA connection lives on one of them, so its commands are handled in
//   order and never concurrently, and the thread that reads a command writes
//   its reply, at once from the handler that read it (no completion of its
//   own unless the socket is full). The idle timer is re-armed only when a
//   deadline comes earlier, not on every command.
//   Connections are packed (options.pack): the first thread serves every
//   session while it has fewer than `pack` in progress (a session in its
//   greet pause does not count: the GreetHub holds it); past that a new
//   connection goes to the thread with the fewest. Spreading a few sessions
//   over threads costs more than it gives: each thread then sleeps and
//   wakes more often, and each wake-up of an idle core costs more than a
//   command (measured on 2 cores: one thread ran 1.4x the sessions/s of two
//   at 8 in flight, and more at 16 and 64; tests/bench/README.md), while a
//   burst (a greet flood's CONNECTs) still spreads over all of them. A
//   counter call to a shared backend (counters: redis) does not hold the
//   thread either: each I/O thread has its own db::CounterChannel (one
//   pipelined Redis connection), the session's reply is pending until the
//   answer comes, and the calls of all sessions the thread handles in one
//   pass go to Redis in one write. The GreetHub has a thread of its own (GREET PAUSE). Nothing
//   blocks a thread: the greet pause and the bad-recipient delay are timers,
//   and the pre-greeting probe runs for all paused sessions from one ticker.
//   Reading goes on while a reply is pending, so an MTA that gives up is seen
//   at once (its session and its connection slot end there).
//
// LIMITS (no peer can exhaust memory or descriptors)
//   - allowed_peers (inet sockets): a peer outside them is closed right after
//     accept, before any byte is read; counted, logged once per minute.
//   - max_connections: further connections are closed at accept; counted.
//   - negotiate_timeout from accept to OPTNEG, idle_timeout between commands
//     after it; max_buffered input behind a pending reply (protocol.hpp); at
//     most one read buffer (4 KiB) and the replies to one read queued for
//     writing (no new read while a write is in flight).
//   - accept failures never spin and never stop the server: out of
//     descriptors (EMFILE, ENFILE), the AcceptGuard's reserve takes one
//     pending connection and closes it at once (accept_shed_total), and the
//     burst is logged at its start and end; other failures back off 100 ms.
//     Both are counted (accept_failures_total).
//   - a protocol violation (protocol.hpp) closes that one connection, is
//     counted (protocol_violations_total) and logged once per kind.
//
// GREET PAUSE
//   A session whose greet pause is due is handed to the GreetHub, which runs
//   on a thread of its own (its scans take milliseconds under a flood and
//   must neither wait behind session I/O nor hold it up): one timer per
//   session for the end of its pause, which runs from the moment the
//   session's thread read the CONNECT (a backlog in the hub never lengthens
//   it), and one ticker (probe_interval, on a fixed grid). Every tick makes
//   ONE sock_diag dump per MTA port (Probe::scan, only in the socket
//   families its sessions were seen in) that answers for all sessions
//   paused on it, and completes those that talked at once with the Engine's
//   pregreet decision; a session whose pause ends before the next tick is
//   left out (its last look comes first), so a tick among the ends of a
//   flood's pauses scans nothing. Each pause ends with an exact 4-tuple
//   lookup (pregreet.hpp); the lookups due together go to the kernel as one
//   batch (Probe::probe_many). A pause's first look is an exact lookup too
//   when no tick runs (a lone session: a client that talked before its
//   CONNECT came is refused at once); one that starts while the ticks run
//   waits in the hub's intake, without waking it, for the next tick, whose
//   scan is its first look: a flood's pauses cost no hub wake-up and no
//   lookup each as they start. A session the scan does not show where its
//   macros said gets an exact lookup. Should a scan fail, that tick probes
//   the sessions one by one (in one batch). A socket never found makes the pause
//   a plain delay (counted, logged once); a socket found and then gone ends
//   the pause at once; a probe error is counted and retried at the next tick.
//
// SHUTDOWN
//   stop(): the listener closes, every greet pause and delay ends now
//   (proceed), sessions get `grace` to end by themselves, then the rest of the
//   connections are closed (the MTA applies its milter default action).
//
// THREAD SAFETY
//   listen() before run(); stop() and connections() from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "harden/milter/engine.hpp"
#include "harden/milter/fd_limits.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/pregreet.hpp"
#include "harden/policy/address.hpp"

namespace harden::milter {

struct NativeOptions {
  std::string socket = "unix:/run/milter-harden/milter.sock";  // as the config's `socket`
  unsigned threads = 0;                                        // 0: default_io_threads()
  unsigned pack = 64;  // sessions in progress the first thread serves alone; 0: round robin
  std::size_t max_connections = 4000;
  std::chrono::milliseconds negotiate_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30 * 60 * 1000};
  std::size_t max_buffered = 256 * 1024;
  std::vector<policy::IpNetwork> allowed_peers;  // inet: empty means loopback only
  std::chrono::milliseconds probe_interval{100};
  bool tempfail_on_internal_error = false;
  // Out of descriptors at accept: shed one pending connection with its
  // reserve (fd_limits.hpp); nullptr: back off only.
  AcceptGuard* accept_guard = nullptr;
  std::uint64_t nofile = 0;  // the soft RLIMIT_NOFILE, for the log
};

// The I/O threads when none are asked for: one per core (at least one).
unsigned default_io_threads();

class NativeServer {
 public:
  NativeServer(NativeOptions options, Engine& engine, Metrics& metrics, const Probe& probe);
  ~NativeServer();
  NativeServer(const NativeServer&) = delete;
  NativeServer& operator=(const NativeServer&) = delete;

  // Binds and listens; a unix socket is created mode 0660 and owned by
  // uid:gid (its directory is created if missing). Throws std::runtime_error.
  void listen(uid_t uid, gid_t gid);
  // Runs the I/O threads until stop() has drained; returns after that.
  void run();
  void stop(std::chrono::milliseconds grace);
  std::size_t connections() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace harden::milter
