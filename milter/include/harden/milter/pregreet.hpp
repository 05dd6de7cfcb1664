// pregreet.hpp - the pre-greeting (slammer) probe: has the client talked
// before the MTA's 220 greeting?
//
// SYNOPSIS
//   auto mta = Endpoint::from_text(daemon_addr, daemon_port);   // MTA's side
//   auto cli = Endpoint::from_text(client_addr, client_port);   // client's side
//   PregreetProbe probe;                         // one per daemon, thread-safe; opens its
//                                                // few netlink sockets now, at start
//   ProbeResult r = probe.probe(*mta, *cli);     // talked|silent|not_found|error
//
//   SystemWaiter waiter;                         // one per daemon; cancel() on SIGTERM
//   PregreetWatch watch{probe, waiter, 100ms};   // probe every 100 ms
//   WatchResult w = watch.watch(*mta, *cli, greet_pause);
//       // talked (as soon as seen) | silent (full pause) | degraded (plain
//       // delay, socket not visible) | vanished | cancelled
//
//   DetectionHealth health;                      // one per daemon: when to log
//   if (health.unavailable(now).log) ...         // a pause held as a plain delay
//   if (health.available(now).log) ...           // detection works again
//
// IMPLEMENTATION
//   src/pregreet_probe.cpp: the sock_diag codec and PregreetProbe (probe, scan,
//   its socket pool). src/pregreet_watch.cpp: Endpoint text, SystemWaiter,
//   PregreetWatch, DetectionHealth.
//
// WHAT IT ASKS THE KERNEL
//   One NETLINK_SOCK_DIAG request (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2,
//   IPPROTO_TCP, idiag_ext = INET_DIAG_INFO) for the MTA's accepted socket of
//   this connection: local = {daemon_addr}:{daemon_port}, remote =
//   {client_addr}:{client_port}. From the reply it takes tcp_info's
//   tcpi_bytes_received (every byte the client has sent, read or not) and
//   idiag_rqueue (bytes still unread by the MTA). Either > 0 means the client
//   has talked. SYN is not counted; the client's FIN is counted by the kernel
//   as one byte in both figures, and this module subtracts it again when the
//   TCP state says a FIN arrived (CLOSE_WAIT, LAST_ACK, CLOSING), so a client
//   that only half-closed is silent with peer_closed set.
//   - Exact local address: a 4-tuple lookup (no NLM_F_DUMP), O(1) in the
//     kernel. IPv4 is asked as AF_INET first, then as the ::ffff:a.b.c.d
//     AF_INET6 form, which is how an MTA listening on [::] holds IPv4 clients
//     (Linux 6.x already finds those with the AF_INET lookup; the second
//     form is the fallback).
//     A lookup that falls back to the listening socket (the kernel does that
//     when no connection matches) is recognised by its state and the peer
//     address and reported as not_found.
//   - Wildcard local address (sendmail sets {daemon_addr} to 0.0.0.0 or :: when
//     DaemonPortOptions has no Addr=; pass {if_addr} instead where it is set)
//     and IPv6 link-local clients: a dump filtered in the kernel by local port,
//     client port and a bytecode match on the client address (AF_INET and
//     AF_INET6 for an IPv4 client). It walks the kernel's connection table, so
//     it costs more than the exact lookup. Several matches (same client
//     address and port on several local addresses) give not_found.
//   Only states ESTABLISHED, SYN_RECV (TCP Fast Open child), FIN_WAIT1/2,
//   CLOSE_WAIT, CLOSING and LAST_ACK count as the connection.
//   Replies are accepted only from the kernel (sender port id 0) and with the
//   request's sequence number; anything else is skipped.
//
// THE MTAS
//   sendmail leaves a slammer's bytes in the receive queue during the milter's
//   pause: rqueue and bytes_received both show them. Postfix smtpd peeks
//   (FIONREAD) just before it calls the milter and reads early bytes itself
//   ("improper command pipelining after CONNECT"): rqueue is then 0 but
//   tcpi_bytes_received still counts them, so the probe still says talked.
//
// SECURITY
//   sock_diag of TCP sockets needs no privilege: an unprivileged process
//   (checked: uid/gid 65534, no capabilities) gets INET_DIAG_INFO, rqueue and
//   bytes_received of a socket owned by root, so the daemon may drop to its
//   own user after binding. CAP_NET_ADMIN only adds fields this module does
//   not ask for (mark, class id). What it does need is the MTA's network
//   namespace. Another local root process could send forged netlink messages
//   to our socket; those are dropped because the sender is not the kernel.
//   Only the kernel's netlink socket is talked to; nothing is written.
//
// BUGS AND LIMITS
//   The milter must run on the MTA host and in its network namespace (no
//   container with its own netns, no milter on another host); otherwise every
//   probe is not_found and the watch degrades to a plain delay. A proxy in
//   front of the MTA (Postfix smtpd_upstream_proxy_protocol, haproxy) or
//   postscreen's own pregreet test hides the client's socket the same way.
//   A link-local IPv6 client needs the dump because its socket is bound to an
//   interface whose index the macros do not carry.
//   Kernels before 4.1 lack tcpi_bytes_received: only rqueue is then used and
//   the Postfix case (bytes already read by smtpd) is missed.
//   The greet pause must stay below the MTA's wait for the connect reply
//   (Postfix milter_command_timeout, 30 s; sendmail T=R:, 10 s by default).
//
// DESCRIPTORS
//   The probe owns ProbeOptions::sockets netlink sockets (4), opened when it
//   is constructed, i.e. at daemon start, before any flood, and kept: a probe
//   never needs a descriptor of its own, so a process out of descriptors
//   still detects slammers. A socket whose exchange did not finish cleanly
//   is closed and replaced at once (closed first, so the replacement takes
//   its descriptor number); if that fails (out of descriptors) the slot is
//   opened again by a later probe, and until then the probes that find no
//   socket fail (Status::error), which the watch retries on the next tick.
//
// THREAD SAFETY
//   PregreetProbe::probe and PregreetWatch::watch may be called from many
//   threads at once (libmilter does). Each probe borrows one of the probe's
//   sockets under a mutex, waiting (up to ProbeOptions::timeout) while all
//   are in use. SystemWaiter::cancel wakes every waiter. DetectionHealth
//   takes a mutex. Data plane: nothing here throws except std::bad_alloc.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/clock.hpp"

