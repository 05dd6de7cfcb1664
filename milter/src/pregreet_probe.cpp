// pregreet_probe.cpp - the pre-greeting probe: the NETLINK_SOCK_DIAG codec
// (request, filter bytecode, reply parsing), the pool of netlink sockets,
// PregreetProbe::probe (one connection) and ::scan (one port). The watch
// around it (Endpoint text, SystemWaiter, PregreetWatch, DetectionHealth) is
// in pregreet_watch.cpp.
//
// Netlink messages are built and parsed byte by byte with memcpy, never by
// casting the buffer, so alignment and aliasing are not a question and the
// kernel's C macros (NLMSG_*, RTA_*) are not needed.
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "harden/milter/pregreet.hpp"

namespace harden::milter {
namespace {

using Clock = std::chrono::steady_clock;
using policy::IpAddress;

// TCP states as the kernel numbers them (include/net/tcp_states.h).
enum TcpState : unsigned {
  kEstablished = 1,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kCloseWait = 8,
  kLastAck = 9,
  kClosing = 11,
};
// A state number from the kernel may be anything: never shift by 32 or more.
constexpr std::uint32_t state_bit(unsigned s) {
  return s < 32 ? 1u << s : 0u;
}
// States in which an accepted socket is this connection.
constexpr std::uint32_t kConnectionStates =
    state_bit(kEstablished) | state_bit(kSynRecv) | state_bit(kFinWait1) | state_bit(kFinWait2) |
    state_bit(kCloseWait) | state_bit(kClosing) | state_bit(kLastAck);
// States reached only after the client's FIN (which the kernel counts as one byte).
constexpr std::uint32_t kFinReceivedStates =
    state_bit(kCloseWait) | state_bit(kClosing) | state_bit(kLastAck);

constexpr std::size_t kRecvBufferSize = 32 * 1024;
constexpr unsigned kMaxDatagrams = 64;  // per exchange; a filtered dump needs 1-2
constexpr std::size_t kMaxMatches = 8;

constexpr std::size_t align4(std::size_t n) {
  return (n + 3) & ~std::size_t{3};
}

template <typename T>
T read_at(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename T>
void write_at(std::byte* p, const T& v) {
  std::memcpy(p, &v, sizeof v);
}

// One sock_diag request: which family to ask, exact or dump, the 4-tuple in
// the kernel's terms (src = the MTA's side, dst = the client).
struct Query {
  std::uint8_t family = AF_INET;
  bool dump = false;
  std::array<std::uint8_t, 16> src{};
  std::array<std::uint8_t, 16> dst{};
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  bool tcp_info = true;  // ask for INET_DIAG_INFO (bytes_received)
};

// What one reply message says about one socket.
struct DiagReply {
  std::uint8_t family = 0;
  std::uint8_t state = 0;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::array<std::uint8_t, 16> src{};
  std::array<std::uint8_t, 16> dst{};
  std::uint32_t rqueue = 0;
  bool have_bytes = false;
  std::uint64_t bytes_received = 0;
};

// Address bytes as inet_diag holds them: IPv4 in the first 4 bytes for
// AF_INET, 16 bytes (IPv4 as ::ffff:a.b.c.d) for AF_INET6.
std::array<std::uint8_t, 16> raw_address(const IpAddress& a, std::uint8_t family) {
  std::array<std::uint8_t, 16> raw{};
  if (!a.is_v4()) return a.bytes();
  if (family == AF_INET) {
    std::copy_n(a.bytes().begin(), 4, raw.begin());
  } else {
    raw[10] = 0xff;
    raw[11] = 0xff;
    std::copy_n(a.bytes().begin(), 4, raw.begin() + 12);
  }
  return raw;
}

IpAddress address_of(std::uint8_t family, const std::array<std::uint8_t, 16>& raw) {
  if (family == AF_INET6) return IpAddress::v6(raw);  // folds ::ffff:a.b.c.d to IPv4
  const std::uint32_t host = (std::uint32_t{raw[0]} << 24) | (std::uint32_t{raw[1]} << 16) |
                             (std::uint32_t{raw[2]} << 8) | std::uint32_t{raw[3]};
  return IpAddress::v4(host);
}

bool is_link_local_v6(const IpAddress& a) {
  return !a.is_v4() && a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0x80;
}

// Bytecode for a dump: accept only sockets whose remote side is `client`
// (address and port). The kernel matches an IPv4 condition against
// ::ffff:a.b.c.d sockets too.
std::size_t put_client_filter(std::byte* out, const Endpoint& client) {
  const bool v4 = client.address.is_v4();
  const std::size_t addr_len = v4 ? 4 : 16;
  const std::size_t len = sizeof(inet_diag_bc_op) + 8 + addr_len;
  inet_diag_bc_op op{};
  op.code = INET_DIAG_BC_D_COND;
  op.yes = static_cast<unsigned char>(len);
  op.no = static_cast<unsigned short>(len + 4);  // past the end: reject
  write_at(out, op);
  std::byte* cond = out + sizeof op;
  cond[0] = static_cast<std::byte>(v4 ? AF_INET : AF_INET6);
  cond[1] = static_cast<std::byte>(v4 ? 32 : 128);
  write_at(cond + 4, static_cast<int>(client.port));
  std::memcpy(cond + 8, client.address.bytes().data(), addr_len);
  return len;
}

// Writes the whole request into `out`; returns its length. A dump carries the
// client filter when `client` is given (a port scan has none).
std::size_t build_request(std::array<std::byte, 160>& out, const Query& q, const Endpoint* client,
                          std::uint32_t seq) {
  out.fill(std::byte{0});
  inet_diag_req_v2 req{};
  req.sdiag_family = q.family;
  req.sdiag_protocol = IPPROTO_TCP;
  req.idiag_ext = q.tcp_info ? 1u << (INET_DIAG_INFO - 1) : 0u;
  req.idiag_states = kConnectionStates;
  req.id.idiag_sport = htons(q.sport);
  req.id.idiag_dport = htons(q.dport);
  std::memcpy(req.id.idiag_src, q.src.data(), 16);
  std::memcpy(req.id.idiag_dst, q.dst.data(), 16);
  req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  std::size_t len = sizeof(nlmsghdr);
  write_at(out.data() + len, req);
  len += align4(sizeof req);
  if (q.dump && client) {
    const std::size_t bc_len = put_client_filter(out.data() + len + sizeof(nlattr), *client);
    nlattr attr{};
    attr.nla_len = static_cast<std::uint16_t>(sizeof attr + bc_len);
    attr.nla_type = INET_DIAG_REQ_BYTECODE;
    write_at(out.data() + len, attr);
    len += align4(sizeof attr + bc_len);
  }
  nlmsghdr hdr{};
  hdr.nlmsg_len = static_cast<std::uint32_t>(len);
  hdr.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  hdr.nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | (q.dump ? NLM_F_DUMP : 0));
  hdr.nlmsg_seq = seq;
  write_at(out.data(), hdr);
  return len;
}

// Reads tcpi_bytes_received from an INET_DIAG_INFO payload if it is long
// enough (kernels before 4.1 send a shorter tcp_info).
void read_tcp_info(const std::byte* data, std::size_t len, DiagReply& r) {
  constexpr std::size_t at = offsetof(tcp_info, tcpi_bytes_received);
  if (len < at + sizeof(std::uint64_t)) return;
  r.bytes_received = read_at<std::uint64_t>(data + at);
  r.have_bytes = true;
}

// Parses one SOCK_DIAG_BY_FAMILY message (payload after the nlmsghdr).
std::optional<DiagReply> parse_diag(const std::byte* p, std::size_t len) {
  if (len < sizeof(inet_diag_msg)) return std::nullopt;
  const auto msg = read_at<inet_diag_msg>(p);
  DiagReply r;
  r.family = msg.idiag_family;
  r.state = msg.idiag_state;
  r.sport = ntohs(msg.id.idiag_sport);
  r.dport = ntohs(msg.id.idiag_dport);
  std::memcpy(r.src.data(), msg.id.idiag_src, 16);
  std::memcpy(r.dst.data(), msg.id.idiag_dst, 16);
  r.rqueue = msg.idiag_rqueue;
  for (std::size_t off = align4(sizeof msg); off + sizeof(nlattr) <= len;) {
    const auto attr = read_at<nlattr>(p + off);
    if (attr.nla_len < sizeof attr || attr.nla_len > len - off) break;
    if ((attr.nla_type & NLA_TYPE_MASK) == INET_DIAG_INFO)
      read_tcp_info(p + off + sizeof attr, attr.nla_len - sizeof attr, r);
    off += align4(attr.nla_len);
  }
  return r;
}

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

// One NETLINK_SOCK_DIAG socket with its receive buffer.
class NetlinkSocket {
 public:
  explicit NetlinkSocket(int fd) : fd_(fd), buffer_(kRecvBufferSize) {}
  ~NetlinkSocket() { ::close(fd_); }
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  int fd() const { return fd_; }
  std::vector<std::byte>& buffer() { return buffer_; }

