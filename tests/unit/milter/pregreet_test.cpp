// pregreet_test.cpp - the pre-greeting probe against the real kernel (real
// loopback sockets, no timing sleeps) and the watch with a fake probe and a
// manual clock.
#include "harden/milter/pregreet.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace harden::milter {
namespace {

using namespace std::chrono_literals;
using Status = ProbeResult::Status;
using Outcome = WatchResult::Outcome;

Endpoint ep(std::string_view addr, std::string_view port) {
  auto e = Endpoint::from_text(addr, port);
  if (!e) throw std::runtime_error("bad test endpoint " + std::string(addr));
  return *e;
}

// ---------------------------------------------------------------------------
// Endpoint

TEST(Endpoint, ParsesMacroText) {
  struct Case {
    std::string_view addr, port, printed;
  };
  const Case cases[] = {
      {"192.0.2.7", "25", "192.0.2.7:25"},
      {"2001:db8::7", "587", "[2001:db8::7]:587"},
      {"IPv6:2001:db8::7", "65535", "[2001:db8::7]:65535"},
      {"::ffff:192.0.2.7", "1", "192.0.2.7:1"},  // mapped folds to IPv4
      {"0.0.0.0", "25", "0.0.0.0:25"},
      {"::", "25", "[::]:25"},
      {"127.0.0.1", "00025", "127.0.0.1:25"},
  };
  for (const auto& c : cases) {
    auto e = Endpoint::from_text(c.addr, c.port);
    ASSERT_TRUE(e.has_value()) << c.addr << " " << c.port;
    EXPECT_EQ(e->to_string(), c.printed);
  }
}

TEST(Endpoint, RejectsHostileText) {
  const std::pair<std::string, std::string> cases[] = {
      {"192.0.2.7", ""},
      {"192.0.2.7", "0"},
      {"192.0.2.7", "65536"},
      {"192.0.2.7", "99999999999999999999"},
      {"192.0.2.7", "+25"},
      {"192.0.2.7", "-1"},
      {"192.0.2.7", " 25"},
      {"192.0.2.7", "25 "},
      {"192.0.2.7", "0x19"},
      {"192.0.2.7", std::string("2\0"
                                "5",
                                3)},
      {"192.0.2.7", "\xd9\xa3"},  // Arabic-Indic digit three
      {"192.0.2.7", "000025"},    // too long even if it is 25
      {"", "25"},
      {"999.1.1.1", "25"},
      {"[::1]", "25"},
      {"192.0.2.7\n", "25"},
      {std::string("192.0.2.7\0", 10), "25"},
      {std::string(4096, '1'), "25"},
      {"mx.example.org", "25"},
  };
  for (const auto& [addr, port] : cases)
    EXPECT_FALSE(Endpoint::from_text(addr, port).has_value()) << addr << " / " << port;
}

TEST(Endpoint, Wildcard) {
  EXPECT_TRUE(ep("0.0.0.0", "25").is_wildcard());
  EXPECT_TRUE(ep("::", "25").is_wildcard());
  EXPECT_TRUE(ep("IPv6:::", "25").is_wildcard());
  EXPECT_FALSE(ep("127.0.0.1", "25").is_wildcard());
  EXPECT_FALSE(ep("::1", "25").is_wildcard());
}

// ---------------------------------------------------------------------------
// Real sockets

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Endpoint endpoint_of(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, &ss, sizeof sin);
    return Endpoint{policy::IpAddress::v4(ntohl(sin.sin_addr.s_addr)), ntohs(sin.sin_port)};
  }
  sockaddr_in6 sin6{};
  std::memcpy(&sin6, &ss, sizeof sin6);
  std::array<std::uint8_t, 16> b{};
  std::memcpy(b.data(), &sin6.sin6_addr, 16);
  return Endpoint{policy::IpAddress::v6(b), ntohs(sin6.sin6_port)};
}

Endpoint local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    throw std::runtime_error("getsockname");
  return endpoint_of(ss);
}

sockaddr_storage sockaddr_for(int family, std::string_view text, std::uint16_t port) {
  sockaddr_storage ss{};
  const std::string s(text);
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    ::inet_pton(AF_INET, s.c_str(), &sin.sin_addr);
    std::memcpy(&ss, &sin, sizeof sin);
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    ::inet_pton(AF_INET6, s.c_str(), &sin6.sin6_addr);
    std::memcpy(&ss, &sin6, sizeof sin6);
  }
  return ss;
}