namespace harden::milter {

// One side of a TCP connection. An IPv4 address also stands for its
// ::ffff:a.b.c.d form (policy::IpAddress folds mapped addresses to IPv4).
struct Endpoint {
  policy::IpAddress address;
  std::uint16_t port = 0;

  // From MTA macro text: "192.0.2.7", "2001:db8::7", "IPv6:2001:db8::7" and a
  // decimal port 1..65535. nullopt for anything else (empty, signs, spaces,
  // NUL, overlong, out of range).
  static std::optional<Endpoint> from_text(std::string_view address,
                                           std::string_view port) noexcept;
  // 0.0.0.0 or ::, as sendmail's {daemon_addr} is without Addr=.
  bool is_wildcard() const;
  // "192.0.2.7:25", "[2001:db8::7]:25"
  std::string to_string() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct ProbeResult {
  enum class Status {
    talked,     // the client has sent data
    silent,     // the socket is there and the client has sent nothing
    not_found,  // no such connection visible from here (see BUGS AND LIMITS)
    error,      // netlink failed (socket limit, timeout, kernel error)
  };
  Status status = Status::not_found;
  std::uint64_t bytes_received = 0;  // data bytes from the client, FIN excluded
  std::uint32_t rqueue = 0;          // of those, still unread by the MTA
  bool peer_closed = false;          // the client's FIN has arrived
  Endpoint local;                    // the socket's real local side, when found
  bool v6_socket = false;            // the kernel holds it as AF_INET6 (dual-stack listener)
  std::string error;                 // why not_found / error, for the log
};

std::string_view to_string(ProbeResult::Status s);

// What the watch asks; PregreetProbe in production, a fake in tests.
// Every connection on one local port, as probe() would see each: one
// request for all of them (the native engine's greet ticker).
struct PortScan {
  struct Connection {
    Endpoint client;
    ProbeResult result;  // talked or silent; result.local is the MTA's side
  };
  bool ok = false;    // false: see error; probe the sessions one by one instead
  std::string error;  // why not
  std::vector<Connection> connections;
};

// Which socket families a port scan walks: the kernel walks its whole
// connection table once per family, so the ticker asks only for the families
// its sessions' sockets were seen in.
struct ScanFamilies {
  bool v4 = true;
  bool v6 = true;
};

// One look of probe(): the MTA's side and the client.
struct ProbeQuery {
  Endpoint mta_local;
  Endpoint client;
};

class Probe {
 public:
  virtual ~Probe() = default;
  virtual ProbeResult probe(const Endpoint& mta_local, const Endpoint& client) const = 0;
  // Many probe()s at once: out[i] answers queries[i] (out.size() ==
  // queries.size()). The default asks one by one.
  virtual void probe_many(std::span<const ProbeQuery> queries, std::span<ProbeResult> out) const {
    for (std::size_t i = 0; i < queries.size() && i < out.size(); ++i)
      out[i] = probe(queries[i].mta_local, queries[i].client);
  }
  // Every connection of this process's network namespace whose local port is
  // `local_port`, in the families asked for. The default says it cannot (a
  // Probe without dumps).
  virtual PortScan scan(std::uint16_t /*local_port*/, ScanFamilies /*families*/ = {}) const {
    return PortScan{false, "this probe cannot scan a port", {}};
  }
};

struct ProbeOptions {
  // Upper bound on one request/response exchange with the kernel, and
  // on the wait for a free socket when all are in use.
  std::chrono::milliseconds timeout{100};
  // Netlink sockets opened at construction and kept (at least 1). A probe
  // never opens one of its own: more probes at once wait for a free one.
  std::size_t sockets = 4;
};

class PregreetProbe final : public Probe {
 public:
  explicit PregreetProbe(ProbeOptions options = {});
  ~PregreetProbe() override;
  PregreetProbe(const PregreetProbe&) = delete;
  PregreetProbe& operator=(const PregreetProbe&) = delete;

