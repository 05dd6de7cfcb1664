// hardenctl_fixture.hpp - what the hardenctl integration tests share.
//
// SYNOPSIS
//   class MyTest : public HardenctlTest {};
//   TEST_F(MyTest, X) {
//     init_store();                                   hardenctl --db <tmp>/policy.db init
//     ProcessResult r = ctl({"rule", "list", "--json"});   adds --db <tmp>/policy.db
//     nlohmann::json j = parse_json(r);
//     EXPECT_TRUE(is_usage_error(ctl({"rule", "add", "1.2.3.4/33", "conn_limit=1"}), "33"));
//   }
//
// Every test gets its own temp dir (mkdtemp), removed afterwards. The binary
// is HARDENCTL_PATH, run through run_process (no shell); HARDEN_DB is removed
// from its environment unless a test sets it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "subprocess.hpp"

namespace harden::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::string_view content);
std::filesystem::path test_data(std::string_view name);  // under HARDEN_TEST_DATA_DIR

// Exit 2, nothing on stdout, exactly one line on stderr starting
// "hardenctl: " with no control bytes, containing `needle`.
::testing::AssertionResult is_usage_error(const ProcessResult& r, std::string_view needle = "");
// Exit 0 and nothing on stderr.
::testing::AssertionResult succeeded(const ProcessResult& r);

class HardenctlTest : public ::testing::Test {
 protected:
  std::filesystem::path db() const { return dir_.path() / "policy.db"; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  // hardenctl --db db() ARGS...
  ProcessResult ctl(const std::vector<std::string>& args, ProcessOptions o = {}) const;
  // hardenctl ARGS... (no --db added)
  ProcessResult ctl_raw(const std::vector<std::string>& args, ProcessOptions o = {}) const;
  ProcessResult ctl_at(const std::filesystem::path& store,
                       const std::vector<std::string>& args) const;

  void init_store() const;
  std::string export_policy() const;                            // `export` of db(), must succeed
  nlohmann::json rules_json() const;                            // `rule list --json` of db()
  nlohmann::json rule_json(const std::string& selector) const;  // `rule show --json`
  static nlohmann::json parse_json(const ProcessResult& r);

 private:
  TempDir dir_;
};

}  // namespace harden::test
