// man_pages.cpp - milter-harden(8) and milter-harden.yaml(5) (man_pages.hpp).
//
// The prose here says what the tables cannot (what the program is for,
// signals, files); every option, key, default and bound comes from the
// tables, so the pages change when the code does.
#include "man_pages.hpp"

#include <CLI/CLI.hpp>
#include <string_view>

#include "harden/manpage/roff.hpp"
#include "harden/milter/config.hpp"

#ifndef HARDEN_VERSION
#define HARDEN_VERSION "unknown"
#endif

namespace harden::milter {
namespace {

namespace man = harden::manpage;

constexpr std::string_view kSource = "milter-harden " HARDEN_VERSION;
constexpr std::string_view kConfigFile = "/etc/milter-harden/milter-harden.yaml";

std::string default_of(std::string_view key) {
  for (const auto& k : config_keys())
    if (k.name == key) return std::string(k.default_value);
  return "";
}

// The part after "unix:" of a socket spec, or the spec itself.
std::string socket_path(std::string spec) {
  const std::string prefix = "unix:";
  return spec.rfind(prefix, 0) == 0 ? spec.substr(prefix.size()) : spec;
}

std::string files_section() {
  std::string out = man::section("FILES");
  out += man::tagged(kConfigFile, "",
                     "The configuration (milter-harden.yaml(5)) as the Debian package installs "
                     "it; the systemd unit passes it with --config.");
  out += man::tagged(default_of("store"), "",
                     "The default policy store (SQLite, WAL), created and seeded if missing; "
                     "administered with hardenctl(8).");
  out += man::tagged(socket_path(default_of("socket")), "",
                     "The default milter socket (mode 0660, its directory 0750, owned by the "
                     "daemon's user and group: add the MTA's user to that group).");
  out += man::tagged(default_of("control_socket"), "",
                     "The default control socket of hardenctl status, client, flush, reload and "
                     "offenders.");
  out += man::tagged(default_of("state_file"), "",
                     "The default state file (SQLite): greet passes and penalties of repeat "
                     "offenders, written every state_flush_interval and read back at start.");
  return out;
}

}  // namespace

std::string daemon_man_page(const CLI::App& app) {
  std::string out = man::title("milter-harden", 8, kSource, "System Manager's Manual");
  out += man::section("NAME") + man::line(app.get_description());
  out += man::section("SYNOPSIS") + ".B milter-harden\n" + man::line(man::usage(app, ""));
  out += man::section("DESCRIPTION");
  out += man::paragraph(
      "milter-harden sits on the milter socket of sendmail or Postfix and enforces, per client, "
      "connection rates, concurrent connections, a greet pause with pre-greeting (slammer) "
      "detection, recipients per message, a bad-recipient throttle, recipient and message rates "
      "and dial-in / dynamic rDNS blocks, from one SQLite policy store that hardenctl(8) "
      "administers. It remembers clients: one that waited its greet pause in silence and had a "
      "recipient accepted skips the pause for greet_pass_ttl, and one that keeps being refused "
      "gets a penalty, refused at connect for a time that doubles with each repeat.");
  out += man::paragraph(
      "Configuration comes from the embedded defaults, then --config FILE, then each --set, then "
      "--socket and --store. Any unknown key or bad value stops start-up with one line on "
      "standard error and exit status 2. Every key, its default and bounds are in "
      "milter-harden.yaml(5); --print-config shows the effective values.");
  out += man::paragraph(
      "The Debian package's systemd unit starts it as the system user milter-harden, which owns "
      "/var/lib/milter-harden and /run/milter-harden. Started as root instead, the daemon binds "
      "its sockets, sets their owner and switches to the user: and group: of the configuration. "
      "Changes to the store reach it within reload_interval; a store that fails to load is "
      "refused and the old policy stays in force.");
  out += man::section("OPTIONS") + man::options(app);
  out += man::section("SIGNALS");
  out += man::tagged("SIGHUP", "", "Reload the policy store now.");
  out += man::tagged("SIGTERM", "", "Stop: close the sockets, let open sessions finish, exit.");
  out += man::section("EXIT STATUS");
  out += man::line(
      "0 after a clean stop or a --print option, 1 when the daemon cannot start, "
      "2 on a usage or configuration error.");
  out += files_section();
  out += man::section("SEE ALSO");
  out += man::line("hardenctl(8), milter-harden.yaml(5), sendmail(8), postconf(5), fail2ban(1)");
  out += man::paragraph(std::string(app.get_footer()));
  return out;
}

std::string config_man_page() {
  std::string out = man::title("milter-harden.yaml", 5, kSource, "File Formats Manual");
  out += man::section("NAME") +
         man::line("milter-harden.yaml - configuration of the milter-harden daemon");
  out += man::section("SYNOPSIS") + man::line(kConfigFile);
  out += man::section("DESCRIPTION");
  out += man::paragraph(
      "A YAML map of key: value, one scalar per key. Every key is optional; a missing key keeps "
      "its built-in default. An unknown key, a key given twice or a value out of its bounds stops "
      "milter-harden(8) with one line naming the file and the key. Check a file with "
      "milter-harden --config FILE --print-config, which prints the effective configuration in "
      "this format.");
  out += man::paragraph(
      "Durations are a whole number with ms, s, m or h, or bare digits meaning milliseconds "
      "(2000 = 2s). Sizes take KiB, MiB or GiB. The policy itself (rules and their attributes) "
      "is not here but in the store; see hardenctl(8).");
  out += man::section("KEYS");
  for (const auto& k : config_keys()) {
    std::string text = std::string(k.doc) + ".";
    out += man::tagged(k.name, k.type, text);
    out += ".br\n" + man::line("Default: " +
                               (k.default_value.empty() ? std::string("empty")
                                                        : std::string(k.default_value)) +
                               (bounds_text(k).empty() ? "" : "; bounds: " + bounds_text(k)) + ".");
  }
  out += man::section("EXAMPLE");
  out += man::preformatted(
      "socket: \"unix:/run/milter-harden/milter.sock\"\n"
      "store: /var/lib/milter-harden/policy.db\n"
      "mode: monitor\n"
      "metrics_listen: \"127.0.0.1:9894\"\n");
  out += man::section("FILES") + man::tagged(kConfigFile, "", "This file.");
  out += man::section("SEE ALSO") + man::line("milter-harden(8), hardenctl(8)");
  return out;
}

}  // namespace harden::milter
