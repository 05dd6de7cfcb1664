// sqlite.cpp - RAII wrapper over the SQLite C API; see sqlite.hpp.
#include "sqlite.hpp"

#include <sqlite3.h>

#include <limits>
#include <utility>

namespace harden::db::sql {

std::string describe(int rc, sqlite3* db, std::string_view name) {
  const std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string what;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      what = "not a policy store (file is not a SQLite database)";
      break;
    case SQLITE_CORRUPT:
      what = "policy store is corrupt (" + detail + ")";
      break;
    case SQLITE_READONLY:
      what = "store is read-only";
      if (rc != SQLITE_READONLY) what += " (" + detail + ")";
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      what = "store is locked by another process (gave up waiting)";
      break;
    case SQLITE_CANTOPEN:
      what = "cannot open the store or its -wal/-shm files (" + detail + ")";
      break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
      what = "permission denied (" + detail + ")";
      break;
    case SQLITE_FULL:
      what = "disk full";
      break;
    case SQLITE_IOERR:
      what = "I/O error (" + detail + ")";
      break;
    default:
      what = detail;
  }
  return std::string(name) + ": " + what;
}

Database Database::open(const std::string& filename, int flags, std::string name) {
  Database d;
  d.name_ = std::move(name);
  const int rc = sqlite3_open_v2(filename.c_str(), &d.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // d's destructor closes the half-open handle.
    throw Error(rc, describe(rc, d.db_, d.name_));
  }
  sqlite3_extended_result_codes(d.db_, 1);
  return d;
}

Database::Database(Database&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), name_(std::move(o.name_)), depth_(o.depth_) {}

Database& Database::operator=(Database&& o) noexcept {
  if (this != &o) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    name_ = std::move(o.name_);
    depth_ = o.depth_;
  }
  return *this;
}

Database::~Database() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

void Database::fail(int rc) const {
  throw Error(rc, describe(rc, db_, name_));
}

void Database::exec(std::string_view sql) const {
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(sqlite3_extended_errcode(db_));
}

std::int64_t Database::query_int(std::string_view sql) const {
  Statement st(*this, sql);
  if (!st.step()) return 0;
  return st.column_int(0);
}

Statement::Statement(const Database& db, std::string_view sql) : db_(db) {
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(SQLITE_TOOBIG, db.name() + ": statement too long");
  }
  const int rc =
      sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc);
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, std::string_view text) {
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    throw Error(SQLITE_TOOBIG, db_.name() + ": value too long");
  }
  const int rc =
      sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_.fail(rc);
  return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) db_.fail(rc);
  return *this;
}

Statement& Statement::bind_null(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) db_.fail(rc);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(sqlite3_extended_errcode(db_.get()));
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::column_int(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::column_text(int column) const {
  const auto* p = sqlite3_column_text(stmt_, column);
  const int n = sqlite3_column_bytes(stmt_, column);
  if (p == nullptr || n <= 0) return {};
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
}

Transaction::Transaction(Database& db) : db_(db), level_(db.depth_ + 1) {
  if (level_ == 1) {
    db_.exec(sqlite3_db_readonly(db_.get(), "main") == 1 ? "BEGIN" : "BEGIN IMMEDIATE");
  } else {
    db_.exec("SAVEPOINT harden_" + std::to_string(level_));
  }
  db_.depth_ = level_;
}

void Transaction::commit() {
  if (done_) return;
  if (level_ == 1) {
    db_.exec("COMMIT");
    // Copy the WAL into the database file now (passive: never waits, never
    // blocks a reader; best effort), so the file alone holds every commit:
    // a backup made with cp, or a reader that must fall back to an
    // immutable open, misses nothing. A no-op outside WAL mode.
    sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else {
    db_.exec("RELEASE harden_" + std::to_string(level_));
  }
  done_ = true;
  db_.depth_ = level_ - 1;
}

Transaction::~Transaction() {
  if (done_) return;
  sqlite3* h = db_.get();
  if (level_ == 1) {
    // SQLite may already have rolled back by itself (SQLITE_FULL, IOERR, ...).
    if (sqlite3_get_autocommit(h) == 0) sqlite3_exec(h, "ROLLBACK", nullptr, nullptr, nullptr);
  } else {
    const std::string sp = "harden_" + std::to_string(level_);
    const std::string sql = "ROLLBACK TO " + sp + "; RELEASE " + sp;
    sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr);
  }
  db_.depth_ = level_ - 1;
}

}  // namespace harden::db::sql
