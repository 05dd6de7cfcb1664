// daemon.cpp - milter-harden as a child process of a test.
#include "support/daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "support/milter_client.hpp"

#ifndef MILTER_HARDEN_PATH
#define MILTER_HARDEN_PATH "milter-harden"
#endif
#ifndef HARDENCTL_PATH
#define HARDENCTL_PATH "hardenctl"
#endif

namespace harden::testing {

std::string milter_harden_path() {
  return MILTER_HARDEN_PATH;
}
std::string hardenctl_path() {
  return HARDENCTL_PATH;
}

MilterDaemon::MilterDaemon(std::filesystem::path dir, std::string binary)
    : dir_(std::move(dir)), binary_(std::move(binary)) {
  set("socket", "unix:" + (dir_ / "milter.sock").string());
  set("store", store().string());
  set("mode", "enforce");
  set("control_socket", (dir_ / "control.sock").string());
  set("state_file", (dir_ / "state.db").string());
  // The protocol suite runs once per engine (tests/integration/milter/CMakeLists.txt).
  // On libmilter the suite holds greet pauses (libmilter_greet_pause: hold), so
  // both engines meet the same expectations; burst_test checks the default.
  if (const char* e = std::getenv("HARDEN_TEST_ENGINE"); e && *e) {
    set("engine", e);
    if (std::string_view(e) == "libmilter") set("libmilter_greet_pause", "hold");
  }
}

std::string MilterDaemon::engine() const {
  for (const auto& [k, v] : config_)
    if (k == "engine") return v;
  return "native";
}

MilterDaemon::~MilterDaemon() {
  child_.kill_group();
}

void MilterDaemon::set(const std::string& key, const std::string& value) {
  for (auto& [k, v] : config_) {
    if (k == key) {
      v = value;
      return;
    }
  }
  config_.emplace_back(key, value);
}

void MilterDaemon::unset(const std::string& key) {
  std::erase_if(config_, [&](const auto& kv) { return kv.first == key; });
}

std::string MilterDaemon::socket() const {
  for (const auto& [k, v] : config_)
    if (k == "socket") return v;
  return "";
}

std::filesystem::path MilterDaemon::control_socket() const {
  for (const auto& [k, v] : config_)
    if (k == "control_socket") return v;
  return {};
}

void MilterDaemon::write_config() const {
  std::ostringstream out;
  out << "# written by the test support (tests/support/daemon.cpp)\n";
  for (const auto& [k, v] : config_) out << k << ": " << v << "\n";
  write_file(config_path(), out.str());
}

void MilterDaemon::init_store() {
  hardenctl({"init"});
}

RunResult MilterDaemon::hardenctl(const std::vector<std::string>& args, bool may_fail) const {
  std::vector<std::string> argv{hardenctl_path(), "--db", store().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r =
      run(argv, std::chrono::seconds(60), {{"HARDEN_CONTROL_SOCKET", control_socket().string()}});
  if (!may_fail && !r.ok()) {
    std::string cmd;
    for (const auto& a : args) cmd += " " + a;
    throw std::runtime_error("hardenctl" + cmd + " failed (" + std::to_string(r.exit_code) +
                             "): " + r.output);
  }
  return r;
}

void MilterDaemon::start(std::chrono::milliseconds within) {
  write_config();
  const std::string sock = socket();
  if (sock.starts_with("unix:")) std::filesystem::remove(sock.substr(5));
  SpawnOptions opts = log_to(log_path());
  opts.nofile = nofile_;
  child_ = Child::spawn({binary_, "--config", config_path().string()}, opts);
  std::string last_error;
  // Ready means every endpoint configured: the milter socket takes
  // connections, the control socket exists, the metrics port listens.
  const std::string control = control_socket().string();
  std::uint16_t metrics_port = 0;
  for (const auto& [k, v] : config_)
    if (k == "metrics_listen" && v.rfind(':') != std::string::npos)
      metrics_port = static_cast<std::uint16_t>(std::stoul(v.substr(v.rfind(':') + 1)));
  const bool up = poll_until(within, [&] {
    if (!child_.running()) return true;
    try {
      MilterClient c = MilterClient::open(sock, std::chrono::milliseconds(500));
    } catch (const MilterError& e) {
      last_error = e.what();
      return false;
    }
    if (!control.empty() && !std::filesystem::exists(control)) {
      last_error = "no control socket " + control;
      return false;
    }
    if (metrics_port != 0 && !tcp_listening(metrics_port)) {
      last_error = "metrics port " + std::to_string(metrics_port) + " not listening";
      return false;
    }
    return true;
  });
  if (!child_.running())
    throw std::runtime_error("milter-harden exited at start-up (status " +
                             std::to_string(child_.status()) + "); log:\n" + log());
  if (!up)
    throw std::runtime_error("milter-harden socket " + sock + " not up within deadline (" +
                             last_error + "); log:\n" + log());
}

bool MilterDaemon::stop(std::chrono::milliseconds grace) {
  return child_.terminate(grace);
}

std::string MilterDaemon::control(const std::string& request_line,
                                  std::chrono::milliseconds timeout) const {
  const std::string path = control_socket().string();
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw std::runtime_error("control path too long");
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
  const std::string line = request_line + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("control write failed");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string reply;
  char buf[4096];
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      throw std::runtime_error("control reply timed out");
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
    if (reply.size() > (1u << 20)) throw std::runtime_error("control reply too long");
  }
  const auto nl = reply.find('\n');
  return nl == std::string::npos ? reply : reply.substr(0, nl);
}

void MilterDaemon::signal(int sig) const {
  if (child_.pid() > 0) ::kill(child_.pid(), sig);
}

std::string MilterDaemon::log() const {
  return read_file(log_path());
}

std::size_t MilterDaemon::mark() const {
  std::error_code ec;
  const auto n = std::filesystem::file_size(log_path(), ec);
  return ec ? 0 : static_cast<std::size_t>(n);
}

bool MilterDaemon::wait_for_log(const std::string& needle, std::chrono::milliseconds within,
                                std::size_t from) const {
  return poll_until(within, [&] {
    const std::string text = log();
    return text.size() > from && text.find(needle, from) != std::string::npos;
  });
}

std::vector<std::string> MilterDaemon::log_lines(const std::string& needle,
                                                 std::size_t from) const {
  const std::string text = log();
  std::vector<std::string> out;
  std::istringstream in(from < text.size() ? text.substr(from) : std::string());
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

}  // namespace harden::testing
