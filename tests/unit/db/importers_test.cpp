// importers_test.cpp - sendmail access, hosts.deny and Postfix pcre importers,
// and planning/applying an import against a store.
#include "harden/db/importers.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "db_test_util.hpp"

namespace harden::db {
namespace {

using policy::Action;
using policy::Rule;
using policy::Selector;
using test::error_of;
using test::make_rule;

ImportResult access(const std::string& text) {
  std::istringstream in(text);
  return parse_sendmail_access(in, "access");
}
ImportResult hosts_deny(const std::string& text) {
  std::istringstream in(text);
  return parse_hosts_deny(in, "hosts.deny");
}
ImportResult pcre(const std::string& text) {
  std::istringstream in(text);
  return parse_postfix_pcre(in, "t.pcre");
}

const Rule* rule_for(const ImportResult& r, std::string_view selector) {
  const std::string want = Selector::parse(selector).text();
  for (const auto& rule : r.rules) {
    if (rule.selector.text() == want) return &rule;
  }
  return nullptr;
}

// "sel attr=value attr=value", attributes in table order: one line per rule.
std::vector<std::string> summary(const ImportResult& r) {
  std::vector<std::string> out;
  for (const auto& rule : r.rules) {
    std::string line = rule.selector.text();
    for (const auto& a : policy::attributes()) {
      if (auto v = rule.attrs.get(a.attr)) line += " " + std::string(a.name) + "=" + *v;
    }
    out.push_back(line);
  }
  return out;
}

std::string data_file(const std::string& name) {
  return std::string(HARDEN_TEST_DATA_DIR) + "/" + name;
}

// ---- sendmail access -------------------------------------------------------

struct KeyCase {
  std::string line;
  std::vector<std::string> expect;  // summary()
};

class AccessKeys : public testing::TestWithParam<KeyCase> {};

TEST_P(AccessKeys, MapToRules) {
  const auto r = access(GetParam().line + "\n");
  EXPECT_EQ(summary(r), GetParam().expect) << GetParam().line;
  EXPECT_TRUE(r.notes.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Sendmail, AccessKeys,
    testing::Values(
        KeyCase{"ClientRate:192.0.2.7 5", {"192.0.2.7 conn_rate=5/1m"}},
        KeyCase{"ClientRate:192.0.2 5", {"192.0.2.0/24 conn_rate=5/1m"}},
        KeyCase{"ClientRate:10 5", {"10.0.0.0/8 conn_rate=5/1m"}},
        KeyCase{"ClientRate:172.16 0", {"172.16.0.0/16 conn_rate=0"}},
        KeyCase{"ClientRate:IPv6:2001:db8::7 5", {"2001:db8::7 conn_rate=5/1m"}},
        KeyCase{"ClientRate:IPv6:2001:DB8 5", {"2001:db8::/32 conn_rate=5/1m"}},
        KeyCase{"ClientRate:IPv6:2001:db8:0:1 5", {"2001:db8:0:1::/64 conn_rate=5/1m"}},
        KeyCase{"ClientRate:\t7", {"default conn_rate=7/1m"}},
        KeyCase{"clientrate:192.0.2.7 5", {"192.0.2.7 conn_rate=5/1m"}},
        KeyCase{"ClientConn:192.0.2.7 2", {"192.0.2.7 conn_limit=2"}},
        KeyCase{"GreetPause:192.0.2.7 1500", {"192.0.2.7 greet_pause=1500"}},
        KeyCase{"GreetPause:Mail.Example.ORG 0",
                {"mail.example.org greet_pause=0", ".mail.example.org greet_pause=0"}},
        KeyCase{"Connect:example.com REJECT",
                {"example.com action=block", ".example.com action=block"}},
        KeyCase{"Connect:.example.com REJECT", {".example.com action=block"}},
        KeyCase{"Connect:192.0.2.7 OK", {"192.0.2.7 action=limit"}},
        KeyCase{"Connect:192.0.2.7 RELAY", {"192.0.2.7 action=limit"}},
        KeyCase{"Connect:192.0.2.7 ERROR:5.7.1:550 Go away",
                {"192.0.2.7 action=block reason=Go away"}},
        KeyCase{"Connect:192.0.2.7 ERROR:\"550 5.7.1 Go   away\"",
                {"192.0.2.7 action=block reason=Go away"}},
        KeyCase{"Connect:192.0.2.7 ERROR:450 Later", {"192.0.2.7 action=tempfail reason=Later"}},
        KeyCase{"Connect:192.0.2.7 ERROR:4.7.1:Busy", {"192.0.2.7 action=tempfail reason=Busy"}},
        KeyCase{"Connect:192.0.2.7 \"550 No\"", {"192.0.2.7 action=block reason=No"}},
        KeyCase{"Connect:192.0.2.7 ERROR:550", {"192.0.2.7 action=block"}}));

TEST(SendmailAccess, EntriesForOneKeyMerge) {
  const auto r = access(
      "ClientRate:192.0.2.7 10\n"
      "ClientConn:192.0.2.7 2\n"
      "Connect:192.0.2.7 REJECT\n"
      "GreetPause:192.0.2.7 3000\n");
  EXPECT_EQ(summary(r),
            (std::vector<std::string>{
                "192.0.2.7 action=block conn_rate=10/1m conn_limit=2 greet_pause=3000"}));
  EXPECT_EQ(r.rules[0].comment, "import access:1");
}

TEST(SendmailAccess, RateWindowIsAParameter) {
  std::istringstream in("ClientRate:192.0.2.7 10\nClientRate: 0\n");
  const auto r = parse_sendmail_access(in, "access", std::chrono::seconds{300});
  EXPECT_EQ(summary(r),
            (std::vector<std::string>{"192.0.2.7 conn_rate=10/5m", "default conn_rate=0"}));
  std::istringstream in2("x");
  EXPECT_NE(error_of<ImportError>([&] {
              parse_sendmail_access(in2, "access", std::chrono::seconds{0});
            }).find("rate window"),
            std::string::npos);
}

TEST(SendmailAccess, DotKeyOverridesTheSuffixHalfOfADomainKey) {
  for (const std::string text : {"Connect:example.com REJECT\nConnect:.example.com OK\n",
                                 "Connect:.example.com OK\nConnect:example.com REJECT\n"}) {
    const auto r = access(text);
    ASSERT_EQ(r.rules.size(), 2u) << text;
    EXPECT_EQ(rule_for(r, "example.com")->attrs.action, Action::block) << text;
    EXPECT_EQ(rule_for(r, ".example.com")->attrs.action, Action::limit) << text;
  }
}

TEST(SendmailAccess, SkipsWhatItDoesNotImportWithNotes) {
  const auto r = access(
      "# comment\n"
      "\n"
      "   \n"
      "From:spammer@example.com REJECT\n"
      "example.com RELAY\n"
      "IPv6:2001:db8::1 RELAY\n"
      "ClientRate:mx.example.org 5\n"
      "GreetPause: 500\n"
      "Connect: REJECT\n"
      "Connect:192.0.2.7 DISCARD\n"
      "Connect:192.0.2.8 QUARANTINE:look at it\n");
  EXPECT_TRUE(r.rules.empty());
  ASSERT_EQ(r.notes.size(), 8u);
  EXPECT_EQ(r.notes[0].rfind("access:4: skipped 'From:'", 0), 0u) << r.notes[0];
  EXPECT_EQ(r.notes[1].rfind("access:5: skipped untagged entry", 0), 0u) << r.notes[1];
  EXPECT_EQ(r.notes[2].rfind("access:6: skipped untagged entry", 0), 0u) << r.notes[2];
  EXPECT_NE(r.notes[3].find("by address only"), std::string::npos) << r.notes[3];
  EXPECT_NE(r.notes[4].find("FEATURE(greet_pause"), std::string::npos) << r.notes[4];
  EXPECT_NE(r.notes[5].find("empty Connect:"), std::string::npos) << r.notes[5];
}

struct BadCase {
  std::string text;
  std::string error;  // expected substring, "access:LINE: ..."
};

class AccessErrors : public testing::TestWithParam<BadCase> {};

TEST_P(AccessErrors, NameTheLine) {
  const std::string msg = error_of<ImportError>([&] { access(GetParam().text); });
  EXPECT_NE(msg.find(GetParam().error), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Sendmail, AccessErrors,
    testing::Values(
        BadCase{"ClientRate:192.0.2.7 5\n ClientConn:192.0.2.7 2\n",
                "access:2: line starts with a blank"},
        BadCase{"\tClientRate:192.0.2.7 5\n", "access:1: line starts with a blank"},
        BadCase{"ClientRate:192.0.2.7\n", "access:1: no value"},
        BadCase{"ClientRate:192.0.2.7 99999999999999999999\n", "access:1: 'ClientRate:192.0.2.7'"},
        BadCase{"ClientRate:1.2.3.4 99999999999999999999\n", "bad number"},
        BadCase{"ClientRate:192.0.2.7 -5\n", "access:1:"},
        BadCase{"ClientConn:192.0.2.7 +5\n", "access:1:"},
        BadCase{"ClientConn:192.0.2.7 5 # five\n", "access:1:"},
        BadCase{"GreetPause:192.0.2.7 600000\n", "greet_pause"},
        // sendmail reads bare ms: a rule-style unit would mean something else there.
        BadCase{"GreetPause:192.0.2.7 2s\n",
                "access:1: 'GreetPause:192.0.2.7': GreetPause value '2s'"},
        BadCase{"ClientRate:300.1.2.3 5\n", "access:1: bad IPv4 key '300.1.2.3'"},
        BadCase{"ClientRate:1.2.3.4.5 5\n", "bad IPv4 key"},
        BadCase{"ClientRate:192.168.01 5\n", "bad IPv4 key"},
        BadCase{"ClientRate:192..1 5\n", "bad IPv4 key"},
        BadCase{"ClientRate:IPv6:2001:db8:::1 5\n", "bad IPv6 key"},
        BadCase{"ClientRate:IPv6:12345 5\n", "bad IPv6 key"},
        BadCase{"ClientRate:IPv6: 5\n", "bad IPv6 key"},
        BadCase{"Connect:bad_host!.example REJECT\n", "access:1: bad key"},
        BadCase{"Connect:192.0.2.7 MAYBE\n", "unknown Connect: value 'MAYBE'"},
        BadCase{"Connect:192.0.2.7 TEMPFAIL\n", "unknown Connect: value"},
        BadCase{"Connect:192.0.2.7 ERROR:250 fine\n", "not a rejection"},
        BadCase{"Connect:192.0.2.7 ERROR:\"550 open\n", "unbalanced quote"},
        BadCase{"Connect:192.0.2.7 ERROR:550 Gr\xc3\xbc\xc3\x9f"
                "e\n",
                "printable ASCII"},
        BadCase{"Connect:192.0.2.7 ERROR:550 a\x01z\n", "printable ASCII"},
        BadCase{
            "ClientRate:192.0.2.7 5\nClientRate:192.0.2.7 6\n",
            "access:2: 'ClientRate:192.0.2.7': conn_rate for 192.0.2.7 already given at line 1"},
        BadCase{"Connect:example.com OK\nConnect:example.com REJECT\n", "already given at line 1"},
        BadCase{std::string("ClientRate:192.0.2.7 5\nCli\0ent 5\n", 33), "access:2: NUL byte"}));

TEST(SendmailAccess, OverlongLinesAreRefused) {
  const std::string big(1024 * 1024, 'a');
  EXPECT_NE(error_of<ImportError>([&] {
              access("ClientRate:192.0.2.7 5\n" + big + "\n");
            }).find("access:2: line longer than 65536 bytes"),
            std::string::npos);
  // Exactly at the limit is fine as far as the reader goes.
  const std::string at_limit = "# " + std::string(kMaxImportLineLength - 2, 'x') + "\n";
  EXPECT_TRUE(access(at_limit).rules.empty());
}

TEST(SendmailAccess, BinaryGarbageIsRefused) {
  std::string junk;
  for (int i = 0; i < 4096; ++i) junk += static_cast<char>((i * 7919) & 0xff);
  EXPECT_FALSE(error_of<ImportError>([&] { access(junk); }).empty());
}

TEST(SendmailAccess, CrLfAndMissingFinalNewline) {
  EXPECT_EQ(summary(access("ClientConn:192.0.2.7 2\r\nClientConn:192.0.2.8 3")),
            (std::vector<std::string>{"192.0.2.7 conn_limit=2", "192.0.2.8 conn_limit=3"}));
}

TEST(SendmailAccess, SampleFile) {
  std::ifstream in(data_file("access.sample"));
  const auto r = parse_sendmail_access(in, "access.sample");
  EXPECT_EQ(summary(r), (std::vector<std::string>{
                            "default conn_rate=10/1m conn_limit=5",
                            "127.0.0.1 action=limit conn_rate=0 conn_limit=0",
                            "192.168.1.0/24 conn_rate=50/1m conn_limit=20",
                            "2001:db8::/32 conn_rate=20/1m",
                            "localhost greet_pause=0",
                            ".localhost greet_pause=0",
                            "192.168.0.0/16 greet_pause=0",
                            "example.org greet_pause=5000",
                            ".example.org greet_pause=5000",
                            "spammer.example.com action=block",
                            ".spammer.example.com action=block",
                            ".dialup.example.net action=block reason=Dial-up hosts must relay via "
                            "their ISP",
                            "10.9.8.0/24 action=tempfail reason=Try again later",
                            "2001:db8::bad action=block",
                        }));
  EXPECT_EQ(r.notes.size(), 4u);
  for (const auto& rule : r.rules) EXPECT_NO_THROW(rule.validate()) << rule.selector.text();
}

// ---- hosts.deny ------------------------------------------------------------

TEST(HostsDeny, ClientPatternsBecomeBlockRules) {
  const auto r = hosts_deny(
      "sendmail: .adsl.Example.NET, host.example.com 192.0.2. 10.0.0.0/255.0.0.0 "
      "172.16.0.0/12 198.51.100.7 [2001:db8::]/32 [2001:db8::1]\n");
  std::vector<std::string> sels;
  for (const auto& rule : r.rules) {
    sels.push_back(rule.selector.text());
    EXPECT_EQ(rule.attrs.action, Action::block);
    EXPECT_EQ(rule.attrs.reason, std::string(kHostsDenyReason));
    EXPECT_EQ(rule.comment, "import hosts.deny:1");
  }
  EXPECT_EQ(sels, (std::vector<std::string>{".adsl.example.net", "host.example.com", "192.0.2.0/24",
                                            "10.0.0.0/8", "172.16.0.0/12", "198.51.100.7",
                                            "2001:db8::/32", "2001:db8::1"}));
  EXPECT_TRUE(r.notes.empty());
}

TEST(HostsDeny, DaemonListIsEvaluatedAsTcpdDoes) {
  struct Case {
    std::string daemons;
    bool imported;
  };
  for (const auto& c :
       {Case{"sendmail", true}, Case{"ALL", true}, Case{"SendMail", true},
        Case{"sshd, sendmail", true}, Case{"sshd", false}, Case{"ALL EXCEPT sendmail", false},
        Case{"ALL EXCEPT sshd", true}, Case{"ALL EXCEPT sendmail EXCEPT sendmail", true},
        Case{"sendmail@192.0.2.1", false}}) {
    const auto r = hosts_deny(c.daemons + ": .example.net\n");
    EXPECT_EQ(r.rules.size(), c.imported ? 1u : 0u) << c.daemons;
    EXPECT_EQ(r.notes.size(), c.imported ? 0u : 1u) << c.daemons;
  }
}

TEST(HostsDeny, SkipsWhatCannotBeImportedExactly) {
  const auto r = hosts_deny(
      "sendmail: ALL\n"
      "sendmail: .example.org EXCEPT mail.example.org\n"
      "sendmail: LOCAL, UNKNOWN, @netgroup, user@host.example.org, /etc/deny.list, *.dyn.example\n"
      "sendmail: .allowed.example : allow\n"
      "sendmail: .denied.example : DENY\n"
      "sendmail: .spawn.example : spawn (echo %a) & : severity mail.info\n");
  EXPECT_EQ(summary(r),
            (std::vector<std::string>{
                ".denied.example action=block reason=" + std::string(kHostsDenyReason),
                ".spawn.example action=block reason=" + std::string(kHostsDenyReason)}));
  EXPECT_EQ(r.notes.size(), 10u);
  EXPECT_NE(r.notes[0].find("ALL: it would block every client"), std::string::npos);
  EXPECT_NE(r.notes[1].find("EXCEPT"), std::string::npos);
  EXPECT_NE(r.notes.back().find("ignored the options"), std::string::npos);
}

TEST(HostsDeny, BackslashContinuationAndComments) {
  const auto r = hosts_deny(
      "# comment\n"
      "   # indented comment\n"
      "sendmail: .a.example, \\\n"
      "  .b.example\\\n"
      ",.c.example\n"
      "sendmail: .a.example\n");
  EXPECT_EQ(r.rules.size(), 3u);
  EXPECT_EQ(r.rules[2].selector.text(), ".c.example");
  EXPECT_EQ(r.rules[2].comment, "import hosts.deny:3");
}

class HostsDenyErrors : public testing::TestWithParam<BadCase> {};

TEST_P(HostsDenyErrors, NameTheLine) {
  const std::string msg = error_of<ImportError>([&] { hosts_deny(GetParam().text); });
  EXPECT_NE(msg.find(GetParam().error), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Tcpd, HostsDenyErrors,
    testing::Values(BadCase{"# ok\nsendmail .example.net\n", "hosts.deny:2: missing ':'"},
                    BadCase{"sendmail:\n", "empty client list"},
                    BadCase{": .example.net\n", "empty daemon list"},
                    BadCase{"sendmail: 10.0.0.0/255.0.255.0\n", "bad netmask"},
                    BadCase{"sendmail: 10.0.0.1/255.0.0.0\n",
                            "hosts.deny:1: bad client pattern '10.0.0.1/255.0.0.0'"},
                    BadCase{"sendmail: 10.0.0.0/33\n", "bad netmask"},
                    BadCase{"sendmail: 0.0.0.0/0\n", "would block every IPv4 client"},
                    BadCase{"sendmail: 192.0.2\n", "bad address pattern"},
                    BadCase{"sendmail: 192.0.2.1.\n", "bad address pattern"},
                    BadCase{"sendmail: 256.0.0.\n", "bad address pattern"},
                    BadCase{"sendmail: [2001:db8::1\n", "missing ']'"},
                    BadCase{"sendmail: [192.0.2.1]\n", "brackets are for IPv6"},
                    BadCase{"sendmail: bad_host!\n", "bad client pattern"},
                    BadCase{"sendmail: .example.net # comment\n", "no end-of-line comments"},
                    BadCase{std::string("sendmail: .a\0b\n", 15), "NUL byte"}));

TEST(HostsDeny, SampleFile) {
  std::ifstream in(data_file("hosts.deny.sample"));
  const auto r = parse_hosts_deny(in, "hosts.deny.sample");
  std::vector<std::string> sels;
  for (const auto& rule : r.rules) sels.push_back(rule.selector.text());
  EXPECT_EQ(sels,
            (std::vector<std::string>{".adsl.example.net", ".dyn.example.com", ".pool.example.org",
                                      "198.51.100.0/24", "203.0.113.0/25", "2001:db8:bad::/48",
                                      "spammer.example.com", "192.0.2.0/24"}));
  EXPECT_EQ(r.notes.size(), 6u);
}

// ---- Postfix pcre ----------------------------------------------------------

struct PcreCase {
  std::string line;
  std::string selector;
  std::string attrs;  // summary() without the selector
};

class PcreRules : public testing::TestWithParam<PcreCase> {};

TEST_P(PcreRules, Map) {
  const auto r = pcre(GetParam().line + "\n");
  ASSERT_EQ(r.rules.size(), 1u) << GetParam().line;
  EXPECT_EQ(r.rules[0].selector.text(), GetParam().selector);
  EXPECT_EQ(summary(r)[0], GetParam().selector + GetParam().attrs);
  EXPECT_EQ(r.rules[0].priority, 1);
}

INSTANTIATE_TEST_SUITE_P(
    Postfix, PcreRules,
    testing::Values(
        PcreCase{"/^dsl-[0-9]+\\./ REJECT Dynamic - relay via ISP", "/^dsl-[0-9]+\\./",
                 " action=block reason=Dynamic - relay via ISP"},
        PcreCase{"/^dsl/\tREJECT", "/^dsl/", " action=block"},
        PcreCase{"/a b/ reject with  spaces", "/a b/", " action=block reason=with spaces"},
        PcreCase{"/a\\/b/ REJECT", "/a\\/b/", " action=block"},
        PcreCase{"%a/b% REJECT", "/a\\/b/", " action=block"},
        PcreCase{"|x\\|y| OK", "/x\\|y/", " action=allow"},
        PcreCase{"/x/ 550 5.7.1 No dynamic hosts", "/x/", " action=block reason=No dynamic hosts"},
        PcreCase{"/x/ 450 4.7.1 Slow down", "/x/", " action=tempfail reason=Slow down"},
        PcreCase{"/x/ DEFER later", "/x/", " action=tempfail reason=later"},
        PcreCase{"/x/ DEFER_IF_PERMIT", "/x/", " action=tempfail"},
        PcreCase{"/x/ defer_if_reject", "/x/", " action=tempfail"},
        PcreCase{"/x/ OK", "/x/", " action=allow"}, PcreCase{"/x/ PERMIT", "/x/", " action=allow"},
        PcreCase{"/x/ 1234", "/x/", " action=allow"}, PcreCase{"/x/ DUNNO", "/x/", " action=limit"},
        PcreCase{"/x/ dunno ignored text", "/x/", " action=limit"},
        PcreCase{"/x/A REJECT", "/^(?:x)/", " action=block"},
        PcreCase{"/x/msEUX REJECT", "/x/", " action=block"},
        PcreCase{"/x/ii REJECT", "/x/", " action=block"},
        PcreCase{"!/static/ REJECT", "/^/ && !/static/", " action=block"},
        PcreCase{"!!/x/ REJECT", "/x/", " action=block"},
        PcreCase{"// DUNNO", "/^/", " action=limit"},
        PcreCase{"/x/ REJECT \"quoted\": yes; it's #1", "/x/",
                 " action=block reason=\"quoted\": yes; it's #1"}));

TEST(PostfixPcre, IfBlocksBecomeConjunctions) {
  const auto r = pcre(
      "if /dyn/\n"
      "/^a/ REJECT a\n"
      "IF !/static/\n"
      "/^b/ REJECT b\n"
      "endif\n"
      "/^c/ DUNNO\n"
      "ENDIF\n"
      "/^d/ OK\n");
  EXPECT_EQ(r.rules.size(), 4u);
  EXPECT_EQ(error_of<ImportError>([&] { pcre("IF !/static/i\nendif\n"); }).rfind("t.pcre:1:", 0),
            0u);
  std::vector<std::string> sels;
  std::vector<std::int64_t> prios;
  for (const auto& rule : r.rules) {
    sels.push_back(rule.selector.text());
    prios.push_back(rule.priority);
  }
  EXPECT_EQ(sels, (std::vector<std::string>{"/dyn/ && /^a/", "/dyn/ && !/static/ && /^b/",
                                            "/dyn/ && /^c/", "/^d/"}));
  EXPECT_EQ(prios, (std::vector<std::int64_t>{1, 2, 3, 4}));
}

TEST(PostfixPcre, NotesForActionsItDoesNotImport) {
  const auto r = pcre(
      "/a/ FILTER smtp:[127.0.0.1]:10025\n"
      "/b/ PREPEND X-Dyn: yes\n"
      "/c/ WARN odd\n"
      "/d/ HOLD\n"
      "/e/ reject_unknown_client_hostname\n"
      "/f/ REJECT\n"
      "/f/ OK\n"
      "/(g)/ REJECT Host $1 is dynamic\n");
  EXPECT_EQ(summary(r), (std::vector<std::string>{"/f/ action=block",
                                                  "/(g)/ action=block reason=Host $1 is dynamic"}));
  EXPECT_EQ(r.rules[1].priority, 2);
  ASSERT_EQ(r.notes.size(), 7u);
  EXPECT_NE(r.notes[5].find("t.pcre:7: skipped: same pattern as line 6"), std::string::npos)
      << r.notes[5];
  EXPECT_NE(r.notes[6].find("$N substitution"), std::string::npos);
}

TEST(PostfixPcre, ContinuationLinesAndComments) {
  const auto r = pcre(
      "# comment\n"
      "/x/ REJECT first part\n"
      "  second part\n"
      "   # comment inside\n"
      "\n"
      "/y/\r\n"
      "\tREJECT\r\n");
  EXPECT_EQ(summary(r), (std::vector<std::string>{"/x/ action=block reason=first part second part",
                                                  "/y/ action=block"}));
  EXPECT_EQ(r.rules[1].comment, "import t.pcre:6");
}

TEST(PostfixPcre, LongReplyTextIsCutWithANote) {
  const auto r = pcre("/x/ REJECT " + std::string(300, 'z') + "\n");
  ASSERT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules[0].attrs.reason->size(), policy::kMaxReasonLength);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("cut to 200"), std::string::npos);
}

class PcreErrors : public testing::TestWithParam<BadCase> {};

TEST_P(PcreErrors, NameTheLine) {
  const std::string msg = error_of<ImportError>([&] { pcre(GetParam().text); });
  EXPECT_NE(msg.find(GetParam().error), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Postfix, PcreErrors,
    testing::Values(BadCase{"/x/i REJECT\n", "t.pcre:1: flag 'i'"},
                    BadCase{"/x/x REJECT\n", "flag 'x'"},
                    BadCase{"/x/q REJECT\n", "unknown regex flag 'q'"},
                    BadCase{"/x/ FROBNICATE\n", "t.pcre:1: unknown action 'FROBNICATE'"},
                    BadCase{"/x/\n", "no action"}, BadCase{"/x REJECT\n", "no closing '/'"},
                    BadCase{"/(/ REJECT\n", "t.pcre:1: bad pattern"},
                    BadCase{"/x/ 250 fine\n", "unknown action '250'"},
                    BadCase{"/x/ REJECT caf\xc3\xa9\n", "printable ASCII"},
                    BadCase{"/x/ OK\nendif\n", "t.pcre:2: endif without if"},
                    BadCase{"/a/ OK\nif /x/\nif /y/\nendif\n", "t.pcre:2: if without endif"},
                    BadCase{"if /x/ REJECT\nendif\n", "text after the if condition"},
                    BadCase{"if /x/\nendif junk\n", "t.pcre:2: text after endif"},
                    BadCase{"iffy /x/\n", "expected /regex/ ACTION"},
                    BadCase{"  /x/ REJECT\n", "t.pcre:1: continuation line without a rule"},
                    BadCase{"/" + std::string(5000, 'a') + "/ REJECT\n", "longer than"},
                    BadCase{"/x/ REJECT\n/" + std::string(70000, 'a') + "/ REJECT\n",
                            "t.pcre:2: line longer"},
                    BadCase{std::string("/x/ RE\0JECT\n", 12), "NUL byte"}));

TEST(PostfixPcre, DeepNestingIsBounded) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "if /x" + std::to_string(i) + "/\n";
  EXPECT_NE(error_of<ImportError>([&] { pcre(text); }).find("nested deeper"), std::string::npos);
}

// Counts file lines whose action word is `action` (independent of the importer).
std::size_t count_action(const std::string& path, const std::string& action) {
  std::ifstream in(path);
  const std::regex re("^\\S.*\\s" + action + "(\\s|$)");
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#' && std::regex_search(line, re)) ++n;
  }
  return n;
}

TEST(PostfixPcre, FqrdnsImportsCompletely) {
  const std::string path = data_file("fqrdns.pcre");
  std::ifstream in(path);
  const auto r = parse_postfix_pcre(in, "fqrdns.pcre");
  std::size_t block = 0;
  std::size_t limit = 0;
  for (const auto& rule : r.rules) {
    if (rule.attrs.action == Action::block) ++block;
    if (rule.attrs.action == Action::limit) ++limit;
  }
  EXPECT_EQ(block, count_action(path, "REJECT"));
  EXPECT_EQ(limit, count_action(path, "DUNNO"));
  EXPECT_EQ(block, 1526u);
  EXPECT_EQ(limit, 2u);
  EXPECT_EQ(r.rules.size(), block + limit);
  EXPECT_TRUE(r.notes.empty());
  for (std::size_t i = 0; i < r.rules.size(); ++i) {
    ASSERT_EQ(r.rules[i].priority, static_cast<std::int64_t>(i + 1));
  }
  // Line 63 sits inside two nested if blocks.
  const Rule* telus = nullptr;
  for (const auto& rule : r.rules) {
    if (rule.comment == "import fqrdns.pcre:63") telus = &rule;
  }
  ASSERT_NE(telus, nullptr);
  EXPECT_EQ(telus->selector.terms().size(), 3u);
  EXPECT_EQ(telus->attrs.reason, "Dynamic - Please relay via ISP (telus.com)");
}

TEST(PostfixPcre, FqrdnsSnapshotBuildsAndBlocks) {
  std::ifstream in(data_file("fqrdns.pcre"));
  const auto r = parse_postfix_pcre(in, "fqrdns.pcre");
  Store s = Store::open(":memory:");
  s.init_defaults();
  apply_import(s, plan_import(s, r));
  const auto p = s.load_snapshot();
  ASSERT_NE(p, nullptr);
  auto resolve = [&](const std::string& name) {
    policy::Client c{policy::IpAddress::parse("198.51.100.20"), name, policy::RdnsStatus::ok};
    return p->resolve(c, policy::UnixTime{});
  };
  const auto hit = resolve("out-ab-12.wireless.telus.com");
  EXPECT_EQ(hit.limits.action, Action::block);
  EXPECT_EQ(hit.limits.reason, "Dynamic - Please relay via ISP (telus.com)");
  // DUNNO for a name that is a bare IPv4 address: limits stay, no block.
  const auto dunno = resolve("198.51.100.20");
  EXPECT_EQ(dunno.limits.action, Action::limit);
  EXPECT_EQ(dunno.limits.conn_limit, 3u);
}

// ---- plan / apply ----------------------------------------------------------

TEST(ImportPlan, MergesIntoExistingRulesAndAddsNewOnes) {
  Store s = Store::open(":memory:");
  s.init_defaults();
  const auto existing = s.add(make_rule("192.0.2.7", {{"conn_limit", "2"}}, 0, "mine"));
  s.add(make_rule("/^old/", {{"action", "block"}}, 10));
  const auto r = access(
      "ClientRate:192.0.2.7 5\n"
      "ClientRate:192.0.2.8 6\n"
      "ClientConn: 3\n");
  const auto rules_before = s.rules();
  const ImportPlan plan = plan_import(s, r);
  EXPECT_EQ(s.rules(), rules_before);  // planning is a dry run
  EXPECT_EQ(plan.added(), 1u);
  EXPECT_EQ(plan.updated(), 1u);
  EXPECT_EQ(plan.unchanged(), 1u);  // default already has conn_limit 3
  ASSERT_EQ(plan.changes.size(), 3u);
  EXPECT_EQ(plan.changes[0].kind, ImportChange::Kind::update);
  EXPECT_EQ(plan.changes[0].rule.id, existing);
  EXPECT_EQ(plan.changes[0].rule.comment, "mine");
  EXPECT_EQ(plan.changes[0].rule.attrs.conn_limit, 2u);

  apply_import(s, plan);
  const auto merged = s.find(existing);
  EXPECT_EQ(merged->attrs.conn_limit, 2u);
  EXPECT_EQ(merged->attrs.conn_rate, policy::Rate::parse("5/1m"));
  EXPECT_TRUE(s.find(Selector::parse("192.0.2.8")));
  // Importing the same again changes nothing.
  const auto again = plan_import(s, r);
  EXPECT_EQ(again.unchanged(), 3u);
}

TEST(ImportPlan, NewPatternsGoAfterTheStoredOnesInFileOrder) {
  Store s = Store::open(":memory:");
  s.add(make_rule("/^old/", {{"action", "block"}}, 10));
  const auto r = pcre("/^b/ REJECT\n/^old/ OK\n/^a/ REJECT\n");
  apply_import(s, plan_import(s, r));
  std::vector<std::string> sels;
  for (const auto& rule : s.rules())
    sels.push_back(rule.selector.text() + "@" + std::to_string(rule.priority));
  EXPECT_EQ(sels, (std::vector<std::string>{"/^old/@10", "/^b/@11", "/^a/@12"}));
  EXPECT_EQ(s.find(Selector::parse("/^old/"))->attrs.action, Action::allow);
}

TEST(ImportPlan, StalePlanChangesNothing) {
  Store s = Store::open(":memory:");
  s.add(make_rule("192.0.2.7", {{"conn_limit", "2"}}));
  const auto plan = plan_import(s, access("ClientRate:192.0.2.9 1\nClientRate:192.0.2.7 5\n"));
  s.update(make_rule("192.0.2.7", {{"conn_limit", "4"}}));
  const auto before = s.rules();
  EXPECT_NE(error_of<ImportError>([&] { apply_import(s, plan); }).find("changed since"),
            std::string::npos);
  EXPECT_EQ(s.rules(), before);
}

TEST(ImportPlan, DuplicateSelectorsInAResultAreRefused) {
  Store s = Store::open(":memory:");
  ImportResult r;
  r.rules = {make_rule("192.0.2.7", {{"action", "block"}}),
             make_rule("192.0.2.7/32", {{"action", "allow"}})};
  EXPECT_NE(error_of<ImportError>([&] { plan_import(s, r); }).find("two rules for 192.0.2.7"),
            std::string::npos);
}

}  // namespace
}  // namespace harden::db
