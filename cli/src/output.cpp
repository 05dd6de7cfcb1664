// output.cpp - tables, rule listings and JSON for hardenctl.
#include "output.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "harden/policy/ascii.hpp"

namespace harden::cli {

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {
  for (auto& cell : header_) cell = printable(cell);
}

void Table::add(std::vector<std::string> row) {
  row.resize(header_.size());
  for (auto& cell : row) cell = printable(cell);
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out, std::string_view indent) const {
  std::vector<std::size_t> width(header_.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], std::min(row[i].size(), kMaxColumnWidth));
    }
  };
  widen(header_);
  for (const auto& row : rows_) widen(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string text(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      text += row[i];
      if (i + 1 == row.size()) break;
      text.append(width[i] > row[i].size() ? width[i] - row[i].size() : 0, ' ');
      text += "  ";
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line(header_);
  for (const auto& row : rows_) line(row);
}

std::string printable(std::string_view text) {
  return ascii::escape(text, {}, ascii::High::keep);
}

std::string quote_value(std::string_view value) {
  const bool plain =
      !value.empty() && value.find_first_of(" \t\"'\\$`;&|<>()*?#~") == std::string_view::npos;
  if (plain) return std::string(value);
  std::string out = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string attrs_text(const policy::Attributes& attrs) {
  std::string out;
  for (const auto& info : policy::attributes()) {
    const auto value = attrs.get(info.attr);
    if (!value) continue;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", info.name, quote_value(*value));
  }
  return out;
}

std::string expires_text(const policy::Rule& rule, policy::UnixTime now) {
  if (!rule.expires) return "-";
  std::string text = policy::format_time(*rule.expires);
  if (rule.expired(now)) text += " (expired)";
  return text;
}

nlohmann::json attrs_json(const policy::Attributes& attrs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& info : policy::attributes()) {
    if (const auto value = attrs.get(info.attr)) j[std::string(info.name)] = *value;
  }
  return j;
}

nlohmann::json rule_json(const policy::Rule& rule, policy::UnixTime now) {
  nlohmann::json j;
  j["id"] = rule.id;
  j["selector"] = rule.selector.text();
  j["kind"] = std::string(rule.selector.kind_name());
  j["priority"] = rule.priority;
  j["attrs"] = attrs_json(rule.attrs);
  j["expires"] = rule.expires ? nlohmann::json(policy::format_time(*rule.expires)) : nullptr;
  j["expired"] = rule.expired(now);
  j["comment"] = rule.comment;
  return j;
}

void print_json(std::ostream& out, const nlohmann::json& j) {
  out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

namespace {

std::string priority_text(const policy::Rule& rule) {
  return rule.selector.kind() == policy::Selector::Kind::pattern ? std::to_string(rule.priority)
                                                                 : "-";
}

}  // namespace

void print_rules(std::ostream& out, const std::vector<policy::Rule>& rules, policy::UnixTime now,
                 bool json) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& rule : rules) arr.push_back(rule_json(rule, now));
    print_json(out, arr);
    return;
  }
  Table table({"SELECTOR", "KIND", "PRIORITY", "EXPIRES", "COMMENT", "ATTRIBUTES"});
  for (const auto& rule : rules) {
    table.add({rule.selector.text(), std::string(rule.selector.kind_name()), priority_text(rule),
               expires_text(rule, now), rule.comment.empty() ? "-" : rule.comment,
               attrs_text(rule.attrs)});
  }
  table.print(out);
}

void print_rule_detail(std::ostream& out, const policy::Rule& rule, policy::UnixTime now) {
  Table head({"selector", rule.selector.text()});
  head.add({"kind", std::string(rule.selector.kind_name())});
  if (rule.selector.kind() == policy::Selector::Kind::pattern) {
    head.add({"priority", std::to_string(rule.priority)});
  }
  head.add({"expires", rule.expires ? expires_text(rule, now) : "never"});
  head.add({"comment", rule.comment.empty() ? "-" : rule.comment});
  head.print(out);
  Table attrs({"ATTRIBUTE", "VALUE"});
  for (const auto& info : policy::attributes()) {
    if (const auto value = rule.attrs.get(info.attr)) attrs.add({std::string(info.name), *value});
  }
  out << (attrs.empty() ? "no attributes set\n" : "attributes\n");
  if (!attrs.empty()) attrs.print(out, "  ");
}

}  // namespace harden::cli
