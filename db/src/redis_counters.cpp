// redis_counters.cpp - the Redis counter backend: the script, the connection
// pool and the liveness thread (see redis_counters.hpp).
#include "harden/db/redis_counters.hpp"

#include <hiredis/hiredis.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <vector>

#include "harden/policy/counters.hpp"

namespace harden::db {
namespace {

using std::chrono::milliseconds;

// One Lua script per operation (Script below), each run with ONE EVALSHA.
// Scripts that need the time take it from the Redis server's TIME, or, when
// the caller passes it as the last ARGV, from the caller (the test hook).
// Redis charges every ARGV, every redis.call and every Lua function made on
// each run, so the scripts take no operation name, write their hot paths
// inline, and get the numbers they pass to redis.call as strings from the
// caller (Redis formats a Lua number with snprintf("%.17g")).
//
// A window is policy::SlidingWindow (policy/src/counters.cpp) line for line:
// SLOTS = kBuckets + 1 buckets of `width` ms (the caller passes the width,
// SlidingWindow's width_ms, and the key's TTL); bucket b covers
// [b*width, (b+1)*width). It is ONE string, read with GET and written with
// SET ... PX (value and TTL in one command): struct.pack(WIN) of the width
// and the head bucket (doubles) and the SLOTS counts (uint32), 60 bytes.

// `now`: holds the test time (an ARGV, or nil) on entry.
constexpr std::string_view kClock = R"lua(
if now then
  now = tonumber(now)
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local SLOTS = 11
local MAXC = 4294967295
local WIN = '<ddI4I4I4I4I4I4I4I4I4I4I4'
)lua";

// Adds n to the window at `key` (SlidingWindow::add) and sets `total` to
// its count. Needs now, key, width, n, ttl. After an add the head bucket is
// at or after now's bucket, so nothing has slid out: the count is the sum.
constexpr std::string_view kWindowAdd = R"lua(
local st
local v = redis.call('GET', key)
if v then st = {struct.unpack(WIN, v)} end
local b = math.floor(now / width)
if not st or st[1] ~= width or b - st[2] >= SLOTS then
  -- new counter, the rule's window changed, or everything slid out
  st = {width, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
elseif b > st[2] then
  for x = st[2] + 1, b do st[x % SLOTS + 3] = 0 end
  st[2] = b
end
local i = st[2] % SLOTS + 3
local s = st[i] + n
if s > MAXC then s = MAXC end
st[i] = s
redis.call('SET', key, struct.pack(WIN, unpack(st, 1, 13)), 'PX', ttl)
local total = 0
for j = 3, 13 do total = total + st[j] end
if total > MAXC then total = MAXC end
)lua";

// add: KEYS window; ARGV width, n, ttl [, test time] -> count in the window
constexpr std::string_view kAddHead = R"lua(
local now = ARGV[4]
)lua";
constexpr std::string_view kAddTail = R"lua(
local key, width, n, ttl = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
)lua";

// connect: KEYS conn window, open, memory; ARGV width, window ttl, limit,
// instance, liveness prefix, liveness ttl (or '': not written), open ttl
// [, test time] -> {conn count, open, slot taken, memory record or ''}
constexpr std::string_view kConnectHead = R"lua(
local now = ARGV[8]
)lua";
constexpr std::string_view kConnectMid = R"lua(
local me, live = ARGV[4], ARGV[5]
if ARGV[6] ~= '' then redis.call('SET', live .. me, '1', 'PX', ARGV[6]) end
local key, width, n, ttl = KEYS[1], tonumber(ARGV[1]), 1, ARGV[2]
)lua";
constexpr std::string_view kConnectOpen = R"lua(
local okey, prune = KEYS[2], true
)lua";
constexpr std::string_view kConnectTail = R"lua(
local taken = 0
local limit = tonumber(ARGV[3])
if limit == 0 or open < limit then
  redis.call('HINCRBY', okey, me, '1')
  open = open + 1
  taken = 1
end
redis.call('PEXPIRE', okey, ARGV[7])
return {total, open, taken, redis.call('GET', KEYS[3]) or ''}
)lua";

// Sets `open` to the open connections in the hash `okey` of the instances
// still alive (this instance, `me`, always counts); with `prune`, deletes
// the fields of the dead ones. Needs okey, me, live, prune.
constexpr std::string_view kOpenCount = R"lua(
local all = redis.call('HGETALL', okey)
local open = 0
for k = 1, #all, 2 do
  local f = all[k]
  if f == me or redis.call('EXISTS', live .. f) == 1 then
    local c = tonumber(all[k + 1]) or 0
    if c > 0 then open = open + c end
  elseif prune then
    redis.call('HDEL', okey, f)
  end
