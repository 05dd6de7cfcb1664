// rule_commands.cpp - `hardenctl rule add|set|remove|list|show`.
//
//   rule add SELECTOR attr=value ... [--priority N] [--expires TIME] [--comment TEXT]
//   rule set SELECTOR [attr=value ...] [attr= ...] [--unset NAME ...] [--expires TIME|never]
//   rule remove SELECTOR
//   rule list [--kind KIND] [--json]
//   rule show SELECTOR [--json]
//
// Attribute names, value syntaxes and the help text come from the one table,
// policy::attributes(). Arguments are checked completely before the store is
// opened; each write is one store transaction.
#include <fmt/format.h>

#include <charconv>
#include <iostream>
#include <set>

#include "commands.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

using policy::Rule;
using policy::Selector;

// Pattern priorities are kept far from int64 overflow.
constexpr std::int64_t kMaxPriority = 1'000'000'000;

struct EditOptions {
  std::string selector;
  std::vector<std::string> assignments;
  std::vector<std::string> unset;
  std::string priority, expires, comment;
  CLI::Option* priority_opt = nullptr;
  CLI::Option* expires_opt = nullptr;
  CLI::Option* comment_opt = nullptr;
  bool json = false;
};

struct ListOptions {
  std::string kind;
  bool json = false;
};

std::int64_t parse_priority(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > kMaxPriority) {
    throw UsageError(
        fmt::format("--priority: '{}' is not a number from 1 to {}", text, kMaxPriority));
  }
  return value;
}

std::optional<policy::UnixTime> parse_expires(std::string_view text, bool allow_never) {
  if (allow_never && text == "never") return std::nullopt;
  const policy::UnixTime t = policy::parse_time(text);
  if (t <= now()) {
    throw UsageError(fmt::format("--expires: {} is in the past", policy::format_time(t)));
  }
  return t;
}

policy::Attr attr_named(std::string_view name) {
  if (name == "expires" || name == "comment" || name == "priority") {
    throw UsageError(fmt::format("{0} is not an attribute; use --{0}", name));
  }
  return policy::attr_from_name(name);
}

void check_allowed(const Selector& selector, policy::Attr attr) {
  const auto& info = policy::info(attr);
  if (info.default_only && selector.kind() != Selector::Kind::default_rule) {
    throw UsageError(fmt::format(
        "{} may only be set on the default rule (not on {} '{}'); use: hardenctl rule set default "
        "{}=VALUE",
        info.name, selector.kind_name(), selector.text(), info.name));
  }
}

// Applies "name=value" (and, when allowed, "name=" to unset) onto `rule`.
void apply_assignments(Rule& rule, const std::vector<std::string>& args, bool allow_unset) {
  std::set<policy::Attr> seen;
  for (const auto& arg : args) {
    const Assignment a = split_assignment(arg);
    const policy::Attr attr = attr_named(a.name);
    if (!seen.insert(attr).second) throw UsageError(fmt::format("{} is given twice", a.name));
    check_allowed(rule.selector, attr);
    if (!a.value.empty()) {
      rule.attrs.set(attr, a.value);
    } else if (allow_unset) {
      rule.attrs.clear(attr);
    } else {
      throw UsageError(fmt::format("{}= needs a value", a.name));
    }
  }
}

void apply_unsets(Rule& rule, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (name == "expires") {
      rule.expires.reset();
    } else if (name == "comment") {
      rule.comment.clear();
    } else {
      rule.attrs.clear(policy::attr_from_name(name));
    }
  }
}

void apply_options(Rule& rule, const EditOptions& o, bool allow_never) {
  if (o.priority_opt->count() > 0) {
    if (rule.selector.kind() != Selector::Kind::pattern) {
      throw UsageError("--priority applies only to pattern rules (/regex/)");
    }
    rule.priority = parse_priority(o.priority);
  }
  if (o.expires_opt->count() > 0) rule.expires = parse_expires(o.expires, allow_never);
  if (o.comment_opt->count() > 0) rule.comment = o.comment;
}

bool asks_for_change(const EditOptions& o) {
  return !o.assignments.empty() || !o.unset.empty() || o.priority_opt->count() > 0 ||
         o.expires_opt->count() > 0 || o.comment_opt->count() > 0;
}

void say(std::string_view what, const Rule& rule) {
  std::cout << what << " " << printable(rule.selector.text());
  const std::string attrs = attrs_text(rule.attrs);
  if (!attrs.empty()) std::cout << "  " << printable(attrs);
  std::cout << "\n";
}

