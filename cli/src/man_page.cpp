// man_page.cpp - hardenctl(8) (man_page.hpp).
//
// Each command gets a subsection with what its --help shows: usage,
// description, options and footer (examples, value syntax). The attribute
// list comes from policy::attributes(), as in `rule add --help` and the README.
#include "man_page.hpp"

#include <CLI/CLI.hpp>
#include <string>

#include "common.hpp"
#include "harden/manpage/roff.hpp"
#include "harden/policy/rule.hpp"

#ifndef HARDEN_VERSION
#define HARDEN_VERSION "unknown"
#endif

namespace harden::cli {
namespace {

namespace man = harden::manpage;

// Visible commands (a hidden one has an empty group).
std::vector<const CLI::App*> commands_of(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_group().empty(); });
}

void describe_commands(const CLI::App& app, const std::string& path, std::string& out) {
  for (const CLI::App* sub : commands_of(app)) {
    const std::string sub_path = path + " " + sub->get_name();
    out += man::subsection(sub_path);
    out += ".B " + man::escape(sub_path) + "\n" + man::line(man::usage(*sub, ""));
    out += man::paragraph(sub->get_description());
    out += man::options(*sub);
    out += man::preformatted(sub->get_footer());
    describe_commands(*sub, sub_path, out);
  }
}

std::string attributes_section() {
  std::string out = man::section("POLICY ATTRIBUTES");
  out += man::paragraph(
      "A rule has a selector (default, an address, a network, a host name, a .domain suffix or "
      "an rDNS /pattern/) and attributes, given as ATTR=VALUE. Every attribute of a client's "
      "effective limits comes from the most specific matching rule that sets it: exact address, "
      "longest network, exact host, longest suffix, patterns by priority, then default. 0 means "
      "unlimited or off.");
  for (const auto& a : policy::attributes()) out += man::tagged(a.name, a.value_syntax, a.doc);
  return out;
}

}  // namespace

std::string man_page(const CLI::App& app) {
  std::string out =
      man::title("hardenctl", 8, "milter-harden " HARDEN_VERSION, "System Manager's Manual");
  out += man::section("NAME") + man::line(app.get_description());
  out += man::section("SYNOPSIS") + ".B hardenctl\n" + man::line(man::usage(app, ""));
  out += man::section("DESCRIPTION");
  out += man::paragraph(
      "hardenctl edits the SQLite policy store that milter-harden(8) enforces (rules, imports of "
      "sendmail access files, hosts.deny and Postfix pcre tables, YAML export and import), "
      "explains what the policy does to a client, talks to the running daemon over its control "
      "socket, and generates sendmail, Exim and Postfix configuration that matches the policy. "
      "The daemon picks up changes to the store without a restart.");
  out += man::section("OPTIONS") + man::options(app);
  out += man::section("COMMANDS");
  describe_commands(app, "hardenctl", out);
  out += attributes_section();
  out += man::section("ENVIRONMENT");
  out += man::tagged(kDbEnvVar, "", "The policy store when --db is not given.");
  out += man::section("EXIT STATUS");
  out += man::line(
      "0 ok; 1 a policy result asked about (check --exit-code on a blocked or "
      "deferred client); 2 a usage or input error, reported as one line on standard "
      "error, with nothing written.");
  out += man::section("FILES");
  out += man::tagged(kDefaultDbPath, "", "The default policy store.");
  out += man::tagged("/var/lib/milter-harden/state.db", "",
                     "The daemon's default state file, which offenders reads and edits when no "
                     "daemon answers (--state).");
  out += man::section("EXAMPLES") + man::preformatted(app.get_footer());
  out += man::section("SEE ALSO") + man::line("milter-harden(8), milter-harden.yaml(5)");
  return out;
}

}  // namespace harden::cli