end
)lua";

// release: KEYS open; ARGV instance, open ttl -> this instance's slots left
constexpr std::string_view kRelease = R"lua(
local v = redis.call('HINCRBY', KEYS[1], ARGV[1], '-1')
if v <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return v
)lua";

// inspect: KEYS conn, rcpt, msg windows, open; ARGV conn, rcpt, msg widths,
// instance, liveness prefix [, test time] -> {known, conn, open, rcpt, msg}
constexpr std::string_view kInspectHead = R"lua(
local now = ARGV[6]
)lua";
constexpr std::string_view kInspectTail = R"lua(
local function count(key, width)
  local v = redis.call('GET', key)
  if not v then return 0 end
  local st = {struct.unpack(WIN, v)}
  if st[1] ~= width then return 0 end
  local h = st[2]
  local gap = math.floor(now / width) - h
  if gap >= SLOTS then return 0 end
  -- buckets older than h + gap - SLOTS have slid out
  local lo = h - SLOTS + 1
  if lo < h + gap - SLOTS + 1 then lo = h + gap - SLOTS + 1 end
  local total = 0
  for b = lo, h do total = total + st[b % SLOTS + 3] end
  if total > MAXC then total = MAXC end
  return total
end
local known = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if known == 0 then return {0, 0, 0, 0, 0} end
local conn = count(KEYS[1], tonumber(ARGV[1]))
local rcpt = count(KEYS[2], tonumber(ARGV[2]))
local msg = count(KEYS[3], tonumber(ARGV[3]))
local me, live, okey, prune = ARGV[4], ARGV[5], KEYS[4], false
)lua";
constexpr std::string_view kInspectReturn = R"lua(
return {1, conn, open, rcpt, msg}
)lua";

// mget: KEYS memory -> the record or ''
constexpr std::string_view kMemoryGet = R"lua(
return redis.call('GET', KEYS[1]) or ''
)lua";

// mcas: KEYS memory; ARGV expected, value ('' deletes), expire at (ms since
// the epoch) -> 1 if stored
constexpr std::string_view kMemoryCas = R"lua(
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
end
return 1
)lua";

// flush: KEYS conn, rcpt, msg windows, open, and the conn, rcpt, msg
// windows of the previous key format (UPGRADE in the header) -> 1 if the
// client was known. The open hash is kept.
constexpr std::string_view kFlush = R"lua(
local known = redis.call('EXISTS', unpack(KEYS))
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[7])
if known > 0 then return 1 end
return 0
)lua";

enum class Script : std::uint8_t { connect, add, release, inspect, mget, mcas, flush };
constexpr std::size_t kScripts = 7;

template <class... Pieces>
std::string concat(const Pieces&... pieces) {
  std::string out;
  (out.append(pieces), ...);
  return out;
}

// The scripts' texts, by Script.
const std::array<std::string, kScripts>& script_texts() {
  static const std::array<std::string, kScripts> texts = {
      concat(kConnectHead, kClock, kConnectMid, kWindowAdd, kConnectOpen, kOpenCount, kConnectTail),
      concat(kAddHead, kClock, kAddTail, kWindowAdd, "return total\n"),
      std::string(kRelease),
      concat(kInspectHead, kClock, kInspectTail, kOpenCount, kInspectReturn),
      std::string(kMemoryGet),
      std::string(kMemoryCas),
      std::string(kFlush),
  };
  return texts;
}

