// native_server.cpp - the native milter engine (see native_server.hpp).
#include "harden/milter/native_server.hpp"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "harden/milter/adapter.hpp"
#include "harden/milter/config.hpp"
#include "harden/milter/privileges.hpp"
#include "harden/milter/protocol.hpp"
#include "harden/milter/reply.hpp"
#include "session_glue.hpp"

namespace harden::milter {
namespace {

namespace asio = boost::asio;
using gproto = asio::generic::stream_protocol;
using Strand = asio::strand<asio::io_context::executor_type>;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kMaxMacro = 1024;
constexpr milliseconds kAcceptBackoff{100};
constexpr auto kLogEvery = std::chrono::minutes{1};

// One log line per `every` for a recurring condition; counts what it skipped.
class RateLimitedLog {
 public:
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    const auto now = SteadyClock::now();
    std::lock_guard lock(mu_);
    if (logged_ && now - last_ < kLogEvery) {
      ++skipped_;
      return;
    }
    const std::string msg = fmt::format(f, std::forward<Args>(args)...);
    if (skipped_ > 0)
      spdlog::warn("{} (and {} more like it in the last minute)", msg, skipped_);
    else
      spdlog::warn("{}", msg);
    logged_ = true;
    last_ = now;
    skipped_ = 0;
  }

 private:
  std::mutex mu_;
  bool logged_ = false;
  SteadyClock::time_point last_{};
  std::uint64_t skipped_ = 0;
};

// ---------------------------------------------------------------------------
// GreetHub: the greet pauses of every session, one prober for all of them.

class GreetHub {
 public:
  using Done = std::function<void(const WatchResult&)>;

  struct Ticket {
    Ticket(asio::io_context& io, Endpoint m, Endpoint c, Done d)
        : mta(m), client(c), done(std::move(d)), deadline_timer(io) {}
    Endpoint mta;
    Endpoint client;
    Done done;
    asio::steady_timer deadline_timer;
    SteadyClock::time_point start{};
    milliseconds pause{0};
    bool found = false;
    bool degraded = false;
    bool finished = false;
    WatchResult result;
  };

  GreetHub(asio::io_context& io, const Probe& probe, milliseconds interval, Metrics& metrics)
      : io_(io),
        strand_(asio::make_strand(io)),
        probe_(probe),
        interval_(interval),
        metrics_(metrics),
        tick_(strand_) {}

  // The pause runs from `start`, when the session's thread read the CONNECT,
  // not from when the hub gets to it: a backlog here never lengthens a pause.
  //
  // A new pause goes to the hub's intake. While the ticks run, one that ends
  // after the tick following the next is left there for the next tick to take
  // in (that tick's scan is its first look), and the hub is not woken: in a
  // flood, a wake-up of the hub per CONNECT cost about a third of a core while
  // the CONNECTs came in. Any other pause wakes the hub, which takes it in at
  // once, with its first look.
  std::shared_ptr<Ticket> watch(const Endpoint& mta, const Endpoint& client,
                                SteadyClock::time_point start, milliseconds pause, Done done) {
    auto t = std::make_shared<Ticket>(io_, mta, client, std::move(done));
    t->start = start;
    t->pause = pause;
    {
      std::lock_guard lock(intake_mu_);
      intake_.push_back(t);
      if (intake_posted_ || (tick_armed_ && start + pause > armed_tick_ + interval_)) return t;
      intake_posted_ = true;
    }
    asio::post(strand_, [this] { take_in(); });
    return t;
  }

  // The session is gone: forget its ticket without calling done.
  void drop(const std::shared_ptr<Ticket>& t) {
    asio::post(strand_, [t] {
      t->finished = true;
      t->deadline_timer.cancel();
    });
  }

  // Shutdown: every pause ends now, as cancelled; later ones end at once.
  void cancel_all() {
    asio::post(strand_, [this] {
      cancelled_ = true;
      std::vector<std::shared_ptr<Ticket>> waiting;
      {
        std::lock_guard lock(intake_mu_);
        waiting.swap(intake_);
        tick_armed_ = false;
      }
      for (auto* list : {&waiting, &tickets_, &due_}) {
        for (auto& t : *list)
          if (!t->finished) finish(*t, WatchResult::Outcome::cancelled);
        list->clear();
      }
      tick_.cancel();
    });
  }

 private:
  // The first tick comes one interval after the first pause starts; the next
  // ones keep that grid (a slow tick does not push them back), and one that
  // is already due runs at once.
  void arm_tick(bool first) {
    ticking_ = true;
    const auto now = SteadyClock::now();
    next_tick_ = first ? now + interval_ : std::max(next_tick_ + interval_, now);
    {
      std::lock_guard lock(intake_mu_);
      tick_armed_ = true;
      armed_tick_ = next_tick_;
    }
    tick_.expires_at(next_tick_);
    tick_.async_wait([this](auto ec) {
      ticking_ = false;
      if (ec) return;
      on_tick();
    });
  }

  // Takes in the new pauses: each gets its deadline and joins the watched
  // ones. Those a tick will scan (this one, `at_tick`, or the armed one)
  // have their first look there; the others have it now, together (a
  // burst's first looks are one probe_many).
  void take_in(bool at_tick = false) {
    std::vector<std::shared_ptr<Ticket>> batch;
    {
      std::lock_guard lock(intake_mu_);
      batch.swap(intake_);
      intake_posted_ = false;
    }
    std::vector<Ticket*> look_now;
    const bool scan_coming = ticking_ || at_tick;
    const SteadyClock::time_point scanned_after = next_tick_ + interval_;
    for (auto& t : batch) {
      if (t->finished) continue;
      if (cancelled_) {
        finish(*t, WatchResult::Outcome::cancelled);
        continue;
      }
      t->deadline_timer.expires_at(t->start + t->pause);
      t->deadline_timer.async_wait(asio::bind_executor(strand_, [this, t](auto ec) {
        if (!ec) at_deadline(t);
      }));
      if (!scan_coming || t->deadline_timer.expiry() <= scanned_after) look_now.push_back(t.get());
    }
    evaluate(look_now);
    for (auto& t : batch)
      if (!t->finished) tickets_.push_back(std::move(t));
    if (!tickets_.empty() && !ticking_ && !at_tick) arm_tick(true);
  }

