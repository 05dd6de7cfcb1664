// rule.cpp - the attribute table, attribute parsing and rule validation.
#include "harden/policy/rule.hpp"

#include <array>
#include <ctime>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

constexpr std::array<AttrInfo, kAttrCount> kAttributes{{
    {Attr::action, "action", "limit|allow|block|tempfail",
     "allow lifts every limit; block rejects (550), tempfail defers (421/450)", false},
    {Attr::conn_rate, "conn_rate", "N/WINDOW or 0",
     "connections per client key per sliding window (e.g. 5/60s)", false},
    {Attr::conn_limit, "conn_limit", "N or 0", "open connections per client key", false},
    {Attr::greet_pause, "greet_pause", "ms (2000, 2s, 250ms) or 0",
     "hold the greeting this long; reject clients that talk first", false},
    {Attr::max_rcpts, "max_rcpts", "N or 0", "recipients per message (452 4.5.3 past it)", false},
    {Attr::bad_rcpt_throttle, "bad_rcpt_throttle", "N or 0",
     "after N rejected recipients in a session, answer each further RCPT 1 s late", false},
    {Attr::rcpt_rate, "rcpt_rate", "N/WINDOW or 0", "recipients per client key per window", false},
    {Attr::msg_rate, "msg_rate", "N/WINDOW or 0", "messages per client key per window", false},
    {Attr::reason, "reason", "text", "shown to the client when this rule blocks or defers", false},
    {Attr::dialin, "dialin", "off|monitor|block",
     "built-in dynamic-rDNS heuristic (default rule only)", true},
    {Attr::missing_rdns, "missing_rdns", "off|monitor|tempfail|block",
     "clients without verified rDNS (default rule only)", true},
}};

template <typename E, std::size_t N>
E parse_enum(std::string_view attr, std::string_view value,
             const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == value) return static_cast<E>(i);
  }
  std::string known;
  for (auto n : names) known += (known.empty() ? "" : "|") + std::string(n);
  throw PolicyError(std::string(attr) + ": bad value " + quote(value) + " (expected " + known +
                    ")");
}

constexpr std::array<std::string_view, 4> kActionNames{"limit", "allow", "block", "tempfail"};
constexpr std::array<std::string_view, 3> kDialinNames{"off", "monitor", "block"};
constexpr std::array<std::string_view, 4> kMissingNames{"off", "monitor", "tempfail", "block"};

std::uint32_t parse_pause_attr(std::string_view name, std::string_view value) {
  try {
    return static_cast<std::uint32_t>(parse_duration_ms(value, kMaxGreetPauseMs));
  } catch (const PolicyError& e) {
    throw PolicyError(std::string(name) + ": " + e.what());
  }
}

Rate parse_rate_attr(std::string_view name, std::string_view value) {
  try {
    return Rate::parse(value);
  } catch (const PolicyError& e) {
    throw PolicyError(std::string(name) + ": " + e.what());
  }
}

}  // namespace

std::string_view to_string(Action a) {
  return kActionNames[static_cast<std::size_t>(a)];
}
std::string_view to_string(DialinMode m) {
  return kDialinNames[static_cast<std::size_t>(m)];
}
std::string_view to_string(MissingRdnsMode m) {
  return kMissingNames[static_cast<std::size_t>(m)];
}

std::span<const AttrInfo> attributes() {
  return kAttributes;
}
const AttrInfo& info(Attr a) {
  return kAttributes[static_cast<std::size_t>(a)];
}

Attr attr_from_name(std::string_view name) {
  for (const auto& i : kAttributes) {
    if (i.name == name) return i.attr;
  }
  std::string known;
  for (const auto& i : kAttributes) known += (known.empty() ? "" : ", ") + std::string(i.name);
  throw PolicyError("unknown attribute " + quote(name) + " (known: " + known + ")");
}

void check_text(std::string_view what, std::string_view text, std::size_t max_len) {
  if (text.size() > max_len) {
    throw PolicyError(std::string(what) + " longer than " + std::to_string(max_len) +
                      " characters");
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      throw PolicyError(std::string(what) + " " + quote(text) +
                        " has a character other than printable ASCII");
    }
  }
}

bool Attributes::has(Attr a) const {
  switch (a) {
    case Attr::action:
      return action.has_value();
    case Attr::conn_rate:
      return conn_rate.has_value();
    case Attr::conn_limit:
      return conn_limit.has_value();
    case Attr::greet_pause:
      return greet_pause.has_value();
    case Attr::max_rcpts:
      return max_rcpts.has_value();
    case Attr::bad_rcpt_throttle:
      return bad_rcpt_throttle.has_value();
    case Attr::rcpt_rate:
      return rcpt_rate.has_value();
    case Attr::msg_rate:
      return msg_rate.has_value();
    case Attr::reason:
      return reason.has_value();
    case Attr::dialin:
      return dialin.has_value();
    case Attr::missing_rdns:
      return missing_rdns.has_value();
  }
  return false;
}

void Attributes::set(Attr a, std::string_view v) {
  const std::string_view n = info(a).name;
  switch (a) {
    case Attr::action:
      action = parse_enum<Action>(n, v, kActionNames);
      return;
    case Attr::conn_rate:
      conn_rate = parse_rate_attr(n, v);
      return;
    case Attr::conn_limit:
      conn_limit = parse_count(v, n);
      return;
    case Attr::greet_pause:
      greet_pause = parse_pause_attr(n, v);
      return;
    case Attr::max_rcpts:
      max_rcpts = parse_count(v, n);
      return;
    case Attr::bad_rcpt_throttle:
      bad_rcpt_throttle = parse_count(v, n);
      return;
    case Attr::rcpt_rate:
      rcpt_rate = parse_rate_attr(n, v);
      return;
    case Attr::msg_rate:
      msg_rate = parse_rate_attr(n, v);
      return;
    case Attr::reason:
      check_text("reason", v, kMaxReasonLength);
      reason = std::string(v);
      return;
    case Attr::dialin:
      dialin = parse_enum<DialinMode>(n, v, kDialinNames);
      return;
    case Attr::missing_rdns:
      missing_rdns = parse_enum<MissingRdnsMode>(n, v, kMissingNames);
      return;
  }
}

