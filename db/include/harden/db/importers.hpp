// importers.hpp - reading other tools' policy files into rules.
//
// SYNOPSIS
//   ImportResult r = parse_sendmail_access(in, "access");          // window 60s
//   ImportResult r = parse_sendmail_access(in, "access", std::chrono::seconds{300});
//   ImportResult r = parse_hosts_deny(in, "/etc/hosts.deny");
//   ImportResult r = parse_postfix_pcre(in, "fqrdns.pcre");
//   ImportPlan plan = plan_import(store, r);  // what would change (dry run)
//   apply_import(store, plan);                // one transaction
//
// Every malformed line is an ImportError "file:line: message"; a file with
// any bad line imports nothing. Lines understood but not imported give a
// note "file:line: skipped ...". Input is bounded: lines up to
// kMaxImportLineLength bytes, kMaxImportLines lines, no NUL bytes.
// Reply texts are cleaned (blank runs -> one space, a leading "5.7.1" style
// code dropped); a text over kMaxReasonLength is cut with a note; a text
// with bytes other than printable ASCII is an error.
//
// SENDMAIL ACCESS (makemap source: "KEY<blanks>VALUE", '#' comments in column
// 1, no continuation lines: makemap refuses a line that starts with a blank,
// and so do we). Tags are case-insensitive; entries for one key merge into
// one rule; the same tag twice for one key is an error.
//   ClientRate:KEY N   -> conn_rate N/window (confCONNECTION_RATE_WINDOW_SIZE,
//                         default 60s; 0 = unlimited)
//   ClientConn:KEY N   -> conn_limit N
//   GreetPause:KEY MS  -> greet_pause MS
//   Connect:KEY REJECT               -> action block
//   Connect:KEY ERROR:[d.s.n:]5NN text, ERROR:"5NN text", "5NN text"
//                                    -> action block, reason text (4NN: tempfail)
//   Connect:KEY OK | RELAY | SKIP    -> action limit: as in sendmail, the client
//        escapes Connect: rejections (block rules, dial-in checks) but keeps
//        every ClientRate/ClientConn/GreetPause limit; "allow" would lift them.
//   Connect:KEY DISCARD | QUARANTINE:... -> skipped with a note.
//   KEY: "" (ClientRate:/ClientConn: only, = default rule), "192.0.2.7",
//   "192.0.2" / "10" (sendmail's octet-prefix networks, /24 and /8),
//   "IPv6:2001:db8::7", "IPv6:2001:db8" (leading whole groups, = /32), and for
//   GreetPause:/Connect: host names. sendmail matches a name key against the
//   client name and all its parent domains, so "example.com" becomes two
//   rules: host example.com and suffix .example.com; ".example.com"
//   (FEATURE(lookupdotdomain)) becomes the suffix rule only and wins over the
//   suffix half of "example.com". sendmail never looks up names for
//   ClientRate:/ClientConn: nor an empty GreetPause:/Connect: key: skipped
//   with a note, as are untagged entries and other tags (From:, To:, ...).
//
// HOSTS.DENY (tcpwrappers; backslash-newline joins lines; '#' comments).
//   Lines whose daemon list matches "sendmail" (ALL, EXCEPT evaluated as
//   tcpd does) import each client pattern as a block rule with the reason
//   kHostsDenyReason: ".suffix" -> suffix, "host" -> host, "192.0.2." ->
//   192.0.2.0/24, "net/255.255.0.0" and "net/16" -> network, "[2001:db8::]/32"
//   -> network. ALL (would block everyone), LOCAL, KNOWN, UNKNOWN, PARANOID,
//   @netgroups, user@host, /files and wildcards are skipped with a note. A
//   client list with EXCEPT is skipped whole (the exceptions cannot be kept
//   exactly); ": allow" lines are skipped; other options (spawn, twist, ...)
//   are ignored with a note.
//
// POSTFIX PCRE (pcre_table(5): logical lines continue on lines starting with
//   a blank; '#' comments). "/re/flags ACTION text", any delimiter, "!" to
//   negate, "if /re/" ... "endif" nested (the enclosing conditions become the
//   rule's first pattern terms, so the rule matches exactly when Postfix
//   would reach and match it). Flags toggle Postfix's defaults: m s E U X do
//   not change whether a host name matches and are accepted; A anchors the
//   term; i (case-sensitive) and x (extended) cannot be honoured: error.
//   Actions (case-insensitive): REJECT/reject [text], 5NN text -> block with
//   the text as reason; DEFER, DEFER_IF_REJECT, DEFER_IF_PERMIT, 4NN text ->
//   tempfail; OK, PERMIT, all-numerical -> allow; DUNNO -> limit (it ends
//   the table lookup without a verdict: later patterns do not block, limits
//   stay; mapping it to allow would exempt e.g. every IPv6 name from every
//   limit). FILTER, PREPEND, WARN, HOLD, DISCARD, REDIRECT, BCC, INFO and
//   restriction names are skipped with a note; anything else is an error.
//   Pattern rules get priorities 1, 2, 3... in file order; a rule whose
//   pattern repeats an earlier one is skipped (Postfix takes the first).
//   Postfix also matches the name "unknown" for clients without rDNS; our
//   pattern rules match only verified names (see missing_rdns).
#pragma once

#include <chrono>
#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harden/db/store.hpp"
#include "harden/policy/rule.hpp"

namespace harden::db {

class ImportError : public DbError {
 public:
  using DbError::DbError;
};

inline constexpr std::size_t kMaxImportLineLength = 64 * 1024;
inline constexpr std::size_t kMaxImportLines = 1'000'000;
inline constexpr std::string_view kHostsDenyReason =
    "Dial-in/dynamic host blocked (hosts.deny); please relay via your ISP";

struct ImportResult {
  std::vector<policy::Rule> rules;  // in file order (pattern priorities 1, 2, ...)
  std::vector<std::string> notes;   // "file:line: skipped ...": lines understood but not imported
};

ImportResult parse_sendmail_access(std::istream& in, std::string_view filename);
// `rate_window` is sendmail's confCONNECTION_RATE_WINDOW_SIZE (1s..7d; the
// overload above uses sendmail's default, 60s).
ImportResult parse_sendmail_access(std::istream& in, std::string_view filename,
                                   std::chrono::seconds rate_window);
ImportResult parse_hosts_deny(std::istream& in, std::string_view filename);
ImportResult parse_postfix_pcre(std::istream& in, std::string_view filename);

struct ImportChange {
  enum class Kind { add, update, unchanged } kind;
  policy::Rule rule;                   // as it will be stored
  std::optional<policy::Rule> before;  // update/unchanged: the stored rule
};
struct ImportPlan {
  std::vector<ImportChange> changes;
  std::size_t added() const;
  std::size_t updated() const;
  std::size_t unchanged() const;
};

// Imported attributes are set onto an existing rule with the same selector
// (others it has, its comment, priority and expiry are kept); new pattern
// rules go after the store's existing pattern rules, in file order. Reads the
// store only. Throws ImportError if a merged rule is invalid.
ImportPlan plan_import(const Store& store, const ImportResult& result);
// Applies the plan in one transaction. Throws ImportError (and changes
// nothing) if a rule the plan updates has changed in the store since.
void apply_import(Store& store, const ImportPlan& plan);

}  // namespace harden::db