  // One scan per MTA port serves every session paused on it (in the socket
  // families seen on that port only: the kernel walks its whole table per
  // family); sessions whose socket was never seen, those whose client
  // address and port another session shares, and every session when a scan
  // fails, are probed one by one.
  void on_tick() {
    {
      std::lock_guard lock(intake_mu_);
      tick_armed_ = false;  // from here, a new pause wakes the hub
    }
    take_in(/*at_tick=*/true);  // the pauses left for this tick
    struct PortWork {
      std::vector<Ticket*> tickets;
      ScanFamilies families{false, false};
    };
    std::unordered_map<std::uint16_t, PortWork> by_port;
    std::vector<Ticket*> one_by_one;
    // A pause that ends before the next tick gets its last look by then
    // anyway: a talker among them is refused no later than a tick would
    // see it. Left out, they cost no scan: the tick that falls among the
    // ends of a flood's pauses scans nothing, and their last looks do not
    // wait behind a scan of the whole port.
    const SteadyClock::time_point horizon = next_tick_ + interval_;
    for (auto& t : tickets_)
      if (!t->finished && !t->degraded && t->deadline_timer.expiry() > horizon) {
        if (t->found) {
          PortWork& w = by_port[t->mta.port];
          w.tickets.push_back(t.get());
          (t->result.last.v6_socket ? w.families.v6 : w.families.v4) = true;
        } else if (t->result.probes == 0) {
          // Not looked at yet (it started while the ticks ran): this scan is
          // its first look, in the families seen on its port so far.
          PortWork& w = by_port[t->mta.port];
          w.tickets.push_back(t.get());
          const ScanFamilies f = families_for(t->mta);
          w.families.v4 = w.families.v4 || f.v4;
          w.families.v6 = w.families.v6 || f.v6;
        } else {
          one_by_one.push_back(t.get());
        }
      }
    for (auto& [port, work] : by_port) {
      const PortScan scan = work.tickets.size() > 1 ? probe_.scan(port, work.families) : PortScan{};
      if (!scan.ok) {
        one_by_one.insert(one_by_one.end(), work.tickets.begin(), work.tickets.end());
        continue;
      }
      apply_scan(work.tickets, scan, one_by_one);
    }
    evaluate(one_by_one);
    std::erase_if(tickets_, [](const auto& t) { return t->finished; });
    if (!tickets_.empty()) arm_tick(false);
  }

  // A session's client side, as a hash key (no text: a tick may see 10,000s).
  struct ClientKey {
    std::array<std::uint8_t, 16> address{};
    std::uint16_t port = 0;
    bool v4 = false;
    friend bool operator==(const ClientKey&, const ClientKey&) = default;
  };
  struct ClientKeyHash {
    std::size_t operator()(const ClientKey& k) const noexcept {
      return policy::hash_address_bytes(k.address, (std::uint64_t{k.port} << 1) | (k.v4 ? 1u : 0u));
    }
  };
  static ClientKey key_of(const Endpoint& e) {
    return ClientKey{e.address.bytes(), e.port, e.address.is_v4()};
  }

  // Sessions the scan cannot tell apart are added to `one_by_one`.
  void apply_scan(const std::vector<Ticket*>& tickets, const PortScan& scan,
                  std::vector<Ticket*>& one_by_one) {
    std::unordered_map<ClientKey, Ticket*, ClientKeyHash> waiting;
    waiting.reserve(tickets.size());
    std::vector<Ticket*> shared;  // a client side two sessions have (two local addresses)
    for (Ticket* t : tickets)
      if (!waiting.emplace(key_of(t->client), t).second) shared.push_back(t);
    const std::size_t duplicates = shared.size();
    for (std::size_t i = 0; i < duplicates; ++i) {
      if (const auto it = waiting.find(key_of(shared[i]->client)); it != waiting.end()) {
        shared.push_back(it->second);
        waiting.erase(it);
      }
    }
    for (const auto& c : scan.connections) {
      const auto it = waiting.find(key_of(c.client));
      if (it == waiting.end()) continue;
      Ticket* t = it->second;
      // The MTA's side as the session knows it: exact once seen; before,
      // from its macros, where sendmail may give 0.0.0.0 for any address.
      const bool first = t->result.probes == 0;
      if (t->mta != c.result.local && !(first && t->mta.is_wildcard())) continue;
      waiting.erase(it);
      apply(*t, c.result);
    }
    for (auto& [key, t] : waiting) {
      if (t->result.probes == 0) {  // not where its macros said: an exact look decides
        one_by_one.push_back(t);
        continue;
      }
      ProbeResult r;
      r.status = ProbeResult::Status::not_found;
      r.error = "gone from the port scan";
      apply(*t, std::move(r));
    }
    one_by_one.insert(one_by_one.end(), shared.begin(), shared.end());
  }

