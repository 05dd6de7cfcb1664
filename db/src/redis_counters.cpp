// redis_counters.cpp - the Redis counter backend: the script, the connection
// pool and the liveness thread (see redis_counters.hpp).
#include "harden/db/redis_counters.hpp"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <vector>

namespace harden::db {
namespace {

using std::chrono::milliseconds;

// One script for every operation; ARGV[1] names it, ARGV[2] is the test
// time in ms (empty: the server's TIME). The window functions are
// policy::SlidingWindow (policy/src/counters.cpp) line for line: SLOTS =
// kBuckets + 1 buckets of window/kBuckets ms; bucket b covers
// [b*width, (b+1)*width).
constexpr std::string_view kCounterScript = R"lua(
local op = ARGV[1]
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local SLOTS = 11
local MAXC = 4294967295

local function width_of(window_ms)
  local w = math.floor(window_ms / (SLOTS - 1))
  if w < 1 then w = 1 end
  return w
end

local function load(key)
  local v = redis.call('HMGET', key, 'w', 'h', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10')
  local st = {w = tonumber(v[1]) or 0, h = tonumber(v[2]) or 0, c = {}}
  for i = 0, SLOTS - 1 do st.c[i] = tonumber(v[i + 3]) or 0 end
  return st
end

local function count(st, t, width)
  if st.w == 0 or st.w ~= width then return 0 end
  local gap = math.floor(t / width) - st.h
  if gap >= SLOTS then return 0 end
  local total = 0
  for b = st.h - SLOTS + 1, st.h do
    if b > st.h + gap - SLOTS then total = total + st.c[b % SLOTS] end
  end
  if total > MAXC then total = MAXC end
  return total
end

-- Writes only what changed: one field in the common case (same bucket).
local function add(key, t, window_ms, n)
  local width = width_of(window_ms)
  local st = load(key)
  local b = math.floor(t / width)
  local args
  if st.w ~= width or b - st.h >= SLOTS then
    -- new counter, the rule's window changed, or everything slid out
    st.w = width
    st.h = b
    for i = 0, SLOTS - 1 do st.c[i] = 0 end
    args = {'w', width, 'h', b}
    for i = 0, SLOTS - 1 do
      if i ~= b % SLOTS then
        args[#args + 1] = tostring(i)
        args[#args + 1] = 0
      end
    end
  elseif b > st.h then
    args = {'h', b}
    for x = st.h + 1, b - 1 do
      st.c[x % SLOTS] = 0
      args[#args + 1] = tostring(x % SLOTS)
      args[#args + 1] = 0
    end
    st.c[b % SLOTS] = 0
    st.h = b
  else
    args = {}
  end
  local slot = st.h % SLOTS
  local s = st.c[slot] + n
  if s > MAXC then s = MAXC end
  st.c[slot] = s
  args[#args + 1] = tostring(slot)
  args[#args + 1] = s
  redis.call('HSET', key, unpack(args))
  redis.call('PEXPIRE', key, (SLOTS + 1) * width + 1000)
  return count(st, t, width)
end

local function open_count(okey, me, live, prune)
  local all = redis.call('HGETALL', okey)
  local total = 0
  for i = 1, #all, 2 do
    local f = all[i]
    local v = tonumber(all[i + 1]) or 0
    if f == me or redis.call('EXISTS', live .. f) == 1 then
      if v > 0 then total = total + v end
    elseif prune then
      redis.call('HDEL', okey, f)
    end
  end
  return total
end

if op == 'connect' then
  local limit = tonumber(ARGV[4])
  local me, live = ARGV[5], ARGV[6]
  redis.call('SET', live .. me, '1', 'PX', ARGV[7])
  local c = add(KEYS[1], now, tonumber(ARGV[3]), 1)
  local open = open_count(KEYS[2], me, live, true)
  local taken = 0
  if limit == 0 or open < limit then
    redis.call('HINCRBY', KEYS[2], me, 1)
    open = open + 1
    taken = 1
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[8])
  return {c, open, taken, redis.call('GET', KEYS[3]) or ''}
elseif op == 'add' then
  return add(KEYS[1], now, tonumber(ARGV[3]), tonumber(ARGV[4]))
elseif op == 'release' then
  local v = redis.call('HINCRBY', KEYS[1], ARGV[3], -1)
  if v <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[3])
    return 0
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return v
elseif op == 'inspect' then
  local known = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  if known == 0 then return {0, 0, 0, 0, 0} end
  local conn = count(load(KEYS[1]), now, width_of(tonumber(ARGV[3])))
  local rcpt = count(load(KEYS[2]), now, width_of(tonumber(ARGV[4])))
  local msg = count(load(KEYS[3]), now, width_of(tonumber(ARGV[5])))
  local open = open_count(KEYS[4], ARGV[6], ARGV[7], false)
  return {1, conn, open, rcpt, msg}
elseif op == 'mget' then
  return redis.call('GET', KEYS[1]) or ''
elseif op == 'mcas' then
  local cur = redis.call('GET', KEYS[1]) or ''
  if cur ~= ARGV[3] then return 0 end
  if ARGV[4] == '' then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], ARGV[4], 'PXAT', ARGV[5])
  end
  return 1
elseif op == 'flush' then
  local known = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return known
end
return redis.error_reply('milter-harden: unknown op')
)lua";

timeval to_timeval(milliseconds d) {
  const auto ms = d.count() > 0 ? d.count() : 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::int64_t steady_ms(policy::SteadyTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::int64_t window_ms(std::chrono::seconds w) {
  return std::chrono::duration_cast<milliseconds>(w).count();
}

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

std::uint32_t as_count(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_INTEGER)
    throw RedisError("redis: unexpected reply type (expected an integer)");
  if (r->integer < 0) return 0;
  return r->integer > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(r->integer);
}

std::string as_text(const redisReply* r) {
  if (r == nullptr || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
    throw RedisError("redis: unexpected reply type (expected a string)");
  return std::string(r->str, r->len);
}

const redisReply* element(const redisReply* r, std::size_t i) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements <= i)
    throw RedisError("redis: unexpected reply type (expected an array)");
  return r->element[i];
}

std::string hostname_or(std::string fallback) {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) == 0 && buf[0] != '\0') return buf.data();
  return fallback;
}

}  // namespace

// One hiredis connection: connected, authenticated, database selected,
// script loaded. Any failure throws; the pool then drops the connection.
class RedisCounters::Connection {
 public:
  Connection(const RedisCountersOptions& o, const std::string& password) {
    const timeval ct = to_timeval(o.connect_timeout);
    ctx_.reset(o.url.kind == RedisUrl::Kind::unix_path
                   ? redisConnectUnixWithTimeout(o.url.path.c_str(), ct)
                   : redisConnectWithTimeout(o.url.host.c_str(), o.url.port, ct));
    if (!ctx_) throw RedisError("redis: out of memory");
    if (ctx_->err != 0) fail("connect");
    if (redisSetTimeout(ctx_.get(), to_timeval(o.command_timeout)) != REDIS_OK) fail("set timeout");
    if (!password.empty()) {
      ReplyPtr r = o.url.user.empty() ? command({"AUTH", password})
                                      : command({"AUTH", o.url.user, password});
      expect_ok(r.get(), "AUTH");
    }
    if (o.url.db != 0) expect_ok(command({"SELECT", std::to_string(o.url.db)}).get(), "SELECT");
    load_script();
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  ReplyPtr command(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (raw == nullptr) fail("command");
    return ReplyPtr(raw);
  }

  // EVALSHA, loading the script again on NOSCRIPT. Error replies throw.
  ReplyPtr eval(std::vector<std::string> args) {
    args.insert(args.begin(), {"EVALSHA", sha_});
    ReplyPtr r = command(args);
    if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
      load_script();
      args[1] = sha_;
      r = command(args);
    }
    if (r->type == REDIS_REPLY_ERROR)
      throw RedisError("redis: " + std::string(r->str, std::min<std::size_t>(r->len, 200)));
    return r;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw RedisError(std::string("redis: ") + what + ": " +
                     (ctx_ && ctx_->err != 0 ? ctx_->errstr : "failed"));
  }
  static void expect_ok(const redisReply* r, const char* what) {
    if (r->type == REDIS_REPLY_ERROR)
      throw RedisError(std::string("redis: ") + what +
                       " refused: " + std::string(r->str, std::min<std::size_t>(r->len, 200)));
  }
  void load_script() {
    ReplyPtr r = command({"SCRIPT", "LOAD", std::string(kCounterScript)});
    expect_ok(r.get(), "SCRIPT LOAD");
    if (r->type != REDIS_REPLY_STRING || r->len != 40)
      throw RedisError("redis: SCRIPT LOAD: unexpected reply");
    sha_.assign(r->str, r->len);
  }

