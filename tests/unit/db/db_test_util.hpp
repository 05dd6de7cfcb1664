// db_test_util.hpp - helpers for the db unit tests: a fresh temp directory,
// rule builders, and "does this throw a message containing X" checks.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "harden/policy/rule.hpp"

namespace harden::db::test {

// A directory of its own under the system temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("harden-db-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A rule from a selector and "name=value" attribute pairs.
inline policy::Rule make_rule(
    std::string_view selector,
    std::initializer_list<std::pair<std::string_view, std::string_view>> attrs,
    std::int64_t priority = 0, std::string comment = {}) {
  policy::Rule r;
  r.selector = policy::Selector::parse(selector);
  for (const auto& [name, value] : attrs) r.attrs.set(name, value);
  r.priority = priority;
  r.comment = std::move(comment);
  return r;
}

// Runs `fn`, expects it to throw E, returns the message ("" if it did not throw).
template <typename E, typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return {};
}

}  // namespace harden::db::test