  // Exact looks for these sessions, all in one probe_many.
  void evaluate(const std::vector<Ticket*>& tickets) {
    std::vector<ProbeQuery> queries;
    std::vector<Ticket*> live;
    for (Ticket* t : tickets)
      if (!t->finished) {
        queries.push_back(ProbeQuery{t->mta, t->client});
        live.push_back(t);
      }
    if (live.empty()) return;
    std::vector<ProbeResult> results(live.size());
    probe_.probe_many(queries, results);
    for (std::size_t i = 0; i < live.size(); ++i)
      if (!live[i]->finished) apply(*live[i], std::move(results[i]));
  }

  // The socket families a port's sessions have been seen in; before any, the
  // family of the session's own MTA address.
  ScanFamilies families_for(const Endpoint& mta) const {
    if (const auto it = port_families_.find(mta.port); it != port_families_.end())
      return it->second;
    const bool v4 = mta.is_wildcard() || mta.address.is_v4();
    return ScanFamilies{v4, !v4 || mta.is_wildcard()};
  }

  void apply(Ticket& t, ProbeResult r) {
    using Status = ProbeResult::Status;
    t.result.last = std::move(r);
    ++t.result.probes;
    switch (t.result.last.status) {
      case Status::talked:
        finish(t, WatchResult::Outcome::talked);
        break;
      case Status::silent:
        t.found = true;
        if (t.result.last.local.port != 0) {
          t.mta = t.result.last.local;
          ScanFamilies& f =
              port_families_.try_emplace(t.mta.port, ScanFamilies{false, false}).first->second;
          (t.result.last.v6_socket ? f.v6 : f.v4) = true;
        }
        break;
      case Status::not_found:
        if (t.found)
          finish(t, WatchResult::Outcome::vanished);
        else
          t.degraded = true;  // never seen: a plain delay until the deadline
        break;
      case Status::error:
        metrics_.bump(Metric::pregreet_probe_errors_total);
        break;
    }
  }

  // A pause ends with a last look, taken with those of every pause that ended
  // meanwhile (a flood's pauses end in bursts, as they began).
  void at_deadline(const std::shared_ptr<Ticket>& t) {
    if (t->finished) return;
    due_.push_back(t);
    if (!due_posted_) {
      due_posted_ = true;
      asio::post(strand_, [this] { last_looks(); });
    }
  }

  void last_looks() {
    due_posted_ = false;
    std::vector<std::shared_ptr<Ticket>> batch;
    batch.swap(due_);
    std::vector<Ticket*> live;
    for (auto& t : batch)
      if (!t->degraded) live.push_back(t.get());
    evaluate(live);
    for (auto& t : batch)
      if (!t->finished)
        finish(*t, t->degraded ? WatchResult::Outcome::degraded : WatchResult::Outcome::silent);
  }

  void finish(Ticket& t, WatchResult::Outcome o) {
    t.finished = true;
    t.deadline_timer.cancel();
    t.result.outcome = o;
    t.result.waited = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - t.start);
    Done done = std::move(t.done);
    if (done) done(t.result);
  }

  asio::io_context& io_;
  Strand strand_;
  const Probe& probe_;
  milliseconds interval_;
  Metrics& metrics_;
  asio::steady_timer tick_;
  SteadyClock::time_point next_tick_{};
  bool ticking_ = false;
  bool cancelled_ = false;
  std::vector<std::shared_ptr<Ticket>> tickets_;  // watched by the ticks
  std::vector<std::shared_ptr<Ticket>> due_;      // waiting for their last look
  bool due_posted_ = false;
  // The intake, filled by the sessions' threads (watch), taken in by the hub
  // (take_in): at once when a take_in is posted, else by the armed tick.
  std::mutex intake_mu_;
  std::vector<std::shared_ptr<Ticket>> intake_;
  bool intake_posted_ = false;
  bool tick_armed_ = false;               // a tick is armed and will take in
  SteadyClock::time_point armed_tick_{};  // when
  // Per MTA port, the socket families its sessions were seen in (the scans'
  // first looks ask for these). A few entries: one per listening port.
  std::unordered_map<std::uint16_t, ScanFamilies> port_families_;
};

std::optional<policy::IpAddress> connect_address(const ConnectCommand& c) {
  if (c.family != AddressFamily::inet && c.family != AddressFamily::inet6) return std::nullopt;
  std::string_view a = c.address;
  if (a.starts_with("IPv6:")) a.remove_prefix(5);  // sendmail's form
  return policy::IpAddress::try_parse(a);
}

std::optional<policy::IpAddress> peer_address(const gproto::endpoint& ep) {
  const sockaddr* sa = ep.data();
  std::array<char, 64> buf{};
  if (sa->sa_family == AF_INET) {
    sockaddr_in in{};
    std::memcpy(&in, sa, sizeof in);
    if (inet_ntop(AF_INET, &in.sin_addr, buf.data(), buf.size()))
      return policy::IpAddress::try_parse(buf.data());
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sa, sizeof in6);
    if (inet_ntop(AF_INET6, &in6.sin6_addr, buf.data(), buf.size()))
      return policy::IpAddress::try_parse(buf.data());
  }
  return std::nullopt;
}

class Connection;

}  // namespace

// ---------------------------------------------------------------------------

struct NativeServer::Impl {
  Impl(NativeOptions o, Engine& e, Metrics& m, const Probe& p)
      : opt(std::move(o)),
        engine(e),
        metrics(m),
        spec(parse_socket_spec(opt.socket)),
        ios(make_contexts(opt.threads)),
        busy(std::make_unique<std::atomic<int>[]>(ios.size())),
        io(*ios.front()),
        hub(hub_io, p, opt.probe_interval, m),
        accept_timer(io),
        grace_timer(io) {
    if (opt.allowed_peers.empty()) {
      opt.allowed_peers.push_back(policy::IpNetwork::parse("127.0.0.0/8"));
      opt.allowed_peers.push_back(policy::IpNetwork::parse("::1/128"));
    }
    for (auto& c : ios) channels.push_back(e.counters().open_channel(*c));
  }

