// policy_yaml.cpp - the whole policy as YAML (export and strict import).
#include "harden/db/policy_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "harden/policy/error.hpp"
#include "text_util.hpp"

namespace harden::db {
namespace {

using detail::quote;
using policy::Rule;

constexpr std::int64_t kMaxPriority = 1'000'000'000'000;

// One line of printable ASCII for the header comment.
std::string comment_text(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    out += ascii::is_print(c) ? c : '?';
  }
  return out;
}

void emit_rule(YAML::Emitter& out, const Rule& r) {
  const bool pattern = r.selector.kind() == policy::Selector::Kind::pattern;
  out << YAML::BeginMap << YAML::Key << "selector" << YAML::Value;
  // Single quotes keep a regex's backslashes as written ('\.' not "\\.").
  if (pattern) out << YAML::SingleQuoted;
  out << r.selector.text();
  if (pattern && r.priority != 0) out << YAML::Key << "priority" << YAML::Value << r.priority;
  for (const auto& a : policy::attributes()) {
    if (auto v = r.attrs.get(a.attr)) {
      out << YAML::Key << std::string(a.name) << YAML::Value << *v;
    }
  }
  if (r.expires) out << YAML::Key << "expires" << YAML::Value << policy::format_time(*r.expires);
  if (!r.comment.empty()) out << YAML::Key << "comment" << YAML::Value << r.comment;
  out << YAML::EndMap;
}

class YamlReader {
 public:
  explicit YamlReader(std::string_view file) : file_(file) {}