int run_add(const Globals& g, const EditOptions& o) {
  Rule rule;
  rule.selector = Selector::parse(o.selector);
  apply_assignments(rule, o.assignments, false);
  apply_options(rule, o, false);
  if (rule.attrs.empty() && rule.selector.kind() != Selector::Kind::default_rule) {
    throw UsageError(
        "nothing to set: give at least one attribute=value (see: hardenctl rule add --help)");
  }
  rule.validate();
  db::Store store = open_store(g, Access::write);
  if (store.find(rule.selector)) {
    throw UsageError(fmt::format(
        "a rule for {0} exists; change it with: hardenctl rule set {0} ...", rule.selector.text()));
  }
  rule.id = store.add(rule);
  say("added", rule);
  return kExitOk;
}

Rule existing_rule(const db::Store& store, const Selector& selector) {
  auto rule = store.find(selector);
  if (!rule) {
    throw UsageError(fmt::format("no rule for {0}; add one with: hardenctl rule add {0} attr=value",
                                 selector.text()));
  }
  return *rule;
}

int run_set(const Globals& g, const EditOptions& o) {
  const Selector selector = Selector::parse(o.selector);
  if (!asks_for_change(o)) {
    throw UsageError(
        "nothing to change: give attr=value, attr= (unset), --unset, --expires, --comment or "
        "--priority");
  }
  db::Store store = open_store(g, Access::write);
  const Rule before = existing_rule(store, selector);
  Rule rule = before;
  apply_assignments(rule, o.assignments, true);
  apply_unsets(rule, o.unset);
  apply_options(rule, o, true);
  if (rule == before) {
    say("unchanged", rule);
    return kExitOk;
  }
  if (rule.attrs.empty() && selector.kind() != Selector::Kind::default_rule) {
    throw UsageError(
        fmt::format("that would leave {0} without attributes; remove it with: "
                    "hardenctl rule remove {0}",
                    selector.text()));
  }
  rule.validate();
  store.update(rule);
  say("updated", rule);
  return kExitOk;
}

int run_remove(const Globals& g, const EditOptions& o) {
  const Selector selector = Selector::parse(o.selector);
  if (selector.kind() == Selector::Kind::default_rule) {
    throw UsageError(
        "the default rule cannot be removed; unset its values with: hardenctl rule set default "
        "attr=");
  }
  db::Store store = open_store(g, Access::write);
  if (!store.remove(selector)) {
    throw UsageError(fmt::format("no rule for {}", selector.text()));
  }
  std::cout << "removed " << printable(selector.text()) << "\n";
  return kExitOk;
}

int run_list(const Globals& g, const ListOptions& o) {
  db::Store store = open_store(g, Access::read);
  std::vector<Rule> rules = store.rules();
  if (!o.kind.empty()) {
    std::erase_if(rules, [&](const Rule& r) { return r.selector.kind_name() != o.kind; });
  }
  print_rules(std::cout, rules, now(), o.json);
  return kExitOk;
}

int run_show(const Globals& g, const EditOptions& o) {
  const Selector selector = Selector::parse(o.selector);
  db::Store store = open_store(g, Access::read);
  const Rule rule = existing_rule(store, selector);
  if (o.json) {
    print_json(std::cout, rule_json(rule, now()));
  } else {
    print_rule_detail(std::cout, rule, now());
  }
  return kExitOk;
}

std::string attributes_help() {
  std::string text = "\nAttributes (attr=value; 0 means unlimited/off):\n";
  for (const auto& info : policy::attributes()) {
    const bool say_default_only =
        info.default_only && info.doc.find("default rule only") == std::string_view::npos;
    text += fmt::format("  {:<18} {:<28} {}{}\n", info.name, info.value_syntax, info.doc,
                        say_default_only ? " (default rule only)" : "");
  }
  text +=
      "Windows: 30s, 5m, 1h, 1d. Pauses: 2000 (bare digits are ms), 250ms, 2s, 1m.\n"
      "Times (UTC): 2026-12-31, 2026-12-31T23:59:59Z.\n";
  text += R"(
Selectors: default | 192.0.2.7 | 192.0.2.0/24 | 2001:db8::/48 | mx.example.org
  | .adsl.example.net (domain suffix) | /^dsl-[0-9-]+\./ (rDNS regex, case-insensitive)
)";
  return text;
}

void add_selector(CLI::App* sub, EditOptions& o) {
  sub->add_option("selector", o.selector, "what the rule applies to")
      ->required()
      ->type_name("SELECTOR");
}

