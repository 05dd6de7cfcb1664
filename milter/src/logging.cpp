// logging.cpp - stderr and syslog sinks.
#include "harden/milter/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <memory>
#include <vector>

namespace harden::milter {
namespace {

spdlog::level::level_enum level_of(LogLevel l) {
  switch (l) {
    case LogLevel::trace:
      return spdlog::level::trace;
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
    case LogLevel::critical:
      return spdlog::level::critical;
    case LogLevel::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

void setup_logging(LogLevel level, bool syslog) {
  std::vector<spdlog::sink_ptr> sinks;
  auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  err->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  sinks.push_back(err);
  if (syslog) {
    auto sys =
        std::make_shared<spdlog::sinks::syslog_sink_mt>("milter-harden", LOG_PID, LOG_MAIL, true);
    sys->set_pattern("%v");
    sinks.push_back(sys);
  }
  auto logger = std::make_shared<spdlog::logger>("milter-harden", sinks.begin(), sinks.end());
  logger->set_level(level_of(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace harden::milter
