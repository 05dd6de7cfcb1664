// store.hpp - the SQLite policy store.
//
// SYNOPSIS
//   auto s = Store::open("/var/lib/milter-harden/policy.db");  // creates + migrates
//   s.init_defaults();                     // seed the default rule and loopback allows
//   s.add(rule); s.update(rule); s.remove("192.0.2.7");
//   auto snap = s.load_snapshot(options);  // validated immutable policy::Policy
//
// The store is in WAL mode (with persistent -wal/-shm files, so readers
// without write access can open it) with a 5 s busy timeout and foreign keys
// on. Schema changes are migrations counted by PRAGMA user_version; a store
// newer than this build is refused. Every write runs in one transaction: an
// error leaves the store exactly as it was. Rules are validated
// (Rule::validate, the selector reads back from its text) before writing.
// Schema and column layout: db/README.md.
//
// A Store is one SQLite connection: use it from one thread at a time. The
// daemon reads it only to build snapshots, never per connection.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "harden/policy/policy.hpp"
#include "harden/policy/rule.hpp"

struct sqlite3;

namespace harden::db {

class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kSchemaVersion = 1;

class Store {
 public:
  enum class Mode { read_write, read_only };

  // Opens (and in read_write mode creates and migrates) the store at `path`;
  // ":memory:" for a private in-memory store. An empty file is a new store.
  // Throws DbError with one clear line starting with the path: "not a policy
  // store (file is not a SQLite database)", newer schema than this build, no
  // such store (read_only), ... A read_write open of a file or directory we
  // may not write succeeds; writes then throw "PATH: store is read-only".
  static Store open(const std::filesystem::path& path, Mode mode = Mode::read_write);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store();

  const std::filesystem::path& path() const { return path_; }
  int schema_version() const;

  // True when the store holds a default rule.
  bool initialized() const;
  // Seeds the values sendmail admins use on the default rule (conn_rate 5/60s,
  // conn_limit 3, greet_pause 2000, max_rcpts 25, bad_rcpt_throttle 2,
  // dialin monitor, missing_rdns off) and allows 127.0.0.0/8 and ::1
  // ("loopback"; an existing rule for either is kept). Throws DbError if
  // already initialized.
  void init_defaults();
  static std::vector<policy::Rule> default_rules();

  // All rules, expired ones included: default, addresses, networks (longest
  // prefix first), hosts, suffixes, patterns by priority; ties by id.
  std::vector<policy::Rule> rules() const;
  std::optional<policy::Rule> find(const policy::Selector& selector) const;
  std::optional<policy::Rule> find(std::int64_t id) const;

  // Adds a rule (validated); returns its id. A pattern rule without a
  // priority (0) is put after every existing pattern rule; other kinds are
  // stored with priority 0. Throws DbError "rule for SELECTOR already
  // exists" if a rule with the same selector exists.
  std::int64_t add(const policy::Rule& rule);
  // Replaces the stored rule with rule.id (or, if id is 0, the one with the
  // same selector). A pattern rule with priority 0 keeps its place. Throws
  // DbError if there is none, or if the new selector belongs to another rule.
  void update(const policy::Rule& rule);
  // Removes the rule with this selector; false if there was none.
  bool remove(const policy::Selector& selector);
  // Replaces the whole policy (import of an exported YAML policy). Pattern
  // rules without a priority go after those with one, in order.
  void replace_all(const std::vector<policy::Rule>& rules);

  // Runs `fn` in one transaction; rolls back everything if it throws, and
  // rethrows. A nested call is a savepoint: if it throws, only its part is
  // rolled back (the outer transaction decides what to do). Throws DbError
  // "PATH: store is read-only" on a read-only store.
  void transaction(const std::function<void()>& fn);

  // Loads and validates the whole policy into an immutable snapshot. Throws
  // DbError naming the offending rule (its id and selector); never returns a
  // half-loaded policy. With `previous` (the snapshot in force), unchanged
  // compiled patterns are reused (see policy::Policy::build).
  std::shared_ptr<const policy::Policy> load_snapshot(
      const policy::PolicyOptions& options = {}, const policy::Policy* previous = nullptr) const;

  // PRAGMA data_version: changes when another connection commits.
  std::int64_t data_version() const;

  // A consistent copy of the whole store at `dest`, made with SQLite's
  // online backup API (safe while the daemon and other writers run): written
  // to a temporary file beside `dest`, synced, then renamed over it, so
  // `dest` is the old file or the whole copy, never half of one. The copy
  // is a plain rollback-journal database with no -wal. Throws DbError.
  void backup(const std::filesystem::path& dest) const;

 private:
  Store() = default;
  struct Conn;
  std::unique_ptr<Conn> conn_;
  std::filesystem::path path_;
};

}  // namespace harden::db
