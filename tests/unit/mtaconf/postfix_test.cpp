// postfix_test.cpp - the Postfix generators against postfix.hpp.
//
// The anvil conversion (checked against a simulation of anvil's windows),
// the main.cf lines, the cidr and pcre tables (order, results, regex
// delimiters), and hostile values that must not break out of the syntax.
// tests/integration/mtaconf runs postconf and postmap over the same output.
#include "harden/mtaconf/postfix.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>

#include "test_policy.hpp"

namespace harden::mtaconf {
namespace {

using namespace test;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string main_cf(const policy::Policy& p, PostfixOptions o = {}) {
  return postfix_main_cf(p, o, kFrom, kNow);
}

std::string table(const policy::Policy& p, std::string_view name) {
  for (const auto& t : postfix_tables(p, kFrom, kNow)) {
    if (t.file_name == name) return t.text;
  }
  ADD_FAILURE() << "no table " << name;
  return "";
}

// The value of `name` in main.cf text (continuation lines joined), or "-".
std::string value_of(const std::string& text, const std::string& name) {
  std::string found = "-";
  bool in = false;
  for (const auto& l : lines(text)) {
    if (in && !l.empty() && (l[0] == ' ' || l[0] == '\t')) {
      found += " " + l.substr(l.find_first_not_of(" \t"));
      continue;
    }
    in = l.starts_with(name + " = ");
    if (in) found = l.substr(name.size() + 3);
  }
  return found;
}

// --- anvil ------------------------------------------------------------------------

// The most events anvil admits inside any span of `window` seconds when a
// client sends as fast as anvil lets it: windows of `unit` seconds that
// restart at the first event after start + unit < now (event times in whole
// seconds), `limit` admitted per window. Events in whole seconds s..s+W lie
// within less than W seconds of wall time, so that span is checked.
std::uint64_t most_in_any_window(std::uint32_t limit, std::int64_t unit, std::int64_t window) {
  const std::int64_t horizon = 6 * (unit + window) + 10;
  std::vector<std::uint64_t> at(static_cast<std::size_t>(horizon), 0);
  std::int64_t start = -1'000'000;
  std::uint64_t count = 0;
  for (std::int64_t t = 0; t < horizon; ++t) {
    if (start + unit < t) {
      start = t;
      count = 0;
    }
    while (count < limit) {
      ++count;
      ++at[static_cast<std::size_t>(t)];
    }
  }
  std::vector<std::uint64_t> before(at.size() + 1, 0);  // before[k]: events in seconds < k
  for (std::size_t k = 0; k < at.size(); ++k) before[k + 1] = before[k] + at[k];
  std::uint64_t most = 0;
  for (std::int64_t s = 0; s + window < horizon; ++s) {
    const auto n =
        before[static_cast<std::size_t>(s + window + 1)] - before[static_cast<std::size_t>(s)];
    most = std::max(most, n);
  }
  return most;
}

TEST(PostfixAnvil, NeverAdmitsMoreThanThePolicyOverItsWindow) {
  const std::vector<std::string> rates{"1/1s",  "3/1m",  "5/1m",  "10/10s", "100/1h",
                                       "7/90s", "60/1m", "2/30s", "1000/1d"};
  for (const auto& unit_s : {2, 11, 31, 61, 91, 3601}) {
    const std::chrono::seconds unit{unit_s};
    for (const auto& text : rates) {
      const auto r = policy::Rate::parse(text);
      const auto limit = anvil_limit(r, unit);
      if (limit == 0) continue;
      EXPECT_LE(most_in_any_window(limit, unit_s, r.window.count()), r.count)
          << text << " with unit " << unit_s << "s -> " << limit;
    }
  }
}

TEST(PostfixAnvil, ARateOfTheUnitsOwnWindowKeepsHalf) {
  const auto unit = anvil_time_unit(*make_policy({R("default", {{"conn_rate", "5/1m"}})}));
  ASSERT_TRUE(unit);
  EXPECT_EQ(*unit, std::chrono::seconds{61});
  EXPECT_EQ(anvil_limit(policy::Rate::parse("5/1m"), *unit), 2u);
  EXPECT_EQ(anvil_limit(policy::Rate::parse("60/1m"), *unit), 30u);
  EXPECT_EQ(anvil_limit(policy::Rate::parse("1/1m"), *unit), 0u);  // not expressible
  EXPECT_EQ(anvil_limit(policy::Rate::parse("0"), *unit), 0u);
  const auto rcpt_only =
      make_policy({R("default", {{"rcpt_rate", "100/1h"}, {"msg_rate", "9/5m"}})});
  EXPECT_EQ(anvil_time_unit(*rcpt_only), std::chrono::seconds{301});
  EXPECT_FALSE(anvil_time_unit(*make_policy({R("default", {{"max_rcpts", "5"}})})));
}

// --- main.cf ----------------------------------------------------------------------

policy::Rule expiring(policy::Rule r, std::int64_t at) {
  r.expires = policy::UnixTime{std::chrono::seconds{at}};
  return r;
}

TEST(PostfixMainCf, DefaultRuleLimitsBecomeAnvilAndSessionLimits) {
  auto p = make_policy({R("default", {{"conn_rate", "10/1m"},
                                      {"conn_limit", "5"},
                                      {"msg_rate", "50/1m"},
                                      {"rcpt_rate", "1/1h"},
                                      {"max_rcpts", "40"},
                                      {"bad_rcpt_throttle", "3"},
                                      {"greet_pause", "2s"}}),
                        R(".slow.example", {{"greet_pause", "25s"}})});
  const std::string cf = main_cf(*p);
  EXPECT_EQ(value_of(cf, "smtpd_milters"), "inet:127.0.0.1:8894");
  EXPECT_EQ(value_of(cf, "milter_default_action"), "accept");
  EXPECT_EQ(value_of(cf, "milter_command_timeout"), "35s");
  EXPECT_EQ(value_of(cf, "anvil_rate_time_unit"), "61s");
  EXPECT_EQ(value_of(cf, "smtpd_client_connection_rate_limit"), "5");
  EXPECT_EQ(value_of(cf, "smtpd_client_message_rate_limit"), "25");
  EXPECT_EQ(value_of(cf, "smtpd_client_recipient_rate_limit"), "0");
  EXPECT_THAT(cf, HasSubstr("# rcpt_rate 1/1h: no anvil limit per 61s keeps within it"));
  EXPECT_EQ(value_of(cf, "smtpd_client_connection_count_limit"), "5");
  EXPECT_EQ(value_of(cf, "smtpd_recipient_limit"), "40");
  EXPECT_EQ(value_of(cf, "smtpd_soft_error_limit"), "3");
  EXPECT_EQ(value_of(cf, "smtpd_error_sleep_time"), "1s");
  EXPECT_EQ(value_of(cf, "smtpd_hard_error_limit"), "-");
  EXPECT_EQ(value_of(cf, "smtpd_client_ipv6_prefix_length"), "-");
  EXPECT_THAT(cf, HasSubstr("Postfix 3.7 counts"));
  EXPECT_THAT(cf, HasSubstr("rule .slow.example"));  // a per-rule limit, listed
  EXPECT_EQ(value_of(cf, "postscreen_greet_wait"), "-");
}

TEST(PostfixMainCf, VersionOptionsAndPostscreen) {
  auto p = make_policy({R("default", {{"greet_pause", "2500ms"}, {"bad_rcpt_throttle", "30"}})});
  PostfixOptions o;
  o.version = PostfixVersion::v3_8_plus;
  o.postscreen = true;
  o.milter.clear();
  o.table_dir = "/etc/postfix/h/";
  const std::string cf = main_cf(*p, o);
  EXPECT_EQ(value_of(cf, "smtpd_client_ipv4_prefix_length"), "32");
  EXPECT_EQ(value_of(cf, "smtpd_client_ipv6_prefix_length"), "64");
  EXPECT_THAT(cf, Not(HasSubstr("Postfix 3.7 counts")));
  EXPECT_EQ(value_of(cf, "smtpd_milters"), "-");
  EXPECT_EQ(value_of(cf, "milter_command_timeout"), "-");
  EXPECT_EQ(value_of(cf, "postscreen_greet_wait"), "3s");
  EXPECT_EQ(value_of(cf, "postscreen_greet_action"), "drop");
  EXPECT_THAT(cf,
              HasSubstr("#   smtp      inet  n       -       y       -       1       postscreen"));
  EXPECT_EQ(value_of(cf, "smtpd_hard_error_limit"), "${stress?{1}:{50}}");
  EXPECT_EQ(value_of(cf, "smtpd_client_restrictions"),
            "check_client_access cidr:/etc/postfix/h/milter-harden-client.cidr");
  EXPECT_EQ(value_of(cf, "milter_harden_client_names"),
            "check_client_access pcre:/etc/postfix/h/milter-harden-client-names.pcre");
  EXPECT_EQ(value_of(cf, "smtpd_recipient_limit"), "-");
  EXPECT_EQ(value_of(cf, "anvil_rate_time_unit"), "-");
}

TEST(PostfixMainCf, ExceptionsFollowTheAllowRulesInResolutionOrder) {
  auto p = make_policy(
      {R("10.0.0.0/8", {{"action", "allow"}}), R("10.1.2.3", {{"action", "block"}}),
       R("2001:db8::/32", {{"action", "allow"}}), R("2001:db8::7", {{"action", "allow"}}),
       R("mx.example.org", {{"action", "allow"}}), R(".relay.example", {{"action", "allow"}}),
       R("/^mail[0-9]+\\./", {{"action", "allow"}}), R("192.0.2.0/24", {{"action", "block"}}),
       R("default", {{"conn_rate", "4/30s"}})});
  const std::string cf = main_cf(*p);
  EXPECT_EQ(value_of(cf, "smtpd_client_event_limit_exceptions"),
            "!10.1.2.3, [2001:db8::7], [2001:db8::]/32, !192.0.2.0/24, 10.0.0.0/8, "
            "mx.example.org, .relay.example");
  EXPECT_THAT(cf, HasSubstr("allow by rDNS pattern cannot be listed here: rule /^mail[0-9]+?./"));
}

TEST(PostfixMainCf, MissingRdnsGoesBeforeTheNameTable) {
  auto p = make_policy({R("default", {{"missing_rdns", "block"}})});
  const std::string cf = main_cf(*p);
  EXPECT_EQ(value_of(cf, "unknown_client_reject_code"), "550");
  EXPECT_THAT(value_of(cf, "milter_harden_client_names"),
              StartsWith("reject_unknown_client_hostname, check_client_access pcre:"));
  auto monitor = make_policy({R("default", {{"missing_rdns", "monitor"}})});
  EXPECT_THAT(value_of(main_cf(*monitor), "milter_harden_client_names"),
              StartsWith("warn_if_reject reject_unknown_client_hostname, "));
}

TEST(PostfixMainCf, TheHeaderNamesTheFirstExpiry) {
  auto p = make_policy({expiring(R("192.0.2.0/24", {{"action", "block"}}), 1'900'000'000),
                        expiring(R("192.0.2.9", {{"action", "block"}}), 1'850'000'000),
                        expiring(R("198.51.100.0/24", {{"action", "block"}}), 1'000)});
  const std::string cf = main_cf(*p);
  EXPECT_THAT(cf, HasSubstr("# The first rule expires 2028-08-16T00:53:20Z"));
  EXPECT_THAT(table(*p, kPostfixCidrTable), HasSubstr("2028-08-16T00:53:20Z"));
  EXPECT_THAT(table(*p, kPostfixCidrTable), HasSubstr("# rule 198.51.100.0/24: expired, left out"));
  EXPECT_THAT(table(*p, kPostfixCidrTable), Not(HasSubstr("\n198.51.100.0/24")));
  EXPECT_THAT(main_cf(*make_policy({})), HasSubstr("# No rule of the policy expires."));
}

// Every line is a comment, a "name = value" with a parameter name, or a
// continuation of a list value the generator itself wrote.
void expect_only_parameters(const std::string& cf) {
  const std::regex param("[a-z0-9_]+ = [^\\n]*");
  const std::regex continuation("    [^ \\n][^\\n]*");
  std::string previous;
  for (const auto& l : lines(cf)) {
    if (l.starts_with("# ") || l == "#") continue;
    if (std::regex_match(l, continuation)) {
      EXPECT_THAT(previous, StartsWith("smtpd_client_event_limit_exceptions = ")) << l;
      continue;
    }
    EXPECT_TRUE(std::regex_match(l, param)) << "not a parameter line: " << l;
    previous = l;
  }
}

TEST(PostfixMainCf, HostileValuesStayInsideTheirSyntax) {
  auto p = make_policy(
      {R("192.0.2.0/24", {{"action", "block"}, {"reason", "x $mydestination ${y} = } \\"}}),
       R("/a\\}b$/", {{"action", "block"}})});
  const Provenance hostile{"gen\nsmtpd_milters = evil", "/tmp/$x\n  continued = evil"};
  const std::string cf = postfix_main_cf(*p, PostfixOptions{}, hostile, kNow);
  expect_only_parameters(cf);
  EXPECT_EQ(value_of(cf, "smtpd_milters"), "inet:127.0.0.1:8894");
  EXPECT_THAT(cf, Not(HasSubstr("mydestination")));
  for (const auto& bad : {"inet:127.0.0.1:25\nsmtpd_milters = evil", "unix:/run/$x/m.sock",
                          "unix:/run/a b", "inet:$myhostname:25", "inet:2001:db8::1:25",
                          "inet:[host]:25", "inet:127.0.0.1:0", "local:/x", "unix:"}) {
    PostfixOptions o;
    o.milter = bad;
    EXPECT_THAT(error_of([&] { main_cf(*p, o); }), HasSubstr("milter ")) << bad;
  }
  for (const auto& bad : {"relative/dir", "/etc/$config_directory", "/etc/x\ny = z", "/a,b"}) {
    PostfixOptions o;
    o.table_dir = bad;
    EXPECT_THAT(error_of([&] { main_cf(*p, o); }), HasSubstr("table directory")) << bad;
  }
  EXPECT_EQ(check_postfix_milter("inet:[2001:DB8::1]:8894"), "inet:[2001:db8::1]:8894");
  EXPECT_EQ(check_postfix_milter("inet:milter.example:8894"), "inet:milter.example:8894");
  EXPECT_EQ(check_postfix_milter("unix:milter-harden/milter.sock"),
            "unix:milter-harden/milter.sock");
  EXPECT_THAT(error_of([] { parse_postfix_version("3.6"); }), HasSubstr("3.7 or 3.8+"));
  EXPECT_THAT(error_of([] { parse_milter_default_action("discard"); }), HasSubstr("accept"));
}

// --- tables -----------------------------------------------------------------------

// A pattern rule built from its terms, whatever Selector::parse makes of '/'.
policy::Rule P(std::vector<policy::PatternTerm> terms, const Attrs& attrs) {
  policy::Rule r = R("default", attrs);
  r.selector = policy::Selector::for_pattern(std::move(terms));
  return r;
}

// Lines of `text` that are not comments.
std::vector<std::string> entries(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& l : lines(text)) {
    if (!l.starts_with("#")) out.push_back(l);
  }
  return out;
}

TEST(PostfixTables, AddressRulesMostSpecificFirstThenTheNameClass) {
  auto p =
      make_policy({R("10.0.0.0/8", {{"action", "block"}, {"reason", "ten $net"}}),
                   R("10.1.0.0/16", {{"action", "limit"}}), R("10.1.2.3", {{"action", "allow"}}),
                   R("10.2.0.0/16", {{"conn_rate", "1/1m"}}),  // no action: not here
                   R("2001:db8::/32", {{"action", "tempfail"}})});
  EXPECT_EQ(entries(table(*p, kPostfixCidrTable)),
            (std::vector<std::string>{"10.1.2.3\tOK", "2001:db8::/32\t421 4.7.0 Access denied",
                                      "10.1.0.0/16\tDUNNO", "10.0.0.0/8\t550 5.7.1 ten $net",
                                      "0.0.0.0/0\tmilter_harden_client_names",
                                      "::/0\tmilter_harden_client_names"}));
}

TEST(PostfixTables, NameRulesInResolutionOrderInsideTheGuards) {
  auto p = make_policy(
      {R("/dsl/", {{"action", "block"}, {"reason", "dyn $1 $$"}}),
       R(".dsl.example", {{"action", "allow"}}), R("mx.dsl.example", {{"action", "tempfail"}}),
       R("/cable|dsl/ && !/static/", {{"action", "block"}}),
       P({{"a\\/b", false}}, {{"action", "limit"}}), P({{"^x[/]y", false}}, {{"action", "block"}}),
       R("default", {{"action", "block"}, {"reason", "closed"}})});
  EXPECT_EQ(entries(table(*p, kPostfixNameTable)),
            (std::vector<std::string>{"if !/^unknown$/", "if !/^[0-9.]+$/", "if !/:/",
                                      "/^mx\\.dsl\\.example$/ 421 4.7.0 Access denied",
                                      "/\\.dsl\\.example$/ OK", "/dsl/ 550 5.7.1 dyn $$1 $$$$",
                                      "if /cable|dsl/", "if !/static/",
                                      "/^/ 550 5.7.1 Access denied", "endif", "endif",
                                      "/a\\/b/ DUNNO", "/^x[\\/]y/ 550 5.7.1 Access denied",
                                      "endif", "endif", "endif", "/^/ 550 5.7.1 closed"}));
}

TEST(PostfixTables, AdjacentRulesShareTheirGuards) {
  auto p = make_policy({R("/^g/ && /a/", {{"action", "block"}}),
                        R("/^g/ && !/x/ && /b/", {{"action", "tempfail"}}),
                        R("/^g/ && !/x/ && !/y/", {{"action", "allow"}}),
                        R("/c/", {{"action", "block"}}), R("/^g/ && /d/", {{"action", "block"}})});
  auto body = entries(table(*p, kPostfixNameTable));
  body.erase(body.begin(), body.begin() + 3);  // the guards against addresses
  EXPECT_EQ(body,
            (std::vector<std::string>{
                "if /^g/", "/a/ 550 5.7.1 Access denied", "if !/x/", "/b/ 421 4.7.0 Access denied",
                "if !/y/", "/^/ OK", "endif", "endif", "endif", "/c/ 550 5.7.1 Access denied",
                "if /^g/", "/d/ 550 5.7.1 Access denied", "endif", "endif", "endif", "endif"}));
}

TEST(PostfixTables, SlashesReachPcreAsThePolicyStoresThem) {
  // The policy stores every '/' escaped (Selector::for_pattern), also inside
  // \Q...\E, where PCRE then reads "\/" literally - in the milter and in
  // Postfix alike, since Postfix hands the escape to PCRE as it is.
  auto p = make_policy({P({{"\\Qa/b\\E", false}}, {{"action", "block"}}),
                        P({{"x/y", false}}, {{"action", "block"}})});
  const auto& terms = p->rules()[0].selector.terms();
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_THAT(table(*p, kPostfixNameTable), HasSubstr("\n/" + terms[0].regex + "/ 550 5.7.1"));
  EXPECT_THAT(table(*p, kPostfixNameTable), HasSubstr("\n/x\\/y/ 550 5.7.1"));
}

TEST(PostfixEscape, DoublesDollarForPcreOnlyAndRefusesControlBytes) {
  EXPECT_EQ(postfix_escape("a $1 ${x} } = b", PostfixTableKind::pcre), "a $$1 $${x} } = b");
  EXPECT_EQ(postfix_escape("a $1 ${x} } = b", PostfixTableKind::cidr), "a $1 ${x} } = b");
  for (const auto& bad : {std::string("line\nbreak"), std::string("cr\r"), std::string("nul\0", 4),
                          std::string("tab\t"), std::string("high\xc3\xa9")}) {
    EXPECT_THAT(error_of([&] { postfix_escape(bad, PostfixTableKind::pcre); }),
                HasSubstr("printable ASCII"));
  }
}

}  // namespace
}  // namespace harden::mtaconf