 private:
  int fd_;
  std::vector<std::byte> buffer_;
};

}  // namespace

// The probe's netlink sockets: opened at construction and kept. A probe
// borrows one (waiting while all are in use); a socket whose exchange did not
// end cleanly is closed and replaced at once (close first, so the replacement
// reuses its descriptor even when the process is out of them); a slot whose
// socket could not be opened is opened again by the next probe that finds
// no idle socket.
class PregreetProbe::Pool {
 public:
  explicit Pool(std::size_t count) : count_(std::max<std::size_t>(count, 1)) {
    for (std::size_t i = 0; i < count_; ++i) {
      std::string error;
      if (auto s = open_socket(error)) {
        idle_.push_back(std::move(s));
      } else {
        ++missing_;
      }
    }
  }

  // A socket, or nullptr with `error` set (none could be opened, or all
  // stayed busy until `deadline`).
  std::unique_ptr<NetlinkSocket> acquire(Clock::time_point deadline, std::string& error) {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (!idle_.empty()) {
        auto s = std::move(idle_.back());
        idle_.pop_back();
        return s;
      }
      if (missing_ > 0) {
        --missing_;
        lock.unlock();
        auto s = open_socket(error);
        if (s) return s;
        lock.lock();
        ++missing_;
        return nullptr;
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          missing_ == 0) {
        error = "all " + std::to_string(count_) + " netlink sock_diag sockets busy";
        return nullptr;
      }
    }
  }

