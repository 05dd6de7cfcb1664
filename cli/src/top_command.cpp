// top_command.cpp - `hardenctl top`: a live view of the running daemon over
// its control socket, refreshed every --interval, in plain ANSI (clear the
// screen, home the cursor; no curses), usable over ssh.
//
// SYNOPSIS
//   hardenctl top [--once] [--interval 1s] [-n 10] [--socket PATH]
//
// Each interval it asks the daemon for stats, top (n) and offenders (limit
// n), and draws render_top() (top_view.hpp) from this sample and the one
// before. q (or Q) quits, as do Ctrl-C, SIGTERM and SIGHUP (ssh gone); the
// terminal is given back as found (termios, cursor). While the daemon does
// not answer, the last screen stays with the error on its last line and the
// view retries each interval. --once takes two samples one interval apart,
// prints one screen without ANSI sequences and exits. A daemon that does not
// answer the first sample is one line on stderr, exit 2, as for status.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "control_commands.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rate.hpp"
#include "top_view.hpp"

namespace harden::cli {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

struct TopOptions {
  std::string socket{kDefaultControlSocket};
  std::string interval = "1s";
  std::size_t n = 10;
  bool once = false;
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) {
  g_stop = 1;
}

// Ctrl-C, SIGTERM, SIGHUP set g_stop (no SA_RESTART: poll() wakes with
// EINTR); the old handlers come back with the destructor.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
  }
  ~StopSignals() {
    for (std::size_t i = 0; i < kSignals.size(); ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  static constexpr std::array<int, 3> kSignals{SIGINT, SIGTERM, SIGHUP};
  std::array<struct sigaction, 3> old_{};
};

// The terminal in key-at-a-time mode without echo, cursor hidden; restored
// by the destructor (also when an exception leaves the loop).
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));  // ISIG stays: Ctrl-C signals
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      restore_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    std::cout << "\x1b[?25l" << std::flush;  // hide the cursor
  }
  ~RawTerminal() {
    if (restore_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    std::cout << "\x1b[?25h" << std::flush;  // show it again
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool restore_ = false;
};

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string wall_clock() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  return std::strftime(buf, sizeof buf, "%H:%M:%S", &tm) ? buf : "";
}

json ask(const TopOptions& o, const json& request) {
  json r = control_request(o.socket, request, std::chrono::seconds{5});
  if (!r.value("ok", false))
    throw UsageError(fmt::format("milter-harden: {}", r.value("error", std::string("failed"))));
  return r;
}

TopSample sample(const TopOptions& o) {
  TopSample s;
  s.stats = ask(o, {{"cmd", "stats"}});
  s.top = ask(o, {{"cmd", "top"}, {"n", o.n}});
  s.offenders = ask(o, {{"cmd", "offenders"}, {"limit", o.n}});
  s.at_seconds = steady_seconds();
  s.wall = wall_clock();
  return s;
}

// Waits up to `d` for a key; true when it asks to quit (q, Q) or a stop
// signal came. Without a terminal on stdin (or at its end) it only waits.
bool wait_for_quit(milliseconds d, bool& stdin_open) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int n = ::poll(&p, stdin_open ? 1 : 0, static_cast<int>(left.count()));
    if (n <= 0) continue;  // timeout (checked above) or EINTR (g_stop)
    char buf[64];
    const ssize_t got = ::read(STDIN_FILENO, buf, sizeof buf);
    if (got <= 0) {
      stdin_open = got < 0 && errno == EINTR;
      continue;
    }
    for (ssize_t i = 0; i < got; ++i)
      if (buf[i] == 'q' || buf[i] == 'Q') return true;
  }
  return true;
}

int run_once(const TopOptions& o, milliseconds interval) {
  const TopSample first = sample(o);
  bool stdin_open = false;
  const StopSignals signals;
  if (wait_for_quit(interval, stdin_open)) {  // interrupted: the one sample, rates n/a
    std::cout << render_top(nullptr, first, {.n = o.n, .status = ""});
    return kExitOk;
  }
  const TopSample second = sample(o);
  std::cout << render_top(&first, second, {.n = o.n, .status = ""});
  return kExitOk;
}

int run_live(const TopOptions& o, milliseconds interval) {
  std::optional<TopSample> previous;
  TopSample current = sample(o);  // no daemon: one line on stderr, exit 2
  const StopSignals signals;
  const RawTerminal terminal;
  bool stdin_open = ::isatty(STDIN_FILENO) != 0;
  const std::string every =
      policy::format_duration_ms(static_cast<std::uint64_t>(interval.count()));
  std::string status = fmt::format("q quits; every {}", every);
  for (;;) {
    // Clear the screen, home the cursor, draw; "\r\n" as the terminal may not translate.
    std::string screen = render_top(previous ? &*previous : nullptr, current, {o.n, status});
    std::string out = "\x1b[H\x1b[2J";
    for (char c : screen) out += c == '\n' ? std::string("\x1b[K\r\n") : std::string(1, c);
    std::cout << out << std::flush;
    if (wait_for_quit(interval, stdin_open)) break;
    try {
      TopSample next = sample(o);
      previous = std::move(current);
      current = std::move(next);
      status = fmt::format("q quits; every {}", every);
    } catch (const UsageError& e) {
      status = fmt::format("retrying every {}: {}", every, e.what());
    }
  }
  std::cout << "\x1b[H\x1b[2J" << std::flush;
  return kExitOk;
}

int run_top(const Globals&, TopOptions& o) {
  std::uint64_t ms = 0;
  try {
    ms = policy::parse_duration_ms(o.interval, 3'600'000);
  } catch (const policy::PolicyError& e) {
    throw UsageError(fmt::format("top: --interval: {}", e.what()));
  }
  if (ms < 100) throw UsageError("top: --interval must be at least 100ms");
  g_stop = 0;
  const milliseconds interval{static_cast<std::int64_t>(ms)};
  return o.once ? run_once(o, interval) : run_live(o, interval);
}

}  // namespace

void add_top_command(CLI::App& app, Dispatch& d) {
  auto o = std::make_shared<TopOptions>();
  CLI::App* sub = add_command(
      app, "top", "a live view of the running daemon: rates, refusals, top clients, penalties",
      "\nRefreshed every --interval (default 1s) in plain ANSI; q or Ctrl-C quits. Rates are "
      "differences between two samples. --once prints one screen (two samples one interval "
      "apart) without ANSI sequences.\nTalks to the running milter-harden over its control "
      "socket (default /run/milter-harden/control.sock; --socket or HARDEN_CONTROL_SOCKET).");
  sub->add_flag("--once", o->once, "print one snapshot and exit");
  sub->add_option("--interval", o->interval, "time between samples (1s, 500ms; at least 100ms)")
      ->type_name("DURATION");
  sub->add_option("-n", o->n, "clients per list (1..100, default 10)")
      ->check(CLI::Range(1, 100))
      ->type_name("N");
  add_socket_option(sub, o->socket);
  on_run(sub, d, o, run_top);
}

}  // namespace harden::cli
