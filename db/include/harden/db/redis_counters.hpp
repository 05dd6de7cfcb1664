// redis_counters.hpp - client counters shared by several MX hosts, on Redis.
//
// SYNOPSIS
//   RedisUrl url = parse_redis_url("redis://10.0.0.5:6379/0");  // or "unix:/run/redis.sock"
//   RedisCounters r({.url = url, .password = secret, .host_id = "mx1"});
//   r.start();                              // liveness renewal thread
//   auto c = r.connect(key, now, limits);   // ONE EVALSHA; throws RedisError
//   r.release(key); r.add_rcpt(...); r.add_msg(...); r.inspect(...); r.flush(key);
//
// RedisCounters is the CounterBackend for several MX hosts sharing one set of
// limits. It throws RedisError on any failure (connect, timeout, error or
// unexpected reply); FallbackCounters (fallback_counters.hpp) is what the
// daemon uses, and it never lets an error through.
//
// PROTOCOL (what each decision costs)
//   Every counter operation is ONE round trip: EVALSHA of the operation's
//   Lua script (script_texts() in redis_counters.cpp; all of them are
//   loaded with SCRIPT LOAD when a connection is opened, and again when
//   Redis answers NOSCRIPT). What each script runs (redis.call):
//     connect  KEYS conn, open, memory -> {conn_count, open, slot_taken,
//                                  the client's shared memory record or ""}
//                                  TIME, GET + SET PX (window), HGETALL,
//                                  HINCRBY + PEXPIRE (open), GET (memory);
//                                  plus EXISTS per other instance in the
//                                  open hash, HDEL per dead one, and the
//                                  liveness SET when due (below)
//     rcpt/msg KEYS rcpt|msg     -> count in the window: TIME, GET, SET PX
//     release  KEYS open         -> this instance's slots left: HINCRBY,
//                                  PEXPIRE (or HDEL at 0)
//     mget     KEYS memory       -> the record or "": GET
//     mcas     KEYS memory       -> 1 if stored (compare-and-set on the whole
//                                  text; SET ... PXAT forget_at, or DEL)
//     inspect  KEYS conn, rcpt, msg, open -> {known, conn, open, rcpt, msg}
//     flush    KEYS conn, rcpt, msg, open, old conn, rcpt, msg (UPGRADE)
//                                  -> 1 if the client was known
//   Time is the Redis server's (TIME inside the script), never a host's: the
//   `now` arguments are ignored, so clock skew between MX hosts changes
//   nothing. Every key a call writes gets its TTL in the same call (SET ...
//   PX, or PEXPIRE after HINCRBY). Besides the decisions, each daemon sends
//   one SET (its liveness key) every liveness_ttl/3 from a background
//   thread; a connect writes the liveness key too, in its script, when this
//   instance has not written it for liveness_ttl/3 (a new instance after
//   start or rotate(), no liveness thread, or the thread late), so no slot
//   is ever counted under an instance the other hosts take for dead.
//
// KEYS (prefix default "mh:"; client = policy::IpNetwork text, "2001:db8::/64")
//   PREFIX c:CLIENT:conn:v2|rcpt:v2|msg:v2
//                                  string, 60 bytes: struct.pack
//                                  ('<ddI4I4I4I4I4I4I4I4I4I4I4') of the bucket
//                                  width (ms), the bucket being filled and
//                                  the 11 counts: policy::SlidingWindow's
//                                  ring, the same algorithm. Written with
//                                  SET ... PX, TTL 12 bucket widths + 1 s.
//   PREFIX c:CLIENT:open           hash: one field per daemon instance, its
//                                  open connections. TTL open_ttl, renewed by
//                                  every connect and release of the client.
//   PREFIX m:CLIENT                string: the client memory record
//                                  (encode_record: pass, offences, penalties),
//                                  expiring at its forget_at (PXAT; the
//                                  writing daemon's wall clock).
//   PREFIX live:INSTANCE           liveness of one daemon instance, TTL
//                                  liveness_ttl, renewed every liveness_ttl/3.
//   UPGRADE: versions before the :v2 windows kept each window in a hash,
//   PREFIX c:CLIENT:conn|rcpt|msg (fields w, h, 0..10). The :v2 scripts never
//   read those keys, nor the old scripts the :v2 ones: while MX hosts of both
//   versions share one Redis (a rolling upgrade), each version counts the
//   rates apart (a client can get up to twice its rate, once per version)
//   and the old hashes expire on their own (TTL at most 1.2 x the longest
//   window + 1 s). The open hash, the memory record and the liveness keys
//   are unchanged and shared by both; flush deletes the windows of both.
//   An instance is "HOST_ID/PID.START.GEN": a restarted daemon is a new
//   instance, and so is a daemon after a Redis error (rotate(): a slot whose
//   connect timed out may or may not be counted; a new instance lets the old
//   one expire instead of guessing). The open count of a client sums only the
//   fields of live instances; connect deletes the fields of dead ones. So a
//   daemon killed with SIGKILL frees its slots within liveness_ttl.
//   The keys of one call are not all declared in KEYS (the liveness keys):
//   standalone Redis or Valkey only, not Redis Cluster.
//
// SEMANTICS
//   The same as LocalCounters: the window algorithm is SlidingWindow's, ported
//   (a differential test runs one event sequence through both). Differences:
//   open connections of a daemon that died are counted until its liveness
//   expires; a session longer than open_ttl with no other connect or release
//   of its client loses its slot (the count errs low).
//
// TEST HOOK
//   Options::test_time: the scripts take their time from the caller's `now`
//   (milliseconds of the steady clock, passed as the last ARGV) instead of
//   the server's TIME. Only tests set it (the differential test); the daemon
//   never does.
//
// LATENCY
//   (RedisChannel, at the end of this header, waits for no reply: the native
//   milter engine uses it for the decisions.) A caller of RedisCounters
//   waits for each reply. Sleeping in read(2) and being woken costs
//   a context switch on both sides, more CPU than a Redis on the same host
//   takes to answer. So after sending, a connection polls for the reply
//   (non-blocking recv, sched_yield between tries: a busy CPU goes to other
//   work) for up to poll_before_sleep (default 150 us), then sleeps in
//   read(2) as before; the command timeout is unchanged (plus at most the
//   poll). A connection that polled in vain 32 times in a row (a remote
//   Redis, a round trip longer than the poll) stops polling for its next
//   1000 calls, then tries again.
//
// SIGNALS
//   hiredis writes with write(2), so a Redis that goes away mid-write would
//   raise SIGPIPE: the constructor sets SIGPIPE to SIG_IGN if it was SIG_DFL.
//
// THREAD SAFETY
//   All member functions may be called from any thread: a small pool of
//   hiredis connections, one per call in flight (at most max_connections;
//   a caller waits at most command_timeout for one).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "harden/db/client_memory.hpp"
#include "harden/db/counters.hpp"

