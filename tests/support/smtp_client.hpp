// smtp_client.hpp - a small, deterministic SMTP client for the real-MTA
// tests: it says exactly what the test tells it, when the test tells it.
//
// SYNOPSIS
//   SmtpClient c = SmtpClient::connect("127.0.0.1", 2525, 10s);
//   SmtpReply g = c.read_reply();               // the 220 greeting (or 554 / 421 ...)
//   SmtpReply r = c.command("EHLO client.test");
//   r.code == 250; r.text; r.elapsed;           // multi-line replies joined with '\n'
//   c.send_raw("EHLO early\r\n");               // a slammer: talk before the greeting
//   c.command("QUIT");
//
// A reply is read up to its last line ("250 ..." after "250-..." lines).
// When the server closes the connection without (more) reply, read_reply
// returns code 0 and closed = true instead of throwing, since a dropped
// connection is often what a test expects. A reply that takes longer than
// the timeout throws std::runtime_error. Lines are bounded (4 KiB) and a
// reply to at most 100 lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace harden::testing {

struct SmtpReply {
  int code = 0;      // 0: connection closed before a complete reply
  std::string text;  // the lines without their codes, joined with '\n'
  bool closed = false;
  std::chrono::nanoseconds elapsed{0};

  std::string describe() const;  // "421 4.3.2 ... (12 ms)"
};

class SmtpClient {
 public:
  // `source`: a local IPv4 address to connect from ("" = the kernel's choice).
  static SmtpClient connect(const std::string& host, std::uint16_t port,
                            std::chrono::milliseconds timeout, const std::string& source = "");

  SmtpClient(SmtpClient&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), timeout_(o.timeout_), buf_(std::move(o.buf_)) {}
  SmtpClient& operator=(SmtpClient&& o) noexcept;
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;
  ~SmtpClient();

  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  SmtpReply read_reply();
  // Sends `line` + CRLF and reads the reply; elapsed counts from the send.
  SmtpReply command(const std::string& line);
  void send_raw(const std::string& bytes);
  // True if the server closes the connection within `within` (data read
  // meanwhile is discarded).
  bool wait_closed(std::chrono::milliseconds within);
  // Everything until the server closes (at most `max` bytes, within the timeout).
  std::string read_all(std::size_t max);
  void close();

 private:
  SmtpClient(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
  // One line without CRLF; false on EOF.
  bool read_line(std::string& line, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::string buf_;
};

}  // namespace harden::testing
