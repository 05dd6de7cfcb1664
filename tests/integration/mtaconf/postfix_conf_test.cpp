// postfix_conf_test.cpp - `hardenctl gen postfix` and `gen postfix-tables`
// through the installed Postfix tools (Debian postfix, postfix-pcre):
//   - postconf -c DIR -n over a main.cf holding the generated lines prints
//     no warning (unknown or unused parameters, bad lists) and reads back
//     every generated parameter, for a plain and a hostile policy;
//   - postmap -q over the generated cidr and pcre tables, evaluated the way
//     smtpd's check_client_access does, decides what `hardenctl check`
//     decides for a sample of addresses and names, fqrdns.pcre included.
// postconf and postmap need no root and start no daemon.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../../unit/mtaconf/test_policy.hpp"
#include "harden/db/importers.hpp"
#include "harden/db/store.hpp"
#include "harden/mtaconf/postfix.hpp"
#include "mta_tools.hpp"

namespace harden::mtaconf::itest {
namespace {

using namespace mtaconf::test;
using ::testing::HasSubstr;

bool have_postfix() {
  return run({"postconf", "-d", "mail_version"}).exit_code == 0;
}

class PostfixConf : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_postfix()) GTEST_SKIP() << "postfix is not installed (scripts/install-deps.sh)";
    db_ = dir_.path() / "policy.db";
    db::Store::open(db_).init_defaults();
    conf_ = dir_.path() / "conf";
    tables_ = dir_.path() / "tables";
    fs::create_directories(conf_);
    fs::create_directories(tables_);
    // postconf reads master.cf too; Debian's own keeps it quiet.
    fs::copy_file("/usr/share/postfix/master.cf.dist", conf_ / "master.cf");
  }

  ToolResult hardenctl(std::vector<std::string> args) {
    args.insert(args.begin(), {HARDENCTL_PATH, "--db", db_.string()});
    return run(args);
  }

  void replace_policy(std::vector<policy::Rule> rules) {
    auto store = db::Store::open(db_);
    store.transaction([&] {
      for (const auto& r : store.rules()) store.remove(r.selector);
      for (auto& r : rules) store.add(r);
    });
  }

  // `gen postfix` into main.cf, then postconf -n: no warning, and every
  // generated parameter reads back.
  void expect_postconf_clean(const std::vector<std::string>& extra) {
    std::vector<std::string> args{"gen", "postfix", "--table-dir", tables_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const ToolResult gen = hardenctl(args);
    ASSERT_EQ(gen.exit_code, 0) << gen.err;
    write_file(conf_ / "main.cf", "compatibility_level = 3.6\n" + gen.out);
    const ToolResult pc = run({"postconf", "-c", conf_.string(), "-n"});
    EXPECT_EQ(pc.exit_code, 0);
    const auto unused = expected_warnings(gen.out);
    EXPECT_EQ(as_set(pc.err), unused) << "postconf warned over:\n" << gen.out;
    std::set<std::string> generated;
    for (const auto& l : lines(gen.out)) {
      if (!l.empty() && l[0] != '#' && l[0] != ' ') generated.insert(l.substr(0, l.find(" = ")));
    }
    ASSERT_FALSE(generated.empty());
    for (const auto& name : generated) {
      if (std::any_of(unused.begin(), unused.end(),
                      [&](const std::string& w) { return w.find(" " + name + "=") != w.npos; }))
        continue;
      const std::string all = "\n" + pc.out;
      EXPECT_TRUE(all.find("\n" + name + " = ") != std::string::npos ||
                  all.find("\n" + name + " =\n") != std::string::npos)
          << name;
    }
    // postconf's view of the one multi-line value equals ours.
    const ToolResult ex = run({"postconf", "-c", conf_.string(), "-h",
                               "smtpd_client_event_limit_exceptions", "smtpd_milters"});
    EXPECT_EQ(as_set(ex.err), unused);
    last_main_cf_ = gen.out;
    last_postconf_h_ = ex.out;
  }

  // The installed Postfix 3.7 does not know the 3.8 prefix lengths: what
  // --postfix-version 3.8+ adds must be exactly what it calls unused.
  std::set<std::string> expected_warnings(const std::string& generated) const {
    const std::string version = run({"postconf", "-d", "-h", "mail_version"}).out;
    if (!version.starts_with("3.7.")) return {};
    std::set<std::string> out;
    for (const auto& l : lines(generated)) {
      if (l.starts_with("smtpd_client_ipv4_prefix_length = ") ||
          l.starts_with("smtpd_client_ipv6_prefix_length = ")) {
        out.insert("postconf: warning: " + (conf_ / "main.cf").string() + ": unused parameter: " +
                   l.substr(0, l.find(' ')) + "=" + l.substr(l.find(" = ") + 3));
      }
    }
    return out;
  }

  static std::set<std::string> as_set(const std::string& text) {
    const auto l = lines(text);
    return {l.begin(), l.end()};
  }

  TempDir dir_;
  fs::path db_, conf_, tables_;
  std::string last_main_cf_, last_postconf_h_;
};

