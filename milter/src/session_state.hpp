// session_state.hpp - what the adapter keeps per SMTP session (internal).
//
// SYNOPSIS
//   SessionState* st = ...;          // owned by libmilter's priv pointer
//   st->session                      // the Engine's per-session state
//   st->log                          // client address and name for log lines
//   st->greet                        // what the greet pause needs to find the socket
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "harden/milter/engine.hpp"
#include "harden/milter/reply.hpp"

namespace harden::milter {

// The MTA's view of the connection, for the pre-greeting probe.
struct GreetTarget {
  std::string daemon_addr;  // {daemon_addr}
  std::string daemon_port;  // {daemon_port}
  std::optional<policy::IpAddress> client;
  std::uint16_t client_port = 0;
};

struct SessionState {
  Session session;
  LogClient log;
  GreetTarget greet;
};

}  // namespace harden::milter
