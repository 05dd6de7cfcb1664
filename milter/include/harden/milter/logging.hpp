// logging.hpp - spdlog set-up for the daemon.
//
// SYNOPSIS
//   setup_logging(LogLevel::info, /*syslog=*/true);   // stderr + syslog (facility mail)
//   spdlog::info("...");                              // everywhere after that
//
// stderr lines: "2026-11-21 05:03:44.123 info reject: client=[...] ...";
// syslog lines carry only the message (syslog adds time, host and
// "milter-harden[pid]:"), which is what fail2ban reads from the mail log.
// Loggers are synchronous and thread-safe (spdlog's *_mt sinks).
#pragma once

#include "harden/milter/config.hpp"

namespace harden::milter {

void setup_logging(LogLevel level, bool syslog);

}  // namespace harden::milter
