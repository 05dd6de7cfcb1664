// dynamic_rdns_test.cpp - classify_rdns() and classify_dynamic_rdns()
// against rdns.hpp.
//
// Table-driven: real-looking dynamic names must fire with the heuristic that
// names how the address (or keyword) appears; hosting names must come out
// as hosting (and never as dynamic); mail-server and other legitimate names
// must not fire; mail words win over everything, fixed-line words over
// dynamic; hostile input never crashes and never matches by accident. One
// test per naming form of issue 13.
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
      {"1ab5b0a1c2d.example.de", "91.10.28.45", ""},  // inside a longer hex run
      {"5b0a1c2d3.example.de", "91.10.28.45", ""},    // ... on either side
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
      // Exempt words count in the host part, and a registrable domain that
      // starts with mail or smtp (a mail provider's own name: so254-9.mailgun.net);
      // a TLD or a mail word elsewhere in the domain does not exempt.
      {"dsl-1-2-3-4.example.biz", "1.2.3.4", "ipv4-dashed"},
      {"dsl-1-2-3-4.mailcorp.net", "1.2.3.4", ""},
      {"so254-9.mailgun.example", "198.61.254.9", ""},
      {"dsl-1-2-3-4.gmailer.net", "1.2.3.4", "ipv4-dashed"},
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

// classify_rdns(): "dynamic:<heuristic>", "hosting:<heuristic>" or "".
std::string classify3(const Case& c) {
  std::optional<IpAddress> addr;
  if (!c.client.empty()) addr = IpAddress::parse(c.client);
  const auto hit = classify_rdns(c.name, addr ? &*addr : nullptr);
  return hit ? std::string(to_string(hit->kind)) + ":" + hit->heuristic : "";
}

void check3(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + " from " + (c.client.empty() ? "(no address)" : c.client));
    EXPECT_EQ(classify3(c), c.heuristic);
    // classify_dynamic_rdns() is classify_rdns() when it says dynamic.
    const bool dynamic = c.heuristic.starts_with("dynamic:");
    EXPECT_EQ(!classify(c).empty(), dynamic);
  }
}

TEST(RdnsClassTest, CloudAndHostingNamesWithTheAddressAreHosting) {
  check3({
      {"ec2-54-1-2-3.compute-1.amazonaws.com", "54.1.2.3", "hosting:ipv4-dashed"},
      {"ec2-3-6-11-148.ap-south-1.compute.amazonaws.com", "3.6.11.148", "hosting:ipv4-dashed"},
      {"34.2.1.54.bc.googleusercontent.com", "54.1.2.34", "hosting:ipv4-reversed-dotted"},
      {"45-33-20-41.ip.linodeusercontent.com", "45.33.20.41", "hosting:ipv4-dashed"},
      {"45.77.0.96.vultrusercontent.com", "45.77.0.96", "hosting:ipv4-dotted"},
      {"server-13-32-240-71.ams50.r.cloudfront.net", "13.32.240.71", "hosting:ipv4-dashed"},
      {"ecs-1-92-24-200.compute.hwclouds-dns.com", "1.92.24.200", "hosting:ipv4-dashed"},
      {"23-94-252-45-host.colocrossing.com", "23.94.252.45", "hosting:ipv4-dashed"},
      {"srv-45-125-66-252.example.net", "45.125.66.252", "hosting:ipv4-dashed"},
      {"vps-93-184-216-34.example.net", "93.184.216.34", "hosting:ipv4-dashed"},
      // "static" does not make a hosting name a fixed line.
      {"static.146.76.161.5.clients.your-server.de", "5.161.76.146",
       "hosting:ipv4-reversed-dotted"},
      {"static.213-239-213-133.clients.your-server.de", "213.239.213.133", "hosting:ipv4-dashed"},
  });
}

TEST(RdnsClassTest, AddressInTheRegistrableDomainIsHosting) {
  check3({
      {"ip120.ip-51-75-33.eu", "51.75.33.120", "hosting:ipv4-partial"},
      {"ns3123309.ip-5-135-157.eu", "5.135.157.230", "hosting:ipv4-partial"},
      {"206.ip-51-38-124.eu", "51.38.124.206", "hosting:ipv4-partial"},
      {"ip194.ip-51-161-73.net", "51.161.73.194", "hosting:ipv4-partial"},
      {"ip120.ip-51-75-33.eu", "198.51.100.7", ""},  // not the client's network
  });
}

TEST(RdnsClassTest, HostingWordsWithNumbersAreHosting) {
  check3({
      {"vmi354699.contaboserver.net", "5.189.181.107", "hosting:hosting-word"},
      {"vm218389.pq.hosting", "45.142.212.61", "hosting:hosting-word"},
      {"hwsrv-900801.hostwindsdns.com", "23.254.215.238", "hosting:hosting-word"},
      {"vps-a398e6ff.vps.ovh.net", "51.38.71.84", "hosting:hosting-word"},
      {"hosted-by.leaseweb.com", "5.79.75.41", "hosting:hosting-word"},
      {"server241.example.com", "", "hosting:hosting-word"},
      {"srv2.example.com", "", ""},       // one digit: a company's second server
      {"server.example.com", "", ""},     // no number at all
      {"cloud.example.com", "", ""},      // a product name
      {"mycloud-1.example.com", "", ""},  // whole tokens only in the host part
  });
}

