// daemon.cpp - start-up, serving and shutdown of milter-harden (see daemon.hpp).
#include "harden/milter/daemon.hpp"

#include <libmilter/mfapi.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "counters_setup.hpp"
#include "harden/db/counters.hpp"
#include "harden/milter/adapter.hpp"
#include "harden/milter/control_plane.hpp"
#include "harden/milter/engine.hpp"
#include "harden/milter/fd_limits.hpp"
#include "harden/milter/logging.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/milter/native_server.hpp"
#include "harden/milter/policy_source.hpp"
#include "harden/milter/pregreet.hpp"
#include "harden/milter/privileges.hpp"
#include "harden/milter/reply.hpp"
#include "harden/milter/service.hpp"
#include "listener_wake.hpp"
#include "milter_accept.hpp"

namespace harden::milter {
namespace {

std::atomic<bool> g_signals_parked{false};

// The longest greet pause the daemon holds: 0 on libmilter unless told to hold
// them (libmilter_greet_pause), because its worker pool queues held CONNECTs
// behind each other (a burst of K sessions waits up to K pauses: issue 17).
std::chrono::milliseconds held_pause_cap(const Config& c) {
  if (c.engine == EngineKind::libmilter && c.libmilter_greet_pause == LibmilterPause::skip)
    return std::chrono::milliseconds{0};
  return c.greet_pause_cap;
}

// Everything the daemon runs on, in construction order. Heap-allocated: if
// sessions outlive the shutdown grace, the process exits without tearing
// this down under their feet.
struct Daemon {
  Daemon(const Config& c, NofileLimit l)
      : cfg(c),
        nofile(std::move(l)),
        account(resolve_account(c.user, c.group)),
        keyer{c.ipv4_prefix, c.ipv6_prefix},
        counters(make_counters(c, metrics)),
        // counters: redis shares the client memory too (same Redis, same round trip).
        memory(std::make_shared<db::ClientMemory>(
            db::ClientMemoryOptions{static_cast<std::size_t>(c.client_memory_entries),
                                    dynamic_cast<db::SharedMemory*>(counters.get())})),
        engine(EngineOptions{.mode = c.mode, .greet_pause_cap = held_pause_cap(c)}, counters, clock,
               memory),
        watch(probe, waiter) {
    keyer.validate();
    policy::PolicyOptions popts;
    popts.keyer = keyer;
    source = std::make_unique<PolicySource>(PolicySourceOptions{c.store, popts}, engine, metrics);
    service = std::make_unique<DaemonService>(engine, *source, metrics, clock, keyer);
    if (c.test_clock_control) service->allow_clock_control(&clock);
    runtime = std::make_unique<MilterRuntime>(
        engine, metrics, AdapterOptions{c.on_internal_error == InternalErrorAction::tempfail},
        watch, waiter);
    if (c.engine == EngineKind::native) {
      NativeOptions n;
      n.socket = c.socket;
      n.max_connections = static_cast<std::size_t>(c.max_connections);
      n.allowed_peers = parse_allowed_peers(c.allowed_peers);
      n.tempfail_on_internal_error = c.on_internal_error == InternalErrorAction::tempfail;
      n.accept_guard = &accept_guard;
      n.nofile = nofile.soft;
      set_native_io(c, n);
      native = std::make_unique<NativeServer>(std::move(n), engine, metrics, probe);
    }
  }

