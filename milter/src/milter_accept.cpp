// milter_accept.cpp - accept() with the out-of-descriptors guard (see milter_accept.hpp).
#include "milter_accept.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <thread>

namespace harden::milter {
namespace {

struct Installed {
  AcceptGuard* guard = nullptr;
  Metrics* metrics = nullptr;
  int listener = -1;
  std::uint64_t nofile = 0;
};

std::atomic<Installed*> g_installed{nullptr};
Installed g_slot;

void on_failure(const Installed& in, int listener) noexcept {
  try {
    const AcceptFailure f = in.guard->out_of_descriptors(listener);
    in.metrics->bump(Metric::accept_failures_total);
    if (f.shed) in.metrics->bump(Metric::accept_shed_total);
    if (f.first_in_burst)
      spdlog::warn(
          "out of file descriptors (limit {}): new milter connections are closed at accept "
          "until sessions end (the MTA applies its milter default action); counted in "
          "milter_harden_accept_failures_total and accept_shed_total",
          in.nofile);
    if (f.backoff.count() > 0) std::this_thread::sleep_for(f.backoff);
    errno = f.shed ? ECONNABORTED : EMFILE;
  } catch (...) {
    errno = EMFILE;
  }
}

void on_success(const Installed& in) noexcept {
  try {
    const AcceptRecovery r = in.guard->accepted();
    if (r.ended_burst)
      spdlog::info(
          "file descriptors available again: {} accept failures in {} ms, {} milter "
          "connections closed at accept",
          r.failures, r.lasted.count(), r.shed_count);
  } catch (...) {
  }
}

}  // namespace

void install_accept_guard(AcceptGuard* guard, Metrics* metrics, int listener,
                          std::uint64_t nofile) noexcept {
  if (!guard || !metrics || listener < 0) {
    g_installed.store(nullptr, std::memory_order_release);
    return;
  }
  g_installed.store(nullptr, std::memory_order_release);
  g_slot = Installed{guard, metrics, listener, nofile};
  g_installed.store(&g_slot, std::memory_order_release);
}

int guarded_accept(int fd, sockaddr* addr, socklen_t* len) noexcept {
  const int conn = ::accept4(fd, addr, len, 0);
  const Installed* in = g_installed.load(std::memory_order_acquire);
  if (!in || fd != in->listener) return conn;
  if (conn >= 0) {
    on_success(*in);
    return conn;
  }
  const int err = errno;
  if (!is_out_of_descriptors(err)) return conn;
  on_failure(*in, fd);
  return -1;
}

}  // namespace harden::milter
