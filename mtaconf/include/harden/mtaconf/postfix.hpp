// postfix.hpp - Postfix main.cf lines and access tables from the policy.
//
// SYNOPSIS
//   PostfixOptions o;                       // milter socket, version, table directory
//   std::string cf = postfix_main_cf(*policy, o, from, now);          // main.cf lines
//   std::vector<PostfixTable> t = postfix_tables(*policy, from, now); // cidr + pcre files
//   std::string s = check_postfix_milter("inet:127.0.0.1:8894");
//
// MAIN.CF (postfix_main_cf)
//   What a Postfix MX can enforce natively, with the milter or without it:
//   - smtpd_milters, milter_default_action, milter_command_timeout above the
//     longest greet_pause of the policy (Postfix waits that long for the
//     connect reply the milter holds for the pause);
//   - anvil limits from the default rule: smtpd_client_connection_rate_limit,
//     _connection_count_limit, _message_rate_limit, _recipient_rate_limit
//     and the one anvil_rate_time_unit of them all (see ANVIL below);
//     smtpd_client_event_limit_exceptions from the allow rules (addresses,
//     networks, host names, suffixes; a more specific non-allow rule inside
//     an allow becomes a "!" entry before it);
//   - smtpd_recipient_limit (max_rcpts), smtpd_soft_error_limit and
//     smtpd_error_sleep_time (bad_rcpt_throttle);
//   - smtpd_client_ipv4/ipv6_prefix_length (the policy's client key) for
//     Postfix 3.8 and later only;
//   - the block/allow/tempfail rules as smtpd_client_restrictions =
//     check_client_access cidr:TABLE_DIR/kPostfixCidrTable, whose catch-all
//     entries hand every client no address rule decided to the restriction
//     class kPostfixNamesClass: check_client_access
//     pcre:TABLE_DIR/kPostfixNameTable (verified host names, as the policy),
//     then reject_unknown_client_hostname for the default's missing_rdns;
//   - with postscreen: postscreen_greet_wait / postscreen_greet_action and
//     the master.cf lines in a comment.
//   What Postfix cannot express is listed once in the header comment, with
//   the earliest expiry of a rule (Postfix never expires anything: generate
//   again then).
//
// ANVIL
//   anvil counts events per client in fixed windows of anvil_rate_time_unit
//   (T) that restart at the first event after the previous window ended, so
//   two windows can meet inside any span. A rate N/W of the policy becomes
//   L = floor(N / m) with m = ceil((W + T + 1) / T), the most windows that
//   can hold events inside one policy window of W (a window's events span
//   less than T + 1 s of wall time, one second of event-time rounding).
//   Then Postfix never admits more than N over any W. T is the default
//   rule's conn_rate window + 1 s (m = 2 for it), else the smallest rate
//   window + 1 s. A rate whose L would be 0 is not written (0 would mean
//   "unlimited" to Postfix) and is listed as enforced by the milter only.
//
// TABLES (postfix_tables)
//   kPostfixCidrTable: address and network rules that set `action`, most
//   specific first (first match wins): allow -> OK, block -> "550 5.7.1
//   REASON", tempfail -> "421 4.7.0 REASON" (421 disconnects), limit ->
//   DUNNO (no name rule may decide then); then 0.0.0.0/0 and ::/0 ->
//   kPostfixNamesClass. kPostfixNameTable: host, suffix and pattern rules
//   that set `action`, in the policy's order (a conjunction as nested `if`s,
//   shared by adjacent rules with the same leading terms), inside guards
//   that keep the address and "unknown" lookups of check_client_access
//   from matching.
//
// SAFETY
//   main.cf values are numbers, durations, fixed words, validated
//   addresses, networks and host names, and the checked milter spec and
//   table directory (letters, digits and . _ / + - only). Policy text
//   (reasons) goes only into table results, as printable ASCII on one line,
//   with `$` written `$$` in the pcre table (its results expand $1 and $$;
//   cidr results are taken literally); regexes are written between `/`
//   with every unescaped `/` escaped (Postfix hands "\/" to PCRE as it is,
//   so PCRE reads the regex as the milter does), and a regex Postfix's
//   delimiter scan would read differently (a bare `/` inside \Q...\E, which
//   Selector::for_pattern never stores; anything but printable ASCII) is
//   refused with GenerateError naming the rule. Comments carry a sanitised
//   copy of rule names (comment_text), never raw text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harden/mtaconf/generate.hpp"
#include "harden/policy/policy.hpp"

namespace harden::mtaconf {

inline constexpr std::string_view kPostfixCidrTable = "milter-harden-client.cidr";
inline constexpr std::string_view kPostfixNameTable = "milter-harden-client-names.pcre";
inline constexpr std::string_view kPostfixNamesClass = "milter_harden_client_names";
inline constexpr std::string_view kDefaultPostfixTableDir = "/etc/postfix/milter-harden";
inline constexpr std::string_view kDefaultPostfixMilter = "inet:127.0.0.1:8894";
// Postfix's own milter_command_timeout; ours is never below it.
inline constexpr std::chrono::seconds kPostfixDefaultCommandTimeout{30};

enum class PostfixVersion { v3_7, v3_8_plus };
// "3.7" or "3.8+" (also "3.8", "3.9", "3.10": all 3.8+). Throws GenerateError.
PostfixVersion parse_postfix_version(std::string_view text);

enum class MilterDefaultAction { accept, tempfail, reject, quarantine };
// Postfix's words: accept, tempfail, reject, quarantine. Throws GenerateError.
MilterDefaultAction parse_milter_default_action(std::string_view text);

struct PostfixOptions {
  std::string milter{kDefaultPostfixMilter};  // Postfix form; empty: no smtpd_milters line
  MilterDefaultAction default_action = MilterDefaultAction::accept;
  PostfixVersion version = PostfixVersion::v3_7;
  std::string table_dir{kDefaultPostfixTableDir};
  bool postscreen = false;
};

// Validates a Postfix milter spec and returns it canonical: unix:PATH
// (absolute or relative to Postfix's queue directory, [A-Za-z0-9._/+-]) or
// inet:HOST:PORT (HOST an IPv4 address, [IPv6] or a host name). Throws
// GenerateError naming the bad part.
std::string check_postfix_milter(std::string_view spec);
// An absolute directory of [A-Za-z0-9._/+-]. Throws GenerateError.
std::string check_postfix_table_dir(std::string_view dir);

// anvil_rate_time_unit for the policy (see ANVIL), or nullopt when the
// default rule sets no rate.
std::optional<std::chrono::seconds> anvil_time_unit(const policy::Policy& p);
// The anvil limit that never admits more than `r` over its window with time
// unit `unit`; 0 when none does (r unlimited, or N too small).
std::uint32_t anvil_limit(const policy::Rate& r, std::chrono::seconds unit);

// Which table a result is written for: pcre results expand $1 and $$,
// cidr results are taken as they are.
enum class PostfixTableKind { cidr, pcre };
// Policy text for a table result: printable ASCII, for pcre with `$`
// doubled. Throws GenerateError on anything else.
std::string postfix_escape(std::string_view text, PostfixTableKind kind);

std::string postfix_main_cf(const policy::Policy& p, const PostfixOptions& options,
                            const Provenance& from, policy::UnixTime now);

struct PostfixTable {
  std::string file_name;  // kPostfixCidrTable or kPostfixNameTable
  std::string text;
};
std::vector<PostfixTable> postfix_tables(const policy::Policy& p, const Provenance& from,
                                         policy::UnixTime now);

}  // namespace harden::mtaconf
