// text_util.hpp - small string helpers shared by the db sources (internal).
//
//   quote(s)        'text' safe to put in an error message (\xNN for the rest)
//   trim(s)         without leading/trailing blanks (space, tab, CR)
//   iequals(a, b)   ASCII case-insensitive comparison
//   lower(s)        ASCII lower-case copy
#pragma once

#include <string>
#include <string_view>

#include "harden/policy/text.hpp"

namespace harden::db::detail {

using policy::quote;

inline bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace harden::db::detail
