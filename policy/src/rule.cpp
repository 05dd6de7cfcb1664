// rule.cpp - the attribute table, attribute parsing and rule validation.
#include "harden/policy/rule.hpp"

#include <array>
#include <ctime>
#include <type_traits>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"

namespace harden::policy {
namespace {

constexpr std::array<AttrInfo, kAttrCount> kAttributes{{
#define HARDEN_ATTR_INFO(name, type, kind, max, default_only, syntax, doc) \
  {Attr::name, #name, syntax, doc, default_only, AttrKind::kind, max},
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_INFO)
#undef HARDEN_ATTR_INFO
}};

template <typename E>
E parse_enum(std::string_view attr, std::string_view value,
             std::span<const std::string_view> names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == value) return static_cast<E>(i);
  }
  std::string known;
  for (auto n : names) known += (known.empty() ? "" : "|") + std::string(n);
  throw PolicyError(std::string(attr) + ": bad value " + quote(value) + " (expected " + known +
                    ")");
}

constexpr std::array<std::string_view, 4> kActionNames{"limit", "allow", "block", "tempfail"};
constexpr std::array<std::string_view, 3> kHeuristicNames{"off", "monitor", "block"};
constexpr std::array<std::string_view, 4> kMissingNames{"off", "monitor", "tempfail", "block"};

std::span<const std::string_view> names_of(Action) {
  return kActionNames;
}
std::span<const std::string_view> names_of(ModeSetting) {
  return kHeuristicNames;
}
std::span<const std::string_view> names_of(MissingRdnsMode) {
  return kMissingNames;
}
constexpr std::array<std::string_view, 2> kPenaltyReplyNames{"tempfail", "reject"};
std::span<const std::string_view> names_of(PenaltyReply) {
  return kPenaltyReplyNames;
}

// The names of an enumeration attribute's values; empty for other kinds.
template <typename T>
std::span<const std::string_view> names_if_enum() {
  if constexpr (std::is_enum_v<T>) {
    return names_of(T{});
  } else {
    return {};
  }
}
std::span<const std::string_view> value_names(Attr a) {
  switch (a) {
#define HARDEN_ATTR_NAMES(name, type, ...) \
  case Attr::name:                         \
    return names_if_enum<type>();
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_NAMES)
#undef HARDEN_ATTR_NAMES
  }
  return {};
}

// Text -> value of one attribute, by its kind. Throws PolicyError naming it.
// A kind that does not fit the declared type does not compile.
template <typename T, AttrKind K>
T parse_value(std::string_view name, std::uint64_t max, std::string_view v) {
  const auto named = [&](const PolicyError& e) {
    return PolicyError(std::string(name) + ": " + e.what());
  };
  if constexpr (K == AttrKind::count) {
    static_assert(std::is_same_v<T, std::uint32_t>);
    return parse_count(v, name, static_cast<std::uint32_t>(max));
  } else if constexpr (K == AttrKind::duration) {
    static_assert(std::is_same_v<T, std::uint32_t>);
    try {
      return static_cast<std::uint32_t>(parse_duration_ms(v, max));
    } catch (const PolicyError& e) {
      throw named(e);
    }
  } else if constexpr (K == AttrKind::rate) {
    static_assert(std::is_same_v<T, Rate>);
    try {
      return Rate::parse(v);
    } catch (const PolicyError& e) {
      throw named(e);
    }
  } else if constexpr (K == AttrKind::enumeration) {
    static_assert(std::is_enum_v<T>);
    return parse_enum<T>(name, v, names_of(T{}));
  } else if constexpr (K == AttrKind::weights) {
    static_assert(std::is_same_v<T, OffenceWeights>);
    try {
      return OffenceWeights::parse(v);
    } catch (const PolicyError& e) {
      throw named(e);
    }
  } else {
    static_assert(K == AttrKind::text && std::is_same_v<T, std::string>);
    check_text(name, v, max);
    return std::string(v);
  }
}

// Bounds a value set directly (not parsed) may break; Rule::validate.
template <typename T, AttrKind K>
void check_bound(std::string_view name, std::uint64_t max, const T& v) {
  if constexpr (K == AttrKind::duration) {
    if (v > max) throw PolicyError(std::string(name) + " above " + std::to_string(max) + " ms");
  } else if constexpr (K == AttrKind::text) {
    check_text(name, v, max);
  }
}

// Canonical text of a value; parse_value reads it back.
std::string print_value(std::uint32_t v) {
  return std::to_string(v);
}
std::string print_value(const Rate& v) {
  return v.to_string();
}
std::string print_value(const std::string& v) {
  return v;
}
std::string print_value(const OffenceWeights& v) {
  return v.to_string();
}
template <typename E>
requires std::is_enum_v<E> std::string print_value(E v) {
  return std::string(to_string(v));
}

}  // namespace

