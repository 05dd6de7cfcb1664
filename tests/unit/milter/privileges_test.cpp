// privileges_test.cpp - the unix socket's directory, as Debian's milters have it.
#include "harden/milter/privileges.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace harden::milter {
namespace {

namespace fs = std::filesystem;

class SocketDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/harden-sockdir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(SocketDirectoryTest, MissingDirectoryIsCreated0750ForTheDaemonsAccount) {
  const fs::path dir = root_ / "run" / "milter-harden";
  make_socket_directory((dir / "milter.sock").string(), ::getuid(), ::getgid());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(st.st_gid, ::getgid());
}

TEST_F(SocketDirectoryTest, ExistingDirectoryIsLeftAsItIs) {
  ASSERT_EQ(::chmod(root_.c_str(), 0711), 0);
  make_socket_directory((root_ / "milter.sock").string(), ::getuid(), ::getgid());
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
}

TEST_F(SocketDirectoryTest, AFileInTheWayIsAnError) {
  const fs::path file = root_ / "f";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  EXPECT_THROW(
      make_socket_directory((file / "sub" / "milter.sock").string(), ::getuid(), ::getgid()),
      std::runtime_error);
}

}  // namespace
}  // namespace harden::milter
