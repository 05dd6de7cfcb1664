// output.hpp - hardenctl's output: aligned tables for people, JSON for programs.
//
// SYNOPSIS
//   Table t({"SELECTOR", "KIND", "ATTRIBUTES"});
//   t.add({"default", "default", "conn_rate=5/1m"});
//   t.print(std::cout, "  ");                 columns aligned, last one not padded
//
//   attrs_text(rule.attrs)    conn_rate=5/1m conn_limit=3 reason="Dial-in, relay via ISP"
//   rule_json(rule, now)      {"id", "selector", "kind", "priority", "attrs": {name: text},
//                              "expires": "2026-12-31T23:59:59Z" | null, "expired", "comment"}
//   print_rules(out, rules, now, json)     a rule listing either way
//   print_json(out, j)        pretty-printed; bytes that are not UTF-8 become U+FFFD
//
// Attribute values are always their canonical text (policy::Attributes::get),
// in JSON too, so "5/1m" reads back with `rule set`. Control characters in
// table cells are shown as \xNN: nothing printed can drive the terminal.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/rule.hpp"

namespace harden::cli {

// Wider cells still print whole; they only stop widening their column.
inline constexpr std::size_t kMaxColumnWidth = 40;

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  void print(std::ostream& out, std::string_view indent = "") const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Control bytes as \xNN; bytes >= 0x80 kept, so UTF-8 stays readable
// (ascii::escape with High::keep).
std::string printable(std::string_view text);
// The value as a shell would need it: bare if plain, else double-quoted.
std::string quote_value(std::string_view value);

std::string attrs_text(const policy::Attributes& attrs);
std::string expires_text(const policy::Rule& rule, policy::UnixTime now);

nlohmann::json attrs_json(const policy::Attributes& attrs);
nlohmann::json rule_json(const policy::Rule& rule, policy::UnixTime now);

void print_json(std::ostream& out, const nlohmann::json& j);
void print_rules(std::ostream& out, const std::vector<policy::Rule>& rules, policy::UnixTime now,
                 bool json);
// One rule as "key  value" lines (rule show).
void print_rule_detail(std::ostream& out, const policy::Rule& rule, policy::UnixTime now);

}  // namespace harden::cli
