// text_util.hpp - small string helpers shared by the db sources (internal).
//
//   quote(s)        'text' safe to put in an error message (\xNN for the rest)
//   trim(s)         without leading/trailing ASCII white space (ascii::is_space)
//   istarts_with(s, prefix)  ASCII case-insensitive prefix test
//
// Byte classes, case and iequals are ascii.hpp's (harden::ascii).
#pragma once

#include <string>
#include <string_view>

#include "harden/policy/ascii.hpp"
#include "harden/policy/text.hpp"

namespace harden::db::detail {

using policy::quote;

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && ascii::is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && ascii::is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && ascii::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace harden::db::detail
