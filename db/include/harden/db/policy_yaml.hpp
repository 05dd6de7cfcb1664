// policy_yaml.hpp - the whole policy as YAML, for version control.
//
//   version: 1
//   rules:
//     - selector: default
//       conn_rate: 5/1m
//       conn_limit: 3
//     - selector: 127.0.0.0/8
//       action: allow
//       comment: loopback
//
// export_policy_yaml(rules) then parse_policy_yaml() gives the same rules
// (ids aside). Unknown keys, bad values and duplicate selectors are
// ImportError "file:line: message".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harden/db/importers.hpp"
#include "harden/policy/rule.hpp"

namespace harden::db {

std::string export_policy_yaml(const std::vector<policy::Rule>& rules, std::string_view origin);
std::vector<policy::Rule> parse_policy_yaml(std::string_view text, std::string_view filename);

}  // namespace harden::db
