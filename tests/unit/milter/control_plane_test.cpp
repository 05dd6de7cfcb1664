// control_plane_test.cpp - the Asio control thread over real sockets in a
// temp dir: line-delimited JSON on the control socket (several requests per
// connection, bad and oversized requests), the /metrics endpoint, and what
// happens to an old socket file at the control path. Blocking I/O with
// receive timeouts; nothing sleeps.
#include "harden/milter/control_plane.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace harden::milter {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class EchoService final : public ControlService {
 public:
  json stats() override { return {{"ok", true}, {"n", ++calls}}; }
  json client(const ControlRequest& r) override { return {{"ip", r.ip->to_string()}}; }
  json flush(const policy::IpAddress&) override { return {{"flushed", true}}; }
  json reload() override { return {{"ok", false}, {"error", "refused"}}; }
  int calls = 0;
};

int connect_fd(const sockaddr* sa, socklen_t len, int family) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, sa, len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int connect_unix(const fs::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  return connect_fd(reinterpret_cast<const sockaddr*>(&a), sizeof a, AF_UNIX);
}

int connect_tcp(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect_fd(reinterpret_cast<const sockaddr*>(&a), sizeof a, AF_INET);
}

void send_text(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

// Everything until `n` newlines arrived, or EOF / timeout.
std::string receive_lines(int fd, int n) {
  std::string out;
  char buf[4096];
  while (std::count(out.begin(), out.end(), '\n') < n) {
    const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    out.append(buf, static_cast<std::size_t>(got));
  }
  return out;
}

std::string receive_all(int fd) {
  return receive_lines(fd, 1 << 30);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("harden-cp-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    sock_ = dir_ / "control.sock";
    port_ = free_port();
  }
  void TearDown() override {
    plane_.reset();
    fs::remove_all(dir_);
  }
  void start() {
    ControlHooks hooks;
    hooks.service = &svc_;
    hooks.metrics = &metrics_;
    hooks.metrics_text = [] { return std::string("milter_harden_test 1\n"); };
    plane_ = std::make_unique<ControlPlane>(
        ControlPlaneOptions{sock_.string(), "127.0.0.1:" + std::to_string(port_), {}}, hooks);
    plane_->bind(static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    plane_->start();
  }

  fs::path dir_, sock_;
  std::uint16_t port_ = 0;
  EchoService svc_;
  Metrics metrics_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(ControlPlaneTest, AnswersEachRequestLineInOrder) {
  start();
  EXPECT_EQ(fs::status(sock_).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::group_write);
  const int fd = connect_unix(sock_);
  ASSERT_GE(fd, 0);
  send_text(fd, "{\"cmd\":\"stats\"}\n{\"cmd\":\"client\",\"ip\":\"192.0.2.7\"}\r\nnot json\n");
  const std::string replies = receive_lines(fd, 3);
  std::istringstream in(replies);
  std::string a, b, c;
  std::getline(in, a);
  std::getline(in, b);
  std::getline(in, c);
  EXPECT_EQ(json::parse(a)["n"], 1);
  EXPECT_EQ(json::parse(b)["ip"], "192.0.2.7");
  EXPECT_EQ(json::parse(c)["error"], "bad JSON");
  send_text(fd, "{\"cmd\":\"reload\"}\n");
  EXPECT_EQ(json::parse(receive_lines(fd, 1))["error"], "refused");
  ::close(fd);
  EXPECT_EQ(metrics_.get(Metric::control_requests_total), 4);
}

TEST_F(ControlPlaneTest, OversizedRequestGetsAnErrorAndTheConnectionEnds) {
  start();
  const int fd = connect_unix(sock_);
  ASSERT_GE(fd, 0);
  send_text(fd, std::string(kMaxControlRequest + 100, 'x'));
  const std::string reply = receive_all(fd);  // then EOF
  EXPECT_EQ(json::parse(reply.substr(0, reply.find('\n')))["error"], "request too long");
  ::close(fd);
  const int again = connect_unix(sock_);  // the daemon still serves
  ASSERT_GE(again, 0);
  send_text(again, "{\"cmd\":\"stats\"}\n");
  EXPECT_EQ(json::parse(receive_lines(again, 1))["ok"], true);
  ::close(again);
}

TEST_F(ControlPlaneTest, MetricsEndpointSpeaksMinimalHttp) {
  start();
  struct Case {
    std::string request;
    std::string status;
    bool body;
  };
  for (const Case& c : std::vector<Case>{
           {"GET /metrics HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", true},
           {"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.0 200 OK", true},
           {"HEAD /metrics HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", false},
           {"GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 404 Not Found", false},
           {"POST /metrics HTTP/1.0\r\n\r\n", "HTTP/1.0 405 Method Not Allowed", false},
           {"garbage\r\n\r\n", "HTTP/1.0 400 Bad Request", false},
           // exactly the 8 KiB head limit without an end: nothing left unread (no RST)
           {"GET /metrics HTTP/1.0\r\n" + std::string(8192 - 23, 'h'), "HTTP/1.0 431", false},
       }) {
    const int fd = connect_tcp(port_);
    ASSERT_GE(fd, 0);
    send_text(fd, c.request);
    const std::string reply = receive_all(fd);
    ::close(fd);
    EXPECT_TRUE(reply.starts_with(c.status)) << c.request.substr(0, 40) << " -> " << reply;
    EXPECT_EQ(reply.find("milter_harden_test 1\n") != std::string::npos, c.body) << reply;
  }
}

TEST_F(ControlPlaneTest, StaleSocketFileIsReplacedButNotALiveOneOrAFile) {
  {  // a socket file nobody listens on
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock_.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  start();
  ControlPlane second(ControlPlaneOptions{sock_.string(), "", {}}, ControlHooks{});
  try {
    second.bind(static_cast<uid_t>(-1), static_cast<gid_t>(-1));
    ADD_FAILURE() << "bound over a live control socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("another daemon is listening"), std::string::npos)
        << e.what();
  }
  const fs::path file = dir_ / "file";
  std::ofstream(file) << "x";
  ControlPlane third(ControlPlaneOptions{file.string(), "", {}}, ControlHooks{});
  EXPECT_THROW(third.bind(static_cast<uid_t>(-1), static_cast<gid_t>(-1)), std::runtime_error);
  EXPECT_TRUE(fs::exists(file));
}

}  // namespace
}  // namespace harden::milter
