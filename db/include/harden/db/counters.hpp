// counters.hpp - per-client counter state shared by all sessions.
//
// SYNOPSIS
//   LocalCounters c({.memory_cap_bytes = 256 << 20});
//   auto r = c.connect(key, now, limits);   // take a slot, count the connection
//   c.release(key);                         // in xxfi_close, once per taken slot
//   c.add_rcpt(key, now, window); c.add_msg(key, now, window);
//   c.inspect(key, now); c.flush(key); c.stats();
//   c.top_open(10);                         // the keys with the most open connections
//
// Keys are client keys (policy::ClientKeyer: IPv4 /32, IPv6 /64 by default).
// State changes have names (connect, release, add_rcpt, add_msg, flush), as
// anvil's do; nothing else mutates a client's counters.
//
// LocalCounters is the in-process backend: kShards shards, each a hash map
// with its own mutex and an LRU list. A hard memory cap bounds the number of
// entries; when a shard is full its least recently used entry is evicted
// (preferring entries with no open connection), so a spray of millions of
// addresses cannot grow memory without bound. An evicted client starts over
// from zero, which errs on the side of letting mail in. An entry is counted
// at what it costs the heap (entry_bytes(): nodes, malloc rounding, buckets),
// so the cap bounds the table's share of the process's RSS: bench_milter
// sprays 1M addresses, each on a new milter connection, and checks it.
//
// The counts live in this process: a restart starts every client from zero.
// For several MX hosts sharing limits, and counts that survive a restart, see
// RedisCounters (redis_counters.hpp) behind FallbackCounters
// (fallback_counters.hpp).
//
// TOP OPEN CONNECTIONS (hardenctl top)
// top_open(n) answers from a per-shard index of the entries that hold an
// open connection (updated when a key's open count leaves or returns to 0),
// so it scans only those, each shard under its own lock, never the whole
// table. The index is a list threaded through the entries themselves (two
// pointers each, counted in entry_bytes()): joining or leaving it allocates
// nothing. FallbackCounters (counters: redis) answers with
// the slots THIS daemon holds (on Redis or in its fallback table): the
// open connections of this host's sessions, not the other MX hosts'.
//
// THREAD SAFETY
//   All member functions may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/clock.hpp"
#include "harden/policy/counters.hpp"
#include "harden/policy/policy.hpp"

namespace boost::asio {
class io_context;
}

namespace harden::db {

struct ConnectCount {
  std::uint32_t conn_count = 0;  // connections in the conn_rate window, this one included
  std::uint32_t open = 0;        // open connections, this one included if a slot was taken
  bool slot_taken = false;       // false: conn_limit reached, nothing held
  // Nothing was counted: the shared counters are down and redis_failure is
  // tempfail (FallbackCounters). The engine answers 4xx; nothing is held.
  bool unavailable = false;
  // The shared backend read the client's shared memory record in the same
  // round trip (client_memory.hpp, SharedMemory): `memory` is its text, ""
  // when it has none. False for local counters and while Redis is down.
  bool memory_read = false;
  std::string memory;
};

struct ClientState {
  std::uint32_t conn_count = 0;
  std::uint32_t open = 0;
  std::uint32_t rcpt_count = 0;
  std::uint32_t msg_count = 0;
};

// A client key and its open connections (CounterBackend::top_open).
struct OpenCount {
  policy::IpNetwork key;
  std::uint32_t open = 0;
};

// The n entries of `all` with the most open connections, most first (ties:
// the lower key first); `all` is reordered.
std::vector<OpenCount> most_open(std::vector<OpenCount> all, std::size_t n);

struct CounterStats {
  std::size_t entries = 0;
  std::size_t capacity = 0;      // entries the memory cap allows
  std::size_t memory_bytes = 0;  // estimate: entries * per-entry size
  std::uint64_t evictions = 0;
  // Which backend counts, and how it fares (hardenctl status, metrics).
  std::string backend = "local";  // "local" | "redis"
  std::string target;             // redis: the URL without its password
  bool fallback = false;          // redis: down, redis_failure in force
  std::uint64_t latency_us = 0;   // redis: round trip, exponential average
  std::uint64_t errors = 0;       // redis: calls that failed
};

// An event loop's way to a shared counter backend (the native milter
// engine, counters: redis): connect, add_rcpt, add_msg and release as on the
// backend, answered by callbacks on the loop's thread, never from inside the
// call, so the loop serves other sessions while the backend answers. Made
// by CounterBackend::open_channel; used on that loop's thread only.
class CounterChannel {
 public:
  using ConnectDone = std::function<void(const ConnectCount&)>;
  using CountDone = std::function<void(std::uint32_t)>;
  virtual ~CounterChannel() = default;
  virtual void connect(const policy::IpNetwork& key, policy::SteadyTime now,
                       const policy::Limits& limits, ConnectDone done) = 0;
  virtual void add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                        const policy::Rate& rate, std::uint32_t n, CountDone done) = 0;
  virtual void add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                       const policy::Rate& rate, CountDone done) = 0;
  // Gives back a slot taken by this channel's or the backend's connect().
  virtual void release(const policy::IpNetwork& key) = 0;
};

