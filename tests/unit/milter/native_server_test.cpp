// native_server_test.cpp - the native engine's own timers, on a NativeServer
// in this process with short timeouts: a silent MTA connection is closed at
// negotiate_timeout, and the idle deadline runs from the last command (it
// moves with every command and comes earlier once negotiation is done).
// These are real timers, so the checks have wide margins: a timeout may fire
// late on a loaded machine, never early.
//
// NativeServerChannel: counters that answer through a db::CounterChannel
// (as counters: redis does), here LocalCounters whose answers are posted or
// held back by the test: the decisions are those of the counts, and a slot
// taken for a connection that closed while its count was on the way is
// given back.
#include "harden/milter/native_server.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "harden/db/counters.hpp"
#include "harden/milter/pregreet.hpp"
#include "harden/policy/clock.hpp"
#include "harden/policy/policy.hpp"
#include "support/milter_client.hpp"

namespace harden::milter {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::MilterClient;

// Never asked: no session here reaches a greet pause.
class NoProbe final : public Probe {
 public:
  ProbeResult probe(const Endpoint&, const Endpoint&) const override { return {}; }
};

// A NativeServer of `engine` on a unix socket in a temp dir, run by a
// thread of its own until TearDown.
class InProcessServer : public ::testing::Test {
 protected:
  void serve(Engine& engine, NativeOptions o, const Probe* probe = nullptr) {
    dir_ = std::filesystem::temp_directory_path() /
           ("mh-native-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    socket_ = "unix:" + (dir_ / "milter.sock").string();
    o.socket = socket_;
    server_ = std::make_unique<NativeServer>(o, engine, metrics_, probe ? *probe : probe_);
    server_->listen(::getuid(), ::getgid());
    thread_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->stop(0ms);
      thread_.join();
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  policy::SystemClock clock_;
  Metrics metrics_;
  NoProbe probe_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<NativeServer> server_;
  std::thread thread_;
};

class NativeServerTimers : public InProcessServer {
 protected:
  void start(std::chrono::milliseconds negotiate, std::chrono::milliseconds idle) {
    NativeOptions o;
    o.threads = 1;
    o.negotiate_timeout = negotiate;
    o.idle_timeout = idle;
    serve(engine_, o);
  }

  std::int64_t idle_timeouts() const { return metrics_.get(Metric::milter_idle_timeouts_total); }

  Engine engine_{EngineOptions{}, std::make_shared<db::LocalCounters>(db::LocalCountersOptions{}),
                 clock_};
};

TEST_F(NativeServerTimers, ASilentConnectionIsClosedAtTheNegotiateTimeout) {
  start(300ms, 10s);
  const auto opened = Clock::now();
  MilterClient c = MilterClient::open(socket_, 5s);
  ASSERT_TRUE(c.wait_closed(10s));
  EXPECT_GE(Clock::now() - opened, 300ms);
  EXPECT_EQ(idle_timeouts(), 1);
}

TEST_F(NativeServerTimers, TheIdleDeadlineRunsFromTheLastCommand) {
  // negotiate_timeout far off: once negotiated, the (earlier) idle deadline
  // must take over; then every command moves it.
  start(20s, 1s);
  MilterClient c = MilterClient::open(socket_, 5s);
  const auto opened = Clock::now();
  c.negotiate();
  Clock::time_point last;
  for (int i = 0; i < 8; ++i) {  // 1.6 s of commands, each within the idle timeout
    std::this_thread::sleep_for(200ms);
    last = Clock::now();  // before the send: the server cannot read it earlier
    c.macros('C', {{"j", "mx.test"}});
  }
  EXPECT_FALSE(c.wait_closed(0ms)) << "closed while commands kept coming";
  ASSERT_TRUE(c.wait_closed(15s)) << "the idle deadline did not replace the negotiate one";
  const auto closed = Clock::now();
  EXPECT_GE(closed - last, 1s);
  EXPECT_GE(closed - opened, 2600ms);
  EXPECT_LT(closed - opened, 19s);
  EXPECT_EQ(idle_timeouts(), 1);
}

// LocalCounters behind a CounterChannel whose answers are posted to the
// I/O thread, or, while `hold` is set, kept until release_held().
class ChannelCounters final : public db::CounterBackend {
 public:
  db::ConnectCount connect(const policy::IpNetwork& key, policy::SteadyTime now,
                           const policy::Limits& limits) override {
    auto c = inner_.connect(key, now, limits);
    if (c.slot_taken) ++taken;
    return c;
  }
  void release(const policy::IpNetwork& key) override {
    ++released;
    inner_.release(key);
  }
  std::uint32_t add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now,
                         const policy::Rate& rate, std::uint32_t n) override {
    return inner_.add_rcpt(key, now, rate, n);
  }
  std::uint32_t add_msg(const policy::IpNetwork& key, policy::SteadyTime now,
                        const policy::Rate& rate) override {
    return inner_.add_msg(key, now, rate);
  }
  std::optional<db::ClientState> inspect(const policy::IpNetwork& key, policy::SteadyTime now,
                                         const policy::Limits& limits) const override {
    return inner_.inspect(key, now, limits);
  }
  bool flush(const policy::IpNetwork& key) override { return inner_.flush(key); }
  db::CounterStats stats() const override { return inner_.stats(); }
  std::unique_ptr<db::CounterChannel> open_channel(boost::asio::io_context& io) override {
    return std::make_unique<Channel>(*this, io);
  }

  // Posts the answers kept while `hold` was set.
  void release_held() {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard lock(mu_);
      due.swap(held_);
    }
    for (auto& f : due) f();
  }
  std::size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }

