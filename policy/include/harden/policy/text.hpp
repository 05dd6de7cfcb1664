// text.hpp - text helpers every layer uses for untrusted input.
//
//   quote(s)            'text' safe to put in an error or log message
//   parse_decimal(s, m) digits only, no sign or space, value <= m
//
// Byte classes, case and \xNN escaping are in ascii.hpp.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harden/policy/ascii.hpp"

namespace harden::policy {

// 'text' for an error message: printable ASCII kept, anything else as \xNN,
// cut after `max` characters. Safe to print whatever the input was.
inline std::string quote(std::string_view s, std::size_t max = 80) {
  return "'" + ascii::escape(s.substr(0, max)) + (s.size() > max ? "...'" : "'");
}

// Digits only (no sign, no space), value <= max; nullopt otherwise.
inline std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s) {
    if (!ascii::is_digit(c)) return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace harden::policy