  void accept();
  void accept_failed(const boost::system::error_code& ec);
  void on_accept(gproto::socket sock);
  void closed(Connection* c);
  bool peer_allowed(const gproto::socket& sock);
  void log_violation(Violation v, const std::string& peer);
  void note_unavailable(std::string_view why);

  // One io_context per thread, each run by that thread alone (concurrency
  // hint 1): a connection lives on one of them, so its handlers never run
  // concurrently (no strand), and a reply goes out from the thread that read
  // the command, without handing the wake-up to another thread. ios[0] also
  // runs the acceptor and the server's timers; the GreetHub has hub_io.
  static std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned threads) {
    const unsigned n = threads != 0 ? threads : default_io_threads();
    std::vector<std::unique_ptr<asio::io_context>> v;
    for (unsigned i = 0; i < n; ++i) v.push_back(std::make_unique<asio::io_context>(1));
    return v;
  }
  // The context of the next connection; ios[0] thread only. Packed (opt.pack
  // > 0): ios[0] while it has fewer than opt.pack sessions in progress, else
  // the context with the fewest; otherwise round robin.
  asio::io_context& next_context() {
    if (opt.pack == 0) return *ios[next_io++ % ios.size()];
    if (busy[0].load(std::memory_order_relaxed) < static_cast<int>(opt.pack)) return *ios[0];
    std::size_t best = 0;
    for (std::size_t i = 1; i < ios.size(); ++i)
      if (busy[i].load(std::memory_order_relaxed) < busy[best].load(std::memory_order_relaxed))
        best = i;
    return *ios[best];
  }
  // The index in ios of the context `sock` lives on.
  std::size_t context_of(gproto::socket& sock) const {
    for (std::size_t i = 0; i < ios.size(); ++i)
      if (&sock.get_executor().context() == ios[i].get()) return i;
    return 0;
  }
  // Lets the other threads' run() return once they have no work; ios[0]
  // thread only. A counter channel keeps a read open on Redis: each context
  // destroys its own, behind the handlers queued before.
  void release_workers() {
    workers_busy.clear();
    for (std::size_t i = 0; i < ios.size(); ++i)
      if (channels[i]) asio::post(*ios[i], [this, i] { channels[i].reset(); });
  }

  NativeOptions opt;
  Engine& engine;
  Metrics& metrics;
  SocketSpec spec;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  // Per context: its connections not in a greet pause (next_context()).
  std::unique_ptr<std::atomic<int>[]> busy;
  asio::io_context& io;  // ios[0]
  // Per context: its way to the counters when they answer asynchronously
  // (db::CounterChannel, counters: redis), else nullptr. Used on that
  // context's thread only, and destroyed there by release_workers(), once
  // every connection is closed (a closed session calls it no more; the
  // answers it still waits for are dropped with the channel).
  std::vector<std::unique_ptr<db::CounterChannel>> channels;
  std::size_t next_io = 0;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> workers_busy;
  // The GreetHub's own thread: its port scans (milliseconds under a flood)
  // and the last looks at the pauses' ends never wait behind session I/O,
  // and never hold it up.
  asio::io_context hub_io{1};
  GreetHub hub;
  std::optional<asio::basic_socket_acceptor<gproto>> acceptor;
  asio::steady_timer accept_timer;
  asio::steady_timer grace_timer;
  std::atomic<bool> stopping{false};
  mutable std::mutex reg_mu;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> conns;
  RateLimitedLog refused_log;
  RateLimitedLog accept_log;
  std::array<std::atomic<bool>, kViolationKinds> violation_logged{};
  std::atomic<bool> unavailable_logged{false};
};

namespace {

// One MTA connection: socket, protocol session, timers, the SMTP session's state.
class Connection final : public std::enable_shared_from_this<Connection>, ProtocolHandler {
 public:
  using Impl = NativeServer::Impl;

  Connection(Impl& srv, gproto::socket sock, std::string peer)
      : srv_(srv),
        busy_(srv.busy[srv.context_of(sock)]),
        counters_(srv.channels[srv.context_of(sock)].get()),
        sock_(std::move(sock)),
        idle_(sock_.get_executor()),
        delay_(sock_.get_executor()),
        proto_(*this, ProtocolOptions{srv.opt.max_buffered}),
        peer_(std::move(peer)) {
    in_progress(true);
  }
  ~Connection() override { in_progress(false); }

  gproto::socket::executor_type executor() { return sock_.get_executor(); }

  void start() {
    boost::system::error_code ec;
    sock_.non_blocking(true, ec);  // flush() writes without waiting
    if (ec) return close();
    arm_idle(srv_.opt.negotiate_timeout);
    read();
  }

  // From any thread: the server stops.
  void stopping() {
    asio::post(sock_.get_executor(), [self = shared_from_this()] {
      if (self->delaying_) self->delay_.cancel();  // the delay handler completes now
    });
  }
  void shut() {
    asio::post(sock_.get_executor(), [self = shared_from_this()] { self->close(); });
  }

 private:
  // --- I/O -----------------------------------------------------------------
  // Debian 12's Asio (Boost 1.74) tries the socket before it waits for each
  // async_read_some, so after a reply this read costs a recvfrom that finds
  // nothing (EAGAIN). Waiting for readiness instead (async_wait, then a
  // non-blocking read) costs an epoll_ctl(MOD) per command, which measured
  // slower (tests/bench/README.md, "The I/O rework").
  void read() {
    if (reading_ || closed_) return;
    reading_ = true;
    sock_.async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](auto ec, std::size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) return close();
    arm_idle(srv_.opt.idle_timeout);
    after(proto_.feed(std::string_view(rbuf_.data(), n)));
  }

