// top_view_test.cpp - the `hardenctl top` screen as a pure function of two
// samples of the daemon's replies: headings, figures, rates from the
// difference, "n/a" without a previous sample, 80 columns whatever the input.
#include "top_view.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace harden::cli {
namespace {

using nlohmann::json;

json stats(int sessions, int conn_rate_tempfail, int blocked_reject, int pregreet_monitor) {
  return {{"ok", true},
          {"version", "0.1.0"},
          {"pid", 4242},
          {"uptime_seconds", 3725},
          {"mode", "enforce"},
          {"counters",
           {{"entries", 7},
            {"capacity", 1000},
            {"evictions", 2},
            {"backend", "local"},
            {"fallback", false}}},
          {"client_memory", {{"entries", 3}, {"passes", 12}, {"penalties", 1}}},
          {"metrics",
           {{"sessions_total", sessions},
            {"sessions_open", 5},
            {"decisions",
             {{"conn_rate", {{"tempfail", conn_rate_tempfail}}},
              {"blocked", {{"reject", blocked_reject}}},
              {"pregreet", {{"monitor", pregreet_monitor}}},
              {"allowed", {{"accept", 50}}}}}}}};
}

json top(int refusals_66) {
  return {
      {"ok", true},
      {"n", 10},
      {"by_open", {{{"key", "192.0.2.7"}, {"open", 3}}, {{"key", "2001:db8::/64"}, {"open", 1}}}},
      {"open_scope", "local"},
      {"by_refusals",
       {{{"key", "192.0.2.66"}, {"refusals", refusals_66}, {"error", 0}, {"last", "conn_rate"}},
        {{"key", "198.51.100.9"}, {"refusals", 4}, {"error", 0}, {"last", "blocked"}}}},
      {"refusals_total", refusals_66 + 4},
      {"refusals_tracked", 1024}};
}

json offenders() {
  return {
      {"ok", true},
      {"total", 2},
      {"offenders",
       {{{"key", "203.0.113.5"}, {"penalty", {{"n", 2}, {"in_force", true}, {"remaining_s", 598}}}},
        {{"key", "203.0.113.6"}, {"penalty", {{"n", 1}, {"in_force", false}}}}}}};
}

std::vector<std::string> lines(const std::string& screen) {
  std::vector<std::string> out;
  std::istringstream in(screen);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The line holding `needle` ("" when none).
std::string line_with(const std::string& screen, const std::string& needle) {
  for (const auto& l : lines(screen))
    if (l.find(needle) != std::string::npos) return l;
  return "";
}

TEST(TopViewTest, FirstSampleShowsTotalsAndNoRates) {
  const TopSample s{stats(100, 6, 4, 2), top(9), offenders(), 10.0, "06:40:12"};
  const std::string screen = render_top(nullptr, s, {.n = 10, .status = "q quits; every 1s"});
  EXPECT_NE(line_with(screen, "milter-harden 0.1.0").find("pid 4242  up 1h 2m  mode enforce"),
            std::string::npos)
      << screen;
  EXPECT_NE(line_with(screen, "milter-harden").find("06:40:12"), std::string::npos);
  EXPECT_EQ(line_with(screen, "sessions"),
            "sessions    n/a/s      100 total    5 open  refusals    n/a/s       10 total");
  EXPECT_EQ(line_with(screen, "counters"),
            "counters local: 7 of 1000, 2 evicted  penalties 1 in force, 12 passes");
  EXPECT_EQ(line_with(screen, "REFUSALS BY KIND"),
            "REFUSALS BY KIND     /s    total  would  PENALTIES IN FORCE            left   n");
  // Kinds in name order; the penalties block beside them.
  EXPECT_EQ(line_with(screen, "blocked  "),
            "blocked             n/a        4      0  203.0.113.5                 9m 58s   2");
  EXPECT_EQ(line_with(screen, "conn_rate  "), "conn_rate           n/a        6      0");
  EXPECT_NE(line_with(screen, "pregreet").find("0      2"), std::string::npos);  // would only
  EXPECT_EQ(line_with(screen, "allowed"), "");      // no refusal, not listed
  EXPECT_EQ(line_with(screen, "203.0.113.6"), "");  // its penalty ended
  EXPECT_EQ(line_with(screen, "TOP BY REFUSALS"),
            "TOP BY REFUSALS           refused    /s  TOP BY OPEN CONNECTIONS    open");
  EXPECT_EQ(line_with(screen, "192.0.2.66"),
            "192.0.2.66                      9   n/a  192.0.2.7                     3");
  EXPECT_EQ(line_with(screen, "198.51.100.9"),
            "198.51.100.9                    4   n/a  2001:db8::/64                 1");
  EXPECT_EQ(lines(screen).back(), "q quits; every 1s");
}

TEST(TopViewTest, RatesAreTheDifferenceOverTheSecondsBetween) {
  const TopSample a{stats(100, 6, 4, 2), top(9), offenders(), 10.0, "06:40:12"};
  json t = top(19);
  t["by_refusals"].push_back({{"key", "192.0.2.99"}, {"refusals", 1}, {"last", "pregreet"}});
  const TopSample b{stats(120, 16, 8, 2), t, offenders(), 12.0, "06:40:14"};
  const std::string screen = render_top(&a, b, {});
  // 20 sessions and 14 refusals in 2 s.
  EXPECT_EQ(line_with(screen, "sessions"),
            "sessions   10.0/s      120 total    5 open  refusals    7.0/s       24 total");
  EXPECT_NE(line_with(screen, "conn_rate  ").find("5.0       16"), std::string::npos) << screen;
  EXPECT_NE(line_with(screen, "blocked  ").find("2.0        8"), std::string::npos) << screen;
  EXPECT_NE(line_with(screen, "192.0.2.66").find("19   5.0"), std::string::npos) << screen;
  EXPECT_NE(line_with(screen, "192.0.2.99").find("1     -"), std::string::npos) << screen;
  EXPECT_EQ(lines(screen).back().find("q quits"), std::string::npos);  // no status given
}

TEST(TopViewTest, EmptyDaemonAndNLimitTheLists) {
  json s = stats(0, 0, 0, 0);
  s["metrics"]["decisions"] = json::object();
  s["client_memory"] = nullptr;
  const TopSample empty{s, {{"ok", true}, {"by_open", json::array()}}, json::object(), 1, ""};
  const std::string screen = render_top(nullptr, empty, {});
  EXPECT_NE(screen.find("(none yet)"), std::string::npos) << screen;
  EXPECT_NE(line_with(screen, "counters").find("client memory off"), std::string::npos);
  EXPECT_NE(line_with(screen, "TOP BY REFUSALS").size(), 0u);
  const TopSample full{stats(1, 1, 1, 0), top(9), offenders(), 1, ""};
  const std::string one = render_top(nullptr, full, {.n = 1, .status = ""});
  EXPECT_NE(one.find("192.0.2.66"), std::string::npos);
  EXPECT_EQ(one.find("198.51.100.9"), std::string::npos) << one;
  EXPECT_EQ(one.find("2001:db8::/64"), std::string::npos) << one;
}

TEST(TopViewTest, EveryLineFitsEightyColumnsAndNothingDrivesTheTerminal) {
  json t = top(123456789);
  t["by_open"].push_back({{"key", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"}, {"open", 99999}});
  t["open_scope"] = "this host";
  json s = stats(2'000'000'000, 1'000'000'000, 5, 5);
  s["version"] = "9.9.9-\x1b[31mred";
  s["mode"] = std::string(200, 'm');
  s["counters"]["backend"] = "redis";
  s["counters"]["fallback"] = true;
  const TopSample a{s, t, offenders(), 0, "23:59:59"};
  const std::string screen = render_top(&a, a, {.n = 10, .status = std::string(300, 's')});
  for (const auto& l : lines(screen)) EXPECT_LE(l.size(), kTopWidth) << l;
  EXPECT_EQ(screen.find('\x1b'), std::string::npos);
  EXPECT_NE(screen.find("ffff:ffff:ffff:ffff:ffff~ 99999"), std::string::npos) << screen;
  EXPECT_NE(screen.find("2000M total"), std::string::npos) << screen;  // large figures scaled
  EXPECT_NE(screen.find("123457k"), std::string::npos) << screen;
  EXPECT_NE(screen.find("TOP BY OPEN (THIS HOST)"), std::string::npos);
  EXPECT_NE(screen.find("counters redis DOWN"), std::string::npos) << screen;
}

TEST(TopViewTest, CompactDurations) {
  EXPECT_EQ(compact_duration(-5), "0s");
  EXPECT_EQ(compact_duration(45), "45s");
  EXPECT_EQ(compact_duration(185), "3m 5s");
  EXPECT_EQ(compact_duration(3725), "1h 2m");
  EXPECT_EQ(compact_duration(183600), "2d 3h");
}

}  // namespace
}  // namespace harden::cli
