// redis_counters.cpp - the Redis counter backend: the script, the connection
// pool, the liveness thread and the pipelined RedisChannel (see
// redis_counters.hpp).
#include "harden/db/redis_counters.hpp"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <charconv>
#include <deque>
#include <optional>
#include <thread>
#include <utility>
#include <variant>
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

// A connect's reply: {conn count, open, slot taken, memory record or ''}.
ConnectCount connect_count(const redisReply* r) {
  ConnectCount c;
  c.conn_count = as_count(element(r, 0));
  c.open = as_count(element(r, 1));
  c.slot_taken = as_count(element(r, 2)) == 1;
  c.memory = as_text(element(r, 3));
  c.memory_read = true;
  return c;
}

bool is_noscript(const redisReply* r) {
  return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT");
}

// An error reply as the text of a RedisError: "redis: ", `what`, and at
// most 200 bytes of the reply.
std::string error_text(const redisReply* r, std::string_view what = {}) {
  return concat(std::string_view("redis: "), what,
                std::string_view(r->str, std::min<std::size_t>(r->len, 200)));
}

// "EVALSHA sha", the start of every decision's command.
CommandBuffer& begin_evalsha(CommandBuffer& cmd, const std::string& sha) {
  cmd.clear();
  cmd.arg("EVALSHA").arg(sha);
  return cmd;
}

