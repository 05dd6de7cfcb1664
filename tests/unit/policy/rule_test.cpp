// rule_test.cpp - the attribute table, Attributes, time parsing and
// Rule::validate against rule.hpp.
#include "harden/policy/rule.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harden/policy/error.hpp"
#include "test_support.hpp"

namespace harden::policy {
namespace {

using namespace std::chrono_literals;
using std::chrono::sys_days;
using ::testing::HasSubstr;
using ::testing::PrintToString;

// The table of rule.hpp, in its order.
const std::vector<std::pair<Attr, std::string_view>>& table() {
  static const std::vector<std::pair<Attr, std::string_view>> t = {
      {Attr::action, "action"},
      {Attr::conn_rate, "conn_rate"},
      {Attr::conn_limit, "conn_limit"},
      {Attr::greet_pause, "greet_pause"},
      {Attr::max_rcpts, "max_rcpts"},
      {Attr::bad_rcpt_throttle, "bad_rcpt_throttle"},
      {Attr::rcpt_rate, "rcpt_rate"},
      {Attr::msg_rate, "msg_rate"},
      {Attr::reason, "reason"},
      {Attr::dialin, "dialin"},
      {Attr::generic_hosting, "generic_hosting"},
      {Attr::missing_rdns, "missing_rdns"},
      {Attr::greet_pass_ttl, "greet_pass_ttl"},
      {Attr::penalty, "penalty"},
      {Attr::penalty_threshold, "penalty_threshold"},
      {Attr::penalty_window, "penalty_window"},
      {Attr::penalty_base, "penalty_base"},
      {Attr::penalty_max, "penalty_max"},
      {Attr::penalty_memory, "penalty_memory"},
      {Attr::penalty_reply, "penalty_reply"},
      {Attr::penalty_weights, "penalty_weights"},
  };
  return t;
}

TEST(AttrTableTest, HoldsEveryAttributeInOrder) {
  ASSERT_EQ(attributes().size(), kAttrCount);
  ASSERT_EQ(table().size(), kAttrCount);
  for (std::size_t i = 0; i < kAttrCount; ++i) {
    const auto& [attr, name] = table()[i];
    SCOPED_TRACE(std::string(name));
    EXPECT_EQ(attributes()[i].attr, attr);
    EXPECT_EQ(attributes()[i].name, name);
    EXPECT_EQ(static_cast<std::size_t>(attr), i);
    EXPECT_EQ(info(attr).attr, attr);
    EXPECT_EQ(info(attr).name, name);
    EXPECT_FALSE(info(attr).value_syntax.empty());
    EXPECT_FALSE(info(attr).doc.empty());
    EXPECT_EQ(info(attr).default_only,
              attr == Attr::dialin || attr == Attr::generic_hosting || attr == Attr::missing_rdns);
    EXPECT_EQ(attr_from_name(name), attr);
  }
}

TEST(AttrTableTest, UnknownNameListsTheKnownOnes) {
  for (const char* name : {"conn_rates", "", "Action", "action ", "expires", "comment"}) {
    SCOPED_TRACE(name);
    const std::string what = policy_error_of([&] { attr_from_name(name); });
    EXPECT_THAT(what, HasSubstr("unknown attribute"));
    EXPECT_THAT(what, HasSubstr("'" + std::string(name) + "'"));
    for (const auto& [attr, known] : table()) EXPECT_THAT(what, HasSubstr(std::string(known)));
  }
}

TEST(AttrTableTest, ReadmeTableIsTheGeneratedOne) {
  const auto readme = std::filesystem::path(HARDEN_TEST_DATA_DIR) / ".." / ".." / "README.md";
  std::ifstream in(readme);
  ASSERT_TRUE(in) << readme;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(attribute_table_markdown()), std::string::npos)
      << "README.md: the attribute table must be policy::attribute_table_markdown():\n"
      << attribute_table_markdown();
}

TEST(AttrTableTest, GeneratedTableHasARowPerAttribute) {
  const std::string md = attribute_table_markdown();
  for (const auto& [attr, name] : table()) {
    SCOPED_TRACE(std::string(name));
    EXPECT_THAT(md, HasSubstr("| `" + std::string(name) + "` | "));
    EXPECT_THAT(md, HasSubstr(std::string(info(attr).doc)));
  }
  EXPECT_THAT(md, HasSubstr("at most `1m`"));               // greet_pause's bound
  EXPECT_THAT(md, HasSubstr("`off`, `monitor`, `block`"));  // dialin's names
}

TEST(AttrTableTest, KindsGiveColumnTypesAndLimits) {
  for (const auto& [attr, name] : table()) {
    SCOPED_TRACE(std::string(name));
    const AttrKind k = info(attr).kind;
    const bool numeric = k == AttrKind::count || k == AttrKind::duration;
    EXPECT_EQ(numeric, attr == Attr::conn_limit || attr == Attr::greet_pause ||
                           attr == Attr::max_rcpts || attr == Attr::bad_rcpt_throttle ||
                           attr == Attr::greet_pass_ttl || attr == Attr::penalty_threshold ||
                           attr == Attr::penalty_window || attr == Attr::penalty_base ||
                           attr == Attr::penalty_max || attr == Attr::penalty_memory);
    EXPECT_EQ(sql_type(attr), numeric ? "INTEGER" : "TEXT");
    EXPECT_EQ(is_limit(attr), attr != Attr::action && attr != Attr::reason &&
                                  attr != Attr::dialin && attr != Attr::generic_hosting &&
                                  attr != Attr::missing_rdns && attr != Attr::penalty &&
                                  attr != Attr::penalty_reply && attr != Attr::penalty_weights);
  }
}

TEST(EnumTextTest, NamesAsInTheTable) {
  EXPECT_EQ(to_string(Action::limit), "limit");
  EXPECT_EQ(to_string(Action::allow), "allow");
  EXPECT_EQ(to_string(Action::block), "block");
  EXPECT_EQ(to_string(Action::tempfail), "tempfail");
  EXPECT_EQ(to_string(ModeSetting::off), "off");  // dialin and generic_hosting
  EXPECT_EQ(to_string(ModeSetting::monitor), "monitor");
  EXPECT_EQ(to_string(ModeSetting::block), "block");
  EXPECT_EQ(to_string(MissingRdnsMode::off), "off");
  EXPECT_EQ(to_string(MissingRdnsMode::monitor), "monitor");
  EXPECT_EQ(to_string(MissingRdnsMode::tempfail), "tempfail");
  EXPECT_EQ(to_string(MissingRdnsMode::block), "block");
}

struct SetCase {
  Attr attr;
  std::string input;
  std::string canonical;  // bad_values(): the part of the input the message must name
};

std::vector<SetCase> good_values() {
  return {
      {Attr::action, "limit", "limit"},
      {Attr::action, "allow", "allow"},
      {Attr::action, "block", "block"},
      {Attr::action, "tempfail", "tempfail"},
      {Attr::conn_rate, "5/60s", "5/1m"},
      {Attr::conn_rate, "0", "0"},
      {Attr::conn_rate, "100/1h", "100/1h"},
      {Attr::conn_limit, "10", "10"},
      {Attr::conn_limit, "0", "0"},
      {Attr::greet_pause, "5000", "5000"},
      {Attr::greet_pause, "0", "0"},
      {Attr::greet_pause, std::to_string(kMaxGreetPauseMs), std::to_string(kMaxGreetPauseMs)},
      // One duration grammar with the daemon's config: units, bare digits = ms.
      {Attr::greet_pause, "2s", "2000"},
      {Attr::greet_pause, "250ms", "250"},
      {Attr::greet_pause, "1m", "60000"},
      {Attr::greet_pause, "0s", "0"},
      {Attr::max_rcpts, "100", "100"},
      {Attr::bad_rcpt_throttle, "3", "3"},
      {Attr::rcpt_rate, "100/1h", "100/1h"},
      {Attr::rcpt_rate, "0", "0"},
      {Attr::msg_rate, "10/1m", "10/1m"},
      {Attr::msg_rate, "90/90s", "90/90s"},
      {Attr::reason, "Relay via your ISP", "Relay via your ISP"},
      {Attr::reason, std::string(kMaxReasonLength, 'r'), std::string(kMaxReasonLength, 'r')},
      {Attr::dialin, "off", "off"},
      {Attr::dialin, "monitor", "monitor"},
      {Attr::dialin, "block", "block"},
      {Attr::missing_rdns, "off", "off"},
      {Attr::missing_rdns, "monitor", "monitor"},
      {Attr::missing_rdns, "tempfail", "tempfail"},
      {Attr::missing_rdns, "block", "block"},
  };
}

TEST(AttributesTest, SetGetRoundTripsEveryAttribute) {
  for (const auto& c : good_values()) {
    SCOPED_TRACE(std::string(info(c.attr).name) + "=" + c.input);
    Attributes a;
    EXPECT_TRUE(a.empty());
    EXPECT_FALSE(a.has(c.attr));
    EXPECT_EQ(a.get(c.attr), std::nullopt);
    a.set(c.attr, c.input);
    EXPECT_TRUE(a.has(c.attr));
    EXPECT_FALSE(a.empty());
    ASSERT_EQ(a.get(c.attr), c.canonical);
    Attributes b;
    b.set(c.attr, *a.get(c.attr));
    EXPECT_EQ(b, a);
    Attributes by_name;
    by_name.set(info(c.attr).name, c.input);
    EXPECT_EQ(by_name, a);
    // Only that attribute is set.
    for (const auto& [other, name] : table()) {
      if (other != c.attr) {
        EXPECT_FALSE(a.has(other)) << name;
      }
    }
    a.clear(c.attr);
    EXPECT_FALSE(a.has(c.attr));
    EXPECT_TRUE(a.empty());
  }
}

TEST(AttributesTest, SetStoresTypedValues) {
  Attributes a;
  a.set(Attr::action, "block");
  a.set(Attr::conn_rate, "5/60s");
  a.set(Attr::greet_pause, "5000");
  a.set(Attr::dialin, "monitor");
  a.set(Attr::missing_rdns, "tempfail");
  EXPECT_EQ(a.action, Action::block);
  EXPECT_EQ(a.conn_rate, (Rate{5, std::chrono::seconds{60}}));
  EXPECT_EQ(a.greet_pause, 5000u);
  EXPECT_EQ(a.dialin, ModeSetting::monitor);
  EXPECT_EQ(a.missing_rdns, MissingRdnsMode::tempfail);
  a.set(Attr::conn_rate, "7/1h");  // a second set replaces
  EXPECT_EQ(a.conn_rate, (Rate{7, std::chrono::seconds{3600}}));
}

std::vector<SetCase> bad_values() {
  const std::string over = std::to_string(kMaxGreetPauseMs + 1);
  return {
      {Attr::action, "deny", ""},
      {Attr::action, "", ""},
      {Attr::action, "block ", ""},
      {Attr::conn_rate, "5/60", "60"},
      {Attr::conn_rate, "abc", ""},
      {Attr::conn_limit, "-1", ""},
      {Attr::conn_limit, "ten", ""},
      {Attr::conn_limit, "99999999999", ""},
      {Attr::greet_pause, over, ""},
      {Attr::greet_pause, "-1", ""},
      {Attr::greet_pause, "99999999999", ""},
      {Attr::greet_pause, "4294967296", ""},  // 2^32: must not wrap to 0
      {Attr::greet_pause, "61s", ""},
      {Attr::greet_pause, "2m", ""},
      {Attr::greet_pause, "1.5s", ""},
      {Attr::greet_pause, "s", ""},
      {Attr::greet_pause, "10 s", ""},
      {Attr::greet_pause, "10sec", ""},
      {Attr::greet_pause, "", ""},
      {Attr::greet_pause, "18446744073709551616", ""},
      {Attr::greet_pause, "18446744073709551615s", ""},
      {Attr::max_rcpts, "1.5", ""},
      {Attr::bad_rcpt_throttle, "", ""},
      {Attr::rcpt_rate, "5/8d", "8d"},
      {Attr::msg_rate, "-1/60s", "-1"},
      {Attr::dialin, "tempfail", ""},
      {Attr::dialin, "on", ""},
      {Attr::missing_rdns, "allow", ""},
      {Attr::missing_rdns, "", ""},
  };
}

TEST(AttributesTest, BadValuesAreRefusedNamingAttributeAndValue) {
  for (const auto& c : bad_values()) {
    SCOPED_TRACE(std::string(info(c.attr).name) + "=" + PrintToString(c.input));
    Attributes a;
    const std::string what = policy_error_of([&] { a.set(c.attr, c.input); });
    EXPECT_THAT(what, HasSubstr(std::string(info(c.attr).name)));
    // The whole value, or for a rate the part of it that is wrong.
    EXPECT_THAT(what, HasSubstr(c.canonical.empty() ? c.input : c.canonical));
  }
}

TEST(AttributesTest, ReasonMustBeShortPrintableAscii) {
  const std::vector<std::string> bad = {
      "line one\nline two",
      "carriage\rreturn",
      "tab\there",
      std::string("nul\0byte", 8),
      "bell\x07",
      "del\x7f",
      "Relais \xc3\xbc"
      "ber ISP",  // UTF-8
      "\xff\xfe",
      std::string(kMaxReasonLength + 1, 'r'),
      std::string(100'000, 'r'),
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(PrintToString(text.substr(0, 40)));
    Attributes a;
    EXPECT_THAT(policy_error_of([&] { a.set(Attr::reason, text); }), HasSubstr("reason"));
  }
}

TEST(CheckTextTest, NamesWhatItChecks) {
  EXPECT_NO_THROW(check_text("comment", "printable ~ text!", 100));
  EXPECT_NO_THROW(check_text("comment", std::string(10, 'x'), 10));
  EXPECT_THAT(policy_error_of([] { check_text("comment", std::string(11, 'x'), 10); }),
              HasSubstr("comment"));
  EXPECT_THAT(policy_error_of([] { check_text("comment", "a\nb", 100); }), HasSubstr("comment"));
  EXPECT_THAT(policy_error_of([] { check_text("reason", "\x1b[31mred", 100); }),
              HasSubstr("reason"));
}

Rule rule(std::string_view selector, std::vector<std::pair<const char*, const char*>> attrs = {}) {
  Rule r;
  r.selector = Selector::parse(selector);
  for (const auto& [name, value] : attrs) r.attrs.set(name, value);
  return r;
}

TEST(RuleValidateTest, AcceptsOrdinaryRules) {
  EXPECT_NO_THROW(rule("default").validate());  // an empty default is fine
  EXPECT_NO_THROW(rule("default", {{"dialin", "block"}, {"missing_rdns", "tempfail"}}).validate());
  EXPECT_NO_THROW(rule("192.0.2.7", {{"conn_rate", "0"}}).validate());
  EXPECT_NO_THROW(
      rule(".adsl.example", {{"action", "block"}, {"reason", "Use your ISP"}}).validate());
  Rule commented = rule("mx.example.org", {{"action", "allow"}});
  commented.comment = "our backup MX, ticket #42";
  EXPECT_NO_THROW(commented.validate());
}

TEST(RuleValidateTest, DefaultOnlyAttributesAreRefusedElsewhere) {
  for (const char* sel : {"192.0.2.7", "192.0.2.0/24", "mx.example.org", ".example.org", "/dyn/"}) {
    for (const char* attr : {"dialin", "missing_rdns"}) {
      SCOPED_TRACE(std::string(sel) + " " + attr);
      const Rule r = rule(sel, {{attr, "block"}, {"conn_limit", "5"}});
      const std::string what = policy_error_of([&] { r.validate(); });
      EXPECT_THAT(what, HasSubstr(attr));
      EXPECT_THAT(what, HasSubstr(sel));
    }
  }
}

TEST(RuleValidateTest, NonDefaultRuleMustSetSomething) {
  for (const char* sel : {"192.0.2.7", "192.0.2.0/24", "mx.example.org", ".example.org", "/dyn/"}) {
    SCOPED_TRACE(sel);
    Rule r = rule(sel);
    r.comment = "nothing set";
    r.expires = sys_days{std::chrono::year{2030} / 1 / 1};
    EXPECT_THAT(policy_error_of([&] { r.validate(); }), HasSubstr(sel));
  }
}

TEST(RuleValidateTest, UnsafeCommentIsRefused) {
  for (const std::string& comment : std::vector<std::string>{
           "two\nlines", "cr\r", std::string("nul\0", 4), "\xc3\xa4", "esc\x1b", "del\x7f"}) {
    SCOPED_TRACE(PrintToString(comment));
    Rule r = rule("192.0.2.7", {{"conn_limit", "1"}});
    r.comment = comment;
    EXPECT_THROW(r.validate(), PolicyError);
  }
}

TEST(TimeTest, ParsesTheThreeForms) {
  const UnixTime end = sys_days{std::chrono::year{2026} / 12 / 31} + 23h + 59min + 59s;
  EXPECT_EQ(parse_time("2026-12-31T23:59:59Z"), end);
  EXPECT_EQ(parse_time("2026-12-31 23:59:59"), end);
  // A date alone is the start of that day, UTC (as ISO 8601 and date(1) read it).
  EXPECT_EQ(parse_time("2026-12-31"), UnixTime{sys_days{std::chrono::year{2026} / 12 / 31}});
  EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), UnixTime{});
  EXPECT_EQ(parse_time("2028-02-29"), UnixTime{sys_days{std::chrono::year{2028} / 2 / 29}});
}

