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
// export_policy_yaml(rules, origin) writes a header comment (generator and
// origin), then version: 1 and one map per rule: selector, priority (pattern
// rules), the attributes that are set in table order, expires, comment.
// parse_policy_yaml() of that text gives the same rules (ids aside).
//
// Reading is strict: a missing or other version, unknown keys, duplicate
// keys, lists or maps where a value belongs, bad values, priority on a
// non-pattern rule, invalid rules and duplicate selectors are ImportError
// "file:line: message". Input is bounded to kMaxPolicyYamlBytes, NUL bytes
// refused.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "harden/db/importers.hpp"
#include "harden/policy/rule.hpp"

namespace harden::db {

inline constexpr std::size_t kMaxPolicyYamlBytes = 64 * 1024 * 1024;

std::string export_policy_yaml(const std::vector<policy::Rule>& rules, std::string_view origin);
std::vector<policy::Rule> parse_policy_yaml(std::string_view text, std::string_view filename);

}  // namespace harden::db