  const Config& cfg;
  NofileLimit nofile;
  Account account;
  policy::ClientKeyer keyer;
  policy::OffsetClock clock;  // the system clock unless test_clock_control moves it
  Metrics metrics;
  std::shared_ptr<db::CounterBackend> counters;  // counters_setup.hpp
  std::shared_ptr<db::ClientMemory> memory;      // greet passes, offences, penalties
  std::unique_ptr<db::StateStore> state;         // their file; null: memory only
  Engine engine;
  PregreetProbe probe;  // opens its netlink sockets now, before any session
  AcceptGuard accept_guard;
  SystemWaiter waiter;
  PregreetWatch watch;
  std::unique_ptr<PolicySource> source;
  std::unique_ptr<DaemonService> service;
  std::unique_ptr<MilterRuntime> runtime;
  std::unique_ptr<NativeServer> native;  // engine: native; else libmilter serves
  std::unique_ptr<ControlPlane> control;
  std::atomic<bool> stopping{false};
};

// libmilter (Debian builds it with its worker pool) tears its pool down when
// it sees the stop flag, while its listener and workers may still take the
// pool's lock; a connection arriving in that moment can leave smfi_main()
// stuck. So the stop is bounded from outside: if the process has not ended
// kShutdownGrace + kStopSlack after SIGTERM, it ends here.
constexpr std::chrono::seconds kStopSlack{5};

void force_exit(const Daemon& d) {
  spdlog::error("libmilter did not stop within {}s; exiting now",
                (kShutdownGrace + kStopSlack).count());
  spdlog::default_logger()->flush();
  if (!d.cfg.control_socket.empty()) ::unlink(d.cfg.control_socket.c_str());
  std::_Exit(0);
}

void stop(Daemon& d, const char* why) {
  if (d.stopping.exchange(true)) {
    spdlog::info("{} again: already stopping", why);
    return;
  }
  const auto open = d.metrics.get(Metric::sessions_open);
  spdlog::info("{}: stopping (open sessions: {})", why, open);
  d.waiter.cancel();  // greet pauses and throttle delays return now
  if (d.native) {
    d.native->stop(kShutdownGrace);
    d.control->after(kShutdownGrace + kStopSlack, [&d] { force_exit(d); });
    return;
  }
  // smfi_stop() waits for the listener's lock (up to libmilter's 5 s accept
  // check); it runs on its own thread and is never waited for.
  std::thread([] { smfi_stop(); }).detach();
  // With no session in flight, one connection to our own socket ends that
  // wait at once (listener_wake.hpp); with sessions, the 5 s do not matter.
  if (open == 0)
    d.control->after(std::chrono::milliseconds{20},
                     [&d] { wake_listener(parse_socket_spec(d.cfg.socket)); });
  d.control->after(kShutdownGrace + kStopSlack, [&d] { force_exit(d); });
}

// Client memory's state file, opened after the privileges are dropped so the
// file and its -wal/-shm belong to the daemon's user. A state file that
// cannot be opened costs persistence, never the service.
void open_state(Daemon& d) {
  if (d.cfg.test_clock_control)
    spdlog::warn("test_clock_control is on: the control socket may move this daemon's clock");
  if (d.cfg.state_file.empty()) {
    spdlog::info("state_file empty: greet passes and penalties are kept in memory only");
    return;
  }
  try {
    auto st = db::StateStore::open(d.cfg.state_file);
    const policy::WallMs now = d.engine.now_ms();
    auto entries = st.load(now);
    const std::size_t n = entries.size();
    d.memory->load(std::move(entries), now);
    d.state = std::make_unique<db::StateStore>(std::move(st));
    spdlog::info("state {}: {} client records loaded", d.cfg.state_file, n);
  } catch (const std::exception& e) {
    spdlog::error("state {}: {}; greet passes and penalties are kept in memory only",
                  d.cfg.state_file, e.what());
  }
}

// Writes the changed client records in one transaction, logs the penalties
// that ended, and sets the client memory gauges. On the control thread (and
// once more at exit).
void flush_state(Daemon& d) {
  const policy::WallMs now = d.engine.now_ms();
  for (const auto& end : d.memory->sweep(now))
    spdlog::info("{}", penalty_end_line(end.key, end.penalty, end.lifted));
  auto changes = d.memory->take_changes();
  if (d.state && !changes.empty()) {
    try {
      d.state->save(changes);
    } catch (const std::exception& e) {
      d.memory->requeue(changes);
      d.metrics.bump(Metric::state_flush_failures_total);
      spdlog::warn("state {}: {} records not written, retried next time: {}", d.cfg.state_file,
                   changes.upserts.size() + changes.deletes.size(), e.what());
    }
  }
  const auto st = d.memory->stats(now);
  d.metrics.set(Metric::penalties_active, static_cast<std::int64_t>(st.penalties));
  d.metrics.set(Metric::greet_passes_active, static_cast<std::int64_t>(st.passes));
  d.metrics.set(Metric::client_memory_entries, static_cast<std::int64_t>(st.entries));
  d.metrics.set(Metric::client_memory_evictions_total, static_cast<std::int64_t>(st.evictions));
}

void schedule_flush(Daemon& d) {
  d.control->after(d.cfg.state_flush_interval, [&d] {
    flush_state(d);
    if (!d.stopping) schedule_flush(d);
  });
}

std::unique_ptr<ControlPlane> make_control(Daemon& d) {
  ControlHooks hooks;
  hooks.service = d.service.get();
  hooks.metrics = &d.metrics;
  hooks.metrics_text = [&d] { return d.service->metrics_text(); };
  hooks.reload = [&d](const char* why) { d.source->reload(why); };
  hooks.stop = [&d](const char* why) { stop(d, why); };
  hooks.poll = [&d] { d.source->poll(); };
  return std::make_unique<ControlPlane>(
      ControlPlaneOptions{d.cfg.control_socket, d.cfg.metrics_listen, d.cfg.reload_interval},
      std::move(hooks));
}

// libmilter keeps the pointer given to smfi_setconn.
std::string g_milter_conn;

void open_milter_socket(const Config& cfg, const Account& a) {
  const SocketSpec spec = parse_socket_spec(cfg.socket);
  g_milter_conn = cfg.socket;
  if (spec.kind == SocketSpec::Kind::unix_path) {
    make_socket_directory(spec.path, a.uid, a.gid);
  }
  smfiDesc desc = milter_descriptor();
  if (smfi_setconn(g_milter_conn.data()) != MI_SUCCESS || smfi_setbacklog(128) != MI_SUCCESS ||
      smfi_register(desc) != MI_SUCCESS)
    throw std::runtime_error("socket " + cfg.socket + ": libmilter refused the set-up");
  if (smfi_opensocket(true) != MI_SUCCESS)
    throw std::runtime_error("socket " + cfg.socket +
                             ": cannot listen (address in use, permissions, or no such host)");
  if (spec.kind == SocketSpec::Kind::unix_path &&
      (::chmod(spec.path.c_str(), 0660) != 0 || ::chown(spec.path.c_str(), a.uid, a.gid) != 0))
    throw std::runtime_error("socket " + cfg.socket + ": cannot set owner/mode");
}

// The descriptor limit and what it allows, said once at start.
void log_capacity(Daemon& d) {
  const NofileLimit& l = d.nofile;
  d.metrics.add(Metric::open_files_limit, static_cast<std::int64_t>(l.soft));
  const std::uint64_t sessions = session_capacity(l.soft, d.probe.sockets_open());
  if (!l.error.empty())
    spdlog::warn("open files: soft limit {} not raised to the hard limit {}: {}", l.soft, l.hard,
                 l.error);
  spdlog::info(
      "open files: limit {} (soft was {}, hard {}); capacity {} concurrent milter sessions "
      "(one descriptor each; {} kept for the listener, control, metrics, store, logs and {} "
      "probe sockets)",
      l.soft, l.before, l.hard, sessions, kFixedDescriptors, d.probe.sockets_open());
  if (!d.accept_guard.reserve_held())
    spdlog::warn("open files: no reserve descriptor; accept failures will only back off");
}

// libmilter's listener is the only listening socket right after
// smfi_opensocket (the control plane binds later): guard its accept().
void guard_milter_accept(Daemon& d) {
  const std::vector<int> listening = listening_sockets();
  if (listening.size() != 1) {
    spdlog::warn(
        "cannot tell libmilter's listening socket ({} listening sockets): accept failures "
        "for lack of descriptors stay libmilter's (silent retries)",
        listening.size());
    return;
  }
  install_accept_guard(&d.accept_guard, &d.metrics, listening.front(), d.nofile.soft);
}

void check_signal_hook() {
  if (!libmilter_signals_parked())
    spdlog::warn(
        "libmilter's signal thread was not parked: SIGHUP would stop the milter; "
        "reload with hardenctl reload instead");
}

// Waits until every session has closed, or, since libmilter's worker pool
// abandons sessions waiting between commands once stopped, until no
// callback has run for kQuiet; at most kShutdownGrace.
void drain_sessions(const Daemon& d) {
  using clock = std::chrono::steady_clock;
  constexpr std::chrono::seconds kQuiet{1};
  const auto deadline = clock::now() + kShutdownGrace;
  auto last_run = d.runtime->callbacks_run.load();
  auto quiet_since = clock::now();
  while (d.metrics.get(Metric::sessions_open) > 0 && clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    const auto run = d.runtime->callbacks_run.load();
    if (run != last_run || d.runtime->callbacks_active.load() > 0) {
      last_run = run;
      quiet_since = clock::now();
    } else if (clock::now() - quiet_since >= kQuiet) {
      break;
    }
  }
}

int serve_native(Daemon& d) {
  log_capacity(d);
  d.native->listen(d.account.uid, d.account.gid);
  d.control = make_control(d);
  d.control->bind(d.account.uid, d.account.gid);
  drop_privileges(d.account);
  open_state(d);
  d.control->start();
  schedule_flush(d);
  spdlog::info("ready: milter socket {} (native engine), store {}, control {}, metrics {}, mode {}",
               d.cfg.socket, d.cfg.store,
               d.cfg.control_socket.empty() ? "off" : d.cfg.control_socket,
               d.cfg.metrics_listen.empty() ? "off" : d.cfg.metrics_listen, to_string(d.cfg.mode));
  if (!d.stopping) d.native->run();
  d.control->stop();
  flush_state(d);
  return 0;
}

int serve(Daemon& d) {
  if (d.native) return serve_native(d);
  open_milter_socket(d.cfg, d.account);
  if (d.cfg.libmilter_greet_pause == LibmilterPause::skip)
    spdlog::warn(
        "engine libmilter: greet pauses are not held (libmilter_greet_pause: skip): libmilter's "
        "worker pool queues held CONNECTs behind each other, so a burst of K sessions would "
        "wait up to K pauses; without a pause, pre-greeting detection is off too. Use engine: "
        "native (the default) to hold them");
  else
    spdlog::warn(
        "engine libmilter with libmilter_greet_pause: hold: a burst of K CONNECTs can wait up to "
        "K greet pauses (libmilter's worker pool), past the MTA's milter timeout; engine: "
        "native holds each on its own timer");
  guard_milter_accept(d);
  log_capacity(d);
  d.control = make_control(d);
  d.control->bind(d.account.uid, d.account.gid);
  drop_privileges(d.account);
  open_state(d);
  install_runtime(d.runtime.get());
  d.control->start();
  schedule_flush(d);
  d.control->after(std::chrono::seconds{3}, check_signal_hook);
  spdlog::info("ready: milter socket {}, store {}, control {}, metrics {}, mode {}", d.cfg.socket,
               d.cfg.store, d.cfg.control_socket.empty() ? "off" : d.cfg.control_socket,
               d.cfg.metrics_listen.empty() ? "off" : d.cfg.metrics_listen, to_string(d.cfg.mode));
  const int r = d.stopping ? MI_SUCCESS : smfi_main();
  if (r != MI_SUCCESS && !d.stopping)
    spdlog::error("libmilter stopped with an error (its details go to syslog)");
  d.waiter.cancel();
  d.control->stop();
  drain_sessions(d);
  flush_state(d);
  return r == MI_SUCCESS || d.stopping ? 0 : 1;
}

}  // namespace

void note_libmilter_signals_parked() noexcept {
  g_signals_parked.store(true);
}

bool libmilter_signals_parked() noexcept {
  return g_signals_parked.load();
}

int run_daemon(const Config& cfg) {
  setup_logging(cfg.log_level, cfg.syslog);
  std::unique_ptr<Daemon> d;
  int rc = 1;
  try {
    spdlog::info("milter-harden starting: socket {}, store {}", cfg.socket, cfg.store);
    NofileLimit nofile = raise_nofile_limit();  // before anything is opened
    d = std::make_unique<Daemon>(cfg, std::move(nofile));
    rc = serve(*d);
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    install_accept_guard(nullptr, nullptr, -1, 0);
    if (d) {
      d->waiter.cancel();
      if (d->control) d->control->stop();
    }
    return 1;
  }
  const auto open = d->metrics.get(Metric::sessions_open);
  if (open > 0) {
    spdlog::warn("exiting with {} sessions still open; their MTA connections close now", open);
    spdlog::default_logger()->flush();
    std::_Exit(rc);  // their threads still use *d: do not destroy it
  }
  install_runtime(nullptr);
  install_accept_guard(nullptr, nullptr, -1, 0);
  spdlog::info("stopped");
  return rc;
}

}  // namespace harden::milter
