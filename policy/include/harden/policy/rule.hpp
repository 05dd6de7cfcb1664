// rule.hpp - a policy rule: a selector and the attributes it sets.
//
// Every attribute is optional on a rule; an attribute a rule does not set
// falls through to a less specific rule (see policy.hpp). The attribute
// names are the words used everywhere: YAML, SQL columns, CLI flags, logs.
//
// The attributes are declared once, in HARDEN_POLICY_ATTRIBUTES below: name,
// type, kind of value, bounds, default-rule-only, help text. `allow` lifts every limit;
// `reason` goes with the action that decided; dialin and missing_rdns may
// only be set on the default rule.
//
// 0 means unlimited / off, as in sendmail's access map.
// A rule may also have `expires` (UTC time); an expired rule never matches.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "harden/policy/memory.hpp"
#include "harden/policy/rate.hpp"
#include "harden/policy/selector.hpp"

namespace harden::policy {

enum class Action : std::uint8_t { limit, allow, block, tempfail };
// What a setting does with its outcome: the built-in rDNS heuristics (dialin
// with `dynamic`, generic_hosting with `hosting`, rdns.hpp) and penalties.
enum class ModeSetting : std::uint8_t { off, monitor, block };
enum class MissingRdnsMode : std::uint8_t { off, monitor, tempfail, block };

std::string_view to_string(Action a);
std::string_view to_string(ModeSetting m);
std::string_view to_string(MissingRdnsMode m);

inline constexpr std::uint32_t kMaxGreetPauseMs = 60'000;  // see README: below MTA timeouts
// milter-harden's default greet_pause_cap (its config key table says "9s"; a
// test holds them equal): hardenctl check assumes it when no daemon answers.
inline constexpr std::uint32_t kDefaultGreetPauseCapMs = 9'000;
// The longest greet pass and penalty durations (they fit the ms type).
inline constexpr std::uint32_t kMaxPassTtlMs = 30u * 86'400'000u;
inline constexpr std::uint32_t kMaxPenaltyMs = 30u * 86'400'000u;
inline constexpr std::size_t kMaxReasonLength = 200;
inline constexpr std::size_t kMaxCommentLength = 500;

// What kind of value an attribute holds; its parsing, printing, bounds and
// SQL column type follow from it.
//   count     N or 0 (std::uint32_t, at most kMaxCount)
//   rate      N/WINDOW or 0 (Rate)
//   duration  milliseconds, parse_duration_ms text (std::uint32_t, at most max)
//   enumeration  one of the enum's names (to_string)
//   text      printable ASCII, at most max characters (std::string; a
//             std::string_view into the Policy in Limits)
//   weights   KIND=N,... or none (OffenceWeights, memory.hpp)
enum class AttrKind : std::uint8_t { count, rate, duration, enumeration, text, weights };

// THE declaration of the attributes, in the order of the table above: one
// line each. The Attr enum, kAttrCount, the Attributes and Limits members,
// has/set/clear/get, the store's columns, resolution, the tables of
// `hardenctl check` / the control "client" reply, `rule add --help` and the
// README table (attribute_table_markdown) all follow from it. A new attribute
// is one line here plus its check in decision.cpp.
//
// X(name, type, kind, max, default_only, value_syntax, doc)
//   type          the value's C++ type (an enum for kind enumeration)
//   max           upper bound for count/duration (ms)/text (length); else 0
//   default_only  may only be set on the default rule
//   value_syntax  for help and errors: "N/WINDOW or 0"
#define HARDEN_POLICY_ATTRIBUTES(X)                                                              \
  X(action, Action, enumeration, 0, false, "limit|allow|block|tempfail",                         \
    "allow lifts every limit; block rejects (550 5.7.1), tempfail defers (421/450)")             \
  X(conn_rate, Rate, rate, 0, false, "N/WINDOW or 0",                                            \
    "connections per client key per sliding window (421 4.3.2)")                                 \
  X(conn_limit, std::uint32_t, count, kMaxCount, false, "N or 0",                                \
    "open connections per client key (421 4.3.2)")                                               \
  X(greet_pause, std::uint32_t, duration, kMaxGreetPauseMs, false, "ms (2000, 2s, 250ms) or 0",  \
    "hold the greeting this long; reject clients that talk first (554 5.7.1); the daemon holds " \
    "at most its greet_pause_cap")                                                               \
  X(max_rcpts, std::uint32_t, count, kMaxCount, false, "N or 0",                                 \
    "recipients per message (452 4.5.3 past it)")                                                \
  X(bad_rcpt_throttle, std::uint32_t, count, kMaxCount, false, "N or 0",                         \
    "after N rejected recipients in a session, answer each further RCPT 1 s late")               \
  X(rcpt_rate, Rate, rate, 0, false, "N/WINDOW or 0",                                            \
    "recipients per client key per window (450 4.7.1)")                                          \
  X(msg_rate, Rate, rate, 0, false, "N/WINDOW or 0",                                             \
    "messages per client key per window (450 4.7.1)")                                            \
  X(reason, std::string, text, kMaxReasonLength, false, "text",                                  \
    "shown to the client when this rule blocks or defers")                                       \
  X(dialin, ModeSetting, enumeration, 0, true, "off|monitor|block",                              \
    "built-in dynamic-rDNS heuristic (default rule only)")                                       \
  X(generic_hosting, ModeSetting, enumeration, 0, true, "off|monitor|block",                     \
    "built-in heuristic for generic cloud/hosting rDNS names (default rule only)")               \
  X(missing_rdns, MissingRdnsMode, enumeration, 0, true, "off|monitor|tempfail|block",           \
    "clients without verified rDNS (default rule only)")                                         \
  X(greet_pass_ttl, std::uint32_t, duration, kMaxPassTtlMs, false, "duration or 0",              \
    "a client key that waited its greet pause in silence and then had a recipient accepted "     \
    "skips the pause for this long (0: never remembered)")                                       \
  X(penalty, ModeSetting, enumeration, 0, false, "off|monitor|block",                            \
    "refuse repeat offenders at connect for an escalating time (monitor: log only)")             \
  X(penalty_threshold, std::uint32_t, count, kMaxCount, false, "N or 0",                         \
    "offence weight within penalty_window that starts a penalty (0: never)")                     \
  X(penalty_window, std::uint32_t, duration, kMaxPenaltyMs, false, "duration",                   \
    "how long an offence counts towards penalty_threshold")                                      \
  X(penalty_base, std::uint32_t, duration, kMaxPenaltyMs, false, "duration",                     \
    "the first penalty's length; each later one within penalty_memory doubles it")               \
  X(penalty_max, std::uint32_t, duration, kMaxPenaltyMs, false, "duration or 0",                 \
    "the longest penalty (0: no cap below 2^20 * penalty_base)")                                 \
  X(penalty_memory, std::uint32_t, duration, kMaxPenaltyMs, false, "duration",                   \
    "how long a penalty counts towards the doubling of the next")                                \
  X(penalty_reply, PenaltyReply, enumeration, 0, false, "tempfail|reject",                       \
    "the answer while a penalty is in force: 421 4.7.0 or 554 5.7.1")                            \
  X(penalty_weights, OffenceWeights, weights, 0, false, "KIND=N,... or none",                    \
    "the weight of each kind of refusal as an offence (kinds not named: 0)")

enum class Attr : std::uint8_t {
#define HARDEN_ATTR_ENUMERATOR(name, ...) name,
  HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_ENUMERATOR)
#undef HARDEN_ATTR_ENUMERATOR
};
#define HARDEN_ATTR_ONE(...) +1
inline constexpr std::size_t kAttrCount = 0 HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_ONE);
#undef HARDEN_ATTR_ONE

