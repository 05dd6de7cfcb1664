// hardenctl_import_test.cpp - import (sendmail access, hosts.deny, Postfix
// pcre, YAML policy) and export through the binary: plans, dry runs, counts
// on the real fqrdns.pcre, line-numbered errors, and that a failed import
// leaves the store byte-for-byte as it was (export before == export after).
#include <chrono>
#include <fstream>

#include "hardenctl_fixture.hpp"

namespace harden::test {
namespace {

namespace fs = std::filesystem;

// Rules in a Postfix pcre table without continuation lines: lines that
// start with '/' ("if /re/" and "endif" only group them). Counted here from
// the file itself, independently of the importer.
std::size_t count_pcre_rules(const fs::path& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with('/')) ++n;
  }
  return n;
}

nlohmann::json without_ids(nlohmann::json rules) {
  for (auto& r : rules) r.erase("id");
  return rules;
}

class HardenctlImport : public HardenctlTest {
 protected:
  void SetUp() override { init_store(); }
  std::string data(std::string_view name) const { return test_data(name).string(); }
};

TEST_F(HardenctlImport, FqrdnsDryRunWritesNothingThenImportAddsEveryRule) {
  const std::string file = data("fqrdns.pcre");
  const std::size_t expected = count_pcre_rules(file);
  ASSERT_GT(expected, 1500u);

  const auto plan = parse_json(ctl({"import", "pcre", file, "--dry-run", "--json"}));
  EXPECT_EQ(plan["dry_run"], true);
  EXPECT_EQ(plan["added"], expected);
  EXPECT_EQ(plan["changes"].size(), expected);
  EXPECT_TRUE(parse_json(ctl({"rule", "list", "--kind", "pattern", "--json"})).empty());

  const ProcessResult r = ctl({"import", "pcre", file});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find(std::to_string(expected) + " added, 0 updated"), std::string::npos)
      << r.out.substr(r.out.size() > 300 ? r.out.size() - 300 : 0);
  const auto patterns = parse_json(ctl({"rule", "list", "--kind", "pattern", "--json"}));
  EXPECT_EQ(patterns.size(), expected);
  std::size_t blocks = 0, limits = 0;
  for (const auto& p : patterns) {
    if (p["attrs"]["action"] == "block") ++blocks;
    if (p["attrs"]["action"] == "limit") ++limits;
  }
  EXPECT_EQ(limits, 2u);  // the two DUNNO lines (naked IP addresses)
  EXPECT_EQ(blocks, expected - 2);
}

TEST_F(HardenctlImport, ImportingTheSameTableTwiceChangesNothing) {
  const std::string file = data("fqrdns.pcre");
  ASSERT_TRUE(succeeded(ctl({"import", "pcre", file})));
  const std::string before = export_policy();
  const auto again = parse_json(ctl({"import", "pcre", file, "--json"}));
  EXPECT_EQ(again["added"], 0);
  EXPECT_EQ(again["updated"], 0);
  EXPECT_EQ(again["unchanged"], count_pcre_rules(file));
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlImport, BrokenPcreFilesAreRefusedWithFileAndLine) {
  const std::string before = export_policy();
  struct Case {
    const char* file;
    const char* where;
  };
  for (const Case c : {Case{"cli/truncated.pcre", "truncated.pcre:3"},
                       Case{"cli/unbalanced.pcre", "unbalanced.pcre:"},
                       Case{"cli/stray_endif.pcre", "stray_endif.pcre:3"}}) {
    EXPECT_TRUE(is_usage_error(ctl({"import", "pcre", data(c.file)}), c.where)) << c.file;
    EXPECT_TRUE(is_usage_error(ctl({"import", "pcre", data(c.file), "--dry-run"}), c.where))
        << c.file;
  }
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlImport, SendmailAccessMergesEntriesPerKeyAndNotesSkippedLines) {
  const std::string file = data("cli/access");
  const ProcessResult dry = ctl({"import", "sendmail-access", file, "--dry-run"});
  ASSERT_TRUE(succeeded(dry));
  EXPECT_NE(dry.out.find("dry run: 3 to add"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("access:7"), std::string::npos) << "note on From: line\n" << dry.out;

  const auto result = parse_json(ctl({"import", "sendmail-access", file, "--json"}));
  EXPECT_EQ(result["added"], 3);
  ASSERT_EQ(result["notes"].size(), 1u);
  EXPECT_NE(result["notes"][0].get<std::string>().find("access:7"), std::string::npos);
  const auto host = rule_json("192.0.2.7");
  EXPECT_EQ(host["attrs"]["conn_limit"], "2");
  EXPECT_EQ(host["attrs"]["greet_pause"], "0");
  EXPECT_EQ(host["attrs"]["conn_rate"].get<std::string>().rfind("10/", 0), 0u) << host.dump();
  EXPECT_EQ(rule_json("198.51.100.9")["attrs"]["action"], "block");
  // Connect: OK escapes blocks but keeps the limits, as in sendmail.
  EXPECT_EQ(rule_json("203.0.113.25")["attrs"]["action"], "limit");
}

TEST_F(HardenctlImport, HostsDenyBlocksTheSendmailAndAllClients) {
  const auto result = parse_json(ctl({"import", "hosts-deny", data("cli/hosts.deny"), "--json"}));
  EXPECT_EQ(result["added"], 3);
  for (const char* s : {".adsl.alicedsl.de", ".dip.t-dialin.net", ".dialup.example.net"}) {
    const auto rule = rule_json(s);
    EXPECT_EQ(rule["kind"], "suffix") << s;
    EXPECT_EQ(rule["attrs"]["action"], "block") << s;
  }
}

TEST_F(HardenctlImport, ImportUpdatesAnExistingRuleAndShowsTheBefore) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "conn_limit=9", "max_rcpts=5"})));
  const auto plan =
      parse_json(ctl({"import", "sendmail-access", data("cli/access"), "--dry-run", "--json"}));
  EXPECT_EQ(plan["added"], 2);
  EXPECT_EQ(plan["updated"], 1);
  bool seen = false;
  for (const auto& c : plan["changes"]) {
    if (c["change"] != "update") continue;
    seen = true;
    EXPECT_EQ(c["before"]["attrs"]["conn_limit"], "9");
    EXPECT_EQ(c["rule"]["attrs"]["conn_limit"], "2");
    EXPECT_EQ(c["rule"]["attrs"]["max_rcpts"], "5");  // attributes the file does not set are kept
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(rule_json("192.0.2.7")["attrs"]["conn_limit"], "9");  // dry run
}

