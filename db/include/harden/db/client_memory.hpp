// client_memory.hpp - the daemon's table of client records (greet passes,
// offences, penalties; policy/memory.hpp) and their state file.
//
// SYNOPSIS
//   ClientMemory mem({.max_entries = 200'000});
//   mem.has_pass(key, now);  mem.grant_pass(key, now, ttl);  mem.drop_pass(key);
//   mem.penalty(key, now);   mem.offend(key, now, weight, settings, "pregreet");
//   auto changes = mem.take_changes();   // control thread: what to write
//   state.save(changes);                 // StateStore: one transaction
//   auto ended = mem.sweep(now);         // penalties over since the last sweep
//
// ClientMemory lives in the daemon's memory and is what the connection path
// reads: kShards shards, each a hash map with its own mutex and an LRU list,
// capped at max_entries in all (a spray of millions of addresses evicts the
// least recently used records, preferring those without a penalty in force).
// Every change marks the key dirty; the control thread takes the changes in
// batches and writes them to the StateStore (SQLite, never on the connection
// path), so records survive a restart; a crash loses at most one batch
// interval (config key state_flush_interval).
//
// StateStore is a SQLite file of its own (not the policy store: the policy
// store is the administrator's and may be replaced by `mv` at any time),
// schema versioned with PRAGMA user_version like the policy store. hardenctl
// reads and edits it when no daemon runs.
//
// THREAD SAFETY
//   ClientMemory: all members from any thread. StateStore: one thread at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/memory.hpp"

namespace harden::db {

struct ClientEntry {
  policy::IpNetwork key;
  policy::ClientRecord record;
};

// Client records shared by several MX hosts (counters: redis): the daemon's
// ClientMemory reads and writes through it. Records are text
// (encode_record); a write is a compare-and-set on the whole text, so two
// hosts changing one record at once cannot lose an offence (the loser reads
// again and retries). Every call may throw (Redis down); ClientMemory then
// keeps to its own table.
class SharedMemory {
 public:
  virtual ~SharedMemory() = default;
  // The record's text, "" when there is none.
  virtual std::string memory_get(const policy::IpNetwork& key) = 0;
  // Stores `value` ("" = delete), to expire at wall-clock `expire_at` (ms),
  // if the stored text still equals `expected` ("" = none). False otherwise.
  virtual bool memory_cas(const policy::IpNetwork& key, const std::string& expected,
                          const std::string& value, policy::WallMs expire_at) = 0;
};

struct ClientMemoryOptions {
  std::size_t max_entries = 200'000;
  SharedMemory* shared = nullptr;  // counters: redis; null: this host only
};

struct ClientMemoryStats {
  std::size_t entries = 0;
  std::size_t capacity = 0;
  std::uint64_t evictions = 0;
  std::size_t passes = 0;     // records holding a pass at `now`
  std::size_t penalties = 0;  // records with a penalty in force at `now`
};

struct PenaltyEnd {
  policy::IpNetwork key;
  policy::Penalty penalty;
  bool lifted = false;  // ended early (hardenctl offenders remove)
};

class ClientMemory {
 public:
  static constexpr std::size_t kShards = 16;

  explicit ClientMemory(ClientMemoryOptions options = {});
  ~ClientMemory();
  ClientMemory(const ClientMemory&) = delete;
  ClientMemory& operator=(const ClientMemory&) = delete;

  // The connection path. Lookups never create a record.
  bool has_pass(const policy::IpNetwork& key, policy::WallMs now);
  void grant_pass(const policy::IpNetwork& key, policy::WallMs now, std::uint32_t ttl_ms);
  void drop_pass(const policy::IpNetwork& key);
  std::optional<policy::Penalty> penalty(const policy::IpNetwork& key, policy::WallMs now);
  std::optional<policy::Penalty> offend(const policy::IpNetwork& key, policy::WallMs now,
                                        std::uint32_t weight, const policy::PenaltySettings& s,
                                        std::string_view why);

  // The shared record read with the counters (ConnectCount::memory) replaces
  // this host's copy; "" removes it.
  void refresh(const policy::IpNetwork& key, const std::string& text, policy::WallMs now);
  bool shared() const { return shared_ != nullptr; }
  // Shared-memory calls that failed (Redis down): the change stayed local.
  std::uint64_t shared_errors() const { return shared_errors_.load(); }