timeval to_timeval(milliseconds d) {
  const auto ms = d.count() > 0 ? d.count() : 1;
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::int64_t steady_ms(policy::SteadyTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

// policy::SlidingWindow's bucket width (width_ms in policy/src/counters.cpp).
std::int64_t width_ms(std::chrono::seconds w) {
  const auto ms = std::chrono::duration_cast<milliseconds>(w).count() /
                  static_cast<std::int64_t>(policy::SlidingWindow::kBuckets);
  return ms > 0 ? ms : 1;
}

// TTL of a window key: the ring (kBuckets + 1 buckets) plus one, plus 1 s.
std::int64_t window_ttl_ms(std::int64_t width) {
  return static_cast<std::int64_t>(policy::SlidingWindow::kBuckets + 2) * width + 1000;
}

// Decimal text of n in a small buffer, without allocating.
class Num {
 public:
  explicit Num(std::int64_t n) {
    end_ = std::to_chars(buf_.data(), buf_.data() + buf_.size(), n).ptr;
  }
  std::string_view view() const {
    return {buf_.data(), static_cast<std::size_t>(end_ - buf_.data())};
  }
  explicit operator std::string_view() const { return view(); }

 private:
  std::array<char, 24> buf_{};
  char* end_ = nullptr;
};

// One command in RESP (an array of bulk strings), built in a buffer that is
// reused from call to call: no argument vectors, no per-argument strings.
class CommandBuffer {
 public:
  void clear() {
    body_.clear();
    argc_ = 0;
  }
  // One argument: the concatenation of the pieces.
  template <class... Pieces>
  CommandBuffer& arg(const Pieces&... pieces) {
    const std::size_t len = (std::string_view(pieces).size() + ... + 0);
    header('$', len);
    (body_.append(std::string_view(pieces)), ...);
    body_.append("\r\n");
    ++argc_;
    return *this;
  }
  // The whole command: "*argc" and the arguments.
  std::string_view finish() {
    std::array<char, 24> head{};
    head[0] = '*';
    char* end = std::to_chars(head.data() + 1, head.data() + head.size() - 2, argc_).ptr;
    *end++ = '\r';
    *end++ = '\n';
    body_.insert(0, head.data(), static_cast<std::size_t>(end - head.data()));
    return body_;
  }

 private:
  void header(char kind, std::size_t len) {
    std::array<char, 24> h{};
    h[0] = kind;
    char* end = std::to_chars(h.data() + 1, h.data() + h.size() - 2, len).ptr;
    *end++ = '\r';
    *end++ = '\n';
    body_.append(h.data(), static_cast<std::size_t>(end - h.data()));
  }
  std::string body_;
  std::size_t argc_ = 0;
};

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
  Connection(const RedisCountersOptions& o, const std::string& password)
      : poll_(o.poll_before_sleep) {
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
    load_scripts();
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

  // EVALSHA: begin_eval(script), the arguments (numkeys, keys, args), eval().
  CommandBuffer& begin_eval(Script script) {
    cmd_.clear();
    cmd_.arg("EVALSHA").arg(sha_[static_cast<std::size_t>(script)]);
    return cmd_;
  }
  // Sends the command begun with begin_eval(), loading the scripts again on
  // NOSCRIPT (a sha does not change: it is the script's SHA1). Error replies
  // throw.
  ReplyPtr eval() {
    const std::string_view text = cmd_.finish();
    ReplyPtr r = send(text);
    if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
      const auto before = sha_;
      load_scripts();
      if (sha_ != before) throw RedisError("redis: SCRIPT LOAD: a script's sha changed");
      r = send(text);
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
  void load_scripts() {
    for (std::size_t i = 0; i < kScripts; ++i) {
      ReplyPtr r = command({"SCRIPT", "LOAD", script_texts()[i]});
      expect_ok(r.get(), "SCRIPT LOAD");
      if (r->type != REDIS_REPLY_STRING || r->len != 40)
        throw RedisError("redis: SCRIPT LOAD: unexpected reply");
      sha_[i].assign(r->str, r->len);
    }
  }

  // Writes the command and reads the reply. With polling on, the reply is
  // first polled for (recv MSG_DONTWAIT, sched_yield between tries) for up
  // to poll_ before sleeping in the blocking read: a reply from a Redis on
  // this host often comes within it, and then the caller neither sleeps nor
  // needs waking (each costs a context switch on both sides). After
  // kPollMisses polls in a row that the reply outlasted (a remote Redis),
  // the connection skips polling for kPollPause calls.
  ReplyPtr send(std::string_view text) {
    if (redisAppendFormattedCommand(ctx_.get(), text.data(), text.size()) != REDIS_OK)
      fail("command");
    int done = 0;
    while (done == 0)
      if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) fail("command");
    void* raw = nullptr;
    if (poll_.count() > 0 && poll_pause_ == 0) {
      raw = poll_reply();
      if (raw != nullptr) {
        poll_misses_ = 0;
      } else if (++poll_misses_ >= kPollMisses) {
        poll_misses_ = 0;
        poll_pause_ = kPollPause;
      }
    } else if (poll_pause_ > 0) {
      --poll_pause_;
    }
    if (raw == nullptr && (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr))
      fail("command");
    return ReplyPtr(static_cast<redisReply*>(raw));
  }

  // The reply if it came within poll_, else nullptr (and the blocking read
  // takes over, reporting any error).
  void* poll_reply() {
    const auto until = std::chrono::steady_clock::now() + poll_;
    std::array<char, 4096> buf;  // not cleared: recv fills it
    void* raw = nullptr;
    do {
      const ssize_t n = ::recv(ctx_->fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        if (redisReaderFeed(ctx_->reader, buf.data(), static_cast<std::size_t>(n)) != REDIS_OK ||
            redisGetReplyFromReader(ctx_.get(), &raw) != REDIS_OK)
          fail("command");
        if (raw != nullptr) return raw;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        return nullptr;
      } else {
        ::sched_yield();
      }
    } while (std::chrono::steady_clock::now() < until);
    return nullptr;
  }

  static constexpr int kPollMisses = 32;
  static constexpr int kPollPause = 1000;
  std::chrono::microseconds poll_;
  int poll_misses_ = 0;
  int poll_pause_ = 0;

  struct Free {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
  };
  std::unique_ptr<redisContext, Free> ctx_;  // freed also when the constructor throws
  std::array<std::string, kScripts> sha_;
  CommandBuffer cmd_;
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
  live_prefix_ = options_.key_prefix + "live:";
  client_prefix_ = options_.key_prefix + "c:";
  memory_prefix_ = options_.key_prefix + "m:";
  liveness_ttl_text_ = std::to_string(options_.liveness_ttl.count());
  open_ttl_text_ = std::to_string(options_.open_ttl.count());
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

namespace {

// The window keys of a client ("c:CLIENT:conn:v2"; see KEYS in the header).
constexpr std::string_view kConnWindow = ":conn:v2";
constexpr std::string_view kRcptWindow = ":rcpt:v2";
constexpr std::string_view kMsgWindow = ":msg:v2";
constexpr std::string_view kOpen = ":open";

std::int64_t steady_now_ms() {
  return steady_ms(std::chrono::steady_clock::now());
}

}  // namespace

bool RedisCounters::liveness_due(std::uint64_t gen, std::int64_t now_ms) const {
  return live_gen_.load() != gen ||
         now_ms - live_sent_ms_.load() >= (options_.liveness_ttl / 3).count();
}

void RedisCounters::note_liveness(std::uint64_t gen, std::int64_t sent_ms) {
  live_sent_ms_.store(sent_ms);
  live_gen_.store(gen);
}

std::string RedisCounters::memory_get(const policy::IpNetwork& key) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string client = key.to_string();
  auto conn = pool_->take();
  conn->begin_eval(Script::mget).arg("1").arg(memory_prefix_, client);
  ReplyPtr r = conn->eval();
  std::string text = as_text(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return text;
}

bool RedisCounters::memory_cas(const policy::IpNetwork& key, const std::string& expected,
                               const std::string& value, policy::WallMs expire_at) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string client = key.to_string();
  auto conn = pool_->take();
  conn->begin_eval(Script::mcas)
      .arg("1")
      .arg(memory_prefix_, client)
      .arg(expected)
      .arg(value)
      .arg(Num(expire_at));
  ReplyPtr r = conn->eval();
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
      const auto sent = steady_now_ms();
      const auto gen = generation_.load();
      auto conn = pool_->take();
      ReplyPtr r = conn->command({"SET", live_prefix_ + instance_base_ + "." + std::to_string(gen),
                                  "1", "PX", liveness_ttl_text_});
      if (r->type != REDIS_REPLY_ERROR) {
        conn.done();
        note_liveness(gen, sent);
      }
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
  const auto sent = steady_ms(t0);
  const std::string client = key.to_string();
  const auto gen = generation_.load();
  // The liveness key is written by the liveness thread; a connect writes it
  // too when this instance has not written it in the last liveness_ttl/3
  // (a new instance, no thread, or the thread late), so a slot is never
  // taken by an instance the others would take for dead.
  const bool renew = liveness_due(gen, sent);
  const auto width = width_ms(limits.conn_rate.window);
  auto conn = pool_->take();
  auto& cmd = conn->begin_eval(Script::connect)
                  .arg("3")
                  .arg(client_prefix_, client, kConnWindow)
                  .arg(client_prefix_, client, kOpen)
                  .arg(memory_prefix_, client)
                  .arg(Num(width))
                  .arg(Num(window_ttl_ms(width)))
                  .arg(Num(limits.conn_limit))
                  .arg(instance_base_, ".", Num(static_cast<std::int64_t>(gen)))
                  .arg(live_prefix_)
                  .arg(renew ? std::string_view(liveness_ttl_text_) : std::string_view{})
                  .arg(open_ttl_text_);
  if (options_.test_time) cmd.arg(Num(steady_ms(now)));
  ReplyPtr r = conn->eval();
  ConnectCount c;
  c.conn_count = as_count(element(r.get(), 0));
  c.open = as_count(element(r.get(), 1));
  c.slot_taken = as_count(element(r.get(), 2)) == 1;
  c.memory = as_text(element(r.get(), 3));
  c.memory_read = true;
  conn.done();
  if (renew) note_liveness(gen, sent);
  note_latency(std::chrono::steady_clock::now() - t0);
  return c;
}

void RedisCounters::release(const policy::IpNetwork& key) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string client = key.to_string();
  const auto gen = generation_.load();
  auto conn = pool_->take();
  conn->begin_eval(Script::release)
      .arg("1")
      .arg(client_prefix_, client, kOpen)
      .arg(instance_base_, ".", Num(static_cast<std::int64_t>(gen)))
      .arg(open_ttl_text_);
  ReplyPtr r = conn->eval();
  as_count(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
}

std::uint32_t RedisCounters::add(const policy::IpNetwork& key, std::string_view window,
                                 policy::SteadyTime now, const policy::Rate& rate,
                                 std::uint32_t n) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string client = key.to_string();
  const auto width = width_ms(rate.window);
  auto conn = pool_->take();
  auto& cmd = conn->begin_eval(Script::add)
                  .arg("1")
                  .arg(client_prefix_, client, window)
                  .arg(Num(width))
                  .arg(Num(n))
                  .arg(Num(window_ttl_ms(width)));
  if (options_.test_time) cmd.arg(Num(steady_ms(now)));
  ReplyPtr r = conn->eval();
  const auto count = as_count(r.get());
  conn.done();
  note_latency(std::chrono::steady_clock::now() - t0);
  return count;
}

std::uint32_t RedisCounters::add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                                      const policy::Rate& rate, std::uint32_t n) {
  return add(key, kRcptWindow, now, rate, n);
}

