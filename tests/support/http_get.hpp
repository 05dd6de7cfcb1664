// http_get.hpp - a minimal HTTP/1.0 GET over loopback, for scraping the
// daemon's Prometheus endpoint in tests and the benchmark.
//
// SYNOPSIS
//   std::string body = http_get("127.0.0.1", 9894, "/metrics", 5s);   // throws on failure
//   std::optional<double> v = metric_value(body, "milter_harden_reload_failure_total");
//   metric_value(body, "milter_harden_decisions_total{kind=\"conn_rate\",outcome=\"tempfail\"}");
//
// http_get() throws std::runtime_error unless the status is 200; the body is
// bounded at 16 MiB. metric_value() finds the sample whose name (with its
// labels, exactly as rendered) starts a line; nullopt if absent.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace harden::testing {

std::string http_get(const std::string& host, std::uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout);
std::optional<double> metric_value(const std::string& body, const std::string& sample);

}  // namespace harden::testing
