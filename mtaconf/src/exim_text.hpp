// exim_text.hpp - Exim syntax pieces shared by the Exim generators.
//
// SYNOPSIS
//   std::vector<HostCondition> c = host_conditions(rule);  // one per selector term
//   std::string s = host_list({items...}, indent);          // "<; a ; \\\n    b"
//   std::string k = exim_rate(rule, rate);                  // "5.1 / 400s" or "0"
//   auto items = prefilter_items(regexes);                  // "*.isp.example", \N(?:..|..)\N
//
// Host list items are written for a `<;`-separated list: a ';' inside an item
// is doubled. Regex items are \N^(?i).*?(?:REGEX)\N, i.e. an unanchored,
// case-insensitive search as Postfix pcre tables and the milter do; a regex
// holding "\N" (Exim's expansion quote) or anything but printable ASCII is
// refused with GenerateError naming the rule.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/rate.hpp"
#include "harden/policy/rule.hpp"

namespace harden::mtaconf::detail {

struct HostCondition {
  bool negated = false;  // "!hosts = ..."
  std::string item;      // one host list item
  std::string regex;     // a pattern term's regex as written into `item`; else ""
};

// The conditions a client must meet to match `r` (empty for the default
// rule): address/network -> the network, host -> an anchored regex,
// suffix -> *.suffix, pattern -> one condition per term.
std::vector<HostCondition> host_conditions(const policy::Rule& r);

// True when `r` is matched by one positive item (all but negated or
// multi-term patterns), so it can share a list with others.
bool single_item(const policy::Rule& r);

// Host list items that match every name at least one of `regexes` (pattern
// terms' HostCondition::regex) matches, cheaper to try than the regexes one
// by one: "*SUFFIX" for a regex that can only match names ending in a
// literal suffix (it ends in literal characters then an unescaped `$`, with
// no top-level `|`), then the others joined into alternations of up to
// kRegexesPerAlternation (a regex with back references, named groups or
// other numbering-sensitive constructs keeps an item of its own).
// Exim compares "*suffix" items caselessly, as the regexes are (?i).
inline constexpr std::size_t kRegexesPerAlternation = 50;
std::vector<std::string> prefilter_items(const std::vector<std::string>& regexes);

// The literal every match of `regex` must end with ("" when there is none).
std::string required_suffix(std::string_view regex);

// "<; a ; b ..." with one item per continued line after the first.
std::string host_list(const std::vector<std::string>& items, std::string_view indent);

// An Exim ratelimit "m / p" for the policy's N / W (or "0" for unlimited)
// such that Exim never admits N + 1 events within any W, yet a fresh burst of
// N passes: m = N + 0.1, p = ceil(10 (N + 1) W / 9) seconds (the argument
// is above kEximRateBound in exim_text.cpp). `rule` is named in the
// GenerateError for a period beyond Exim's time values (2^31 - 1 s).
std::string exim_rate(const policy::Rule& rule, const policy::Rate& rate);

// The comment, for the generated file, on what exim_rate's settings admit.
extern const std::string_view kEximRateBound;

}  // namespace harden::mtaconf::detail