std::string_view to_string(Action a) {
  return kActionNames[static_cast<std::size_t>(a)];
}
std::string_view to_string(ModeSetting m) {
  return kHeuristicNames[static_cast<std::size_t>(m)];
}
std::string_view to_string(MissingRdnsMode m) {
  return kMissingNames[static_cast<std::size_t>(m)];
}
std::string_view to_string(PenaltyReply r) {
  return kPenaltyReplyNames[static_cast<std::size_t>(r)];
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

std::string_view sql_type(Attr a) {
  const AttrKind k = info(a).kind;
  return k == AttrKind::count || k == AttrKind::duration ? "INTEGER" : "TEXT";
}

bool is_limit(Attr a) {
  const AttrKind k = info(a).kind;
  return k == AttrKind::count || k == AttrKind::rate || k == AttrKind::duration;
}

std::string attribute_table_markdown() {
  auto cell = [](std::string_view s) {
    std::string r;
    for (char ch : s) r += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return r;
  };
  std::string out = "| attribute | value | meaning |\n|---|---|---|\n";
  for (const auto& i : kAttributes) {
    std::string value;
    switch (i.kind) {
      case AttrKind::count:
        value = "`N` or `0`";
        break;
      case AttrKind::rate:
        value = "`N/WINDOW` (`5/60s`, `100/1h`) or `0`";
        break;
      case AttrKind::duration:
        value =
            "duration (`2000`, `2s`, `250ms`) or `0`, at most `" + format_duration_ms(i.max) + "`";
        break;
      case AttrKind::enumeration:
        for (auto n : value_names(i.attr)) {
          value += (value.empty() ? "`" : ", `") + std::string(n) + "`";
        }
        break;
      case AttrKind::text:
        value = "text, at most " + std::to_string(i.max) + " characters";
        break;
      case AttrKind::weights:
        value = "`KIND=N,...` (`pregreet=1,conn_rate=1`) or `none`";
        break;
    }
    const bool say_default_only =
        i.default_only && i.doc.find("default rule only") == std::string_view::npos;
    out += "| `" + std::string(i.name) + "` | " + value + " | " + cell(i.doc) +
           (say_default_only ? " (default rule only)" : "") + " |\n";
  }
  return out;
}

void check_text(std::string_view what, std::string_view text, std::size_t max_len) {
  if (text.size() > max_len) {
    throw PolicyError(std::string(what) + " longer than " + std::to_string(max_len) +
                      " characters");
  }
  for (char c : text) {
    if (!ascii::is_print(c)) {
      throw PolicyError(std::string(what) + " " + quote(text) +
                        " has a character other than printable ASCII");
    }
  }
}

// Each switch below is generated from HARDEN_POLICY_ATTRIBUTES.
bool Attributes::has(Attr a) const {
  switch (a) {
#define HARDEN_ATTR_HAS(name, ...) \
  case Attr::name:                 \
    return name.has_value();
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_HAS)
#undef HARDEN_ATTR_HAS
  }
  return false;
}

void Attributes::set(Attr a, std::string_view v) {
  switch (a) {
#define HARDEN_ATTR_SET(name, type, kind, max, ...)          \
  case Attr::name:                                           \
    name = parse_value<type, AttrKind::kind>(#name, max, v); \
    return;
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_SET)
#undef HARDEN_ATTR_SET
  }
}

void Attributes::clear(Attr a) {
  switch (a) {
#define HARDEN_ATTR_CLEAR(name, ...) \
  case Attr::name:                   \
    name.reset();                    \
    return;
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_CLEAR)
#undef HARDEN_ATTR_CLEAR
  }
}

std::optional<std::string> Attributes::get(Attr a) const {
  switch (a) {
#define HARDEN_ATTR_GET(name, ...)  \
  case Attr::name:                  \
    if (!name) return std::nullopt; \
    return print_value(*name);
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_GET)
#undef HARDEN_ATTR_GET
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
#define HARDEN_ATTR_BOUND(name, type, kind, max, ...) \
  if (attrs.name) check_bound<type, AttrKind::kind>(#name, max, *attrs.name);
    HARDEN_POLICY_ATTRIBUTES(HARDEN_ATTR_BOUND)
#undef HARDEN_ATTR_BOUND
    check_text("comment", comment, kMaxCommentLength);
    if (priority < 0) throw PolicyError("negative priority");
  } catch (const PolicyError& e) {
    throw PolicyError(who + ": " + e.what());
  }
}

}  // namespace harden::policy
