// config_values.hpp - the typed value parsers of the config key table
// (internal to config.cpp and its tests).
//
// Each parser takes the raw YAML scalar text, validates it strictly and
// throws ConfigError with a short reason ("'40' is out of range 8..32"); the
// caller prefixes the key and the file. Text quoted in an error is made
// printable and cut short, since it is hostile input.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "harden/milter/config.hpp"

namespace harden::milter::config_values {

// `s` quoted for an error line: control bytes as \xNN, at most `max` bytes.
std::string printable(std::string_view s, std::size_t max = 80);

template <class E>
E parse_choice(std::string_view v, std::initializer_list<std::pair<std::string_view, E>> choices) {
  std::string names;
  for (const auto& [name, value] : choices) {
    if (name == v) return value;
    names += (names.empty() ? "" : ", ") + std::string(name);
  }
  throw ConfigError("'" + printable(v) + "' is not one of " + names);
}

bool parse_bool(std::string_view v);                                  // true|false|yes|no|on|off
std::uint64_t parse_integer(std::string_view v, const ConfigKey& k);  // decimal, within bounds
std::uint64_t parse_size(std::string_view v, const ConfigKey& k);  // 1048576, 512KiB, 256MiB, 1GiB
// policy::parse_duration_ms's grammar (500ms, 9s, 5m, 1h; bare digits are ms),
// within the key's bounds.
std::chrono::milliseconds parse_duration(std::string_view v, const ConfigKey& k);
std::string format_size(std::uint64_t bytes);              // largest exact unit: "256MiB"
std::string format_duration(std::chrono::milliseconds d);  // largest exact unit: "9s"
// A bound of `k` in its own unit (size, duration or plain number).
std::string format_number(const ConfigKey& k, std::uint64_t n);

// An absolute path (or ":memory:" when allowed), no control characters.
std::string parse_path(std::string_view v, bool allow_memory);
// Empty, or an absolute path short enough for a unix socket address.
std::string parse_socket_path(std::string_view v);
// A decimal port 1..65535; `whole` is quoted in the error.
std::uint16_t parse_port(std::string_view text, std::string_view whole);
// Empty, or a user / group name: letters, digits, '.', '_', '-'; at most 32.
std::string parse_account(std::string_view v);
// redis_key_prefix: 1..64 printable ASCII characters, no spaces.
std::string parse_key_prefix(std::string_view v);
// host_id: empty, or letters, digits, '.', '_', '-'; at most 64.
std::string parse_host_id(std::string_view v);

}  // namespace harden::milter::config_values
