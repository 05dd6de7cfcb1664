// hardenctl_rule_test.cpp - rule add/set/remove/list/show through the binary,
// and the hostile inputs they must refuse without writing anything.
#include <algorithm>

#include "hardenctl_fixture.hpp"

namespace harden::test {
namespace {

class HardenctlRule : public HardenctlTest {
 protected:
  void SetUp() override { init_store(); }
};

TEST_F(HardenctlRule, AddNetworkRuleAndShowIt) {
  const ProcessResult r = ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m", "conn_limit=5"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("added 192.0.2.0/24"), std::string::npos) << r.out;
  const auto j = rule_json("192.0.2.0/24");
  EXPECT_EQ(j["selector"], "192.0.2.0/24");
  EXPECT_EQ(j["kind"], "network");
  EXPECT_EQ(j["attrs"], (nlohmann::json{{"conn_rate", "10/1m"}, {"conn_limit", "5"}}));
  EXPECT_TRUE(j["expires"].is_null());
  EXPECT_EQ(j["comment"], "");
}

TEST_F(HardenctlRule, AddSuffixBlockWithReasonKeepsTheTextExactly) {
  ASSERT_TRUE(succeeded(ctl(
      {"rule", "add", ".adsl.alicedsl.de", "action=block", "reason=Dial-in, relay via your ISP"})));
  const auto j = rule_json(".adsl.alicedsl.de");
  EXPECT_EQ(j["kind"], "suffix");
  EXPECT_EQ(j["attrs"]["action"], "block");
  EXPECT_EQ(j["attrs"]["reason"], "Dial-in, relay via your ISP");
  const ProcessResult list = ctl({"rule", "list"});
  ASSERT_TRUE(succeeded(list));
  EXPECT_NE(list.out.find(R"(reason="Dial-in, relay via your ISP")"), std::string::npos)
      << list.out;
}

// greet_pause takes the duration grammar of the daemon's config; the store
// keeps milliseconds and list/export print them as before.
TEST_F(HardenctlRule, GreetPauseTakesDurationUnitsAndStoresMilliseconds) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "greet_pause=2s"})));
  EXPECT_EQ(rule_json("192.0.2.7")["attrs"]["greet_pause"], "2000");
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "192.0.2.7", "greet_pause=250ms"})));
  EXPECT_EQ(rule_json("192.0.2.7")["attrs"]["greet_pause"], "250");
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "192.0.2.7", "greet_pause=1m"})));
  EXPECT_EQ(rule_json("192.0.2.7")["attrs"]["greet_pause"], "60000");
  EXPECT_NE(export_policy().find("greet_pause: 60000"), std::string::npos) << export_policy();
  const std::string before = export_policy();
  for (const std::string& bad :
       std::vector<std::string>{"61s", "1.5s", "s", "10 s", "10sec", "-1s", "18446744073709551616",
                                std::string(5000, '9')}) {
    const ProcessResult r = ctl({"rule", "set", "192.0.2.7", "greet_pause=" + bad});
    EXPECT_TRUE(is_usage_error(r, "greet_pause")) << bad.substr(0, 40) << r.err;
  }
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlRule, SelectorsAreStoredInCanonicalForm) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "MX.Example.ORG.", "conn_limit=9"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "2001:DB8:0:0::/48", "conn_limit=8"})));
  EXPECT_EQ(rule_json("mx.example.org")["kind"], "host");
  EXPECT_EQ(rule_json("2001:db8::/48")["attrs"]["conn_limit"], "8");
  // The same selector in another spelling is the same rule.
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "mx.example.org", "conn_limit=1"}), "exists"));
}

TEST_F(HardenctlRule, PatternRulePriorityExpiresAndComment) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "/^dsl-[0-9-]+\\./", "action=block", "--priority", "7",
                             "--expires", "2099-12-31", "--comment", "dynamic pool"})));
  const auto j = rule_json("/^dsl-[0-9-]+\\./");
  EXPECT_EQ(j["kind"], "pattern");
  EXPECT_EQ(j["priority"], 7);
  EXPECT_EQ(j["expires"], "2099-12-31T00:00:00Z");
  EXPECT_EQ(j["expired"], false);
  EXPECT_EQ(j["comment"], "dynamic pool");
}

TEST_F(HardenctlRule, PriorityOnlyForPatternsAndExpiryOnlyInTheFuture) {
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1", "--priority", "3"}),
                             "--priority"));
  EXPECT_TRUE(
      is_usage_error(ctl({"rule", "add", "/x/", "action=block", "--priority", "0"}), "--priority"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "/x/", "action=block", "--priority", "-4"})));
  EXPECT_TRUE(is_usage_error(
      ctl({"rule", "add", "/x/", "action=block", "--priority", "99999999999999999999"}),
      "--priority"));
  EXPECT_TRUE(is_usage_error(
      ctl({"rule", "add", "192.0.2.7", "conn_limit=1", "--expires", "2001-01-01"}), "past"));
  EXPECT_TRUE(
      is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1", "--expires", "soon"})));
}

