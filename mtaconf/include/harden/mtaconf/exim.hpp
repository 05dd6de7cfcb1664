// exim.hpp - Exim configuration from the policy: satellites and an Exim MX.
//
// SYNOPSIS
//   SatelliteOptions s; s.smarthost = "mx.example.org::587"; s.satellite_nets = {...};
//   std::string conf = exim_satellite(*policy, s, from, now);  // update-exim4.conf.conf
//   std::vector<policy::Rule> allow = satellite_allow_rules(s); // for --apply
//
//   EximAclParts parts = exim_acl(*policy, EximAclOptions{}, from, now);
//   std::string all = render_exim_acl(parts);                   // all three, with placement
//
// SATELLITE
//   Internal hosts that send all their mail through the hardened MX get
//   Debian's update-exim4.conf.conf for dc_eximconfig_configtype='satellite':
//   loopback-only dc_local_interfaces, dc_smarthost in Debian's host::port
//   form (IPv6 colons doubled, no spaces), dc_readhost, dc_hide_mailname,
//   no relay domains. Its trailing comments list the `hardenctl rule add`
//   commands that make the satellite networks `allow` on the MX (a
//   satellite's cron bursts must not trip client limits). The file is
//   sourced by a root shell script: every value is validated (host names,
//   addresses, ports) and written between single quotes.
//
// EXIM MX (Debian split configuration, dc_use_split_config='true')
//   main  -> /etc/exim4/conf.d/main/05_milter-harden: smtp_accept_max,
//            smtp_accept_max_per_host (per IP rule, expanded), recipients_max
//            with recipients_max_reject = false (452 as sendmail and the
//            milter), smtp_enforce_sync, pipelining_connect_advertise_hosts
//            = : (else Exim >= 4.94 hides pre-greeting talkers),
//            acl_smtp_connect, and CHECK_RCPT_LOCAL_ACL_FILE for the rcpt part.
//   acl   -> /etc/exim4/conf.d/acl/25_milter-harden: the connect ACL and one
//            small ACL per attribute that resolves it like the milter does
//            (most specific rule first) into $acl_c_harden_* variables;
//            a pattern table's if block is one statement checking its guard
//            and calling a sub-ACL (acl_milter_harden_<attr>_blockN) that
//            starts with a *suffix pre-filter. Allow list first, then
//            block/tempfail rules (IPs, networks, *.suffix, \N^regex\N),
//            missing rDNS, conn_rate as
//            `defer ratelimit = N.1 / P / per_conn / strict / KEY` with
//            P = 10(N+1)W/9 s (never N+1 within any W; see mtaconf/README.md),
//            greet_pause as `delay`.
//   An expiring rule's statements start with ${if <{$tod_epoch}{EPOCH}};
//   rules expired at `now` are left out; main and acl name the earliest
//   expiry ("Regenerate before ...").
//   rcpt  -> /etc/exim4/milter-harden-rcpt.acl, included by Debian's
//            acl_check_rcpt: max_rcpts, rcpt_rate, msg_rate, bad_rcpt_throttle.
//   For the non-split configuration: main into exim4.conf.localmacros, acl
//   after "begin acl" in exim4.conf.template; rcpt stays where it is.
//
// Reasons reach Exim expansion strings with \ and $ escaped (\x5c, \$);
// regexes are written between \N ... \N with list colons doubled, and a regex
// holding \N itself is refused. What Exim cannot do (the built-in dial-in
// heuristic, conn_limit by host name or IPv6 prefix or with an enhanced
// code, refusing early talkers before the pause ends) is said once in comments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harden/mtaconf/generate.hpp"
#include "harden/policy/policy.hpp"

namespace harden::mtaconf {

// --- satellites --------------------------------------------------------------

struct Smarthost {
  std::string host;        // host name, IPv4 or IPv6 address (no brackets)
  std::uint16_t port = 0;  // 0: Exim's default (25)
};
// "mx.example.org", "mx.example.org::587", "192.0.2.25::587",
// "[2001:db8::25]", "[2001:db8::25]::587". Throws GenerateError.
Smarthost parse_smarthost(std::string_view text);
// Debian's dc_smarthost form: "mx.example.org::587", "2001::db8::::25::587".
std::string debian_smarthost(const Smarthost& s);

struct SatelliteOptions {
  std::string smarthost;                          // HOST[::PORT], required
  std::string readhost;                           // visible mail domain; may be empty
  std::vector<policy::IpNetwork> satellite_nets;  // become `allow` on the MX
  bool hide_mailname = true;
};

inline constexpr std::string_view kSatelliteRuleComment =
    "exim satellite (hardenctl gen exim-satellite)";

// The `allow` rules the MX needs for the satellite networks.
std::vector<policy::Rule> satellite_allow_rules(const SatelliteOptions& s);
// `hardenctl rule add NET action=allow --comment '...'`.
std::string rule_add_command(const policy::Rule& r);

// update-exim4.conf.conf text; `p` is the MX's policy, used to say which
// satellite networks are allowed there already.
std::string exim_satellite(const policy::Policy& p, const SatelliteOptions& s,
                           const Provenance& from, policy::UnixTime now);

// --- Exim MX -----------------------------------------------------------------

inline constexpr std::string_view kEximMainFile = "/etc/exim4/conf.d/main/05_milter-harden";
inline constexpr std::string_view kEximAclFile = "/etc/exim4/conf.d/acl/25_milter-harden";
inline constexpr std::string_view kEximRcptFile = "/etc/exim4/milter-harden-rcpt.acl";

struct EximAclOptions {
  std::uint32_t smtp_accept_max = 20;  // Exim's own default; 0 = unlimited
};

struct EximAclParts {
  std::string main;  // main options
  std::string acl;   // ACL definitions
  std::string rcpt;  // statements inside Debian's acl_check_rcpt
};

EximAclParts exim_acl(const policy::Policy& p, const EximAclOptions& options,
                      const Provenance& from, policy::UnixTime now);
// The three parts one after another, each under a comment saying its file.
std::string render_exim_acl(const EximAclParts& parts);

// A reason as an Exim expansion string that expands to exactly `text`
// (printable ASCII; \ -> \x5c, $ -> \$, " -> \x22). Throws GenerateError on
// anything else.
std::string exim_escape(std::string_view text);

}  // namespace harden::mtaconf
