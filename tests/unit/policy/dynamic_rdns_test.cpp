// dynamic_rdns_test.cpp - classify_dynamic_rdns() against rdns.hpp.
//
// Table-driven: real-looking dynamic names must fire with the heuristic that
// names how the address (or keyword) appears; mail-server and other
// legitimate names must not; exempt words win over everything; hostile
// input never crashes and never matches by accident.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/rdns.hpp"
#include "harden/policy/selector.hpp"

namespace harden::policy {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string name;
  std::string client;     // "" = no client address
  std::string heuristic;  // "" = must not fire
};

std::string classify(const Case& c) {
  std::optional<IpAddress> addr;
  if (!c.client.empty()) addr = IpAddress::parse(c.client);
  const auto hit = classify_dynamic_rdns(c.name, addr ? &*addr : nullptr);
  return hit ? hit->heuristic : "";
}

void check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + " from " + (c.client.empty() ? "(no address)" : c.client));
    EXPECT_EQ(classify(c), c.heuristic);
  }
}

TEST(DynamicRdnsTest, ClientAddressEmbeddedInTheName) {
  check({
      {"93-184-216-34.dyn.example.net", "93.184.216.34", "ipv4-dashed"},
      {"dsl-187-23-4-1.telecom.example", "187.23.4.1", "ipv4-dashed"},
      {"c-73-22-1-5.hsd1.ca.comcast.net", "73.22.1.5", "ipv4-dashed"},
      {"cpe-74-1-2-3.nc.res.rr.com", "74.1.2.3", "ipv4-dashed"},
      {"pool-71-1-2-3.nycmny.fios.verizon.net", "71.1.2.3", "ipv4-dashed"},
      {"dsl-189-1-2-3-dyn.prod-infinitum.com.mx", "189.1.2.3", "ipv4-dashed"},
      {"ppp-192-0-2-7.example.co.uk", "192.0.2.7", "ipv4-dashed"},
      {"093-184-216-034.pool.example.net", "93.184.216.34", "ipv4-dashed"},
      {"ec2-54-1-2-3.compute-1.amazonaws.com", "54.1.2.3", "ipv4-dashed"},
      {"adsl187-23-4-1.example.net", "187.23.4.1", "ipv4-dashed"},
      {"10-93-184-216-34.example.net", "93.184.216.34", "ipv4-dashed"},
      {"93.184.216.34.example.net", "93.184.216.34", "ipv4-dotted"},
      {"host.93.184.216.34.example.net", "93.184.216.34", "ipv4-dotted"},
      {"93.184.216-34.example.net", "93.184.216.34", "ipv4-mixed"},
      {"a93_184_216_34.example.net", "93.184.216.34", "ipv4-mixed"},
      {"34.216.184.93.in-addr.example.net", "93.184.216.34", "ipv4-reversed-dotted"},
      {"34-216-184-93.rev.example.net", "93.184.216.34", "ipv4-reversed-dashed"},
      {"p5B0A1C2D.dip0.t-ipconnect.de", "91.10.28.45", "ipv4-hex"},
      {"c0000207.dhcp.example.no", "192.0.2.7", "ipv4-hex"},
      {"C0000207.example.no", "192.0.2.7", "ipv4-hex"},
      {"srv5b0a1c2d.example.de", "91.10.28.45", "ipv4-hex"},
      {"host093184216034.example.com", "93.184.216.34", "ipv4-digits"},
      {"034216184093.cust.example.com", "93.184.216.34", "ipv4-reversed-digits"},
      {"bca200100150175.res-com.example.com.br", "200.100.150.175", "ipv4-digits"},
      {"h9318421634.example.net", "93.184.216.34", "ipv4-digits"},
      {"93-184-216-34.DYN.EXAMPLE.NET", "93.184.216.34", "ipv4-dashed"},
      {"93-184-216-34.dyn.example.net.", "93.184.216.34", "ipv4-dashed"},
      {"::ffff-93-184-216-34.example.net", "::ffff:93.184.216.34", "ipv4-dashed"},
  });
}

TEST(DynamicRdnsTest, FourOctetGroupsWithoutAnIpv4Address) {
  check({
      {"93-184-216-34.dyn.example.net", "", "ipv4-like"},
      {"c-73-22-1-5.hsd1.ca.comcast.net", "", "ipv4-like"},
      {"host-10-0-0-1.example.net", "", "ipv4-like"},
      {"34.216.184.93.in-addr.example.net", "", "ipv4-like"},
      {"93-184-216-34.dyn.example.net", "2001:db8::1", "ipv4-like"},
      {"1-2-3-256.example.net", "", ""},  // 256 is no octet
      {"1-2-3.example.net", "", ""},      // three groups
      {"1--2-3-4.example.net", "", ""},   // not single separators
      {"1234-5-6-7.example.net", "", ""},
      {"2024.01.15.example.net", "", ""},
  });
}

TEST(DynamicRdnsTest, DynamicKeywordsWithNumbers) {
  check({
      {"adsl-123.example.net", "10.0.0.1", "keyword"},
      {"dynamic-ip-4711.example.de", "", "keyword"},
      {"user123.dialup.example.net", "", "keyword"},
      {"cable-12345.example.com", "", "keyword"},
      {"dhcp-12-34.example.edu", "", "keyword"},
      {"ppp123.isp.example", "", "keyword"},
      {"p5B0A1C2D.dip0.t-ipconnect.de", "", "keyword"},
      {"xdsl-99.7.example.ru", "", "keyword"},
      {"cm-123-45.cpe.example.com.ar", "", "keyword"},
      {"host-123.pppoe.example.it", "", "keyword"},
      {"broadband-456.example.co.nz", "", "keyword"},
  });
}