  std::vector<Rule> read(std::string_view text) {
    check_bytes(text);
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      fail(e.mark.is_null() ? 0 : static_cast<std::size_t>(e.mark.line) + 1, e.msg);
    }
    if (!root || root.IsNull()) fail(0, "empty policy file (expected version: 1 and rules:)");
    if (!root.IsMap()) fail(line(root), "expected a map with version: and rules:");
    std::optional<YAML::Node> version, version_key, rules;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = key_of(it->first);
      if (key == "version" && !version) {
        version = it->second;
        version_key = it->first;
      } else if (key == "rules" && !rules) {
        rules = it->second;
      } else {
        fail(line(it->first),
             (key == "version" || key == "rules" ? "duplicate key " : "unknown key ") + quote(key) +
                 " (expected version, rules)");
      }
    }
    if (!version) fail(line(root), "missing version: 1");
    if (const std::string v = scalar(*version, "version", *version_key); v != "1") {
      fail(line(*version), "unsupported version " + quote(v) + " (this build reads version 1)");
    }
    if (!rules) fail(line(root), "missing rules:");
    if (!rules->IsSequence()) fail(line(*rules, root), "rules: must be a list (- selector: ...)");
    std::vector<Rule> out;
    std::unordered_map<std::string, std::size_t> seen;  // selector -> line
    for (const auto& node : *rules) {
      out.push_back(rule(node));
      const auto [it, fresh] = seen.try_emplace(out.back().selector.text(), line(node));
      if (!fresh) {
        fail(line(node), "duplicate selector " + out.back().selector.text() + " (first at line " +
                             std::to_string(it->second) + ")");
      }
    }
    return out;
  }

 private:
  [[noreturn]] void fail(std::size_t line, std::string_view msg) const {
    const std::string where = line == 0 ? file_ : file_ + ":" + std::to_string(line);
    throw ImportError(where + ": " + std::string(msg));
  }

  void check_bytes(std::string_view text) const {
    if (text.size() > kMaxPolicyYamlBytes) {
      fail(0, "larger than " + std::to_string(kMaxPolicyYamlBytes) + " bytes");
    }
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
      const auto lines = std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n');
      fail(static_cast<std::size_t>(lines) + 1, "NUL byte (binary file?)");
    }
  }

  static std::size_t line(const YAML::Node& n, const YAML::Node& fallback = YAML::Node()) {
    if (n.IsDefined() && !n.Mark().is_null()) return static_cast<std::size_t>(n.Mark().line) + 1;
    if (fallback.IsDefined() && !fallback.Mark().is_null()) {
      return static_cast<std::size_t>(fallback.Mark().line) + 1;
    }
    return 0;
  }

  std::string key_of(const YAML::Node& k) const {
    if (!k.IsScalar()) fail(line(k), "keys must be words, not lists or maps");
    return k.Scalar();
  }

  // `at`: the key, whose line names a missing value best.
  std::string scalar(const YAML::Node& v, std::string_view key, const YAML::Node& at) const {
    if (v.IsNull()) fail(line(at, v), quote(key) + " has no value");
    if (!v.IsScalar()) fail(line(v, at), quote(key) + " must be a single value, not a list or map");
    return v.Scalar();
  }

  Rule rule(const YAML::Node& node) {
    if (!node.IsMap()) fail(line(node), "a rule must be a map (selector: ... and attributes)");
    Rule r;
    bool has_selector = false;
    bool has_priority = false;
    std::unordered_set<std::string> keys;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = key_of(it->first);
      if (!keys.insert(key).second) fail(line(it->first), "duplicate key " + quote(key));
      const std::string value = scalar(it->second, key, it->first);
      const std::size_t at = line(it->second, it->first);
      try {
        if (key == "selector") {
          r.selector = policy::Selector::parse(value);
          has_selector = true;
        } else if (key == "priority") {
          r.priority = priority(value, at);
          has_priority = true;
        } else if (key == "expires") {
          r.expires = policy::parse_time(value);
        } else if (key == "comment") {
          policy::check_text("comment", value, policy::kMaxCommentLength);
          r.comment = value;
        } else {
          r.attrs.set(attribute(key, line(it->first)), value);
        }
      } catch (const policy::PolicyError& e) {
        fail(at, e.what());
      }
    }
    if (!has_selector) fail(line(node), "rule without selector:");
    if (has_priority && r.selector.kind() != policy::Selector::Kind::pattern) {
      fail(line(node), "priority: is only for pattern rules (rule " + r.selector.text() + ")");
    }
    try {
      r.validate();
    } catch (const policy::PolicyError& e) {
      fail(line(node), e.what());
    }
    return r;
  }

  policy::Attr attribute(const std::string& key, std::size_t at) const {
    std::string known = "selector, priority";
    for (const auto& a : policy::attributes()) {
      if (a.name == key) return a.attr;
      known += ", " + std::string(a.name);
    }
    fail(at, "unknown key " + quote(key) + " in rule (known: " + known + ", expires, comment)");
  }

  std::int64_t priority(const std::string& value, std::size_t at) const {
    std::int64_t p = 0;
    const bool digits = !value.empty() && value.size() <= 13 &&
                        std::all_of(value.begin(), value.end(), ascii::is_digit);
    if (digits) p = std::stoll(value);
    if (!digits || p < 1 || p > kMaxPriority) {
      fail(at, "priority: bad value " + quote(value) + " (expected 1.." +
                   std::to_string(kMaxPriority) + ")");
    }
    return p;
  }

  std::string file_;
};

}  // namespace

std::string export_policy_yaml(const std::vector<Rule>& rules, std::string_view origin) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap << YAML::Key << "version" << YAML::Value << 1;
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : rules) emit_rule(out, r);
  out << YAML::EndSeq << YAML::EndMap;
  if (!out.good()) throw DbError("cannot write the policy as YAML: " + out.GetLastError());
  return "# milter-harden policy, written by milter-harden (hardenctl export)\n"
         "# origin: " +
         comment_text(origin) + "\n# read it back with: hardenctl import policy FILE\n" +
         out.c_str() + "\n";
}

std::vector<Rule> parse_policy_yaml(std::string_view text, std::string_view filename) {
  return YamlReader(filename).read(text);
}

}  // namespace harden::db