TEST(TimeTest, FormatsAsUtcAndRoundTrips) {
  const UnixTime t = sys_days{std::chrono::year{2026} / 12 / 31} + 23h + 59min + 59s;
  EXPECT_EQ(format_time(t), "2026-12-31T23:59:59Z");
  EXPECT_EQ(format_time(UnixTime{sys_days{std::chrono::year{2027} / 1 / 2}} + 3h + 4min + 5s),
            "2027-01-02T03:04:05Z");
  for (const UnixTime u : {UnixTime{}, t, UnixTime{1'800'000'000s}, UnixTime{1'234'567'890s}}) {
    EXPECT_EQ(parse_time(format_time(u)), u);
  }
}

TEST(TimeTest, RefusesImpossibleOrSloppyTimes) {
  for (const std::string& text : std::vector<std::string>{"",
                                                          "2026",
                                                          "2026-12",
                                                          "2026-13-01",
                                                          "2026-00-10",
                                                          "2026-12-32",
                                                          "2026-12-00",
                                                          "2026-02-30",
                                                          "2027-02-29",
                                                          "2026-12-31T24:00:00Z",
                                                          "2026-12-31T23:60:00Z",
                                                          "2026-12-31T23:59:61Z",
                                                          "2026-12-31junk",
                                                          "2026-12-31T23:59:59Zjunk",
                                                          " 2026-12-31",
                                                          "2026-12-31 ",
                                                          "31.12.2026",
                                                          "12/31/2026",
                                                          "tomorrow",
                                                          "2026-+1-01",
                                                          "-2026-12-31",
                                                          "+2026-12-31",
                                                          "99999-01-01",
                                                          std::string("2026-12-31\0", 11),
                                                          "2026-1a-01",
                                                          std::string(10'000, '2')}) {
    SCOPED_TRACE(PrintToString(text.substr(0, 40)));
    EXPECT_THROW(parse_time(text), PolicyError);
  }
}

TEST(RuleTest, ExpiredAtAndAfterTheExpiryTime) {
  Rule r = rule("192.0.2.7", {{"conn_limit", "1"}});
  const UnixTime at = parse_time("2026-12-31T23:59:59Z");
  EXPECT_FALSE(r.expired(at));  // no expiry: never
  r.expires = at;
  EXPECT_FALSE(r.expired(at - 1s));
  EXPECT_TRUE(r.expired(at));
  EXPECT_TRUE(r.expired(at + 1s));
}

}  // namespace
}  // namespace harden::policy
