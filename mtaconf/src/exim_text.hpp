// exim_text.hpp - Exim syntax pieces shared by the Exim generators.
//
// SYNOPSIS
//   std::vector<HostCondition> c = host_conditions(rule);  // one per selector term
//   std::string s = host_list({items...}, indent);          // "<; a ; \\\n    b"
//   std::string k = exim_rate(rate);                        // "5.5 / 1m" or "0"
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
};

// The conditions a client must meet to match `r` (empty for the default
// rule): address/network -> the network, host -> an anchored regex,
// suffix -> *.suffix, pattern -> one condition per term.
std::vector<HostCondition> host_conditions(const policy::Rule& r);

// True when `r` is matched by one positive item (all but negated or
// multi-term patterns), so it can share a list with others.
bool single_item(const policy::Rule& r);

// "<; a ; b ..." with one item per continued line after the first.
std::string host_list(const std::vector<std::string>& items, std::string_view indent);

// An Exim ratelimit "m / p": N + 0.5 (Exim refuses once its smoothed rate
// reaches m, and a new client's first event measures exactly 1), or "0".
std::string exim_rate(const policy::Rate& r);

}  // namespace harden::mtaconf::detail