  std::atomic<bool> hold{false};
  std::atomic<int> taken{0}, released{0}, channel_calls{0};

 private:
  class Channel final : public db::CounterChannel {
   public:
    Channel(ChannelCounters& o, boost::asio::io_context& io) : owner_(o), io_(io) {}
    void connect(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Limits& limits,
                 ConnectDone done) override {
      answer([c = owner_.connect(key, now, limits), done = std::move(done)] { done(c); });
    }
    void add_rcpt(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
                  std::uint32_t n, CountDone done) override {
      answer([c = owner_.add_rcpt(key, now, rate, n), done = std::move(done)] { done(c); });
    }
    void add_msg(const policy::IpNetwork& key, policy::SteadyTime now, const policy::Rate& rate,
                 CountDone done) override {
      answer([c = owner_.add_msg(key, now, rate), done = std::move(done)] { done(c); });
    }
    void release(const policy::IpNetwork& key) override {
      ++owner_.channel_calls;
      owner_.release(key);
    }

   private:
    void answer(std::function<void()> f) {
      ++owner_.channel_calls;
      auto post = [&io = io_, f = std::move(f)] { boost::asio::post(io, f); };
      if (!owner_.hold) return post();
      std::lock_guard lock(owner_.mu_);
      owner_.held_.push_back(std::move(post));
    }
    ChannelCounters& owner_;
    boost::asio::io_context& io_;
  };

  db::LocalCounters inner_;
  std::mutex mu_;
  std::vector<std::function<void()>> held_;
};