  void after(const Feed& f) {
    flush();
    switch (f.status) {
      case Feed::Status::more:
      case Feed::Status::pending:
        if (!writing_) read();
        break;
      case Feed::Status::closed:
        quit_ = true;
        if (!writing_) close();
        break;
      case Feed::Status::violation:
        srv_.metrics.bump(Metric::protocol_violations_total);
        srv_.log_violation(f.violation, peer_);
        close();
        break;
    }
  }

  // Sends what the session has to say. A reply almost always fits the
  // socket's buffer: it goes out at once from this handler, without a
  // completion handler of its own; what the socket does not take is written
  // by async_write and the session waits for it (on_write).
  void flush() {
    wbuf_ += proto_.take_output();
    if (writing_ || wbuf_.empty() || closed_) return;
    boost::system::error_code ec;
    const std::size_t n = sock_.write_some(asio::buffer(wbuf_), ec);  // non-blocking socket
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
    if (ec) return close();
    if (n == wbuf_.size()) return wbuf_.clear();
    inflight_.assign(wbuf_, n);
    wbuf_.clear();
    writing_ = true;
    asio::async_write(sock_, asio::buffer(inflight_),
                      [self = shared_from_this()](auto e, std::size_t) { self->on_write(e); });
  }

  void on_write(const boost::system::error_code& ec) {
    writing_ = false;
    inflight_.clear();
    if (closed_) return;
    if (ec) return close();
    flush();
    if (writing_ || closed_) return;
    if (quit_) return close();
    read();
  }

  // The idle deadline moves on every read; the timer is not re-armed each
  // time (a cancel, a completion and a timer-queue insert per command) but
  // only when the new deadline comes before the one it waits for. When it
  // fires early it waits again for the deadline it finds.
  void arm_idle(milliseconds after) {
    idle_deadline_ = std::chrono::steady_clock::now() + after;
    if (idle_armed_ && idle_.expiry() <= idle_deadline_) return;
    idle_.expires_at(idle_deadline_);  // cancels a wait for a later deadline
    wait_idle();
  }

  void wait_idle() {
    idle_armed_ = true;
    idle_.async_wait([self = shared_from_this()](auto ec) {
      if (ec == asio::error::operation_aborted || self->closed_) return;
      self->idle_armed_ = false;
      if (std::chrono::steady_clock::now() < self->idle_deadline_) {
        self->idle_.expires_at(self->idle_deadline_);
        return self->wait_idle();
      }
      if (self->proto_.pending()) return self->arm_idle(self->srv_.opt.idle_timeout);
      self->srv_.metrics.bump(Metric::milter_idle_timeouts_total);
      self->close();
    });
  }

  // Counts this connection among its context's sessions in progress (not
  // while the GreetHub holds its pause): connections are packed by it.
  void in_progress(bool yes) {
    if (yes == counted_) return;
    counted_ = yes;
    busy_.fetch_add(yes ? 1 : -1, std::memory_order_relaxed);
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    in_progress(false);
    idle_.cancel();
    delay_.cancel();
    if (greet_) srv_.hub.drop(greet_);
    greet_.reset();
    proto_.close();  // session_end() if a session is open
    boost::system::error_code ignored;
    sock_.close(ignored);
    srv_.closed(this);
  }

  // --- answers ---------------------------------------------------------------
  Reply internal_error(const char* where, const char* what) {
    srv_.metrics.bump(Metric::internal_errors_total);
    spdlog::error("internal error in {}: {}; answering {}", where, what,
                  srv_.opt.tempfail_on_internal_error ? "tempfail" : "continue");
    Reply r;
    if (srv_.opt.tempfail_on_internal_error) r.kind = Reply::Kind::tempfail;
    return r;
  }

  template <class F>
  Response guarded(const char* where, F&& f) {
    try {
      return f();
    } catch (const std::exception& e) {
      return Response::now(internal_error(where, e.what()));
    } catch (...) {
      return Response::now(internal_error(where, "unknown exception"));
    }
  }

  Reply reply(const policy::Decision& d, Stage stage) {
    return to_protocol_reply(enforce(srv_.metrics, st_, d, stage));
  }

  // A pending reply is due: the decision goes out, the session goes on.
  void complete(const policy::Decision& d, Stage stage, const char* where) {
    if (closed_) return;
    Reply r;
    try {
      r = reply(d, stage);
    } catch (const std::exception& e) {
      r = internal_error(where, e.what());
    }
    after(proto_.complete(r));
  }

  // --- ProtocolHandler -------------------------------------------------------
  Negotiation negotiate(const Negotiation& offered, std::vector<SymList>& lists) override {
    Negotiation want;
    want.version = offered.version;
    want.actions = offered.actions & SMFIF_SETSYMLIST;
    want.protocol = static_cast<std::uint32_t>(negotiated_protocol(offered.protocol));
    if (want.actions & SMFIF_SETSYMLIST)
      for (int stage : {SMFIM_CONNECT, SMFIM_ENVFROM, SMFIM_ENVRCPT}) {
        const std::string& macros = macro_list_for(stage);
        if (!macros.empty()) lists.push_back(SymList{static_cast<std::uint32_t>(stage), macros});
      }
    return want;
  }