TEST_F(HardenctlRule, SetChangesUnsetsAndReportsUnchanged) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m", "conn_limit=5",
                             "max_rcpts=10", "--comment", "office"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "192.0.2.0/24", "conn_rate=20/5m", "conn_limit="})));
  auto j = rule_json("192.0.2.0/24");
  EXPECT_EQ(j["attrs"], (nlohmann::json{{"conn_rate", "20/5m"}, {"max_rcpts", "10"}}));
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "192.0.2.0/24", "--unset", "max_rcpts", "--unset",
                             "comment", "greet_pause=500"})));
  j = rule_json("192.0.2.0/24");
  EXPECT_EQ(j["attrs"], (nlohmann::json{{"conn_rate", "20/5m"}, {"greet_pause", "500"}}));
  EXPECT_EQ(j["comment"], "");
  const ProcessResult same = ctl({"rule", "set", "192.0.2.0/24", "greet_pause=500"});
  ASSERT_TRUE(succeeded(same));
  EXPECT_NE(same.out.find("unchanged"), std::string::npos);
}

TEST_F(HardenctlRule, SetOnTheDefaultRuleMayUnsetEverything) {
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "dialin=block", "greet_pause="})));
  const auto j = rule_json("default");
  EXPECT_EQ(j["attrs"]["dialin"], "block");
  EXPECT_FALSE(j["attrs"].contains("greet_pause"));
}

TEST_F(HardenctlRule, SetRefusals) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"})));
  const std::string before = export_policy();
  EXPECT_TRUE(is_usage_error(ctl({"rule", "set", "192.0.2.8", "conn_limit=1"}), "rule add"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "set", "192.0.2.7"}), "nothing to change"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "set", "192.0.2.7", "conn_limit="}), "rule remove"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "set", "192.0.2.7", "--unset", "bogus"}), "bogus"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "set", "192.0.2.7", "dialin=block"}), "default rule"));
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlRule, RemoveRules) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"})));
  const ProcessResult r = ctl({"rule", "remove", "192.0.2.7"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("removed 192.0.2.7"), std::string::npos);
  EXPECT_TRUE(is_usage_error(ctl({"rule", "show", "192.0.2.7"}), "192.0.2.7"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "remove", "192.0.2.7"}), "no rule"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "remove", "default"}), "default rule"));
}

TEST_F(HardenctlRule, ListFiltersByKindAndPrintsRuleObjects) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "/cable/", "action=block"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", ".dyn.example.net", "action=block"})));
  const auto all = rules_json();
  ASSERT_TRUE(all.is_array());
  EXPECT_EQ(all.size(), 5u);  // default, 127.0.0.0/8, ::1 and the two above
  for (const auto& rule : all) {
    for (const char* key : {"selector", "kind", "priority", "attrs", "expires", "comment"}) {
      EXPECT_TRUE(rule.contains(key)) << key << " in " << rule.dump();
    }
  }
  const auto patterns = parse_json(ctl({"rule", "list", "--kind", "pattern", "--json"}));
  ASSERT_EQ(patterns.size(), 1u);
  EXPECT_EQ(patterns[0]["selector"], "/cable/");
}

TEST_F(HardenctlRule, TableColumnsAreAligned) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "mail.example.org", "action=allow"})));
  const ProcessResult r = ctl({"rule", "list"});
  ASSERT_TRUE(succeeded(r));
  std::vector<std::string> lines;
  for (std::size_t pos = 0, next; pos < r.out.size(); pos = next + 1) {
    next = r.out.find('\n', pos);
    lines.push_back(r.out.substr(pos, next - pos));
  }
  ASSERT_GE(lines.size(), 6u);
  const std::size_t kind_col = lines[0].find("KIND");
  ASSERT_NE(kind_col, std::string::npos);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    ASSERT_GT(lines[i].size(), kind_col) << lines[i];
    EXPECT_NE(lines[i][kind_col], ' ') << lines[i];
    EXPECT_EQ(lines[i][kind_col - 1], ' ') << lines[i];
  }
}

struct BadInput {
  const char* name;
  std::vector<std::string> args;
  const char* needle;  // what the one error line must mention
};

class HardenctlBadRuleInput : public HardenctlTest,
                              public ::testing::WithParamInterface<BadInput> {};

