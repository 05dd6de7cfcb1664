// adapter.hpp - the libmilter callbacks: thin glue between the MTA and the Engine.
//
// SYNOPSIS
//   MilterRuntime rt{engine, metrics, options, watch, waiter};
//   install_runtime(&rt);                      // before smfi_main; nullptr after it
//   smfi_register(milter_descriptor());
//
// CALLBACKS (milter protocol 6)
//   negotiate  asks for SMFIP_RCPT_REJ (rejected recipients too, with
//              {rcpt_mailer}=error) and switches off the steps we never look
//              at (HELO, headers, body, DATA, unknown commands), each only if
//              the MTA offers it; sets the macro lists with smfi_setsymlist
//              from mtaconf::kMacroLists, the one list.
//   connect    copies what the MTA said into a ConnectInfo, Engine::connect,
//              then the greet pause (see greet.hpp); an allow-listed client
//              gets SMFIS_ACCEPT (the MTA skips us for the session).
//   envfrom    Engine::mail (msg_rate).
//   envrcpt    Engine::rcpt (max_rcpts, rcpt_rate, bad_rcpt_throttle); a
//              delay is slept interruptibly before the reply.
//   abort      the message is gone: its recipient count starts over.
//   close      Engine::close (the open-connection slot is released exactly
//              once) and the session state is freed, on every path: reject at
//              connect, QUIT, abort, the MTA dropping the milter connection.
//   Each callback: build the event, ask the Engine, map the Decision with
//   to_milter_reply (reply.hpp) and log with enforcement_line, in one place
//   (respond). A catch-all at every boundary answers on_internal_error
//   (continue or tempfail), logs and counts internal_errors_total: no
//   exception ever reaches libmilter.
//
// SESSION STATE
//   One SessionState per SMTP session, owned through smfi_setpriv: created in
//   connect (a leftover of a previous session on the same milter connection
//   is closed first), destroyed exactly once in close.
//
// THREAD SAFETY
//   libmilter runs each milter connection on its own thread and serialises
//   its callbacks; the runtime's members are thread-safe.
#pragma once

#include <libmilter/mfapi.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "harden/milter/engine.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/pregreet.hpp"

namespace harden::milter {

struct AdapterOptions {
  bool tempfail_on_internal_error = false;  // on_internal_error: tempfail
};

struct MilterRuntime {
  MilterRuntime(Engine& e, Metrics& m, AdapterOptions o, const PregreetWatch& w, Waiter& wt)
      : engine(e), metrics(m), options(o), watch(w), waiter(wt) {}

  Engine& engine;
  Metrics& metrics;
  AdapterOptions options;
  const PregreetWatch& watch;
  Waiter& waiter;                   // throttle delays; cancelled at shutdown
  DetectionHealth pregreet_health;  // when to log "pre-greeting detection unavailable"
  // Callbacks running now, and run so far: shutdown waits for quiet.
  std::atomic<int> callbacks_active{0};
  std::atomic<std::uint64_t> callbacks_run{0};
};

// The runtime the callbacks use; must outlive every session.
void install_runtime(MilterRuntime* rt) noexcept;

// The filter description for smfi_register (name "milter-harden").
smfiDesc milter_descriptor() noexcept;

// The space-separated macro list of one SMFIM_* stage, from
// mtaconf::kMacroLists; built once, "" for a stage without macros.
const std::string& macro_list_for(int smfim_stage);

// SMFIP_* protocol flags asked for, given what the MTA offers.
unsigned long negotiated_protocol(unsigned long offered) noexcept;

}  // namespace harden::milter