  Response connect(const ProtocolSession& s, const ConnectCommand& c) override {
    srv_.metrics.bump(Metric::sessions_total);
    srv_.metrics.add(Metric::sessions_open, 1);
    session_open_ = true;
    st_ = SessionState{};
    return guarded("connect", [&] {
      const auto macro = [&s](const char* name) {
        return std::string(s.lookup(name).value_or("").substr(0, kMaxMacro));
      };
      const ConnectInfo info =
          connect_info(macro, connect_address(c), c.port, c.hostname, st_.greet);
      st_.log = LogClient{info.client, info.client_name};
      if (counters_ == nullptr) return connected(srv_.engine.connect(st_.session, info));
      const Step step = srv_.engine.connect_begin(st_.session, info);
      if (!step.waits()) return connected(step.decision);
      const Session& ss = st_.session;
      counters_->connect(ss.res.key, step.call.now, ss.res.limits,
                         [self = shared_from_this()](const db::ConnectCount& counts) {
                           self->connect_counted(counts);
                         });
      return Response::later();
    });
  }

  // The counters' answer to connect_begin()'s call (on counters: redis).
  void connect_counted(const db::ConnectCount& c) {
    if (closed_) {
      if (c.slot_taken) counters_->release(st_.session.res.key);  // the session is gone
      return;
    }
    const Response r = guarded("connect", [&] {
      const policy::Decision d = srv_.engine.connect_end(st_.session, c);
      if (auto key = srv_.engine.take_refused_slot(st_.session)) counters_->release(*key);
      return connected(d);
    });
    if (r.reply) after(proto_.complete(*r.reply));
  }

  // Answers connect's decision `d`, or starts the greet pause.
  Response connected(const policy::Decision& d) {
    const milliseconds pause = st_.session.held_greet_pause();
    count_pause_not_held(srv_.metrics, st_.session, d);
    if (d.verdict != policy::Verdict::proceed || pause.count() == 0 || srv_.stopping)
      return Response::now(reply(d, Stage::connect));
    reply(d, Stage::connect);  // logs a "would reject" of monitor mode
    start_greet(pause);
    return Response::later();
  }

  void start_greet(milliseconds pause) {
    srv_.metrics.bump(Metric::greet_pauses_total);
    const GreetTarget& g = st_.greet;
    const auto mta = Endpoint::from_text(g.daemon_addr, g.daemon_port);
    std::optional<Endpoint> client;
    if (g.client && g.client_port != 0) client = Endpoint{*g.client, g.client_port};
    if (!mta || !client) {
      srv_.note_unavailable(!mta ? "the MTA sends no usable {daemon_addr}/{daemon_port}"
                                 : "the MTA sends no client port");
      return delay(pause, policy::Decision{}, Stage::connect);
    }
    auto weak = weak_from_this();
    const auto executor = sock_.get_executor();
    greet_ = srv_.hub.watch(*mta, *client, SteadyClock::now(), pause,
                            [weak, executor](const WatchResult& w) {
                              asio::post(executor, [weak, w] {
                                if (auto self = weak.lock()) self->greet_done(w);
                              });
                            });
    in_progress(false);
  }

  void greet_done(const WatchResult& w) {
    greet_.reset();
    if (closed_) return;
    in_progress(true);
    policy::Decision d;
    switch (w.outcome) {
      case WatchResult::Outcome::talked: {
        srv_.metrics.bump(Metric::pregreet_detections_total);
        const std::uint64_t bytes = std::max<std::uint64_t>(w.last.bytes_received, w.last.rqueue);
        try {
          d = srv_.engine.pregreet(st_.session, std::max<std::uint64_t>(bytes, 1));
        } catch (const std::exception& e) {
          after(proto_.complete(internal_error("pregreet", e.what())));
          return;
        }
        break;
      }
      case WatchResult::Outcome::degraded:
        srv_.note_unavailable("socket " + w.last.local.to_string() + " not found: " + w.last.error);
        break;
      case WatchResult::Outcome::silent:
        d = srv_.engine.pregreet(st_.session, 0);  // waited in silence: may earn a greet pass
        break;
      default:
        break;
    }
    complete(d, Stage::connect, "pregreet");
  }

  // Answers `d` after `wait` (shortened to nothing when the server stops).
  void delay(milliseconds wait, policy::Decision d, Stage stage) {
    delaying_ = true;
    delay_.expires_after(srv_.stopping ? milliseconds{0} : wait);
    delay_.async_wait([self = shared_from_this(), d = std::move(d), stage](auto) {
      self->delaying_ = false;
      self->complete(d, stage, "delay");
    });
  }

  Response helo(const ProtocolSession&, std::string_view) override {
    return Response::now(Reply{});
  }

  Response mail(const ProtocolSession&, const std::vector<std::string_view>&) override {
    return guarded("envfrom", [&] {
      if (!session_open_) return Response::now(Reply{});
      if (counters_ == nullptr)
        return Response::now(reply(srv_.engine.mail(st_.session), Stage::envfrom));
      const Step step = srv_.engine.mail_begin(st_.session);
      if (!step.waits()) return Response::now(reply(step.decision, Stage::envfrom));
      const Session& ss = st_.session;
      counters_->add_msg(
          ss.res.key, step.call.now, ss.res.limits.msg_rate,
          [self = shared_from_this()](std::uint32_t n) { self->counted(Stage::envfrom, n); });
      return Response::later();
    });
  }

  // The counters' answer to mail_begin()'s or rcpt_begin()'s call.
  void counted(Stage stage, std::uint32_t n) {
    if (closed_) return;
    const Response r = guarded(stage == Stage::envfrom ? "envfrom" : "envrcpt", [&] {
      if (stage == Stage::envfrom)
        return Response::now(reply(srv_.engine.mail_end(st_.session, n), Stage::envfrom));
      return rcpt_decided(srv_.engine.rcpt_end(st_.session, n));
    });
    if (r.reply) after(proto_.complete(*r.reply));
  }