TEST_F(PostfixConf, PostconfTakesTheLinesWithoutAWarning) {
  replace_policy(
      {R("default", {{"conn_rate", "10/1m"},
                     {"conn_limit", "5"},
                     {"msg_rate", "30/1m"},
                     {"rcpt_rate", "200/1h"},
                     {"max_rcpts", "50"},
                     {"bad_rcpt_throttle", "25"},
                     {"greet_pause", "2s"},
                     {"missing_rdns", "tempfail"}}),
       R("127.0.0.0/8", {{"action", "allow"}}), R("127.0.0.9", {{"action", "limit"}}),
       R("2001:db8::/32", {{"action", "allow"}}), R("mx.example.org", {{"action", "allow"}}),
       R(".relay.example", {{"action", "allow"}}), R(".slow.example", {{"greet_pause", "20s"}})});
  expect_postconf_clean({});
  EXPECT_EQ(last_postconf_h_,
            "!127.0.0.9, [2001:db8::]/32, 127.0.0.0/8, mx.example.org, .relay.example\n"
            "inet:127.0.0.1:8894\n");
  expect_postconf_clean({"--postfix-version", "3.8+", "--postscreen", "--no-milter"});
  expect_postconf_clean(
      {"--milter", "unix:milter-harden/milter.sock", "--milter-default-action", "tempfail"});
}

