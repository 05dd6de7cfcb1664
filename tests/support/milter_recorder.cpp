// milter_recorder.cpp - see milter_recorder.hpp.
#include "support/milter_recorder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <stdexcept>

namespace harden::testing {
namespace {

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

}  // namespace

MilterRecorder::MilterRecorder(std::uint16_t milter_port, std::filesystem::path dir,
                               std::string prefix)
    : target_(milter_port), dir_(std::move(dir)), prefix_(std::move(prefix)) {
  std::filesystem::create_directories(dir_);
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener_, 16) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("milter recorder: cannot listen");
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

MilterRecorder::~MilterRecorder() {
  stop_ = true;
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  for (auto& t : relays_) t.join();
  ::close(listener_);
}

void MilterRecorder::accept_loop() {
  int n = 0;
  while (!stop_ && n < 64) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int mta = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (mta < 0) continue;
    const int milter = connect_loopback(target_);
    if (milter < 0) {
      ::close(mta);
      continue;
    }
    relays_.emplace_back(
        [this, mta, milter, file = dir_ / (prefix_ + "-" + std::to_string(n++) + ".bin")] {
          relay(mta, milter, file);
        });
  }
}

void MilterRecorder::relay(int mta, int milter, std::filesystem::path file) {
  std::ofstream out(file, std::ios::binary);
  std::array<char, 16384> buf{};
  while (!stop_) {
    std::array<pollfd, 2> p{pollfd{mta, POLLIN, 0}, pollfd{milter, POLLIN, 0}};
    if (::poll(p.data(), p.size(), 100) <= 0) continue;
    bool done = false;
    for (int i = 0; i < 2; ++i) {
      if (!(p[static_cast<std::size_t>(i)].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int from = i == 0 ? mta : milter;
      const int to = i == 0 ? milter : mta;
      const ssize_t n = ::read(from, buf.data(), buf.size());
      if (n <= 0) {
        done = true;
        break;
      }
      if (i == 0) out.write(buf.data(), n);
      if (::send(to, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
        done = true;
        break;
      }
    }
    if (done) break;
  }
  ::close(mta);
  ::close(milter);
}

}  // namespace harden::testing
