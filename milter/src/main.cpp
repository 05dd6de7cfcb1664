// main.cpp - milter-harden: command line, configuration, then the daemon.
//
// SYNOPSIS
//   milter-harden [-c FILE] [-p SOCKET] [-s STORE] [--set KEY=VALUE]...
//   milter-harden --print-config [...]       effective configuration as YAML
//   milter-harden --print-config-table       the key table (Markdown, for the README)
//   milter-harden --man 8|5                  milter-harden(8) or milter-harden.yaml(5) in roff
//                                            (hidden; the build writes the man pages with it)
//
// Configuration: the embedded defaults, then --config FILE, then each --set,
// then -p / -s. Any bad key or value: one line on stderr, exit 2.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "harden/milter/config.hpp"
#include "harden/milter/daemon.hpp"
#include "man_pages.hpp"

#ifndef HARDEN_VERSION
#define HARDEN_VERSION "unknown"
#endif

namespace {

using namespace harden::milter;

constexpr int kExitUsage = 2;

struct Options {
  std::string config_file;
  std::string socket;
  std::string store;
  std::vector<std::string> sets;
  bool print_config = false;
  bool print_table = false;
  int man_section = 0;
};

Config build_config(const Options& o) {
  Config c = default_config();
  if (!o.config_file.empty()) load_config_file(c, o.config_file);
  for (const auto& s : o.sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) throw ConfigError("--set " + s + ": expected KEY=VALUE");
    set_config_value(c, s.substr(0, eq), s.substr(eq + 1));
  }
  if (!o.socket.empty()) set_config_value(c, "socket", o.socket);
  if (!o.store.empty()) set_config_value(c, "store", o.store);
  return c;
}

void wire(CLI::App& app, Options& o) {
  app.add_option("-c,--config", o.config_file, "YAML configuration file")->type_name("FILE");
  app.add_option("-p,--socket", o.socket, "milter socket (overrides the config's socket)")
      ->type_name("SPEC");
  app.add_option("-s,--store", o.store, "policy store (overrides the config's store)")
      ->type_name("PATH");
  app.add_option("--set", o.sets, "set one configuration key (repeatable)")->type_name("KEY=VALUE");
  app.add_flag("--print-config", o.print_config, "print the effective configuration and exit");
  app.add_flag("--print-config-table", o.print_table, "print the key table (Markdown) and exit");
  app.add_option("--man", o.man_section, "print man page 8 (the daemon) or 5 (its YAML file)")
      ->check(CLI::IsMember({8, 5}))
      ->group("");
  app.set_version_flag("-V,--version", std::string("milter-harden ") + HARDEN_VERSION);
  app.footer(
      "Without options it runs on the embedded defaults (socket "
      "unix:/run/milter-harden/milter.sock,\n"
      "store /var/lib/milter-harden/policy.db, created and seeded if missing).\n"
      "SIGHUP reloads the policy; SIGTERM stops. See milter/README.md.");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"milter-harden - sendmail/Postfix hardening policy milter", "milter-harden"};
  Options o;
  wire(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "milter-harden: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  if (o.man_section != 0) {
    std::cout << (o.man_section == 8 ? daemon_man_page(app) : config_man_page());
    return 0;
  }
  Config config;
  try {
    config = build_config(o);
  } catch (const std::exception& e) {
    std::cerr << "milter-harden: " << e.what() << '\n';
    return kExitUsage;
  }
  if (o.print_table) {
    std::cout << config_table_markdown();
    return 0;
  }
  if (o.print_config) {
    std::cout << print_config(config);
    return 0;
  }
  return run_daemon(config);
}