  // The administrator's view (control socket).
  std::optional<policy::ClientRecord> find(const policy::IpNetwork& key) const;
  // Every record that still matters at `now`, most severe first: penalties
  // in force (latest end first), then the others by key.
  // At most `limit` of them; `total` (if given) gets how many there are. Only
  // the records returned are copied (a table of 200,000 is ranked by key and
  // penalty end, not copied whole, each time `hardenctl top` refreshes).
  std::vector<ClientEntry> entries(policy::WallMs now,
                                   std::size_t limit = static_cast<std::size_t>(-1),
                                   std::size_t* total = nullptr) const;
  policy::Penalty impose(const policy::IpNetwork& key, policy::WallMs now, std::int64_t length_ms,
                         std::string reason);
  // Forgets the key: penalty in force, history, offences and pass. False if unknown.
  bool forget(const policy::IpNetwork& key, policy::WallMs now);

  // Persistence (the control thread).
  struct Changes {
    std::vector<ClientEntry> upserts;
    std::vector<policy::IpNetwork> deletes;
    bool empty() const { return upserts.empty() && deletes.empty(); }
  };
  Changes take_changes();
  // Marks the keys of changes that could not be written dirty again (a
  // failed StateStore::save), so the next batch retries them.
  void requeue(const Changes& changes);
  // Records read back at start-up (not marked dirty). Forgotten ones are skipped.
  void load(std::vector<ClientEntry> entries, policy::WallMs now);
  // Drops forgotten records and returns the penalties that ended since the
  // last sweep (each once), for the "penalty end" log lines.
  std::vector<PenaltyEnd> sweep(policy::WallMs now);

  ClientMemoryStats stats(policy::WallMs now) const;

 private:
  struct Shard;
  Shard& shard_of(const policy::IpNetwork& key) const;
  void mark_end_pending(const policy::IpNetwork& key);
  // Applies `change` to the shared record (compare-and-set, a few retries),
  // then stores the result here. Without a shared store, or when it fails,
  // applies it to this host's copy only.
  template <typename Change>
  auto apply(const policy::IpNetwork& key, policy::WallMs now, bool create, Change&& change)
      -> decltype(change(std::declval<policy::ClientRecord&>()));
  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t per_shard_ = 0;
  SharedMemory* shared_ = nullptr;
  std::atomic<std::uint64_t> shared_errors_{0};
};

// A record as one line of text (the shared store's value):
// "1;PASS;FORGET;START;UNTIL;N;HISTORY;OFFENCES;REASON", with START..N empty
// without a penalty; decode_record returns nullopt for anything else.
std::string encode_record(const policy::ClientRecord& r);
std::optional<policy::ClientRecord> decode_record(std::string_view text);

class StateStore {
 public:
  static constexpr int kSchemaVersion = 1;

  // Creates (mode 0640 via the umask of the daemon) and migrates; read_only
  // for hardenctl's listing. Throws DbError with one line.
  enum class Mode { read_write, read_only };
  static StateStore open(const std::filesystem::path& path, Mode mode = Mode::read_write);
  StateStore(StateStore&&) noexcept;
  StateStore& operator=(StateStore&&) noexcept;
  ~StateStore();

  int schema_version() const;
  std::vector<ClientEntry> load(policy::WallMs now) const;
  std::optional<policy::ClientRecord> find(const policy::IpNetwork& key) const;
  void save(const ClientMemory::Changes& changes);

 private:
  StateStore() = default;
  struct Conn;
  std::unique_ptr<Conn> conn_;
};

// The record's history and offences as stored ("t,t,t" and "t:w,t:w"); the
// parse side skips malformed items rather than failing the whole load.
std::string encode_times(const std::vector<policy::WallMs>& times);
std::vector<policy::WallMs> decode_times(std::string_view text);
std::string encode_offences(const std::vector<policy::ClientRecord::OffenceAt>& offences);
std::vector<policy::ClientRecord::OffenceAt> decode_offences(std::string_view text);

}  // namespace harden::db
