// fallback_counters.hpp - Redis counters with an explicit, logged fallback:
// what the daemon runs when counters: redis.
//
// SYNOPSIS
//   FallbackCounters f(std::move(redis), local, {.failure = RedisFailure::local}, hooks);
//   f.connect(key, now, limits) ... exactly the CounterBackend interface; never throws
//
// CIRCUIT BREAKER
//   Every call goes to Redis while it answers. The first error or timeout
//   (command timeout, default 50 ms) opens the breaker: the call is answered
//   by redis_failure, and so is every call for the next `retry` (back-off);
//   after it, ONE call probes Redis again (the others keep the fallback
//   until it answers). The switch is reported once each way (hooks.on_switch:
//   the daemon logs it and sets the redis_fallback gauge); every failed call
//   is reported (hooks.on_error: redis_errors_total). The back-off is timed
//   with the `now` the engine passes (its steady clock), so tests drive it.
//
// redis_failure (RedisFailure) while Redis is down:
//   local     count in this daemon's LocalCounters (limits per host, as
//             without Redis). Default.
//   continue  count nothing: every connection takes a slot, every count is 0.
//   tempfail  connect answers ConnectCount::unavailable (the engine replies
//             421 4.3.0); recipients and messages of sessions already
//             admitted are not counted.
//
// SLOTS
//   release() must give a slot back where it was taken. Slots taken on
//   Redis are remembered per client for the current Redis instance
//   (RedisCounters::rotate()), slots taken locally in a second table. An
//   error rotates the instance and forgets the Redis slots: the old
//   instance stops renewing its liveness, so Redis forgets its slots within
//   liveness_ttl (a slot whose connect timed out may or may not have been
//   counted; this way it cannot leak). The count errs low meanwhile.
//
// THREAD SAFETY
//   All member functions may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "harden/db/counters.hpp"
#include "harden/db/redis_counters.hpp"

namespace harden::db {

enum class RedisFailure : std::uint8_t { local, proceed, tempfail };  // "continue" = proceed

struct FallbackOptions {
  RedisFailure failure = RedisFailure::local;
  std::chrono::milliseconds retry{2000};  // back-off before probing Redis again
};

struct FallbackHooks {
  // down = true: Redis failed, redis_failure in force; false: Redis back.
  // `why` is the error (one line, no secrets). Called once per switch.
  std::function<void(bool down, const std::string& why)> on_switch;
  std::function<void()> on_error;  // every failed Redis call
};

class FallbackCounters final : public CounterBackend, public SharedMemory {
 public:
  FallbackCounters(std::shared_ptr<RedisCounters> redis, std::shared_ptr<CounterBackend> local,
                   FallbackOptions options, FallbackHooks hooks = {});
  ~FallbackCounters() override;
  FallbackCounters(const FallbackCounters&) = delete;
  FallbackCounters& operator=(const FallbackCounters&) = delete;

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
  // The slots this daemon holds (Redis and fallback table together): this
  // host's open connections per key, not the other hosts'.
  std::vector<OpenCount> top_open(std::size_t n) const override;
  // A pipelined Redis connection for the loop `io` (RedisChannel) behind
  // the same breaker, fallback and slot tables as the calls above.
  std::unique_ptr<CounterChannel> open_channel(boost::asio::io_context& io) override;

  // Client memory on Redis while it answers; throws while it is down (the
  // circuit breaker's state), so ClientMemory keeps the change local.
  std::string memory_get(const policy::IpNetwork& key) override;
  bool memory_cas(const policy::IpNetwork& key, const std::string& expected,
                  const std::string& value, policy::WallMs expire_at) override;

  bool down() const { return down_.load(); }
  std::uint64_t errors() const { return errors_.load(); }

 private:
  class Channel;
  struct KeyHash {
    std::size_t operator()(const policy::IpNetwork& n) const noexcept;
  };
  using SlotTable = std::unordered_map<policy::IpNetwork, std::uint32_t, KeyHash>;

  // True: try Redis now (`probing` set when this call is the probe).
  bool use_redis(policy::SteadyTime now, bool& probing) const;
  void succeeded(bool probing) const;
  void failed(const std::exception& e, bool probing) const;
  static bool take(SlotTable& t, const policy::IpNetwork& key);
  // The bookkeeping of connect(), shared with Channel: a slot taken on
  // Redis under generation `gen`; the answer of redis_failure.
  void took_redis_slot(const policy::IpNetwork& key, std::uint64_t gen);
  ConnectCount connect_fallback(const policy::IpNetwork& key, policy::SteadyTime now,
                                const policy::Limits& limits);
  // Where release() gives the slot back: true = Redis (the local slot, if
  // any, was given back here).
  bool release_where(const policy::IpNetwork& key);
  std::uint32_t add_fallback(bool msg, const policy::IpNetwork& key, policy::SteadyTime now,
                             const policy::Rate& rate, std::uint32_t n);

  std::shared_ptr<RedisCounters> redis_;
  std::shared_ptr<CounterBackend> local_;
  FallbackOptions options_;
  FallbackHooks hooks_;

  mutable std::mutex slots_mu_;  // guards both tables and the rotation
  mutable SlotTable redis_slots_;
  SlotTable local_slots_;

  mutable std::atomic<bool> down_{false};
  mutable std::atomic<bool> probing_{false};
  mutable std::atomic<std::int64_t> retry_at_ms_{0};
  mutable std::atomic<std::int64_t> last_now_ms_{0};
  mutable std::atomic<std::uint64_t> errors_{0};
};

}  // namespace harden::db