  struct Free {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
  };
  std::unique_ptr<redisContext, Free> ctx_;  // freed also when the constructor throws
  std::string sha_;
};

// At most max_connections connections; a caller waits at most the command
// timeout for one. A connection that saw an error is dropped, not reused,
// and so are the idle ones.
class RedisCounters::Pool {
 public:
  explicit Pool(const RedisCountersOptions& o)
      : options_(o), password_(o.password.empty() ? o.url.password : o.password) {}

  class Lease {
   public:
    Lease(Pool& p, std::unique_ptr<Connection> c) : pool_(p), conn_(std::move(c)) {}
    ~Lease() { pool_.give_back(std::move(conn_), ok_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }
    void done() { ok_ = true; }

   private:
    Pool& pool_;
    std::unique_ptr<Connection> conn_;
    bool ok_ = false;
  };

  Lease take() {
    std::unique_lock lock(mu_);
    if (idle_.empty() && total_ >= options_.max_connections &&
        !cv_.wait_for(lock, options_.command_timeout,
                      [&] { return !idle_.empty() || total_ < options_.max_connections; }))
      throw RedisError("redis: no connection free within the command timeout");
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c));
    }
    ++total_;
    lock.unlock();
    try {
      return Lease(*this, std::make_unique<Connection>(options_, password_));
    } catch (...) {
      lock.lock();
      --total_;
      cv_.notify_one();
      throw;
    }
  }

 private:
  void give_back(std::unique_ptr<Connection> c, bool ok) {
    std::lock_guard lock(mu_);
    if (ok && c) {
      idle_.push_back(std::move(c));
    } else {
      // After an error the idle connections are likely broken too (Redis
      // restarted, network gone): drop them rather than fail on each.
      --total_;
      total_ -= idle_.size();
      idle_.clear();
    }
    cv_.notify_one();
  }

  const RedisCountersOptions& options_;
  std::string password_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t total_ = 0;
};

