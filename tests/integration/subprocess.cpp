// subprocess.cpp - fork/exec with captured stdout/stderr, for integration tests.
#include "subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace harden::test {
namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() {
    if (::pipe2(fd, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  }
  ~Pipe() {
    close_end(0);
    close_end(1);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

std::vector<std::string> child_environment(const ProcessOptions& o) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool drop = false;
    for (const auto& u : o.unset_env) drop = drop || u == name;
    for (const auto& [k, v] : o.set_env) drop = drop || k == name;
    if (!drop) env.push_back(entry);
  }
  for (const auto& [k, v] : o.set_env) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// Between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_child(const char* path, char** argv, char** envp, Pipe& in, Pipe& out,
                             Pipe& err, const ProcessOptions& o) {
  if (::dup2(in.fd[0], 0) < 0 || ::dup2(out.fd[1], 1) < 0 || ::dup2(err.fd[1], 2) < 0) _exit(126);
  ::signal(SIGPIPE, SIG_DFL);
  if (o.file_size_limit) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{*o.file_size_limit, *o.file_size_limit};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(126);
  }
  ::execve(path, argv, envp);
  _exit(127);
}

// Feeds stdin and drains stdout/stderr until both close or time runs out.
bool pump(Pipe& in, int out_fd, int err_fd, std::string_view input, ProcessResult& r,
          std::chrono::steady_clock::time_point deadline) {
  const int in_fd = in.fd[1];
  std::array<pollfd, 3> fds{{{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}}};
  std::array<std::string*, 2> sinks{&r.out, &r.err};
  std::array<char, 65536> buf{};
  if (input.empty()) {
    in.close_end(1);
    fds[2].fd = -1;
  }
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buf.data(), buf.size());
      if (got > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;
      }
    }
    if (fds[2].fd >= 0 && fds[2].revents != 0) {
      const ssize_t put = ::write(in_fd, input.data(), input.size());
      if (put > 0) input.remove_prefix(static_cast<std::size_t>(put));
      if (put < 0 && errno != EINTR && errno != EAGAIN) input = {};
      if (input.empty()) {
        in.close_end(1);
        fds[2].fd = -1;
      }
    }
  }
  in.close_end(1);
  return true;
}

}  // namespace

ProcessResult run_process(const std::string& path, const std::vector<std::string>& args,
                          const ProcessOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that stops reading stdin must not kill the test
  std::vector<std::string> argv_s{path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = child_environment(options);
  std::vector<char*> argv = pointers(argv_s);
  std::vector<char*> envp = pointers(env_s);
  Pipe in, out, err;

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) exec_child(path.c_str(), argv.data(), envp.data(), in, out, err, options);

  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  ::fcntl(in.fd[1], F_SETFL, O_NONBLOCK);
  ProcessResult r;
  if (!pump(in, out.fd[0], err.fd[0], options.stdin_text, r,
            std::chrono::steady_clock::now() + options.timeout)) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

}  // namespace harden::test