  // `clean`: the last exchange ended as the protocol says; otherwise the
  // socket may hold a stale answer and is replaced.
  void release(std::unique_ptr<NetlinkSocket> s, bool clean) {
    if (!clean) {
      s.reset();
      std::string error;
      s = open_socket(error);
    }
    {
      std::lock_guard lock(mutex_);
      if (s) {
        idle_.push_back(std::move(s));
      } else {
        ++missing_;
      }
    }
    cv_.notify_one();
  }

  std::size_t open_now() const {
    std::lock_guard lock(mutex_);
    return count_ - missing_;
  }

  std::uint32_t next_seq() { return seq_.fetch_add(1, std::memory_order_relaxed) + 1; }
  // The first of `n` consecutive sequence numbers.
  std::uint32_t next_seqs(std::uint32_t n) {
    return seq_.fetch_add(n, std::memory_order_relaxed) + 1;
  }

 private:
  static std::unique_ptr<NetlinkSocket> open_socket(std::string& error) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
    if (fd < 0) {
      error = "netlink sock_diag socket: " + errno_text(errno);
      return nullptr;
    }
    return std::make_unique<NetlinkSocket>(fd);
  }

  const std::size_t count_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<NetlinkSocket>> idle_;
  std::size_t missing_ = 0;  // slots without a socket (open failed)
  std::atomic<std::uint32_t> seq_{0};
};