std::uint32_t RedisCounters::add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                                     const policy::Rate& rate) {
  return add(key, kMsgWindow, now, rate, 1);
}

std::optional<ClientState> RedisCounters::inspect(const policy::IpNetwork& key,
                                                  policy::SteadyTime now,
                                                  const policy::Limits& limits) const {
  const std::string client = key.to_string();
  const auto gen = generation_.load();
  auto conn = pool_->take();
  auto& cmd = conn->begin_eval(Script::inspect)
                  .arg("4")
                  .arg(client_prefix_, client, kConnWindow)
                  .arg(client_prefix_, client, kRcptWindow)
                  .arg(client_prefix_, client, kMsgWindow)
                  .arg(client_prefix_, client, kOpen)
                  .arg(Num(width_ms(limits.conn_rate.window)))
                  .arg(Num(width_ms(limits.rcpt_rate.window)))
                  .arg(Num(width_ms(limits.msg_rate.window)))
                  .arg(instance_base_, ".", Num(static_cast<std::int64_t>(gen)))
                  .arg(live_prefix_);
  if (options_.test_time) cmd.arg(Num(steady_ms(now)));
  ReplyPtr r = conn->eval();
  const bool known = as_count(element(r.get(), 0)) != 0;
  ClientState st{as_count(element(r.get(), 1)), as_count(element(r.get(), 2)),
                 as_count(element(r.get(), 3)), as_count(element(r.get(), 4))};
  conn.done();
  if (!known) return std::nullopt;
  return st;
}

bool RedisCounters::flush(const policy::IpNetwork& key) {
  const std::string client = key.to_string();
  auto conn = pool_->take();
  conn->begin_eval(Script::flush)
      .arg("7")
      .arg(client_prefix_, client, kConnWindow)
      .arg(client_prefix_, client, kRcptWindow)
      .arg(client_prefix_, client, kMsgWindow)
      .arg(client_prefix_, client, kOpen)
      .arg(client_prefix_, client, ":conn")
      .arg(client_prefix_, client, ":rcpt")
      .arg(client_prefix_, client, ":msg");
  ReplyPtr r = conn->eval();
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