struct AttrInfo {
  Attr attr;
  std::string_view name;
  std::string_view value_syntax;  // for help and errors: "N/WINDOW or 0"
  std::string_view doc;
  bool default_only;  // may only be set on the default rule
  AttrKind kind;
  std::uint64_t max;  // count: value; duration: ms; text: length; else 0
};
// The one table of attributes (from HARDEN_POLICY_ATTRIBUTES); parsing,
// printing, help and the SQL schema use it.
std::span<const AttrInfo> attributes();
const AttrInfo& info(Attr a);
// Throws PolicyError "unknown attribute 'x' (known: ...)".
Attr attr_from_name(std::string_view name);
// Count and duration attributes are stored as INTEGER, the others as TEXT.
std::string_view sql_type(Attr a);
// A limit is a count, rate or duration (0: unlimited/off); actions, modes
// and text are not.
bool is_limit(Attr a);
// The README's attribute table (Markdown), generated from the declaration;
// a unit test holds README.md to it.
std::string attribute_table_markdown();

struct Attributes {
#define HARDEN_ATTR_MEMBER(name, type, ...) std::optional<type> name;
  HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_MEMBER)
#undef HARDEN_ATTR_MEMBER

  bool has(Attr a) const;
  // Parses and sets one attribute from its text form. Throws PolicyError
  // naming the attribute and the bad value.
  void set(Attr a, std::string_view value);
  void set(std::string_view name, std::string_view value) {
    set(attr_from_name(name), value);
  }
  void clear(Attr a);
  // Canonical text of a set attribute, or nullopt; set(a, *get(a)) is identity.
  std::optional<std::string> get(Attr a) const;
  bool empty() const;

  friend bool operator==(const Attributes&, const Attributes&) = default;
};

using UnixTime = std::chrono::sys_seconds;

// "2026-12-31", "2026-12-31T23:59Z", "2026-12-31T23:59:59Z", "2026-12-31 23:59:59"
// (all UTC) -> time. A bare date is 00:00:00 of that day: "expires 2026-12-31"
// stops matching when 31 December begins.
UnixTime parse_time(std::string_view text);
std::string format_time(UnixTime t);  // "2026-12-31T23:59:59Z"

struct Rule {
  std::int64_t id = 0;  // store row id; 0 when not stored
  Selector selector;
  // Order among pattern rules, lower first (import order). Other kinds ignore
  // it; it is never negative.
  std::int64_t priority = 0;
  Attributes attrs;
  std::optional<UnixTime> expires;
  std::string comment;  // free text for the administrator; never sent to clients

  bool expired(UnixTime now) const { return expires && *expires <= now; }
  // Throws PolicyError naming the rule when an attribute is not allowed on its
  // selector (dialin / missing_rdns outside the default rule), the comment is
  // unsafe, or nothing is set on a non-default rule.
  void validate() const;

  friend bool operator==(const Rule&, const Rule&) = default;
};

// Checks reason/comment text: printable ASCII (0x20..0x7e) only, bounded
// length. Such text reaches SMTP replies and logs. Throws PolicyError.
void check_text(std::string_view what, std::string_view text, std::size_t max_len);

}  // namespace harden::policy