class CounterBackend {
 public:
  virtual ~CounterBackend() = default;
  // Counts one connection in the limits' conn_rate window and takes an
  // open-connection slot unless conn_limit (0 = unlimited) is reached.
  virtual ConnectCount connect(const policy::IpNetwork& key, policy::SteadyTime now,
                               const policy::Limits& limits) = 0;
  // Gives back a slot taken by connect(). Call once per slot_taken.
  virtual void release(const policy::IpNetwork& key) = 0;
  // Counts recipients / messages; returns the count in the window, these included.
  virtual std::uint32_t add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                                 const policy::Rate& rate, std::uint32_t n = 1) = 0;
  virtual std::uint32_t add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                                const policy::Rate& rate) = 0;
  virtual std::optional<ClientState> inspect(const policy::IpNetwork& key, policy::SteadyTime now,
                                             const policy::Limits& limits) const = 0;
  // Forgets the client's rates (open connections stay counted). False if unknown.
  virtual bool flush(const policy::IpNetwork& key) = 0;
  virtual CounterStats stats() const = 0;
  // The `n` client keys with the most open connections, most first. The
  // default knows none (a backend that cannot tell cheaply).
  virtual std::vector<OpenCount> top_open(std::size_t n) const {
    (void)n;
    return {};
  }
  // A channel for the event loop `io` (CounterChannel), or nullptr: the
  // backend answers in microseconds and is called directly (the default).
  virtual std::unique_ptr<CounterChannel> open_channel(boost::asio::io_context& io) {
    (void)io;
    return nullptr;
  }
};

struct LocalCountersOptions {
  std::size_t memory_cap_bytes = 256u << 20;  // 256 MiB
  std::size_t shards = 64;
};

class LocalCounters final : public CounterBackend {
 public:
  explicit LocalCounters(LocalCountersOptions options = {});
  ~LocalCounters() override;
  LocalCounters(const LocalCounters&) = delete;
  LocalCounters& operator=(const LocalCounters&) = delete;

  ConnectCount connect(const policy::IpNetwork& key, policy::SteadyTime now,
                       const policy::Limits& limits) override;
  void release(const policy::IpNetwork& key) override;
  std::uint32_t add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                         const policy::Rate& rate, std::uint32_t n = 1) override;
  std::uint32_t add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                        const policy::Rate& rate) override;
  std::optional<ClientState> inspect(const policy::IpNetwork& key, policy::SteadyTime now,
                                     const policy::Limits& limits) const override;
  bool flush(const policy::IpNetwork& key) override;
  CounterStats stats() const override;
  std::vector<OpenCount> top_open(std::size_t n) const override;

  // Bytes one entry costs the heap (key, counters, hash node, LRU links, its
  // share of the bucket array, malloc rounding), used for the cap.
  static std::size_t entry_bytes();

 private:
  struct Shard;
  Shard& shard_for(const policy::IpNetwork& key) const;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t per_shard_cap_;
};

}  // namespace harden::db