namespace {

// The outcome of one request/response exchange.
struct Exchange {
  std::vector<DiagReply> replies;
  int kernel_errno = 0;  // the kernel answered with this error (ENOENT: no such socket)
  std::string failure;   // the exchange itself failed; the socket must not be reused
};

bool send_request(int fd, const std::byte* req, std::size_t len, Exchange& ex) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    const ssize_t n = ::sendto(fd, req, len, MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
    if (n == static_cast<ssize_t>(len)) return true;
    if (n < 0 && errno == EINTR) continue;
    ex.failure = "netlink send: " + (n < 0 ? errno_text(errno) : std::string("short write"));
    return false;
  }
}

// Receives one datagram from the kernel before `deadline`. Returns its length,
// or 0 with ex.failure set.
std::size_t receive(NetlinkSocket& s, Clock::time_point deadline, Exchange& ex) {
  auto& buf = s.buffer();
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(s.fd(), buf.data(), buf.size(), MSG_TRUNC,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n > 0) {
      if (from.nl_pid != 0) {  // not the kernel: forged, drop it
        if (Clock::now() < deadline) continue;
        ex.failure = "netlink reply timed out";
        return 0;
      }
      if (static_cast<std::size_t>(n) > buf.size()) {
        ex.failure = "netlink reply truncated";
        return 0;
      }
      return static_cast<std::size_t>(n);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      ex.failure =
          "netlink receive: " + (n == 0 ? std::string("empty datagram") : errno_text(errno));
      return 0;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      ex.failure = "netlink reply timed out";
      return 0;
    }
    pollfd pfd{s.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      ex.failure = "netlink poll: " + errno_text(errno);
      return 0;
    }
  }
}

enum class Step { more, done, failed };

// One message of a datagram from the kernel.
struct Message {
  nlmsghdr hdr{};
  const std::byte* payload = nullptr;
  std::size_t payload_len = 0;
  // NLMSG_ERROR / NLMSG_DONE: the errno the kernel answered with (0: none).
  int kernel_errno() const {
    const int code = payload_len >= sizeof(int) ? read_at<int>(payload) : 0;
    return code < 0 ? -code : 0;
  }
};

// The message at `off` of the datagram [p, p + len), `off` moved past it;
// nullopt at the end, or (with `malformed` set) where a header lies about
// its length.
std::optional<Message> next_message(const std::byte* p, std::size_t len, std::size_t& off,
                                    bool& malformed) {
  if (off + sizeof(nlmsghdr) > len) return std::nullopt;
  Message m;
  m.hdr = read_at<nlmsghdr>(p + off);
  if (m.hdr.nlmsg_len < sizeof m.hdr || m.hdr.nlmsg_len > len - off) {
    malformed = true;
    return std::nullopt;
  }
  m.payload = p + off + sizeof m.hdr;
  m.payload_len = m.hdr.nlmsg_len - sizeof m.hdr;
  off += align4(m.hdr.nlmsg_len);
  return m;
}

