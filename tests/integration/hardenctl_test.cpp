// hardenctl_test.cpp - hardenctl as a program: help, exit codes, init, and
// every way the store itself can be wrong (missing, directory, not SQLite,
// read-only, failing writes). The built binary runs as a subprocess.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harden/policy/rule.hpp"
#include "hardenctl_fixture.hpp"

namespace harden::test {
namespace {

namespace fs = std::filesystem;

class HardenctlBasics : public HardenctlTest {};

TEST_F(HardenctlBasics, HelpListsEveryCommandAndExitsZero) {
  const ProcessResult r = ctl_raw({"--help"});
  ASSERT_TRUE(succeeded(r));
  for (const char* word :
       {"init", "rule", "import", "export", "check", "--db", "HARDEN_DB", "Examples"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }
}

TEST_F(HardenctlBasics, EveryCommandHasHelpWithExamples) {
  const std::vector<std::vector<std::string>> commands{{"init"},
                                                       {"rule"},
                                                       {"rule", "add"},
                                                       {"rule", "set"},
                                                       {"rule", "remove"},
                                                       {"rule", "list"},
                                                       {"rule", "show"},
                                                       {"import"},
                                                       {"import", "sendmail-access"},
                                                       {"import", "hosts-deny"},
                                                       {"import", "pcre"},
                                                       {"import", "policy"},
                                                       {"export"},
                                                       {"backup"},
                                                       {"check"}};
  for (auto args : commands) {
    args.push_back("--help");
    const ProcessResult r = ctl_raw(args);
    EXPECT_TRUE(succeeded(r)) << args[0];
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("hardenctl " + args[0]), std::string::npos) << r.out;
  }
}

TEST_F(HardenctlBasics, RuleHelpListsEveryAttributeOfTheTable) {
  const ProcessResult r = ctl_raw({"rule", "add", "--help"});
  ASSERT_TRUE(succeeded(r));
  for (const auto& info : policy::attributes()) {
    EXPECT_NE(r.out.find(std::string(info.name)), std::string::npos) << info.name;
    EXPECT_NE(r.out.find(std::string(info.value_syntax)), std::string::npos) << info.value_syntax;
  }
}

TEST_F(HardenctlBasics, VersionExitsZero) {
  const ProcessResult r = ctl_raw({"--version"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("hardenctl"), std::string::npos);
}

TEST_F(HardenctlBasics, ParseErrorsExitTwoWithOneLine) {
  EXPECT_TRUE(is_usage_error(ctl_raw({}), "subcommand"));
  EXPECT_TRUE(is_usage_error(ctl_raw({"frobnicate"})));
  EXPECT_TRUE(is_usage_error(ctl_raw({"--no-such-option"})));
  EXPECT_TRUE(is_usage_error(ctl_raw({"rule"}), "hardenctl rule --help"));
  EXPECT_TRUE(is_usage_error(ctl_raw({"rule", "add"}), "hardenctl rule add --help"));
  EXPECT_TRUE(is_usage_error(ctl_raw({"rule", "list", "--kind", "nonsense"})));
  EXPECT_TRUE(is_usage_error(ctl_raw({"check"})));
  EXPECT_TRUE(is_usage_error(ctl_raw({"import", "xml", "f"})));
  EXPECT_TRUE(is_usage_error(ctl_raw({"--db"})));
}

TEST_F(HardenctlBasics, InitSeedsTheSendmailDefaultsAndLoopback) {
  const ProcessResult r = ctl({"init"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("initialized"), std::string::npos);
  const auto def = rule_json("default");
  EXPECT_EQ(def["kind"], "default");
  EXPECT_EQ(def["attrs"]["conn_rate"], "5/1m");
  EXPECT_EQ(def["attrs"]["conn_limit"], "3");
  EXPECT_EQ(def["attrs"]["greet_pause"], "2000");
  EXPECT_EQ(def["attrs"]["max_rcpts"], "25");
  EXPECT_EQ(def["attrs"]["bad_rcpt_throttle"], "2");
  EXPECT_EQ(rule_json("127.0.0.0/8")["attrs"]["action"], "allow");
  EXPECT_EQ(rule_json("::1")["attrs"]["action"], "allow");
}

TEST_F(HardenctlBasics, InitTwiceRefusesAndSaysHowToReset) {
  init_store();
  ASSERT_TRUE(succeeded(ctl({"rule", "set", "default", "conn_limit=7"})));
  const std::string before = export_policy();
  EXPECT_TRUE(is_usage_error(ctl({"init"}), "already initialized"));
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlBasics, InitInAMissingDirectoryFailsCleanly) {
  const fs::path store = dir() / "no" / "such" / "policy.db";
  EXPECT_TRUE(is_usage_error(ctl_at(store, {"init"}), "does not exist"));
  EXPECT_FALSE(fs::exists(store));
}

TEST_F(HardenctlBasics, MissingStoreSuggestsInitAndCreatesNothing) {
  const std::vector<std::vector<std::string>> commands{
      {"rule", "list"},
      {"rule", "show", "default"},
      {"rule", "add", "192.0.2.7", "conn_limit=1"},
      {"rule", "set", "default", "conn_limit=1"},
      {"rule", "remove", "192.0.2.7"},
      {"export"},
      {"check", "192.0.2.7"},
      {"import", "pcre", test_data("fqrdns.pcre").string()}};
  for (const auto& args : commands) {
    EXPECT_TRUE(is_usage_error(ctl(args), "hardenctl init")) << args[0];
    EXPECT_FALSE(fs::exists(db()));
  }
}

TEST_F(HardenctlBasics, StoreThatIsADirectoryIsRefused) {
  fs::create_directory(db());
  EXPECT_TRUE(is_usage_error(ctl({"rule", "list"}), "directory"));
  EXPECT_TRUE(is_usage_error(ctl({"init"}), "directory"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"}), "directory"));
}

TEST_F(HardenctlBasics, StoreThatIsNotSqliteIsRefusedAndLeftAlone) {
  const std::string garbage = "this is not a database\n" + std::string(5000, 'x');
  write_file(db(), garbage);
  EXPECT_TRUE(is_usage_error(ctl({"rule", "list"})));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"})));
  EXPECT_TRUE(is_usage_error(ctl({"init"})));
  EXPECT_TRUE(is_usage_error(ctl({"check", "192.0.2.7"})));
  EXPECT_EQ(read_file(db()), garbage);
}

TEST_F(HardenctlBasics, EmptyFileIsNotAnInitializedStoreAndStaysEmpty) {
  write_file(db(), "");
  EXPECT_TRUE(is_usage_error(ctl({"rule", "list"}), "hardenctl init"));
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"}), "hardenctl init"));
  EXPECT_EQ(fs::file_size(db()), 0u);
  ASSERT_TRUE(succeeded(ctl({"init"})));
  EXPECT_EQ(rule_json("default")["attrs"]["conn_limit"], "3");
}

TEST_F(HardenctlBasics, ReadOnlyStoreRefusesWritesButAllowsReads) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root ignores file permissions; FailingWritesLeaveTheStoreUnchanged covers "
                    "write failures for root";
  }
  init_store();
  const std::string before = export_policy();
  fs::permissions(db(), fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "192.0.2.7", "conn_limit=1"}), "not writable"));
  EXPECT_TRUE(
      is_usage_error(ctl({"import", "pcre", test_data("fqrdns.pcre").string()}), "not writable"));
  EXPECT_TRUE(succeeded(ctl({"rule", "list"})));
  EXPECT_EQ(export_policy(), before);
}

TEST_F(HardenctlBasics, FailingWritesLeaveTheStoreUnchanged) {
  init_store();
  const std::string before = export_policy();
  // RLIMIT_FSIZE makes writes that grow a file fail with EFBIG, even for root:
  // at 0 the store cannot even be opened for writing; at 64 KiB the import of
  // 1,500 rules fails in the middle of its transaction.
  for (const rlim_t limit : {rlim_t{0}, rlim_t{64 * 1024}}) {
    ProcessOptions limited;
    limited.file_size_limit = limit;
    const ProcessResult r = ctl({"import", "pcre", test_data("fqrdns.pcre").string()}, limited);
    EXPECT_TRUE(is_usage_error(r)) << "limit " << limit;
    EXPECT_EQ(export_policy(), before) << "limit " << limit;
  }
}

TEST_F(HardenctlBasics, DbComesFromEnvironmentAndOptionOverridesIt) {
  init_store();
  const fs::path other = dir() / "other.db";
  ProcessOptions env;
  env.set_env = {{"HARDEN_DB", db().string()}};
  ASSERT_TRUE(succeeded(ctl_raw({"rule", "add", "192.0.2.7", "conn_limit=1"}, env)));
  EXPECT_EQ(rule_json("192.0.2.7")["attrs"]["conn_limit"], "1");
  // --db wins over HARDEN_DB, before or after the command.
  EXPECT_TRUE(
      is_usage_error(ctl_raw({"--db", other.string(), "rule", "list"}, env), other.string()));
  EXPECT_TRUE(
      is_usage_error(ctl_raw({"rule", "list", "--db", other.string()}, env), other.string()));
}

TEST_F(HardenctlBasics, DbOptionWorksAfterTheCommand) {
  init_store();
  EXPECT_TRUE(succeeded(ctl_raw({"rule", "list", "--db", db().string()})));
  EXPECT_TRUE(
      succeeded(ctl_raw({"rule", "add", "192.0.2.9", "conn_limit=2", "--db", db().string()})));
  EXPECT_EQ(rule_json("192.0.2.9")["attrs"]["conn_limit"], "2");
}

TEST_F(HardenctlBasics, EmptyDbPathIsAUsageError) {
  EXPECT_TRUE(is_usage_error(ctl_raw({"--db", "", "rule", "list"}), "--db"));
}

// Issue 8: a store moved over the old one with `mv` is read as the new file
// (a persisted -wal of the old store was replayed onto it).
TEST_F(HardenctlBasics, StoreReplacedByRenameIsReadAsTheNewFile) {
  const auto other = dir() / "n.db";
  ASSERT_TRUE(succeeded(ctl({"init"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.50", "action=block"})));
  ASSERT_TRUE(succeeded(ctl_at(other, {"init"})));
  ASSERT_TRUE(succeeded(ctl_at(other, {"rule", "add", "192.0.2.60", "action=block"})));
  std::filesystem::rename(other, db());
  const ProcessResult r = ctl({"rule", "list"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("192.0.2.60"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("192.0.2.50"), std::string::npos) << r.out;
}

TEST_F(HardenctlBasics, BackupWritesAConsistentCopyThatReadsAlone) {
  ASSERT_TRUE(succeeded(ctl({"init"})));
  ASSERT_TRUE(succeeded(ctl({"rule", "add", "192.0.2.70", "action=block"})));
  const auto copy = dir() / "sub" / "copy.db";
  std::filesystem::create_directories(copy.parent_path());
  ASSERT_TRUE(succeeded(ctl({"backup", copy.string()})));
  EXPECT_FALSE(std::filesystem::exists(copy.string() + "-wal"));
  const ProcessResult r = ctl_at(copy, {"rule", "list"});
  ASSERT_TRUE(succeeded(r));
  EXPECT_NE(r.out.find("192.0.2.70"), std::string::npos) << r.out;
  // Again over the existing copy; the store itself is refused as destination.
  ASSERT_TRUE(succeeded(ctl({"backup", copy.string()})));
  EXPECT_TRUE(is_usage_error(ctl({"backup", db().string()}), "store itself"));
  EXPECT_TRUE(is_usage_error(ctl({"backup", (dir() / "nodir" / "x.db").string()})));
  EXPECT_TRUE(std::filesystem::equivalent(db(), db()));
}

}  // namespace
}  // namespace harden::test
