// policy_test.cpp - Policy::build and Policy::resolve against policy.hpp.
//
// Resolution precedence (address > longest CIDR > host > longest suffix >
// patterns by priority > default), per-attribute fall-through, `allow`,
// expiry, rDNS verification, the default rule's missing_rdns / dialin
// heuristics and their exemption, client keys, build errors, and concurrent
// resolve on one shared snapshot. Rules are identified by selector text, never
// by an assumed index, so the tests do not depend on how build() orders rules.
#include "harden/policy/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harden/policy/decision.hpp"
#include "harden/policy/error.hpp"
#include "test_support.hpp"

namespace harden::policy {
namespace {

using namespace std::chrono_literals;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::PrintToString;

const UnixTime kNow{1'800'000'000s};

Rule rule(std::string_view selector,
          std::initializer_list<std::pair<std::string_view, std::string_view>> attrs,
          std::int64_t priority = 0) {
  Rule r;
  r.selector = Selector::parse(selector);
  r.priority = priority;
  for (const auto& [name, value] : attrs) r.attrs.set(name, value);
  return r;
}

Client client(std::string_view ip, std::string host = "", RdnsStatus status = RdnsStatus::ok) {
  Client c;
  c.address = IpAddress::parse(ip);
  c.hostname = std::move(host);
  c.resolve = c.hostname.empty() && status == RdnsStatus::ok ? RdnsStatus::fail : status;
  return c;
}

std::string text_of_rule(const Policy& p, std::int32_t index) {
  if (index < 0 || static_cast<std::size_t>(index) >= p.rules().size()) {
    return "<bad index " + std::to_string(index) + ">";
  }
  return p.rules()[static_cast<std::size_t>(index)].selector.text();
}

// The selector of the rule that set `a`, or a marker for non-rule sources.
std::string who(const Policy& p, const Resolution& r, Attr a) {
  const Source& s = r.source(a);
  if (s.kind != Source::Kind::rule) {
    return "<source kind " + std::to_string(static_cast<int>(s.kind)) + ">";
  }
  return text_of_rule(p, s.rule);
}

std::vector<std::string> matched(const Policy& p, const Resolution& r) {
  std::vector<std::string> out;
  for (std::int32_t i : r.matched) out.push_back(text_of_rule(p, i));
  return out;
}

// One rule per level, each with its own conn_limit; the pattern of higher
// priority number comes first in the list so order alone cannot decide.
std::shared_ptr<const Policy> ladder() {
  return Policy::build({
      rule("default", {{"conn_limit", "1"}}),
      rule("/example|other/", {{"conn_limit", "2"}}, 20),
      rule("/example/", {{"conn_limit", "3"}}, 10),
      rule(".example.org", {{"conn_limit", "4"}}),
      rule(".a.example.org", {{"conn_limit", "5"}}),
      rule("host.a.example.org", {{"conn_limit", "6"}}),
      rule("192.0.0.0/16", {{"conn_limit", "7"}}),
      rule("192.0.2.0/24", {{"conn_limit", "8"}}),
      rule("192.0.2.7", {{"conn_limit", "9"}}),
  });
}

TEST(PolicyResolveTest, PrecedenceLadder) {
  struct Case {
    Client c;
    std::uint32_t conn_limit;
    std::string by;
  };
  const std::vector<Case> cases = {
      {client("192.0.2.7", "host.a.example.org"), 9, "192.0.2.7"},
      {client("192.0.2.8", "host.a.example.org"), 8, "192.0.2.0/24"},
      {client("192.0.3.8", "host.a.example.org"), 7, "192.0.0.0/16"},
      {client("10.0.0.1", "host.a.example.org"), 6, "host.a.example.org"},
      {client("10.0.0.1", "other.a.example.org"), 5, ".a.example.org"},
      {client("10.0.0.1", "a.host.a.example.org"), 5, ".a.example.org"},
      {client("10.0.0.1", "x.b.example.org"), 4, ".example.org"},
      {client("10.0.0.1", "x.example.net"), 3, "/example/"},
      {client("10.0.0.1", "example.org"), 3, "/example/"},     // not under .example.org
      {client("10.0.0.1", "badexample.org"), 3, "/example/"},  // label boundary
      {client("10.0.0.1", "x.other.net"), 2, "/example|other/"},
      {client("10.0.0.1", "nomatch.net"), 1, "default"},
      {client("10.0.0.1"), 1, "default"},
      {client("192.0.2.7"), 9, "192.0.2.7"},  // address rules need no rDNS
      {client("192.0.2.9", "", RdnsStatus::forged), 8, "192.0.2.0/24"},
      {client("::ffff:192.0.2.7", "nomatch.net"), 9, "192.0.2.7"},
  };
  const auto p = ladder();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.c.address.to_string() + " " + c.c.hostname);
    const Resolution r = p->resolve(c.c, kNow);
    EXPECT_EQ(r.limits.conn_limit, c.conn_limit);
    EXPECT_EQ(who(*p, r, Attr::conn_limit), c.by);
  }
}

TEST(PolicyResolveTest, MatchedListsEveryMatchingRuleMostSpecificFirst) {
  const auto p = ladder();
  const Resolution r = p->resolve(client("192.0.2.7", "host.a.example.org"), kNow);
  EXPECT_THAT(matched(*p, r), ElementsAre("192.0.2.7", "192.0.2.0/24", "192.0.0.0/16",
                                          "host.a.example.org", ".a.example.org", ".example.org",
                                          "/example/", "/example|other/", "default"));
  const Resolution none = p->resolve(client("10.0.0.1", "nomatch.net"), kNow);
  EXPECT_THAT(matched(*p, none), ElementsAre("default"));
}

TEST(PolicyResolveTest, PatternPriorityNotListOrderDecides) {
  for (bool low_first : {true, false}) {
    SCOPED_TRACE(low_first);
    std::vector<Rule> rules = {rule("/dyn/", {{"max_rcpts", "10"}}, 5),
                               rule("/dyn[0-9]/", {{"max_rcpts", "20"}}, 1)};
    if (!low_first) std::swap(rules[0], rules[1]);
    const auto p = Policy::build(rules);
    const Resolution r = p->resolve(client("10.0.0.1", "dyn7.example.net"), kNow);
    EXPECT_EQ(r.limits.max_rcpts, 20u);
    EXPECT_EQ(who(*p, r, Attr::max_rcpts), "/dyn[0-9]/");
  }
}

TEST(PolicyResolveTest, LongestIpv6NetworkWinsAndFamiliesStayApart) {
  const auto p = Policy::build({
      rule("default", {{"conn_limit", "1"}}),
      rule("2001:db8::/32", {{"conn_limit", "2"}}),
      rule("2001:db8:1::/48", {{"conn_limit", "3"}}),
      rule("2001:db8:1:2::/64", {{"conn_limit", "4"}}),
      rule("2001:db8:1:2::7", {{"conn_limit", "5"}}),
  });
  struct Case {
    const char* ip;
    std::uint32_t conn_limit;
  };
  for (const auto& c : std::vector<Case>{{"2001:db8:1:2::7", 5},
                                         {"2001:db8:1:2::8", 4},
                                         {"2001:db8:1:3::1", 3},
                                         {"2001:db8:2::1", 2},
                                         {"2001:db9::1", 1},
                                         {"32.1.13.184", 1}}) {  // 0x20010db8 as IPv4
    SCOPED_TRACE(c.ip);
    EXPECT_EQ(p->resolve(client(c.ip), kNow).limits.conn_limit, c.conn_limit);
  }
}

TEST(PolicyResolveTest, LongestIpv4NetworkAmongSiblings) {
  const auto p = Policy::build({
      rule("10.0.0.0/8", {{"conn_limit", "8"}}),
      rule("10.1.0.0/16", {{"conn_limit", "16"}}),
      rule("10.1.2.128/25", {{"conn_limit", "25"}}),
      rule("10.1.2.0/26", {{"conn_limit", "26"}}),
  });
  struct Case {
    const char* ip;
    std::uint32_t conn_limit;
  };
  for (const auto& c : std::vector<Case>{{"10.1.2.200", 25},
                                         {"10.1.2.10", 26},
                                         {"10.1.2.100", 16},
                                         {"10.2.0.1", 8},
                                         {"11.0.0.1", 0}}) {
    SCOPED_TRACE(c.ip);
    EXPECT_EQ(p->resolve(client(c.ip), kNow).limits.conn_limit, c.conn_limit);
  }
}

TEST(PolicyResolveTest, ZeroRateLiftsOnlyTheRate) {
  const auto p = Policy::build({
      rule("default", {{"conn_rate", "5/60s"},
                       {"conn_limit", "10"},
                       {"greet_pause", "5000"},
                       {"max_rcpts", "100"},
                       {"bad_rcpt_throttle", "3"},
                       {"rcpt_rate", "200/1h"},
                       {"msg_rate", "50/1h"}}),
      rule("127.0.0.1", {{"conn_rate", "0"}}),
  });
  const Resolution r = p->resolve(client("127.0.0.1"), kNow);
  const Limits& l = r.limits;
  EXPECT_TRUE(l.conn_rate.unlimited());
  EXPECT_EQ(who(*p, r, Attr::conn_rate), "127.0.0.1");
  EXPECT_EQ(l.action, Action::limit);
  EXPECT_EQ(l.conn_limit, 10u);
  EXPECT_EQ(l.greet_pause, 5000u);
  EXPECT_EQ(l.max_rcpts, 100u);
  EXPECT_EQ(l.bad_rcpt_throttle, 3u);
  EXPECT_EQ(l.rcpt_rate, (Rate{200, 3600s}));
  EXPECT_EQ(l.msg_rate, (Rate{50, 3600s}));
  for (Attr a : {Attr::conn_limit, Attr::greet_pause, Attr::max_rcpts, Attr::bad_rcpt_throttle,
                 Attr::rcpt_rate, Attr::msg_rate}) {
    EXPECT_EQ(who(*p, r, a), "default") << info(a).name;
  }
  // Another client keeps the default rate.
  EXPECT_EQ(p->resolve(client("127.0.0.2"), kNow).limits.conn_rate, (Rate{5, 60s}));
}

TEST(PolicyResolveTest, EachAttributeFromTheMostSpecificRuleThatSetsIt) {
  const auto p = Policy::build({
      rule("default", {{"conn_rate", "5/60s"},
                       {"conn_limit", "10"},
                       {"greet_pause", "5000"},
                       {"max_rcpts", "100"},
                       {"msg_rate", "50/1h"}}),
      rule("192.0.2.0/24", {{"conn_limit", "3"}, {"action", "block"}, {"reason", "net"}}),
      rule("192.0.2.7", {{"conn_rate", "20/1m"}}),
      rule(".example.org", {{"greet_pause", "0"}}),
      rule("/^mx/", {{"max_rcpts", "500"}, {"conn_limit", "99"}}),
  });
  const Resolution r = p->resolve(client("192.0.2.7", "mx.example.org"), kNow);
  EXPECT_EQ(r.limits.conn_rate, (Rate{20, 60s}));
  EXPECT_EQ(who(*p, r, Attr::conn_rate), "192.0.2.7");
  EXPECT_EQ(r.limits.conn_limit, 3u);
  EXPECT_EQ(who(*p, r, Attr::conn_limit), "192.0.2.0/24");
  EXPECT_EQ(r.limits.action, Action::block);
  EXPECT_EQ(who(*p, r, Attr::action), "192.0.2.0/24");
  EXPECT_EQ(r.limits.reason, "net");
  EXPECT_EQ(r.limits.greet_pause, 0u);
  EXPECT_EQ(who(*p, r, Attr::greet_pause), ".example.org");
  EXPECT_EQ(r.limits.max_rcpts, 500u);
  EXPECT_EQ(who(*p, r, Attr::max_rcpts), "/^mx/");
  EXPECT_EQ(r.limits.msg_rate, (Rate{50, 3600s}));
  EXPECT_EQ(who(*p, r, Attr::msg_rate), "default");
  EXPECT_FALSE(r.limits.monitor_only);
}

TEST(PolicyResolveTest, AllowDecidesTheActionAndBeatsTheHeuristics) {
  const auto p = Policy::build({
      rule("default", {{"conn_limit", "10"}, {"dialin", "block"}, {"missing_rdns", "block"}}),
      rule("192.0.2.7", {{"action", "allow"}}),
  });
  for (const Client& c : {client("192.0.2.7"), client("192.0.2.7", "192-0-2-7.dynamic.example.net"),
                          client("192.0.2.7", "x.example.net", RdnsStatus::forged)}) {
    SCOPED_TRACE(c.hostname);
    const Resolution r = p->resolve(c, kNow);
    EXPECT_EQ(r.limits.action, Action::allow);
    EXPECT_EQ(who(*p, r, Attr::action), "192.0.2.7");
    EXPECT_FALSE(r.limits.monitor_only);
  }
}

// "action allow lifts everything": the effective limits of an allowed client
// are all off, whatever the default rule says.
TEST(PolicyResolveTest, AllowLiftsEveryLimit) {
  const auto p = Policy::build({
      rule("default", {{"conn_rate", "5/60s"},
                       {"conn_limit", "10"},
                       {"greet_pause", "5000"},
                       {"max_rcpts", "100"},
                       {"bad_rcpt_throttle", "3"},
                       {"rcpt_rate", "200/1h"},
                       {"msg_rate", "50/1h"}}),
      rule("192.0.2.0/24", {{"action", "allow"}}),
  });
  const Limits l = p->resolve(client("192.0.2.7"), kNow).limits;
  EXPECT_EQ(l.action, Action::allow);
  EXPECT_TRUE(l.conn_rate.unlimited());
  EXPECT_EQ(l.conn_limit, 0u);
  EXPECT_EQ(l.greet_pause, 0u);
  EXPECT_EQ(l.max_rcpts, 0u);
  EXPECT_EQ(l.bad_rcpt_throttle, 0u);
  EXPECT_TRUE(l.rcpt_rate.unlimited());
  EXPECT_TRUE(l.msg_rate.unlimited());
}

TEST(PolicyResolveTest, ReasonComesWithTheDecidingRule) {
  const auto p = Policy::build({
      rule("default", {{"conn_limit", "10"}}),
      rule(".adsl.example.de", {{"action", "block"}, {"reason", "Relay via your ISP"}}),
  });
  const Resolution r = p->resolve(client("10.0.0.1", "x1.adsl.example.de"), kNow);
  EXPECT_EQ(r.limits.action, Action::block);
  EXPECT_EQ(r.limits.reason, "Relay via your ISP");
  EXPECT_EQ(who(*p, r, Attr::action), ".adsl.example.de");
  EXPECT_EQ(who(*p, r, Attr::reason), ".adsl.example.de");
}

TEST(PolicyResolveTest, ExpiredRulesNeverMatch) {
  std::vector<Rule> rules = {
      rule("default", {{"conn_limit", "1"}, {"missing_rdns", "block"}}),
      rule("192.0.2.7", {{"conn_limit", "9"}, {"action", "limit"}}),
      rule("192.0.2.0/24", {{"conn_limit", "8"}}),
      rule(".example.org", {{"max_rcpts", "4"}}),
      rule("/^x/", {{"greet_pause", "3"}}),
  };
  rules[1].expires = kNow;
  rules[2].expires = kNow + 1s;
  rules[3].expires = kNow;
  rules[4].expires = kNow - 24h;
  const auto p = Policy::build(rules);

  const Resolution before = p->resolve(client("192.0.2.7", "x.example.org"), kNow - 1s);
  EXPECT_EQ(before.limits.conn_limit, 9u);
  EXPECT_EQ(before.limits.max_rcpts, 4u);
  EXPECT_EQ(before.limits.greet_pause, 0u);  // the pattern rule expired a day ago

  const Resolution at = p->resolve(client("192.0.2.7", "x.example.org"), kNow);
  EXPECT_EQ(at.limits.conn_limit, 8u);
  EXPECT_EQ(at.limits.max_rcpts, 0u);
  EXPECT_THAT(matched(*p, at), ElementsAre("192.0.2.0/24", "default"));

  const Resolution after = p->resolve(client("192.0.2.7", "x.example.org"), kNow + 1s);
  EXPECT_EQ(after.limits.conn_limit, 1u);
  EXPECT_THAT(matched(*p, after), ElementsAre("default"));

  // An expired `action` no longer exempts the client from missing_rdns.
  EXPECT_EQ(p->resolve(client("192.0.2.7"), kNow - 1s).limits.action, Action::limit);
  EXPECT_EQ(p->resolve(client("192.0.2.7"), kNow).limits.action, Action::block);
}

TEST(PolicyResolveTest, NameRulesNeedVerifiedRdns) {
  const auto p = Policy::build({
      rule("mx.example.org", {{"conn_limit", "6"}}),
      rule(".example.org", {{"max_rcpts", "4"}}),
      rule("/^mx\\./", {{"greet_pause", "3"}}),
  });
  for (RdnsStatus s : {RdnsStatus::fail, RdnsStatus::forged, RdnsStatus::tempfail}) {
    SCOPED_TRACE(to_string(s));
    const Resolution r = p->resolve(client("10.0.0.1", "mx.example.org", s), kNow);
    EXPECT_EQ(r.limits.conn_limit, 0u);
    EXPECT_EQ(r.limits.max_rcpts, 0u);
    EXPECT_EQ(r.limits.greet_pause, 0u);
    EXPECT_THAT(matched(*p, r), ElementsAre("default"));
  }
  const Resolution ok = p->resolve(client("10.0.0.1", "mx.example.org", RdnsStatus::ok), kNow);
  EXPECT_EQ(ok.limits.conn_limit, 6u);
  EXPECT_EQ(ok.limits.max_rcpts, 4u);
  EXPECT_EQ(ok.limits.greet_pause, 3u);
}

TEST(PolicyResolveTest, PatternConjunctionsAndCaseInsensitivity) {
  const auto p = Policy::build({
      rule("/dyn/ && !/static/", {{"conn_limit", "2"}}),
      rule("/^CABLE-/", {{"max_rcpts", "7"}}),
  });
  EXPECT_EQ(p->resolve(client("10.0.0.1", "dyn1.example.net"), kNow).limits.conn_limit, 2u);
  EXPECT_EQ(p->resolve(client("10.0.0.1", "dyn1.static.example.net"), kNow).limits.conn_limit, 0u);
  EXPECT_EQ(p->resolve(client("10.0.0.1", "cable-1.example.net"), kNow).limits.max_rcpts, 7u);
  EXPECT_EQ(p->resolve(client("10.0.0.1", "x.cable-1.example.net"), kNow).limits.max_rcpts, 0u);
}

TEST(PolicyResolveTest, MissingRdnsModes) {
  struct Case {
    const char* mode;
    Action action;
    bool monitor_only;
  };
  for (const auto& c : std::vector<Case>{{"off", Action::limit, false},
                                         {"block", Action::block, false},
                                         {"tempfail", Action::tempfail, false}}) {
    SCOPED_TRACE(c.mode);
    const auto p = Policy::build({rule("default", {{"missing_rdns", c.mode}})});
    for (const Client& cl : {client("192.0.2.7"), client("192.0.2.7", "", RdnsStatus::fail),
                             client("192.0.2.7", "x.example.org", RdnsStatus::forged)}) {
      const Resolution r = p->resolve(cl, kNow);
      EXPECT_EQ(r.limits.action, c.action);
      EXPECT_EQ(r.limits.monitor_only, c.monitor_only);
      EXPECT_EQ(to_string(r.limits.missing_rdns), c.mode);
    }
    // A verified name is not missing.
    EXPECT_EQ(p->resolve(client("192.0.2.7", "mx.example.org"), kNow).limits.action, Action::limit);
  }
}

// A DNS timeout ({client_resolve} TEMP) proves nothing about the client: it
// must never earn a permanent refusal.
TEST(PolicyResolveTest, DnsTimeoutIsNeverAPermanentRefusal) {
  const auto p = Policy::build({rule("default", {{"missing_rdns", "block"}})});
  for (const Client& c : {client("192.0.2.7", "", RdnsStatus::tempfail),
                          client("192.0.2.7", "x.example.org", RdnsStatus::tempfail)}) {
    EXPECT_NE(p->resolve(c, kNow).limits.action, Action::block);
  }
}

TEST(PolicyResolveTest, MissingRdnsMonitorOnlyLogs) {
  const auto p = Policy::build({rule("default", {{"missing_rdns", "monitor"}})});
  const Resolution r = p->resolve(client("192.0.2.7"), kNow);
  EXPECT_TRUE(r.limits.monitor_only);
  EXPECT_THAT(r.limits.action, AnyOf(Action::block, Action::tempfail));
  EXPECT_EQ(r.limits.missing_rdns, MissingRdnsMode::monitor);
}

TEST(PolicyResolveTest, ExplicitActionExemptsFromMissingRdns) {
  struct Case {
    Rule specific;
    Action action;
    std::string by;
  };
  const std::vector<Case> cases = {
      {rule("192.0.2.7", {{"action", "limit"}}), Action::limit, "192.0.2.7"},
      {rule("192.0.2.0/24", {{"action", "limit"}}), Action::limit, "192.0.2.0/24"},
      {rule("192.0.2.0/24", {{"action", "tempfail"}}), Action::tempfail, "192.0.2.0/24"},
      // No action on the specific rule: the heuristic still applies.
      {rule("192.0.2.7", {{"conn_limit", "5"}}), Action::block, "<heuristic>"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.specific.selector.text());
    // The default's own action=limit is not "more specific": it exempts nobody.
    const auto p = Policy::build(
        {rule("default", {{"missing_rdns", "block"}, {"action", "limit"}}), c.specific});
    const Resolution r = p->resolve(client("192.0.2.7"), kNow);
    EXPECT_EQ(r.limits.action, c.action);
    EXPECT_FALSE(r.limits.monitor_only);
    if (c.by != "<heuristic>") {
      EXPECT_EQ(who(*p, r, Attr::action), c.by);
    }
  }
}

constexpr const char* kDynamicName = "192-0-2-7.dynamic.example.net";

TEST(PolicyResolveTest, DialinHeuristicBlocksFromTheDefault) {
  const auto p = Policy::build({rule("default", {{"dialin", "block"}})});
  const Resolution r = p->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(r.limits.action, Action::block);
  EXPECT_FALSE(r.limits.monitor_only);
  EXPECT_TRUE(r.dialin_hit.has_value());
  EXPECT_EQ(r.source(Attr::action).kind, Source::Kind::heuristic);
  EXPECT_EQ(r.limits.dialin, ModeSetting::block);

  EXPECT_FALSE(r.limits.reason.empty());  // DESIGN: a default text (relay via your ISP)

  // A plain static name is not dial-in.
  const Resolution mx = p->resolve(client("192.0.2.8", "mx1.example.org"), kNow);
  EXPECT_EQ(mx.limits.action, Action::limit);
  EXPECT_FALSE(mx.dialin_hit.has_value());
}

// DESIGN "Replies": dial-in blocks answer "550 5.7.1 + rule reason (default:
// relay via your ISP)". The rule that selects the heuristic is the default
// rule, so its reason, when set, is the one the client sees.
TEST(PolicyResolveTest, DialinBlockUsesTheDefaultRulesReason) {
  const auto p = Policy::build(
      {rule("default", {{"dialin", "block"}, {"reason", "See https://example.org/relay"}})});
  const Resolution r = p->resolve(client("192.0.2.7", kDynamicName), kNow);
  ASSERT_EQ(r.limits.action, Action::block);
  EXPECT_EQ(r.limits.reason, "See https://example.org/relay");
}

TEST(PolicyResolveTest, DialinMonitorAndOff) {
  const auto mon = Policy::build({rule("default", {{"dialin", "monitor"}})});
  const Resolution rm = mon->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(rm.limits.action, Action::block);
  EXPECT_TRUE(rm.limits.monitor_only);

  const auto off = Policy::build({rule("default", {{"dialin", "off"}})});
  const Resolution ro = off->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(ro.limits.action, Action::limit);
  EXPECT_FALSE(ro.limits.monitor_only);
}

constexpr const char* kHostingName = "ec2-192-0-2-9.compute-1.amazonaws.com";

// generic_hosting acts on the hosting outcome of classify_rdns() alone, and
// dialin no longer on hosting names.
TEST(PolicyResolveTest, GenericHostingBlocksHostingNamesOnly) {
  const auto p = Policy::build({rule("default", {{"generic_hosting", "block"}})});
  const Resolution r = p->resolve(client("192.0.2.9", kHostingName), kNow);
  EXPECT_EQ(r.limits.action, Action::block);
  EXPECT_FALSE(r.limits.monitor_only);
  ASSERT_TRUE(r.generic_hosting_hit.has_value());
  EXPECT_EQ(r.generic_hosting_hit->kind, RdnsClass::hosting);
  EXPECT_FALSE(r.dialin_hit.has_value());
  EXPECT_EQ(r.source(Attr::action).kind, Source::Kind::heuristic);
  EXPECT_THAT(r.detail, HasSubstr("generic_hosting ipv4-dashed"));
  EXPECT_FALSE(r.limits.reason.empty());
  EXPECT_EQ(check_action(r, *p).kind, DecisionKind::generic_hosting);

  // A dynamic name is not generic_hosting's business.
  const Resolution dyn = p->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(dyn.limits.action, Action::limit);
  EXPECT_FALSE(dyn.generic_hosting_hit.has_value());
}

TEST(PolicyResolveTest, DialinLeavesHostingNamesAlone) {
  const auto p = Policy::build({rule("default", {{"dialin", "block"}})});
  const Resolution r = p->resolve(client("192.0.2.9", kHostingName), kNow);
  EXPECT_EQ(r.limits.action, Action::limit);
  EXPECT_FALSE(r.dialin_hit.has_value());
  EXPECT_FALSE(r.generic_hosting_hit.has_value());
  EXPECT_EQ(r.limits.generic_hosting, ModeSetting::off);  // the default
  EXPECT_EQ(check_action(p->resolve(client("192.0.2.7", kDynamicName), kNow), *p).kind,
            DecisionKind::dialin);
}

TEST(PolicyResolveTest, GenericHostingMonitorAndBothOn) {
  const auto mon = Policy::build({rule("default", {{"generic_hosting", "monitor"}})});
  const Resolution rm = mon->resolve(client("192.0.2.9", kHostingName), kNow);
  EXPECT_EQ(rm.limits.action, Action::block);
  EXPECT_TRUE(rm.limits.monitor_only);

  const auto both =
      Policy::build({rule("default", {{"dialin", "block"}, {"generic_hosting", "monitor"}})});
  const Resolution rd = both->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_TRUE(rd.dialin_hit.has_value());
  EXPECT_FALSE(rd.limits.monitor_only);
  const Resolution rh = both->resolve(client("192.0.2.9", kHostingName), kNow);
  EXPECT_TRUE(rh.generic_hosting_hit.has_value());
  EXPECT_TRUE(rh.limits.monitor_only);
}

TEST(PolicyResolveTest, GenericHostingOnlyOnTheDefaultRule) {
  EXPECT_THROW(
      Policy::build({rule("default", {}), rule("192.0.2.0/24", {{"generic_hosting", "block"}})}),
      PolicyError);
}

TEST(PolicyResolveTest, ExplicitLimitOnASuffixExemptsFromDialin) {
  const auto p = Policy::build({
      rule("default", {{"dialin", "block"}}),
      rule(".example.net", {{"action", "limit"}}),
  });
  const Resolution r = p->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(r.limits.action, Action::limit);
  EXPECT_EQ(who(*p, r, Attr::action), ".example.net");
  EXPECT_FALSE(r.limits.monitor_only);

  // A suffix rule that sets something else does not exempt.
  const auto q = Policy::build({
      rule("default", {{"dialin", "block"}}),
      rule(".example.net", {{"max_rcpts", "5"}}),
  });
  EXPECT_EQ(q->resolve(client("192.0.2.7", kDynamicName), kNow).limits.action, Action::block);
}

TEST(PolicyResolveTest, ExplicitBlockRuleIsNotMonitorOnly) {
  const auto p = Policy::build({
      rule("default", {{"dialin", "monitor"}, {"missing_rdns", "monitor"}}),
      rule(".example.net", {{"action", "block"}, {"reason", "no dial-in"}}),
  });
  const Resolution r = p->resolve(client("192.0.2.7", kDynamicName), kNow);
  EXPECT_EQ(r.limits.action, Action::block);
  EXPECT_FALSE(r.limits.monitor_only);
  EXPECT_EQ(r.limits.reason, "no dial-in");
}

TEST(PolicyResolveTest, ClientKeys) {
  const auto p = Policy::build({});
  EXPECT_EQ(p->resolve(client("192.0.2.7"), kNow).key, IpNetwork::parse("192.0.2.7/32"));
  EXPECT_EQ(p->resolve(client("2001:db8:1:2:3:4:5:6"), kNow).key,
            IpNetwork::parse("2001:db8:1:2::/64"));
  EXPECT_EQ(p->resolve(client("::ffff:192.0.2.7"), kNow).key, IpNetwork::parse("192.0.2.7"));

  PolicyOptions o;
  o.keyer = ClientKeyer{24, 48};
  const auto q = Policy::build({}, o);
  EXPECT_EQ(q->options().keyer.v4_prefix, 24u);
  EXPECT_EQ(q->resolve(client("192.0.2.7"), kNow).key, IpNetwork::parse("192.0.2.0/24"));
  EXPECT_EQ(q->resolve(client("2001:db8:1:2:3:4:5:6"), kNow).key,
            IpNetwork::parse("2001:db8:1::/48"));
}

TEST(PolicyBuildTest, RefusesAnInvalidKeyer) {
  PolicyOptions o;
  o.keyer = ClientKeyer{33, 64};
  EXPECT_THROW(Policy::build({}, o), PolicyError);
  o.keyer = ClientKeyer{32, 8};
  EXPECT_THROW(Policy::build({}, o), PolicyError);
}

TEST(PolicyBuildTest, WithoutDefaultGetsAnEmptyOne) {
  const auto p = Policy::build({rule("192.0.2.7", {{"conn_limit", "5"}})});
  EXPECT_EQ(p->rules().size(), 2u);
  EXPECT_EQ(p->default_rule().selector.kind(), Selector::Kind::default_rule);
  EXPECT_TRUE(p->default_rule().attrs.empty());
  const Resolution r = p->resolve(client("10.0.0.1"), kNow);
  const Limits none;
  EXPECT_EQ(r.limits.action, none.action);
  EXPECT_EQ(r.limits.conn_rate, none.conn_rate);
  EXPECT_EQ(r.limits.conn_limit, 0u);
  EXPECT_EQ(r.limits.greet_pause, 0u);
  EXPECT_EQ(r.limits.max_rcpts, 0u);
  EXPECT_EQ(r.limits.dialin, ModeSetting::off);
  EXPECT_EQ(r.limits.missing_rdns, MissingRdnsMode::off);
  EXPECT_THAT(matched(*p, r), ElementsAre("default"));

  const auto empty = Policy::build({});
  ASSERT_EQ(empty->rules().size(), 1u);
  EXPECT_TRUE(empty->default_rule().selector == Selector::for_default());
}

TEST(PolicyBuildTest, KeepsTheGivenRules) {
  const std::vector<Rule> given = {rule("default", {{"conn_limit", "10"}}),
                                   rule(".example.org", {{"action", "block"}}),
                                   rule("/dyn/", {{"max_rcpts", "1"}}, 7)};
  const auto p = Policy::build(given);
  ASSERT_EQ(p->rules().size(), given.size());
  for (const Rule& r : given) {
    EXPECT_NE(std::find(p->rules().begin(), p->rules().end(), r), p->rules().end())
        << r.selector.text();
  }
  EXPECT_EQ(p->default_rule().attrs.conn_limit, 10u);
}

TEST(PolicyBuildTest, RefusesDuplicateSelectorsNamingThem) {
  struct Case {
    const char* a;
    const char* b;
    const char* canonical;
  };
  for (const auto& c : std::vector<Case>{{"192.0.2.7", "192.0.2.7/32", "192.0.2.7"},
                                         {".example.org", ".EXAMPLE.org.", ".example.org"},
                                         {"mx.example.org", "MX.example.org", "mx.example.org"},
                                         {"2001:db8::/32", "2001:0db8::/32", "2001:db8::/32"},
                                         {"/dyn/", "/dyn/", "/dyn/"},
                                         {"default", "default", "default"}}) {
    SCOPED_TRACE(c.b);
    const std::vector<Rule> rules = {rule(c.a, {{"max_rcpts", "1"}}),
                                     rule(c.b, {{"max_rcpts", "2"}})};
    EXPECT_THAT(policy_error_of([&] { Policy::build(rules); }), HasSubstr(c.canonical));
  }
}

TEST(PolicyBuildTest, RefusesInvalidRulesNamingThem) {
  const std::vector<std::vector<Rule>> cases = {
      {rule("default", {{"conn_limit", "1"}}), rule("mx.example.org", {{"dialin", "block"}})},
      {rule("mx.example.org", {})},
      {rule("192.0.2.7", {{"conn_limit", "1"}}), rule("mx.example.org", {{"missing_rdns", "off"}})},
  };
  for (const auto& rules : cases) {
    const std::string what = policy_error_of([&] { Policy::build(rules); });
    EXPECT_THAT(what, HasSubstr("mx.example.org"));
    EXPECT_THAT(what, HasSubstr("rule"));
  }
  Rule commented = rule("192.0.2.7", {{"conn_limit", "1"}});
  commented.comment = "bad\ncomment";
  EXPECT_THAT(policy_error_of([&] { Policy::build({commented}); }), HasSubstr("192.0.2.7"));
}

// Attributes filled in directly (as a loader might) bypass Attributes::set;
// build() still refuses values that could break a reply or exceed a bound.
TEST(PolicyBuildTest, RefusesUncheckedValuesSetDirectly) {
  Rule reason = rule("192.0.2.7", {{"action", "block"}});
  reason.attrs.reason = "bad\r\n250 ok";
  EXPECT_THROW(Policy::build({reason}), PolicyError);

  Rule pause = rule("192.0.2.8", {{"conn_limit", "1"}});
  pause.attrs.greet_pause = kMaxGreetPauseMs + 1;
  EXPECT_THROW(Policy::build({pause}), PolicyError);
}

TEST(PolicyResolveTest, HostileHostnamesNeverThrow) {
  const auto p = Policy::build({
      rule("default", {{"conn_limit", "1"}, {"dialin", "block"}}),
      rule(".example.org", {{"conn_limit", "4"}}),
      rule("mx.example.org", {{"conn_limit", "6"}}),
      rule("/^dsl-[0-9-]+\\./", {{"conn_limit", "3"}}),
  });
  const std::vector<std::string> names = {
      "[192.0.2.7]",
      std::string("mx.example.org\0evil", 19),
      std::string(100'000, 'a'),
      std::string(100'000, '.'),
      "..example.org",
      ".example.org",
      "\xff\xfe\xfd",
      "mx.example.org.",
      "\n\r\t",
      std::string(300, 'a') + ".example.org",
  };
  for (const std::string& name : names) {
    SCOPED_TRACE(PrintToString(name.substr(0, 40)));
    for (RdnsStatus s : {RdnsStatus::ok, RdnsStatus::forged}) {
      EXPECT_NO_THROW({
        const Resolution r = p->resolve(client("192.0.2.7", name, s), kNow);
        EXPECT_GE(r.limits.conn_limit, 1u);
      });
    }
  }
}

TEST(PolicyResolveTest, ConcurrentResolveOnOneSnapshotAgrees) {
  const std::shared_ptr<const Policy> p = Policy::build({
      rule("default", {{"conn_limit", "1"}, {"dialin", "block"}, {"missing_rdns", "monitor"}}),
      rule("192.0.2.7", {{"conn_rate", "0"}}),
      rule("192.0.2.0/24", {{"conn_limit", "8"}}),
      rule("2001:db8::/32", {{"conn_limit", "32"}}),
      rule("mx.example.org", {{"action", "allow"}}),
      rule(".adsl.example.de", {{"action", "block"}, {"reason", "isp"}}),
      rule("/^dsl-[0-9-]+\\./", {{"action", "tempfail"}}, 1),
      rule("/cable/ && !/static/", {{"max_rcpts", "5"}}, 2),
  });
  const std::vector<Client> clients = {
      client("192.0.2.7", "mx.example.org"),
      client("192.0.2.9"),
      client("10.0.0.1", "x.adsl.example.de"),
      client("10.0.0.2", "dsl-1-2-3.example.net"),
      client("10.0.0.3", "cable7.example.net"),
      client("10.0.0.4", "cable7.static.example.net"),
      client("2001:db8::1", "", RdnsStatus::forged),
      client("198.51.100.7", "198-51-100-7.dynamic.example.net"),
  };
  std::vector<Resolution> expected;
  for (const Client& c : clients) expected.push_back(p->resolve(c, kNow));

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::size_t k = static_cast<std::size_t>(i + t) % clients.size();
        const Resolution r = p->resolve(clients[k], kNow);
        const Resolution& e = expected[k];
        if (r.limits.action != e.limits.action || r.limits.conn_limit != e.limits.conn_limit ||
            r.limits.max_rcpts != e.limits.max_rcpts || r.matched != e.matched || r.key != e.key ||
            r.limits.reason != e.limits.reason || r.limits.monitor_only != e.limits.monitor_only) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  // The fixture is meaningful: several different outcomes occurred.
  EXPECT_EQ(expected[0].limits.action, Action::allow);
  EXPECT_EQ(expected[2].limits.action, Action::block);
  EXPECT_EQ(expected[3].limits.action, Action::tempfail);
  EXPECT_EQ(expected[4].limits.max_rcpts, 5u);
  EXPECT_EQ(expected[5].limits.max_rcpts, 0u);
}

TEST(RdnsStatusTest, ParsesMacroValues) {
  EXPECT_EQ(parse_rdns_status("OK"), RdnsStatus::ok);
  EXPECT_EQ(parse_rdns_status("ok"), RdnsStatus::ok);
  EXPECT_EQ(parse_rdns_status("FAIL"), RdnsStatus::fail);
  EXPECT_EQ(parse_rdns_status("FORGED"), RdnsStatus::forged);
  EXPECT_EQ(parse_rdns_status("TEMP"), RdnsStatus::tempfail);
  EXPECT_EQ(parse_rdns_status("temp"), RdnsStatus::tempfail);
  for (const char* bad : {"", "OKAY", " OK", "OK ", "maybe"}) {
    SCOPED_TRACE(bad);
    EXPECT_THROW(parse_rdns_status(bad), PolicyError);
  }
}

// A reload that leaves the pattern rules alone must not recompile them, and
// one that changes them must.
TEST(PolicyBuildTest, ReusesCompiledPatternsOnlyWhenUnchanged) {
  auto rule = [](std::string_view sel, std::string_view attr, std::string_view value) {
    Rule r;
    r.selector = Selector::parse(sel);
    r.attrs.set(attr, value);
    return r;
  };
  std::vector<Rule> base{rule("/^dsl-/", "action", "block"), rule("/cable/", "action", "block")};
  base[1].priority = 2;
  auto p1 = Policy::build(base);

  auto more = base;
  more.push_back(rule("192.0.2.7", "conn_rate", "0"));
  auto p2 = Policy::build(more, {}, p1.get());
  EXPECT_EQ(&p1->patterns(), &p2->patterns());

  auto changed = base;
  changed[1].selector = Selector::parse("/^cm-/");
  auto p3 = Policy::build(changed, {}, p2.get());
  EXPECT_NE(&p2->patterns(), &p3->patterns());

  Client c;
  c.address = IpAddress::parse("198.51.100.1");
  c.hostname = "cm-1.example.net";
  c.resolve = RdnsStatus::ok;
  EXPECT_EQ(p2->resolve(c, UnixTime{}).limits.action, Action::limit);
  EXPECT_EQ(p3->resolve(c, UnixTime{}).limits.action, Action::block);

  auto reordered = base;
  reordered[0].priority = 3;  // same regexes, other order: not the same matcher input
  auto p4 = Policy::build(reordered, {}, p1.get());
  EXPECT_NE(&p1->patterns(), &p4->patterns());
}

}  // namespace
}  // namespace harden::policy