  ProbeResult probe(const Endpoint& mta_local, const Endpoint& client) const override;
  // The exact lookups of up to kBatch queries go to the kernel in one send
  // (each its own sequence number) and their answers come back together:
  // one system call per query less, and no pool round trip per query. A
  // query that needs a dump (wildcard MTA side, link-local client) is probed
  // on its own. Answers are those probe() would give.
  void probe_many(std::span<const ProbeQuery> queries, std::span<ProbeResult> out) const override;
  static constexpr std::size_t kBatch = 64;
  // One NLM_F_DUMP per address family asked for, with the local port set (the
  // kernel skips other ports while it walks its table), at most kMaxScan
  // connections. A scan asks for no tcp_info (the kernel's costliest part of a
  // dump): "talked" there means unread bytes or a FIN after data, which is all
  // an MTA that has not greeted yet can have; probe() also reads tcp_info's
  // bytes_received, so data the MTA itself consumed is seen by the exact look.
  PortScan scan(std::uint16_t local_port, ScanFamilies families = {}) const override;
  static constexpr std::size_t kMaxScan = 200'000;
  // Sockets open now (options.sockets unless some could not be opened).
  std::size_t sockets_open() const;

 private:
  class Pool;
  ProbeOptions options_;
  std::unique_ptr<Pool> pool_;
};

// How the watch waits. Production: SystemWaiter; tests: a fake that moves a
// policy::ManualClock instead of sleeping.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual policy::SteadyTime now() const = 0;
  // Blocks until `deadline`; false when cancelled (shutdown) instead.
  virtual bool wait_until(policy::SteadyTime deadline) = 0;
};

// Real waiting on std::chrono::steady_clock. cancel() wakes all current and
// future waits at once (they return false); it cannot be undone.
class SystemWaiter final : public Waiter {
 public:
  policy::SteadyTime now() const override;
  bool wait_until(policy::SteadyTime deadline) override;
  void cancel();
  bool cancelled() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool cancelled_ = false;
};

struct WatchResult {
  enum class Outcome {
    talked,     // talk seen; returned as soon as it was
    silent,     // whole pause waited, nothing seen (last probe at the deadline)
    degraded,   // socket never seen (not visible, or every probe failed):
                // the pause was a plain delay
    vanished,   // socket found, then gone (client reset): returned at once
    cancelled,  // the waiter was cancelled (shutdown)
  };
  Outcome outcome = Outcome::silent;
  std::chrono::milliseconds waited{0};
  unsigned probes = 0;
  unsigned probe_errors = 0;  // probes that failed (Status::error) and were retried
  std::string probe_error;    // why the last of those failed
  ProbeResult last;           // the probe that decided, or the last one made
};

std::string_view to_string(WatchResult::Outcome o);

// Waits up to greet_pause, probing at start, every `interval` after it and
// once more at the deadline; returns as soon as the client talks. A pause of
// 0 returns silent at once without probing. A probe that fails
// (Status::error: no netlink socket, a timeout) is counted in probe_errors
// and retried on the next tick; only not_found before the socket was ever
// seen turns the rest of the pause into a plain delay at once. After the first probe has found
// the socket, later probes ask for its exact local address (cheap even when
// mta_local was a wildcard).
class PregreetWatch {
 public:
  static constexpr std::chrono::milliseconds kDefaultInterval{100};

