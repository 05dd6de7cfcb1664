// fallback_counters.cpp - the circuit breaker between Redis and the fallback.
#include "harden/db/fallback_counters.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace harden::db {
namespace {

std::int64_t ms_of(policy::SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::size_t FallbackCounters::KeyHash::operator()(const policy::IpNetwork& n) const noexcept {
  std::uint64_t h = 1469598103934665603ULL ^ n.prefix();
  for (auto b : n.address().bytes()) h = (h ^ b) * 1099511628211ULL;
  return static_cast<std::size_t>(h ^ (h >> 29));
}

FallbackCounters::FallbackCounters(std::shared_ptr<RedisCounters> redis,
                                   std::shared_ptr<CounterBackend> local, FallbackOptions options,
                                   FallbackHooks hooks)
    : redis_(std::move(redis)),
      local_(std::move(local)),
      options_(options),
      hooks_(std::move(hooks)) {}

FallbackCounters::~FallbackCounters() = default;

bool FallbackCounters::use_redis(policy::SteadyTime now, bool& probing) const {
  const auto ms = ms_of(now);
  last_now_ms_.store(ms, std::memory_order_relaxed);
  probing = false;
  if (!down_.load()) return true;
  if (ms < retry_at_ms_.load()) return false;
  if (probing_.exchange(true)) return false;  // another call probes
  probing = true;
  return true;
}

void FallbackCounters::succeeded(bool probing) const {
  if (!probing) return;
  down_.store(false);
  probing_.store(false);
  if (hooks_.on_switch) hooks_.on_switch(false, "");
}

void FallbackCounters::failed(const std::exception& e, bool probing) const {
  errors_.fetch_add(1);
  {
    std::lock_guard lock(slots_mu_);
    redis_->rotate();  // see SLOTS in the header
    redis_slots_.clear();
  }
  retry_at_ms_.store(last_now_ms_.load(std::memory_order_relaxed) + options_.retry.count());
  if (probing) probing_.store(false);
  if (hooks_.on_error) hooks_.on_error();
  if (!down_.exchange(true) && hooks_.on_switch) hooks_.on_switch(true, e.what());
}

bool FallbackCounters::take(SlotTable& t, const policy::IpNetwork& key) {
  auto it = t.find(key);
  if (it == t.end()) return false;
  if (--it->second == 0) t.erase(it);
  return true;
}

std::string FallbackCounters::memory_get(const policy::IpNetwork& key) {
  bool probing = false;
  const policy::SteadyTime now{
      std::chrono::milliseconds(last_now_ms_.load(std::memory_order_relaxed))};
  if (!use_redis(now, probing)) throw RedisError("redis: down (client memory stays local)");
  try {
    std::string text = redis_->memory_get(key);
    succeeded(probing);
    return text;
  } catch (const std::exception& e) {
    failed(e, probing);
    throw;
  }
}

bool FallbackCounters::memory_cas(const policy::IpNetwork& key, const std::string& expected,
                                  const std::string& value, policy::WallMs expire_at) {
  bool probing = false;
  const policy::SteadyTime now{
      std::chrono::milliseconds(last_now_ms_.load(std::memory_order_relaxed))};
  if (!use_redis(now, probing)) throw RedisError("redis: down (client memory stays local)");
  try {
    const bool stored = redis_->memory_cas(key, expected, value, expire_at);
    succeeded(probing);
    return stored;
  } catch (const std::exception& e) {
    failed(e, probing);
    throw;
  }
}

void FallbackCounters::took_redis_slot(const policy::IpNetwork& key, std::uint64_t gen) {
  std::lock_guard lock(slots_mu_);
  // A slot of an instance rotated away meanwhile is Redis's to forget.
  if (redis_->generation() == gen) ++redis_slots_[key];
}

ConnectCount FallbackCounters::connect_fallback(const policy::IpNetwork& key,
                                                policy::SteadyTime now,
                                                const policy::Limits& limits) {
  ConnectCount c;
  switch (options_.failure) {
    case RedisFailure::local: {
      c = local_->connect(key, now, limits);
      if (c.slot_taken) {
        std::lock_guard lock(slots_mu_);
        ++local_slots_[key];
      }
      break;
    }
    case RedisFailure::proceed:
      c.slot_taken = true;  // nothing held: release() finds nothing to give back
      break;
    case RedisFailure::tempfail:
      c.unavailable = true;
      break;
  }
  return c;
}

ConnectCount FallbackCounters::connect(const policy::IpNetwork& key, policy::SteadyTime now,
                                       const policy::Limits& limits) {
  bool probing = false;
  if (use_redis(now, probing)) {
    const auto gen = redis_->generation();
    try {
      const ConnectCount c = redis_->connect(key, now, limits);
      if (c.slot_taken) took_redis_slot(key, gen);
      succeeded(probing);
      return c;
    } catch (const std::exception& e) {
      failed(e, probing);
    }
  }
  return connect_fallback(key, now, limits);
}

bool FallbackCounters::release_where(const policy::IpNetwork& key) {
  bool on_redis = false;
  bool on_local = false;
  {
    std::lock_guard lock(slots_mu_);
    on_redis = take(redis_slots_, key);
    if (!on_redis) on_local = take(local_slots_, key);
  }
  if (on_local) local_->release(key);
  return on_redis;
}

void FallbackCounters::release(const policy::IpNetwork& key) {
  if (!release_where(key)) return;
  try {
    redis_->release(key);
  } catch (const std::exception& e) {
    failed(e, false);
  }
}

std::uint32_t FallbackCounters::add_fallback(bool msg, const policy::IpNetwork& key,
                                             policy::SteadyTime now, const policy::Rate& rate,
                                             std::uint32_t n) {
  if (options_.failure != RedisFailure::local) return 0;
  return msg ? local_->add_msg(key, now, rate) : local_->add_rcpt(key, now, rate, n);
}

std::uint32_t FallbackCounters::add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                                         const policy::Rate& rate, std::uint32_t n) {
  bool probing = false;
  if (use_redis(now, probing)) {
    try {
      const auto count = redis_->add_rcpt(key, now, rate, n);
      succeeded(probing);
      return count;
    } catch (const std::exception& e) {
      failed(e, probing);
    }
  }
  return add_fallback(false, key, now, rate, n);
}

std::uint32_t FallbackCounters::add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                                        const policy::Rate& rate) {
  bool probing = false;
  if (use_redis(now, probing)) {
    try {
      const auto count = redis_->add_msg(key, now, rate);
      succeeded(probing);
      return count;
    } catch (const std::exception& e) {
      failed(e, probing);
    }
  }
  return add_fallback(true, key, now, rate, 1);
}

