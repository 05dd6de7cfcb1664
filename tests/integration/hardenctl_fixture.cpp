// hardenctl_fixture.cpp - temp dirs, file helpers and the hardenctl runner for tests.
#include "hardenctl_fixture.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace harden::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "hardenctl-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

fs::path test_data(std::string_view name) {
  return fs::path(HARDEN_TEST_DATA_DIR) / name;
}

namespace {

::testing::AssertionResult describe(::testing::AssertionResult res, const ProcessResult& r) {
  return res << "\n  exit " << r.exit_code << " signal " << r.signal
             << "\n  stdout: " << r.out.substr(0, 2000) << "\n  stderr: " << r.err.substr(0, 2000);
}

bool has_control_bytes(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

::testing::AssertionResult is_usage_error(const ProcessResult& r, std::string_view needle) {
  auto fail = [&](const char* why) { return describe(::testing::AssertionFailure() << why, r); };
  if (r.signal != 0) return fail("killed by a signal");
  if (r.exit_code != 2) return fail("exit code is not 2");
  if (!r.out.empty()) return fail("stdout is not empty");
  if (r.err.rfind("hardenctl: ", 0) != 0) return fail("stderr does not start with 'hardenctl: '");
  if (r.err.empty() || r.err.back() != '\n') return fail("stderr does not end in a newline");
  if (has_control_bytes(std::string_view(r.err).substr(0, r.err.size() - 1))) {
    return fail("stderr is not one clean line");
  }
  if (r.err.find(needle) == std::string::npos) {
    return fail("stderr does not mention the expected text") << " '" << needle << "'";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult succeeded(const ProcessResult& r) {
  if (r.signal == 0 && r.exit_code == 0 && r.err.empty()) return ::testing::AssertionSuccess();
  return describe(::testing::AssertionFailure() << "command failed", r);
}

ProcessResult HardenctlTest::ctl(const std::vector<std::string>& args, ProcessOptions o) const {
  std::vector<std::string> a{"--db", db().string()};
  a.insert(a.end(), args.begin(), args.end());
  return ctl_raw(a, std::move(o));
}

ProcessResult HardenctlTest::ctl_raw(const std::vector<std::string>& args, ProcessOptions o) const {
  bool sets_db = false;
  for (const auto& [k, v] : o.set_env) sets_db = sets_db || k == "HARDEN_DB";
  if (!sets_db) o.unset_env.push_back("HARDEN_DB");
  return run_process(HARDENCTL_PATH, args, o);
}

ProcessResult HardenctlTest::ctl_at(const fs::path& store,
                                    const std::vector<std::string>& args) const {
  std::vector<std::string> a{"--db", store.string()};
  a.insert(a.end(), args.begin(), args.end());
  return ctl_raw(a);
}

void HardenctlTest::init_store() const {
  const ProcessResult r = ctl({"init"});
  ASSERT_TRUE(succeeded(r));
}

std::string HardenctlTest::export_policy() const {
  const ProcessResult r = ctl({"export"});
  EXPECT_TRUE(succeeded(r));
  return r.out;
}

nlohmann::json HardenctlTest::parse_json(const ProcessResult& r) {
  EXPECT_TRUE(succeeded(r));
  try {
    return nlohmann::json::parse(r.out);
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out.substr(0, 2000);
    return nullptr;
  }
}

nlohmann::json HardenctlTest::rules_json() const {
  return parse_json(ctl({"rule", "list", "--json"}));
}

nlohmann::json HardenctlTest::rule_json(const std::string& selector) const {
  return parse_json(ctl({"rule", "show", selector, "--json"}));
}

}  // namespace harden::test
