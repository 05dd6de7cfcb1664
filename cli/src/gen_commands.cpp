// gen_commands.cpp - `hardenctl gen ...` (see gen_commands.hpp).
//
// The generators are pure (harden::mtaconf); this file opens the store, loads
// the snapshot, passes the options through and writes the text. Values the
// target syntax cannot carry are refused by the generators with one line
// naming the rule or option (exit 2).
#include "gen_commands.hpp"

#include <fmt/format.h>

#include <iostream>

#include "harden/mtaconf/exim.hpp"
#include "harden/mtaconf/postfix.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

// Generated files are read by the MTA's own users.
constexpr mode_t kGeneratedFileMode = 0644;

struct GenOutput {
  std::string output;  // empty or "-": standard output
};

void add_output_option(CLI::App* sub, GenOutput& o) {
  sub->add_option("-o,--output", o.output, "write to FILE (atomically) instead of standard output")
      ->type_name("FILE");
}

int emit(const GenOutput& o, const std::string& text) {
  if (o.output.empty() || o.output == "-") {
    std::cout << text;
  } else {
    write_output_file(o.output, text, kGeneratedFileMode);
  }
  return kExitOk;
}

mtaconf::Provenance from(const Globals& g, std::string_view command) {
  return {"hardenctl gen " + std::string(command), store_path(g).string()};
}

std::shared_ptr<const policy::Policy> snapshot(const Globals& g) {
  return open_store(g, Access::read).load_snapshot();
}

// --- sendmail -------------------------------------------------------------------

struct McOptions : GenOutput {
  mtaconf::SendmailMcOptions mc;
  std::string on_failure = "T";
  bool no_short_timeouts = false;
};

int run_sendmail_mc(const Globals& g, McOptions o) {
  o.mc.on_failure = mtaconf::parse_on_failure(o.on_failure);
  o.mc.short_timeouts = !o.no_short_timeouts;
  mtaconf::check_milter_socket(o.mc.socket);  // before touching the store
  return emit(o, mtaconf::sendmail_mc(*snapshot(g), o.mc, from(g, "sendmail-mc"), now()));
}

void add_sendmail_mc(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<McOptions>();
  CLI::App* sub = add_command(gen, "sendmail-mc", "sendmail.mc lines for milter-harden", R"(
Prints, for sendmail.mc after the FEATURE() lines and before MAILER_DEFINITIONS:
the INPUT_MAIL_FILTER line (T=R: above the policy's longest greet_pause), the
milter macros added to sendmail's confMILTER_MACROS_* defaults, the global
limits of the default rule (confMAX_RCPTS_PER_MESSAGE, confBAD_RCPT_THROTTLE,
confCONNECTION_RATE_WINDOW_SIZE), short confTO_* timeouts, and with
--native-limits sendmail's own FEATUREs (access_db, ratecontrol, conncontrol,
greet_pause) for the entries of "hardenctl gen sendmail-access".

Examples:
  hardenctl gen sendmail-mc --socket unix:/run/milter-harden/milter.sock
  hardenctl gen sendmail-mc --native-limits --max-daemon-children 40 -o /etc/mail/harden.m4)");
  sub->add_option(
         "--socket", o->mc.socket,
         "milter socket in sendmail's S= form: unix:/PATH, inet:PORT@HOST, inet6:PORT@HOST")
      ->type_name("SPEC")
      ->capture_default_str();
  sub->add_option("--on-failure", o->on_failure,
                  "mail while the milter is down: T tempfail, R reject, 4 421 and close, none")
      ->type_name("T|R|4|none")
      ->capture_default_str();
  sub->add_flag("--native-limits", o->mc.native_limits,
                "also sendmail's own ratecontrol/conncontrol/greet_pause FEATUREs");
  sub->add_option("--max-daemon-children", o->mc.max_daemon_children,
                  "confMAX_DAEMON_CHILDREN (0: leave sendmail's)")
      ->type_name("N")
      ->check(CLI::Range(0u, 100000u));
  sub->add_option("--connection-rate-throttle", o->mc.connection_rate_throttle,
                  "confCONNECTION_RATE_THROTTLE, connections per second for all clients (0: leave)")
      ->type_name("N")
      ->check(CLI::Range(0u, 100000u));
  sub->add_flag("--no-short-timeouts", o->no_short_timeouts, "leave sendmail's confTO_* timeouts");
  add_output_option(sub, *o);
  on_run(sub, d, o,
         [](const Globals& g, const McOptions& opts) { return run_sendmail_mc(g, opts); });
}

