// exim_satellite_test.cpp - `hardenctl gen exim-satellite` output as a
// satellite's /etc/exim4/update-exim4.conf.conf: Debian's real
// update-exim4.conf (exim4-config, unpacked) builds exim4.conf from it,
// `exim -bV` accepts that, and `exim -bt` routes remote mail to the smarthost
// on the port asked for, IPv4, IPv6 (Debian's doubled colons) and by name.
// Needs root (the sandbox provides the Debian-exim user and the host name).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>

#include "../../unit/mtaconf/test_policy.hpp"
#include "harden/mtaconf/exim.hpp"
#include "mta_tools.hpp"

namespace harden::mtaconf::itest {
namespace {

using namespace mtaconf::test;
using ::testing::HasSubstr;

struct SmarthostCase {
  std::string smarthost;
  std::string host_line;  // what exim -bt says about the host
};
// Test names (ctest shows them): the smarthost with anything but [A-Za-z0-9.:@/_-] as '_'.
void PrintTo(const SmarthostCase& c, std::ostream* os) {
  std::string n;
  for (char ch : c.smarthost.substr(0, 40))
    n += std::isalnum(static_cast<unsigned char>(ch)) || std::strchr(".:@/_-", ch) ? ch : '_';
  *os << (n.empty() ? "empty" : n);
}

class EximSatelliteRun : public ::testing::TestWithParam<SmarthostCase> {
 protected:
  void SetUp() override {
    if (!sandbox_available()) GTEST_SKIP() << kNeedsRoot;
  }
  TempDir dir_;
};

TEST_P(EximSatelliteRun, DebianBuildsARoutingConfigFromIt) {
  const auto& c = GetParam();
  EximTree t = debian_exim_tree(dir_.path());
  SatelliteOptions s;
  s.smarthost = c.smarthost;
  s.readhost = "example.org";
  s.satellite_nets = {policy::IpNetwork::parse("10.1.0.0/16")};
  auto mx = make_policy({R("default", {{"conn_rate", "5/1m"}})});
  write_file(t.confdir / "update-exim4.conf.conf", exim_satellite(*mx, s, kFrom, kNow));
  const fs::path conf = update_exim4_conf(t);
  const auto r = exim_batch(conf, t.spool,
                            {{{"-bV"}, ""},
                             {{"-bt", "someone@remote.example"}, ""},
                             {{"-bP", "transport", "remote_smtp_smarthost"}, ""}},
                            {"192.0.2.25 mx.example.org"});
  EXPECT_EQ(r[0].exit_code, 0) << r[0].err;
  EXPECT_EQ(r[0].err, "");
  EXPECT_EQ(r[1].exit_code, 0) << r[1].out << r[1].err;
  EXPECT_THAT(r[1].out, HasSubstr("router = smarthost, transport = remote_smtp_smarthost"));
  EXPECT_THAT(lines_with(r[1].out, "  host "), ::testing::ElementsAre(c.host_line)) << r[1].out;
  // The readhost: the smarthost transport rewrites local senders to it.
  EXPECT_THAT(r[2].out, HasSubstr("headers_rewrite = *@+local_domains $1@example.org frs"))
      << r[2].out << r[2].err;
}

INSTANTIATE_TEST_SUITE_P(
    Smarthosts, EximSatelliteRun,
    ::testing::Values(
        SmarthostCase{"192.0.2.25::587", "  host 192.0.2.25 [192.0.2.25] port=587"},
        SmarthostCase{"[2001:db8::25]::587", "  host 2001:db8::25 [2001:db8::25] port=587"},
        SmarthostCase{"[2001:db8::25]", "  host 2001:db8::25 [2001:db8::25]"},
        SmarthostCase{"mx.example.org::2525", "  host mx.example.org [192.0.2.25] port=2525"}));

}  // namespace
}  // namespace harden::mtaconf::itest
