// address_test.cpp - IpAddress, IpNetwork and ClientKeyer against address.hpp.
//
// Written from the header and RFC 5952, not from the implementation: parsing
// is strict (garbage, leading zeros, stray bytes refused), printing is
// canonical, IPv4-mapped IPv6 is taken as IPv4, and networks refuse host bits.
#include "harden/policy/address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/error.hpp"
#include "test_support.hpp"

namespace harden::policy {
namespace {

using ::testing::HasSubstr;
using ::testing::PrintToString;

std::array<std::uint8_t, 16> v6_bytes(std::initializer_list<std::uint16_t> groups) {
  std::array<std::uint8_t, 16> b{};
  std::size_t i = 0;
  for (std::uint16_t g : groups) {
    b[i++] = static_cast<std::uint8_t>(g >> 8);
    b[i++] = static_cast<std::uint8_t>(g & 0xff);
  }
  return b;
}

TEST(IpAddressTest, ParsesIpv4IntoNetworkOrderBytes) {
  const IpAddress a = IpAddress::parse("192.0.2.7");
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.family(), Family::v4);
  EXPECT_EQ(a.bits(), 32u);
  EXPECT_EQ(a.bytes()[0], 192);
  EXPECT_EQ(a.bytes()[1], 0);
  EXPECT_EQ(a.bytes()[2], 2);
  EXPECT_EQ(a.bytes()[3], 7);
  EXPECT_EQ(a, IpAddress::v4(0xC0000207u));
  EXPECT_EQ(a.to_string(), "192.0.2.7");
}

TEST(IpAddressTest, BitIndexesFromTheMostSignificantBit) {
  const IpAddress a = IpAddress::parse("128.0.0.1");
  EXPECT_TRUE(a.bit(0));
  EXPECT_FALSE(a.bit(1));
  EXPECT_FALSE(a.bit(30));
  EXPECT_TRUE(a.bit(31));
}

TEST(IpAddressTest, Ipv4RoundTripsThroughText) {
  for (const char* text : {"0.0.0.0", "255.255.255.255", "10.0.0.1", "192.0.2.7", "127.0.0.1",
                           "1.2.3.4", "100.64.0.0"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(IpAddress::parse(text).to_string(), text);
  }
}

struct CanonicalCase {
  std::string_view input;
  std::string_view canonical;
};

// RFC 5952 section 4: lower case, no leading zeros, the longest run of two or
// more zero fields compressed (the leftmost on a tie), never a single field.
TEST(IpAddressTest, Ipv6PrintsInRfc5952Form) {
  const std::vector<CanonicalCase> cases = {
      {"2001:db8::7", "2001:db8::7"},
      {"2001:DB8::7", "2001:db8::7"},
      {"2001:0db8:0000:0000:0000:0000:0000:0007", "2001:db8::7"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // tie: leftmost run
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},           // longest run wins
      {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // single zero kept
      {"2001:db8:1:1:1:1:1:0", "2001:db8:1:1:1:1:1:0"},  // single trailing zero
      {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},            // "::" for one field
      {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
      {"0:0:0:0:0:0:0:0", "::"},
      {"::", "::"},
      {"::1", "::1"},
      {"0:0:0:0:0:0:0:1", "::1"},
      {"1::", "1::"},
      {"1:0:0:0:0:0:0:0", "1::"},
      {"FE80::A:B:C:D", "fe80::a:b:c:d"},
      {"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"},
      {"2001:db8::0:1", "2001:db8::1"},
      {"2001:db8:0:0:0::1", "2001:db8::1"},
      {"0:0:1:0:0:0:1:0", "0:0:1::1:0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(PrintToString(std::string(c.input)));
    const IpAddress a = IpAddress::parse(c.input);
    EXPECT_FALSE(a.is_v4());
    EXPECT_EQ(a.bits(), 128u);
    EXPECT_EQ(a.to_string(), c.canonical);
    EXPECT_EQ(IpAddress::parse(a.to_string()), a);
  }
}

TEST(IpAddressTest, Ipv6ParsesIntoTheRightBytes) {
  EXPECT_EQ(IpAddress::parse("2001:db8::7"),
            IpAddress::v6(v6_bytes({0x2001, 0xdb8, 0, 0, 0, 0, 0, 7})));
  EXPECT_EQ(IpAddress::parse("2001:db8:1:2:3:4:5:6"),
            IpAddress::v6(v6_bytes({0x2001, 0xdb8, 1, 2, 3, 4, 5, 6})));
  // A dotted-quad tail is ordinary IPv6 text (RFC 4291 2.2 form 3).
  EXPECT_EQ(IpAddress::parse("2001:db8::192.0.2.33"), IpAddress::parse("2001:db8::c000:221"));
}

TEST(IpAddressTest, Ipv4MappedIsTakenAsIpv4) {
  for (const char* text : {"::ffff:192.0.2.7", "::FFFF:192.0.2.7", "::ffff:c000:207",
                           "0:0:0:0:0:ffff:192.0.2.7", "IPv6:::ffff:192.0.2.7"}) {
    SCOPED_TRACE(text);
    const IpAddress a = IpAddress::parse(text);
    EXPECT_TRUE(a.is_v4());
    EXPECT_EQ(a, IpAddress::parse("192.0.2.7"));
    EXPECT_EQ(a.to_string(), "192.0.2.7");
  }
}

TEST(IpAddressTest, SendmailIpv6PrefixIsAccepted) {
  EXPECT_EQ(IpAddress::parse("IPv6:2001:db8::7"), IpAddress::parse("2001:db8::7"));
  EXPECT_EQ(IpAddress::parse("IPv6:::1"), IpAddress::parse("::1"));
  EXPECT_THROW(IpAddress::parse("IPv6:"), PolicyError);
  EXPECT_THROW(IpAddress::parse("IPv6:garbage"), PolicyError);
}

std::vector<std::string> garbage_addresses() {
  return {
      "",
      " ",
      "300.1.1.1",
      "256.0.0.0",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",  // leading zero: octal to inet_aton, decimal to others
      "1.2.3.04",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.4\n",
      std::string("1.2.3.4\0", 8),
      std::string("1.2\0.3.4", 8),
      "1..2.3",
      "1.2.3.",
      ".1.2.3",
      "+1.2.3.4",
      "1.2.3.-4",
      "0x1.2.3.4",
      "3221225991",  // inet_aton would take a plain integer
      "1.2.3.4/32",
      "localhost",
      "::g",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "::1::",
      "1::2::3",
      ":::",
      ":1::",
      "1::2:",
      "12345::1",
      "::ffff:300.1.1.1",
      "::ffff:1.2.3",
      "::1.2.3.4.5",
      "fe80::1%eth0",
      "2001:db8::/32",
      "IPv6",
      "IPV6:2001:db8::7x",
      "\xef\xbc\x91.2.3.4",  // fullwidth digit one
      std::string(10'000, '1'),
      std::string(10'000, ':'),
  };
}

TEST(IpAddressTest, GarbageIsRefused) {
  for (const std::string& text : garbage_addresses()) {
    SCOPED_TRACE(PrintToString(text));
    EXPECT_THROW(IpAddress::parse(text), PolicyError);
    EXPECT_EQ(IpAddress::try_parse(text), std::nullopt);
  }
}

TEST(IpAddressTest, ErrorNamesTheInput) {
  EXPECT_THAT(policy_error_of([] { IpAddress::parse("300.1.1.1"); }), HasSubstr("300.1.1.1"));
  EXPECT_THAT(policy_error_of([] { IpAddress::parse("1:2:3:4:5:6:7:8:9"); }),
              HasSubstr("1:2:3:4:5:6:7:8:9"));
}

TEST(IpAddressTest, TryParseReturnsTheAddress) {
  const auto a = IpAddress::try_parse("2001:db8::7");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, IpAddress::parse("2001:db8::7"));
}

TEST(IpAddressTest, Loopback) {
  struct Case {
    const char* text;
    bool loopback;
  };
  for (const auto& c : std::vector<Case>{{"127.0.0.1", true},
                                         {"127.255.255.254", true},
                                         {"::1", true},
                                         {"::ffff:127.0.0.1", true},
                                         {"126.255.255.255", false},
                                         {"128.0.0.1", false},
                                         {"::2", false},
                                         {"::", false},
                                         {"0.0.0.0", false}}) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(IpAddress::parse(c.text).is_loopback(), c.loopback);
  }
}

TEST(IpAddressTest, MaskedClearsTheHostBits) {
  struct Case {
    const char* address;
    unsigned prefix;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"192.0.2.255", 32, "192.0.2.255"},
      {"192.0.2.255", 24, "192.0.2.0"},
      {"192.0.2.255", 25, "192.0.2.128"},
      {"192.0.2.255", 31, "192.0.2.254"},
      {"192.0.2.255", 0, "0.0.0.0"},
      {"255.255.255.255", 1, "128.0.0.0"},
      {"10.200.3.4", 8, "10.0.0.0"},
      {"10.200.3.4", 12, "10.192.0.0"},
      {"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::"},
      {"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::"},
      {"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6"},
      {"2001:db8::ff", 121, "2001:db8::80"},
      {"2001:db8:ffff::", 36, "2001:db8:f000::"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, "::"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.address) + "/" + std::to_string(c.prefix));
    const IpAddress m = IpAddress::parse(c.address).masked(c.prefix);
    EXPECT_EQ(m, IpAddress::parse(c.expected));
    EXPECT_EQ(m.family(), IpAddress::parse(c.address).family());
  }
}

TEST(IpNetworkTest, ParsesAndPrintsCanonically) {
  struct Case {
    const char* text;
    const char* address;
    unsigned prefix;
    const char* canonical;
  };
  const std::vector<Case> cases = {
      {"192.0.2.0/24", "192.0.2.0", 24, "192.0.2.0/24"},
      {"10.0.0.0/8", "10.0.0.0", 8, "10.0.0.0/8"},
      {"0.0.0.0/0", "0.0.0.0", 0, "0.0.0.0/0"},
      {"192.0.2.128/25", "192.0.2.128", 25, "192.0.2.128/25"},
      {"192.0.2.7", "192.0.2.7", 32, "192.0.2.7"},
      {"192.0.2.7/32", "192.0.2.7", 32, "192.0.2.7"},
      {"2001:db8::/48", "2001:db8::", 48, "2001:db8::/48"},
      {"2001:DB8:0::/32", "2001:db8::", 32, "2001:db8::/32"},
      {"::/0", "::", 0, "::/0"},
      {"2001:db8::7", "2001:db8::7", 128, "2001:db8::7"},
      {"2001:db8::7/128", "2001:db8::7", 128, "2001:db8::7"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const IpNetwork n = IpNetwork::parse(c.text);
    EXPECT_EQ(n.address(), IpAddress::parse(c.address));
    EXPECT_EQ(n.prefix(), c.prefix);
    EXPECT_EQ(n.is_host(), c.prefix == n.address().bits());
    EXPECT_EQ(n.to_string(), c.canonical);
    EXPECT_EQ(IpNetwork::parse(n.to_string()), n);
  }
}

TEST(IpNetworkTest, HostBitsSetAreRefusedNamingTheNetwork) {
  for (const char* text : {"10.0.0.1/8", "192.0.2.1/24", "192.0.2.129/25", "0.0.0.1/0",
                           "2001:db8::1/64", "2001:db8:1::/32"}) {
    SCOPED_TRACE(text);
    const std::string what = policy_error_of([&] { IpNetwork::parse(text); });
    const std::string_view sv(text);
    EXPECT_THAT(what, HasSubstr(std::string(sv.substr(0, sv.find('/')))));
  }
}

TEST(IpNetworkTest, BadPrefixesAreRefused) {
  for (const char* text :
       {"192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/+24",
        "192.0.2.0/ 24", "192.0.2.0/24 ", "192.0.2.0/0x18", "192.0.2.0/24/24", "/24",
        "192.0.2.0/4294967320",  // 2^32 + 24: must not wrap to 24
        "192.0.2.0/18446744073709551640", "192.0.2.0/2 4", "300.0.2.0/24", "192.0.2/24",
        "192.0.2.0\\24", "2001:db8::/48x"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW(IpNetwork::parse(text), PolicyError);
  }
  EXPECT_THAT(policy_error_of([] { IpNetwork::parse("192.0.2.0/33"); }), HasSubstr("33"));
}

TEST(IpNetworkTest, ConstructorChecksLikeParse) {
  EXPECT_EQ(IpNetwork(IpAddress::parse("192.0.2.0"), 24), IpNetwork::parse("192.0.2.0/24"));
  EXPECT_THROW(IpNetwork(IpAddress::parse("192.0.2.1"), 24), PolicyError);
  EXPECT_THROW(IpNetwork(IpAddress::parse("192.0.2.0"), 33), PolicyError);
  EXPECT_THROW(IpNetwork(IpAddress::parse("2001:db8::"), 129), PolicyError);
  EXPECT_NO_THROW(IpNetwork(IpAddress::parse("2001:db8::"), 32));
}

TEST(IpNetworkTest, Contains) {
  struct Case {
    const char* network;
    const char* address;
    bool inside;
  };
  const std::vector<Case> cases = {
      {"192.0.2.0/24", "192.0.2.0", true},
      {"192.0.2.0/24", "192.0.2.255", true},
      {"192.0.2.0/24", "192.0.3.0", false},
      {"192.0.2.0/24", "192.0.1.255", false},
      {"192.0.2.128/25", "192.0.2.127", false},
      {"192.0.2.128/25", "192.0.2.128", true},
      {"192.0.2.7", "192.0.2.7", true},
      {"192.0.2.7", "192.0.2.8", false},
      {"0.0.0.0/0", "255.255.255.255", true},
      {"0.0.0.0/0", "::1", false},   // an IPv4 network holds no IPv6 client
      {"::/0", "192.0.2.7", false},  // nor the reverse
      {"::/0", "2001:db8::1", true},
      // Same leading bytes, other family: c000:200:: starts with 192.0.2.0.
      {"192.0.2.0/24", "c000:200::1", false},
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::", false},
      {"2001:db8:1::/48", "2001:db8:1:ffff:ffff:ffff:ffff:ffff", true},
      {"192.0.2.0/24", "::ffff:192.0.2.9", true},  // mapped is IPv4
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.network) + " contains " + c.address);
    EXPECT_EQ(IpNetwork::parse(c.network).contains(IpAddress::parse(c.address)), c.inside);
  }
}

TEST(ClientKeyerTest, DefaultsToSlash32AndSlash64) {
  const ClientKeyer k;
  EXPECT_EQ(k.v4_prefix, 32u);
  EXPECT_EQ(k.v6_prefix, 64u);
  EXPECT_NO_THROW(k.validate());
  EXPECT_EQ(k.key(IpAddress::parse("192.0.2.7")), IpNetwork::parse("192.0.2.7/32"));
  EXPECT_EQ(k.key(IpAddress::parse("2001:db8:1:2:3:4:5:6")), IpNetwork::parse("2001:db8:1:2::/64"));
  EXPECT_EQ(k.key(IpAddress::parse("2001:db8:1:2::")), IpNetwork::parse("2001:db8:1:2::/64"));
  EXPECT_EQ(k.key(IpAddress::parse("::ffff:192.0.2.7")), IpNetwork::parse("192.0.2.7"));
}

TEST(ClientKeyerTest, ConfiguredPrefixes) {
  const ClientKeyer k{24, 48};
  EXPECT_EQ(k.key(IpAddress::parse("192.0.2.7")), IpNetwork::parse("192.0.2.0/24"));
  EXPECT_EQ(k.key(IpAddress::parse("2001:db8:1:2:3:4:5:6")), IpNetwork::parse("2001:db8:1::/48"));
  const ClientKeyer full{32, 128};
  EXPECT_EQ(full.key(IpAddress::parse("2001:db8::7")), IpNetwork::parse("2001:db8::7"));
}

TEST(IpNetworkTest, ContainingMasksAndClampsThePrefix) {
  EXPECT_EQ(IpNetwork::containing(IpAddress::parse("192.0.2.255"), 25),
            IpNetwork::parse("192.0.2.128/25"));
  EXPECT_EQ(IpNetwork::containing(IpAddress::parse("192.0.2.7"), 0), IpNetwork::parse("0.0.0.0/0"));
  EXPECT_EQ(IpNetwork::containing(IpAddress::parse("192.0.2.7"), 64),
            IpNetwork::parse("192.0.2.7"));
  EXPECT_EQ(IpNetwork::containing(IpAddress::parse("2001:db8:ffff::1"), 35),
            IpNetwork::parse("2001:db8:e000::/35"));
  EXPECT_EQ(IpNetwork::containing(IpAddress::parse("2001:db8::1"), 200),
            IpNetwork::parse("2001:db8::1"));
}

TEST(ClientKeyerTest, ValidateBounds) {
  struct Case {
    unsigned v4;
    unsigned v6;
    bool ok;
  };
  const std::vector<Case> cases = {
      {32, 64, true}, {8, 16, true},    {32, 128, true},   {24, 48, true},
      {7, 64, false}, {33, 64, false},  {0, 64, false},    {32, 15, false},
      {32, 0, false}, {32, 129, false}, {1000, 64, false}, {32, 4294967295u, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.v4) + "/" + std::to_string(c.v6));
    const ClientKeyer k{c.v4, c.v6};
    if (c.ok) {
      EXPECT_NO_THROW(k.validate());
    } else {
      EXPECT_THROW(k.validate(), PolicyError);
    }
  }
}

}  // namespace
}  // namespace harden::policy
