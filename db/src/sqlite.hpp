// sqlite.hpp - a small RAII layer over the SQLite C API (internal to harden::db).
//
// SYNOPSIS
//   sql::Database db = sql::Database::open(path, flags, "policy.db");
//   sql::Statement st(db, "SELECT id FROM rules WHERE selector = ?");
//   st.bind(1, "default");
//   while (st.step()) use(st.column_int(0));
//   sql::Transaction tx(db);  ... tx.commit();  // rolled back if not committed
//
// Every failure throws sql::Error (a DbError) whose message starts with the
// store's name and says in plain words what went wrong ("not a policy store",
// "store is read-only", ...). Destructors never throw: they finalize, roll
// back and close, and ignore what SQLite says while doing so.
//
// Transactions nest: the outermost is BEGIN IMMEDIATE (BEGIN on a read-only
// connection), inner ones are SAVEPOINTs, so an inner failure rolls back
// only its own part and the caller decides what to do with the exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harden/db/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace harden::db::sql {

class Error : public DbError {
 public:
  Error(int code, const std::string& message) : DbError(message), code_(code) {}
  // The extended SQLite result code (SQLITE_CONSTRAINT_UNIQUE, ...).
  int code() const { return code_; }

 private:
  int code_;
};

// "NAME: what happened" for SQLite result code `rc`, in words an admin acts on.
std::string describe(int rc, sqlite3* db, std::string_view name);

class Database {
 public:
  Database() = default;
  // sqlite3_open_v2 with `flags`; `name` is used in every error message.
  static Database open(const std::string& filename, int flags, std::string name);
  Database(Database&& o) noexcept;
  Database& operator=(Database&& o) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  sqlite3* get() const { return db_; }
  const std::string& name() const { return name_; }
  // Runs SQL without results (several statements allowed).
  void exec(std::string_view sql) const;
  // First column of the first row of `sql` as an integer (PRAGMAs, COUNT(*)).
  std::int64_t query_int(std::string_view sql) const;
  [[noreturn]] void fail(int rc) const;

 private:
  friend class Transaction;
  sqlite3* db_ = nullptr;
  std::string name_;
  int depth_ = 0;  // open transaction levels
};

class Statement {
 public:
  Statement(const Database& db, std::string_view sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, std::int64_t value);
  Statement& bind_null(int index);
  // Steps once: true when a row is ready, false when done.
  bool step();
  // Steps to the end (statements without rows).
  void run();
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int(int column) const;
  std::string column_text(int column) const;  // "" for NULL

 private:
  const Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& db_;
  int level_;  // 1 = outermost
  bool done_ = false;
};

}  // namespace harden::db::sql
