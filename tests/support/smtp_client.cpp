// smtp_client.cpp - SMTP over a TCP socket with poll() deadlines.
#include "support/smtp_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace harden::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxLine = 4096;
constexpr int kMaxLines = 100;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::string SmtpReply::describe() const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  if (closed && code == 0) return "(connection closed, " + std::to_string(ms) + " ms)";
  return std::to_string(code) + " " + text + " (" + std::to_string(ms) + " ms)";
}

SmtpClient SmtpClient::connect(const std::string& host, std::uint16_t port,
                               std::chrono::milliseconds timeout, const std::string& source) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (v6 || ::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot connect from " + source);
    }
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &sa->sin6_addr) != 1)
      len = 0;
    else
      len = sizeof *sa;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &sa->sin_addr) != 1)
      len = 0;
    else
      len = sizeof *sa;
  }
  if (len == 0) {
    ::close(fd);
    throw std::runtime_error("not a numeric address: " + host);
  }
  // Loopback connects complete (or fail) at once; no deadline needed here.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const std::string msg =
        "connect " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    throw std::runtime_error(msg);
  }
  return SmtpClient(fd, timeout);
}

SmtpClient& SmtpClient::operator=(SmtpClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    timeout_ = o.timeout_;
    buf_ = std::move(o.buf_);
  }
  return *this;
}

SmtpClient::~SmtpClient() {
  close();
}

void SmtpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SmtpClient::read_line(std::string& line, Clock::time_point deadline) {
  for (;;) {
    const auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return true;
    }
    if (buf_.size() > kMaxLine) throw std::runtime_error("SMTP reply line too long");
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) throw std::runtime_error("SMTP reply timed out");
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    char tmp[2048];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // EOF or reset
    buf_.append(tmp, static_cast<std::size_t>(n));
  }
}

SmtpReply SmtpClient::read_reply() {
  const auto start = Clock::now();
  const auto deadline = start + timeout_;
  SmtpReply reply;
  std::string line;
  for (int i = 0; i < kMaxLines; ++i) {
    if (!read_line(line, deadline)) {
      reply.code = 0;
      reply.closed = true;
      break;
    }
    if (line.size() < 3) throw std::runtime_error("malformed SMTP reply line: " + line);
    if (!reply.text.empty()) reply.text += '\n';
    reply.text += line.size() > 4 ? line.substr(4) : "";
    if (line.size() == 3 || line[3] == ' ') {
      reply.code = std::stoi(line.substr(0, 3));
      break;
    }
  }
  reply.elapsed = Clock::now() - start;
  return reply;
}

void SmtpClient::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("SMTP send failed: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
}

SmtpReply SmtpClient::command(const std::string& line) {
  const auto start = Clock::now();
  try {
    send_raw(line + "\r\n");
  } catch (const std::runtime_error&) {
    SmtpReply r;
    r.closed = true;
    return r;
  }
  SmtpReply r = read_reply();
  r.elapsed = Clock::now() - start;
  return r;
}

std::string SmtpClient::read_all(std::size_t max) {
  const auto deadline = Clock::now() + timeout_;
  std::string out = std::move(buf_);
  buf_.clear();
  char tmp[8192];
  while (fd_ >= 0 && out.size() < max) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) throw std::runtime_error("read timed out");
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll failed");
    }
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(tmp, static_cast<std::size_t>(n));
  }
  return out;
}

bool SmtpClient::wait_closed(std::chrono::milliseconds within) {
  const auto deadline = Clock::now() + within;
  std::string line;
  try {
    while (read_line(line, deadline)) {
    }
  } catch (const std::runtime_error&) {
    return false;  // timed out: still open
  }
  return true;
}

}  // namespace harden::testing
