// milter_client.cpp - the MTA side of milter protocol 6 over a blocking
// socket with poll() deadlines.
#include "support/milter_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>

namespace harden::testing {
namespace {

constexpr std::uint32_t kMaxPacket = 1u << 20;

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

void put_u32(std::string& out, std::uint32_t v) {
  const std::uint32_t be = htonl(v);
  out.append(reinterpret_cast<const char*>(&be), 4);
}

std::uint32_t get_u32(const std::string& s, std::size_t at) {
  if (at + 4 > s.size()) throw MilterError("milter reply truncated");
  std::uint32_t be = 0;
  std::memcpy(&be, s.data() + at, 4);
  return ntohl(be);
}

// Connects a non-blocking socket within the deadline, then makes it blocking.
int connect_socket(int domain, const sockaddr* sa, socklen_t len, Clock::time_point deadline,
                   const std::string& spec) {
  const int fd = ::socket(domain, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) throw MilterError(errno_text("socket"));
  if (::connect(fd, sa, len) != 0) {
    if (errno != EINPROGRESS) {
      const std::string msg = errno_text("connect " + spec);
      ::close(fd);
      throw MilterError(msg);
    }
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    int err = 0;
    socklen_t elen = sizeof err;
    if (n <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) {
      ::close(fd);
      throw MilterError("connect " + spec + ": " + (n <= 0 ? "timed out" : std::strerror(err)));
    }
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string nul_joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    out += p;
    out.push_back('\0');
  }
  return out;
}

}  // namespace

bool Reply::refuses() const {
  switch (code) {
    case 'r':
    case 't':
    case '4':
    case 'f':
    case 'd':
      return true;
    case 'y':
      return !text.empty() && (text[0] == '4' || text[0] == '5');
    default:
      return false;
  }
}

std::string Reply::smtp_code() const {
  if (code == 'y') return text.substr(0, 3);
  if (code == 'r') return "550";
  if (code == 't') return "451";
  if (code == '4') return "421";
  return "";
}

std::string Reply::enhanced_code() const {
  if (code != 'y' || text.size() < 9 || text[3] != ' ') return "";
  const std::string rest = text.substr(4);
  const auto sp = rest.find(' ');
  const std::string word = rest.substr(0, sp);
  if (word.size() < 5 || (word[0] != '2' && word[0] != '4' && word[0] != '5') || word[1] != '.')
    return "";
  return word;
}

std::string Reply::describe() const {
  std::string d = "reply '";
  d += code ? code : '?';
  d += "'";
  if (!text.empty()) d += " \"" + text + "\"";
  if (skipped) d += " (skipped)";
  d += " after " +
       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
       " ms";
  return d;
}

std::string Negotiated::symlist(std::uint32_t stage) const {
  for (const auto& [st, list] : symlists)
    if (st == stage) return list;
  return "";
}

MilterClient MilterClient::open(const std::string& spec, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const auto colon = spec.find(':');
  const std::string proto = colon == std::string::npos ? "unix" : spec.substr(0, colon);
  const std::string rest = colon == std::string::npos ? spec : spec.substr(colon + 1);
  if (proto == "unix" || proto == "local") {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (rest.size() >= sizeof sa.sun_path) throw MilterError("socket path too long: " + rest);
    std::memcpy(sa.sun_path, rest.c_str(), rest.size() + 1);
    return MilterClient(
        connect_socket(AF_UNIX, reinterpret_cast<sockaddr*>(&sa), sizeof sa, deadline, spec),
        timeout);
  }
  const auto at = rest.find('@');
  if (at == std::string::npos) throw MilterError("bad milter socket spec: " + spec);
  const auto port = static_cast<std::uint16_t>(std::stoul(rest.substr(0, at)));
  const std::string host = rest.substr(at + 1);
  if (proto == "inet") {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
      throw MilterError("bad IPv4 host in " + spec);
    return MilterClient(
        connect_socket(AF_INET, reinterpret_cast<sockaddr*>(&sa), sizeof sa, deadline, spec),
        timeout);
  }
  if (proto == "inet6") {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr) != 1)
      throw MilterError("bad IPv6 host in " + spec);
    return MilterClient(
        connect_socket(AF_INET6, reinterpret_cast<sockaddr*>(&sa), sizeof sa, deadline, spec),
        timeout);
  }
  throw MilterError("unknown milter socket protocol in " + spec);
}

