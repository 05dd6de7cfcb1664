// fd_limits.cpp - the descriptor limit, the capacity, the reserve at accept.
#include "harden/milter/fd_limits.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace harden::milter {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{10};
constexpr std::chrono::milliseconds kMaxBackoff{200};
// A burst ends at the first accept this long after its last failure, so a
// limit reached again and again in one flood is one burst, logged once.
constexpr std::chrono::milliseconds kBurstQuiet{500};

int open_reserve() {
  return ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); 1,048,576 if unreadable.
std::uint64_t nr_open() {
  std::ifstream in("/proc/sys/fs/nr_open");
  std::uint64_t n = 0;
  if (in >> n && n > 0) return n;
  return 1u << 20;
}

std::uint64_t as_count(rlim_t v) {
  return v == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(v);
}

}  // namespace

NofileLimit raise_nofile_limit() noexcept {
  NofileLimit out;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    out.error = "getrlimit: " + std::error_code(errno, std::generic_category()).message();
    return out;
  }
  out.before = out.soft = as_count(rl.rlim_cur);
  out.hard = as_count(rl.rlim_max);
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY) target = static_cast<rlim_t>(nr_open());
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= target) return out;
  rlimit wanted{target, rl.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
    out.error = "setrlimit: " + std::error_code(errno, std::generic_category()).message();
    return out;
  }
  out.soft = as_count(target);
  return out;
}

std::uint64_t session_capacity(std::uint64_t nofile, std::size_t probe_sockets) {
  const std::uint64_t fixed = kFixedDescriptors + probe_sockets;
  return nofile > fixed ? nofile - fixed : 0;
}

bool is_out_of_descriptors(int err) {
  return err == EMFILE || err == ENFILE;
}

std::vector<int> listening_sockets() {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    int fd = -1;
    const auto [end, perr] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (perr != std::errc{} || end != name.data() + name.size() || fd < 0) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0)
      out.push_back(fd);
  }
  std::sort(out.begin(), out.end());
  return out;
}

AcceptGuard::AcceptGuard() : reserve_(open_reserve()) {}

AcceptGuard::~AcceptGuard() {
  if (reserve_ >= 0) ::close(reserve_);
}

bool AcceptGuard::reserve_held() const {
  std::lock_guard lock(mutex_);
  return reserve_ >= 0;
}

AcceptFailure AcceptGuard::out_of_descriptors(int listener) {
  std::lock_guard lock(mutex_);
  AcceptFailure f;
  if (!in_burst_) {
    in_burst_ = true;
    f.first_in_burst = true;
    failures_ = shed_ = 0;
    backoff_ = std::chrono::milliseconds{0};
    burst_start_ = Clock::now();
  }
  ++failures_;
  last_failure_ = Clock::now();
  if (reserve_ < 0) reserve_ = open_reserve();  // a descriptor may have come free
  if (reserve_ >= 0) {
    ::close(reserve_);
    reserve_ = -1;
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ::close(fd);
        f.shed = true;
        ++shed_;
      }
    }
    reserve_ = open_reserve();  // another thread may have taken the slot: retried next time
  }
  if (f.shed) {
    backoff_ = std::chrono::milliseconds{0};
  } else {
    backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  }
  f.backoff = backoff_;
  f.failures = failures_;
  f.shed_count = shed_;
  return f;
}

AcceptRecovery AcceptGuard::accepted() {
  std::lock_guard lock(mutex_);
  AcceptRecovery r;
  if (reserve_ < 0) reserve_ = open_reserve();
  if (!in_burst_) return r;
  const auto now = Clock::now();
  if (now - last_failure_ < kBurstQuiet) return r;
  in_burst_ = false;
  r.ended_burst = true;
  r.failures = failures_;
  r.shed_count = shed_;
  r.lasted = std::chrono::duration_cast<std::chrono::milliseconds>(now - burst_start_);
  return r;
}

}  // namespace harden::milter
