// common.hpp - internal helpers of the generators.
//
// SYNOPSIS
//   std::string s = comment_text(untrusted);        printable, no quotes, bounded
//   std::string q = quote(untrusted);               'text' for error messages
//   std::string h = header(from, "dnl # ", lines);  the provenance comment
//   auto order = live_rules_by_specificity(p, now); rule indices, most specific first
//   std::string who = rule_name(rule);               "rule 192.0.2.0/24 (id 7)"
//   bool ok = is_safe_hostname(name);
//   std::uint32_t ms = longest_greet_pause(p, now);  auto t = earliest_expiry(p, now);
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harden/mtaconf/generate.hpp"
#include "harden/policy/ascii.hpp"
#include "harden/policy/policy.hpp"
#include "harden/policy/text.hpp"

namespace harden::mtaconf::detail {

// `text` for a comment line of any generated syntax: printable ASCII except
// ` ' " and \ (each becomes '?'), cut after `max` characters.
std::string comment_text(std::string_view text, std::size_t max = 120);

// 'text' for an error message: printable ASCII kept, anything else as \xNN,
// cut after 80 characters.
using policy::quote;

// The provenance comment, one `prefix`ed line each: generator and store, the
// do-not-edit line, then `lines`.
std::string header(const Provenance& from, std::string_view prefix,
                   std::initializer_list<std::string_view> lines);

// Indices into p.rules() of the rules that are not expired at `now`,
// most specific first: addresses, networks (longest prefix first), hosts,
// suffixes (longest first), patterns (priority, then position), default.
// This is the order in which Policy::resolve() lets a rule win.
std::vector<std::size_t> live_rules_by_specificity(const policy::Policy& p, policy::UnixTime now);

// "rule 192.0.2.0/24" (selector sanitised for messages), plus " (id N)" when stored.
std::string rule_name(const policy::Rule& r);

// A character of the socket paths and directories written unquoted into
// MTA configuration: letters, digits and . _ / + -.
constexpr bool is_path_char(char c) {
  return ascii::is_alnum(c) || c == '.' || c == '_' || c == '/' || c == '+' || c == '-';
}

// Letters, digits, '-', '_' and dots only, 1..253 characters, no empty label.
bool is_safe_hostname(std::string_view name);

// The text of a block/tempfail without a reason (the milter's, policy/decision.cpp).
inline constexpr std::string_view kDefaultRefusalText = "Access denied";

// The longest greet_pause (ms) of the rules live at `now`; 0 if none.
std::uint32_t longest_greet_pause(const policy::Policy& p, policy::UnixTime now);

// The earliest `expires` of the rules live at `now`, if any.
std::optional<policy::UnixTime> earliest_expiry(const policy::Policy& p, policy::UnixTime now);

// Seconds rounded up from milliseconds.
std::chrono::seconds ceil_seconds(std::uint32_t ms);

}  // namespace harden::mtaconf::detail