MilterClient::MilterClient(MilterClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), timeout_(o.timeout_), neg_(std::move(o.neg_)) {}

MilterClient& MilterClient::operator=(MilterClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    timeout_ = o.timeout_;
    neg_ = std::move(o.neg_);
  }
  return *this;
}

MilterClient::~MilterClient() {
  close();
}

void MilterClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void MilterClient::write_all(const std::string& bytes, Clock::time_point deadline) {
  if (fd_ < 0) throw MilterError("milter connection is closed");
  std::size_t off = 0;
  while (off < bytes.size()) {
    pollfd p{fd_, POLLOUT, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n == 0) throw MilterError("write to milter timed out");
    if (n < 0) {
      if (errno == EINTR) continue;
      throw MilterError(errno_text("poll"));
    }
    const ssize_t w = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw MilterError(errno_text("write to milter"));
    }
    off += static_cast<std::size_t>(w);
  }
}

void MilterClient::read_exact(char* buf, std::size_t n, Clock::time_point deadline) {
  if (fd_ < 0) throw MilterError("milter connection is closed");
  std::size_t off = 0;
  while (off < n) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) throw MilterError("read from milter timed out");
    if (r < 0) {
      if (errno == EINTR) continue;
      throw MilterError(errno_text("poll"));
    }
    const ssize_t got = ::recv(fd_, buf + off, n - off, 0);
    if (got == 0) throw MilterError("milter closed the connection");
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      throw MilterError(errno_text("read from milter"));
    }
    off += static_cast<std::size_t>(got);
  }
}

void MilterClient::send_packet(char cmd, const std::string& data) {
  std::string pkt;
  put_u32(pkt, static_cast<std::uint32_t>(data.size() + 1));
  pkt.push_back(cmd);
  pkt += data;
  write_all(pkt, Clock::now() + timeout_);
}

void MilterClient::send_raw(const std::string& bytes) {
  write_all(bytes, Clock::now() + timeout_);
}

Reply MilterClient::read_reply() {
  const auto start = Clock::now();
  const auto deadline = start + timeout_;
  for (;;) {
    char len_buf[4];
    read_exact(len_buf, 4, deadline);
    std::uint32_t be = 0;
    std::memcpy(&be, len_buf, 4);
    const std::uint32_t len = ntohl(be);
    if (len == 0 || len > kMaxPacket)
      throw MilterError("bad milter reply length " + std::to_string(len));
    std::string body(len, '\0');
    read_exact(body.data(), len, deadline);
    if (body[0] == 'p') continue;  // SMFIR_PROGRESS: the milter is still working
    Reply r;
    r.code = body[0];
    r.text = body.substr(1);
    if (r.code != 'O')  // optneg data is binary; the others are C strings
      while (!r.text.empty() && r.text.back() == '\0') r.text.pop_back();
    r.elapsed = Clock::now() - start;
    return r;
  }
}

bool MilterClient::wait_closed(std::chrono::milliseconds within) {
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + within;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) return false;
    if (r < 0 && errno == EINTR) continue;
    char buf[512];
    const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
    if (got <= 0) return true;  // EOF or error: gone
  }
}

Negotiated MilterClient::negotiate(std::uint32_t version, std::uint32_t actions,
                                   std::uint32_t protocol) {
  std::string data;
  put_u32(data, version);
  put_u32(data, actions);
  put_u32(data, protocol);
  send_packet('O', data);
  const Reply r = read_reply();
  if (r.code != 'O') throw MilterError("expected an optneg reply, got " + r.describe());
  const std::string& body = r.text;
  Negotiated n;
  n.version = get_u32(body, 0);
  n.actions = get_u32(body, 4);
  n.protocol = get_u32(body, 8);
  std::size_t at = 12;
  while (at + 4 < body.size()) {
    const std::uint32_t stage = get_u32(body, at);
    at += 4;
    const auto end = body.find('\0', at);
    if (end == std::string::npos) throw MilterError("unterminated symlist in optneg reply");
    n.symlists.emplace_back(stage, body.substr(at, end - at));
    at = end + 1;
  }
  neg_ = n;
  return n;
}

void MilterClient::macros(char for_cmd, const Macros& m) {
  std::string data(1, for_cmd);
  for (const auto& [name, value] : m) {
    data += name;
    data.push_back('\0');
    data += value;
    data.push_back('\0');
  }
  send_packet('D', data);
}

