// policy_yaml_test.cpp - exporting and strictly re-reading the policy as YAML.
#include "harden/db/policy_yaml.hpp"

#include <gtest/gtest.h>

#include "db_test_util.hpp"

namespace harden::db {
namespace {

using policy::Rule;
using test::error_of;
using test::make_rule;

std::vector<Rule> rich_policy() {
  Rule def = make_rule("default",
                       {{"action", "limit"},
                        {"conn_rate", "5/60s"},
                        {"conn_limit", "3"},
                        {"greet_pause", "2000"},
                        {"max_rcpts", "25"},
                        {"bad_rcpt_throttle", "2"},
                        {"rcpt_rate", "100/1h"},
                        {"msg_rate", "0"},
                        {"dialin", "monitor"},
                        {"missing_rdns", "off"}},
                       0, "sendmail-style defaults");
  Rule expiring = make_rule("192.0.2.7", {{"action", "block"}, {"reason", "Go away: now #1"}});
  expiring.expires = policy::parse_time("2031-05-06T07:08:09Z");
  std::vector<Rule> rules{
      def,
      expiring,
      make_rule("2001:db8::/48", {{"conn_rate", "0"}}, 0, "v6: \"quoted\" 'single' comment"),
      make_rule("127.0.0.0/8", {{"action", "allow"}}, 0, "loopback"),
      make_rule("mx.example.org", {{"greet_pause", "0"}}),
      make_rule(".adsl.example.net", {{"action", "tempfail"}, {"reason", "null"}}),
      make_rule("/^dsl-[0-9]+\\.example\\.com$/", {{"action", "block"}, {"reason", "~"}}, 1),
      make_rule("/cable|dsl/ && !/static/ && /^cm[0-9]+\\./", {{"action", "block"}}, 2,
                "- looks like a list: {or: a map} [x] &anchor *alias !tag %YAML @ `"),
      make_rule("/a\\/b 'c' \"d\"/", {{"action", "limit"}}, 3),
  };
  // Reasons YAML would read as something else if written plainly.
  const char* tricky[] = {"yes",    "123",       "",         " leading space", "trailing space ",
                          "a: b",   "#hash",     "'single'", "\"double\"",     "- dash",
                          "? what", "@at",       "%pct",     "back\\slash",    "[a, b]",
                          "{a: b}", "*star",     "&amp",     "!bang",          "|pipe",
                          ">gt",    "2031-05-06"};
  int n = 0;
  for (const char* t : tricky) {
    rules.push_back(make_rule(".t" + std::to_string(n++) + ".example",
                              {{"action", "block"}, {"reason", t}}, 0, t));
  }
  return rules;
}

TEST(PolicyYaml, RoundTripGivesTheSameRules) {
  const auto rules = rich_policy();
  const std::string yaml = export_policy_yaml(rules, "/var/lib/milter-harden/policy.db");
  const auto back = parse_policy_yaml(yaml, "policy.yaml");
  ASSERT_EQ(back.size(), rules.size()) << yaml;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    EXPECT_EQ(back[i], rules[i]) << "rule " << i << " " << rules[i].selector.text() << "\n" << yaml;
  }
  // And once more: the text is stable.
  EXPECT_EQ(export_policy_yaml(back, "/var/lib/milter-harden/policy.db"), yaml);
}

TEST(PolicyYaml, ExportLayout) {
  const std::string yaml =
      export_policy_yaml({make_rule("default", {{"conn_limit", "3"}, {"conn_rate", "5/60s"}}),
                          make_rule("/^dsl/", {{"action", "block"}}, 4)},
                         "policy.db\nrules: injected");
  EXPECT_EQ(yaml.rfind("# milter-harden policy, written by milter-harden", 0), 0u) << yaml;
  EXPECT_NE(yaml.find("# origin: policy.db?rules: injected\n"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("\nversion: 1\nrules:\n"), std::string::npos) << yaml;
  // Attributes in table order, priority only on the pattern rule.
  EXPECT_NE(yaml.find("  - selector: default\n    conn_rate: 5/1m\n    conn_limit: 3\n"),
            std::string::npos)
      << yaml;
  EXPECT_NE(yaml.find("  - selector: '/^dsl/'\n    priority: 4\n    action: block\n"),
            std::string::npos)
      << yaml;
  EXPECT_EQ(yaml.find("priority: 0"), std::string::npos);
}

TEST(PolicyYaml, EmptyRuleListRoundTrips) {
  const std::string yaml = export_policy_yaml({}, "x");
  EXPECT_TRUE(parse_policy_yaml(yaml, "p.yaml").empty()) << yaml;
}

TEST(PolicyYaml, AcceptsHandWrittenFiles) {
  const auto rules = parse_policy_yaml(
      "version: 1\n"
      "rules:\n"
      "  - selector: default\n"
      "    conn_limit: 3\n"
      "  - {selector: \"192.0.2.0/24\", action: block, expires: 2030-01-01}\n"
      "  - selector: /^dsl/\n"
      "    action: block\n",
      "p.yaml");
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[1].expires, policy::parse_time("2030-01-01"));
  EXPECT_EQ(rules[2].priority, 0);
}

struct BadCase {
  std::string text;
  std::string error;
};

class PolicyYamlErrors : public testing::TestWithParam<BadCase> {};

TEST_P(PolicyYamlErrors, NameFileAndLine) {
  const std::string msg =
      error_of<ImportError>([&] { parse_policy_yaml(GetParam().text, "p.yaml"); });
  EXPECT_NE(msg.find(GetParam().error), std::string::npos) << msg;
}

const std::string kHead = "version: 1\nrules:\n  - selector: default\n    conn_limit: 3\n";

INSTANTIATE_TEST_SUITE_P(
    Strict, PolicyYamlErrors,
    testing::Values(
        BadCase{"", "p.yaml: empty policy file"},
        BadCase{"# just a comment\n", "p.yaml: empty policy file"},
        BadCase{"- a\n- b\n", "p.yaml:1: expected a map"},
        BadCase{"rules: []\n", "p.yaml:1: missing version"},
        BadCase{"version: 1\n", "missing rules"},
        BadCase{"version: 2\nrules: []\n", "p.yaml:1: unsupported version '2'"},
        BadCase{"version: [1]\nrules: []\n", "p.yaml:1: 'version' must be a single value"},
        BadCase{"version: 1\nversion: 1\nrules: []\n", "p.yaml:2: duplicate key 'version'"},
        BadCase{"version: 1\nrules: []\nextra: 1\n", "p.yaml:3: unknown key 'extra'"},
        BadCase{"version: 1\nrules: {a: b}\n", "p.yaml:2: rules: must be a list"},
        BadCase{"version: 1\nrules:\n  - just text\n", "p.yaml:3: a rule must be a map"},
        BadCase{kHead + "  - action: block\n", "p.yaml:5: rule without selector"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    acton: block\n",
                "p.yaml:6: unknown key 'acton' in rule (known: selector, priority, action"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    conn_limit: [1, 2]\n",
                "p.yaml:6: 'conn_limit' must be a single value"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    conn_limit:\n",
                "p.yaml:6: 'conn_limit' has no value"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    conn_rate: fast\n", "p.yaml:6: conn_rate"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    conn_limit: 99999999999999999999\n",
                "p.yaml:6: conn_limit: bad number"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    conn_limit: -1\n", "p.yaml:6:"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    expires: tomorrow\n", "p.yaml:6: bad time"},
        BadCase{kHead + "  - selector: 192.0.2.300\n    action: block\n", "p.yaml:5:"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    action: block\n    action: allow\n",
                "p.yaml:7: duplicate key 'action'"},
        BadCase{kHead +
                    "  - selector: 192.0.2.7\n    action: block\n  - selector: 192.0.2.7/32\n    "
                    "action: allow\n",
                "p.yaml:7: duplicate selector 192.0.2.7 (first at line 5)"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    priority: 3\n    action: block\n",
                "p.yaml:5: priority: is only for pattern rules"},
        BadCase{kHead + "  - selector: /x/\n    priority: 0\n    action: block\n",
                "p.yaml:6: priority"},
        BadCase{kHead + "  - selector: /x/\n    priority: 1.5\n    action: block\n",
                "p.yaml:6: priority"},
        BadCase{kHead + "  - selector: 192.0.2.7\n", "p.yaml:5: rule 192.0.2.7: sets no attribute"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    dialin: block\n", "p.yaml:5:"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    reason: \"caf\\u00e9\"\n    action: block\n",
                "p.yaml:6: reason"},
        BadCase{kHead + "  - selector: 192.0.2.7\n    action: block\n    comment: \"a\\tb\"\n",
                "p.yaml:7: comment"},
        BadCase{"version: 1\nrules:\n  - selector: [oops\n", "p.yaml:"},
        BadCase{"version: 1\nrules:\n\t- selector: default\n", "p.yaml:"},
        BadCase{std::string("version: 1\nrules: []\n# \0\n", 24), "p.yaml:3: NUL byte"}));

TEST(PolicyYaml, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "version: 1\nrules: " + std::string(100000, '[') + "\n";
  EXPECT_FALSE(error_of<ImportError>([&] { parse_policy_yaml(deep, "p.yaml"); }).empty());
}

TEST(PolicyYaml, HugeInputIsRefused) {
  const std::string huge(kMaxPolicyYamlBytes + 1, '#');
  EXPECT_NE(error_of<ImportError>([&] { parse_policy_yaml(huge, "p.yaml"); }).find("larger than"),
            std::string::npos);
}

}  // namespace
}  // namespace harden::db
