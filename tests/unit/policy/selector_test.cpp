// selector_test.cpp - Selector parsing, canonical text and host-name checks
// against selector.hpp.
//
// Every form of the SYNOPSIS parses to its kind and prints back as written;
// equivalent spellings meet in one canonical selector; each bad selector is
// refused with one line naming the bad part.
#include "harden/policy/selector.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "harden/policy/error.hpp"
#include "test_support.hpp"

namespace harden::policy {

// Failure output: "host mx.example.org" instead of the object's bytes. Only
// this file prints Selectors with gtest, so the definition is unique.
inline void PrintTo(const Selector& s, std::ostream* os) {
  *os << s.kind_name() << " " << s.text();
}

namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::PrintToString;

using Kind = Selector::Kind;

struct FormCase {
  std::string text;
  Kind kind;
  std::string_view kind_name;
};

// The SYNOPSIS of selector.hpp, one line each: canonical already.
std::vector<FormCase> synopsis_forms() {
  return {
      {"default", Kind::default_rule, "default"},
      {"192.0.2.7", Kind::address, "address"},
      {"2001:db8::7", Kind::address, "address"},
      {"192.0.2.0/24", Kind::network, "network"},
      {"2001:db8::/48", Kind::network, "network"},
      {"mx.example.org", Kind::host, "host"},
      {".adsl.alicedsl.de", Kind::suffix, "suffix"},
      {"/^dsl-[0-9-]+\\./", Kind::pattern, "pattern"},
      {"/cable|dsl/ && /^cm[0-9]+\\./", Kind::pattern, "pattern"},
      {"!/static/ && /dyn/", Kind::pattern, "pattern"},
  };
}

TEST(SelectorTest, EverySynopsisFormParsesAndPrintsBack) {
  for (const auto& c : synopsis_forms()) {
    SCOPED_TRACE(c.text);
    const Selector s = Selector::parse(c.text);
    EXPECT_EQ(s.kind(), c.kind);
    EXPECT_EQ(s.kind_name(), c.kind_name);
    EXPECT_EQ(s.text(), c.text);
    EXPECT_EQ(Selector::parse(s.text()), s);
  }
}

TEST(SelectorTest, DefaultIsTheDefaultConstructed) {
  EXPECT_EQ(Selector::parse("default"), Selector{});
  EXPECT_EQ(Selector::for_default(), Selector{});
  EXPECT_EQ(Selector{}.kind(), Kind::default_rule);
}

TEST(SelectorTest, AddressAndNetworkCarryTheNetwork) {
  EXPECT_EQ(Selector::parse("192.0.2.7").network(), IpNetwork::parse("192.0.2.7/32"));
  EXPECT_EQ(Selector::parse("2001:db8::7").network(), IpNetwork::parse("2001:db8::7/128"));
  EXPECT_EQ(Selector::parse("192.0.2.0/24").network(), IpNetwork::parse("192.0.2.0/24"));
}

TEST(SelectorTest, HostAndSuffixCarryTheName) {
  EXPECT_EQ(Selector::parse("mx.example.org").name(), "mx.example.org");
  EXPECT_EQ(Selector::parse(".adsl.alicedsl.de").name(), ".adsl.alicedsl.de");
}

TEST(SelectorTest, PatternCarriesTheTermsAsWritten) {
  const Selector one = Selector::parse("/^dsl-[0-9-]+\\./");
  EXPECT_EQ(one.terms(), (std::vector<PatternTerm>{{"^dsl-[0-9-]+\\.", false}}));

  const Selector two = Selector::parse("/cable|dsl/ && /^cm[0-9]+\\./");
  EXPECT_EQ(two.terms(), (std::vector<PatternTerm>{{"cable|dsl", false}, {"^cm[0-9]+\\.", false}}));

  const Selector neg = Selector::parse("!/static/ && /dyn/");
  EXPECT_EQ(neg.terms(), (std::vector<PatternTerm>{{"static", true}, {"dyn", false}}));

  // Case is kept in the regex; matching is case-insensitive, not the text.
  EXPECT_EQ(Selector::parse("/DSL/").terms(), (std::vector<PatternTerm>{{"DSL", false}}));
}

TEST(SelectorTest, SlashesAndAmpersandsInsideARegex) {
  struct Case {
    std::string text;
    std::vector<PatternTerm> terms;
  };
  const std::vector<Case> cases = {
      {R"(/a\/b/)", {{R"(a\/b)", false}}},  // escaped delimiter
      {R"(/a\\/)", {{R"(a\\)", false}}},    // escaped backslash, then the end
      {"/a && b/", {{"a && b", false}}},    // " && " inside one term
      {"/x/ && !/a && b/", {{"x", false}, {"a && b", true}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const Selector s = Selector::parse(c.text);
    EXPECT_EQ(s.kind(), Kind::pattern);
    EXPECT_EQ(s.terms(), c.terms);
    EXPECT_EQ(Selector::parse(s.text()), s);
  }
}

TEST(SelectorTest, EquivalentSpellingsMeetInOneCanonicalSelector) {
  struct Case {
    const char* input;
    const char* canonical;
    Kind kind;
  };
  const std::vector<Case> cases = {
      {"MX.Example.ORG", "mx.example.org", Kind::host},
      {"mx.example.org.", "mx.example.org", Kind::host},
      {"MX.Example.ORG.", "mx.example.org", Kind::host},
      {".ADSL.AliceDSL.de", ".adsl.alicedsl.de", Kind::suffix},
      {".adsl.alicedsl.de.", ".adsl.alicedsl.de", Kind::suffix},
      {"192.0.2.7/32", "192.0.2.7", Kind::address},
      {"2001:DB8::7", "2001:db8::7", Kind::address},
      {"2001:db8::7/128", "2001:db8::7", Kind::address},
      {"2001:0db8:0:0::/48", "2001:db8::/48", Kind::network},
      {"::ffff:192.0.2.7", "192.0.2.7", Kind::address},
      {"IPv6:2001:db8::7", "2001:db8::7", Kind::address},
      {"1e100.net", "1e100.net", Kind::host},  // digits first, still a name
      {".1E100.net", ".1e100.net", Kind::suffix},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    const Selector s = Selector::parse(c.input);
    EXPECT_EQ(s.kind(), c.kind);
    EXPECT_EQ(s.text(), c.canonical);
    EXPECT_EQ(s, Selector::parse(c.canonical));
    EXPECT_EQ(Selector::parse(s.text()), s);
  }
}

TEST(SelectorTest, DifferentSelectorsDiffer) {
  EXPECT_NE(Selector::parse("mx.example.org"), Selector::parse(".mx.example.org"));
  EXPECT_NE(Selector::parse("192.0.2.0/24"), Selector::parse("192.0.2.0/25"));
  EXPECT_NE(Selector::parse("/a/ && /b/"), Selector::parse("/b/ && /a/"));
  EXPECT_NE(Selector::parse("/a/ && /b/"), Selector::parse("/a/ && !/b/"));
}

TEST(SelectorTest, FactoriesEqualParse) {
  EXPECT_EQ(Selector::for_network(IpNetwork::parse("192.0.2.7/32")), Selector::parse("192.0.2.7"));
  EXPECT_EQ(Selector::for_network(IpNetwork::parse("192.0.2.7/32")).kind(), Kind::address);
  EXPECT_EQ(Selector::for_network(IpNetwork::parse("192.0.2.0/24")),
            Selector::parse("192.0.2.0/24"));
  EXPECT_EQ(Selector::for_host("MX.Example.Org."), Selector::parse("mx.example.org"));
  EXPECT_EQ(Selector::for_host("MX.Example.Org.").name(), "mx.example.org");
  EXPECT_EQ(Selector::for_suffix("example.org"), Selector::parse(".example.org"));
  EXPECT_EQ(Selector::for_suffix(".Example.Org."), Selector::parse(".example.org"));
  EXPECT_EQ(Selector::for_suffix("example.org").name(), ".example.org");
  EXPECT_EQ(Selector::for_pattern({{"dyn", false}}), Selector::parse("/dyn/"));
  EXPECT_EQ(Selector::for_pattern({{"static", true}, {"dyn", false}}),
            Selector::parse("!/static/ && /dyn/"));
}

// Whatever a spelling of the keyword parses to, it must survive a round trip:
// a host rule named "default" would print as the default rule.
TEST(SelectorTest, KeywordLookalikesRoundTripOrAreRefused) {
  for (const char* text : {"DEFAULT", "Default", "default."}) {
    SCOPED_TRACE(text);
    std::optional<Selector> s;
    try {
      s = Selector::parse(text);
    } catch (const PolicyError&) {
      continue;  // refusing it is fine too
    }
    EXPECT_EQ(Selector::parse(s->text()), *s);
  }
}

// An imported regex may contain '/' (Postfix pcre allows other delimiters):
// for_pattern() must refuse it or print it so that it parses back.
TEST(SelectorTest, FactoryPatternsRoundTripOrAreRefused) {
  for (const std::vector<PatternTerm>& terms :
       std::vector<std::vector<PatternTerm>>{{{"a/b", false}},
                                             {{"^http://", false}},
                                             {{"x", false}, {"/", true}},
                                             {{"a && b", false}}}) {
    SCOPED_TRACE(terms.front().regex);
    std::optional<Selector> s;
    try {
      s = Selector::for_pattern(terms);
    } catch (const PolicyError&) {
      continue;  // refusing it is fine too
    }
    try {
      EXPECT_EQ(Selector::parse(s->text()), *s);
    } catch (const PolicyError& e) {
      ADD_FAILURE() << "text " << s->text() << " does not parse back: " << e.what();
    }
  }
}

TEST(SelectorTest, FactoriesValidate) {
  EXPECT_THROW(Selector::for_host(""), PolicyError);
  EXPECT_THROW(Selector::for_host("a..b"), PolicyError);
  EXPECT_THROW(Selector::for_suffix(""), PolicyError);
  EXPECT_THROW(Selector::for_suffix("."), PolicyError);
  EXPECT_THROW(Selector::for_suffix("..example.org"), PolicyError);
  EXPECT_THROW(Selector::for_pattern({}), PolicyError);
  EXPECT_THROW(Selector::for_pattern({{"a", true}}), PolicyError);
  EXPECT_THROW(Selector::for_pattern({{"(", false}}), PolicyError);
  EXPECT_THROW(Selector::for_pattern({{"", false}}), PolicyError);
}

struct BadCase {
  std::string text;
  std::string fragment;  // what the message must name; empty: only that it throws
};

std::vector<BadCase> bad_selectors() {
  const std::string label64(64, 'a');
  const std::string name254 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(62, 'd');
  return {
      {"1.2.3.4/33", "33"},
      {"1.2.3", "1.2.3"},  // a typo'd address is not a host name
      {"300.1.1.1", "300.1.1.1"},
      {"123", "123"},
      {"10.0.0.1/8", "10.0.0.1"},
      {"2001:db8::1/64", "2001:db8::1"},
      {"2001:db8::/129", "129"},
      {"/unterminated", "unterminated"},
      {R"(/a\/)", ""},  // the closing slash is escaped
      {"//", "//"},
      {".", ""},
      {"..", ""},
      {"a..b", "a..b"},
      {"-a.example", "-a"},
      {label64 + ".example.org", label64},
      {name254, ""},
      {"/(/", "("},
      {"/[a-/", "[a-"},
      {"!/a/", ""},
      {"!/a/ && !/b/", ""},
      {"/a/ && ", ""},
      {"/a/ &&", ""},
      {"&& /a/", ""},
      {"/a/ && && /b/", ""},
      {"/a/ & /b/", ""},
      {"/a/ || /b/", ""},
      {"!!/a/ && /b/", ""},
      {"/a/b/", ""},
      {"/a/ junk", ""},
      {"/a/i", ""},
      {"", ""},
      {" ", ""},
      {" mx.example.org", ""},
      {"mx.example.org ", ""},
      {"mx example.org", ""},
      {std::string("mx.exa\0mple.org", 15), ""},
      {"mx.ex\xc3\xa4mple.org", ""},  // UTF-8, not punycode
      {"*.example.org", ""},
      {"mx.example.org..", ""},
      {"a/b.example", ""},
      {"mx.example.org\n", ""},
      {"/" + std::string(kMaxPatternLength, 'a') + "/", ""},
  };
}

TEST(SelectorTest, BadSelectorsAreRefusedNamingTheBadPart) {
  for (const auto& c : bad_selectors()) {
    SCOPED_TRACE(PrintToString(c.text));
    const std::string what = policy_error_of([&] { Selector::parse(c.text); });
    EXPECT_NE(what, "<no PolicyError thrown>");
    EXPECT_THAT(what, HasSubstr(c.fragment));
    EXPECT_THAT(what, Not(HasSubstr("\n")));  // one line, fit for a log or a CLI
  }
}

TEST(SelectorTest, LengthLimitsAreInclusive) {
  const std::string label63(63, 'a');
  const std::string name253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                              std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(name253.size(), kMaxHostnameLength);
  EXPECT_EQ(Selector::parse(label63 + ".example.org").kind(), Kind::host);
  EXPECT_EQ(Selector::parse(name253).name(), name253);
  EXPECT_EQ(Selector::parse(name253 + ".").name(), name253);  // the dot is not counted

  const std::string longest = "/" + std::string(kMaxPatternLength - 2, 'a') + "/";
  ASSERT_EQ(longest.size(), kMaxPatternLength);
  EXPECT_EQ(Selector::parse(longest).kind(), Kind::pattern);
}

TEST(HostnameTest, NormalizesValidNames) {
  struct Case {
    const char* input;
    const char* normal;
  };
  for (const auto& c : std::vector<Case>{{"mx.example.org", "mx.example.org"},
                                         {"MX.Example.ORG.", "mx.example.org"},
                                         {"a", "a"},
                                         {"a-b.example", "a-b.example"},
                                         {"a_b.example", "a_b.example"},
                                         {"123.example.org", "123.example.org"},
                                         {"1-2-3-4.DYN.example.net", "1-2-3-4.dyn.example.net"},
                                         {"xn--bcher-kva.example", "xn--bcher-kva.example"}}) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(normalize_hostname(c.input), c.normal);
    EXPECT_TRUE(is_valid_hostname(c.input));
  }
}

TEST(HostnameTest, RefusesInvalidNames) {
  const std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "a..b",
      ".a",
      "a.b..",
      "-a.example",
      "a b.example",
      "a/b.example",
      "a*.example",
      "[192.0.2.7]",
      "mx.ex\xc3\xa4mple.org",
      std::string("a\0b.example", 11),
      "a\tb.example",
      "mx.example.org\r\n",
      std::string(64, 'a') + ".example",
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
          std::string(62, 'd'),
      std::string(100'000, 'a'),
  };
  for (const std::string& name : bad) {
    SCOPED_TRACE(PrintToString(name.substr(0, 80)));
    EXPECT_FALSE(is_valid_hostname(name));
    EXPECT_THROW(normalize_hostname(name), PolicyError);
  }
}

TEST(HostnameTest, ErrorNamesTheBadLabel) {
  const std::string label64(64, 'x');
  EXPECT_THAT(policy_error_of([&] { normalize_hostname("mx." + label64 + ".org"); }),
              HasSubstr(label64));
  EXPECT_THAT(policy_error_of([] { normalize_hostname("mx.b@d.org"); }), HasSubstr("b@d"));
}

TEST(CheckRegexTest, AcceptsPcreSyntax) {
  for (const char* re : {"^dsl-[0-9-]+\\.", "cable|dsl", "(?<=ab)c", "^(\\d{1,3}[-.]){3}\\d+",
                         "\\bpool\\b", "a\\/b"}) {
    SCOPED_TRACE(re);
    EXPECT_NO_THROW(check_regex(re));
  }
}

TEST(CheckRegexTest, ErrorCarriesPcreMessageAndOffset) {
  const std::string what = policy_error_of([] { check_regex("("); });
  EXPECT_THAT(what, HasSubstr("missing closing parenthesis"));
  EXPECT_THAT(what, HasSubstr("1"));
  const std::string what2 = policy_error_of([] { check_regex("abc[a-"); });
  EXPECT_THAT(what2, HasSubstr("missing terminating ]"));
  EXPECT_THAT(what2, HasSubstr("6"));
  EXPECT_THROW(check_regex("a{2,1}"), PolicyError);
  EXPECT_THROW(check_regex("*a"), PolicyError);
}

}  // namespace
}  // namespace harden::policy