TEST(RdnsClassTest, AddressSplitAroundTheFourthOctet) {
  check3({
      {"131.host-49-50-209.euba.example.co.nz", "49.50.209.131", "dynamic:ipv4-split"},
      {"86.red-2-138-111.dynamicip.example.net", "2.138.111.86", "dynamic:ipv4-split"},
      {"ip125.51-77-82.example.de", "51.77.82.125", "dynamic:ipv4-split"},
      {"host-49-50-209.example.net", "49.50.209.131", ""},  // three octets alone
      {"7.host-49-50-209.example.net", "49.50.209.131", ""},
  });
}

TEST(RdnsClassTest, HexAddressAfterALetterPrefix) {
  check3({
      {"ac5b0a1c2d.ipt.example.net", "91.10.28.45", "dynamic:ipv4-hex"},
      {"ip1f11c30d.dynamic.kabel.example.de", "31.17.195.13", "dynamic:ipv4-hex"},
      {"0x3ec6ec81.inet.dsl.example.dk", "62.198.236.129", "dynamic:ipv4-hex"},
      {"1F2E3077.catv.pool.example.hu", "31.46.48.119", "dynamic:ipv4-hex"},
      {"a1b5b0a1c2d.example.de", "91.10.28.45", ""},  // a digit in the prefix
      {"ac5b0a1c2dx.example.de", "91.10.28.45", ""},  // letters after it
  });
}

TEST(RdnsClassTest, ZeroPaddedAndPackedDecimal) {
  check3({
      {"058177172160.example.com", "58.177.172.160", "dynamic:ipv4-digits"},
      {"KD027082005141.ppp-bb.example.ne.jp", "27.82.5.141", "dynamic:ipv4-digits"},
      {"host192168001001.example.net", "192.168.1.1", "dynamic:ipv4-digits"},
  });
}

TEST(RdnsClassTest, AddressOctetsInAnotherOrder) {
  check3({
      {"d53-64-35-171.nap.example.com", "64.53.171.35", "dynamic:ipv4-permuted"},
      {"s233-64-90-216.try.example.com", "64.233.216.90", "dynamic:ipv4-permuted"},
      {"d53-64-35-172.nap.example.com", "64.53.171.35", ""},  // one octet off
      {"d53-64-35-171.example.com", "64.53.171.53", ""},      // 53 twice, 35 missing
  });
}

TEST(RdnsClassTest, LastTwoOctetsOfTheAddress) {
  check3({
      {"cm-vina5-168-207.cm.example.net", "200.104.168.207", "dynamic:ipv4-tail"},
      {"tce-e-7-182-54.example.net.cn", "202.106.182.54", "dynamic:ipv4-tail"},
      {"usr-157-050.dr.example.ca", "24.226.157.50", "dynamic:ipv4-tail"},     // zero-padded
      {"sagami134136.example.ne.jp", "210.251.134.136", "dynamic:ipv4-tail"},  // packed
      {"host157050.example.net", "24.226.157.50", "dynamic:ipv4-tail"},        // packed, padded
      {"cm-vina5-207-168.cm.example.net", "200.104.168.207", ""},              // reversed pair
      {"host-1-5.example.net", "24.226.1.5", "dynamic:ipv4-tail"},
      {"host15.example.net", "24.226.1.5", ""},  // 2 digits packed: too short to tell
      // Hosting context makes it hosting, a mail provider's domain exempts it.
      {"vps-168-207.example.net", "200.104.168.207", "hosting:ipv4-tail"},
      {"m43-7.mailgun.example", "69.72.43.7", ""},
  });
}

TEST(RdnsClassTest, AccessKeywordBesideTheLastOctet) {
  check3({
      {"abvb70.neoplus.adsl.example.pl", "83.8.199.70", "dynamic:keyword-last-octet"},
      {"ppp0c199.example.com", "208.192.102.199", "dynamic:keyword-last-octet"},
      {"abvb70.neoplus.adsl.example.pl", "83.8.199.71", ""},  // not the client's octet
      {"abvb7.neoplus.adsl.example.pl", "83.8.199.7", ""},    // octets under 10 do not count
      // Only access-technology words: a mail provider's pool is no subscriber line.
      {"33.pool.example.com", "51.158.84.33", ""},
      {"client33.example.com", "51.158.84.33", ""},
  });
}

