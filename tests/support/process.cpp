// process.cpp - fork/exec in a new process group, bounded waiting, temp dirs.
#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace harden::testing {
namespace {

using Clock = std::chrono::steady_clock;

// In the child: redirect output, set the environment, exec. Never returns.
[[noreturn]] void exec_child(const std::vector<std::string>& argv, const SpawnOptions& opts,
                             int out_fd) {
  if (opts.new_process_group) ::setpgid(0, 0);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  const int out = out_fd >= 0 ? out_fd : ::open("/dev/null", O_WRONLY);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  for (const auto& [k, v] : opts.env) ::setenv(k.c_str(), v.c_str(), 1);
  if (opts.nofile > 0) {
    const rlimit rl{static_cast<rlim_t>(opts.nofile), static_cast<rlim_t>(opts.nofile)};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      const std::string msg = "setrlimit: " + std::string(std::strerror(errno)) + "\n";
      (void)!::write(2, msg.data(), msg.size());
      ::_exit(127);
    }
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  const std::string msg = "exec " + argv[0] + ": " + std::strerror(errno) + "\n";
  (void)!::write(2, msg.data(), msg.size());
  ::_exit(127);
}

pid_t fork_exec(const std::vector<std::string>& argv, const SpawnOptions& opts, int out_fd) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) exec_child(argv, opts, out_fd);
  // also from the parent: no window where the group is missing
  if (opts.new_process_group) ::setpgid(pid, pid);
  return pid;
}

}  // namespace

Child Child::spawn(const std::vector<std::string>& argv, const SpawnOptions& opts) {
  int fd = -1;
  if (!opts.log.empty()) {
    fd = ::open(opts.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("open " + opts.log.string() + ": " + std::strerror(errno));
  }
  Child c;
  try {
    c.pid_ = fork_exec(argv, opts, fd);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    throw;
  }
  if (fd >= 0) ::close(fd);
  return c;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    kill_group();
    pid_ = std::exchange(o.pid_, -1);
    status_ = o.status_;
  }
  return *this;
}

Child::~Child() {
  kill_group();
}

bool Child::running() {
  if (pid_ < 0) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) status_ = st;
  ::kill(-pid_, SIGKILL);  // leftovers of its group (e.g. forked workers)
  pid_ = -1;
  return false;
}

bool Child::wait_exit(std::chrono::milliseconds within) {
  return poll_until(within, [this] { return !running(); });
}

bool Child::terminate(std::chrono::milliseconds grace) {
  if (!running()) return true;
  ::kill(-pid_, SIGTERM);
  if (wait_exit(grace)) return true;
  kill_group();
  return false;
}

void Child::kill_group() {
  if (pid_ < 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (::waitpid(pid_, &st, 0) == pid_) status_ = st;
  pid_ = -1;
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::vector<std::pair<std::string, std::string>>& env) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  SpawnOptions opts;
  opts.env = env;
  pid_t pid = -1;
  try {
    pid = fork_exec(argv, opts, pipefd[1]);
  } catch (...) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw;
  }
  ::close(pipefd[1]);
  RunResult res;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  int st = 0;
  bool exited = false;
  // Read until the child has exited and its output is drained; a daemon it
  // left behind may keep the pipe open, so EOF alone is not the end.
  for (;;) {
    pollfd p{pipefd[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, exited ? 0 : 20);
    if (ready > 0) {
      const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n > 0) {
        res.output.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (exited) break;
      // EOF while it still runs: wait for it within the deadline
      exited = poll_until(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::max(deadline - Clock::now(), Clock::duration::zero())),
                          [&] { return ::waitpid(pid, &st, WNOHANG) == pid; });
      if (!exited) {
        res.timed_out = true;
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &st, 0);
      }
      break;
    }
    if (exited) break;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      exited = true;
      continue;
    }
    if (Clock::now() >= deadline) {
      res.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
  }
  ::close(pipefd[0]);
  if (!res.timed_out && WIFEXITED(st)) res.exit_code = WEXITSTATUS(st);
  return res;
}

bool poll_until(std::chrono::milliseconds within, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + within;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling interval, not timing
  }
}

TempDir::TempDir(const std::string& prefix, const std::filesystem::path& parent) {
  const auto base = parent.empty() ? std::filesystem::temp_directory_path() : parent;
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    const auto p = base / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (std::filesystem::create_directory(p, ec)) {
      ::chmod(p.c_str(), 0755);
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temp dir under " + base.string());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
}

std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(sa.sin_port);
}

bool tcp_listening(std::uint16_t port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.size() > 5 && local.ends_with(want)) return true;
    }
  }
  return false;
}

ProcessStats process_stats(pid_t pid) {
  ProcessStats out;
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string line;
  std::getline(stat, line);
  if (const auto close = line.rfind(')'); close != std::string::npos && close + 2 < line.size()) {
    std::istringstream fields(line.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stoull(f);
      if (i == 15) stime = std::stoull(f);
    }
    out.cpu_seconds =
        static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status(base + "/status");
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) out.rss_mib = std::stod(line.substr(6)) / 1024.0;
    if (line.starts_with("VmHWM:")) out.hwm_mib = std::stod(line.substr(6)) / 1024.0;
    if (line.starts_with("Threads:")) out.threads = std::stoi(line.substr(8));
  }
  return out;
}

}  // namespace harden::testing

namespace harden::testing {

std::string local_ipv4_address() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text)) found = text;
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace harden::testing
