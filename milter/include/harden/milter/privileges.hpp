// privileges.hpp - who the daemon runs as after binding its sockets.
//
// SYNOPSIS
//   Account a = resolve_account(cfg.user, cfg.group);   // before binding; throws one line
//   ... bind sockets, chown them to a.uid / a.gid ...
//   drop_privileges(a);                                 // setgroups, setgid, setuid; verified
//
// Only a process started as root switches; otherwise `user`/`group` are
// ignored with a warning (the daemon already runs unprivileged). With only
// `user`, the group is the user's primary group; with only `group`, only the
// group changes.
#pragma once

#include <sys/types.h>

#include <string>

namespace harden::milter {

struct Account {
  bool switch_ids = false;  // false: keep running as we are
  std::string user, group;
  uid_t uid = static_cast<uid_t>(-1);  // -1: unchanged
  gid_t gid = static_cast<gid_t>(-1);
};

// Throws std::runtime_error "user 'x' does not exist" etc.
Account resolve_account(const std::string& user, const std::string& group);
// Throws std::runtime_error when a switch fails or can be undone.
void drop_privileges(const Account& a);

// The directory of a unix socket, as Debian's milters have it: when missing,
// it is created mode 0750 and owned by uid:gid (-1: unchanged), so only the
// daemon's user and group (the MTA's user is added to that group) reach the
// socket. An existing directory is left as it is. Throws std::runtime_error.
void make_socket_directory(const std::string& socket_path, uid_t uid, gid_t gid);

}  // namespace harden::milter