RedisCounters::RedisCounters(RedisCountersOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>(options_)) {
  // hiredis writes with write(2): a Redis that died must give EPIPE, not
  // kill the process.
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigemptyset(&ign.sa_mask);
    ::sigaction(SIGPIPE, &ign, nullptr);
  }
  if (options_.host_id.empty()) options_.host_id = hostname_or("localhost");
  const auto start =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  instance_base_ =
      options_.host_id + "/" + std::to_string(::getpid()) + "." + std::to_string(start);
}

RedisCounters::~RedisCounters() {
  {
    std::lock_guard lock(live_mu_);
    stopping_ = true;
  }
  live_cv_.notify_all();
  if (live_thread_.joinable()) live_thread_.join();
}

void RedisCounters::start() {
  if (!live_thread_.joinable()) live_thread_ = std::thread([this] { liveness_loop(); });
}

std::string RedisCounters::instance() const {
  return instance_base_ + "." + std::to_string(generation_.load());
}

std::uint64_t RedisCounters::rotate() {
  return ++generation_;
}

std::string RedisCounters::client_key(const policy::IpNetwork& key, std::string_view what) const {
  return options_.key_prefix + "c:" + key.to_string() + ":" + std::string(what);
}

std::string RedisCounters::memory_key(const policy::IpNetwork& key) const {
  return options_.key_prefix + "m:" + key.to_string();
}

std::string RedisCounters::memory_get(const policy::IpNetwork& key) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"1", memory_key(key), "mget", ""});
  std::string text = as_text(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return text;
}

bool RedisCounters::memory_cas(const policy::IpNetwork& key, const std::string& expected,
                               const std::string& value, policy::WallMs expire_at) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r =
      conn->eval({"1", memory_key(key), "mcas", "", expected, value, std::to_string(expire_at)});
  const bool stored = as_count(r.get()) == 1;
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return stored;
}

