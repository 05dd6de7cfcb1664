// import_commands.cpp - `hardenctl import FORMAT FILE [--dry-run] [--json]`.
//
//   import sendmail-access FILE   ClientRate:, ClientConn:, GreetPause:, Connect: entries
//   import hosts-deny FILE        "sendmail: .adsl.example.net ..." lines -> block rules
//   import pcre FILE              Postfix pcre table (fqrdns.pcre) -> pattern rules
//   import policy FILE            YAML from `hardenctl export`: replaces the whole policy
//
// FILE "-" is standard input. The file is parsed completely first: any bad
// line is "file:line: message" and nothing is written. Then the plan is
// shown (add / update / remove, unchanged counted) with the importer's notes,
// and, without --dry-run, applied in one store transaction.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <sstream>

#include "commands.hpp"
#include "harden/db/importers.hpp"
#include "harden/db/policy_yaml.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

using policy::Rule;

struct ImportOptions;
using Parser = db::ImportResult (*)(std::istream&, const ImportOptions&);

struct Format {
  const char* name;
  const char* help;
  Parser parse;  // null: the YAML policy
  const char* footer;
};

struct ImportOptions {
  const Format* format = nullptr;
  std::string file;
  std::string rate_window;  // sendmail-access: confCONNECTION_RATE_WINDOW_SIZE
  bool dry_run = false;
  bool json = false;
};

db::ImportResult parse_access(std::istream& in, const ImportOptions& o) {
  if (o.rate_window.empty()) return db::parse_sendmail_access(in, o.file);
  return db::parse_sendmail_access(in, o.file, policy::parse_duration(o.rate_window));
}
db::ImportResult parse_hosts_deny(std::istream& in, const ImportOptions& o) {
  return db::parse_hosts_deny(in, o.file);
}
db::ImportResult parse_pcre(std::istream& in, const ImportOptions& o) {
  return db::parse_postfix_pcre(in, o.file);
}

const Format kFormats[] = {
    {"sendmail-access", "import a sendmail access map source file", parse_access, R"(
ClientRate:KEY N -> conn_rate N/WINDOW (--rate-window, sendmail's
confCONNECTION_RATE_WINDOW_SIZE, default 60s), ClientConn: -> conn_limit,
GreetPause: -> greet_pause, Connect: REJECT/ERROR -> block (4xx: tempfail),
Connect: OK/RELAY -> action limit (escapes blocks, keeps the limits).
Entries for one key merge into one rule; other tags are skipped with a note.

Examples:
  hardenctl import sendmail-access /etc/mail/access --dry-run
  hardenctl import sendmail-access /etc/mail/access --rate-window 5m)"},
    {"hosts-deny", "import tcpwrappers hosts.deny lines for sendmail", parse_hosts_deny, R"(
Each client pattern of a line whose daemon list names sendmail (or ALL)
becomes a block rule: .suffix, host name, 1.2.3. prefix, net/mask.

Examples:
  hardenctl import hosts-deny /etc/hosts.deny --dry-run)"},
    {"pcre", "import a Postfix pcre rDNS table (e.g. fqrdns.pcre)", parse_pcre, R"(
REJECT/5xx -> block with the text as reason, 4xx/DEFER -> tempfail, OK -> allow,
DUNNO -> limit; "if /re/ ... endif" blocks are kept as pattern conjunctions.
New pattern rules go after the existing ones, in file order.

Examples:
  hardenctl import pcre /etc/postfix/fqrdns.pcre --dry-run
  hardenctl import pcre /etc/postfix/fqrdns.pcre --json)"},
    {"policy", "replace the whole policy with a YAML file from `hardenctl export`", nullptr, R"(
Every rule of the store is replaced by the file's rules (which must include
the default rule); --dry-run shows what would be added, updated and removed.

Examples:
  hardenctl export --output policy.yaml
  hardenctl import policy policy.yaml --dry-run
  hardenctl --db /var/lib/milter-harden/new.db import policy policy.yaml)"},
};

struct Change {
  std::string kind;  // add, update, remove
  Rule rule;
  std::optional<Rule> before;
};

struct Report {
  std::vector<Change> changes;
  std::vector<std::string> notes;
  std::size_t unchanged = 0;
};

bool same_rule(Rule a, Rule b) {
  a.id = b.id = 0;
  return a == b;
}

std::size_t count(const Report& r, std::string_view kind) {
  std::size_t n = 0;
  for (const auto& c : r.changes) {
    if (c.kind == kind) ++n;
  }
  return n;
}

Report report_of(const db::ImportPlan& plan, std::vector<std::string> notes) {
  Report report{{}, std::move(notes), plan.unchanged()};
  for (const auto& c : plan.changes) {
    if (c.kind == db::ImportChange::Kind::unchanged) continue;
    report.changes.push_back(
        {c.kind == db::ImportChange::Kind::add ? "add" : "update", c.rule, c.before});
  }
  return report;
}