TEST_P(HardenctlBadRuleInput, IsRefusedWithOneLineAndWritesNothing) {
  init_store();
  const std::string before = export_policy();
  std::vector<std::string> args{"rule"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  EXPECT_TRUE(is_usage_error(ctl(args), GetParam().needle));
  EXPECT_EQ(export_policy(), before);
}

const std::string kLong(5000, 'a');

INSTANTIATE_TEST_SUITE_P(
    Selectors, HardenctlBadRuleInput,
    ::testing::Values(BadInput{"prefix_too_long", {"add", "1.2.3.4/33", "conn_limit=1"}, "33"},
                      BadInput{"host_bits_set", {"add", "10.0.0.1/8", "conn_limit=1"}, "10.0.0.1"},
                      BadInput{"unterminated_regex", {"add", "/unterminated", "action=block"}, ""},
                      BadInput{"bad_regex", {"add", "/a(b/", "action=block"}, ""},
                      BadInput{"lone_dot", {"add", ".", "action=block"}, ""},
                      BadInput{"empty_label", {"add", "a..b", "action=block"}, ""},
                      BadInput{"octet_too_big", {"add", "300.1.1.1", "conn_limit=1"}, ""},
                      BadInput{"bad_ipv6", {"add", "::g", "conn_limit=1"}, ""},
                      BadInput{"empty", {"add", "", "conn_limit=1"}, ""},
                      BadInput{"space", {"add", "exa mple.org", "conn_limit=1"}, ""},
                      BadInput{
                          "escape_sequence", {"add", "\x1b[31mred.example", "conn_limit=1"}, ""},
                      BadInput{"newline", {"add", "a.example\nb.example", "conn_limit=1"}, ""},
                      BadInput{"unicode",
                               {"add",
                                "b\xc3\xbc"
                                "cher.de",
                                "conn_limit=1"},
                               ""},
                      BadInput{"overlong", {"add", kLong + ".example", "conn_limit=1"}, ""},
                      BadInput{"overlong_regex", {"add", "/" + kLong + "/", "action=block"}, ""},
                      BadInput{"show_bad", {"show", "1.2.3.4/33"}, ""},
                      BadInput{"remove_bad", {"remove", "::g"}, ""}),
    [](const auto& param_info) { return param_info.param.name; });

INSTANTIATE_TEST_SUITE_P(
    Attributes, HardenctlBadRuleInput,
    ::testing::Values(
        BadInput{"negative", {"add", "192.0.2.7", "conn_limit=-1"}, "conn_limit"},
        BadInput{
            "huge_rate", {"add", "192.0.2.7", "conn_rate=99999999999999999999/1m"}, "conn_rate"},
        BadInput{
            "huge_count", {"add", "192.0.2.7", "conn_limit=99999999999999999999"}, "conn_limit"},
        BadInput{"window_without_unit", {"add", "192.0.2.7", "conn_rate=5/60"}, "conn_rate"},
        BadInput{"zero_window", {"add", "192.0.2.7", "conn_rate=5/0s"}, "conn_rate"},
        BadInput{"greet_pause_too_long", {"add", "192.0.2.7", "greet_pause=600000"}, "greet_pause"},
        BadInput{"unknown_attribute", {"add", "192.0.2.7", "bogus=1"}, "bogus"},
        BadInput{"dialin_on_cidr", {"add", "192.0.2.0/24", "dialin=block"}, "dialin"},
        BadInput{"missing_rdns_on_suffix",
                 {"add", ".example.net", "missing_rdns=block"},
                 "missing_rdns"},
        BadInput{"bad_action", {"add", "192.0.2.7", "action=explode"}, "action"},
        BadInput{"no_equals", {"add", "192.0.2.7", "conn_limit"}, "conn_limit"},
        BadInput{"no_name", {"add", "192.0.2.7", "=5"}, "=5"},
        BadInput{"empty_value_on_add", {"add", "192.0.2.7", "conn_limit="}, "conn_limit"},
        BadInput{"twice", {"add", "192.0.2.7", "conn_limit=5", "conn_limit=6"}, "twice"},
        BadInput{"nothing_set", {"add", "192.0.2.7"}, "nothing to set"},
        BadInput{
            "control_char_reason", {"add", "192.0.2.7", "action=block", "reason=bad\x01text"}, ""},
        BadInput{"overlong_reason", {"add", "192.0.2.7", "action=block", "reason=" + kLong}, ""},
        BadInput{
            "control_char_comment", {"add", "192.0.2.7", "conn_limit=1", "--comment", "a\nb"}, ""},
        BadInput{"expires_as_attribute", {"add", "192.0.2.7", "expires=2099-01-01"}, "--expires"},
        BadInput{"exists", {"add", "127.0.0.0/8", "conn_limit=1"}, "exists"}),
    [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace harden::test
