// fd_limits_test.cpp - the descriptor limit, the capacity, and the reserve
// that lets an accept loop close what it cannot take (real sockets, the
// process's own RLIMIT_NOFILE lowered for a moment; nothing sleeps).
#include "harden/milter/fd_limits.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

namespace harden::milter {
namespace {

int lowest_free_fd() {
  const int fd = ::dup(0);
  ::close(fd);
  return fd;
}

// Lowers the soft limit to the lowest free descriptor (nothing new can be
// opened) for its lifetime.
class OutOfDescriptors {
 public:
  OutOfDescriptors() {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit tight = saved_;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd());
    ok_ = ::setrlimit(RLIMIT_NOFILE, &tight) == 0;
  }
  ~OutOfDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TEST(NofileLimit, SoftIsRaisedToHard) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_NE(saved.rlim_max, RLIM_INFINITY);
  ASSERT_GT(saved.rlim_max, 64u);
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const NofileLimit l = raise_nofile_limit();
  rlimit now{};
  ::getrlimit(RLIMIT_NOFILE, &now);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_TRUE(l.error.empty()) << l.error;
  EXPECT_EQ(l.before, 64u);
  EXPECT_EQ(l.soft, saved.rlim_max);
  EXPECT_EQ(l.hard, saved.rlim_max);
  EXPECT_EQ(now.rlim_cur, saved.rlim_max);
}

TEST(NofileLimit, CapacityIsTheLimitLessTheFixedDescriptors) {
  EXPECT_EQ(session_capacity(65536, 4), 65536u - kFixedDescriptors - 4);
  EXPECT_EQ(session_capacity(65536, 4), 65449u);  // the figure the READMEs give
  EXPECT_EQ(session_capacity(256, 4), 169u);
  EXPECT_EQ(session_capacity(64, 4), 0u);
}

struct Listener {
  int fd = -1;
  sockaddr_un addr{};
  Listener() {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sun_family = AF_UNIX;  // abstract name: nothing on disk
    const std::string name = "harden-fd-test-" + std::to_string(::getpid());
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 8) != 0)
      throw std::runtime_error("listen");
  }
  ~Listener() { ::close(fd); }
  int connect() const {
    const int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(c, reinterpret_cast<const sockaddr*>(&addr), len) != 0)
      throw std::runtime_error("connect");
    return c;
  }
  socklen_t len = 0;
};

// The peer sees its connection closed (EOF) within 5 s.
bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

TEST(AcceptGuard, ClosesThePendingConnectionWithTheReserveAndKeepsIt) {
  Listener l;
  AcceptGuard guard;
  ASSERT_TRUE(guard.reserve_held());
  const int client = l.connect();
  AcceptFailure f;
  int err = 0;
  {
    OutOfDescriptors full;
    ASSERT_TRUE(full.ok());
    ASSERT_LT(::accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC), 0);
    err = errno;
    f = guard.out_of_descriptors(l.fd);
  }
  EXPECT_TRUE(is_out_of_descriptors(err)) << err;
  EXPECT_TRUE(f.first_in_burst);
  EXPECT_TRUE(f.shed);
  EXPECT_EQ(f.backoff.count(), 0);
  EXPECT_TRUE(guard.reserve_held());  // taken back for the next one
  EXPECT_TRUE(closed_by_peer(client));
  ::close(client);
  // Nothing pending: no shed, a back-off instead of a spin; one burst.
  {
    OutOfDescriptors full;
    const AcceptFailure g = guard.out_of_descriptors(l.fd);
    EXPECT_FALSE(g.first_in_burst);
    EXPECT_FALSE(g.shed);
    EXPECT_GT(g.backoff.count(), 0);
    EXPECT_EQ(g.failures, 2u);
    EXPECT_EQ(g.shed_count, 1u);
  }
}

TEST(AcceptGuard, AnAcceptRightAfterAFailureDoesNotEndTheBurst) {
  Listener l;
  AcceptGuard guard;
  {
    OutOfDescriptors full;
    guard.out_of_descriptors(l.fd);
  }
  EXPECT_FALSE(guard.accepted().ended_burst);  // within 500 ms: same burst
  EXPECT_FALSE(guard.out_of_descriptors(l.fd).first_in_burst);
}

TEST(ListeningSockets, FindsThisProcesssListener) {
  Listener l;
  const auto fds = listening_sockets();
  EXPECT_NE(std::find(fds.begin(), fds.end(), l.fd), fds.end());
  const int client = l.connect();
  EXPECT_EQ(std::find(fds.begin(), fds.end(), client), fds.end());
  ::close(client);
}

}  // namespace
}  // namespace harden::milter
