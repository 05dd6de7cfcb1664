// text.hpp - text helpers every layer uses for untrusted input.
//
//   quote(s)            'text' safe to put in an error or log message
//   parse_decimal(s, m) digits only, no sign or space, value <= m
//   ascii_lower(c)      ASCII lower case (no locale)
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace harden::policy {

// 'text' for an error message: printable ASCII kept, anything else as \xNN,
// cut after `max` characters. Safe to print whatever the input was.
inline std::string quote(std::string_view s, std::size_t max = 80) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  if (s.size() > max) out += "...";
  return out + "'";
}

// Digits only (no sign, no space), value <= max; nullopt otherwise.
inline std::optional<std::uint64_t> parse_decimal(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

}  // namespace harden::policy
