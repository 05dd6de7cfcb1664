// store_test.cpp - the SQLite policy store against real files and ":memory:".
#include "harden/db/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "db_test_util.hpp"
#include "harden/policy/error.hpp"

namespace harden::db {
namespace {

namespace fs = std::filesystem;
using policy::Rule;
using policy::Selector;
using test::error_of;
using test::make_rule;
using test::TempDir;

// Runs SQL on the store file through a second, plain SQLite connection.
void raw_sql(const fs::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

std::vector<std::string> selectors(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back(r.selector.text());
  return out;
}

Rule without_id(Rule r) {
  r.id = 0;
  return r;
}

TEST(StoreOpen, NewFileIsCreatedMigratedAndInWalMode) {
  TempDir dir;
  const auto path = dir / "policy.db";
  {
    Store s = Store::open(path);
    EXPECT_EQ(s.schema_version(), kSchemaVersion);
    EXPECT_FALSE(s.initialized());
    EXPECT_TRUE(s.rules().empty());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(StoreOpen, HasOneColumnPerAttributeNamedAsTheTable) {
  TempDir dir;
  const auto path = dir / "policy.db";
  { Store::open(path); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('rules')", -1, &st, nullptr),
            SQLITE_OK);
  std::vector<std::string> cols;
  while (sqlite3_step(st) == SQLITE_ROW) {
    cols.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  for (const auto& a : policy::attributes()) {
    EXPECT_NE(std::find(cols.begin(), cols.end(), a.name), cols.end()) << a.name;
  }
}

TEST(StoreOpen, EmptyFileBecomesAStore) {
  TempDir dir;
  test::write_file(dir / "empty.db", "");
  Store s = Store::open(dir / "empty.db");
  EXPECT_EQ(s.schema_version(), kSchemaVersion);
}

TEST(StoreOpen, GarbageFileIsNotAPolicyStore) {
  TempDir dir;
  std::string junk(8192, '\0');
  std::mt19937 rng(42);
  for (char& c : junk) c = static_cast<char>(rng() & 0xff);
  test::write_file(dir / "junk.db", junk);
  const auto path = (dir / "junk.db").string();
  EXPECT_EQ(error_of<DbError>([&] { Store::open(path); }),
            path + ": not a policy store (file is not a SQLite database)");
  EXPECT_EQ(error_of<DbError>([&] { Store::open(path, Store::Mode::read_only); }),
            path + ": not a policy store (file is not a SQLite database)");
}

TEST(StoreOpen, TextFileIsNotAPolicyStore) {
  TempDir dir;
  test::write_file(dir / "access", "Connect:192.0.2.7 REJECT\n");
  EXPECT_NE(error_of<DbError>([&] { Store::open(dir / "access"); }).find("not a policy store"),
            std::string::npos);
}

TEST(StoreOpen, TruncatedStoreIsRefusedWithThePath) {
  TempDir dir;
  const auto path = dir / "policy.db";
  {
    Store s = Store::open(path);
    s.init_defaults();
    s.transaction([&] {
      for (int i = 0; i < 200; ++i) {
        s.add(make_rule("host" + std::to_string(i) + ".example.org", {{"action", "block"}}));
      }
    });
  }
  fs::remove(dir / "policy.db-wal");
  fs::remove(dir / "policy.db-shm");
  const auto size = fs::file_size(path);
  ASSERT_GT(size, 8192u);
  for (std::uintmax_t cut : {std::uintmax_t{50}, std::uintmax_t{100}, size / 2}) {
    fs::resize_file(path, cut);
    const std::string msg = error_of<DbError>([&] {
      Store s = Store::open(path, Store::Mode::read_only);
      (void)s.rules();
    });
    EXPECT_EQ(msg.rfind(path.string() + ": ", 0), 0u) << msg;
  }
}

TEST(StoreOpen, SqliteDatabaseOfAnotherProgramIsRefused) {
  TempDir dir;
  raw_sql(dir / "other.db", "CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1);");
  const std::string msg = error_of<DbError>([&] { Store::open(dir / "other.db"); });
  EXPECT_NE(msg.find("not a policy store (SQLite database of another application)"),
            std::string::npos)
      << msg;
  // ... and left alone.
  raw_sql(dir / "other.db", "SELECT x FROM foo");
}

TEST(StoreOpen, NewerSchemaIsRefused) {
  TempDir dir;
  const auto path = dir / "policy.db";
  { Store::open(path); }
  raw_sql(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  const std::string msg = error_of<DbError>([&] { Store::open(path); });
  EXPECT_NE(msg.find("schema version " + std::to_string(kSchemaVersion + 1) +
                     " is newer than this build supports"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(error_of<DbError>([&] { Store::open(path, Store::Mode::read_only); }).empty());
}

TEST(StoreOpen, DirectoryAndMissingPathsSayWhat) {
  TempDir dir;
  EXPECT_NE(error_of<DbError>([&] { Store::open(dir.path()); }).find("is a directory"),
            std::string::npos);
  EXPECT_NE(error_of<DbError>([&] {
              Store::open(dir / "nope.db", Store::Mode::read_only);
            }).find("no such policy store"),
            std::string::npos);
  EXPECT_NE(error_of<DbError>([&] {
              Store::open(dir / "no" / "dir" / "p.db");
            }).find("cannot create the store"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "nope.db"));
}

TEST(StoreOpen, ReadOnlyModeListsButRefusesWrites) {
  TempDir dir;
  const auto path = dir / "policy.db";
  {
    Store s = Store::open(path);
    s.init_defaults();
  }
  Store ro = Store::open(path, Store::Mode::read_only);
  EXPECT_EQ(ro.rules().size(), Store::default_rules().size());
  EXPECT_TRUE(ro.initialized());
  EXPECT_NE(ro.load_snapshot(), nullptr);
  const std::string expect = path.string() + ": store is read-only";
  EXPECT_EQ(error_of<DbError>([&] {
              ro.add(make_rule("192.0.2.7", {{"action", "block"}}));
            }),
            expect);
  EXPECT_EQ(error_of<DbError>([&] { ro.remove(Selector::parse("::1")); }), expect);
  EXPECT_EQ(error_of<DbError>([&] { ro.replace_all({}); }), expect);
  EXPECT_EQ(error_of<DbError>([&] { ro.init_defaults(); }), expect);
  EXPECT_EQ(ro.rules().size(), Store::default_rules().size());
}

TEST(StoreOpen, ReadOnlyModeRefusesAnEmptyFile) {
  TempDir dir;
  test::write_file(dir / "empty.db", "");
  EXPECT_NE(error_of<DbError>([&] {
              Store::open(dir / "empty.db", Store::Mode::read_only);
            }).find("read-only and empty"),
            std::string::npos);
}

// Root ignores file permissions, so this needs an ordinary user:
//   setpriv --reuid=nobody --regid=nogroup --clear-groups db_unit_tests
TEST(StoreOpen, PermissionReadOnlyFileAndDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions; run as another user";
  TempDir dir;
  const auto sub = dir / "store";
  fs::create_directory(sub);
  const auto path = sub / "policy.db";
  {
    Store s = Store::open(path);
    s.init_defaults();
  }
  fs::permissions(path, fs::perms::owner_read);
  fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
  Store ro = Store::open(path, Store::Mode::read_only);
  EXPECT_EQ(ro.rules().size(), Store::default_rules().size());
  Store rw = Store::open(path);
  EXPECT_NE(error_of<DbError>([&] {
              rw.add(make_rule("192.0.2.7", {{"action", "block"}}));
            }).find("store is read-only"),
            std::string::npos);
  // Without the -wal/-shm files a reader cannot create them here.
  fs::permissions(sub, fs::perms::owner_all);
  fs::remove(sub / "policy.db-wal");
  fs::remove(sub / "policy.db-shm");
  fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
  Store ro2 = Store::open(path, Store::Mode::read_only);
  EXPECT_EQ(ro2.rules().size(), Store::default_rules().size());
  fs::permissions(sub, fs::perms::owner_all);
}

TEST(StoreRules, AddFindUpdateRemove) {
  Store s = Store::open(":memory:");
  const Rule r =
      make_rule("192.0.2.7", {{"conn_rate", "10/1m"}, {"reason", "a: \"b\" #c"}}, 0, "test rule");
  const auto id = s.add(r);
  EXPECT_GT(id, 0);
  auto found = s.find(r.selector);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, id);
  EXPECT_EQ(without_id(*found), r);
  EXPECT_EQ(s.find(id), found);
  EXPECT_FALSE(s.find(Selector::parse("192.0.2.8")));
  EXPECT_FALSE(s.find(std::int64_t{9999}));

  Rule changed = *found;
  changed.attrs.conn_rate.reset();
  changed.attrs.set("conn_limit", "4");
  s.update(changed);
  EXPECT_EQ(s.find(id), changed);

  Rule by_selector = make_rule("192.0.2.7", {{"action", "block"}});
  s.update(by_selector);  // id 0: found by selector
  EXPECT_EQ(without_id(*s.find(id)), by_selector);

  EXPECT_TRUE(s.remove(r.selector));
  EXPECT_FALSE(s.remove(r.selector));
  EXPECT_TRUE(s.rules().empty());
}

TEST(StoreRules, DuplicateSelectorIsRefused) {
  Store s = Store::open(":memory:");
  s.add(make_rule("192.0.2.0/24", {{"action", "block"}}));
  EXPECT_EQ(error_of<DbError>([&] {
              s.add(make_rule("192.0.2.0/24", {{"conn_limit", "1"}}));
            }),
            "rule for 192.0.2.0/24 already exists");
  // An update may not take another rule's selector either.
  const auto id = s.add(make_rule("192.0.3.0/24", {{"action", "block"}}));
  Rule moved = *s.find(id);
  moved.selector = Selector::parse("192.0.2.0/24");
  EXPECT_EQ(error_of<DbError>([&] { s.update(moved); }), "rule for 192.0.2.0/24 already exists");
  EXPECT_EQ(s.rules().size(), 2u);
}

TEST(StoreRules, UpdateOfAMissingRuleFails) {
  Store s = Store::open(":memory:");
  Rule r = make_rule("mx.example.org", {{"action", "allow"}});
  EXPECT_EQ(error_of<DbError>([&] { s.update(r); }), "no rule for mx.example.org");
  r.id = 42;
  EXPECT_EQ(error_of<DbError>([&] { s.update(r); }), "no rule with id 42");
}

TEST(StoreRules, InvalidRulesAreNotWritten) {
  Store s = Store::open(":memory:");
  Rule empty;
  empty.selector = Selector::parse("192.0.2.7");
  EXPECT_NE(error_of<DbError>([&] { s.add(empty); }).find("sets no attribute"), std::string::npos);
  Rule dialin = make_rule("192.0.2.7", {{"dialin", "block"}});
  EXPECT_NE(error_of<DbError>([&] { s.add(dialin); }).find("default rule"), std::string::npos);
  Rule bad_comment = make_rule("192.0.2.7", {{"action", "block"}});
  bad_comment.comment = std::string("nul\0byte", 8);
  EXPECT_FALSE(error_of<DbError>([&] { s.add(bad_comment); }).empty());
  Rule negative = make_rule("/dsl/", {{"action", "block"}}, -1);
  EXPECT_FALSE(error_of<DbError>([&] { s.add(negative); }).empty());
  EXPECT_TRUE(s.rules().empty());
}

TEST(StoreRules, EveryAttributeAndExpiryRoundTrip) {
  Store s = Store::open(":memory:");
  Rule def = make_rule("default", {{"action", "limit"},
                                   {"conn_rate", "5/60s"},
                                   {"conn_limit", "3"},
                                   {"greet_pause", "60000"},
                                   {"max_rcpts", "10000000"},
                                   {"bad_rcpt_throttle", "0"},
                                   {"rcpt_rate", "100/1h"},
                                   {"msg_rate", "0"},
                                   {"reason", "It's a 'test': \"quoted\" & more"},
                                   {"dialin", "block"},
                                   {"generic_hosting", "monitor"},
                                   {"missing_rdns", "tempfail"},
                                   {"greet_pass_ttl", "1d"},
                                   {"penalty", "monitor"},
                                   {"penalty_threshold", "5"},
                                   {"penalty_window", "15m"},
                                   {"penalty_base", "5m"},
                                   {"penalty_max", "12h"},
                                   {"penalty_memory", "14d"},
                                   {"penalty_reply", "reject"},
                                   {"penalty_weights", "pregreet=2,dialin=1"}});
  def.expires = policy::parse_time("2030-01-02T03:04:05Z");
  def.comment = "every attribute";
  const auto id = s.add(def);
  for (const auto& a : policy::attributes()) ASSERT_TRUE(def.attrs.has(a.attr)) << a.name;
  EXPECT_EQ(without_id(*s.find(id)), def);
}

TEST(StoreRules, PatternPrioritiesAreAssignedInOrder) {
  Store s = Store::open(":memory:");
  s.add(make_rule("/^a/", {{"action", "block"}}, 7));
  const auto b = s.add(make_rule("/^b/", {{"action", "block"}}));
  const auto c = s.add(make_rule("/^c/ && !/static/", {{"action", "block"}}));
  EXPECT_EQ(s.find(b)->priority, 8);
  EXPECT_EQ(s.find(c)->priority, 9);
  // Other kinds store no priority.
  const auto h = s.add(make_rule("mx.example.org", {{"action", "allow"}}, 5));
  EXPECT_EQ(s.find(h)->priority, 0);
  // An update without a priority keeps the rule's place.
  Rule upd = make_rule("/^b/", {{"action", "tempfail"}});
  s.update(upd);
  EXPECT_EQ(s.find(b)->priority, 8);
}

TEST(StoreRules, ListingOrder) {
  Store s = Store::open(":memory:");
  // Added out of order on purpose.
  for (const char* sel : {"/^z/", ".dsl.example.net", "mx.example.org", "10.0.0.0/8", "192.0.2.7",
                          "/^a/", "2001:db8::/48", "192.0.2.0/24", "default", ".example.net",
                          "a.example.org", "2001:db8::1"}) {
    s.add(make_rule(sel, {{"action", "limit"}}));
  }
  Rule last_pattern = *s.find(Selector::parse("/^z/"));
  last_pattern.priority = 5;  // after /^a/ (2)
  s.update(last_pattern);
  EXPECT_EQ(
      selectors(s.rules()),
      (std::vector<std::string>{"default", "192.0.2.7", "2001:db8::1", "2001:db8::/48",
                                "192.0.2.0/24", "10.0.0.0/8", "mx.example.org", "a.example.org",
                                ".dsl.example.net", ".example.net", "/^a/", "/^z/"}));
}

TEST(StoreRules, ReplaceAllReplacesEverything) {
  Store s = Store::open(":memory:");
  s.init_defaults();
  s.replace_all(
      {make_rule("default", {{"conn_limit", "9"}}), make_rule("/^b/", {{"action", "block"}}, 5),
       make_rule("/^c/", {{"action", "block"}}), make_rule(".example.org", {{"action", "allow"}})});
  const auto rules = s.rules();
  EXPECT_EQ(selectors(rules),
            (std::vector<std::string>{"default", ".example.org", "/^b/", "/^c/"}));
  EXPECT_EQ(rules[2].priority, 5);
  EXPECT_EQ(rules[3].priority, 6);
}

TEST(StoreRules, ReplaceAllFailureLeavesTheStoreAsItWas) {
  TempDir dir;
  Store s = Store::open(dir / "policy.db");
  s.init_defaults();
  const auto before = s.rules();
  // The duplicate is only seen by the database half-way through the inserts.
  EXPECT_EQ(error_of<DbError>([&] {
              s.replace_all({make_rule("default", {{"conn_limit", "1"}}),
                             make_rule("192.0.2.7", {{"action", "block"}}),
                             make_rule("192.0.2.7/32", {{"action", "allow"}}),
                             make_rule("192.0.2.9", {{"action", "block"}})});
            }),
            "rule for 192.0.2.7 already exists");
  EXPECT_EQ(s.rules(), before);
  // An invalid rule in the middle: nothing written either.
  Rule invalid;
  invalid.selector = Selector::parse("192.0.2.8");
  EXPECT_FALSE(error_of<DbError>([&] {
                 s.replace_all({make_rule("default", {{"conn_limit", "1"}}), invalid});
               }).empty());
  EXPECT_EQ(s.rules(), before);
  // And a fresh connection sees the same.
  EXPECT_EQ(Store::open(dir / "policy.db", Store::Mode::read_only).rules(), before);
}

TEST(StoreTransaction, RollsBackOnException) {
  Store s = Store::open(":memory:");
  EXPECT_THROW(s.transaction([&] {
    s.add(make_rule("192.0.2.1", {{"action", "block"}}));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_TRUE(s.rules().empty());
}

TEST(StoreTransaction, NestedFailureRollsBackOnlyItsPart) {
  Store s = Store::open(":memory:");
  s.transaction([&] {
    s.add(make_rule("192.0.2.1", {{"action", "block"}}));
    try {
      s.transaction([&] {
        s.add(make_rule("192.0.2.2", {{"action", "block"}}));
        throw std::runtime_error("inner");
      });
    } catch (const std::runtime_error&) {
    }
    s.add(make_rule("192.0.2.3", {{"action", "block"}}));
  });
  EXPECT_EQ(selectors(s.rules()), (std::vector<std::string>{"192.0.2.1", "192.0.2.3"}));
}

TEST(StoreDefaults, SeedsSendmailStyleDefaultsOnce) {
  Store s = Store::open(":memory:");
  s.init_defaults();
  EXPECT_TRUE(s.initialized());
  const auto def = s.find(Selector::for_default());
  ASSERT_TRUE(def);
  EXPECT_EQ(def->attrs.conn_rate, policy::Rate::parse("5/60s"));
  EXPECT_EQ(def->attrs.conn_limit, 3u);
  EXPECT_EQ(def->attrs.greet_pause, 2000u);
  EXPECT_EQ(def->attrs.max_rcpts, 25u);
  EXPECT_EQ(def->attrs.bad_rcpt_throttle, 2u);
  EXPECT_EQ(def->attrs.dialin, policy::ModeSetting::monitor);
  EXPECT_EQ(def->attrs.missing_rdns, policy::MissingRdnsMode::off);
  for (const char* lo : {"127.0.0.0/8", "::1"}) {
    const auto r = s.find(Selector::parse(lo));
    ASSERT_TRUE(r) << lo;
    EXPECT_EQ(r->attrs.action, policy::Action::allow);
    EXPECT_EQ(r->comment, "loopback");
  }
  EXPECT_NE(error_of<DbError>([&] { s.init_defaults(); }).find("already initialized"),
            std::string::npos);
  EXPECT_EQ(s.rules().size(), 3u);
}

TEST(StoreDefaults, KeepsAnAdminsOwnLoopbackRule) {
  Store s = Store::open(":memory:");
  s.add(make_rule("::1", {{"conn_limit", "50"}}));
  s.init_defaults();
  EXPECT_EQ(s.find(Selector::parse("::1"))->attrs.conn_limit, 50u);
  EXPECT_FALSE(s.find(Selector::parse("::1"))->attrs.action);
}

TEST(StoreSnapshot, LoadsAndResolves) {
  Store s = Store::open(":memory:");
  s.init_defaults();
  s.add(make_rule("192.0.2.7", {{"conn_rate", "0"}}));
  const auto p = s.load_snapshot();
  ASSERT_NE(p, nullptr);
  policy::Client c{policy::IpAddress::parse("192.0.2.7"), "", policy::RdnsStatus::fail};
  const auto r = p->resolve(c, policy::UnixTime{});
  EXPECT_EQ(r.limits.conn_rate.count, 0u);
  EXPECT_EQ(r.limits.conn_limit, 3u);
}

TEST(StoreSnapshot, BadStoredRowNamesTheRule) {
  TempDir dir;
  const auto path = dir / "policy.db";
  std::int64_t id = 0;
  {
    Store s = Store::open(path);
    s.init_defaults();
    id = s.add(make_rule(".dsl.example.net", {{"action", "block"}}));
  }
  raw_sql(path, "UPDATE rules SET conn_rate = 'fast' WHERE selector = '.dsl.example.net'");
  Store s = Store::open(path, Store::Mode::read_only);
  const std::string msg = error_of<DbError>([&] { s.load_snapshot(); });
  EXPECT_NE(msg.find("stored rule id " + std::to_string(id) + " ('.dsl.example.net')"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("conn_rate"), std::string::npos) << msg;

  raw_sql(path,
          "UPDATE rules SET conn_rate = NULL, action = NULL WHERE id = " + std::to_string(id));
  const std::string msg2 = error_of<DbError>([&] { s.load_snapshot(); });
  EXPECT_NE(msg2.find(".dsl.example.net"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("rule id " + std::to_string(id)), std::string::npos) << msg2;
}

TEST(StoreSnapshot, DataVersionChangesWhenAnotherConnectionCommits) {
  TempDir dir;
  const auto path = dir / "policy.db";
  Store reader = Store::open(path);
  Store writer = Store::open(path);
  const auto v0 = reader.data_version();
  EXPECT_EQ(reader.data_version(), v0);
  writer.add(make_rule("192.0.2.7", {{"action", "block"}}));
  EXPECT_NE(reader.data_version(), v0);
  EXPECT_TRUE(reader.find(Selector::parse("192.0.2.7")));
}

// Every commit reaches the database file at once (a passive WAL checkpoint),
// even while another connection (the daemon) keeps the store open: the file
// alone, copied without its -wal, holds every rule.
TEST(StoreSnapshot, CommittedWritesReachTheDatabaseFileAtOnce) {
  TempDir dir;
  const auto path = dir / "policy.db";
  Store writer = Store::open(path);
  Store reader = Store::open(path, Store::Mode::read_only);
  writer.init_defaults();
  writer.add(make_rule("192.0.2.7", {{"action", "block"}}));
  EXPECT_TRUE(reader.find(Selector::parse("192.0.2.7")));
  const auto copy = dir / "copy.db";
  fs::copy_file(path, copy);
  const Store alone = Store::open(copy, Store::Mode::read_only);
  EXPECT_TRUE(alone.find(Selector::parse("192.0.2.7")));
  EXPECT_TRUE(alone.initialized());
  EXPECT_EQ(alone.rules().size(), writer.rules().size());
}

TEST(StoreOpen, MovedStoreKeepsWorking) {
  Store a = Store::open(":memory:");
  a.add(make_rule("192.0.2.7", {{"action", "block"}}));
  Store b = std::move(a);
  EXPECT_EQ(b.rules().size(), 1u);
  Store c = Store::open(":memory:");
  c = std::move(b);
  EXPECT_EQ(c.rules().size(), 1u);
}

}  // namespace
}  // namespace harden::db
