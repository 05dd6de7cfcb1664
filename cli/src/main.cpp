// main.cpp - hardenctl, the milter-harden policy admin CLI: CLI11 wiring and
// the one place where errors become exit codes.
//
// SYNOPSIS
//   hardenctl [--db PATH] COMMAND [ARGS] [--json]
//   hardenctl --man          hardenctl(8) in roff (hidden; the build writes the man page with it)
//
// Every error, whatever threw it, ends here as ONE line on stderr prefixed
// "hardenctl: " and exit code 2; --help and --version exit 0; check
// --exit-code exits 1 on block/tempfail (see common.hpp).
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "control_commands.hpp"
#include "gen_commands.hpp"
#include "man_page.hpp"

namespace {

using namespace harden::cli;

constexpr const char* kFooter = R"(
The store is /var/lib/milter-harden/policy.db unless --db or HARDEN_DB says otherwise.
Exit status: 0 ok, 1 check --exit-code found block/tempfail, 2 usage or input error.

Examples:
  hardenctl init
  hardenctl rule add 192.0.2.0/24 conn_rate=10/1m conn_limit=5
  hardenctl rule add .adsl.alicedsl.de action=block reason="Dial-in, relay via your ISP"
  hardenctl import pcre /etc/postfix/fqrdns.pcre --dry-run
  hardenctl check 192.0.2.7 --hostname dsl-192-0-2-7.example.net
  hardenctl export --output policy.yaml
Run "hardenctl COMMAND --help" for each command's options.)";

void wire(CLI::App& app, Dispatch& d) {
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--db", d.globals.db, "policy store (SQLite file); env HARDEN_DB")
      ->envname(std::string(kDbEnvVar))
      ->type_name("PATH");
  app.set_version_flag("--version", std::string("hardenctl ") + HARDEN_VERSION);
  add_init_command(app, d);
  add_rule_commands(app, d);
  add_import_commands(app, d);
  add_export_command(app, d);
  add_check_command(app, d);
  add_control_commands(app, d);
  add_offenders_command(app, d);
  add_top_command(app, d);
  add_gen_commands(app, d);
  app.footer(kFooter);
  // Before the subcommand requirement is checked, as --help is.
  app.add_flag_callback("--man",
                        [&app] {
                          std::cout << man_page(app);
                          throw CLI::Success();
                        })
      ->group("");
}

// "hardenctl rule add" for the deepest command given so far.
std::string command_path(CLI::App& app) {
  std::string path = "hardenctl";
  for (CLI::App* cur = &app; !cur->get_subcommands().empty();) {
    cur = cur->get_subcommands().front();
    path += " " + cur->get_name();
  }
  return path;
}

int parse_error(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  std::cerr << "hardenctl: " << escaped_line(e.what()) << " (see: " << command_path(app)
            << " --help)\n";
  return kExitUsage;
}

int run(int argc, char** argv) {
  CLI::App app{"hardenctl - administer the milter-harden policy store", "hardenctl"};
  Dispatch d;
  wire(app, d);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_error(app, e);
  }
  if (!d.run) throw UsageError("no command given (see: hardenctl --help)");
  const int rc = d.run();
  std::cout.flush();
  if (!std::cout) throw UsageError("cannot write to standard output");
  return rc;
}

}  // namespace

namespace harden::cli {

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& help,
                      const std::string& footer) {
  CLI::App* sub = parent.add_subcommand(name, help);
  sub->fallthrough();
  sub->footer(footer);
  return sub;
}

}  // namespace harden::cli

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hardenctl: " << escaped_line(e.what()) << '\n';
  } catch (...) {
    std::cerr << "hardenctl: internal error (unknown exception)\n";
  }
  return kExitUsage;
}
