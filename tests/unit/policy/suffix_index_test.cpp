// suffix_index_test.cpp - SuffixIndex against rdns.hpp.
//
// Exact hosts and hosts.deny-style suffixes: a suffix matches names that end
// with it at a label boundary (never the bare domain, never mid-label),
// longest first; keys are lower-cased and lose a trailing dot; hostile input
// (overlong, NUL bytes, odd bytes) finds nothing and never throws.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"
#include "harden/policy/selector.hpp"

namespace harden::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using Ids = std::vector<std::uint32_t>;

SuffixIndex sample_index() {
  SuffixIndex idx;
  idx.add_suffix(".example.net", 1);
  idx.add_suffix("adsl.example.net", 2);   // leading dot optional
  idx.add_suffix(".DYN.Example.NET.", 3);  // case and trailing dot dropped
  idx.add_suffix(".net", 4);
  idx.add_suffix(".alicedsl.de", 5);
  idx.add_host("mx.example.net", 10);
  idx.add_host("Mail.Example.ORG.", 11);
  return idx;
}

struct SuffixCase {
  std::string name;
  Ids want;
};

TEST(SuffixIndexTest, FindsSuffixesAtLabelBoundariesLongestFirst) {
  const SuffixIndex idx = sample_index();
  const std::vector<SuffixCase> cases = {
      {"a.b.adsl.example.net", {2, 1, 4}},
      {"adsl.example.net", {1, 4}},  // the suffix itself is not a name ending with it
      {"x.dyn.example.net", {3, 1, 4}},
      {"example.net", {4}},
      {"myexample.net", {4}},  // not at a label boundary
      {"host.badsl.example.net", {1, 4}},
      {"p5b0a1c2d.dip0.t-ipconnect.de", {}},
      {"dsl.alicedsl.de", {5}},
      {"alicedsl.de", {}},
      {"net", {}},
      {"", {}},
      {".", {}},
      {"trailing.example.net.", {}},  // callers normalize; an unnormalized name finds nothing
      {"UPPER.EXAMPLE.NET", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(idx.find_suffixes(c.name), ElementsAreArray(c.want));
  }
}

TEST(SuffixIndexTest, FindsExactHostsOnly) {
  const SuffixIndex idx = sample_index();
  EXPECT_EQ(idx.find_host("mx.example.net"), 10u);
  EXPECT_EQ(idx.find_host("mail.example.org"), 11u);
  EXPECT_EQ(idx.find_host("a.mx.example.net"), std::nullopt);
  EXPECT_EQ(idx.find_host("example.net"), std::nullopt);
  EXPECT_EQ(idx.find_host(""), std::nullopt);
}

TEST(SuffixIndexTest, AddingAKeyAgainReplacesItsValue) {
  SuffixIndex idx;
  idx.add_suffix(".example.net", 1);
  idx.add_suffix("example.net", 2);
  idx.add_host("mx.example.net", 3);
  idx.add_host("MX.example.net", 4);
  EXPECT_THAT(idx.find_suffixes("a.example.net"), ElementsAre(2u));
  EXPECT_EQ(idx.find_host("mx.example.net"), 4u);
}

TEST(SuffixIndexTest, CopiesDoNotSeeLaterAdditions) {
  SuffixIndex a;
  a.add_suffix(".example.net", 1);
  const SuffixIndex b = a;  // NOLINT(performance-unnecessary-copy-initialization)
  a.add_suffix(".a.example.net", 2);
  a.add_host("mx.example.net", 3);
  EXPECT_THAT(a.find_suffixes("x.a.example.net"), ElementsAre(2u, 1u));
  EXPECT_THAT(b.find_suffixes("x.a.example.net"), ElementsAre(1u));
  EXPECT_EQ(b.find_host("mx.example.net"), std::nullopt);
}

TEST(SuffixIndexTest, RefusesEmptyAndOverlongKeys) {
  SuffixIndex idx;
  EXPECT_THROW(idx.add_suffix("", 1), PolicyError);
  EXPECT_THROW(idx.add_suffix(".", 1), PolicyError);
  EXPECT_THROW(idx.add_suffix("..", 1), PolicyError);
  EXPECT_THROW(idx.add_host("", 1), PolicyError);
  EXPECT_THROW(idx.add_host(std::string(300, 'a'), 1), PolicyError);
  EXPECT_THROW(idx.add_suffix(std::string(300, 'a'), 1), PolicyError);
}

TEST(SuffixIndexTest, HostileNamesFindNothing) {
  SuffixIndex idx;
  idx.add_suffix(".example.net", 1);
  idx.add_host("mx.example.net", 2);
  std::string longest = std::string(kMaxHostnameLength - 12, 'a') + ".example.net";
  ASSERT_EQ(longest.size(), kMaxHostnameLength);
  EXPECT_THAT(idx.find_suffixes(longest), ElementsAre(1u));
  const std::vector<std::string> hostile = {
      "a" + longest,                             // one byte over the bound
      std::string(100000, '.') + "example.net",  // huge, all boundaries
      std::string("mx\0.example.net", 15),       // NUL byte
      std::string("x.example.net\0", 14),
      "x.example.net\n",
      "x.\xc3\xa9xample.net",  // UTF-8
      "\xff\xfe.example.ne",
  };
  for (const std::string& name : hostile) {
    SCOPED_TRACE(::testing::PrintToString(name));
    EXPECT_THAT(idx.find_suffixes(name), ElementsAre());
    EXPECT_EQ(idx.find_host(name), std::nullopt);
  }
}

TEST(SuffixIndexTest, EmptyIndexFindsNothing) {
  const SuffixIndex idx;
  EXPECT_THAT(idx.find_suffixes("a.example.net"), ElementsAre());
  EXPECT_EQ(idx.find_host("a.example.net"), std::nullopt);
}

}  // namespace
}  // namespace harden::policy
