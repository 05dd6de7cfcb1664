// counters_setup.hpp - the counter backend the config asks for (internal to
// daemon.cpp).
//
// SYNOPSIS
//   std::shared_ptr<db::CounterBackend> c = make_counters(config, metrics);
//   set_native_io(config, native_options);  // the I/O threads
//
// counters: local -> LocalCounters. counters: redis -> FallbackCounters over
// RedisCounters (liveness thread started) and a LocalCounters of the same
// cap; the breaker's switches are logged once each way and counted
// (redis_fallback gauge, redis_errors_total). The password comes from
// redis_password_file (first line, at most 1 KiB) or redis_url, never
// both, and is never logged. Throws std::runtime_error (start-up).
#pragma once

#include <memory>

#include "harden/db/counters.hpp"
#include "harden/milter/config.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/native_server.hpp"

namespace harden::milter {

std::shared_ptr<db::CounterBackend> make_counters(const Config& c, Metrics& metrics);

// The native engine's I/O threads: the config's io_threads, else the
// engine's default (one per core), whatever the counters: on counters:
// redis the engine makes its counter calls on a db::CounterChannel per I/O
// thread (one pipelined Redis connection each) and serves other sessions
// while Redis answers, so nothing holds a thread.
void set_native_io(const Config& c, NativeOptions& n);

}  // namespace harden::milter