  Response rcpt(const ProtocolSession& s, const std::vector<std::string_view>&) override {
    return guarded("envrcpt", [&] {
      if (!session_open_) return Response::now(Reply{});
      const bool rejected = s.lookup("{rcpt_mailer}").value_or("") == "error";
      if (counters_ == nullptr) return rcpt_decided(srv_.engine.rcpt(st_.session, rejected));
      const Step step = srv_.engine.rcpt_begin(st_.session, rejected);
      if (!step.waits()) return rcpt_decided(step.decision);
      const Session& ss = st_.session;
      counters_->add_rcpt(
          ss.res.key, step.call.now, ss.res.limits.rcpt_rate, 1,
          [self = shared_from_this()](std::uint32_t n) { self->counted(Stage::envrcpt, n); });
      return Response::later();
    });
  }

  // Answers an RCPT's decision, after its delay if it has one.
  Response rcpt_decided(const policy::Decision& d) {
    if (d.delay.count() > 0) {
      srv_.metrics.bump(Metric::throttle_delays_total);
      delay(std::chrono::duration_cast<milliseconds>(d.delay), d, Stage::envrcpt);
      return Response::later();
    }
    return Response::now(reply(d, Stage::envrcpt));
  }

  void message_end() override { st_.session.rcpts_in_msg = 0; }

  void session_end() override {
    if (!session_open_) return;
    session_open_ = false;
    if (greet_) srv_.hub.drop(greet_);
    greet_.reset();
    delay_.cancel();
    srv_.metrics.add(Metric::sessions_open, -1);
    try {
      if (counters_ != nullptr)
        if (auto key = srv_.engine.take_slot(st_.session)) counters_->release(*key);
      srv_.engine.close(st_.session);
    } catch (const std::exception& e) {
      internal_error("close", e.what());
    }
  }

  Impl& srv_;
  std::atomic<int>& busy_;
  // This context's channel, or nullptr: the engine calls the counters.
  db::CounterChannel* counters_;
  bool counted_ = false;
  gproto::socket sock_;
  asio::steady_timer idle_;
  std::chrono::steady_clock::time_point idle_deadline_;
  bool idle_armed_ = false;
  asio::steady_timer delay_;
  ProtocolSession proto_;
  std::string peer_;
  std::array<char, 4096> rbuf_;  // not zeroed: only what a read fills is touched
  std::string wbuf_;
  std::string inflight_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool quit_ = false;
  bool delaying_ = false;
  bool session_open_ = false;
  SessionState st_;
  std::shared_ptr<GreetHub::Ticket> greet_;
};

}  // namespace

void NativeServer::Impl::log_violation(Violation v, const std::string& peer) {
  if (violation_logged[static_cast<std::size_t>(v)].exchange(true)) return;
  spdlog::warn(
      "milter protocol violation from {}: {}; connection closed (logged once per kind, "
      "counted in milter_harden_protocol_violations_total)",
      peer, to_string(v));
}

void NativeServer::Impl::note_unavailable(std::string_view why) {
  metrics.bump(Metric::pregreet_unavailable_total);
  if (!unavailable_logged.exchange(true))
    spdlog::warn(
        "pre-greeting detection unavailable: {}; greet pauses are plain delays "
        "(logged once, counted in milter_harden_pregreet_unavailable_total)",
        why);
}

bool NativeServer::Impl::peer_allowed(const gproto::socket& sock) {
  if (spec.kind == SocketSpec::Kind::unix_path) return true;  // file permissions decide
  boost::system::error_code ec;
  const auto ep = sock.remote_endpoint(ec);
  if (ec) return false;
  const auto addr = peer_address(ep);
  if (!addr) return false;
  return std::any_of(opt.allowed_peers.begin(), opt.allowed_peers.end(),
                     [&](const policy::IpNetwork& n) { return n.contains(*addr); });
}

void NativeServer::Impl::accept() {
  if (stopping || !acceptor) return;
  acceptor->async_accept(
      next_context(), [this](const boost::system::error_code& ec, gproto::socket sock) {
        if (ec == asio::error::operation_aborted || stopping) return;
        if (ec) return accept_failed(ec);
        if (opt.accept_guard) {
          const AcceptRecovery r = opt.accept_guard->accepted();
          if (r.ended_burst)  // the words of the libmilter engine (milter_accept.cpp)
            spdlog::info(
                "file descriptors available again: {} accept failures in {} ms, {} milter "
                "connections closed at accept",
                r.failures, r.lasted.count(), r.shed_count);
        }
        on_accept(std::move(sock));
        accept();
      });
}

void NativeServer::Impl::accept_failed(const boost::system::error_code& ec) {
  metrics.bump(Metric::accept_failures_total);
  milliseconds wait = kAcceptBackoff;
  if (opt.accept_guard && is_out_of_descriptors(ec.value())) {
    const AcceptFailure f = opt.accept_guard->out_of_descriptors(acceptor->native_handle());
    if (f.shed) metrics.bump(Metric::accept_shed_total);
    if (f.first_in_burst)
      spdlog::warn(
          "out of file descriptors (limit {}): new milter connections are closed at accept "
          "until sessions end (the MTA applies its milter default action); counted in "
          "milter_harden_accept_failures_total and accept_shed_total",
          opt.nofile);
    wait = f.backoff;
  } else {
    accept_log.warn("milter socket: accept failed: {}; backing off {}ms", ec.message(),
                    kAcceptBackoff.count());
  }
  if (wait.count() == 0) return accept();
  accept_timer.expires_after(wait);
  accept_timer.async_wait([this](auto e) {
    if (!e) accept();
  });
}

