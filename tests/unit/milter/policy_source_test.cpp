// policy_source_test.cpp - the daemon's store: created and seeded when
// missing, changes picked up by the data_version poll, a broken store refused
// while the snapshot in force stays, a broken store refusing start-up.
#include "harden/milter/policy_source.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "harden/db/counters.hpp"
#include "harden/milter/service.hpp"

namespace harden::milter {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void exec_sql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

class PolicySourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("harden-source-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    path_ = dir_ / "state" / "policy.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  PolicySourceOptions options() const { return {path_, policy::PolicyOptions{}}; }

  fs::path dir_, path_;
  policy::ManualClock clock_;
  Metrics metrics_;
  Engine engine_{EngineOptions{}, std::make_shared<db::LocalCounters>(), clock_};
};

TEST_F(PolicySourceTest, MissingStoreIsCreatedAndSeeded) {
  PolicySource src(options(), engine_, metrics_);
  EXPECT_TRUE(fs::exists(path_));
  ASSERT_TRUE(engine_.policy());
  EXPECT_EQ(src.rules(), db::Store::default_rules().size());
  EXPECT_EQ(engine_.policy()->default_rule().attrs.conn_limit, 3u);
  EXPECT_EQ(metrics_.get(Metric::reload_success_total), 1);
  EXPECT_FALSE(src.poll());
}

// hardenctl check reads the cap from "stats"; "client" shows the pause held.
TEST_F(PolicySourceTest, TheServiceReportsTheGreetPauseCapAndThePauseHeld) {
  Engine engine{EngineOptions{.greet_pause_cap = 4500ms}, std::make_shared<db::LocalCounters>(),
                clock_};
  PolicySource src({path_, policy::PolicyOptions{}}, engine, metrics_);
  EXPECT_EQ(src.greet_pause_cap(), 4500ms);
  DaemonService svc(engine, src, metrics_, clock_, policy::ClientKeyer{});
  EXPECT_EQ(svc.stats()["greet_pause_cap_ms"], 4500);
  exec_sql(path_, "UPDATE rules SET greet_pause = 30000 WHERE selector = 'default'");
  src.reload("test");
  const auto g = svc.client(parse_control_request(R"({"cmd":"client","ip":"192.0.2.7"})"));
  EXPECT_EQ(g["limits"]["greet_pause"]["value"], "4500");
  EXPECT_EQ(g["limits"]["greet_pause"]["text"], "4500 (policy 30000, cut to greet_pause_cap)");
}

TEST_F(PolicySourceTest, ChangesByAnotherConnectionArePickedUpByPoll) {
  PolicySource src(options(), engine_, metrics_);
  const auto before = engine_.policy();
  {
    db::Store other = db::Store::open(path_);
    policy::Rule r;
    r.selector = policy::Selector::parse("192.0.2.0/24");
    r.attrs.set("conn_rate", "10/1m");
    other.add(r);
  }
  EXPECT_TRUE(src.poll());
  EXPECT_NE(engine_.policy(), before);
  EXPECT_EQ(src.rules(), db::Store::default_rules().size() + 1);
  EXPECT_FALSE(src.poll());
  EXPECT_EQ(metrics_.get(Metric::reload_success_total), 2);
}

TEST_F(PolicySourceTest, BrokenStoreIsRefusedAndTheOldSnapshotStays) {
  PolicySource src(options(), engine_, metrics_);
  const auto good = engine_.policy();
  exec_sql(path_, "UPDATE rules SET conn_rate = 'five per minute' WHERE selector = 'default'");
  EXPECT_TRUE(src.poll());  // it tried
  EXPECT_EQ(engine_.policy(), good);
  EXPECT_EQ(metrics_.get(Metric::reload_failure_total), 1);
  EXPECT_FALSE(src.poll());  // not retried until the store changes again
  const ReloadResult r = src.reload("SIGHUP");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("conn_rate"), std::string::npos) << r.message;
  EXPECT_EQ(metrics_.get(Metric::reload_failure_total), 2);
  exec_sql(path_, "UPDATE rules SET conn_rate = '7/60s' WHERE selector = 'default'");
  EXPECT_TRUE(src.poll());
  EXPECT_NE(engine_.policy(), good);
  EXPECT_EQ(engine_.policy()->default_rule().attrs.conn_rate->count, 7u);
}

TEST_F(PolicySourceTest, ReplacedStoreFileIsReopened) {
  PolicySource src(options(), engine_, metrics_);
  const fs::path other = dir_ / "other.db";
  {
    db::Store s = db::Store::open(other);
    s.init_defaults();
    policy::Rule r;
    r.selector = policy::Selector::parse(".dsl.example.net");
    r.attrs.set("action", "block");
    s.add(r);
  }
  // A store is replaced with its -wal and -shm files (the store keeps them).
  for (const char* ext : {"", "-wal", "-shm"}) {
    const fs::path from = other.string() + ext, to = path_.string() + ext;
    if (fs::exists(from))
      fs::rename(from, to);
    else
      fs::remove(to);
  }
  EXPECT_TRUE(src.poll());
  EXPECT_EQ(src.rules(), db::Store::default_rules().size() + 1);
}