void add_sendmail_access(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<GenOutput>();
  CLI::App* sub = add_command(gen, "sendmail-access",
                              "ClientRate:/ClientConn:/GreetPause: access map entries", R"(
Prints the policy's per-client limits as sendmail access map entries (for
FEATURE ratecontrol, conncontrol and greet_pause: "gen sendmail-mc
--native-limits"). Rules sendmail cannot express are listed in comments.

Examples:
  hardenctl gen sendmail-access -o /etc/mail/access.harden
  cat /etc/mail/access.local /etc/mail/access.harden > /etc/mail/access && makemap hash /etc/mail/access < /etc/mail/access)");
  add_output_option(sub, *o);
  on_run(sub, d, o, [](const Globals& g, const GenOutput& opts) {
    return emit(opts, mtaconf::sendmail_access(*snapshot(g), from(g, "sendmail-access"), now()));
  });
}

void add_sendmail_feature(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<GenOutput>();
  CLI::App* sub = add_command(gen, "sendmail-feature",
                              "the sendmail FEATURE file (contrib/m4/milter_harden.m4)", R"(
Prints the FEATURE file for sendmail's cf/feature/ directory; it needs no store.
Then: FEATURE(`milter_harden', `unix:/run/milter-harden/milter.sock') in sendmail.mc.

Example:
  hardenctl gen sendmail-feature -o /usr/share/sendmail/cf/feature/milter_harden.m4)");
  add_output_option(sub, *o);
  on_run(sub, d, o, [](const Globals&, const GenOutput& opts) {
    return emit(opts, mtaconf::sendmail_feature());
  });
}

// --- Exim -----------------------------------------------------------------------

struct SatelliteCli : GenOutput {
  mtaconf::SatelliteOptions s;
  std::vector<std::string> nets;
  bool no_hide_mailname = false;
  bool apply = false;
};

// Makes every satellite network `allow` in the store, in one transaction.
void apply_allow_rules(const Globals& g, const std::vector<policy::Rule>& rules) {
  db::Store store = open_store(g, Access::write);
  store.transaction([&] {
    for (const auto& want : rules) {
      auto have = store.find(want.selector);
      if (!have) {
        store.add(want);
        std::cerr << "hardenctl: added rule " << want.selector.text() << " action=allow\n";
      } else if (have->attrs.action != policy::Action::allow || have->expired(now())) {
        have->attrs.action = policy::Action::allow;
        have->expires.reset();
        store.update(*have);
        std::cerr << "hardenctl: set action=allow on rule " << want.selector.text() << "\n";
      }
    }
  });
}

int run_exim_satellite(const Globals& g, const SatelliteCli& o) {
  mtaconf::SatelliteOptions s = o.s;
  s.hide_mailname = !o.no_hide_mailname;
  for (const auto& n : o.nets) s.satellite_nets.push_back(policy::IpNetwork::parse(n));
  mtaconf::parse_smarthost(s.smarthost);  // refuse bad options before writing the store
  if (o.apply) apply_allow_rules(g, mtaconf::satellite_allow_rules(s));
  return emit(o, mtaconf::exim_satellite(*snapshot(g), s, from(g, "exim-satellite"), now()));
}

void add_exim_satellite(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<SatelliteCli>();
  CLI::App* sub = add_command(gen, "exim-satellite",
                              "update-exim4.conf.conf for hosts relaying through the MX", R"(
Prints Debian's /etc/exim4/update-exim4.conf.conf for an internal host that
sends all mail through the hardened MX (dc_eximconfig_configtype='satellite'),
and, in comments, the "hardenctl rule add" commands that make the satellite
networks `allow` on the MX. --apply adds those rules to this store instead.

Examples:
  hardenctl gen exim-satellite --smarthost mx.example.org::587 --readhost example.org \
      --satellite-net 10.1.0.0/16 --satellite-net 2001:db8:5::/48 --apply
  hardenctl gen exim-satellite --smarthost [2001:db8::25]::25)");
  sub->add_option("--smarthost", o->s.smarthost,
                  "the MX: HOST or HOST::PORT; an IPv6 address in brackets, [2001:db8::25]::587")
      ->required()
      ->type_name("HOST[::PORT]");
  sub->add_option("--readhost", o->s.readhost, "the mail domain local senders appear from")
      ->type_name("NAME");
  sub->add_option("--satellite-net", o->nets, "a network of satellites (repeatable)")
      ->type_name("CIDR");
  sub->add_flag("--no-hide-mailname", o->no_hide_mailname,
                "keep the satellite's own name in headers (dc_hide_mailname='false')");
  sub->add_flag("--apply", o->apply, "add the satellite networks to the store as allow rules");
  add_output_option(sub, *o);
  on_run(sub, d, o, run_exim_satellite);
}

struct AclCli : GenOutput {
  mtaconf::EximAclOptions acl;
  std::string part = "all";
};

int run_exim_acl(const Globals& g, const AclCli& o) {
  const auto parts = mtaconf::exim_acl(*snapshot(g), o.acl, from(g, "exim-acl"), now());
  if (o.part == "main") return emit(o, parts.main);
  if (o.part == "acl") return emit(o, parts.acl);
  if (o.part == "rcpt") return emit(o, parts.rcpt);
  return emit(o, mtaconf::render_exim_acl(parts));
}

void add_exim_acl(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<AclCli>();
  CLI::App* sub = add_command(gen, "exim-acl", "the policy as Exim main options and ACLs", R"(
Prints the policy for an Exim MX (Exim has no milter client) in three parts,
each saying where it goes in Debian's split configuration:
  main  /etc/exim4/conf.d/main/05_milter-harden
  acl   /etc/exim4/conf.d/acl/25_milter-harden
  rcpt  /etc/exim4/milter-harden-rcpt.acl
then run update-exim4.conf. --part prints one of them.

Examples:
  hardenctl gen exim-acl --part main -o /etc/exim4/conf.d/main/05_milter-harden
  hardenctl gen exim-acl --part acl -o /etc/exim4/conf.d/acl/25_milter-harden
  hardenctl gen exim-acl --part rcpt -o /etc/exim4/milter-harden-rcpt.acl)");
  sub->add_option("--smtp-accept-max", o->acl.smtp_accept_max,
                  "smtp_accept_max, simultaneous SMTP connections (0: unlimited)")
      ->type_name("N")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  sub->add_option("--part", o->part, "only this part")
      ->type_name("main|acl|rcpt|all")
      ->check(CLI::IsMember({"main", "acl", "rcpt", "all"}))
      ->capture_default_str();
  add_output_option(sub, *o);
  on_run(sub, d, o, run_exim_acl);
}

// --- Postfix --------------------------------------------------------------------

struct PostfixCli : GenOutput {
  mtaconf::PostfixOptions pf;
  std::string version = "3.7";
  std::string default_action = "accept";
  bool no_milter = false;
};

int run_postfix(const Globals& g, PostfixCli o) {
  o.pf.version = mtaconf::parse_postfix_version(o.version);
  o.pf.default_action = mtaconf::parse_milter_default_action(o.default_action);
  if (o.no_milter) o.pf.milter.clear();
  if (!o.pf.milter.empty()) mtaconf::check_postfix_milter(o.pf.milter);  // before the store
  mtaconf::check_postfix_table_dir(o.pf.table_dir);
  return emit(o, mtaconf::postfix_main_cf(*snapshot(g), o.pf, from(g, "postfix"), now()));
}

void add_postfix(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<PostfixCli>();
  CLI::App* sub = add_command(gen, "postfix", "main.cf lines: Postfix's native limits", R"(
Prints main.cf lines so a Postfix MX enforces what Postfix can natively, with
the milter or without it: smtpd_milters, milter_default_action and a
milter_command_timeout above the longest greet_pause; the default rule's
limits as anvil limits (one anvil_rate_time_unit for all rates, each rate cut
so that Postfix never admits more than the policy over its window),
smtpd_client_event_limit_exceptions from the allow rules, smtpd_recipient_limit,
the error limits for bad_rcpt_throttle, the client prefix lengths (3.8+ only),
and the block/allow/tempfail rules as check_client_access over the tables of
"hardenctl gen postfix-tables DIR". The header lists what Postfix cannot
express and the first rule expiry (generate again then).

Examples:
  hardenctl gen postfix --milter inet:127.0.0.1:8894 --postfix-version 3.7
  hardenctl gen postfix --no-milter --postscreen -o /etc/postfix/milter-harden.cf)");
  sub->add_option("--postfix-version", o->version, "the Postfix the lines are for")
      ->type_name("3.7|3.8+")
      ->capture_default_str();
  sub->add_option("--milter", o->pf.milter,
                  "milter in Postfix's form: inet:HOST:PORT, inet:[IPv6]:PORT, unix:PATH")
      ->type_name("SPEC")
      ->capture_default_str();
  sub->add_flag("--no-milter", o->no_milter, "no smtpd_milters line: Postfix's limits alone");
  sub->add_option("--milter-default-action", o->default_action,
                  "mail while the milter is down: accept, tempfail, reject, quarantine")
      ->type_name("ACTION")
      ->capture_default_str();
  sub->add_option("--table-dir", o->pf.table_dir,
                  "where gen postfix-tables writes the tables (absolute)")
      ->type_name("DIR")
      ->capture_default_str();
  sub->add_flag("--postscreen", o->pf.postscreen,
                "also postscreen's greet test and the master.cf lines (as comments)");
  add_output_option(sub, *o);
  on_run(sub, d, o, run_postfix);
}

struct PostfixTablesCli {
  std::string dir;
};

int run_postfix_tables(const Globals& g, const PostfixTablesCli& o) {
  const std::string dir = mtaconf::check_postfix_table_dir(o.dir);
  const auto tables = mtaconf::postfix_tables(*snapshot(g), from(g, "postfix-tables"), now());
  for (const auto& t : tables) {
    write_output_file(std::filesystem::path(dir) / t.file_name, t.text, kGeneratedFileMode);
  }
  return kExitOk;
}

void add_postfix_tables(CLI::App& gen, Dispatch& d) {
  auto o = std::make_shared<PostfixTablesCli>();
  CLI::App* sub =
      add_command(gen, "postfix-tables", "the cidr and pcre tables of gen postfix, into DIR", R"(
Writes the policy's block/allow/tempfail rules into DIR (atomically: a
temporary file and a rename, mode 0644):
  milter-harden-client.cidr        address and network rules
  milter-harden-client-names.pcre  host name, suffix and rDNS pattern rules
The main.cf lines of "hardenctl gen postfix --table-dir DIR" use them; Postfix
reads cidr and pcre tables directly (no postmap), "postfix reload" after a change.
The pcre table needs Debian's postfix-pcre package.

Example:
  hardenctl gen postfix-tables /etc/postfix/milter-harden && postfix reload)");
  sub->add_option("dir", o->dir, "the table directory (absolute; must exist)")
      ->required()
      ->type_name("DIR");
  on_run(sub, d, o, run_postfix_tables);
}

}  // namespace

void add_gen_commands(CLI::App& app, Dispatch& d) {
  CLI::App* gen = add_command(app, "gen", "generate MTA configuration from the policy", R"(
Each generated file starts with a comment naming the command and the store:
regenerate it after changing the policy instead of editing it.

Commands:
  sendmail-mc       sendmail.mc lines: the milter, its macros, global limits
  sendmail-access   access map entries for sendmail's own per-client limits
  sendmail-feature  the FEATURE file for sendmail's cf/feature/
  exim-satellite    update-exim4.conf.conf for hosts relaying through the MX
  exim-acl          the policy as Exim main options and ACLs
  postfix           main.cf lines: the milter and Postfix's native limits
  postfix-tables    the cidr and pcre tables for those lines, into a directory)");
  gen->require_subcommand(1);
  add_sendmail_mc(*gen, d);
  add_sendmail_access(*gen, d);
  add_sendmail_feature(*gen, d);
  add_exim_satellite(*gen, d);
  add_exim_acl(*gen, d);
  add_postfix(*gen, d);
  add_postfix_tables(*gen, d);
}

}  // namespace harden::cli
