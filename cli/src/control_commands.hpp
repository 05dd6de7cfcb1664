// control_commands.hpp - `hardenctl status|client|flush|reload`: the running
// milter-harden daemon, through its control socket.
//
// SYNOPSIS
//   add_control_commands(app, d);      // registers the four commands
//   json r = control_request(path, {{"cmd","stats"}});   // one exchange; throws UsageError
//
//   status [--json]                    version, uptime, policy in force, counters, decisions
//   client IP [--hostname NAME] [--json]   effective limits (rule of each) and live counters
//   flush IP                           forget the client's rates (open connections stay)
//   reload                             reload the policy store now
//   (offenders and top have their own files: offenders_command.cpp, top_command.cpp)
//   each takes --socket PATH (env HARDEN_CONTROL_SOCKET), default
//   /run/milter-harden/control.sock.
//
// The protocol is milter/include/harden/milter/control.hpp: one JSON line
// each way. A daemon that is not running, a socket we may not use, a reply
// that is not JSON or says {"ok":false} are one line on stderr, exit 2.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "commands.hpp"

namespace harden::cli {

inline constexpr std::string_view kDefaultControlSocket = "/run/milter-harden/control.sock";
inline constexpr std::string_view kControlSocketEnvVar = "HARDEN_CONTROL_SOCKET";
inline constexpr std::size_t kMaxControlReply = 1u << 20;

void add_control_commands(CLI::App& app, Dispatch& d);

// --socket PATH (env HARDEN_CONTROL_SOCKET) on a command that talks to the daemon.
void add_socket_option(CLI::App* sub, std::string& socket);

// True when a daemon answers on `socket_path`; false when there is no socket
// or nothing listens on it. Throws UsageError for anything else (permissions).
bool control_socket_answers(const std::string& socket_path);

// Sends `request` as one line and returns the parsed reply (ok or not).
// Throws UsageError naming the socket when it cannot talk to the daemon.
nlohmann::json control_request(const std::string& socket_path, const nlohmann::json& request,
                               std::chrono::milliseconds timeout = std::chrono::seconds{30});

}  // namespace harden::cli
