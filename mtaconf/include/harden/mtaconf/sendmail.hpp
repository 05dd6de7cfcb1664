// sendmail.hpp - sendmail.mc lines and access map entries from the policy.
//
// SYNOPSIS
//   std::string mc = sendmail_mc(*policy, SendmailMcOptions{}, from, now);
//   std::string map = sendmail_access(*policy, from, now);   // for makemap hash
//   std::string s = check_milter_socket("unix:/run/milter-harden/milter.sock");
//   std::string f = sendmail_feature();                      // contrib/m4/milter_harden.m4
//
// sendmail_mc() prints, for pasting into sendmail.mc after the FEATURE()
// lines and before MAILER_DEFINITIONS:
//   - INPUT_MAIL_FILTER(`milter-harden', `S=..., F=T, T=C:..;S:..;R:..;E:..')
//     with R: (how long sendmail waits for the connect reply, default 10 s)
//     above the longest greet_pause of the policy plus a margin;
//   - confMILTER_MACROS_CONNECT/ENVFROM/ENVRCPT extended (not replaced) by
//     the macros of macros.hpp that sendmail's defaults lack;
//   - the global options from the default rule (confMAX_RCPTS_PER_MESSAGE,
//     confBAD_RCPT_THROTTLE, confCONNECTION_RATE_WINDOW_SIZE) and from the
//     options (confCONNECTION_RATE_THROTTLE, confMAX_DAEMON_CHILDREN, short
//     confTO_* timeouts against connection-holding floods);
//   - with native_limits: FEATURE(`access_db'), FEATURE(`ratecontrol'),
//     FEATURE(`conncontrol') (`nodelay' only when delay_checks is in the .mc,
//     decided by m4 itself) and FEATURE(`greet_pause'), each refusing with an
//     m4 *** ERROR when the .mc already has it (sendmail would run it twice).
//
// sendmail_access() prints ClientRate:/ClientConn:/GreetPause: entries for
// every address, network, host and suffix rule, in sendmail's key forms
// (192.0.2 for a /24, IPv6:2001:db8:0:0:0:0:0:7 uncompressed as sendmail
// writes {client_addr}, empty key for the default, 0 for unlimited);
// networks off an octet / 16-bit boundary are expanded into up to
// kMaxExpandedKeys keys. What sendmail cannot express (patterns, per-/64
// IPv6 counting, rcpt/msg rates, per-rule max_rcpts, ClientRate windows
// other than the one global window) is listed in comments as "enforced by
// the milter only".
//
// Both refuse nothing a validated policy can hold except what they say;
// only numbers, durations, validated keys and the checked socket spec are
// written outside comments. Errors: GenerateError (see generate.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "harden/mtaconf/generate.hpp"
#include "harden/policy/policy.hpp"

namespace harden::mtaconf {

// The daemon's default socket (milter/ config key "socket").
inline constexpr std::string_view kDefaultMilterSocket = "unix:/run/milter-harden/milter.sock";
// sendmail's default T=R: (connect reply) timeout and our margin above the
// longest greet_pause.
inline constexpr std::chrono::seconds kSendmailDefaultReplyTimeout{10};
inline constexpr std::chrono::seconds kReplyTimeoutMargin{10};
// A network expands into at most this many access keys; wider ones are
// listed as milter-only.
inline constexpr std::size_t kMaxExpandedKeys = 256;

// What sendmail does with mail while the milter cannot be reached (F=).
enum class MilterOnFailure { tempfail, reject, tempfail_close, none };
// "T" (tempfail), "R" (reject), "4" (421 and close), "none" (accept unchecked).
MilterOnFailure parse_on_failure(std::string_view text);

struct SendmailMcOptions {
  std::string socket{kDefaultMilterSocket};
  MilterOnFailure on_failure = MilterOnFailure::tempfail;
  bool native_limits = false;
  std::uint32_t max_daemon_children = 0;       // 0: leave sendmail's value
  std::uint32_t connection_rate_throttle = 0;  // 0: leave sendmail's value
  bool short_timeouts = true;                  // the confTO_* lines
};

// Validates a sendmail milter socket spec and returns it canonical:
// unix:/PATH or local:/PATH (absolute, [A-Za-z0-9._/+-] only),
// inet:PORT@HOST or inet6:PORT@HOST (HOST an address of that family or a
// host name). Throws GenerateError naming the bad part.
std::string check_milter_socket(std::string_view spec);

// T=R: for the policy: the longest greet_pause of any live rule plus the
// margin, never below sendmail's default.
std::chrono::seconds milter_reply_timeout(const policy::Policy& p, policy::UnixTime now);

// The one ClientRate window of sendmail (ConnectionRateWindowSize): the
// default rule's conn_rate window, or sendmail's 60 s.
std::chrono::seconds connection_rate_window(const policy::Policy& p);

std::string sendmail_mc(const policy::Policy& p, const SendmailMcOptions& options,
                        const Provenance& from, policy::UnixTime now);
std::string sendmail_access(const policy::Policy& p, const Provenance& from, policy::UnixTime now);

// contrib/m4/milter_harden.m4, the sendmail FEATURE (no policy needed):
//   FEATURE(`milter_harden' [, `SOCKET' [, `T'|`R'|`4'|`none']])
// with T=C:10s;S:10s;R:70s;E:5m (R: above the largest greet_pause a policy
// may hold) unless confMILTER_HARDEN_TIMEOUTS is defined, and the same
// confMILTER_MACROS_* lines as sendmail_mc(). A unit test keeps the file in
// the repository equal to this text.
std::string sendmail_feature();

}  // namespace harden::mtaconf
