// commands.hpp - the hardenctl commands, each registered on the CLI11 app.
//
// SYNOPSIS
//   Dispatch d;                          the global options and the chosen command
//   add_init_command(app, d);            init
//   add_rule_commands(app, d);           rule add|set|remove|list|show
//   add_import_commands(app, d);         import sendmail-access|hosts-deny|pcre|policy
//   add_export_command(app, d);          export
//   add_check_command(app, d);           check
//   app.parse(argc, argv);  return d.run();
//
// Parsing only records which command to run (d.run); the command runs after
// parsing succeeded, so CLI11 errors and command errors stay apart. A command
// returns its exit code (see common.hpp) or throws.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "common.hpp"

namespace harden::cli {

struct Dispatch {
  Globals globals;
  std::function<int()> run;
};

void add_init_command(CLI::App& app, Dispatch& d);
void add_rule_commands(CLI::App& app, Dispatch& d);
void add_import_commands(CLI::App& app, Dispatch& d);
void add_export_command(CLI::App& app, Dispatch& d);
void add_check_command(CLI::App& app, Dispatch& d);
void add_offenders_command(CLI::App& app, Dispatch& d);
void add_top_command(CLI::App& app, Dispatch& d);

// Common set-up of a (sub)command: fallthrough for --db, the footer.
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help,
                      const std::string& footer);

// Makes `sub` run `fn` when it is the command given.
template <class Options, class Fn>
void on_run(CLI::App* sub, Dispatch& d, std::shared_ptr<Options> opts, Fn fn) {
  sub->callback([&d, opts, fn] { d.run = [&d, opts, fn] { return fn(d.globals, *opts); }; });
}

}  // namespace harden::cli