TEST_F(PostfixConf, HostileReasonsAndPatternsStayInTheirTables) {
  replace_policy({R("default", {{"action", "block"}, {"reason", "closed $mydomain = }"}}),
                  R("192.0.2.0/24", {{"action", "block"}, {"reason", "no ${x} $1 $$ }{ = ,"}}),
                  R("/dsl\\/x$/", {{"action", "tempfail"}, {"reason", "dyn $1 ${2} $$"}}),
                  R("/^(a)(b)/ && !/c/", {{"action", "block"}, {"reason", "$1$2"}})});
  expect_postconf_clean({});
  ASSERT_EQ(hardenctl({"gen", "postfix-tables", tables_.string()}).exit_code, 0);
  const std::string cidr = "cidr:" + (tables_ / kPostfixCidrTable).string();
  const std::string pcre = "pcre:" + (tables_ / kPostfixNameTable).string();
  auto q = [&](const std::string& key, const std::string& map) {
    const ToolResult r = run({"postmap", "-c", conf_.string(), "-q", key, map});
    EXPECT_EQ(r.err, "") << key;
    return r.out;
  };
  EXPECT_EQ(q("192.0.2.7", cidr), "550 5.7.1 no ${x} $1 $$ }{ = ,\n");
  EXPECT_EQ(q("dsl/x", pcre), "421 4.7.0 dyn $1 ${2} $$\n");
  EXPECT_EQ(q("abz", pcre), "550 5.7.1 $1$2\n");
  EXPECT_EQ(q("abc", pcre), "550 5.7.1 closed $mydomain = }\n");  // the default rule
  // Both files are world-readable whatever the umask.
  for (auto name : {kPostfixCidrTable, kPostfixNameTable}) {
    struct stat st {};
    ASSERT_EQ(::stat((tables_ / name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << name;
  }
}

// --- the tables against hardenctl check ---------------------------------------------

struct Sample {
  std::string address;
  std::string name;  // verified rDNS name, "" for none
};

// smtpd's check_client_access over the generated tables: the cidr table
// with the address; its catch-all hands over to the class, whose pcre table
// is asked the verified name ("unknown" without one), then the address.
class PostfixEval {
 public:
  PostfixEval(fs::path conf, fs::path tables)
      : conf_(std::move(conf)), tables_(std::move(tables)) {}

  // One postmap -q - run per table for all keys: key -> result.
  std::map<std::string, std::string> lookup(const std::string& map,
                                            const std::set<std::string>& keys) {
    std::string input;
    for (const auto& k : keys) input += k + "\n";
    const ToolResult r = run({"postmap", "-c", conf_.string(), "-q", "-", map}, input);
    EXPECT_EQ(r.err, "");
    std::map<std::string, std::string> out;
    for (const auto& l : lines(r.out)) {
      const auto tab = l.find('\t');
      if (tab != std::string::npos) out[l.substr(0, tab)] = l.substr(tab + 1);
    }
    return out;
  }

  // Per sample: "allow", "block", "tempfail" or "limit", and the reply text.
  std::vector<std::pair<std::string, std::string>> decide(const std::vector<Sample>& samples) {
    const std::string cidr = "cidr:" + (tables_ / kPostfixCidrTable).string();
    const std::string pcre = "pcre:" + (tables_ / kPostfixNameTable).string();
    std::set<std::string> addrs, names;
    for (const auto& s : samples) {
      addrs.insert(s.address);
      names.insert(s.name.empty() ? "unknown" : s.name);
    }
    const auto by_addr = lookup(cidr, addrs);
    auto name_keys = names;
    name_keys.insert(addrs.begin(), addrs.end());
    const auto by_name = lookup(pcre, name_keys);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : samples) {
      std::string result;
      if (auto a = by_addr.find(s.address); a != by_addr.end()) result = a->second;
      if (result == kPostfixNamesClass) {
        result.clear();
        if (auto n = by_name.find(s.name.empty() ? "unknown" : s.name); n != by_name.end()) {
          result = n->second;
        } else if (auto a = by_name.find(s.address); a != by_name.end()) {
          result = a->second;
        }
      }
      out.push_back(classify(result));
    }
    return out;
  }

 private:
  static std::pair<std::string, std::string> classify(const std::string& result) {
    if (result == "OK") return {"allow", ""};
    if (result.starts_with("550 5.7.1 ")) return {"block", result.substr(10)};
    if (result.starts_with("421 4.7.0 ")) return {"tempfail", result.substr(10)};
    EXPECT_TRUE(result.empty() || result == "DUNNO") << result;
    return {"limit", ""};
  }

  fs::path conf_, tables_;
};

TEST_F(PostfixConf, TablesDecideAsHardenctlCheckDoes) {
  std::ifstream in(std::string(HARDEN_TEST_DATA_DIR) + "/fqrdns.pcre");
  auto imported = db::parse_postfix_pcre(in, "fqrdns.pcre");
  ASSERT_GT(imported.rules.size(), 1000u);
  auto rules = std::move(imported.rules);
  rules.push_back(R("default", {{"conn_rate", "5/1m"}}));
  rules.push_back(R("192.0.2.0/24", {{"action", "block"}, {"reason", "net $x"}}));
  rules.push_back(R("192.0.2.128/25", {{"action", "limit"}}));
  rules.push_back(R("192.0.2.200", {{"action", "allow"}}));
  rules.push_back(R("2001:db8:bad::/48", {{"action", "tempfail"}}));
  rules.push_back(R(".caiway.nl", {{"action", "allow"}}));
  rules.push_back(R("mail.dyn.centurytel.net", {{"action", "block"}, {"reason", "one host"}}));
  replace_policy(std::move(rules));
  ASSERT_EQ(hardenctl({"gen", "postfix-tables", tables_.string()}).exit_code, 0);
  write_file(conf_ / "main.cf", "compatibility_level = 3.6\n");

  const std::vector<std::string> names{"host-7.dynamic.caiway.nl",
                                       "x1.dyn.centurytel.net",
                                       "mail.dyn.centurytel.net",
                                       "mail.example.org",
                                       "dsl-1-2-3-4.example.net",
                                       "ppp-203-0-113-5.example.com",
                                       "static-5.example.com",
                                       "cpe-1-2-3-4.cable.example",
                                       "dhcp-77.pool.example.de",
                                       "adsl-1-2-3-4.dsl.example.net",
                                       "unknown-host.example",
                                       "pool-1-2-3-4.isp.example",
                                       "c-1-2-3-4.hsd1.ca.comcast.net",
                                       "1-2-3-4.dynamic.example.org",
                                       "mx1.example.net"};
  const std::vector<std::string> addrs{"203.0.113.5", "192.0.2.7",       "192.0.2.130",
                                       "192.0.2.200", "2001:db8:bad::1", "2001:db8::1"};
  std::vector<Sample> samples;
  for (const auto& a : addrs) {
    samples.push_back({a, ""});
    for (const auto& n : names) samples.push_back({a, n});
  }
  std::string batch;
  for (const auto& s : samples) batch += s.address + " " + (s.name.empty() ? "-" : s.name) + "\n";
  write_file(dir_.path() / "batch", batch);
  const ToolResult check = hardenctl(
      {"check", "--batch", (dir_.path() / "batch").string(), "--json", "--greet-pause-cap", "9s"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  const auto checked = lines(check.out);
  ASSERT_EQ(checked.size(), samples.size());

  const auto got = PostfixEval(conf_, tables_).decide(samples);
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto j = nlohmann::json::parse(checked[i]);
    const std::string want = j["limits"]["action"]["value"];
    const std::string who = samples[i].address + " " + samples[i].name;
    EXPECT_EQ(got[i].first, want) << who;
    if (want == "block" || want == "tempfail") {
      EXPECT_EQ(got[i].second, j["verdict"]["reason"].get<std::string>().empty()
                                   ? "Access denied"
                                   : j["verdict"]["reason"].get<std::string>())
          << who;
    }
    ++seen[want];
  }
  // The sample reaches every kind of answer, so a table that answers one
  // thing for everything fails.
  EXPECT_GT(seen["block"], 10) << "blocks";
  EXPECT_GT(seen["allow"], 5);
  EXPECT_GT(seen["tempfail"], 5);
  EXPECT_GT(seen["limit"], 5);
}

}  // namespace
}  // namespace harden::mtaconf::itest
