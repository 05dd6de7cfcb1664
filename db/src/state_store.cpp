// state_store.cpp - the SQLite file behind ClientMemory (client_memory.hpp).
#include <sqlite3.h>

#include <array>
#include <charconv>

#include "harden/db/client_memory.hpp"
#include "harden/db/store.hpp"
#include "sqlite.hpp"

namespace harden::db {
namespace {

using policy::ClientRecord;
using policy::WallMs;

constexpr std::int64_t kStateApplicationId = 0x4d485354;  // "MHST"
constexpr int kBusyTimeoutMs = 5000;
constexpr std::size_t kMaxReasonStored = 300;

void migrate_v1(const sql::Database& db) {
  db.exec(
      "CREATE TABLE clients (\n"
      "  key TEXT PRIMARY KEY NOT NULL,\n"
      "  pass_until INTEGER NOT NULL DEFAULT 0,\n"
      "  penalty_start INTEGER,\n"
      "  penalty_until INTEGER,\n"
      "  penalty_n INTEGER,\n"
      "  penalty_reason TEXT,\n"
      "  history TEXT NOT NULL DEFAULT '',\n"
      "  offences TEXT NOT NULL DEFAULT '',\n"
      "  forget_at INTEGER NOT NULL\n"
      ");\n"
      "CREATE INDEX clients_by_forget_at ON clients (forget_at);\n");
}

struct Migration {
  int version;
  void (*apply)(const sql::Database&);
};
// Append only. Each entry brings the schema from version-1 to version.
constexpr std::array<Migration, 1> kMigrations{{{1, &migrate_v1}}};
static_assert(kMigrations.back().version == StateStore::kSchemaVersion);

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

template <typename F>
void each_item(std::string_view text, F&& f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    f(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

constexpr const char* kColumns =
    "key, pass_until, penalty_start, penalty_until, penalty_n, penalty_reason, history, "
    "offences, forget_at";

std::optional<ClientEntry> read_row(const sql::Statement& st) {
  ClientEntry e;
  try {
    e.key = policy::IpNetwork::parse(st.column_text(0));
  } catch (const std::exception&) {
    return std::nullopt;  // not ours; never fails the load
  }
  ClientRecord& r = e.record;
  r.pass_until = st.column_int(1);
  if (!st.is_null(2) && !st.is_null(3)) {
    policy::Penalty p;
    p.start = st.column_int(2);
    p.until = st.column_int(3);
    p.n = static_cast<std::uint32_t>(std::clamp<std::int64_t>(st.column_int(4), 1, 1 << 20));
    p.reason = st.column_text(5).substr(0, kMaxReasonStored);
    r.penalty = std::move(p);
  }
  r.history = decode_times(st.column_text(6));
  r.offences = decode_offences(st.column_text(7));
  r.forget_at = st.column_int(8);
  return e;
}

}  // namespace

std::string encode_times(const std::vector<WallMs>& times) {
  std::string out;
  for (WallMs t : times) out += (out.empty() ? "" : ",") + std::to_string(t);
  return out;
}

std::vector<WallMs> decode_times(std::string_view text) {
  std::vector<WallMs> out;
  each_item(text, [&](std::string_view item) {
    if (out.size() >= ClientRecord::kMaxHistory) return;
    if (auto v = to_int(item)) out.push_back(*v);
  });
  return out;
}

std::string encode_offences(const std::vector<ClientRecord::OffenceAt>& offences) {
  std::string out;
  for (const auto& o : offences) {
    out += (out.empty() ? "" : ",") + std::to_string(o.at) + ":" + std::to_string(o.weight);
  }
  return out;
}

std::vector<ClientRecord::OffenceAt> decode_offences(std::string_view text) {
  std::vector<ClientRecord::OffenceAt> out;
  each_item(text, [&](std::string_view item) {
    if (out.size() >= ClientRecord::kMaxOffences) return;
    const std::size_t colon = item.find(':');
    if (colon == std::string_view::npos) return;
    const auto at = to_int(item.substr(0, colon));
    const auto w = to_int(item.substr(colon + 1));
    if (!at || !w || *w <= 0 || *w > policy::kMaxOffenceWeight) return;
    out.push_back({*at, static_cast<std::uint32_t>(*w)});
  });
  return out;
}

struct StateStore::Conn {
  std::string name;
  sql::Database db;
};

StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() = default;

StateStore StateStore::open(const std::filesystem::path& path, Mode mode) {
  StateStore s;
  s.conn_ = std::make_unique<Conn>();
  Conn& c = *s.conn_;
  c.name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw DbError(c.name + ": is a directory, not a state file");
  }
  if (mode == Mode::read_only && !std::filesystem::exists(path, ec)) {
    throw DbError(c.name + ": no such state file");
  }
  const int flags =
      mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  c.db = sql::Database::open(c.name, flags, c.name);
  sqlite3_busy_timeout(c.db.get(), kBusyTimeoutMs);
  const std::int64_t app = c.db.query_int("PRAGMA application_id");
  const std::int64_t version = c.db.query_int("PRAGMA user_version");
  const std::int64_t objects = c.db.query_int("SELECT count(*) FROM sqlite_master");
  const bool empty = app == 0 && version == 0 && objects == 0;
  if (app != kStateApplicationId && !empty) {
    throw DbError(c.name + ": not a milter-harden state file");
  }
  if (version > kSchemaVersion) {
    throw DbError(c.name + ": state schema version " + std::to_string(version) +
                  " is newer than this build supports (" + std::to_string(kSchemaVersion) + ")");
  }
  if (version < kSchemaVersion) {
    if (mode == Mode::read_only) throw DbError(c.name + ": state file needs a schema upgrade");
    c.db.exec("PRAGMA journal_mode=WAL");
    sql::Transaction tx(c.db);
    const std::int64_t v = c.db.query_int("PRAGMA user_version");
    for (const auto& m : kMigrations) {
      if (m.version > v) m.apply(c.db);
    }
    c.db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    c.db.exec("PRAGMA application_id = " + std::to_string(kStateApplicationId));
    tx.commit();
  }
  return s;
}

int StateStore::schema_version() const {
  return static_cast<int>(conn_->db.query_int("PRAGMA user_version"));
}

std::vector<ClientEntry> StateStore::load(WallMs now) const {
  std::vector<ClientEntry> out;
  sql::Statement st(conn_->db,
                    std::string("SELECT ") + kColumns + " FROM clients WHERE forget_at > ?");
  st.bind(1, now);
  while (st.step()) {
    if (auto e = read_row(st)) out.push_back(std::move(*e));
  }
  return out;
}

std::optional<ClientRecord> StateStore::find(const policy::IpNetwork& key) const {
  sql::Statement st(conn_->db, std::string("SELECT ") + kColumns + " FROM clients WHERE key = ?");
  st.bind(1, key.to_string());
  if (!st.step()) return std::nullopt;
  auto e = read_row(st);
  return e ? std::optional(std::move(e->record)) : std::nullopt;
}

void StateStore::save(const ClientMemory::Changes& changes) {
  if (changes.empty()) return;
  sql::Transaction tx(conn_->db);
  {
    sql::Statement del(conn_->db, "DELETE FROM clients WHERE key = ?");
    for (const auto& key : changes.deletes) {
      del.bind(1, key.to_string());
      del.run();
      del.reset();
    }
  }
  sql::Statement up(conn_->db, std::string("INSERT OR REPLACE INTO clients (") + kColumns +
                                   ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& e : changes.upserts) {
    const ClientRecord& r = e.record;
    up.bind(1, e.key.to_string());
    up.bind(2, r.pass_until);
    if (r.penalty) {
      up.bind(3, r.penalty->start);
      up.bind(4, r.penalty->until);
      up.bind(5, static_cast<std::int64_t>(r.penalty->n));
      up.bind(6, r.penalty->reason);
    } else {
      up.bind_null(3).bind_null(4).bind_null(5).bind_null(6);
    }
    up.bind(7, encode_times(r.history));
    up.bind(8, encode_offences(r.offences));
    up.bind(9, r.forget_at);
    up.run();
    up.reset();
  }
  tx.commit();
}

}  // namespace harden::db
