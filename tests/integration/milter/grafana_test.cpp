// grafana_test.cpp - contrib/grafana/milter-harden.json against the real
// daemon: every metric name its PromQL expressions (and its template
// variables) query exists in GET /metrics of a running milter-harden, so a
// renamed or removed metric cannot leave a panel silently empty.
#include <gmock/gmock.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using nlohmann::json;

bool ident_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}
bool ident_char(char c) {
  return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// Index just past the bracket that closes the one at `i` (quotes respected).
std::size_t skip_group(std::string_view e, std::size_t i, char open, char close) {
  int depth = 0;
  for (; i < e.size(); ++i) {
    const char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < e.size() && e[i] != c; ++i)
        if (e[i] == '\\') ++i;
    } else if (c == open) {
      ++depth;
    } else if (c == close && --depth == 0) {
      return i + 1;
    }
  }
  return e.size();
}

// The metric names a PromQL expression selects: identifiers outside label
// matchers, ranges and strings that are neither functions, aggregations,
// keywords nor the label lists of by/without/on/ignoring/group_*.
std::set<std::string> promql_metric_names(std::string_view e) {
  static const std::set<std::string_view> kAggregations{
      "sum",    "min",   "max",          "avg",     "group", "stddev",
      "stdvar", "count", "count_values", "bottomk", "topk",  "quantile"};
  static const std::set<std::string_view> kLabelLists{"by",       "without",    "on",
                                                      "ignoring", "group_left", "group_right"};
  static const std::set<std::string_view> kKeywords{"bool",   "and", "or", "unless",
                                                    "offset", "inf", "nan"};
  std::set<std::string> names;
  for (std::size_t i = 0; i < e.size();) {
    const char c = e[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < e.size() && e[i] != c; ++i)
        if (e[i] == '\\') ++i;
      ++i;
    } else if (c == '{') {
      i = skip_group(e, i, '{', '}');
    } else if (c == '[') {
      i = skip_group(e, i, '[', ']');
    } else if (c == '$') {  // a Grafana variable: $name or ${name}
      ++i;
      if (i < e.size() && e[i] == '{') i = skip_group(e, i, '{', '}');
      while (i < e.size() && ident_char(e[i])) ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.') {
      while (i < e.size() && (ident_char(e[i]) || e[i] == '.')) ++i;  // 0.95, 5m, 1e3
    } else if (ident_start(c)) {
      const std::size_t start = i;
      while (i < e.size() && ident_char(e[i])) ++i;
      const std::string word(e.substr(start, i - start));
      std::size_t next = i;
      while (next < e.size() && e[next] == ' ') ++next;
      const bool call = next < e.size() && e[next] == '(';
      if (kLabelLists.count(word) != 0) {
        if (call) i = skip_group(e, next, '(', ')');
      } else if (!call && kAggregations.count(word) == 0 && kKeywords.count(word) == 0) {
        names.insert(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

TEST(PromqlMetricNames, FindsSelectorsAndSkipsFunctionsLabelsAndRanges) {
  using S = std::set<std::string>;
  EXPECT_EQ(promql_metric_names(R"(sum(rate(a_total{instance=~"$instance"}[$__rate_interval])))"),
            S{"a_total"});
  EXPECT_EQ(promql_metric_names(
                R"(sum by (kind, outcome) (rate(d_total{outcome=~"reject|tempfail"}[5m])))"),
            S{"d_total"});
  EXPECT_EQ(promql_metric_names("max(entries / capacity) > 0.95"), S({"entries", "capacity"}));
  EXPECT_EQ(promql_metric_names("x * on(instance) group_left(version) y offset 1h"), S({"x", "y"}));
  EXPECT_EQ(promql_metric_names(R"(label_values(up{job="a b"}, instance))"),
            S({"up", "instance"}));  // the label argument too: callers strip label_values
}

std::filesystem::path dashboard_path() {
  return std::filesystem::path(HARDEN_SOURCE_DIR) / "contrib/grafana/milter-harden.json";
}

// Every "expr" in the panels (nested rows included) and every
// label_values(METRIC, ...) of the template variables.
std::set<std::string> dashboard_metric_names(const json& dashboard) {
  std::set<std::string> names;
  std::vector<const json*> stack{&dashboard};
  while (!stack.empty()) {
    const json* node = stack.back();
    stack.pop_back();
    if (node->is_object()) {
      for (const auto& [key, value] : node->items()) {
        if (key == "expr" && value.is_string()) {
          for (auto& n : promql_metric_names(value.get<std::string>())) names.insert(n);
        } else if (key == "definition" && value.is_string()) {
          const std::string def = value.get<std::string>();
          const std::string prefix = "label_values(";
          if (def.rfind(prefix, 0) == 0) {
            const auto end = def.find_first_of(",)", prefix.size());
            for (auto& n : promql_metric_names(def.substr(prefix.size(), end - prefix.size())))
              names.insert(n);
          }
        } else {
          stack.push_back(&value);
        }
      }
    } else if (node->is_array()) {
      for (const auto& v : *node) stack.push_back(&v);
    }
  }
  return names;
}

// Names the endpoint declares (# TYPE) or has samples for.
std::set<std::string> exported_metric_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      names.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (!line.empty() && line[0] != '#') {
      names.insert(line.substr(0, line.find_first_of("{ ")));
    }
  }
  return names;
}

class GrafanaDashboard : public DaemonTest {};

TEST_F(GrafanaDashboard, EveryQueriedMetricExistsInTheRunningDaemon) {
  std::ifstream in(dashboard_path());
  ASSERT_TRUE(in) << dashboard_path();
  const json dashboard = json::parse(in);  // throws (fails the test) on broken JSON
  const std::set<std::string> queried = dashboard_metric_names(dashboard);
  // What the dashboard is for (issue 15): sessions, refusals by kind,
  // pre-greet detections, greet pauses held and skipped, reloads, counter
  // table fill, Redis fallback and errors.
  for (const char* wanted :
       {"milter_harden_sessions_total", "milter_harden_decisions_total",
        "milter_harden_pregreet_detections_total", "milter_harden_greet_pauses_total",
        "milter_harden_greet_pauses_skipped_total", "milter_harden_reload_success_total",
        "milter_harden_reload_failure_total", "milter_harden_counter_entries",
        "milter_harden_counter_capacity", "milter_harden_redis_fallback",
        "milter_harden_redis_errors_total"})
    EXPECT_EQ(queried.count(wanted), 1U) << "the dashboard does not query " << wanted;

  rule("192.0.2.66", {{"action", "block"}});  // one refusal: decisions_total gets a sample
  start();
  EXPECT_REFUSED(connect_once(peer_at("192.0.2.66")), "550", "5.7.1");
  const std::string text = metrics_text();
  const std::set<std::string> exported = exported_metric_names(text);
  for (const auto& name : queried)
    EXPECT_EQ(exported.count(name), 1U)
        << "the dashboard queries " << name << ", which GET /metrics does not have:\n"
        << text;
  EXPECT_THAT(text, ::testing::HasSubstr("milter_harden_decisions_total{kind=\"blocked\""));
}

}  // namespace
}  // namespace harden::testing
