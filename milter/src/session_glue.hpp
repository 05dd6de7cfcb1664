// session_glue.hpp - what both milter engines (libmilter callbacks,
// native_server) do the same way around the Engine (internal).
//
// SYNOPSIS
//   ConnectInfo info = connect_info(lookup, addr, port, hostname, st.greet);
//   MilterReply r = enforce(metrics, st, decision, Stage::connect);
//       // counts the decision (and a refusal per client key), logs its
//       // enforcement line, maps it (reply.hpp)
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "harden/milter/engine.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/reply.hpp"
#include "session_state.hpp"

namespace harden::milter {

// A macro's value as the MTA sent it ("" when not sent), at most 1 KiB.
using MacroLookup = std::function<std::string(const char* name)>;

// What the MTA told us at connect: the client's address and port from the
// CONNECT command when it carries them, else from {client_addr} /
// {client_port}; names from the macros; and the MTA's socket for the greet
// pause ({if_addr} when it is an address, else {daemon_addr}; {daemon_port}).
ConnectInfo connect_info(const MacroLookup& macro, std::optional<policy::IpAddress> addr,
                         std::uint16_t port, std::string_view hostname, GreetTarget& greet);

// Counts `d` (decisions_total; a refusal also in the refusal tally, under
// the session's client key), logs its enforcement line, maps it to a reply.
MilterReply enforce(Metrics& metrics, const SessionState& st, const policy::Decision& d,
                    Stage stage);

// A pause the policy asked for and connect() did not hold: counted as passed
// (the client key holds a greet pass) or skipped (greet_pause_cap 0, engine
// libmilter skipping pauses).
void count_pause_not_held(Metrics& metrics, const Session& s, const policy::Decision& d);

}  // namespace harden::milter
