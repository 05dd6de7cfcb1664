// privileges.cpp - getpwnam_r / getgrnam_r, then setgroups/setgid/setuid.
#include "harden/milter/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace harden::milter {
namespace {

std::runtime_error failure(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

Account resolve_account(const std::string& user, const std::string& group_name) {
  Account a;
  if (user.empty() && group_name.empty()) return a;
  if (::geteuid() != 0) {
    spdlog::warn("user/group ignored: not started as root");
    return a;
  }
  a.switch_ids = true;
  a.user = user;
  a.group = group_name;
  std::vector<char> buf(16384);
  if (!user.empty()) {
    passwd pw{};
    passwd* found = nullptr;
    if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
      throw std::runtime_error("user '" + user + "' does not exist");
    a.uid = pw.pw_uid;
    a.gid = pw.pw_gid;
  }
  if (!group_name.empty()) {
    struct group gr {};
    struct group* found = nullptr;
    if (::getgrnam_r(group_name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found)
      throw std::runtime_error("group '" + group_name + "' does not exist");
    a.gid = gr.gr_gid;
  }
  return a;
}

void drop_privileges(const Account& a) {
  if (!a.switch_ids) return;
  if (a.gid != static_cast<gid_t>(-1)) {
    if (::setgroups(1, &a.gid) != 0) throw failure("setgroups");
    if (::setgid(a.gid) != 0) throw failure("setgid " + std::to_string(a.gid));
  }
  if (a.uid != static_cast<uid_t>(-1)) {
    if (::setuid(a.uid) != 0) throw failure("setuid " + std::to_string(a.uid));
    if (a.uid != 0 && ::setuid(0) == 0) throw std::runtime_error("setuid: root could be regained");
  }
  spdlog::info("running as uid {} gid {}", ::getuid(), ::getgid());
}

void make_socket_directory(const std::string& socket_path, uid_t uid, gid_t gid) {
  const std::filesystem::path dir = std::filesystem::path(socket_path).parent_path();
  std::error_code ec;
  if (dir.empty() || std::filesystem::exists(dir, ec)) return;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("socket directory " + dir.string() + ": " + ec.message());
  if (::chmod(dir.c_str(), 0750) != 0 || ::chown(dir.c_str(), uid, gid) != 0)
    throw std::runtime_error("socket directory " + dir.string() + ": cannot set owner/mode");
}

}  // namespace harden::milter