TEST_F(HardenctlImport, ImportReadsStandardInput) {
  ProcessOptions in;
  in.stdin_text = "sendmail: .dyn.example.org\n";
  const ProcessResult r = ctl({"import", "hosts-deny", "-"}, in);
  ASSERT_TRUE(succeeded(r));
  EXPECT_EQ(rule_json(".dyn.example.org")["attrs"]["action"], "block");
}

TEST_F(HardenctlImport, UnreadableImportFilesAreUsageErrors) {
  EXPECT_TRUE(
      is_usage_error(ctl({"import", "pcre", (dir() / "missing.pcre").string()}), "missing.pcre"));
  EXPECT_TRUE(is_usage_error(ctl({"import", "pcre", dir().string()}), "directory"));
  EXPECT_TRUE(
      is_usage_error(ctl({"import", "policy", (dir() / "missing.yaml").string()}), "missing.yaml"));
}

template <std::size_t N>
std::string bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

TEST_F(HardenctlImport, HostileFilesNeverCrash) {
  const std::vector<std::pair<std::string, std::string>> files{
      {"nul.pcre", bytes("/a\0b/ REJECT x\n")},
      {"long.pcre", "/" + std::string(1 << 20, 'a') + "/ REJECT x\n"},
      {"ctrl.pcre", "/\x1b[2J/ REJECT \x07\x08\n"},
      {"deep.pcre",
       [] {
         std::string s;
         for (int i = 0; i < 10000; ++i) s += "if /a/\n";
         return s;
       }()},
      {"binary.deny", bytes("\xff\xfe\x00\x01sendmail: .x\n")},
      {"nul.yaml", bytes("version: 1\nrules:\n  - selector: def\0ault\n")}};
  for (const auto& [name, content] : files) {
    write_file(dir() / name, content);
    const std::string format = name.ends_with(".pcre")   ? "pcre"
                               : name.ends_with(".yaml") ? "policy"
                                                         : "hosts-deny";
    const ProcessResult r = ctl({"import", format, (dir() / name).string()});
    EXPECT_EQ(r.signal, 0) << name;
    EXPECT_TRUE(r.exit_code == 0 || is_usage_error(r)) << name << ": " << r.err;
  }
  // Whatever was accepted, the store still loads and explains a client.
  EXPECT_TRUE(succeeded(ctl({"check", "192.0.2.7"})));
}