void RedisCounters::note_latency(std::chrono::steady_clock::duration d) const {
  const auto us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  const auto old = latency_us_.load(std::memory_order_relaxed);
  latency_us_.store(old == 0 ? us : (old * 7 + us) / 8, std::memory_order_relaxed);
}

void RedisCounters::liveness_loop() {
  const auto period = std::max(options_.liveness_ttl / 3, milliseconds{100});
  std::unique_lock lock(live_mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      auto conn = pool_->take();
      ReplyPtr r = conn->command({"SET", live_prefix() + instance(), "1", "PX",
                                  std::to_string(options_.liveness_ttl.count())});
      if (r->type != REDIS_REPLY_ERROR) conn.done();
    } catch (const std::exception&) {
      // Redis down: the decisions notice and fall back; retried next period.
    }
    lock.lock();
    live_cv_.wait_for(lock, period, [&] { return stopping_; });
  }
}

ConnectCount RedisCounters::connect(const policy::IpNetwork& key, policy::SteadyTime now,
                                    const policy::Limits& limits) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"3", client_key(key, "conn"), client_key(key, "open"), memory_key(key),
                           "connect", options_.test_time ? std::to_string(steady_ms(now)) : "",
                           std::to_string(window_ms(limits.conn_rate.window)),
                           std::to_string(limits.conn_limit), instance(), live_prefix(),
                           std::to_string(options_.liveness_ttl.count()),
                           std::to_string(options_.open_ttl.count())});
  ConnectCount c;
  c.conn_count = as_count(element(r.get(), 0));
  c.open = as_count(element(r.get(), 1));
  c.slot_taken = as_count(element(r.get(), 2)) == 1;
  c.memory = as_text(element(r.get(), 3));
  c.memory_read = true;
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return c;
}

void RedisCounters::release(const policy::IpNetwork& key) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"1", client_key(key, "open"), "release", "", instance(),
                           std::to_string(options_.open_ttl.count())});
  as_count(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
}

std::uint32_t RedisCounters::add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                                      const policy::Rate& rate, std::uint32_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"1", client_key(key, "rcpt"), "add",
                           options_.test_time ? std::to_string(steady_ms(now)) : "",
                           std::to_string(window_ms(rate.window)), std::to_string(n)});
  const auto count = as_count(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return count;
}

std::uint32_t RedisCounters::add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                                     const policy::Rate& rate) {
  const auto t0 = std::chrono::steady_clock::now();
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"1", client_key(key, "msg"), "add",
                           options_.test_time ? std::to_string(steady_ms(now)) : "",
                           std::to_string(window_ms(rate.window)), "1"});
  const auto count = as_count(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return count;
}

std::optional<ClientState> RedisCounters::inspect(const policy::IpNetwork& key,
                                                  policy::SteadyTime now,
                                                  const policy::Limits& limits) const {
  auto conn = pool_->take();
  ReplyPtr r = conn->eval(
      {"4", client_key(key, "conn"), client_key(key, "rcpt"), client_key(key, "msg"),
       client_key(key, "open"), "inspect", options_.test_time ? std::to_string(steady_ms(now)) : "",
       std::to_string(window_ms(limits.conn_rate.window)),
       std::to_string(window_ms(limits.rcpt_rate.window)),
       std::to_string(window_ms(limits.msg_rate.window)), instance(), live_prefix()});
  const bool known = as_count(element(r.get(), 0)) != 0;
  ClientState st{as_count(element(r.get(), 1)), as_count(element(r.get(), 2)),
                 as_count(element(r.get(), 3)), as_count(element(r.get(), 4))};
  conn.done();
  if (!known) return std::nullopt;
  return st;
}

bool RedisCounters::flush(const policy::IpNetwork& key) {
  auto conn = pool_->take();
  ReplyPtr r = conn->eval({"4", client_key(key, "conn"), client_key(key, "rcpt"),
                           client_key(key, "msg"), client_key(key, "open"), "flush", ""});
  const bool known = as_count(r.get()) != 0;
  conn.done();
  return known;
}

CounterStats RedisCounters::stats() const {
  CounterStats st;
  st.backend = "redis";
  st.target = options_.url.redacted();
  st.latency_us = latency_us();
  return st;
}

}  // namespace harden::db
