// rate_test.cpp - durations, counts and rates against rate.hpp.
//
// The header promises strict parsing: digits only, no sign, no overflow, a
// unit (s, m, h, d; lower case as written there) required on every window,
// windows of 1 s .. 7 d, counts up to kMaxCount, "0" for unlimited.
#include "harden/policy/rate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harden/policy/error.hpp"
#include "harden/policy/text.hpp"
#include "test_support.hpp"

namespace harden::policy {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::PrintToString;

TEST(DurationTest, ParsesEveryUnit) {
  struct Case {
    const char* text;
    long long secs;
  };
  for (const auto& c : std::vector<Case>{{"1s", 1},
                                         {"30s", 30},
                                         {"60s", 60},
                                         {"5m", 300},
                                         {"1m", 60},
                                         {"2h", 7200},
                                         {"1d", 86400},
                                         {"7d", 604800},
                                         {"604800s", 604800},
                                         {"10080m", 604800},
                                         {"168h", 604800}}) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_duration(c.text), seconds{c.secs});
  }
}

std::vector<std::string> bad_durations() {
  return {
      "",
      "s",
      "60",  // a unit is required
      "0s",
      "0m",
      "8d",
      "604801s",
      "169h",
      "10081m",
      "-1s",
      "+5s",
      " 5s",
      "5s ",
      "5 s",
      "5S",  // strict: the units are written lower-case
      "5M",
      "1.5h",
      "5ms",
      "5sec",
      "1w",
      "1d1h",
      "0x10s",
      "1e3s",
      "99999999999999999999s",
      "18446744073709551617s",  // 2^64 + 1: must not wrap to 1
      "4294967297s",            // 2^32 + 1
      "9223372036854775807d",
      std::string("5\0s", 3),
      std::string("5s\0", 3),
      "\xd9\xa5s",  // ARABIC-INDIC DIGIT FIVE
      std::string(5000, '9') + "s",
  };
}

TEST(DurationTest, RefusesAnythingNotStrictlyValid) {
  for (const std::string& text : bad_durations()) {
    SCOPED_TRACE(PrintToString(text));
    EXPECT_THROW(parse_duration(text), PolicyError);
  }
}

TEST(DurationTest, FormatsShortestExactText) {
  struct Case {
    long long secs;
    const char* text;
  };
  for (const auto& c : std::vector<Case>{{1, "1s"},
                                         {59, "59s"},
                                         {60, "1m"},
                                         {90, "90s"},
                                         {120, "2m"},
                                         {3600, "1h"},
                                         {5400, "90m"},
                                         {7200, "2h"},
                                         {86400, "1d"},
                                         {86401, "86401s"},
                                         {90000, "25h"},
                                         {604800, "7d"}}) {
    SCOPED_TRACE(c.secs);
    EXPECT_EQ(format_duration(seconds{c.secs}), c.text);
    EXPECT_EQ(parse_duration(format_duration(seconds{c.secs})), seconds{c.secs});
  }
}

TEST(DurationTest, FormatParseRoundTripOverTheRange) {
  for (long long s = 1; s <= kMaxWindow.count(); s = s * 3 + 7) {
    SCOPED_TRACE(s);
    EXPECT_EQ(parse_duration(format_duration(seconds{s})), seconds{s});
  }
  EXPECT_EQ(parse_duration(format_duration(kMaxWindow)), kMaxWindow);
}