TEST(RdnsClassTest, CpeMacAddressInTheName) {
  check3({
      {"s0106000cf16f58b1.wp.example.net", "174.5.115.130", "dynamic:mac-address"},
      {"s0106dceb699ec90f.pk.example.net", "", "dynamic:mac-address"},
      {"x1-6-00-04-bd-d2-e0-a3.k317.example.dk", "80.167.158.170", "dynamic:mac-address"},
      {"h000502e08144.example.com", "", "dynamic:mac-address"},
      {"host123456789012.example.com", "", ""},  // digits only: a number, not a MAC
      {"caiajhbihbdd.example.com", "", ""},      // letters only
      {"00-04-bd-d2-e0.example.dk", "", ""},     // five pairs
      {"vm-000cf16f58b1.cloud.example", "", "hosting:hosting-word"},
  });
}

TEST(RdnsClassTest, DdnsIsAStrongKeyword) {
  check3({
      {"89-215-186-91.2073241113.ddns-lan.example.bg", "217.18.240.147", "dynamic:keyword"},
      {"ddns1.example.net", "", "dynamic:keyword"},
      {"ddns.example.net", "", ""},
  });
}

TEST(RdnsClassTest, HostingProvidersDomains) {
  check3({
      {"li1322-146.members.linode.com", "45.79.223.146", "hosting:hosting-word"},
      {"ks3293202.kimsufi.com", "5.135.186.141", "hosting:hosting-word"},
      {"62-210-214-84.rev.poneytelecom.eu", "62.210.214.84", "hosting:ipv4-dashed"},
      {"a72-247-45-33.deploy.static.akamaitechnologies.com", "72.247.45.33", "hosting:ipv4-dashed"},
      {"ec2-44-216-146-166.compute-1.amazonaws.com", "44.216.146.166", "hosting:ipv4-dashed"},
      // srv is hosting context beside the address only.
      {"srv-45-125-66-252.example.net", "45.125.66.252", "hosting:ipv4-dashed"},
      {"tomts43-srv.example.net", "209.226.175.110", ""},
      {"srv241.example.com", "", ""},
  });
}

TEST(RdnsClassTest, SequenceNumbersUnderAStrongDynamicWord) {
  check3({
      {"node-hbk.pool-1-0.dynamic.example.net", "1.0.215.176", "dynamic:keyword"},
      {"dyn-7.example.net", "", "dynamic:keyword"},
      {"cust-12.catv.example.net", "", ""},  // catv wants 3 digits
      {"cust-123.catv.example.net", "", "dynamic:keyword"},
      {"modemcable026.example.ca", "", "dynamic:keyword"},
      {"dynamic.example.net", "", ""},  // no number at all
  });
}

TEST(RdnsClassTest, FixedLineWordsExemptFromDynamicOnly) {
  check3({
      {"24-121-176-48.prkrcmtc01.com.sta.example.net", "24.121.176.48", ""},
      {"c-50-189-40-86.unallocated.comcastbusiness.net", "50.189.40.86", ""},
      {"1-2-3-4.staticip.example.net", "1.2.3.4", ""},
      {"ipstatic-1-2-3-4.example.net", "1.2.3.4", ""},
      {"fixed-1-2-3-4.example.pt", "1.2.3.4", ""},
      {"1-2-3-4.fixo.example.pt", "1.2.3.4", ""},
      {"1-2-3-4.fixip.example.jp", "1.2.3.4", ""},
      {"24-230-124-78-static.midco.net", "24.230.124.78", ""},
      // A fixed-line word does not hide a hosting name.
      {"static-1-2-3-4.cloudprovider.example", "1.2.3.4", "hosting:ipv4-dashed"},
      // ... and the ISP's "static" in another sense ("status") is no exemption.
      {"1-2-3-4.status.example.net", "1.2.3.4", "dynamic:ipv4-dashed"},
  });
}

TEST(RdnsClassTest, MailWordsExemptFromEverything) {
  check3({
      {"mx0a-001b2d01.pphosted.com", "148.163.1.2", ""},
      {"mx0b-00190b01.pphosted.com", "", ""},
      {"mail-1-2-3-4.cloudprovider.example", "1.2.3.4", ""},
      {"smtp-out-3.hosting.example", "", ""},
      {"mta12a.example.net", "", ""},
      {"mx-dyn-123.example.net", "", ""},
  });
}

TEST(RdnsClassTest, DetailNamesTheHostingEvidence) {
  const IpAddress a = IpAddress::parse("54.1.2.3");
  auto hit = classify_rdns("ec2-54-1-2-3.compute-1.amazonaws.com", &a);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, RdnsClass::hosting);
  EXPECT_EQ(hit->detail, "54-1-2-3 in name, hosting word 'ec2'");
  const IpAddress b = IpAddress::parse("51.75.33.120");
  hit = classify_rdns("ip120.ip-51-75-33.eu", &b);
  ASSERT_TRUE(hit);
  EXPECT_THAT(hit->detail, HasSubstr("the address in the domain"));
  EXPECT_EQ(to_string(RdnsClass::dynamic), "dynamic");
  EXPECT_EQ(to_string(RdnsClass::hosting), "hosting");
}

}  // namespace
}  // namespace harden::policy