  // Throws std::invalid_argument when interval is not positive.
  PregreetWatch(const Probe& probe, Waiter& waiter,
                std::chrono::milliseconds interval = kDefaultInterval);

  WatchResult watch(const Endpoint& mta_local, const Endpoint& client,
                    std::chrono::milliseconds greet_pause) const;

 private:
  WatchResult plain_delay(policy::SteadyTime start, policy::SteadyTime deadline,
                          WatchResult result) const;

  const Probe& probe_;
  Waiter& waiter_;
  std::chrono::milliseconds interval_;
};

// Whether pre-greeting detection works, as the sessions find it, and when
// that is worth a log line: a plain-delay pause ("unavailable") and the
// first pause that sees its socket after such ones ("available again"),
// each at most once per `relog`, with the number of plain delays not yet
// reported. Never latched: every session probes, so detection that comes
// back (a flood over, descriptors free again) is noticed by the next
// session. Failed probes are rate-limited the same way. No I/O: the caller
// logs.
class DetectionHealth {
 public:
  struct Note {
    bool log = false;         // say it now
    std::uint64_t count = 0;  // events of this kind since the last line about them
  };

  explicit DetectionHealth(std::chrono::milliseconds relog = std::chrono::seconds{60});

  Note unavailable(policy::SteadyTime now);  // a pause held as a plain delay
  Note available(policy::SteadyTime now);    // a pause that saw its socket
  Note probe_errors(policy::SteadyTime now, unsigned n);
  bool is_unavailable() const;

 private:
  mutable std::mutex mutex_;
  std::chrono::milliseconds relog_;
  bool unavailable_ = false;
  std::optional<policy::SteadyTime> unavailable_logged_;
  std::optional<policy::SteadyTime> available_logged_;
  std::uint64_t plain_delays_ = 0;  // since the last line about them
  std::optional<policy::SteadyTime> errors_logged_;
  std::uint64_t errors_ = 0;
};

}  // namespace harden::milter
