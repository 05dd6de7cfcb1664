// init_command.cpp - `hardenctl init`: create the store and seed the defaults.
//
// The default rule gets what sendmail admins use (conn_rate 5/1m, conn_limit 3,
// greet_pause 2000, max_rcpts 25, bad_rcpt_throttle 2) and loopback is allowed
// (db::Store::init_defaults). An initialized store is never touched: the error
// says how to start over. If init fails on a store it created, the file goes.
#include <fmt/format.h>

#include <iostream>
#include <system_error>

#include "commands.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

namespace fs = std::filesystem;

struct InitOptions {};

void check_parent(const fs::path& path) {
  const fs::path parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw UsageError(fmt::format("cannot create {}: directory {} does not exist", path.string(),
                                 parent.string()));
  }
}

void remove_store_files(const fs::path& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::path p = path;
    p += suffix;
    fs::remove(p, ec);
  }
}

void seed(const fs::path& path) {
  db::Store store = db::Store::open(path, db::Store::Mode::read_write);
  if (store.initialized()) {
    throw UsageError(fmt::format(
        "policy store {} is already initialized; to start over remove {} (and its -wal/-shm "
        "files), or replace its rules with: hardenctl import policy FILE",
        path.string(), path.string()));
  }
  store.init_defaults();
  std::cout << "initialized " << printable(path.string()) << "\n";
  print_rules(std::cout, store.rules(), now(), false);
}

int run_init(const Globals& g, const InitOptions& /*unused*/) {
  const fs::path path = store_path(g);
  std::error_code ec;
  const bool existed = fs::exists(fs::symlink_status(path, ec));
  if (existed) {
    (void)open_store(g, Access::write, Need::exists);  // same checks as every command
  } else {
    check_parent(path);
  }
  try {
    seed(path);
  } catch (...) {
    if (!existed) remove_store_files(path);
    throw;
  }
  return kExitOk;
}

}  // namespace

void add_init_command(CLI::App& app, Dispatch& d) {
  CLI::App* sub = add_command(app, "init", "create the policy store and seed the default rules",
                              R"(
Seeds the default rule (conn_rate=5/1m conn_limit=3 greet_pause=2000 max_rcpts=25
bad_rcpt_throttle=2) and allows loopback (127.0.0.0/8, ::1). Refuses a store
that is already initialized.

Examples:
  hardenctl init
  hardenctl --db /tmp/test.db init)");
  on_run(sub, d, std::make_shared<InitOptions>(), run_init);
}

}  // namespace harden::cli