void add_edit_options(CLI::App* sub, EditOptions& o) {
  add_selector(sub, o);
  sub->add_option("assignments", o.assignments, "attributes to set")->type_name("ATTR=VALUE ...");
  o.priority_opt =
      sub->add_option("--priority", o.priority, "order among pattern rules, lower first")
          ->type_name("N");
  o.expires_opt =
      sub->add_option("--expires", o.expires, "the rule stops matching at this UTC time")
          ->type_name("TIME");
  o.comment_opt =
      sub->add_option("--comment", o.comment, "free text for administrators")->type_name("TEXT");
}

void add_add(CLI::App* rule, Dispatch& d) {
  auto o = std::make_shared<EditOptions>();
  CLI::App* sub = add_command(*rule, "add", "add a rule", attributes_help() + R"(
Examples:
  hardenctl rule add 192.0.2.0/24 conn_rate=10/1m conn_limit=5
  hardenctl rule add .adsl.alicedsl.de action=block reason="Dial-in, relay via your ISP"
  hardenctl rule add 127.0.0.1 conn_rate=0 --comment "monitoring host"
  hardenctl rule add '/^dsl-[0-9-]+\./' action=block --priority 10 --expires 2026-12-31)");
  add_edit_options(sub, *o);
  on_run(sub, d, o, run_add);
}

void add_set(CLI::App* rule, Dispatch& d) {
  auto o = std::make_shared<EditOptions>();
  CLI::App* sub =
      add_command(*rule, "set", "change attributes of an existing rule", attributes_help() + R"(
"attr=" (empty value) or --unset attr removes an attribute; --unset also takes
expires and comment. --expires never removes the expiry.

Examples:
  hardenctl rule set default conn_rate=10/1m greet_pause=3000
  hardenctl rule set 192.0.2.0/24 conn_limit= --comment "office"
  hardenctl rule set .adsl.alicedsl.de --unset reason --expires never)");
  add_edit_options(sub, *o);
  sub->add_option("--unset", o->unset, "attribute (or expires, comment) to remove; repeatable")
      ->allow_extra_args(false)
      ->type_name("NAME");
  on_run(sub, d, o, run_set);
}

void add_remove_show(CLI::App* rule, Dispatch& d) {
  auto rm = std::make_shared<EditOptions>();
  CLI::App* sub = add_command(*rule, "remove", "remove a rule", R"(
Examples:
  hardenctl rule remove 192.0.2.0/24
  hardenctl rule remove .adsl.alicedsl.de)");
  add_selector(sub, *rm);
  on_run(sub, d, rm, run_remove);

  auto show = std::make_shared<EditOptions>();
  sub = add_command(*rule, "show", "show one rule", R"(
Examples:
  hardenctl rule show default
  hardenctl rule show 192.0.2.0/24 --json)");
  add_selector(sub, *show);
  sub->add_flag("--json", show->json, "print JSON");
  on_run(sub, d, show, run_show);
}

void add_list(CLI::App* rule, Dispatch& d) {
  auto o = std::make_shared<ListOptions>();
  CLI::App* sub = add_command(*rule, "list", "list rules (expired ones too, marked)", R"(
Rules are listed by kind, then pattern priority. JSON: an array of objects with
id, selector, kind, priority, attrs (name: canonical text), expires, expired, comment.

Examples:
  hardenctl rule list
  hardenctl rule list --kind pattern --json)");
  sub->add_option("--kind", o->kind, "only rules of this selector kind")
      ->check(CLI::IsMember({"default", "address", "network", "host", "suffix", "pattern"}))
      ->type_name("KIND");
  sub->add_flag("--json", o->json, "print JSON");
  on_run(sub, d, o, run_list);
}

}  // namespace

void add_rule_commands(CLI::App& app, Dispatch& d) {
  CLI::App* rule =
      add_command(app, "rule", "add, change, remove, list and show rules", attributes_help() + R"(
Examples:
  hardenctl rule add 192.0.2.0/24 conn_rate=10/1m conn_limit=5
  hardenctl rule set 127.0.0.1 conn_rate=0
  hardenctl rule list --kind suffix
  hardenctl rule show default --json
  hardenctl rule remove 192.0.2.0/24)");
  rule->require_subcommand(1);
  add_add(rule, d);
  add_set(rule, d);
  add_remove_show(rule, d);
  add_list(rule, d);
}

}  // namespace harden::cli