// The window keys of a client ("c:CLIENT:conn:v2"; see KEYS in the header).
constexpr std::string_view kConnWindow = ":conn:v2";
constexpr std::string_view kRcptWindow = ":rcpt:v2";
constexpr std::string_view kMsgWindow = ":msg:v2";
constexpr std::string_view kOpen = ":open";

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
    return begin_evalsha(cmd_, sha_[static_cast<std::size_t>(script)]);
  }
  // Sends the command begun with begin_eval(), loading the scripts again on
  // NOSCRIPT (a sha does not change: it is the script's SHA1). Error replies
  // throw.
  ReplyPtr eval() {
    const std::string_view text = cmd_.finish();
    ReplyPtr r = send(text);
    if (is_noscript(r.get())) {
      const auto before = sha_;
      load_scripts();
      if (sha_ != before) throw RedisError("redis: SCRIPT LOAD: a script's sha changed");
      r = send(text);
    }
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(error_text(r.get()));
    return r;
  }

  // The arguments of the decisions' EVALSHAs after begin_eval() or
  // begin_evalsha() (numkeys, keys, args, and the test time with
  // Options::test_time): written once, for RedisCounters and RedisChannel.
  static void connect_args(const RedisCounters& rc, CommandBuffer& cmd, std::string_view client,
                           std::uint64_t gen, bool renew, const policy::Limits& limits,
                           policy::SteadyTime now);
  static void add_args(const RedisCounters& rc, CommandBuffer& cmd, std::string_view client,
                       std::string_view window, policy::SteadyTime now, const policy::Rate& rate,
                       std::uint32_t n);
  static void release_args(const RedisCounters& rc, CommandBuffer& cmd, std::string_view client,
                           std::uint64_t gen);

  // Gives the connected, authenticated socket up to a caller that drives it
  // itself (RedisChannel): its descriptor, to close, and the scripts' shas.
  // The connection is unusable afterwards.
  struct Detached {
    int fd = -1;
    std::array<std::string, kScripts> sha;
  };
  Detached detach() {
    Detached d;
    d.sha = std::move(sha_);
    d.fd = redisFreeKeepFd(ctx_.release());
    return d;
  }

 private:
  [[noreturn]] void fail(const char* what) {
    throw RedisError(std::string("redis: ") + what + ": " +
                     (ctx_ && ctx_->err != 0 ? ctx_->errstr : "failed"));
  }
  static void expect_ok(const redisReply* r, const char* what) {
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(error_text(r, concat(what, " refused: ")));
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

  const std::string& password() const { return password_; }

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

void RedisCounters::Connection::connect_args(const RedisCounters& rc, CommandBuffer& cmd,
                                             std::string_view client, std::uint64_t gen, bool renew,
                                             const policy::Limits& limits, policy::SteadyTime now) {
  const auto width = width_ms(limits.conn_rate.window);
  cmd.arg("3")
      .arg(rc.client_prefix_, client, kConnWindow)
      .arg(rc.client_prefix_, client, kOpen)
      .arg(rc.memory_prefix_, client)
      .arg(Num(width))
      .arg(Num(window_ttl_ms(width)))
      .arg(Num(limits.conn_limit))
      .arg(rc.instance_base_, ".", Num(static_cast<std::int64_t>(gen)))
      .arg(rc.live_prefix_)
      .arg(renew ? std::string_view(rc.liveness_ttl_text_) : std::string_view{})
      .arg(rc.open_ttl_text_);
  if (rc.options_.test_time) cmd.arg(Num(steady_ms(now)));
}

void RedisCounters::Connection::add_args(const RedisCounters& rc, CommandBuffer& cmd,
                                         std::string_view client, std::string_view window,
                                         policy::SteadyTime now, const policy::Rate& rate,
                                         std::uint32_t n) {
  const auto width = width_ms(rate.window);
  cmd.arg("1")
      .arg(rc.client_prefix_, client, window)
      .arg(Num(width))
      .arg(Num(n))
      .arg(Num(window_ttl_ms(width)));
  if (rc.options_.test_time) cmd.arg(Num(steady_ms(now)));
}

void RedisCounters::Connection::release_args(const RedisCounters& rc, CommandBuffer& cmd,
                                             std::string_view client, std::uint64_t gen) {
  cmd.arg("1")
      .arg(rc.client_prefix_, client, kOpen)
      .arg(rc.instance_base_, ".", Num(static_cast<std::int64_t>(gen)))
      .arg(rc.open_ttl_text_);
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
  auto conn = pool_->take();
  Connection::connect_args(*this, conn->begin_eval(Script::connect), client, gen, renew, limits,
                           now);
  ReplyPtr r = conn->eval();
  ConnectCount c = connect_count(r.get());
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
  Connection::release_args(*this, conn->begin_eval(Script::release), client, gen);
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
  auto conn = pool_->take();
  Connection::add_args(*this, conn->begin_eval(Script::add), client, window, now, rate, n);
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

// ---- RedisChannel ----

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Socket = asio::basic_stream_socket<asio::generic::stream_protocol>;

struct ReaderFree {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};

// One connection of a channel: its socket, reply parser and buffers. The
// handlers of its reads and writes hold it (the buffers live until they
// complete); the channel drops it when it closes the connection.
struct ChannelConnection {
  explicit ChannelConnection(asio::io_context& io) : sock(io) {}
  Socket sock;
  std::unique_ptr<redisReader, ReaderFree> reader{redisReaderCreate()};
  std::array<char, 16 * 1024> rbuf;  // not cleared: reads fill it
  std::string inflight;              // what async_write is writing
  bool reading = false;
  bool writing = false;
};

// Calls a pending command's callback with an error (the result
// value-initialised); nothing for the channel's own SCRIPT LOADs.
struct CallError {
  const std::exception* error;
  void operator()(std::monostate) const {}
  void operator()(const RedisChannel::ConnectDone& f) const { f(error, ConnectCount{}); }
  void operator()(const RedisChannel::CountDone& f) const { f(error, 0); }
  void operator()(const RedisChannel::ReleaseDone& f) const { f(error); }
};

}  // namespace

struct RedisChannel::Impl : std::enable_shared_from_this<Impl> {
  // The callback of a command sent; monostate: the channel's SCRIPT LOAD.
  using Done = std::variant<std::monostate, ConnectDone, CountDone, ReleaseDone>;
  struct Pending {
    Done done;
    std::string text;  // the EVALSHA, for the retry after NOSCRIPT
    Clock::time_point sent{};
    Clock::time_point t0{};  // first sent (latency)
    std::uint64_t gen = 0;   // connect: the liveness written with it
    std::int64_t sent_ms = 0;
    bool renew = false;
    bool retried = false;
    std::size_t script = 0;          // SCRIPT LOAD: which
    std::size_t evalsha = kScripts;  // EVALSHA: of which script
  };

  Impl(std::shared_ptr<RedisCounters> o, asio::io_context& context)
      : owner(std::move(o)), io(context), timer(context) {}

  // ---- the calls ----

  void connect(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Limits& limits,
               ConnectDone done) {
    if (!ready(done)) return;
    Pending p;
    p.sent_ms = steady_now_ms();
    p.gen = owner->generation_.load();
    p.renew = owner->liveness_due(p.gen, p.sent_ms);
    RedisCounters::Connection::connect_args(*owner, begin(Script::connect), key.to_string(), p.gen,
                                            p.renew, limits, now);
    p.done = std::move(done);
    send(std::move(p));
  }

  void add(const policy::IpNetwork& key, std::string_view window, policy::SteadyTime now,
           const policy::Rate& rate, std::uint32_t n, CountDone done) {
    if (!ready(done)) return;
    RedisCounters::Connection::add_args(*owner, begin(Script::add), key.to_string(), window, now,
                                        rate, n);
    Pending p;
    p.done = std::move(done);
    send(std::move(p));
  }

  void release(const policy::IpNetwork& key, ReleaseDone done) {
    if (!ready(done)) return;
    RedisCounters::Connection::release_args(*owner, begin(Script::release), key.to_string(),
                                            owner->generation_.load());
    Pending p;
    p.done = std::move(done);
    send(std::move(p));
  }

  // ~RedisChannel: nothing is called any more; the handlers still queued
  // find `dead` (or no Impl) and return.
  void shutdown() {
    dead = true;
    close();
    fifo.clear();
    timer.cancel();
    if (connector.joinable()) connector.join();  // at most the connect and set-up timeouts
  }

  // ---- sending ----

  // Whether a command can be sent: the FIFO is not full. When not
  // connected, a connection is started in the background (start_connect);
  // the command waits for it in the FIFO, under the same command timeout.
  // If not, `done` gets the error from a later handler.
  template <class F>
  bool ready(F& done) {
    if (fifo.size() >= RedisChannel::kMaxPending) {
      post_error(std::move(done), "redis: too many commands pending");
      return false;
    }
    if (!conn && !connecting) start_connect();
    return true;
  }

  template <class F>
  void post_error(F done, std::string what) {
    asio::post(
        io, [weak = weak_from_this(), done = std::move(done), error = RedisError(std::move(what))] {
          const auto self = weak.lock();
          if (self && !self->dead) CallError{&error}(done);
        });
  }

  // A descriptor handed from the connecting thread to the channel; closed
  // if the channel never takes it (destroyed meanwhile).
  struct HandedFd {
    int fd = -1;
    HandedFd() = default;
    HandedFd(const HandedFd&) = delete;
    HandedFd& operator=(const HandedFd&) = delete;
    ~HandedFd() {
      if (fd >= 0) ::close(fd);
    }
    int take() { return std::exchange(fd, -1); }
  };

  // Connects on a thread of its own, as RedisCounters' pool does (connect,
  // AUTH, SELECT, SCRIPT LOAD, each bounded by its timeout), so the event
  // loop never waits for it; the result comes back to the loop as a
  // handler (connected or connect_failed).
  void start_connect() {
    if (connector.joinable()) connector.join();  // the last one has ended: its result came
    connecting = true;
    connector = std::thread([weak = weak_from_this(), o = owner, &context = io] {
      auto fd = std::make_shared<HandedFd>();
      std::array<std::string, kScripts> shas;
      std::string error;
      try {
        RedisCounters::Connection c(o->options_, o->pool_->password());
        auto d = c.detach();
        fd->fd = d.fd;
        shas = std::move(d.sha);
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(context, [weak, fd, shas = std::move(shas), error = std::move(error)]() mutable {
        const auto self = weak.lock();
        if (!self || self->dead) return;
        self->connecting = false;
        if (!error.empty()) return self->fail_all(RedisError(error));
        self->connected(fd->take(), std::move(shas));
      });
    });
  }

  // Takes the socket over and sends what waited for it (the scripts' shas
  // written into the commands queued before they were known).
  void connected(int fd, std::array<std::string, kScripts> shas) {
    auto next = std::make_shared<ChannelConnection>(io);
    if (!next->reader) {
      ::close(fd);
      return fail_all(RedisError("redis: out of memory"));
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    boost::system::error_code ec;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ec.assign(errno, boost::system::system_category());
    } else {
      // A socket (not a descriptor): asio writes with MSG_NOSIGNAL.
      const int family = addr.ss_family;
      next->sock.assign(asio::generic::stream_protocol(family, family == AF_UNIX ? 0 : IPPROTO_TCP),
                        fd, ec);
    }
    if (ec) {
      ::close(fd);
      return fail_all(RedisError("redis: socket: " + ec.message()));
    }
    next->sock.non_blocking(true, ec);  // flush() writes without waiting
    if (ec) return fail_all(RedisError("redis: socket: " + ec.message()));
    sha = std::move(shas);
    loads_pending = 0;
    conn = std::move(next);
    out.clear();
    for (Pending& p : fifo) {
      with_sha(p);
      out.append(p.text);
    }
    read(conn);
    flush();
  }

  // The EVALSHA of `p`, built before the shas were known, with its script's
  // sha (40 hex digits, in place of the 40 characters kept for it).
  void with_sha(Pending& p) const {
    static constexpr std::string_view kHead = "EVALSHA\r\n$40\r\n";
    const std::size_t at = p.text.find(kHead);
    if (at != std::string::npos && p.evalsha < kScripts)
      p.text.replace(at + kHead.size(), 40, sha[p.evalsha]);
  }

  // "EVALSHA sha" of `script`; before the first connection the sha is not
  // known yet: 40 characters are kept for it (with_sha).
  CommandBuffer& begin(Script script) {
    static const std::string kUnknown(40, '0');
    building = static_cast<std::size_t>(script);
    const std::string& s = sha[building];
    return begin_evalsha(cmd, s.empty() ? kUnknown : s);
  }

  // Queues the command in `cmd` (finished here) for the next flush; an
  // EVALSHA keeps its text, to be sent once connected and again after
  // NOSCRIPT.
  void send(Pending p) {
    const std::string_view text = cmd.finish();
    if (!std::holds_alternative<std::monostate>(p.done)) {
      p.text.assign(text);
      p.evalsha = building;
    }
    push(std::move(p), text);
  }

  // Not connected: the FIFO keeps the command until connected() sends it.
  void push(Pending p, std::string_view text) {
    if (conn) out.append(text);
    p.sent = Clock::now();
    if (p.t0 == Clock::time_point{}) p.t0 = p.sent;
    fifo.push_back(std::move(p));
    arm_timer();
    if (!flush_posted) {
      flush_posted = true;
      asio::post(io, [weak = weak_from_this()] {
        const auto self = weak.lock();
        if (!self || self->dead) return;
        self->flush_posted = false;
        self->flush();
      });
    }
  }

  // Writes what was queued: at once what the socket takes, the rest with
  // async_write (and what is queued meanwhile after it).
  void flush() {
    const auto c = conn;
    if (!c || c->writing || out.empty()) return;
    boost::system::error_code ec;
    const std::size_t n = c->sock.write_some(asio::buffer(out), ec);  // non-blocking socket
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
    if (ec) return fail_all(RedisError("redis: write: " + ec.message()));
    if (n == out.size()) return out.clear();
    c->inflight.assign(out, n);
    out.clear();
    c->writing = true;
    asio::async_write(
        c->sock, asio::buffer(c->inflight),
        [weak = weak_from_this(), c](const boost::system::error_code& e, std::size_t) {
          c->writing = false;
          const auto self = weak.lock();
          if (!self || self->dead || self->conn != c) return;
          c->inflight.clear();
          if (e) return self->fail_all(RedisError("redis: write: " + e.message()));
          self->flush();
        });
  }

  // ---- receiving ----

  // While connected, one read is always waiting: replies as they come, and
  // a connection closed by the server is noticed before the next call.
  void read(const std::shared_ptr<ChannelConnection>& c) {
    if (c->reading) return;
    c->reading = true;
    c->sock.async_read_some(
        asio::buffer(c->rbuf),
        [weak = weak_from_this(), c](const boost::system::error_code& ec, std::size_t n) {
          c->reading = false;
          const auto self = weak.lock();
          if (!self || self->dead || self->conn != c) return;
          self->on_read(c, ec, n);
        });
  }

  void on_read(const std::shared_ptr<ChannelConnection>& c, const boost::system::error_code& ec,
               std::size_t n) {
    if (ec == asio::error::eof)
      return fail_all(RedisError("redis: connection closed by the server"));
    if (ec) return fail_all(RedisError("redis: read: " + ec.message()));
    if (redisReaderFeed(c->reader.get(), c->rbuf.data(), n) != REDIS_OK)
      return fail_all(RedisError("redis: out of memory"));
    read(c);  // the reader copied the bytes: rbuf is free for the next ones
    // A callback may send (the FIFO grows), destroy the channel (dead) or,
    // through a failure, close this connection (conn changes).
    while (!dead && conn == c) {
      void* raw = nullptr;
      if (redisReaderGetReply(c->reader.get(), &raw) != REDIS_OK)
        return fail_all(RedisError(std::string("redis: protocol error: ") + c->reader->errstr));
      if (raw == nullptr) return;
      on_reply(ReplyPtr(static_cast<redisReply*>(raw)));
    }
  }

  void on_reply(ReplyPtr r) {
    const auto now = Clock::now();
    last_reply = now;
    if (fifo.empty()) return fail_all(RedisError("redis: a reply to no command"));
    Pending p = std::move(fifo.front());
    fifo.pop_front();  // before the callback: it may send
    if (std::holds_alternative<std::monostate>(p.done)) return on_script_loaded(r.get(), p.script);
    if (r->type == REDIS_REPLY_ERROR) {
      if (is_noscript(r.get()) && !p.retried) return retry(std::move(p));
      return fail_all(RedisError(error_text(r.get())), std::move(p));
    }
    ConnectCount c;
    std::uint32_t count = 0;
    try {
      if (std::holds_alternative<ConnectDone>(p.done))
        c = connect_count(r.get());
      else
        count = as_count(r.get());  // release: this instance's slots left
    } catch (const RedisError& e) {
      return fail_all(e, std::move(p));
    }
    owner->note_latency(now - p.t0);
    if (auto* f = std::get_if<ConnectDone>(&p.done)) {
      if (p.renew) owner->note_liveness(p.gen, p.sent_ms);
      (*f)(nullptr, c);
    } else if (auto* g = std::get_if<CountDone>(&p.done)) {
      (*g)(nullptr, count);
    } else {
      std::get<ReleaseDone>(p.done)(nullptr);
    }
  }

  // NOSCRIPT (a SCRIPT FLUSH): the scripts are loaded again, once for all
  // the commands of the pipeline that get it, and the command sent again
  // after them; a second NOSCRIPT fails.
  void retry(Pending p) {
    if (loads_pending == 0) {
      for (std::size_t i = 0; i < kScripts; ++i) {
        cmd.clear();
        cmd.arg("SCRIPT").arg("LOAD").arg(script_texts()[i]);
        Pending load;
        load.script = i;
        send(std::move(load));
      }
      loads_pending = kScripts;
    }
    p.retried = true;
    const std::string text = std::move(p.text);
    p.text.clear();
    push(std::move(p), text);
  }

  void on_script_loaded(const redisReply* r, std::size_t script) {
    if (r->type == REDIS_REPLY_ERROR)
      return fail_all(RedisError(error_text(r, "SCRIPT LOAD refused: ")));
    if (r->type != REDIS_REPLY_STRING || std::string_view(r->str, r->len) != sha[script])
      return fail_all(RedisError("redis: SCRIPT LOAD: unexpected reply"));
    --loads_pending;
  }

  // ---- failures ----

  // Every command waits at most command_timeout for its reply, counted from
  // when it was sent or from the last reply, whichever came later. The
  // timer is set once for the oldest command; when it fires early (replies
  // came) it waits again.
  Clock::time_point deadline() const {
    return std::max(fifo.front().sent, last_reply) + owner->options_.command_timeout;
  }

  void arm_timer() {
    if (timer_armed || fifo.empty()) return;
    timer_armed = true;
    timer.expires_at(deadline());
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code&) {
      const auto self = weak.lock();
      if (!self || self->dead) return;  // ~RedisChannel: cancelled
      self->timer_armed = false;
      if (self->fifo.empty()) return;
      if (Clock::now() < self->deadline()) return self->arm_timer();
      self->fail_all(RedisError("redis: command timeout"));
    });
  }

  void close() {
    if (conn) {
      boost::system::error_code ignored;
      conn->sock.close(ignored);  // its handlers find conn changed
      conn.reset();
    }
    out.clear();
    loads_pending = 0;
  }

  // Closes the connection and fails every command pending (`first`
  // before them), in order. The callbacks may send (on a new connection)
  // or destroy the channel (the rest are then dropped).
  void fail_all(const RedisError& error, std::optional<Pending> first = std::nullopt) {
    close();
    std::deque<Pending> failed;
    failed.swap(fifo);
    if (first) failed.push_front(std::move(*first));
    while (!failed.empty() && !dead) {
      const Pending p = std::move(failed.front());
      failed.pop_front();
      std::visit(CallError{&error}, p.done);
    }
  }

  std::shared_ptr<RedisCounters> owner;
  asio::io_context& io;
  asio::steady_timer timer;
  std::shared_ptr<ChannelConnection> conn;  // null: not connected
  std::array<std::string, kScripts> sha;
  std::string out;  // commands not written yet
  std::deque<Pending> fifo;
  CommandBuffer cmd;
  Clock::time_point last_reply{};
  std::size_t loads_pending = 0;  // SCRIPT LOADs after a NOSCRIPT, not answered yet
  bool flush_posted = false;
  bool timer_armed = false;
  bool dead = false;
  bool connecting = false;   // start_connect's thread runs
  std::size_t building = 0;  // the script of the EVALSHA in `cmd`
  std::thread connector;
};

RedisChannel::RedisChannel(std::shared_ptr<RedisCounters> owner, boost::asio::io_context& io)
    : impl_(std::make_shared<Impl>(std::move(owner), io)) {}

RedisChannel::~RedisChannel() {
  impl_->shutdown();
}

void RedisChannel::connect(const policy::IpNetwork& key, policy::SteadyTime now,
                           const policy::Limits& limits, ConnectDone done) {
  impl_->connect(key, now, limits, std::move(done));
}

void RedisChannel::add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                            const policy::Rate& rate, std::uint32_t n, CountDone done) {
  impl_->add(key, kRcptWindow, now, rate, n, std::move(done));
}

void RedisChannel::add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                           const policy::Rate& rate, CountDone done) {
  impl_->add(key, kMsgWindow, now, rate, 1, std::move(done));
}

void RedisChannel::release(const policy::IpNetwork& key, ReleaseDone done) {
  impl_->release(key, std::move(done));
}

std::size_t RedisChannel::pending() const {
  return impl_->fifo.size();
}

}  // namespace harden::db