void NativeServer::Impl::on_accept(gproto::socket sock) {
  boost::system::error_code ec;
  std::string peer = spec.kind == SocketSpec::Kind::unix_path ? "unix" : "?";
  if (spec.kind != SocketSpec::Kind::unix_path) {
    const auto ep = sock.remote_endpoint(ec);
    if (const auto a = ec ? std::nullopt : peer_address(ep)) peer = a->to_string();
  }
  if (!peer_allowed(sock)) {
    metrics.bump(Metric::milter_connections_refused_total);
    refused_log.warn("milter socket: connection from {} refused: not in allowed_peers", peer);
    sock.close(ec);
    return;
  }
  std::shared_ptr<Connection> c;
  {
    std::lock_guard lock(reg_mu);
    if (conns.size() >= opt.max_connections) {
      metrics.bump(Metric::milter_connections_refused_total);
      refused_log.warn("milter socket: connection from {} refused: max_connections ({}) open", peer,
                       opt.max_connections);
      sock.close(ec);
      return;
    }
    c = std::make_shared<Connection>(*this, std::move(sock), std::move(peer));
    conns.emplace(c.get(), c);
  }
  metrics.add(Metric::milter_connections_open, 1);
  // On the connection's own thread: at once when that is this one.
  if (&c->executor().context() == &io)
    c->start();
  else
    asio::post(c->executor(), [c] { c->start(); });
}

void NativeServer::Impl::closed(Connection* c) {
  bool last = false;
  {
    std::lock_guard lock(reg_mu);
    if (conns.erase(c) == 0) return;
    last = conns.empty();
  }
  metrics.add(Metric::milter_connections_open, -1);
  if (last && stopping)
    asio::post(io, [this] {
      grace_timer.cancel();
      release_workers();
    });
}

NativeServer::NativeServer(NativeOptions options, Engine& engine, Metrics& metrics,
                           const Probe& probe)
    : impl_(std::make_unique<Impl>(std::move(options), engine, metrics, probe)) {}

NativeServer::~NativeServer() = default;

void NativeServer::listen(uid_t uid, gid_t gid) {
  Impl& s = *impl_;
  const SocketSpec& spec = s.spec;
  gproto::endpoint ep;
  if (spec.kind == SocketSpec::Kind::unix_path) {
    make_socket_directory(spec.path, uid, gid);
    struct stat st {};
    if (::lstat(spec.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(spec.path.c_str());
    ep = asio::local::stream_protocol::endpoint(spec.path);
  } else {
    boost::system::error_code ec;
    const auto addr = spec.host.empty() ? (spec.kind == SocketSpec::Kind::inet6
                                               ? asio::ip::address(asio::ip::address_v6::any())
                                               : asio::ip::address(asio::ip::address_v4::any()))
                                        : asio::ip::make_address(spec.host, ec);
    if (ec) throw std::runtime_error("socket " + s.opt.socket + ": bad address " + spec.host);
    ep = asio::ip::tcp::endpoint(addr, spec.port);
  }
  try {
    s.acceptor.emplace(s.io);
    s.acceptor->open(ep.protocol());
    if (spec.kind != SocketSpec::Kind::unix_path)
      s.acceptor->set_option(asio::socket_base::reuse_address(true));
    s.acceptor->bind(ep);
    s.acceptor->listen(asio::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("socket " + s.opt.socket + ": cannot listen: " + e.code().message());
  }
  if (spec.kind == SocketSpec::Kind::unix_path &&
      (::chmod(spec.path.c_str(), 0660) != 0 || ::chown(spec.path.c_str(), uid, gid) != 0))
    throw std::runtime_error("socket " + s.opt.socket + ": cannot set owner/mode");
}

namespace {

// Names the calling thread (as `top -H` and perf show it); at most 15 bytes.
void name_thread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

unsigned default_io_threads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

void NativeServer::run() {
  Impl& s = *impl_;
  for (std::size_t i = 1; i < s.ios.size(); ++i)
    s.workers_busy.push_back(asio::make_work_guard(*s.ios[i]));
  asio::post(s.io, [&s] { s.accept(); });
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < s.ios.size(); ++i)
    pool.emplace_back([io = s.ios[i].get(), i] {
      name_thread("mh-io-" + std::to_string(i));
      io->run();
    });
  auto hub_busy = asio::make_work_guard(s.hub_io);
  std::thread hub_thread([&s] {
    name_thread("mh-greet");
    s.hub_io.run();
  });
  s.io.run();
  for (auto& t : pool) t.join();
  hub_busy.reset();
  s.hub_io.stop();  // every session is gone; a tick may still be armed
  hub_thread.join();
  if (s.spec.kind == SocketSpec::Kind::unix_path) ::unlink(s.spec.path.c_str());
}

void NativeServer::stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (s.stopping.exchange(true)) return;
  asio::post(s.io, [&s, grace] {
    boost::system::error_code ec;
    if (s.acceptor) s.acceptor->close(ec);
    s.accept_timer.cancel();
    s.hub.cancel_all();
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(s.reg_mu);
      for (auto& [p, w] : s.conns)
        if (auto c = w.lock()) live.push_back(std::move(c));
    }
    for (auto& c : live) c->stopping();
    if (live.empty()) return s.release_workers();
    s.grace_timer.expires_after(grace);
    s.grace_timer.async_wait([&s](auto) {
      std::vector<std::shared_ptr<Connection>> rest;
      {
        std::lock_guard lock(s.reg_mu);
        for (auto& [p, w] : s.conns)
          if (auto c = w.lock()) rest.push_back(std::move(c));
      }
      for (auto& c : rest) c->shut();
    });
  });
}

std::size_t NativeServer::connections() const {
  std::lock_guard lock(impl_->reg_mu);
  return impl_->conns.size();
}

}  // namespace harden::milter