// The one millisecond grammar of greet_pause and the daemon's duration keys.
TEST(DurationMsTest, ParsesUnitsAndBareMilliseconds) {
  struct Case {
    const char* text;
    std::uint64_t ms;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"0s", 0},
                                         {"2000", 2000},
                                         {"2000ms", 2000},
                                         {"2s", 2000},
                                         {"250ms", 250},
                                         {"1m", 60'000},
                                         {"1h", 3'600'000},
                                         {"0060s", 60'000},
                                         {"60000", 60'000}}) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_duration_ms(c.text, 3'600'000), c.ms);
  }
  EXPECT_EQ(parse_duration_ms("18446744073709551615", UINT64_MAX), UINT64_MAX);
}

TEST(DurationMsTest, RefusesAnythingElseQuotingTheText) {
  for (const std::string& text : std::vector<std::string>{"",
                                                          "s",
                                                          "ms",
                                                          "-1",
                                                          "-1s",
                                                          "+1s",
                                                          "1.5s",
                                                          "1,5s",
                                                          " 1s",
                                                          "1s ",
                                                          "10 s",
                                                          "10sec",
                                                          "10S",
                                                          "10MS",
                                                          "1w",
                                                          "1e3",
                                                          "0x10",
                                                          "2s5",
                                                          std::string("1\0s", 3),
                                                          std::string("\x1b[31m1s")}) {
    SCOPED_TRACE(PrintToString(text));
    const std::string what = policy_error_of([&] { parse_duration_ms(text, 60'000); });
    EXPECT_THAT(what, HasSubstr("bad duration"));
    EXPECT_THAT(what, HasSubstr(quote(text)));
  }
}

TEST(DurationMsTest, RefusesOverflowAndValuesAboveTheMaximum) {
  for (const std::string& text : std::vector<std::string>{
           "60001", "61s", "2m", "18446744073709551616", "18446744073709551615s",
           "307445734561825861m", std::string(5000, '9'), std::string(5000, '9') + "ms"}) {
    SCOPED_TRACE(text.substr(0, 40));
    const std::string what = policy_error_of([&] { parse_duration_ms(text, 60'000); });
    EXPECT_THAT(what, HasSubstr("is too large (at most 1m)"));
    EXPECT_LT(what.size(), 200u);  // the quoted text is cut short
  }
  EXPECT_THAT(policy_error_of([&] { parse_duration_ms("18446744073709551615s", UINT64_MAX); }),
              HasSubstr("too large"));
}

TEST(DurationMsTest, FormatsTheLargestExactUnitAndReadsBack) {
  EXPECT_EQ(format_duration_ms(0), "0");
  EXPECT_EQ(format_duration_ms(9000), "9s");
  EXPECT_EQ(format_duration_ms(2500), "2500ms");
  EXPECT_EQ(format_duration_ms(60'000), "1m");
  EXPECT_EQ(format_duration_ms(90'000), "90s");
  EXPECT_EQ(format_duration_ms(7'200'000), "2h");
  for (std::uint64_t ms : {1ull, 999ull, 1000ull, 59'999ull, 60'000ull, 3'600'000ull})
    EXPECT_EQ(parse_duration_ms(format_duration_ms(ms), 3'600'000), ms);
}

TEST(CountTest, ParsesWithinBounds) {
  EXPECT_EQ(parse_count("0", "conn_limit"), 0u);
  EXPECT_EQ(parse_count("5", "conn_limit"), 5u);
  EXPECT_EQ(parse_count("10000000", "conn_limit"), kMaxCount);
  EXPECT_EQ(parse_count("60", "x", 60), 60u);
  EXPECT_THROW(parse_count("61", "x", 60), PolicyError);
  EXPECT_THROW(parse_count("10000001", "conn_limit"), PolicyError);
}

TEST(CountTest, RefusesGarbageNamingWhat) {
  for (const std::string& text : std::vector<std::string>{
           "", "-1", "+1", " 1", "1 ", "1.0", "0x1", "1e3", "one", "99999999999999999999",
           "4294967296", "4294967301", "18446744073709551616", std::string("1\0", 2),
           std::string(10'000, '9')}) {
    SCOPED_TRACE(PrintToString(text));
    EXPECT_THAT(policy_error_of([&] { parse_count(text, "max_rcpts"); }), HasSubstr("max_rcpts"));
  }
}

TEST(RateTest, ParsesRates) {
  struct Case {
    const char* text;
    std::uint32_t count;
    long long window;
  };
  for (const auto& c : std::vector<Case>{{"5/60s", 5, 60},
                                         {"100/1h", 100, 3600},
                                         {"1/1s", 1, 1},
                                         {"10000000/7d", kMaxCount, 604800},
                                         {"3/90s", 3, 90}}) {
    SCOPED_TRACE(c.text);
    const Rate r = Rate::parse(c.text);
    EXPECT_EQ(r.count, c.count);
    EXPECT_EQ(r.window, seconds{c.window});
    EXPECT_FALSE(r.unlimited());
  }
}

TEST(RateTest, ZeroIsUnlimited) {
  const Rate r = Rate::parse("0");
  EXPECT_TRUE(r.unlimited());
  EXPECT_EQ(r.count, 0u);
  EXPECT_EQ(r.to_string(), "0");
  EXPECT_EQ(Rate{}.to_string(), "0");
  EXPECT_TRUE(Rate{}.unlimited());
}

std::vector<std::string> bad_rates() {
  return {
      "",
      "5/60",  // no unit: sendmail and Postfix would disagree on it
      "-1/60s",
      "5/0s",
      "5/8d",
      "99999999999999999999/60s",
      "4294967301/60s",  // 2^32 + 5: must not wrap to 5
      "10000001/1s",
      " 5/60s",
      "5/60s ",
      "5 /60s",
      "5/ 60s",
      "5/60S",
      "5",
      "/60s",
      "5/",
      "5//60s",
      "5/60s/",
      "5/60s/1m",
      "+5/60s",
      "5.0/60s",
      "0x5/60s",
      "five/60s",
      "-0",
      std::string("5/60s\0", 6),
      std::string("5\0/60s", 6),
      std::string(5000, '5') + "/60s",
  };
}

TEST(RateTest, RefusesAnythingNotStrictlyValid) {
  for (const std::string& text : bad_rates()) {
    SCOPED_TRACE(PrintToString(text));
    EXPECT_THROW(Rate::parse(text), PolicyError);
  }
}

TEST(RateTest, ErrorNamesTheBadText) {
  EXPECT_THAT(policy_error_of([] { Rate::parse("5/60"); }), HasSubstr("60"));
  EXPECT_THAT(policy_error_of([] { Rate::parse("5/8d"); }), HasSubstr("8d"));
}

TEST(RateTest, PrintsCanonicallyAndRoundTrips) {
  struct Case {
    Rate rate;
    const char* text;
  };
  for (const auto& c : std::vector<Case>{{{5, seconds{60}}, "5/1m"},
                                         {{100, seconds{3600}}, "100/1h"},
                                         {{7, seconds{90}}, "7/90s"},
                                         {{1, seconds{1}}, "1/1s"},
                                         {{kMaxCount, kMaxWindow}, "10000000/7d"},
                                         {{2, seconds{86400}}, "2/1d"}}) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(c.rate.to_string(), c.text);
    EXPECT_EQ(Rate::parse(c.rate.to_string()), c.rate);
  }
  EXPECT_EQ(Rate::parse("5/60s").to_string(), "5/1m");
}

}  // namespace
}  // namespace harden::policy
