// control_plane.hpp - the daemon's one Boost.Asio thread: control socket,
// metrics endpoint, signals, timers.
//
// SYNOPSIS
//   ControlPlane cp(options, hooks);
//   cp.bind(owner_uid, owner_gid);   // sockets, before dropping privileges; throws one line
//   cp.start();                      // the thread; signals are handled from now on
//   cp.after(2s, [] { ... });        // a one-shot timer on the control thread
//   cp.stop();                       // from any other thread; joins
//
// WHAT RUNS ON IT
//   control socket   unix stream socket, mode 0660, owned by the daemon's
//                    user/group; protocol in control.hpp. Peers are checked
//                    with SO_PEERCRED: root, or the daemon's uid or gid.
//                    At most kMaxConnections at once; idle ones are closed
//                    after 30 s; a request line is bounded (kMaxControlRequest).
//   metrics          minimal HTTP/1.0 on a loopback address: GET /metrics ->
//                    200 text/plain; version=0.0.4 (Prometheus); other paths
//                    404, other methods 405; request head at most 8 KiB, 5 s.
//   signals          SIGHUP -> hooks.reload("SIGHUP"); SIGTERM/SIGINT ->
//                    hooks.stop(name). The daemon parks libmilter's own signal
//                    thread so these reach this thread only (see sigwait_hook.cpp).
//   timers           every poll_interval: hooks.poll() (PRAGMA data_version).
//
// A stale control socket file is replaced; a live one (another daemon answers
// on it) or a non-socket file at that path stops start-up.
//
// THREAD SAFETY
//   bind/start/stop from the main thread; the hooks run on the control thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "harden/milter/config.hpp"
#include "harden/milter/control.hpp"
#include "harden/milter/metrics.hpp"

namespace harden::milter {

struct ControlPlaneOptions {
  std::string control_socket;                  // empty: none
  std::string metrics_listen;                  // empty: none
  std::chrono::milliseconds poll_interval{0};  // 0: no polling
};

struct ControlHooks {
  ControlService* service = nullptr;            // control socket requests
  Metrics* metrics = nullptr;                   // request / denial counters
  std::function<std::string()> metrics_text;    // GET /metrics body
  std::function<void(const char* why)> reload;  // SIGHUP
  std::function<void(const char* why)> stop;    // SIGTERM, SIGINT
  std::function<void()> poll;                   // every poll_interval
};

class ControlPlane {
 public:
  static constexpr std::size_t kMaxConnections = 32;

  ControlPlane(ControlPlaneOptions options, ControlHooks hooks);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Creates the sockets; the control socket is chown'ed to owner (-1: keep).
  void bind(uid_t owner_uid, gid_t owner_gid);
  void start();
  void stop();
  void after(std::chrono::milliseconds delay, std::function<void()> fn);

  // Peer credential rule of the control socket.
  static bool peer_allowed(uid_t peer_uid, gid_t peer_gid, uid_t self_uid, gid_t self_gid);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace harden::milter