// Handles the messages of one datagram. `done` once the exchange is over.
Step handle_datagram(const std::byte* p, std::size_t len, std::uint32_t seq, bool dump,
                     std::size_t max_matches, Exchange& ex) {
  std::size_t off = 0;
  bool malformed = false;
  while (const auto m = next_message(p, len, off, malformed)) {
    if (m->hdr.nlmsg_seq != seq) continue;  // a stale answer to someone else's request
    if (m->hdr.nlmsg_type == NLMSG_DONE || m->hdr.nlmsg_type == NLMSG_ERROR) {
      ex.kernel_errno = m->kernel_errno();
      return Step::done;
    }
    if (m->hdr.nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    if (auto r = parse_diag(m->payload, m->payload_len)) {
      if (ex.replies.size() >= max_matches) {
        ex.failure = "too many sockets match";
        return Step::failed;
      }
      ex.replies.push_back(*r);
    }
    if (!dump) return Step::done;
  }
  if (malformed) {
    ex.failure = "malformed netlink reply";
    return Step::failed;
  }
  return Step::more;
}

// One request and its whole answer. On failure the socket is dropped.
Exchange run_query(NetlinkSocket& s, const Query& q, const Endpoint* client, std::uint32_t seq,
                   std::chrono::milliseconds timeout, std::size_t max_matches = kMaxMatches,
                   unsigned max_datagrams = kMaxDatagrams) {
  Exchange ex;
  std::array<std::byte, 160> req{};
  const std::size_t len = build_request(req, q, client, seq);
  if (!send_request(s.fd(), req.data(), len, ex)) return ex;
  const auto deadline = Clock::now() + timeout;
  for (unsigned i = 0; i < max_datagrams; ++i) {
    const std::size_t n = receive(s, deadline, ex);
    if (n == 0) return ex;
    const Step step = handle_datagram(s.buffer().data(), n, seq, q.dump, max_matches, ex);
    if (step != Step::more) return ex;
  }
  ex.failure = "netlink reply too long";
  return ex;
}

// The answer to one request of a batch.
struct BatchAnswer {
  bool answered = false;
  int kernel_errno = 0;  // ENOENT: no such socket
  std::optional<DiagReply> reply;
};

// Exact lookups (no dumps) in one send, request i with sequence number
// base + i; one answer per request (its reply or its error) comes back, each
// as the kernel queued it during the send. Returns "" or why the exchange
// failed (then the socket must not be reused).
std::string run_batch(NetlinkSocket& s, std::span<const Query> queries, std::uint32_t base,
                      std::chrono::milliseconds timeout, std::vector<BatchAnswer>& answers) {
  answers.assign(queries.size(), BatchAnswer{});
  std::vector<std::byte> out;
  out.reserve(queries.size() * 96);
  std::array<std::byte, 160> one{};
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const std::size_t len =
        build_request(one, queries[i], nullptr, base + static_cast<std::uint32_t>(i));
    out.insert(out.end(), one.begin(), one.begin() + static_cast<std::ptrdiff_t>(len));
  }
  Exchange ex;
  if (!send_request(s.fd(), out.data(), out.size(), ex)) return ex.failure;
  const auto deadline = Clock::now() + timeout;
  std::size_t left = queries.size();
  while (left > 0) {
    const std::size_t n = receive(s, deadline, ex);
    if (n == 0) return ex.failure;
    std::size_t off = 0;
    bool malformed = false;
    while (const auto m = next_message(s.buffer().data(), n, off, malformed)) {
      const std::uint32_t index = m->hdr.nlmsg_seq - base;  // wraps: stale ones are out of range
      if (index >= queries.size() || answers[index].answered) continue;
      BatchAnswer& a = answers[index];
      if (m->hdr.nlmsg_type == NLMSG_ERROR)
        a.kernel_errno = m->kernel_errno();
      else if (m->hdr.nlmsg_type == SOCK_DIAG_BY_FAMILY)
        a.reply = parse_diag(m->payload, m->payload_len);
      else
        continue;
      a.answered = true;
      --left;
    }
    if (malformed) return "malformed netlink reply";
  }
  return {};
}

bool is_this_connection(const DiagReply& r, const Endpoint& local, const Endpoint& client) {
  if ((kConnectionStates & state_bit(r.state)) == 0) return false;  // e.g. the listener
  if (r.family != AF_INET && r.family != AF_INET6) return false;
  if (r.sport != local.port || r.dport != client.port) return false;
  if (address_of(r.family, r.dst) != client.address) return false;
  return local.is_wildcard() || address_of(r.family, r.src) == local.address;
}

ProbeResult result_of(const DiagReply& r) {
  ProbeResult res;
  res.peer_closed = (kFinReceivedStates & state_bit(r.state)) != 0;
  res.rqueue = r.rqueue;
  if (res.peer_closed && res.rqueue > 0) --res.rqueue;
  res.bytes_received = r.have_bytes ? r.bytes_received : res.rqueue;
  if (r.have_bytes && res.peer_closed && res.bytes_received > 0) --res.bytes_received;
  res.bytes_received = std::max<std::uint64_t>(res.bytes_received, res.rqueue);
  res.local = Endpoint{address_of(r.family, r.src), r.sport};
  res.v6_socket = r.family == AF_INET6;
  res.status = res.bytes_received > 0 ? ProbeResult::Status::talked : ProbeResult::Status::silent;
  return res;
}

// A wildcard MTA side or a link-local client cannot be looked up exactly.
bool needs_dump(const Endpoint& local, const Endpoint& client) {
  return local.is_wildcard() || is_link_local_v6(client.address);
}