// The store a `mv` puts in place is the one read, by the daemon and by any
// other reader, though the old store's -wal/-shm are left where they were
// (issue 8: a persisted -wal was replayed onto the new file).
void make_store(const fs::path& p, const std::string& blocked) {
  db::Store s = db::Store::open(p);
  s.init_defaults();
  policy::Rule r;
  r.selector = policy::Selector::parse(blocked);
  r.attrs.set("action", "block");
  s.add(r);
}

bool blocks(const policy::Policy& p, const std::string& ip) {
  for (const auto& r : p.rules())
    if (r.selector.text() == ip) return true;
  return false;
}

TEST_F(PolicySourceTest, StoreRenamedOverTheOldOneIsReadAsTheNewFile) {
  fs::create_directories(path_.parent_path());
  make_store(path_, "192.0.2.50");
  PolicySource src(options(), engine_, metrics_);
  ASSERT_TRUE(blocks(*engine_.policy(), "192.0.2.50"));
  const fs::path other = dir_ / "state" / "new.db";
  make_store(other, "192.0.2.60");
  fs::rename(other, path_);  // -wal and -shm of the old store, if any, stay
  {
    db::Store reader = db::Store::open(path_, db::Store::Mode::read_only);
    bool found_new = false, found_old = false;
    for (const auto& r : reader.rules()) {
      found_new = found_new || r.selector.text() == "192.0.2.60";
      found_old = found_old || r.selector.text() == "192.0.2.50";
    }
    EXPECT_TRUE(found_new);
    EXPECT_FALSE(found_old);
  }
  EXPECT_TRUE(src.poll());
  EXPECT_TRUE(blocks(*engine_.policy(), "192.0.2.60"));
  EXPECT_FALSE(blocks(*engine_.policy(), "192.0.2.50"));
  EXPECT_FALSE(src.poll());
}

TEST_F(PolicySourceTest, EmptyOrGarbageFileRenamedIntoPlaceIsRefused) {
  PolicySource src(options(), engine_, metrics_);
  const auto good = engine_.policy();
  for (const std::string& content : {std::string(), std::string(8192, 'x')}) {
    const fs::path tmp = dir_ / "state" / "bad.db";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
    fs::rename(tmp, path_);  // no -wal/-shm removed by hand
    const auto failed = metrics_.get(Metric::reload_failure_total);
    EXPECT_FALSE(src.poll() && metrics_.get(Metric::reload_failure_total) == failed);
    EXPECT_EQ(metrics_.get(Metric::reload_failure_total), failed + 1);
    EXPECT_EQ(engine_.policy(), good);
    EXPECT_EQ(fs::file_size(path_), content.size()) << "the refused file was not written to";
  }
}

TEST_F(PolicySourceTest, StoreThatDoesNotLoadRefusesStartUp) {
  { PolicySource first(options(), engine_, metrics_); }
  exec_sql(path_, "UPDATE rules SET max_rcpts = -4 WHERE selector = 'default'");
  Engine fresh{EngineOptions{}, std::make_shared<db::LocalCounters>(), clock_};
  EXPECT_THROW(PolicySource(options(), fresh, metrics_), std::exception);
  EXPECT_FALSE(fresh.policy());
  fs::create_directories(dir_ / "junk");
  std::FILE* f = std::fopen((dir_ / "junk" / "policy.db").c_str(), "w");
  std::fputs("this is not a database, it is a text file of some length........", f);
  std::fclose(f);
  EXPECT_THROW(PolicySource({dir_ / "junk" / "policy.db", {}}, fresh, metrics_), std::exception);
}

TEST(GreetPauseWarningTest, NamesRulesAboveTheCap) {
  std::vector<policy::Rule> rules(2);
  rules[0].attrs.set("greet_pause", "2000");
  rules[1].selector = policy::Selector::parse(".slow.example.net");
  rules[1].attrs.set("greet_pause", "15000");
  const auto p = policy::Policy::build(rules);
  EXPECT_EQ(PolicySource::greet_pause_warning(*p, 20000ms), "");
  const std::string w = PolicySource::greet_pause_warning(*p, 9000ms);
  EXPECT_NE(w.find(".slow.example.net (15000ms)"), std::string::npos) << w;
  EXPECT_EQ(w.find("default"), std::string::npos) << w;
}

}  // namespace
}  // namespace harden::milter