Report diff_policy(const std::vector<Rule>& current, const std::vector<Rule>& next) {
  std::map<std::string, const Rule*> old_by_selector;
  for (const auto& r : current) old_by_selector.emplace(r.selector.text(), &r);
  Report report;
  for (const auto& r : next) {
    const auto it = old_by_selector.find(r.selector.text());
    if (it == old_by_selector.end()) {
      report.changes.push_back({"add", r, std::nullopt});
      continue;
    }
    if (same_rule(*it->second, r)) {
      ++report.unchanged;
    } else {
      report.changes.push_back({"update", r, *it->second});
    }
    old_by_selector.erase(it);
  }
  for (const auto& r : current) {
    if (old_by_selector.count(r.selector.text()) > 0)
      report.changes.push_back({"remove", r, std::nullopt});
  }
  return report;
}

std::string summary(const Report& r, bool dry_run) {
  if (dry_run) {
    return fmt::format(
        "dry run: {} to add, {} to update, {} to remove, {} unchanged; nothing written",
        count(r, "add"), count(r, "update"), count(r, "remove"), r.unchanged);
  }
  return fmt::format("{} added, {} updated, {} removed, {} unchanged", count(r, "add"),
                     count(r, "update"), count(r, "remove"), r.unchanged);
}

void print_report_text(const Report& r, bool dry_run) {
  Table table({"CHANGE", "SELECTOR", "ATTRIBUTES", "BEFORE"});
  for (const auto& c : r.changes) {
    table.add({c.kind, c.rule.selector.text(), attrs_text(c.rule.attrs),
               c.before ? attrs_text(c.before->attrs) : ""});
  }
  if (!table.empty()) table.print(std::cout);
  if (!r.notes.empty()) std::cout << "notes:\n";
  for (const auto& n : r.notes) std::cout << "  " << printable(n) << "\n";
  std::cout << summary(r, dry_run) << "\n";
}

void print_report_json(const Report& r, const ImportOptions& o) {
  const auto at = now();
  nlohmann::json j;
  j["format"] = o.format->name;
  j["file"] = o.file;
  j["dry_run"] = o.dry_run;
  j["added"] = count(r, "add");
  j["updated"] = count(r, "update");
  j["removed"] = count(r, "remove");
  j["unchanged"] = r.unchanged;
  j["changes"] = nlohmann::json::array();
  for (const auto& c : r.changes) {
    j["changes"].push_back(
        {{"change", c.kind},
         {"rule", rule_json(c.rule, at)},
         {"before", c.before ? rule_json(*c.before, at) : nlohmann::json(nullptr)}});
  }
  j["notes"] = r.notes;
  print_json(std::cout, j);
}

void print_report(const Report& r, const ImportOptions& o) {
  if (o.json) {
    print_report_json(r, o);
  } else {
    print_report_text(r, o.dry_run);
  }
}

int run_table_import(const Globals& g, const ImportOptions& o) {
  const std::string text = read_input_file(o.file);
  std::istringstream in(text);
  const db::ImportResult result = o.format->parse(in, o);
  db::Store store = open_store(g, o.dry_run ? Access::read : Access::write);
  const db::ImportPlan plan = db::plan_import(store, result);
  if (!o.dry_run) db::apply_import(store, plan);
  print_report(report_of(plan, result.notes), o);
  return kExitOk;
}

int run_policy_import(const Globals& g, const ImportOptions& o) {
  const std::string text = read_input_file(o.file);
  const std::vector<Rule> rules = db::parse_policy_yaml(text, o.file);
  const bool has_default = std::any_of(rules.begin(), rules.end(), [](const Rule& r) {
    return r.selector.kind() == policy::Selector::Kind::default_rule;
  });
  if (!has_default) throw UsageError(fmt::format("{}: the policy has no default rule", o.file));
  (void)policy::Policy::build(rules);  // the whole policy must validate, dry run or not
  db::Store store = open_store(g, o.dry_run ? Access::read : Access::write, Need::exists);
  const Report report = diff_policy(store.rules(), rules);
  if (!o.dry_run) store.replace_all(rules);
  print_report(report, o);
  return kExitOk;
}

int run_import(const Globals& g, const ImportOptions& o) {
  return o.format->parse ? run_table_import(g, o) : run_policy_import(g, o);
}

}  // namespace

void add_import_commands(CLI::App& app, Dispatch& d) {
  CLI::App* import =
      add_command(app, "import", "import rules from sendmail, tcpwrappers, Postfix or YAML", R"(
Examples:
  hardenctl import sendmail-access /etc/mail/access --dry-run
  hardenctl import hosts-deny /etc/hosts.deny
  hardenctl import pcre /etc/postfix/fqrdns.pcre
  hardenctl import policy policy.yaml)");
  import->require_subcommand(1);
  for (const Format& f : kFormats) {
    auto o = std::make_shared<ImportOptions>();
    o->format = &f;
    CLI::App* sub = add_command(*import, f.name, f.help, f.footer);
    sub->add_option("file", o->file, "the file to import (- for standard input)")
        ->required()
        ->type_name("FILE");
    sub->add_flag("--dry-run", o->dry_run, "show what would change, write nothing");
    sub->add_flag("--json", o->json, "print the plan as JSON");
    if (f.parse == parse_access) {
      sub->add_option("--rate-window", o->rate_window,
                      "the window of ClientRate: values (default 60s)")
          ->type_name("DURATION");
    }
    on_run(sub, d, o, run_import);
  }
}

}  // namespace harden::cli
