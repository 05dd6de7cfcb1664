// fd.hpp - a file descriptor owned by a test, and the local port of a socket.
//
//   Fd s(::socket(AF_INET, SOCK_STREAM, 0));   // closed when s goes
//   std::uint16_t p = local_port(s.get());     // after bind/connect
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <utility>

namespace harden::testing {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The IPv4 port a socket is bound to. Throws if getsockname fails.
inline std::uint16_t local_port(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    throw std::runtime_error("getsockname");
  return ntohs(sa.sin_port);
}

}  // namespace harden::testing
