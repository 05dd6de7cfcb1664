// policy_source.hpp - the policy store behind the running daemon: the first
// snapshot at start-up, then reloads that never leave the daemon without one.
//
// SYNOPSIS
//   PolicySource src({.store = path, .policy = opts}, engine, metrics);
//       // creates the directory and the store and seeds the default rules when
//       // the store is missing; loads and validates the first snapshot; throws
//       // (db::DbError, one line) when it does not load: the daemon refuses to start
//   src.poll();                 // reload if the store file or its -wal changed
//   auto r = src.reload("SIGHUP");   // build, validate, swap; never throws
//
// RELOAD
//   A reload builds a complete new snapshot (Store::load_snapshot validates
//   every rule) and only then swaps it into the Engine. A store that fails to
//   load or validate is refused with one log line, counted in
//   reload_failure_total, and the snapshot in force stays. Sessions keep the
//   snapshot they pinned at connect.
//   poll() is a stat, no SQLite: the store file's device, inode, size and
//   mtime and its -wal's size and mtime (an empty -wal counts as none). A
//   commit changes the -wal (or the file, after the checkpoint); a rename over
//   the store changes the inode. The store is opened only while a snapshot is
//   read (read-only after start-up), so no connection of ours keeps a -wal
//   next to the path that SQLite could apply to a file renamed over it. A
//   zero-byte or garbage file is refused. A store that vanished is not
//   recreated while running (that would put the default rules in force): the
//   reload fails and the snapshot in force stays.
//
// THREAD SAFETY
//   One thread at a time (the control thread; start-up before it runs). A
//   Store is one SQLite connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "harden/db/store.hpp"
#include "harden/milter/engine.hpp"
#include "harden/milter/metrics.hpp"
#include "harden/policy/policy.hpp"

namespace harden::milter {

struct PolicySourceOptions {
  std::filesystem::path store;
  policy::PolicyOptions policy;
};

struct ReloadResult {
  bool ok = false;
  std::string message;  // what was loaded, or why it was refused
  std::size_t rules = 0;
};

class PolicySource {
 public:
  PolicySource(PolicySourceOptions options, Engine& engine, Metrics& metrics);

  ReloadResult reload(std::string_view why);
  // Reloads when the store changed since the last load; true if it did.
  bool poll();

  std::size_t rules() const { return rules_; }
  std::int64_t loaded_unix() const { return loaded_unix_; }
  std::int64_t data_version() const { return data_version_; }
  const std::filesystem::path& path() const { return options_.store; }
  // The Engine's (EngineOptions::greet_pause_cap): reload warns of rules above it.
  std::chrono::milliseconds greet_pause_cap() const { return engine_.greet_pause_cap(); }

  // Rules whose greet_pause exceeds the cap, as log-ready text; "" if none.
  static std::string greet_pause_warning(const policy::Policy& p, std::chrono::milliseconds cap);

 private:
  // What poll() compares: the store file (device, inode, size, mtime) and
  // its -wal (whether it exists, size, mtime). A commit changes the -wal or,
  // after a checkpoint, the file; a rename over the store changes the inode.
  struct FileId {
    std::uintmax_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool wal = false;
    std::uintmax_t wal_size = 0;
    std::int64_t wal_mtime_ns = 0;
    friend bool operator==(const FileId&, const FileId&) = default;
  };
  // Opens the store; with `create`, makes it (and its directory) and seeds
  // the default rules when it is missing. Throws db::DbError.
  static db::Store open_store(const std::filesystem::path& path, bool create);
  FileId file_id() const;
  void load(std::string_view why, bool create);  // throws

  PolicySourceOptions options_;
  Engine& engine_;
  Metrics& metrics_;
  std::optional<db::Store> store_;  // only for ":memory:"; a file store is opened per load
  FileId file_id_;
  std::int64_t data_version_ = -1;
  std::size_t rules_ = 0;
  std::int64_t loaded_unix_ = 0;
};

}  // namespace harden::milter
