// importers.cpp - what the importers share, and planning/applying an import.
//
// The three file formats live in import_sendmail.cpp, import_hosts_deny.cpp
// and import_postfix_pcre.cpp; this file has the bounded line reader, the
// reply-text cleaning and plan_import()/apply_import().
#include "harden/db/importers.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "harden/policy/error.hpp"
#include "import_util.hpp"
#include "text_util.hpp"

namespace harden::db {
namespace detail {
namespace {

constexpr std::size_t kMaxFileNameInComment = 100;

}  // namespace

LineReader::LineReader(std::istream& in, std::string_view file) : in_(in), file_(file) {
  if (!in_) fail(0, "cannot read the input");
}

bool LineReader::next(std::string& line) {
  line.clear();
  std::streambuf* sb = in_.rdbuf();
  if (sb == nullptr) return false;
  bool any = false;
  for (;;) {
    const int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) break;
    any = true;
    if (c == '\n') break;
    if (c == '\0') fail(line_no_ + 1, "NUL byte in line (binary file?)");
    if (line.size() >= kMaxImportLineLength) {
      fail(line_no_ + 1, "line longer than " + std::to_string(kMaxImportLineLength) + " bytes");
    }
    line.push_back(static_cast<char>(c));
  }
  if (!any) return false;
  if (++line_no_ > kMaxImportLines) {
    fail(line_no_, "more than " + std::to_string(kMaxImportLines) + " lines");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

void LineReader::fail(std::size_t line, std::string_view msg) const {
  const std::string where = line == 0 ? file_ : file_ + ":" + std::to_string(line);
  throw ImportError(where + ": " + std::string(msg));
}

void LineReader::note(ImportResult& r, std::size_t line, std::string_view msg) const {
  r.notes.push_back(file_ + ":" + std::to_string(line) + ": " + std::string(msg));
}

std::string LineReader::comment(std::size_t line) const {
  std::string name;
  for (char c : std::string_view(file_).substr(0, kMaxFileNameInComment)) {
    name += ascii::is_print(c) ? c : '?';
  }
  return "import " + name + ":" + std::to_string(line);
}

policy::Rule& RuleSet::get(const policy::Selector& sel, const std::string& comment) {
  auto [it, inserted] = index_.try_emplace(sel.text(), rules_.size());
  if (inserted) {
    policy::Rule r;
    r.selector = sel;
    r.comment = comment;
    rules_.push_back(std::move(r));
  }
  return rules_[it->second];
}

bool RuleSet::contains(const policy::Selector& sel) const {
  return index_.count(sel.text()) != 0;
}

bool is_enhanced_code(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t dots = 0;
  std::size_t run = 0;
  for (char c : s.substr(2)) {
    if (c == '.') {
      if (run == 0) return false;
      ++dots;
      run = 0;
    } else if (ascii::is_digit(c) && ++run <= 3) {
      continue;
    } else {
      return false;
    }
  }
  return dots == 1 && run > 0;
}

std::string clean_reason(const LineReader& r, ImportResult& result, std::size_t line,
                         std::string_view text) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      gap = !out.empty();
      continue;
    }
    if (!ascii::is_print(c)) {
      r.fail(line, "reply text " + quote(text) + " has a character other than printable ASCII");
    }
    if (gap) out += ' ';
    gap = false;
    out += c;
  }
  const auto sp = out.find(' ');
  if (is_enhanced_code(std::string_view(out).substr(0, sp))) {
    out = sp == std::string::npos ? std::string() : out.substr(sp + 1);
  }
  if (out.size() > policy::kMaxReasonLength) {
    out.resize(policy::kMaxReasonLength);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    r.note(result, line,
           "reply text cut to " + std::to_string(policy::kMaxReasonLength) + " characters");
  }
  return out;
}

