// http_get.cpp - HTTP/1.0 GET with a deadline, and Prometheus sample lookup.
#include "support/http_get.hpp"

#include <sstream>
#include <stdexcept>

#include "support/smtp_client.hpp"

namespace harden::testing {

std::string http_get(const std::string& host, std::uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout) {
  // The SMTP client is a line-oriented TCP client with deadlines; HTTP/1.0
  // with "Connection: close" needs no more than that.
  SmtpClient c = SmtpClient::connect(host, port, timeout);
  c.set_timeout(timeout);
  c.send_raw("GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
  std::string all = c.read_all(16u << 20);
  const auto head_end = all.find("\r\n\r\n");
  if (head_end == std::string::npos) throw std::runtime_error("no HTTP header from " + path);
  const std::string status_line = all.substr(0, all.find("\r\n"));
  if (status_line.find(" 200") == std::string::npos)
    throw std::runtime_error("GET " + path + ": " + status_line);
  return all.substr(head_end + 4);
}

std::optional<double> metric_value(const std::string& body, const std::string& sample) {
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.size() > sample.size() && line.compare(0, sample.size(), sample) == 0 &&
        line[sample.size()] == ' ') {
      try {
        return std::stod(line.substr(sample.size() + 1));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

}  // namespace harden::testing