// The request for `local` <- `client` in `family` (an IPv4 client in
// AF_INET6: as ::ffff:a.b.c.d, on a dual-stack socket).
Query query_for(const Endpoint& local, const Endpoint& client, std::uint8_t family, bool dump) {
  Query q;
  q.family = family;
  q.dump = dump;
  q.sport = local.port;
  q.dport = client.port;
  if (!dump) q.src = raw_address(local.address, family);
  q.dst = raw_address(client.address, family);
  return q;
}

std::vector<Query> plan_queries(const Endpoint& local, const Endpoint& client) {
  std::vector<Query> plan;
  const bool dump = needs_dump(local, client);
  if (client.address.is_v4()) plan.push_back(query_for(local, client, AF_INET, dump));
  plan.push_back(query_for(local, client, AF_INET6, dump));
  return plan;
}

ProbeResult not_found(const Endpoint& local, const Endpoint& client, std::string_view why) {
  ProbeResult res;
  res.status = ProbeResult::Status::not_found;
  res.error = "no TCP connection " + local.to_string() + " <- " + client.to_string() + " " +
              std::string(why);
  return res;
}

ProbeResult failed(std::string why) {
  ProbeResult res;
  res.status = ProbeResult::Status::error;
  res.error = std::move(why);
  return res;
}

// The answer of a look that cannot be made, if it cannot.
std::optional<ProbeResult> refused(const Endpoint& local, const Endpoint& client) {
  if (local.port == 0 || client.port == 0 || client.is_wildcard())
    return not_found(local, client, "(no port or no client address)");
  if (!local.is_wildcard() && local.address.is_v4() != client.address.is_v4())
    return not_found(local, client, "(address families differ)");
  return std::nullopt;
}

}  // namespace

PregreetProbe::PregreetProbe(ProbeOptions options)
    : options_(options), pool_(std::make_unique<Pool>(options.sockets)) {}

PregreetProbe::~PregreetProbe() = default;

ProbeResult PregreetProbe::probe(const Endpoint& mta_local, const Endpoint& client) const {
  if (auto r = refused(mta_local, client)) return std::move(*r);
  std::string open_error;
  auto sock = pool_->acquire(Clock::now() + options_.timeout, open_error);
  if (!sock) return failed(std::move(open_error));
  std::vector<DiagReply> matches;
  for (const Query& q : plan_queries(mta_local, client)) {
    Exchange ex = run_query(*sock, q, &client, pool_->next_seq(), options_.timeout);
    if (!ex.failure.empty()) {
      pool_->release(std::move(sock), false);  // replaced
      return failed(std::move(ex.failure));
    }
    if (ex.kernel_errno != 0 && ex.kernel_errno != ENOENT) {
      pool_->release(std::move(sock), true);
      return failed("sock_diag: " + errno_text(ex.kernel_errno));
    }
    for (const DiagReply& r : ex.replies)
      if (is_this_connection(r, mta_local, client)) matches.push_back(r);
    if (!q.dump && !matches.empty()) break;  // the exact lookup found it
  }
  pool_->release(std::move(sock), true);
  if (matches.size() > 1) return not_found(mta_local, client, "(several sockets match)");
  if (matches.empty()) return not_found(mta_local, client, "(other host or network namespace?)");
  return result_of(matches.front());
}