std::vector<std::string_view> split_any(std::string_view s, std::string_view seps) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t j = s.find_first_of(seps, i);
    const std::size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.push_back(s.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

std::optional<policy::IpNetwork> parse_octets(std::string_view s) {
  std::uint32_t addr = 0;
  unsigned count = 0;
  std::size_t i = 0;
  while (i <= s.size()) {
    std::size_t dot = s.find('.', i);
    if (dot == std::string_view::npos) dot = s.size();
    const std::string_view part = s.substr(i, dot - i);
    if (part.empty() || part.size() > 3 || ++count > 4) return std::nullopt;
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
    unsigned v = 0;
    for (char c : part) {
      if (!ascii::is_digit(c)) return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 255) return std::nullopt;
    addr |= v << (8 * (4 - count));
    i = dot + 1;
  }
  return policy::IpNetwork(policy::IpAddress::v4(addr), 8 * count);
}

}  // namespace detail

namespace {

std::size_t count_kind(const ImportPlan& p, ImportChange::Kind k) {
  return static_cast<std::size_t>(std::count_if(
      p.changes.begin(), p.changes.end(), [k](const ImportChange& c) { return c.kind == k; }));
}

void check_rule(const policy::Rule& r) {
  try {
    r.validate();
  } catch (const policy::PolicyError& e) {
    throw ImportError(e.what());
  }
}

}  // namespace

std::size_t ImportPlan::added() const {
  return count_kind(*this, ImportChange::Kind::add);
}
std::size_t ImportPlan::updated() const {
  return count_kind(*this, ImportChange::Kind::update);
}
std::size_t ImportPlan::unchanged() const {
  return count_kind(*this, ImportChange::Kind::unchanged);
}

ImportPlan plan_import(const Store& store, const ImportResult& result) {
  const std::vector<policy::Rule> stored = store.rules();
  std::unordered_map<std::string, const policy::Rule*> by_selector;
  std::int64_t next_priority = 0;
  for (const auto& r : stored) {
    by_selector.emplace(r.selector.text(), &r);
    if (r.selector.kind() == policy::Selector::Kind::pattern) {
      next_priority = std::max(next_priority, r.priority);
    }
  }
  ImportPlan plan;
  std::unordered_set<std::string> seen;
  std::vector<std::pair<std::int64_t, std::size_t>> new_patterns;  // imported priority, change
  for (const policy::Rule& imported : result.rules) {
    const std::string text = imported.selector.text();
    if (!seen.insert(text).second) throw ImportError("the import has two rules for " + text);
    ImportChange change{ImportChange::Kind::add, imported, std::nullopt};
    if (auto it = by_selector.find(text); it != by_selector.end()) {
      change.before = *it->second;
      change.rule = *it->second;
      for (const auto& a : policy::attributes()) {
        if (auto v = imported.attrs.get(a.attr)) change.rule.attrs.set(a.attr, *v);
      }
      change.kind = change.rule == *change.before ? ImportChange::Kind::unchanged
                                                  : ImportChange::Kind::update;
    } else {
      change.rule.id = 0;
      change.rule.priority = 0;
      if (change.rule.selector.kind() == policy::Selector::Kind::pattern) {
        new_patterns.emplace_back(imported.priority, plan.changes.size());
      }
    }
    check_rule(change.rule);
    plan.changes.push_back(std::move(change));
  }
  // New pattern rules go after the stored ones, in the file's order.
  std::stable_sort(new_patterns.begin(), new_patterns.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& np : new_patterns) plan.changes[np.second].rule.priority = ++next_priority;
  return plan;
}

void apply_import(Store& store, const ImportPlan& plan) {
  store.transaction([&] {
    for (const auto& c : plan.changes) {
      if (c.kind == ImportChange::Kind::add) {
        store.add(c.rule);
        continue;
      }
      const auto now = store.find(c.before ? c.before->id : c.rule.id);
      if (!now || !c.before || *now != *c.before) {
        throw ImportError("the store changed since the import was planned (rule for " +
                          c.rule.selector.text() + "); plan it again");
      }
      if (c.kind == ImportChange::Kind::update) store.update(c.rule);
    }
  });
}

}  // namespace harden::db