namespace boost::asio {
class io_context;
}

namespace harden::db {

class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// redis_url: "redis://[user[:password]@]host[:port][/db]" (host: name, IPv4,
// or [IPv6]; port 6379; db 0) or "unix:/path". At most 1024 bytes, printable
// ASCII, no spaces. Throws RedisError naming what is wrong (never echoing a
// password).
struct RedisUrl {
  enum class Kind : std::uint8_t { tcp, unix_path } kind = Kind::tcp;
  std::string host;  // tcp: without brackets
  std::uint16_t port = 6379;
  std::string path;  // unix
  std::string user;
  std::string password;
  std::uint32_t db = 0;

  // The URL without the password: for logs, status and --print-config.
  std::string redacted() const;
};
RedisUrl parse_redis_url(std::string_view text);
inline constexpr std::size_t kMaxRedisUrl = 1024;
inline constexpr std::uint32_t kMaxRedisDb = 65535;

struct RedisCountersOptions {
  RedisUrl url;
  std::string password;  // overrides url.password when not empty
  std::string key_prefix = "mh:";
  std::chrono::milliseconds connect_timeout{50};
  std::chrono::milliseconds command_timeout{50};
  std::string host_id = "localhost";
  std::chrono::milliseconds liveness_ttl{10'000};
  std::chrono::milliseconds open_ttl{std::chrono::hours{24}};
  std::size_t max_connections = 32;
  // LATENCY in the header; 0: always sleep in read(2) for a reply.
  std::chrono::microseconds poll_before_sleep{150};
  bool test_time = false;  // TEST HOOK above; never in production
};

class RedisCounters final : public CounterBackend, public SharedMemory {
 public:
  explicit RedisCounters(RedisCountersOptions options);
  ~RedisCounters() override;
  RedisCounters(const RedisCounters&) = delete;
  RedisCounters& operator=(const RedisCounters&) = delete;

  // Starts the liveness thread. Does not connect (Redis may be down at start).
  void start();

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

  // Client memory shared by the MX hosts (client_memory.hpp): one EVALSHA each.
  std::string memory_get(const policy::IpNetwork& key) override;
  bool memory_cas(const policy::IpNetwork& key, const std::string& expected,
                  const std::string& value, policy::WallMs expire_at) override;

  // Becomes a new instance (see KEYS); returns the new generation.
  std::uint64_t rotate();
  std::uint64_t generation() const { return generation_.load(); }
  std::string instance() const;
  // Round trip of the last calls (exponential average), microseconds.
  std::uint64_t latency_us() const { return latency_us_.load(std::memory_order_relaxed); }
  const RedisCountersOptions& options() const { return options_; }

