// ascii.hpp - the one set of byte/ASCII helpers for every layer (header-only,
// needs only the standard library, so milter/src/protocol.cpp can be built
// alone for the fuzzer with it).
//
// SYNOPSIS
//   ascii::is_digit(c)  is_alpha(c)  is_alnum(c)  is_xdigit(c)  is_upper(c)  is_lower(c)
//   ascii::is_space(c)  ' ' \t \n \v \f \r
//   ascii::is_print(c)  printable ASCII, 0x20..0x7e
//   ascii::is_control(c) 0x00..0x1f and 0x7f (not bytes >= 0x80)
//   ascii::to_lower(c)  ascii::to_upper(c)  ascii::to_lower(s) -> std::string
//   ascii::iequals(a, b)                     ASCII case-insensitive equality
//   ascii::escape(s)                         every byte outside 0x20..0x7e as \xNN
//   ascii::escape(s, "\"\\")                 ... and a backslash before " and \ too
//   ascii::escape(s, "", ascii::High::keep)  ... but bytes >= 0x80 as they are
//
// Bytes are classified as ASCII alone: no locale, no <cctype> (whose functions
// are undefined for a negative char and locale-dependent above 0x7f). A byte
// >= 0x80 is never a letter, digit, space or printable character, and
// to_lower/to_upper leave it as it is.
//
// The one escaping rule: bytes 0x20..0x7e are kept (those listed in
// `backslashed` get a backslash before them); every other byte - 0x00..0x1f,
// 0x7f and every byte >= 0x80 - becomes \xNN, two lower-case hex digits.
// Whatever the input, the result is one line of printable ASCII that cannot
// drive a terminal or a log parser. The only exception is High::keep, which
// passes bytes >= 0x80 through (UTF-8 stays readable) for output that is
// UTF-8 text by nature: hardenctl's terminal output and the YAML that
// milter-harden --print-config writes (in YAML "\xc3" would mean U+00C3, not
// the byte, so escaping would change the value read back).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace harden::ascii {

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
constexpr bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
constexpr bool is_alpha(char c) {
  return is_upper(c) || is_lower(c);
}
constexpr bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}
constexpr bool is_xdigit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
constexpr bool is_print(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u <= 0x7e;
}

constexpr bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

constexpr char to_lower(char c) {
  return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr char to_upper(char c) {
  return is_lower(c) ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// What escape() does with bytes >= 0x80 (see the header comment).
enum class High { escape, keep };

inline std::string escape(std::string_view s, std::string_view backslashed = {},
                          High high = High::escape) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (is_print(c)) {
      if (backslashed.find(c) != std::string_view::npos) out += '\\';
      out += c;
    } else if (u >= 0x80 && high == High::keep) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

}  // namespace harden::ascii