void Attributes::clear(Attr a) {
  switch (a) {
    case Attr::action:
      action.reset();
      return;
    case Attr::conn_rate:
      conn_rate.reset();
      return;
    case Attr::conn_limit:
      conn_limit.reset();
      return;
    case Attr::greet_pause:
      greet_pause.reset();
      return;
    case Attr::max_rcpts:
      max_rcpts.reset();
      return;
    case Attr::bad_rcpt_throttle:
      bad_rcpt_throttle.reset();
      return;
    case Attr::rcpt_rate:
      rcpt_rate.reset();
      return;
    case Attr::msg_rate:
      msg_rate.reset();
      return;
    case Attr::reason:
      reason.reset();
      return;
    case Attr::dialin:
      dialin.reset();
      return;
    case Attr::missing_rdns:
      missing_rdns.reset();
      return;
  }
}

std::optional<std::string> Attributes::get(Attr a) const {
  auto num = [](const std::optional<std::uint32_t>& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return std::to_string(*v);
  };
  auto rate = [](const std::optional<Rate>& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return v->to_string();
  };
  switch (a) {
    case Attr::action:
      return action ? std::optional<std::string>(to_string(*action)) : std::nullopt;
    case Attr::conn_rate:
      return rate(conn_rate);
    case Attr::conn_limit:
      return num(conn_limit);
    case Attr::greet_pause:
      return num(greet_pause);
    case Attr::max_rcpts:
      return num(max_rcpts);
    case Attr::bad_rcpt_throttle:
      return num(bad_rcpt_throttle);
    case Attr::rcpt_rate:
      return rate(rcpt_rate);
    case Attr::msg_rate:
      return rate(msg_rate);
    case Attr::reason:
      return reason;
    case Attr::dialin:
      return dialin ? std::optional<std::string>(to_string(*dialin)) : std::nullopt;
    case Attr::missing_rdns:
      return missing_rdns ? std::optional<std::string>(to_string(*missing_rdns)) : std::nullopt;
  }
  return std::nullopt;
}

bool Attributes::empty() const {
  for (const auto& i : kAttributes) {
    if (has(i.attr)) return false;
  }
  return true;
}

UnixTime parse_time(std::string_view text) {
  // YYYY-MM-DD, optionally followed by 'T' or ' ' and HH:MM[:SS], optional 'Z'.
  const auto bad = [&] {
    return PolicyError("bad time " + quote(text) +
                       " (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, UTC)");
  };
  std::string_view s = text;
  if (!s.empty() && s.back() == 'Z') s.remove_suffix(1);
  auto field = [&](std::size_t pos, std::size_t len, unsigned lo, unsigned hi) {
    if (pos + len > s.size()) throw bad();
    const auto v = parse_decimal(s.substr(pos, len), hi);
    if (!v || *v < lo) throw bad();
    return static_cast<unsigned>(*v);
  };
  if (s.size() != 10 && s.size() != 16 && s.size() != 19) throw bad();
  if (s[4] != '-' || s[7] != '-') throw bad();
  const auto y = static_cast<int>(field(0, 4, 1970, 9999));
  const auto mo = field(5, 2, 1, 12);
  const auto d = field(8, 2, 1, 31);
  unsigned hh = 0, mm = 0, ss = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != ' ') || s[13] != ':') throw bad();
    hh = field(11, 2, 0, 23);
    mm = field(14, 2, 0, 59);
    if (s.size() == 19) {
      if (s[16] != ':') throw bad();
      ss = field(17, 2, 0, 59);
    }
  } else if (text.back() == 'Z') {
    throw bad();
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{mo},
                                        std::chrono::day{d}};
  if (!ymd.ok()) throw bad();
  return std::chrono::sys_days{ymd} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
         std::chrono::seconds{ss};
}

std::string format_time(UnixTime t) {
  const auto days = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{days};
  const std::chrono::hh_mm_ss hms{t - days};
  auto two = [](long long v) { return std::string(v < 10 ? "0" : "") + std::to_string(v); };
  return std::to_string(static_cast<int>(ymd.year())) + "-" +
         two(static_cast<unsigned>(ymd.month())) + "-" + two(static_cast<unsigned>(ymd.day())) +
         "T" + two(hms.hours().count()) + ":" + two(hms.minutes().count()) + ":" +
         two(hms.seconds().count()) + "Z";
}

void Rule::validate() const {
  const std::string who = "rule " + selector.text();
  try {
    if (selector.kind() != Selector::Kind::default_rule) {
      for (const auto& i : attributes()) {
        if (i.default_only && attrs.has(i.attr)) {
          throw PolicyError(std::string(i.name) + " may only be set on the default rule");
        }
      }
      if (attrs.empty()) throw PolicyError("sets no attribute");
    }
    if (attrs.reason) check_text("reason", *attrs.reason, kMaxReasonLength);
    if (attrs.greet_pause && *attrs.greet_pause > kMaxGreetPauseMs) {
      throw PolicyError("greet_pause above " + std::to_string(kMaxGreetPauseMs) + " ms");
    }
    check_text("comment", comment, kMaxCommentLength);
    if (priority < 0) throw PolicyError("negative priority");
  } catch (const PolicyError& e) {
    throw PolicyError(who + ": " + e.what());
  }
}

}  // namespace harden::policy
