// rule.hpp - a policy rule: a selector and the attributes it sets.
//
// Every attribute is optional on a rule; an attribute a rule does not set
// falls through to a less specific rule (see policy.hpp). The attribute
// names are the words used everywhere: YAML, SQL columns, CLI flags, logs.
//
//   name               value                       meaning
//   action             limit|allow|block|tempfail  allow lifts every limit; block = 550, tempfail =
//   450/421 conn_rate          N/WINDOW or 0               connections per client key per sliding
//   window conn_limit         N or 0                      open connections per client key
//   greet_pause        ms (2000, 2s, 250ms, 1m)    hold the greeting, reject talkers (0: none)
//   max_rcpts          N or 0                      recipients per message
//   bad_rcpt_throttle  N or 0                      after N rejected rcpts, slow each further RCPT
//   rcpt_rate          N/WINDOW or 0               recipients per client key per window
//   msg_rate           N/WINDOW or 0               messages per client key per window
//   reason             text                        shown to the client with block/tempfail
//   dialin             off|monitor|block           built-in dynamic-rDNS heuristic (default rule
//   only) missing_rdns       off|monitor|tempfail|block  clients without (or with forged) rDNS
//   (default rule only)
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

#include "harden/policy/rate.hpp"
#include "harden/policy/selector.hpp"

namespace harden::policy {

enum class Action : std::uint8_t { limit, allow, block, tempfail };
enum class DialinMode : std::uint8_t { off, monitor, block };
enum class MissingRdnsMode : std::uint8_t { off, monitor, tempfail, block };

std::string_view to_string(Action a);
std::string_view to_string(DialinMode m);
std::string_view to_string(MissingRdnsMode m);

inline constexpr std::uint32_t kMaxGreetPauseMs = 60'000;  // see README: below MTA timeouts
// milter-harden's default greet_pause_cap (its config key table says "9s"; a
// test holds them equal): hardenctl check assumes it when no daemon answers.
inline constexpr std::uint32_t kDefaultGreetPauseCapMs = 9'000;
inline constexpr std::size_t kMaxReasonLength = 200;
inline constexpr std::size_t kMaxCommentLength = 500;

// The attributes, in the order of the table above.
enum class Attr : std::uint8_t {
  action,
  conn_rate,
  conn_limit,
  greet_pause,
  max_rcpts,
  bad_rcpt_throttle,
  rcpt_rate,
  msg_rate,
  reason,
  dialin,
  missing_rdns,
};
inline constexpr std::size_t kAttrCount = 11;

struct AttrInfo {
  Attr attr;
  std::string_view name;
  std::string_view value_syntax;  // for help and errors: "N/WINDOW or 0"
  std::string_view doc;
  bool default_only;  // may only be set on the default rule
};
// The one table of attributes; parsing, printing, help and the SQL schema use it.
std::span<const AttrInfo> attributes();
const AttrInfo& info(Attr a);
// Throws PolicyError "unknown attribute 'x' (known: ...)".
Attr attr_from_name(std::string_view name);

struct Attributes {
  std::optional<Action> action;
  std::optional<Rate> conn_rate;
  std::optional<std::uint32_t> conn_limit;
  std::optional<std::uint32_t> greet_pause;  // ms; set() takes parse_duration_ms text
  std::optional<std::uint32_t> max_rcpts;
  std::optional<std::uint32_t> bad_rcpt_throttle;
  std::optional<Rate> rcpt_rate;
  std::optional<Rate> msg_rate;
  std::optional<std::string> reason;
  std::optional<DialinMode> dialin;
  std::optional<MissingRdnsMode> missing_rdns;

  bool has(Attr a) const;
  // Parses and sets one attribute from its text form. Throws PolicyError
  // naming the attribute and the bad value.
  void set(Attr a, std::string_view value);
  void set(std::string_view name, std::string_view value) { set(attr_from_name(name), value); }
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