Fd tcp_socket(int family) {
  Fd fd{::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.get() < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  return fd;
}

void bind_to(int fd, int family, std::string_view addr, std::uint16_t port) {
  const auto ss = sockaddr_for(family, addr, port);
  const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("bind " + std::string(addr) + ": " + std::strerror(errno));
}

// A listener, a connected client and the accepted (MTA-side) socket.
struct Connection {
  Fd listener, client, server;
  Endpoint mta_local;    // what {daemon_addr}:{daemon_port} says
  Endpoint client_side;  // what {client_addr}:{client_port} says
};

// Listens on listen_addr:0 (dual-stack when it is "::"), connects from
// client_family to connect_addr, accepts.
Connection connect_pair(int listen_family, std::string_view listen_addr, int client_family,
                        std::string_view connect_addr) {
  Connection c;
  c.listener = tcp_socket(listen_family);
  if (listen_family == AF_INET6) {
    const int off = 0;
    ::setsockopt(c.listener.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  bind_to(c.listener.get(), listen_family, listen_addr, 0);
  if (::listen(c.listener.get(), 8) != 0) throw std::runtime_error("listen");
  const std::uint16_t port = local_of(c.listener.get()).port;
  c.client = tcp_socket(client_family);
  const auto to = sockaddr_for(client_family, connect_addr, port);
  const socklen_t len = client_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::connect(c.client.get(), reinterpret_cast<const sockaddr*>(&to), len) != 0)
    throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  c.server = Fd{::accept4(c.listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  if (c.server.get() < 0) throw std::runtime_error("accept");
  c.mta_local = local_of(c.server.get());
  c.client_side = local_of(c.client.get());
  return c;
}

void send_all(int fd, std::string_view data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

// Blocks (poll, no sleep) until `fd` has `n` unread bytes; bounded by 10 s.
void wait_for_unread(int fd, int n) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int unread = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{fd, POLLIN, 0};
    ::poll(&pfd, 1, 1000);
    ASSERT_EQ(::ioctl(fd, FIONREAD, &unread), 0);
    if (unread >= n) return;
  }
  FAIL() << "only " << unread << " of " << n << " bytes arrived";
}

// Blocks until the peer's FIN has arrived on `fd`; bounded by 10 s.
void wait_for_fin(int fd) {
  pollfd pfd{fd, POLLRDHUP, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10'000), 1);
  ASSERT_NE(pfd.revents & POLLRDHUP, 0);
}

struct LoopbackCase {
  const char* name;
  int family;
  const char* addr;
};

class RealProbe : public ::testing::TestWithParam<LoopbackCase> {
 protected:
  Connection conn() const {
    return connect_pair(GetParam().family, GetParam().addr, GetParam().family, GetParam().addr);
  }
  PregreetProbe probe_;
};

TEST_P(RealProbe, SilentThenTalkedThenReadByTheMta) {
  auto c = conn();
  auto r = probe_.probe(c.mta_local, c.client_side);
  ASSERT_EQ(r.status, Status::silent) << r.error;
  EXPECT_EQ(r.bytes_received, 0u);  // the SYN is not counted
  EXPECT_EQ(r.rqueue, 0u);
  EXPECT_FALSE(r.peer_closed);
  EXPECT_EQ(r.local, c.mta_local);

  send_all(c.client.get(), "EHLO x\r\n");
  wait_for_unread(c.server.get(), 8);
  r = probe_.probe(c.mta_local, c.client_side);
  EXPECT_EQ(r.status, Status::talked);
  EXPECT_EQ(r.bytes_received, 8u);
  EXPECT_EQ(r.rqueue, 8u);  // sendmail's case: still in the queue

  char buf[16];
  ASSERT_EQ(::recv(c.server.get(), buf, sizeof buf, 0), 8);
  r = probe_.probe(c.mta_local, c.client_side);
  EXPECT_EQ(r.status, Status::talked);  // Postfix's case: smtpd read it already
  EXPECT_EQ(r.bytes_received, 8u);
  EXPECT_EQ(r.rqueue, 0u);
}

TEST_P(RealProbe, WildcardLocalAddressFindsTheSocket) {
  auto c = conn();
  const Endpoint any =
      ep(GetParam().family == AF_INET ? "0.0.0.0" : "::", std::to_string(c.mta_local.port));
  auto r = probe_.probe(any, c.client_side);
  ASSERT_EQ(r.status, Status::silent) << r.error;
  EXPECT_EQ(r.local, c.mta_local);
  send_all(c.client.get(), "EHLO x\r\n");
  wait_for_unread(c.server.get(), 8);
  r = probe_.probe(any, c.client_side);
  EXPECT_EQ(r.status, Status::talked);
  EXPECT_EQ(r.bytes_received, 8u);
}

TEST_P(RealProbe, TupleThatDoesNotExistIsNotFound) {
  auto c = conn();
  // A port that is bound but not connected: the exact lookup falls back to
  // the listener in the kernel, which must not count as the connection.
  Fd spare = tcp_socket(GetParam().family);
  bind_to(spare.get(), GetParam().family, GetParam().addr, 0);
  Endpoint stranger = c.client_side;
  stranger.port = local_of(spare.get()).port;
  EXPECT_EQ(probe_.probe(c.mta_local, stranger).status, Status::not_found);
  Endpoint any = c.mta_local;
  any.address = ep(GetParam().family == AF_INET ? "0.0.0.0" : "::", "1").address;
  EXPECT_EQ(probe_.probe(any, stranger).status, Status::not_found);
  Endpoint other_local = c.mta_local;
  other_local.port = stranger.port;
  const auto r = probe_.probe(other_local, c.client_side);
  EXPECT_EQ(r.status, Status::not_found);
  EXPECT_NE(r.error.find("no TCP connection"), std::string::npos) << r.error;
}

// One scan of the MTA's port answers for every connection on it, each as the
// one-by-one probe would (the native engine's greet ticker).
TEST_P(RealProbe, PortScanSeesEveryConnectionOnThePort) {
  auto a = conn();
  // two more clients on the same listener
  Fd b = tcp_socket(GetParam().family);
  Fd c = tcp_socket(GetParam().family);
  const auto to = sockaddr_for(GetParam().family, GetParam().addr, a.mta_local.port);
  const socklen_t len = GetParam().family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  ASSERT_EQ(::connect(b.get(), reinterpret_cast<const sockaddr*>(&to), len), 0);
  ASSERT_EQ(::connect(c.get(), reinterpret_cast<const sockaddr*>(&to), len), 0);
  Fd b_server{::accept4(a.listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  Fd c_server{::accept4(a.listener.get(), nullptr, nullptr, SOCK_CLOEXEC)};
  send_all(b.get(), "EHLO b\r\n");
  wait_for_unread(b_server.get(), 8);
  const PortScan scan = probe_.scan(a.mta_local.port);
  ASSERT_TRUE(scan.ok) << scan.error;
  std::map<std::uint16_t, ProbeResult> by_port;
  for (const auto& conn : scan.connections)
    if (conn.client.address == a.client_side.address) by_port[conn.client.port] = conn.result;
  // the accepted sockets only: the clients' own sockets have other local ports
  ASSERT_EQ(by_port.size(), 3u);
  EXPECT_EQ(by_port[a.client_side.port].status, Status::silent);
  EXPECT_EQ(by_port[a.client_side.port].local, a.mta_local);
  EXPECT_EQ(by_port[local_of(b.get()).port].status, Status::talked);
  EXPECT_EQ(by_port[local_of(b.get()).port].bytes_received, 8u);
  EXPECT_EQ(by_port[local_of(c.get()).port].status, Status::silent);
  // each as the one-by-one probe says
  for (const auto& [port, r] : by_port) {
    Endpoint client = a.client_side;
    client.port = port;
    EXPECT_EQ(probe_.probe(a.mta_local, client).status, r.status) << port;
  }
  // no connection on a port nobody uses: an empty, successful scan
  Fd spare = tcp_socket(GetParam().family);
  bind_to(spare.get(), GetParam().family, GetParam().addr, 0);
  const PortScan empty = probe_.scan(local_of(spare.get()).port);
  EXPECT_TRUE(empty.ok) << empty.error;
  EXPECT_TRUE(empty.connections.empty());
}

// probe_many answers each query as probe() does, over more than one batch:
// silent and talked connections, a tuple nobody has, a wildcard MTA side (a
// dump, probed on its own) and a query with no port.
TEST_P(RealProbe, ManyAtOnceAnswerAsOneByOne) {
  const int family = GetParam().family;
  Fd listener = tcp_socket(family);
  bind_to(listener.get(), family, GetParam().addr, 0);
  ASSERT_EQ(::listen(listener.get(), 256), 0);
  const std::uint16_t port = local_of(listener.get()).port;
  const auto to = sockaddr_for(family, GetParam().addr, port);
  const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  constexpr std::size_t kConnections = PregreetProbe::kBatch + 36;  // two batches
  std::vector<Fd> clients, servers;
  std::vector<ProbeQuery> queries;
  for (std::size_t i = 0; i < kConnections; ++i) {
    clients.push_back(tcp_socket(family));
    ASSERT_EQ(::connect(clients.back().get(), reinterpret_cast<const sockaddr*>(&to), len), 0);
    servers.emplace_back(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_GE(servers.back().get(), 0);
    queries.push_back(ProbeQuery{local_of(servers.back().get()), local_of(clients.back().get())});
    if (i % 3 == 0) {
      send_all(clients.back().get(), "EHLO x\r\n");
      wait_for_unread(servers.back().get(), 8);
    }
  }
  Fd spare = tcp_socket(family);
  bind_to(spare.get(), family, GetParam().addr, 0);
  Endpoint stranger = queries[0].client;
  stranger.port = local_of(spare.get()).port;
  queries.push_back(ProbeQuery{queries[0].mta_local, stranger});
  const Endpoint any = ep(family == AF_INET ? "0.0.0.0" : "::", std::to_string(port));
  queries.push_back(ProbeQuery{any, queries[1].client});
  queries.push_back(ProbeQuery{queries[2].mta_local, Endpoint{queries[2].client.address, 0}});

  std::vector<ProbeResult> many(queries.size());
  probe_.probe_many(queries, many);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const ProbeResult one = probe_.probe(queries[i].mta_local, queries[i].client);
    EXPECT_EQ(many[i].status, one.status) << i << ": " << many[i].error;
    EXPECT_EQ(many[i].bytes_received, one.bytes_received) << i;
    EXPECT_EQ(many[i].local, one.local) << i;
    EXPECT_EQ(many[i].v6_socket, family == AF_INET6 && one.status != Status::not_found) << i;
  }
  for (std::size_t i = 0; i < kConnections; ++i)
    EXPECT_EQ(many[i].status, i % 3 == 0 ? Status::talked : Status::silent) << i;
  EXPECT_EQ(many[kConnections].status, Status::not_found);
  EXPECT_EQ(many[kConnections + 1].status, Status::silent);
  EXPECT_EQ(many[kConnections + 2].status, Status::not_found);
  EXPECT_EQ(probe_.sockets_open(), ProbeOptions{}.sockets);  // no exchange went wrong
}

TEST_P(RealProbe, HalfCloseAloneIsSilentButClosedAfterDataIsTalked) {
  auto quiet = conn();
  ASSERT_EQ(::shutdown(quiet.client.get(), SHUT_WR), 0);
  wait_for_fin(quiet.server.get());
  auto r = probe_.probe(quiet.mta_local, quiet.client_side);
  EXPECT_EQ(r.status, Status::silent) << r.error;  // the FIN is not data
  EXPECT_TRUE(r.peer_closed);
  EXPECT_EQ(r.bytes_received, 0u);
  EXPECT_EQ(r.rqueue, 0u);

  auto slammer = conn();
  send_all(slammer.client.get(), "EHLO x\r\n");
  ASSERT_EQ(::shutdown(slammer.client.get(), SHUT_WR), 0);
  wait_for_fin(slammer.server.get());
  wait_for_unread(slammer.server.get(), 8);
  r = probe_.probe(slammer.mta_local, slammer.client_side);
  EXPECT_EQ(r.status, Status::talked);
  EXPECT_TRUE(r.peer_closed);
  EXPECT_EQ(r.bytes_received, 8u);
  EXPECT_EQ(r.rqueue, 8u);
}

INSTANTIATE_TEST_SUITE_P(Loopback, RealProbe,
                         ::testing::Values(LoopbackCase{"v4", AF_INET, "127.0.0.1"},
                                           LoopbackCase{"v6", AF_INET6, "::1"}),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(RealProbeDualStack, Ipv4ClientOnAnIpv6Listener) {
  PregreetProbe probe;
  auto c = connect_pair(AF_INET6, "::", AF_INET, "127.0.0.1");
  // The accepted socket is AF_INET6 and holds ::ffff:127.0.0.1; the MTA
  // may report either form, both parse to the IPv4 address.
  EXPECT_EQ(c.mta_local.to_string(), "127.0.0.1:" + std::to_string(c.mta_local.port));
  const Endpoint mapped_client = ep("::ffff:127.0.0.1", std::to_string(c.client_side.port));
  auto r = probe.probe(c.mta_local, mapped_client);
  ASSERT_EQ(r.status, Status::silent) << r.error;
  send_all(c.client.get(), "EHLO x\r\n");
  wait_for_unread(c.server.get(), 8);
  for (const char* any : {"0.0.0.0", "::", "127.0.0.1"}) {
    r = probe.probe(ep(any, std::to_string(c.mta_local.port)), c.client_side);
    EXPECT_EQ(r.status, Status::talked) << any << ": " << r.error;
    EXPECT_EQ(r.bytes_received, 8u) << any;
    EXPECT_EQ(r.local, c.mta_local) << any;
  }
}

// Batched lookups find an IPv4 client on a dual-stack listener too (the
// second pass asks for ::ffff:a.b.c.d), and a port scan of the IPv6 family
// alone finds it, of the IPv4 family alone does not.
TEST(RealProbeDualStack, ManyAtOnceAndScansByFamily) {
  PregreetProbe probe;
  auto c = connect_pair(AF_INET6, "::", AF_INET, "127.0.0.1");
  const std::vector<ProbeQuery> queries{{c.mta_local, c.client_side}};
  std::vector<ProbeResult> out(1);
  probe.probe_many(queries, out);
  ASSERT_EQ(out[0].status, Status::silent) << out[0].error;
  EXPECT_TRUE(out[0].v6_socket);
  const auto in = [&](const PortScan& scan) {
    return std::count_if(scan.connections.begin(), scan.connections.end(),
                         [&](const auto& x) { return x.client == c.client_side; });
  };
  const PortScan v6 = probe.scan(c.mta_local.port, ScanFamilies{false, true});
  ASSERT_TRUE(v6.ok) << v6.error;
  EXPECT_EQ(in(v6), 1);
  const PortScan v4 = probe.scan(c.mta_local.port, ScanFamilies{true, false});
  ASSERT_TRUE(v4.ok) << v4.error;
  EXPECT_EQ(in(v4), 0);
}

TEST(RealProbeDualStack, ClientFamilyDiffersFromLocalFamily) {
  PregreetProbe probe;
  const auto r = probe.probe(ep("::1", "25"), ep("127.0.0.1", "4711"));
  EXPECT_EQ(r.status, Status::not_found);
}

// True when this process holds no effective capability (CapEff all zero).
bool no_capabilities() {
  Fd status{::open("/proc/self/status", O_RDONLY | O_CLOEXEC)};
  char buf[4096] = {};
  const ssize_t n = ::read(status.get(), buf, sizeof buf - 1);
  if (n <= 0) return false;
  const char* cap = std::strstr(buf, "CapEff:\t");
  return cap != nullptr && std::strncmp(cap + 8, "0000000000000000", 16) == 0;
}

// The daemon drops privileges after binding: an unprivileged process must
// still see the root-owned socket's tcp_info.
TEST(RealProbePrivilege, UnprivilegedProcessSeesRootOwnedSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create the root-owned socket and drop";
  auto c = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  send_all(c.client.get(), "EHLO x\r\n");
  wait_for_unread(c.server.get(), 8);
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    std::uint64_t report[2] = {~0ull, 0};
    if (::setgroups(0, nullptr) == 0 && ::setresgid(65534, 65534, 65534) == 0 &&
        ::setresuid(65534, 65534, 65534) == 0 && ::geteuid() == 65534 && no_capabilities()) {
      PregreetProbe probe;  // a fresh netlink socket, opened unprivileged
      const auto r = probe.probe(c.mta_local, c.client_side);
      report[0] = static_cast<std::uint64_t>(r.status);
      report[1] = r.bytes_received;
    }
    const ssize_t ignored = ::write(pipefd[1], report, sizeof report);
    (void)ignored;
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::uint64_t report[2] = {};
  const ssize_t n = ::read(pipefd[0], report, sizeof report);
  ::close(pipefd[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof report));
  ASSERT_NE(report[0], ~0ull) << "could not drop to uid 65534 without capabilities";
  EXPECT_EQ(report[0], static_cast<std::uint64_t>(Status::talked));
  EXPECT_EQ(report[1], 8u);
}

TEST(RealProbeThreads, ConcurrentProbesGetTheirOwnAnswers) {
  PregreetProbe probe{ProbeOptions{100ms, 2}};  // pool smaller than the thread count
  auto quiet = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  auto loud = connect_pair(AF_INET6, "::1", AF_INET6, "::1");
  send_all(loud.client.get(), "EHLO x\r\n");
  wait_for_unread(loud.server.get(), 8);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const bool ask_loud = (i + t) % 2 == 0;
        const auto& c = ask_loud ? loud : quiet;
        const auto r = probe.probe(c.mta_local, c.client_side);
        const bool ok = ask_loud ? (r.status == Status::talked && r.bytes_received == 8)
                                 : (r.status == Status::silent && r.bytes_received == 0);
        if (!ok) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(RealProbeResources, SequentialProbesReuseOneSocket) {
  auto c = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  PregreetProbe probe;
  ASSERT_EQ(probe.probe(c.mta_local, c.client_side).status, Status::silent);
  const int probe_fd_floor = ::dup(0);  // the lowest free descriptor now
  ::close(probe_fd_floor);
  for (int i = 0; i < 500; ++i)
    ASSERT_NE(probe.probe(c.mta_local, c.client_side).status, Status::error);
  const int after = ::dup(0);
  ::close(after);
  EXPECT_EQ(after, probe_fd_floor);  // no descriptor leaked
}

// The lowest descriptor number free now.
int lowest_free_fd() {
  const int fd = ::dup(0);
  ::close(fd);
  return fd;
}

TEST(RealProbeResources, SocketsAreOpenedAtConstructionAndKept) {
  auto c = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  const int before = lowest_free_fd();
  PregreetProbe probe{ProbeOptions{100ms, 3}};
  EXPECT_EQ(probe.sockets_open(), 3u);
  const int floor = lowest_free_fd();
  EXPECT_GE(floor, before + 3);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i)
        if (probe.probe(c.mta_local, c.client_side).status != Status::silent) ++errors;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(lowest_free_fd(), floor);  // no probe opened a socket of its own
  EXPECT_EQ(probe.sockets_open(), 3u);
}

// The process is out of descriptors (soft limit at the lowest free one): the
// sockets opened at construction still answer, and a slammer is still seen.
TEST(RealProbeResources, ProbesWorkWhenTheProcessIsOutOfDescriptors) {
  auto c = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  send_all(c.client.get(), "EHLO slammer\r\n");
  wait_for_unread(c.server.get(), 14);
  PregreetProbe probe;
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd());
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  const int probe_dup = ::dup(0);  // proves the limit bites
  const auto r = probe.probe(c.mta_local, c.client_side);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_EQ(probe_dup, -1);
  if (probe_dup >= 0) ::close(probe_dup);
  EXPECT_EQ(r.status, Status::talked) << r.error;
  EXPECT_EQ(r.bytes_received, 14u);
}

TEST(DetectionHealth, SaysUnavailableAndAvailableAgainAtMostOncePerRelog) {
  DetectionHealth h{60s};
  policy::ManualClock clock;
  EXPECT_FALSE(h.available(clock.steady()).log);  // nothing to end
  EXPECT_TRUE(h.unavailable(clock.steady()).log);
  clock.advance(1s);
  EXPECT_FALSE(h.unavailable(clock.steady()).log);
  EXPECT_FALSE(h.unavailable(clock.steady()).log);
  EXPECT_TRUE(h.is_unavailable());
  const auto back = h.available(clock.steady());  // not latched: the next session says so
  EXPECT_TRUE(back.log);
  EXPECT_EQ(back.count, 2u);
  EXPECT_FALSE(h.is_unavailable());
  EXPECT_FALSE(h.available(clock.steady()).log);
  // Flapping within a minute is not a line per session...
  EXPECT_FALSE(h.unavailable(clock.steady()).log);
  EXPECT_TRUE(h.is_unavailable());
  EXPECT_FALSE(h.available(clock.steady()).log);
  EXPECT_FALSE(h.unavailable(clock.steady()).log);
  // ...but a minute later it is said again, with what was not reported.
  clock.advance(60s);
  const auto again = h.unavailable(clock.steady());
  EXPECT_TRUE(again.log);
  EXPECT_EQ(again.count, 3u);
}

TEST(DetectionHealth, ProbeErrorsAreRateLimited) {
  DetectionHealth h{60s};
  policy::ManualClock clock;
  EXPECT_FALSE(h.probe_errors(clock.steady(), 0).log);
  EXPECT_TRUE(h.probe_errors(clock.steady(), 2).log);
  EXPECT_FALSE(h.probe_errors(clock.steady(), 5).log);
  clock.advance(60s);
  const auto n = h.probe_errors(clock.steady(), 1);
  EXPECT_TRUE(n.log);
  EXPECT_EQ(n.count, 6u);
}

// ---------------------------------------------------------------------------
// The watch, with a fake probe and a manual clock

// Moves the manual clock instead of sleeping; can simulate a shutdown.
class FakeWaiter final : public Waiter {
 public:
  explicit FakeWaiter(policy::ManualClock& clock) : clock_(clock) {}
  policy::SteadyTime now() const override { return clock_.steady(); }
  bool wait_until(policy::SteadyTime deadline) override {
    ++waits;
    if (deadline < clock_.steady()) ++waits_into_the_past;
    if (cancel_at && deadline >= *cancel_at) {
      advance_to(*cancel_at);
      return false;
    }
    advance_to(deadline);
    return true;
  }
  std::optional<policy::SteadyTime> cancel_at;
  int waits = 0;
  int waits_into_the_past = 0;

 private:
  void advance_to(policy::SteadyTime t) {
    if (t > clock_.steady())
      clock_.advance(std::chrono::duration_cast<std::chrono::milliseconds>(t - clock_.steady()));
  }
  policy::ManualClock& clock_;
};

// Answers by elapsed time; remembers what it was asked.
class FakeProbe final : public Probe {
 public:
  using Script = std::function<ProbeResult(std::chrono::milliseconds elapsed)>;
  FakeProbe(policy::ManualClock& clock, Script script)
      : clock_(clock), start_(clock.steady()), script_(std::move(script)) {}
  ProbeResult probe(const Endpoint& local, const Endpoint&) const override {
    asked.push_back(local);
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady() - start_);
    auto r = script_(elapsed);
    if (cost.count() > 0) clock_.advance(cost);
    return r;
  }
  mutable std::vector<Endpoint> asked;
  std::chrono::milliseconds cost{0};  // how long one probe takes

 private:
  policy::ManualClock& clock_;
  policy::SteadyTime start_;
  Script script_;
};

ProbeResult answer(Status s, std::uint64_t bytes = 0) {
  ProbeResult r;
  r.status = s;
  r.bytes_received = bytes;
  r.local = ep("192.0.2.1", "25");
  return r;
}

FakeProbe::Script talks_at(std::chrono::milliseconds t) {
  return [t](std::chrono::milliseconds now) {
    return now >= t ? answer(Status::talked, 8) : answer(Status::silent);
  };
}

const Endpoint kMta = ep("192.0.2.1", "25");
const Endpoint kClient = ep("198.51.100.7", "40000");

struct WatchCase {
  const char* name;
  FakeProbe::Script script;
  std::chrono::milliseconds pause;
  std::chrono::milliseconds interval;
  Outcome outcome;
  std::chrono::milliseconds waited;
  unsigned probes;
};

class Watch : public ::testing::TestWithParam<WatchCase> {};

TEST_P(Watch, Outcome) {
  const auto& c = GetParam();
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  FakeProbe probe{clock, c.script};
  PregreetWatch watch{probe, waiter, c.interval};
  const auto w = watch.watch(kMta, kClient, c.pause);
  EXPECT_EQ(to_string(w.outcome), to_string(c.outcome));
  EXPECT_EQ(w.waited, c.waited);
  EXPECT_EQ(w.probes, c.probes);
  EXPECT_EQ(probe.asked.size(), c.probes);
  EXPECT_EQ(waiter.waits_into_the_past, 0);
}

ProbeResult only(Status s) {
  return answer(s);
}

INSTANTIATE_TEST_SUITE_P(
    FakeClock, Watch,
    ::testing::Values(
        WatchCase{"talks_at_300", talks_at(300ms), 2000ms, 100ms, Outcome::talked, 300ms, 4},
        WatchCase{"talks_between_probes", talks_at(250ms), 2000ms, 100ms, Outcome::talked, 300ms,
                  4},
        WatchCase{"talks_at_the_deadline", talks_at(2000ms), 2000ms, 100ms, Outcome::talked, 2000ms,
                  21},
        WatchCase{"talks_before_connect_reply", talks_at(0ms), 2000ms, 100ms, Outcome::talked, 0ms,
                  1},
        WatchCase{"never_talks", talks_at(1h), 2000ms, 100ms, Outcome::silent, 2000ms, 21},
        WatchCase{"pause_not_a_multiple", talks_at(1h), 250ms, 100ms, Outcome::silent, 250ms, 4},
        WatchCase{"slow_interval", talks_at(1h), 1000ms, 400ms, Outcome::silent, 1000ms, 4},
        WatchCase{"pause_off", talks_at(0ms), 0ms, 100ms, Outcome::silent, 0ms, 0},
        WatchCase{"not_found_is_a_plain_delay", [](auto) { return only(Status::not_found); },
                  2000ms, 100ms, Outcome::degraded, 2000ms, 1},
        WatchCase{"errors_throughout_are_retried_then_degraded",
                  [](auto) { return only(Status::error); }, 2000ms, 100ms, Outcome::degraded,
                  2000ms, 21},
        WatchCase{"error_first_is_retried_and_the_talker_caught",
                  [](std::chrono::milliseconds elapsed) {
                    return elapsed < 200ms ? only(Status::error) : talks_at(300ms)(elapsed);
                  },
                  2000ms, 100ms, Outcome::talked, 300ms, 4},
        WatchCase{"socket_gone_after_found",
                  [](std::chrono::milliseconds elapsed) {
                    return only(elapsed >= 500ms ? Status::not_found : Status::silent);
                  },
                  2000ms, 100ms, Outcome::vanished, 500ms, 6},
        WatchCase{"transient_error_after_found",
                  [](std::chrono::milliseconds elapsed) {
                    return only(elapsed == 500ms ? Status::error : Status::silent);
                  },
                  2000ms, 100ms, Outcome::silent, 2000ms, 21}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(WatchWildcard, LaterProbesAskForTheFoundLocalAddress) {
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  FakeProbe probe{clock, talks_at(1h)};
  PregreetWatch watch{probe, waiter, 100ms};
  const Endpoint any = ep("0.0.0.0", "25");
  const auto w = watch.watch(any, kClient, 300ms);
  EXPECT_EQ(w.outcome, Outcome::silent);
  ASSERT_EQ(probe.asked.size(), 4u);
  EXPECT_EQ(probe.asked[0], any);
  for (std::size_t i = 1; i < probe.asked.size(); ++i) EXPECT_EQ(probe.asked[i], kMta);
}

TEST(WatchSlowProbe, NeverWaitsIntoThePastNorSpins) {
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  FakeProbe probe{clock, talks_at(1h)};
  probe.cost = 250ms;  // each probe takes longer than the interval
  PregreetWatch watch{probe, waiter, 100ms};
  const auto w = watch.watch(kMta, kClient, 1000ms);
  EXPECT_EQ(w.outcome, Outcome::silent);
  // probes at 0, 300, 600, 900 (each ends 250 ms later), then 1000 is reached after the 4th
  EXPECT_EQ(w.probes, 4u);
  EXPECT_EQ(waiter.waits_into_the_past, 0);
}

TEST(WatchCancel, ShutdownInterruptsAProbingWait) {
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  waiter.cancel_at = clock.steady() + 700ms;
  FakeProbe probe{clock, talks_at(1h)};
  PregreetWatch watch{probe, waiter, 100ms};
  const auto w = watch.watch(kMta, kClient, 2000ms);
  EXPECT_EQ(w.outcome, Outcome::cancelled);
  EXPECT_EQ(w.waited, 700ms);
  EXPECT_EQ(w.probes, 7u);
}

TEST(WatchCancel, ShutdownInterruptsAPlainDelay) {
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  waiter.cancel_at = clock.steady() + 700ms;
  FakeProbe probe{clock, [](auto) { return only(Status::not_found); }};
  PregreetWatch watch{probe, waiter, 100ms};
  const auto w = watch.watch(kMta, kClient, 2000ms);
  EXPECT_EQ(w.outcome, Outcome::cancelled);
  EXPECT_EQ(w.waited, 700ms);
}

TEST(WatchConfig, IntervalMustBePositive) {
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  FakeProbe probe{clock, talks_at(1h)};
  EXPECT_THROW(PregreetWatch(probe, waiter, 0ms), std::invalid_argument);
  EXPECT_THROW(PregreetWatch(probe, waiter, -5ms), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// SystemWaiter and the whole chain on real sockets

TEST(SystemWaiter, PastDeadlineReturnsAtOnce) {
  SystemWaiter w;
  EXPECT_TRUE(w.wait_until(w.now() - 1s));
}

TEST(SystemWaiter, CancelWakesAWaiterInAnotherThread) {
  SystemWaiter w;
  std::atomic<bool> result{true};
  std::thread t([&] { result = w.wait_until(w.now() + 1h); });
  w.cancel();
  t.join();  // would hang for an hour if cancel did not wake it
  EXPECT_FALSE(result.load());
  EXPECT_TRUE(w.cancelled());
  EXPECT_FALSE(w.wait_until(w.now() + 1h));  // and every later wait
}

TEST(WatchReal, SlammerIsCaughtWithoutWaiting) {
  auto c = connect_pair(AF_INET, "127.0.0.1", AF_INET, "127.0.0.1");
  send_all(c.client.get(), "EHLO slammer\r\n");
  wait_for_unread(c.server.get(), 14);
  PregreetProbe probe;
  SystemWaiter waiter;
  PregreetWatch watch{probe, waiter};
  const auto w = watch.watch(c.mta_local, c.client_side, 1h);  // returns at the first probe
  EXPECT_EQ(w.outcome, Outcome::talked);
  EXPECT_EQ(w.probes, 1u);
  EXPECT_EQ(w.last.bytes_received, 14u);
}

TEST(WatchReal, InvisibleSocketDegradesToPlainDelay) {
  PregreetProbe probe;
  policy::ManualClock clock;
  FakeWaiter waiter{clock};
  PregreetWatch watch{probe, waiter};
  const auto w = watch.watch(ep("127.0.0.1", "9"), ep("127.0.0.1", "9"), 1500ms);
  EXPECT_EQ(w.outcome, Outcome::degraded);
  EXPECT_EQ(w.waited, 1500ms);
  EXPECT_EQ(w.last.status, Status::not_found);
  EXPECT_FALSE(w.last.error.empty());
}

}  // namespace
}  // namespace harden::milter