policy::Rule rule(std::initializer_list<std::pair<const char*, const char*>> attrs) {
  policy::Rule r;
  r.selector = policy::Selector::parse("default");
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

// Polls `done` until it holds or `within` passes (a condition, not a timing).
template <class F>
bool eventually(F done, std::chrono::milliseconds within = 10s) {
  const auto until = Clock::now() + within;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

class NativeServerChannel : public InProcessServer {
 protected:
  void SetUp() override {
    engine_.set_policy(policy::Policy::build(
        {rule({{"conn_limit", "2"}, {"rcpt_rate", "2/60s"}, {"msg_rate", "3/60s"}})}));
    NativeOptions o;
    o.threads = 2;
    o.pack = 0;  // round robin: both threads' channels serve sessions
    serve(engine_, o);
  }
  void TearDown() override {
    counters_->hold = false;
    counters_->release_held();
    InProcessServer::TearDown();
  }

  std::uint32_t open_of(const std::string& ip) {
    const auto key = policy::ClientKeyer{}.key(policy::IpAddress::parse(ip));
    const auto st = counters_->inspect(key, clock_.steady(), policy::Limits{});
    return st ? st->open : 0;
  }

  std::shared_ptr<ChannelCounters> counters_ = std::make_shared<ChannelCounters>();
  Engine engine_{EngineOptions{}, counters_, clock_};
};

TEST_F(NativeServerChannel, DecisionsComeFromTheChannelsCounts) {
  using testing::Session;
  const auto peer = testing::peer_at("192.0.2.30", "mx.example.org", "OK");
  Session a = Session::start(socket_, peer, 5s);
  Session b = Session::start(socket_, peer, 5s);
  EXPECT_TRUE(a.connect_reply().is_continue()) << a.connect_reply().describe();
  EXPECT_TRUE(b.connect_reply().is_continue()) << b.connect_reply().describe();
  Session c = Session::start(socket_, peer, 5s);  // conn_limit 2
  EXPECT_EQ(c.connect_reply().smtp_code(), "421") << c.connect_reply().describe();
  EXPECT_EQ(open_of("192.0.2.30"), 2u);

  EXPECT_TRUE(a.mail().is_continue());
  EXPECT_TRUE(a.rcpt("<x@example.net>").is_continue());
  EXPECT_TRUE(b.mail().is_continue());
  EXPECT_TRUE(b.rcpt("<y@example.net>").is_continue());
  const auto third = a.rcpt("<z@example.net>");  // rcpt_rate 2/60s, across sessions
  EXPECT_TRUE(third.refuses()) << third.describe();
  EXPECT_TRUE(b.mail().is_continue());
  EXPECT_FALSE(a.mail().is_continue());  // msg_rate 3/60s: the 4th

  a.quit();
  b.quit();
  c.quit();
  ASSERT_TRUE(eventually([&] { return counters_->released == counters_->taken; }))
      << counters_->taken << " taken, " << counters_->released << " released";
  EXPECT_EQ(counters_->taken, 2);
  EXPECT_EQ(open_of("192.0.2.30"), 0u);
  // connect x3, rcpt x3, mail x4, release x2: all on the channels
  EXPECT_EQ(counters_->channel_calls, 12);
}

TEST_F(NativeServerChannel, AConnectionClosedWhileItsConnectIsCountedGivesItsSlotBack) {
  counters_->hold = true;
  MilterClient m = MilterClient::open(socket_, 5s);
  m.negotiate();
  m.macros('C', {{"{client_addr}", "192.0.2.31"}, {"j", "mx.test"}});
  m.send_packet('C', std::string("mx.example.org\0", 15) + "4" + std::string("\x9c\x40", 2) +
                         "192.0.2.31" + std::string(1, '\0'));
  ASSERT_TRUE(eventually([&] { return counters_->held() == 1; }));
  EXPECT_EQ(counters_->taken, 1);  // counted, the answer not yet back
  m.close();                       // the MTA gives up meanwhile
  ASSERT_TRUE(eventually([&] { return server_->connections() == 0; }));
  EXPECT_EQ(counters_->released, 0);
  counters_->hold = false;
  counters_->release_held();
  ASSERT_TRUE(eventually([&] { return counters_->released == 1; }))
      << "the slot of the closed connection was not given back";
  EXPECT_EQ(open_of("192.0.2.31"), 0u);
}

// The MTA port's connections known up front, as the kernel's table is: each
// client silent unless set to have talked. Counts the exact looks per client
// address and the port scans.
class PortTableProbe final : public Probe {
 public:
  void add(const std::string& address, bool talked = false) {
    std::lock_guard lock(mu_);
    table_.push_back({testing::peer_at(address).port, address, talked});
  }
  ProbeResult probe(const Endpoint& mta, const Endpoint& client) const override {
    std::lock_guard lock(mu_);
    ++exact_[client.address.to_string()];
    for (const Row& r : table_)
      if (r.address == client.address.to_string() && r.port == client.port)
        return result(mta, r.talked);
    return ProbeResult{};  // not_found
  }
  PortScan scan(std::uint16_t port, ScanFamilies) const override {
    std::lock_guard lock(mu_);
    ++scans_;
    PortScan s;
    s.ok = true;
    for (const Row& r : table_)
      s.connections.push_back(PortScan::Connection{
          Endpoint{policy::IpAddress::parse(r.address), r.port},
          result(Endpoint{policy::IpAddress::parse("127.0.0.1"), port}, r.talked)});
    return s;
  }
  int exact_looks(const std::string& address) const {
    std::lock_guard lock(mu_);
    const auto it = exact_.find(address);
    return it == exact_.end() ? 0 : it->second;
  }
  int scans() const {
    std::lock_guard lock(mu_);
    return scans_;
  }

 private:
  struct Row {
    std::uint16_t port;
    std::string address;
    bool talked;
  };
  static ProbeResult result(const Endpoint& mta, bool talked) {
    ProbeResult r;
    r.status = talked ? ProbeResult::Status::talked : ProbeResult::Status::silent;
    r.bytes_received = talked ? 6 : 0;
    r.rqueue = talked ? 6u : 0u;
    r.local = mta;
    return r;
  }
  mutable std::mutex mu_;
  std::vector<Row> table_;
  mutable std::map<std::string, int> exact_;
  mutable int scans_ = 0;
};

// A NativeServer whose default rule holds a greet pause, ticks every 100 ms,
// over a PortTableProbe; sessions started on threads of their own.
class GreetServer : public InProcessServer {
 protected:
  void begin(const char* pause) {
    policy::Rule r;
    r.attrs.set("greet_pause", pause);
    engine_.set_policy(policy::Policy::build({r}));
    NativeOptions o;
    o.threads = 1;
    o.probe_interval = 100ms;
    serve(engine_, o, &probe_);
  }
  // Starts a session from `address` on a thread of its own.
  void start(const std::string& address) {
    sessions_.emplace_back([this, address] {
      const auto sent = Clock::now();
      testing::Session s = testing::Session::start(socket_, testing::peer_at(address), 10s);
      std::lock_guard lock(mu_);
      waited_[address] = Clock::now() - sent;
      refused_[address] = s.connect_reply().refuses();
    });
  }
  void join() {
    for (auto& t : sessions_) t.join();
    sessions_.clear();
  }

  Engine engine_{EngineOptions{}, std::make_shared<db::LocalCounters>(db::LocalCountersOptions{}),
                 clock_};
  PortTableProbe probe_;
  std::vector<std::thread> sessions_;
  std::mutex mu_;
  std::map<std::string, Clock::duration> waited_;
  std::map<std::string, bool> refused_;
};

// The greet pause's ticks: every client silent. A pause that ends before
// the next tick is not scanned (its last look comes first), so a tick among
// the ends of a flood's pauses costs nothing; a longer one is watched by the
// ticks.
class NativeServerGreetTicks : public GreetServer {
 protected:
  // Two sessions at once in a greet pause of `pause`; returns when both are
  // answered.
  void two_sessions_paused(const char* pause) {
    begin(pause);
    for (const char* a : kClients) probe_.add(a);
    for (const char* a : kClients) start(a);
    join();
  }
  static constexpr std::array<const char*, 2> kClients{"192.0.2.40", "192.0.2.41"};
};

TEST_F(NativeServerGreetTicks, APauseEndingBeforeTheNextTickIsNotScanned) {
  two_sessions_paused("150");  // the first tick comes at ~100 ms, the next at ~200
  ASSERT_EQ(waited_.size(), 2u);
  for (const char* a : kClients) {
    EXPECT_FALSE(refused_[a]) << a;
    EXPECT_GE(waited_[a], 150ms) << a;
  }
  EXPECT_EQ(probe_.scans(), 0);
}

TEST_F(NativeServerGreetTicks, ALongerPauseIsWatchedByTheTicks) {
  two_sessions_paused("450");
  ASSERT_EQ(waited_.size(), 2u);
  for (const char* a : kClients) {
    EXPECT_FALSE(refused_[a]) << a;
    EXPECT_GE(waited_[a], 450ms) << a;
  }
  EXPECT_GE(probe_.scans(), 1);
}

// Pauses that start while the ticks run get their first look from the next
// tick's scan, not an exact look each (a flood's CONNECTs cost less); a
// client that talked before its CONNECT came is refused at that tick.
class NativeServerGreetFirstLooks : public GreetServer {
 protected:
  void SetUp() override { begin("600"); }
};

TEST_F(NativeServerGreetFirstLooks, PausesStartedWhileTheTicksRunAreLookedAtByTheScan) {
  for (const char* a : {"192.0.2.50", "192.0.2.51", "192.0.2.52"}) probe_.add(a);
  start("192.0.2.50");  // no tick yet: an exact first look, and the ticks start
  ASSERT_TRUE(eventually([&] { return probe_.exact_looks("192.0.2.50") == 1; }));
  start("192.0.2.51");
  start("192.0.2.52");
  join();
  for (const char* a : {"192.0.2.50", "192.0.2.51", "192.0.2.52"}) {
    EXPECT_FALSE(refused_[a]) << a;
    EXPECT_GE(waited_[a], 600ms) << a;
  }
  EXPECT_GE(probe_.scans(), 1);
  EXPECT_EQ(probe_.exact_looks("192.0.2.50"), 2);  // first and last
  EXPECT_EQ(probe_.exact_looks("192.0.2.51"), 1);  // the last only
  EXPECT_EQ(probe_.exact_looks("192.0.2.52"), 1);
}

TEST_F(NativeServerGreetFirstLooks, AClientThatTalkedBeforeItsConnectIsRefusedAtTheNextTick) {
  probe_.add("192.0.2.60");
  probe_.add("192.0.2.61", /*talked=*/true);
  start("192.0.2.60");
  ASSERT_TRUE(eventually([&] { return probe_.exact_looks("192.0.2.60") == 1; }));
  start("192.0.2.61");
  join();
  EXPECT_FALSE(refused_["192.0.2.60"]);
  EXPECT_TRUE(refused_["192.0.2.61"]);
  EXPECT_EQ(probe_.exact_looks("192.0.2.61"), 0);  // seen by a scan, before its last look
  EXPECT_GE(probe_.scans(), 1);
}

TEST_F(NativeServerGreetFirstLooks, ASessionTheScanDoesNotShowGetsAnExactLook) {
  probe_.add("192.0.2.70");
  probe_.add("192.0.2.71");
  start("192.0.2.70");
  ASSERT_TRUE(eventually([&] { return probe_.exact_looks("192.0.2.70") == 1; }));
  start("192.0.2.72");  // not in the port's table: its pause is a plain delay
  join();
  EXPECT_FALSE(refused_["192.0.2.72"]);
  EXPECT_GE(waited_["192.0.2.72"], 600ms);
  EXPECT_EQ(probe_.exact_looks("192.0.2.72"), 1);  // after the scan missed it; then degraded
}

// Shutdown ends every greet pause now (proceed), those still waiting in the
// hub's intake for a tick included.
class NativeServerGreetStop : public GreetServer {
 protected:
  void SetUp() override { begin("30000"); }
};

TEST_F(NativeServerGreetStop, StopEndsEveryPauseWithThoseWaitingForATick) {
  for (const char* a : {"192.0.2.80", "192.0.2.81", "192.0.2.82"}) probe_.add(a);
  start("192.0.2.80");  // the ticks start
  ASSERT_TRUE(eventually([&] { return probe_.exact_looks("192.0.2.80") == 1; }));
  start("192.0.2.81");  // these two wait in the intake for the next tick
  start("192.0.2.82");
  ASSERT_TRUE(eventually([&] { return metrics_.get(Metric::greet_pauses_total) == 3; }));
  server_->stop(5s);
  join();
  for (const char* a : {"192.0.2.80", "192.0.2.81", "192.0.2.82"}) {
    EXPECT_FALSE(refused_[a]) << a;
    EXPECT_LT(waited_[a], 10s) << a << ": held for its pause (30 s) despite the stop";
  }
}

}  // namespace
}  // namespace harden::milter