void PregreetProbe::probe_many(std::span<const ProbeQuery> queries,
                               std::span<ProbeResult> out) const {
  const std::size_t n = std::min(queries.size(), out.size());
  std::vector<std::size_t> exact;  // indexes answered by exact lookups in batches
  exact.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Endpoint& local = queries[i].mta_local;
    const Endpoint& client = queries[i].client;
    if (!refused(local, client) && !needs_dump(local, client))
      exact.push_back(i);
    else
      out[i] = probe(local, client);  // the refusals, or a dump
  }
  std::vector<std::size_t> todo;
  std::vector<std::size_t> next;
  std::vector<Query> batch;
  std::vector<BatchAnswer> answers;
  for (std::size_t from = 0; from < exact.size(); from += kBatch) {
    todo.assign(exact.begin() + static_cast<std::ptrdiff_t>(from),
                exact.begin() + static_cast<std::ptrdiff_t>(std::min(from + kBatch, exact.size())));
    std::string error;
    auto sock = pool_->acquire(Clock::now() + options_.timeout, error);
    if (!sock) {
      for (const std::size_t i : todo) out[i] = failed(error);
      continue;
    }
    // As probe(): an IPv4 client in its own family first, then as
    // ::ffff:a.b.c.d on a dual-stack socket.
    for (int pass = 0; pass < 2 && !todo.empty(); ++pass) {
      batch.clear();
      for (const std::size_t i : todo) {
        const Endpoint& client = queries[i].client;
        const std::uint8_t family =
            pass == 0 && client.address.is_v4() ? std::uint8_t{AF_INET} : std::uint8_t{AF_INET6};
        batch.push_back(query_for(queries[i].mta_local, client, family, false));
      }
      const std::string failure =
          run_batch(*sock, batch, pool_->next_seqs(static_cast<std::uint32_t>(batch.size())),
                    options_.timeout, answers);
      if (!failure.empty()) {
        pool_->release(std::move(sock), false);  // replaced
        for (const std::size_t i : todo) out[i] = failed(failure);
        todo.clear();
        break;
      }
      next.clear();
      for (std::size_t k = 0; k < todo.size(); ++k) {
        const std::size_t i = todo[k];
        const Endpoint& local = queries[i].mta_local;
        const Endpoint& client = queries[i].client;
        const BatchAnswer& a = answers[k];
        if (a.kernel_errno != 0 && a.kernel_errno != ENOENT)
          out[i] = failed("sock_diag: " + errno_text(a.kernel_errno));
        else if (a.reply && is_this_connection(*a.reply, local, client))
          out[i] = result_of(*a.reply);
        else if (pass == 0 && client.address.is_v4())
          next.push_back(i);
        else
          out[i] = not_found(local, client, "(other host or network namespace?)");
      }
      todo.swap(next);
    }
    if (sock) pool_->release(std::move(sock), true);
  }
}

PortScan PregreetProbe::scan(std::uint16_t local_port, ScanFamilies families) const {
  PortScan out;
  if (local_port == 0) {
    out.error = "no port";
    return out;
  }
  std::string open_error;
  auto sock = pool_->acquire(Clock::now() + options_.timeout, open_error);
  if (!sock) {
    out.error = std::move(open_error);
    return out;
  }
  // Each datagram holds ~350 sockets without tcp_info; a dump of kMaxScan
  // needs ~600 (the bound allows for the larger replies of other kernels).
  constexpr unsigned kScanDatagrams = kMaxScan / 50;
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    if (!(family == AF_INET ? families.v4 : families.v6)) continue;
    Query q;
    q.family = family;
    q.dump = true;
    q.tcp_info = false;
    q.sport = local_port;
    Exchange ex = run_query(*sock, q, nullptr, pool_->next_seq(), options_.timeout * 10,
                            kMaxScan - out.connections.size(), kScanDatagrams);
    if (!ex.failure.empty()) {
      pool_->release(std::move(sock), false);
      out.error = std::move(ex.failure);
      out.connections.clear();
      return out;
    }
    if (ex.kernel_errno != 0 && ex.kernel_errno != ENOENT) {
      pool_->release(std::move(sock), true);
      out.error = "sock_diag: " + errno_text(ex.kernel_errno);
      out.connections.clear();
      return out;
    }
    for (const DiagReply& r : ex.replies) {
      if ((kConnectionStates & state_bit(r.state)) == 0 || r.sport != local_port) continue;
      if (r.family != AF_INET && r.family != AF_INET6) continue;
      out.connections.push_back(
          PortScan::Connection{Endpoint{address_of(r.family, r.dst), r.dport}, result_of(r)});
    }
  }
  pool_->release(std::move(sock), true);
  out.ok = true;
  return out;
}

std::size_t PregreetProbe::sockets_open() const {
  return pool_->open_now();
}

}  // namespace harden::milter