std::optional<ClientState> FallbackCounters::inspect(const policy::IpNetwork& key,
                                                     policy::SteadyTime now,
                                                     const policy::Limits& limits) const {
  bool probing = false;
  if (use_redis(now, probing)) {
    try {
      auto st = redis_->inspect(key, now, limits);
      succeeded(probing);
      return st;
    } catch (const std::exception& e) {
      failed(e, probing);
    }
  }
  return local_->inspect(key, now, limits);
}

bool FallbackCounters::flush(const policy::IpNetwork& key) {
  // The local table may hold counts from an outage: forget those too.
  bool flushed = local_->flush(key);
  if (!down_.load()) {
    try {
      flushed = redis_->flush(key) || flushed;
    } catch (const std::exception& e) {
      failed(e, false);
    }
  }
  return flushed;
}

CounterStats FallbackCounters::stats() const {
  CounterStats st = local_->stats();
  st.backend = "redis";
  st.target = redis_->options().url.redacted();
  st.latency_us = redis_->latency_us();
  st.fallback = down_.load();
  st.errors = errors_.load();
  return st;
}

std::vector<OpenCount> FallbackCounters::top_open(std::size_t n) const {
  SlotTable mine;
  {
    std::lock_guard lock(slots_mu_);
    mine = redis_slots_;
    for (const auto& [key, slots] : local_slots_) mine[key] += slots;
  }
  std::vector<OpenCount> all;
  all.reserve(mine.size());
  for (const auto& [key, slots] : mine) all.push_back({key, slots});
  return most_open(std::move(all), n);
}

// The calls of FallbackCounters, each made on a RedisChannel: the same
// breaker (use_redis, succeeded, failed), slot tables and fallback; an
// answer from the fallback is posted, as the contract wants, and like
// RedisChannel's never called once the channel is destroyed.
class FallbackCounters::Channel final : public CounterChannel {
 public:
  Channel(FallbackCounters& owner, boost::asio::io_context& io)
      : owner_(owner), io_(io), redis_(owner.redis_, io) {}

  void connect(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Limits& limits,
               ConnectDone done) override {
    bool probing = false;
    if (owner_.use_redis(now, probing)) {
      const auto gen = owner_.redis_->generation();
      redis_.connect(key, now, limits,
                     [this, key, now, limits, gen, probing, done = std::move(done)](
                         const std::exception* error, const ConnectCount& c) {
                       if (error == nullptr) {
                         if (c.slot_taken) owner_.took_redis_slot(key, gen);
                         owner_.succeeded(probing);
                         return done(c);
                       }
                       owner_.failed(*error, probing);
                       done(owner_.connect_fallback(key, now, limits));
                     });
      return;
    }
    answer_later(
        [c = owner_.connect_fallback(key, now, limits), done = std::move(done)] { done(c); });
  }

  void add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
                std::uint32_t n, CountDone done) override {
    add(false, key, now, rate, n, std::move(done));
  }
  void add_msg(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
               CountDone done) override {
    add(true, key, now, rate, 1, std::move(done));
  }

  void release(const policy::IpNetwork& key) override {
    if (!owner_.release_where(key)) return;
    redis_.release(key, [this](const std::exception* error) {
      if (error != nullptr) owner_.failed(*error, false);
    });
  }

 private:
  void add(bool msg, const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
           std::uint32_t n, CountDone done) {
    bool probing = false;
    if (owner_.use_redis(now, probing)) {
      auto answer = [this, msg, key, now, rate, n, probing, done = std::move(done)](
                        const std::exception* error, std::uint32_t count) {
        if (error == nullptr) {
          owner_.succeeded(probing);
          return done(count);
        }
        owner_.failed(*error, probing);
        done(owner_.add_fallback(msg, key, now, rate, n));
      };
      if (msg) return redis_.add_msg(key, now, rate, std::move(answer));
      return redis_.add_rcpt(key, now, rate, n, std::move(answer));
    }
    answer_later([count = owner_.add_fallback(msg, key, now, rate, n), done = std::move(done)] {
      done(count);
    });
  }

  // Posts an answer of the fallback; dropped, as RedisChannel's are, if
  // the channel is gone by then.
  template <class F>
  void answer_later(F f) {
    boost::asio::post(io_, [alive = std::weak_ptr<int>(alive_), f = std::move(f)]() mutable {
      if (alive.lock()) f();
    });
  }

  FallbackCounters& owner_;
  boost::asio::io_context& io_;
  RedisChannel redis_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

std::unique_ptr<CounterChannel> FallbackCounters::open_channel(boost::asio::io_context& io) {
  return std::make_unique<Channel>(*this, io);
}

}  // namespace harden::db