TEST(DynamicRdnsTest, LegitimateNamesDoNotFire) {
  check({
      {"mail.example.com", "192.0.2.25", ""},
      {"mx1.google.com", "142.250.1.26", ""},
      {"smtp-out.example.org", "198.51.100.7", ""},
      {"o1.email.example.com", "198.51.100.8", ""},
      {"mta-12.mailprovider.example", "198.51.100.9", ""},
      {"mail-ed1-f65.google.com", "209.85.1.65", ""},
      {"a27-12.smtp-out.amazonses.com", "54.240.27.12", ""},
      {"mail-db8eur05on2101.outbound.protection.outlook.com", "40.107.1.101", ""},
      {"resolver1.example.net", "", ""},
      {"pool.ntp.org", "", ""},
      {"0.pool.ntp.org", "", ""},
      {"dial1.example.com", "", ""},
      {"dslreports.com", "", ""},
      {"alicedsl.de", "", ""},
      {"www.cable.co.uk", "", ""},
      {"host123.hosting.example", "", ""},
      {"server-93-184-216-34.example.net", "198.51.100.7", ""},  // not the client's address
      {"users-2024.example.org", "", ""},
      {"dynamo-123.example.com", "", ""},
      {"cablevision-123.example.com", "", ""},
      {"relay3.example.com", "", ""},
      {"outbound.mailhop.org", "", ""},
      {"ab5b0a1c2d.example.de", "91.10.28.45", ""},  // inside a longer hex run
      {"www.example.com", "93.184.216.34", ""},
      {"example.net", "", ""},
      {"net", "", ""},
      {"1234.example.com", "1.2.3.4", ""},  // too short to be a plain-digits form
  });
}

TEST(DynamicRdnsTest, ExemptWordsWinOverEverything) {
  check({
      {"static-93-184-216-34.business.example.net", "93.184.216.34", ""},
      {"93-184-216-34.static.example.net", "93.184.216.34", ""},
      {"biz-93-184-216-34.example.net", "93.184.216.34", ""},
      {"mx-93-184-216-34.example.net", "93.184.216.34", ""},
      {"mail2.dsl-123.example.net", "", ""},
      {"smtp03.cable-1-2-3-4.example.net", "", ""},
      {"mailout.dyn-456.example.net", "", ""},
      {"relay-7.pool-123.example.net", "", ""},
      {"out-93-184-216-34.example.net", "93.184.216.34", ""},
      // Exempt words count in the host part only: a TLD or ISP domain does not exempt.
      {"dsl-1-2-3-4.example.biz", "1.2.3.4", "ipv4-dashed"},
      {"dsl-1-2-3-4.mailcorp.net", "1.2.3.4", "ipv4-dashed"},
      // ... and whole tokens only.
      {"mxtoolbox-93-184-216-34.example.net", "93.184.216.34", "ipv4-dashed"},
      {"outside-93-184-216-34.example.net", "93.184.216.34", "ipv4-dashed"},
  });
}

TEST(DynamicRdnsTest, DetailSaysWhatFired) {
  const IpAddress a = IpAddress::parse("93.184.216.34");
  auto hit = classify_dynamic_rdns("093-184-216-034.pool.example.net", &a);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->detail, "093-184-216-034 in name");
  const IpAddress b = IpAddress::parse("91.10.28.45");
  hit = classify_dynamic_rdns("p5b0a1c2d.dip0.t-ipconnect.de", &b);
  ASSERT_TRUE(hit);
  EXPECT_THAT(hit->detail, HasSubstr("5b0a1c2d"));
  EXPECT_THAT(hit->detail, HasSubstr("91.10.28.45"));
  hit = classify_dynamic_rdns("adsl-123.example.net", nullptr);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->detail, "keyword 'adsl' with numbers");
  hit = classify_dynamic_rdns("1-2-3-4.example.net", nullptr);
  ASSERT_TRUE(hit);
  EXPECT_THAT(hit->detail, HasSubstr("'1-2-3-4'"));
}

TEST(DynamicRdnsTest, HostileInputNeverCrashesOrMatchesByAccident) {
  const IpAddress a = IpAddress::parse("1.2.3.4");
  const std::string longest = std::string(kMaxHostnameLength - 20, 'x') + ".1-2-3-4.example.net";
  ASSERT_EQ(longest.size(), kMaxHostnameLength);
  EXPECT_TRUE(classify_dynamic_rdns(longest, &a));
  EXPECT_FALSE(classify_dynamic_rdns("y" + longest, &a));  // over the bound
  EXPECT_FALSE(classify_dynamic_rdns(std::string(100000, '1'), &a));
  EXPECT_FALSE(classify_dynamic_rdns("", &a));
  EXPECT_FALSE(classify_dynamic_rdns(".", &a));
  EXPECT_FALSE(classify_dynamic_rdns("...", nullptr));
  EXPECT_FALSE(classify_dynamic_rdns("99999999999999999999-1-2-3.example.net", nullptr));
  EXPECT_FALSE(classify_dynamic_rdns("\xff\xfe\xfd.example.net", &a));
  EXPECT_FALSE(classify_dynamic_rdns("m\xc3\xa4il-123.example.net", nullptr));
  // A NUL byte is just another separator: the octets are still there.
  const std::string with_nul("1-2-3-4\0.dyn.example.net", 24);
  auto hit = classify_dynamic_rdns(with_nul, &a);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->heuristic, "ipv4-dashed");
  std::string many_groups;
  for (int i = 0; i < 120; ++i) many_groups += "1-";
  many_groups += "1.example.net";
  EXPECT_FALSE(classify_dynamic_rdns(many_groups, &a));
  hit = classify_dynamic_rdns(many_groups, nullptr);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->heuristic, "ipv4-like");
}

}  // namespace
}  // namespace harden::policy
