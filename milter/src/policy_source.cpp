// policy_source.cpp - start-up load, data_version polling, reload with fallback.
#include "harden/milter/policy_source.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <ctime>

namespace harden::milter {

namespace fs = std::filesystem;

PolicySource::PolicySource(PolicySourceOptions options, Engine& engine, Metrics& metrics)
    : options_(std::move(options)), engine_(engine), metrics_(metrics) {
  if (options_.store == ":memory:") store_ = open_store(options_.store, true);
  load("start-up", true);
}

db::Store PolicySource::open_store(const fs::path& path, bool create) {
  const bool memory = path == ":memory:";
  std::error_code ec;
  const bool existed = memory ? false : fs::exists(path, ec);
  if (!create && !existed) throw db::DbError(path.string() + ": no such file");
  // SQLite takes a zero-byte file for an empty database and would write a
  // new schema into it: a store truncated or copied wrong is refused instead.
  if (!memory && existed && fs::is_regular_file(path, ec) && fs::file_size(path, ec) == 0)
    throw db::DbError(path.string() + ": empty file, not a policy store");
  if (!memory && !existed && path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      throw db::DbError(path.parent_path().string() + ": cannot create directory: " + ec.message());
    fs::permissions(path.parent_path(),
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  // Start-up opens read-write (creates, migrates); a reload only reads, and
  // may run after privileges were dropped.
  db::Store store =
      db::Store::open(path, create ? db::Store::Mode::read_write : db::Store::Mode::read_only);
  if (!existed && !store.initialized() && store.rules().empty()) {
    store.init_defaults();
    spdlog::info("policy store {} created with the default rules", path.string());
  }
  return store;
}

namespace {

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

PolicySource::FileId PolicySource::file_id() const {
  struct stat st {};
  if (options_.store == ":memory:" || ::stat(options_.store.c_str(), &st) != 0) return {};
  FileId id{static_cast<std::uintmax_t>(st.st_dev), static_cast<std::uintmax_t>(st.st_ino),
            static_cast<std::uintmax_t>(st.st_size), mtime_ns(st)};
  struct stat wal {};
  // An empty -wal (a read-only connection cannot delete it) holds no commit.
  if (::stat((options_.store.string() + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) {
    id.wal = true;
    id.wal_size = static_cast<std::uintmax_t>(wal.st_size);
    id.wal_mtime_ns = mtime_ns(wal);
  }
  return id;
}

void PolicySource::load(std::string_view why, bool create) {
  // The fingerprint is taken before the store is read: a commit made while
  // it is read shows at the next poll. It is kept even if this load fails,
  // so a broken store is not retried (and logged) every poll, only when it
  // changes again.
  file_id_ = file_id();
  // A file store is open only while it is read: no connection of ours keeps
  // a -wal next to the path, where it could be applied to a file renamed
  // over the store (SQLite opens any -wal it finds beside a database).
  std::optional<db::Store> opened;
  if (!store_) opened = open_store(options_.store, create);
  db::Store& store = store_ ? *store_ : *opened;
  data_version_ = store.data_version();
  const auto current = engine_.policy();
  auto snapshot = store.load_snapshot(options_.policy, current.get());
  opened.reset();
  if (create) file_id_ = file_id();  // start-up may have created the file
  const std::string warning = greet_pause_warning(*snapshot, greet_pause_cap());
  if (!warning.empty()) spdlog::warn("{}", warning);
  rules_ = snapshot->rules().size();
  engine_.set_policy(std::move(snapshot));
  loaded_unix_ = static_cast<std::int64_t>(std::time(nullptr));
  metrics_.bump(Metric::reload_success_total);
  spdlog::info("policy loaded ({}): {} rules from {}", why, rules_, options_.store.string());
}

ReloadResult PolicySource::reload(std::string_view why) {
  try {
    load(why, false);
    return ReloadResult{true, "loaded " + std::to_string(rules_) + " rules", rules_};
  } catch (const std::exception& e) {
    metrics_.bump(Metric::reload_failure_total);
    spdlog::error("policy reload ({}) refused, keeping the previous policy: {}", why, e.what());
    return ReloadResult{false, e.what(), rules_};
  }
}

bool PolicySource::poll() {
  try {
    if (store_ ? store_->data_version() == data_version_ : file_id() == file_id_) return false;
  } catch (const std::exception& e) {
    spdlog::warn("policy store poll failed: {}", e.what());
    return false;
  }
  reload("store changed");
  return true;
}

std::string PolicySource::greet_pause_warning(const policy::Policy& p,
                                              std::chrono::milliseconds cap) {
  std::string names;
  for (const auto& r : p.rules()) {
    if (r.attrs.greet_pause && *r.attrs.greet_pause > cap.count())
      names += (names.empty() ? "" : ", ") + r.selector.text() + " (" +
               std::to_string(*r.attrs.greet_pause) + "ms)";
  }
  if (names.empty()) return {};
  if (names.size() > 400) names = names.substr(0, 400) + "...";
  return "greet_pause above greet_pause_cap " + std::to_string(cap.count()) +
         "ms is cut to the cap: " + names;
}

}  // namespace harden::milter