 private:
  friend class RedisChannel;
  class Connection;
  class Pool;
  std::uint32_t add(const policy::IpNetwork& key, std::string_view window, policy::SteadyTime now,
                    const policy::Rate& rate, std::uint32_t n);
  // Whether a connect must write the liveness key (see PROTOCOL).
  bool liveness_due(std::uint64_t gen, std::int64_t now_ms) const;
  void note_liveness(std::uint64_t gen, std::int64_t sent_ms);
  void note_latency(std::chrono::steady_clock::duration d) const;
  void liveness_loop();

  RedisCountersOptions options_;
  std::unique_ptr<Pool> pool_;
  std::string instance_base_;  // HOST_ID/PID.START
  // Made once: PREFIX live:, PREFIX c:, PREFIX m:, and the two TTLs in ms.
  std::string live_prefix_;
  std::string client_prefix_;
  std::string memory_prefix_;
  std::string liveness_ttl_text_;
  std::string open_ttl_text_;
  std::atomic<std::uint64_t> generation_{0};
  // The generation whose liveness key was last written, and when (steady ms,
  // taken before the write was sent).
  std::atomic<std::uint64_t> live_gen_{UINT64_MAX};
  std::atomic<std::int64_t> live_sent_ms_{0};
  mutable std::atomic<std::uint64_t> latency_us_{0};

  std::mutex live_mu_;
  std::condition_variable live_cv_;
  bool stopping_ = false;
  std::thread live_thread_;
};

// ASYNCHRONOUS, PIPELINED DECISIONS (the native milter engine)
//
// SYNOPSIS
//   RedisChannel ch(redis, io);              // one per io_context thread
//   ch.connect(key, now, limits, [](const std::exception* err, const ConnectCount& c) {...});
//   ch.add_rcpt(key, now, rate, 1, [](const std::exception* err, std::uint32_t n) {...});
//   ch.release(key, [](const std::exception* err) {...});
//
// The same EVALSHAs as RedisCounters' connect/add_rcpt/add_msg/release (the
// same scripts, keys, arguments and instance), sent on ONE connection of the
// channel's own, driven by `io`: the caller never waits for Redis. Commands
// sent while one handler of `io` runs (or several ready handlers in a row)
// go out in one write, as one pipeline, and Redis answers them in order;
// the channel reads the replies as they come and calls each one's callback.
//
// CONTRACT
//   - Every member function is called on `io`'s thread, and every callback
//     runs there: never from inside the call that was given it (always from
//     a later handler), exactly once, unless the channel is destroyed first
//     (then pending callbacks are dropped, not called).
//   - `error` is nullptr on success; else it names what failed (a
//     RedisError) and the result is value-initialised. Any failure (connect,
//     write, read, an error reply other than NOSCRIPT, an unexpected reply,
//     or no reply within command_timeout of the oldest pending command)
//     fails every pending command of the channel and closes its connection;
//     the next call connects again.
//   - Connecting (connect, AUTH, SELECT, SCRIPT LOAD, as RedisCounters
//     does, each bounded by its timeout) runs on a thread of the channel's
//     own, never on `io`'s: the calls made meanwhile wait in the pipeline,
//     under the same command_timeout, and go out once connected. The
//     destructor waits for a connect in progress (at most those timeouts).
//     FallbackCounters' circuit breaker keeps it to one attempt per back-off
//     while Redis is down.
//   - NOSCRIPT (a SCRIPT FLUSH): the scripts are loaded again on the same
//     connection and the command is sent once more.
class RedisChannel {
 public:
  using ConnectDone = std::function<void(const std::exception* error, const ConnectCount& c)>;
  using CountDone = std::function<void(const std::exception* error, std::uint32_t count)>;
  using ReleaseDone = std::function<void(const std::exception* error)>;

  RedisChannel(std::shared_ptr<RedisCounters> owner, boost::asio::io_context& io);
  ~RedisChannel();
  RedisChannel(const RedisChannel&) = delete;
  RedisChannel& operator=(const RedisChannel&) = delete;

  void connect(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Limits& limits,
               ConnectDone done);
  void add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
                std::uint32_t n, CountDone done);
  void add_msg(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
               CountDone done);
  void release(const policy::IpNetwork& key, ReleaseDone done);

  // Commands sent and not yet answered (tests).
  std::size_t pending() const;
  // At most this many commands wait for their replies: past it, a call
  // fails (from a later handler) with "redis: too many commands pending",
  // so that a hung Redis cannot make the queue grow without bound.
  static constexpr std::size_t kMaxPending = 100'000;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace harden::db
