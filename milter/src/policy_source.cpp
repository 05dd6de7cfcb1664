// policy_source.cpp - start-up load, data_version polling, reload with fallback.
#include "harden/milter/policy_source.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <ctime>

namespace harden::milter {

namespace fs = std::filesystem;

PolicySource::PolicySource(PolicySourceOptions options, Engine& engine, Metrics& metrics)
    : options_(std::move(options)),
      engine_(engine),
      metrics_(metrics),
      store_(open_store(options_.store, true)),
      file_id_(file_id()) {
  load("start-up");
}

db::Store PolicySource::open_store(const fs::path& path, bool create) {
  const bool memory = path == ":memory:";
  std::error_code ec;
  const bool existed = memory ? false : fs::exists(path, ec);
  if (!create && !existed) throw db::DbError(path.string() + ": no such file");
  if (!memory && !existed && path.has_parent_path() && !fs::exists(path.parent_path(), ec)) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      throw db::DbError(path.parent_path().string() + ": cannot create directory: " + ec.message());
    fs::permissions(path.parent_path(),
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec, ec);
  }
  db::Store store = db::Store::open(path, db::Store::Mode::read_write);
  if (!existed && !store.initialized() && store.rules().empty()) {
    store.init_defaults();
    spdlog::info("policy store {} created with the default rules", path.string());
  }
  return store;
}

PolicySource::FileId PolicySource::file_id() const {
  struct stat st {};
  if (options_.store == ":memory:" || ::stat(options_.store.c_str(), &st) != 0) return {};
  return FileId{static_cast<std::uintmax_t>(st.st_dev), static_cast<std::uintmax_t>(st.st_ino)};
}

void PolicySource::load(std::string_view why) {
  // Remember the version even if this load fails: a broken store is not
  // retried (and logged) every poll, only when it changes again.
  if (!store_) store_ = open_store(options_.store, false);
  data_version_ = store_->data_version();
  const auto current = engine_.policy();
  auto snapshot = store_->load_snapshot(options_.policy, current.get());
  const std::string warning = greet_pause_warning(*snapshot, options_.greet_pause_cap);
  if (!warning.empty()) spdlog::warn("{}", warning);
  rules_ = snapshot->rules().size();
  engine_.set_policy(std::move(snapshot));
  loaded_unix_ = static_cast<std::int64_t>(std::time(nullptr));
  metrics_.bump(Metric::reload_success_total);
  spdlog::info("policy loaded ({}): {} rules from {}", why, rules_, options_.store.string());
}

ReloadResult PolicySource::reload(std::string_view why) {
  try {
    const FileId now = file_id();
    if (!(now == file_id_)) {
      // Close the old connection before opening the new file, so its WAL
      // and shared-memory files are not taken for the new database's.
      store_.reset();
      file_id_ = now;
    }
    load(why);
    return ReloadResult{true, "loaded " + std::to_string(rules_) + " rules", rules_};
  } catch (const std::exception& e) {
    metrics_.bump(Metric::reload_failure_total);
    spdlog::error("policy reload ({}) refused, keeping the previous policy: {}", why, e.what());
    return ReloadResult{false, e.what(), rules_};
  }
}

bool PolicySource::poll() {
  try {
    if (file_id() == file_id_ && (!store_ || store_->data_version() == data_version_)) return false;
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