TEST_F(HardenctlImport, ExportImportExportIsByteIdentical) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.0/24", "conn_rate=10/1m", "conn_limit=5",
                             "--comment", "office \"main\" net"})));
  ASSERT_TRUE(
      succeeded(ctl({"rule", "add", ".adsl.alicedsl.de", "action=block",
                     "reason=Dial-in, relay via your ISP: 'see' #1", "--expires", "2099-06-30"})));
  ASSERT_TRUE(
      succeeded(ctl({"rule", "add", "2001:db8::/48", "msg_rate=100/1h", "rcpt_rate=500/1d"})));
  ASSERT_TRUE(
      succeeded(ctl({"rule", "set", "default", "dialin=monitor", "missing_rdns=tempfail"})));
  ASSERT_TRUE(succeeded(ctl({"import", "pcre", data("fqrdns.pcre")})));
  const std::string first = export_policy();
  ASSERT_FALSE(first.empty());

  const fs::path yaml = dir() / "policy.yaml";
  const ProcessResult written = ctl({"export", "--output", yaml.string()});
  ASSERT_TRUE(succeeded(written));
  EXPECT_EQ(read_file(yaml), first);

  const fs::path fresh = dir() / "fresh.db";
  ASSERT_TRUE(succeeded(ctl_at(fresh, {"init"})));
  ASSERT_TRUE(succeeded(ctl_at(fresh, {"import", "policy", yaml.string()})));
  const ProcessResult second = ctl_at(fresh, {"export"});
  ASSERT_TRUE(succeeded(second));
  EXPECT_EQ(second.out, first);
  EXPECT_EQ(without_ids(parse_json(ctl_at(fresh, {"rule", "list", "--json"}))),
            without_ids(rules_json()));
}

TEST_F(HardenctlImport, PolicyImportDryRunShowsAddsAndRemovesAndWritesNothing) {
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"})));
  const fs::path yaml = dir() / "policy.yaml";
  ASSERT_TRUE(succeeded(ctl({"export", "--output", yaml.string()})));
  ASSERT_TRUE(succeeded(ctl({"rule", "remove", "192.0.2.7"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "198.51.100.0/24", "conn_limit=4"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "conn_limit=9"})));
  const std::string before = export_policy();

  const auto plan = parse_json(ctl({"import", "policy", yaml.string(), "--dry-run", "--json"}));
  EXPECT_EQ(plan["added"], 1);
  EXPECT_EQ(plan["updated"], 1);
  EXPECT_EQ(plan["removed"], 1);
  EXPECT_EQ(plan["unchanged"], 2);
  EXPECT_EQ(export_policy(), before);

  ASSERT_TRUE(succeeded(ctl({"import", "policy", yaml.string()})));
  EXPECT_EQ(read_file(yaml), export_policy());
}

TEST_F(HardenctlImport, BadPolicyFilesAreRefusedAndWriteNothing) {
  const std::string before = export_policy();
  const fs::path yaml = dir() / "policy.yaml";
  ASSERT_TRUE(succeeded(ctl({"export", "--output", yaml.string()})));
  const std::string good = read_file(yaml);

  write_file(dir() / "unknown_key.yaml", good + "    frobnicate: 3\n");
  EXPECT_TRUE(is_usage_error(ctl({"import", "policy", (dir() / "unknown_key.yaml").string()}),
                             "unknown_key.yaml:"));
  write_file(dir() / "no_default.yaml",
             "version: 1\nrules:\n  - selector: 192.0.2.7\n    conn_limit: 1\n");
  EXPECT_TRUE(
      is_usage_error(ctl({"import", "policy", (dir() / "no_default.yaml").string()}), "default"));
  write_file(dir() / "bad_value.yaml",
             "version: 1\nrules:\n  - selector: default\n    conn_limit: -1\n");
  EXPECT_TRUE(is_usage_error(ctl({"import", "policy", (dir() / "bad_value.yaml").string()}),
                             "bad_value.yaml:4"));
  write_file(dir() / "not_yaml.yaml", "rules: [\n");
  EXPECT_TRUE(is_usage_error(ctl({"import", "policy", (dir() / "not_yaml.yaml").string()}),
                             "not_yaml.yaml"));
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlImport, ExportIntoAMissingDirectoryFailsAndLeavesNoFile) {
  const fs::path out = dir() / "nope" / "policy.yaml";
  EXPECT_TRUE(is_usage_error(ctl({"export", "--output", out.string()}), "nope"));
  EXPECT_FALSE(fs::exists(out.parent_path()));
  EXPECT_TRUE(is_usage_error(ctl({"export", "--output", dir().string()}), "directory"));
}

TEST_F(HardenctlImport, ExportHasNoTimestamp) {
  const std::string text = export_policy();
  const std::chrono::year_month_day today{
      std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  EXPECT_EQ(text.find(std::to_string(static_cast<int>(today.year()))), std::string::npos) << text;
}

}  // namespace
}  // namespace harden::test