Reply MilterClient::command(char cmd, const std::string& data, std::uint32_t no_flag,
                            std::uint32_t nr_flag) {
  Reply skipped;
  skipped.code = 'c';
  skipped.skipped = true;
  if (no_flag != 0 && neg_.wants(no_flag)) return skipped;
  const auto start = Clock::now();
  send_packet(cmd, data);
  if (nr_flag != 0 && neg_.wants(nr_flag)) return skipped;
  Reply r = read_reply();
  r.elapsed = Clock::now() - start;
  return r;
}

Reply MilterClient::connect(const std::string& hostname, Family family, std::uint16_t port,
                            const std::string& address) {
  std::string data = hostname;
  data.push_back('\0');
  data.push_back(static_cast<char>(family));
  if (family != Family::unknown) {
    const std::uint16_t be = htons(port);
    data.append(reinterpret_cast<const char*>(&be), 2);
    data += address;
    data.push_back('\0');
  }
  return command('C', data, smfi::kNoConnect, smfi::kNrConn);
}

Reply MilterClient::helo(const std::string& name) {
  return command('H', name + std::string(1, '\0'), smfi::kNoHelo, smfi::kNrHelo);
}

Reply MilterClient::mail(const std::vector<std::string>& args) {
  return command('M', nul_joined(args), smfi::kNoMail, smfi::kNrMail);
}

Reply MilterClient::rcpt(const std::vector<std::string>& args) {
  return command('R', nul_joined(args), smfi::kNoRcpt, smfi::kNrRcpt);
}

Reply MilterClient::data() {
  return command('T', "", smfi::kNoData, smfi::kNrData);
}

Reply MilterClient::eom() {
  return command('E', "", 0, 0);
}

void MilterClient::quit_nc() {
  send_packet('K', "");
}

Reply MilterClient::unknown(const std::string& cmdline) {
  return command('U', cmdline + std::string(1, '\0'), smfi::kNoUnknown, 0x20000);
}

void MilterClient::abort() {
  send_packet('A', "");
}

void MilterClient::quit() {
  if (fd_ < 0) return;
  try {
    send_packet('Q', "");
  } catch (const MilterError&) {
    // the milter may have closed already; quitting is best effort
  }
  close();
}

Peer peer_at(const std::string& address, const std::string& hostname, const std::string& resolve) {
  Peer p;
  p.address = address;
  p.hostname = hostname;
  p.resolve = resolve;
  p.port = static_cast<std::uint16_t>(20000 + std::hash<std::string>{}(address) % 40000);
  return p;
}

Session Session::start(const std::string& spec, const Peer& peer,
                       std::chrono::milliseconds timeout) {
  Session s(MilterClient::open(spec, timeout), peer);
  s.client_.negotiate();
  const bool v6 = peer.address.find(':') != std::string::npos;
  const std::string name = peer.hostname.empty() ? "[" + peer.address + "]" : peer.hostname;
  Macros m{
      {"j", "mx.test.local"},
      {"{daemon_name}", "MTA"},
      {"{daemon_addr}", !peer.daemon_addr.empty() ? peer.daemon_addr : (v6 ? "::1" : "127.0.0.1")},
      {"{daemon_port}", !peer.daemon_port.empty() ? peer.daemon_port : "25"},
      {"{client_addr}", peer.address},
      {"{client_port}", std::to_string(peer.port)},
      {"{client_name}", name}};
  if (!peer.resolve.empty()) m.emplace_back("{client_resolve}", peer.resolve);
  for (const auto& kv : peer.extra) m.push_back(kv);
  s.client_.macros('C', m);
  s.connect_reply_ =
      s.client_.connect(name, v6 ? Family::inet6 : Family::inet, peer.port, peer.address);
  return s;
}

Reply Session::helo() {
  client_.macros('H', {});
  return client_.helo(peer_.helo);
}

Reply Session::mail(const std::string& from) {
  client_.macros('M', {{"i", "4AbCdEf123"}, {"{mail_addr}", from}});
  return client_.mail({from});
}

Reply Session::rcpt(const std::string& to, bool rejected_by_mta) {
  client_.macros('R',
                 {{"{rcpt_mailer}", rejected_by_mta ? "error" : "local"}, {"{rcpt_addr}", to}});
  return client_.rcpt({to});
}

}  // namespace harden::testing
