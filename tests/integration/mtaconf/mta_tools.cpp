// mta_tools.cpp - running the real MTA tools over generated configuration (see mta_tools.hpp).
#include "mta_tools.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace harden::mtaconf::itest {

namespace {

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, int in, int out, int err) {
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  for (int fd = 3; fd < 256; ++fd) ::close(fd);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

// Feeds `input` and collects stdout/stderr until both close or the deadline.
bool pump(int in, int out, int err, std::string_view input, ToolResult& r,
          std::chrono::steady_clock::time_point deadline) {
  std::size_t written = 0;
  if (input.empty()) {
    ::close(in);
    in = -1;
  }
  char buf[65536];
  while (out >= 0 || err >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
    if (::poll(fds, 3, static_cast<int>(left.count())) < 0) continue;
    if (in >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const auto n = ::write(in, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
      if (n < 0 || written == input.size()) {
        ::close(in);
        in = -1;
      }
    }
    for (int k : {1, 2}) {
      int& fd = k == 1 ? out : err;
      if (fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const auto n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        (k == 1 ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EAGAIN) {
        ::close(fd);
        fd = -1;
      }
    }
  }
  if (in >= 0) ::close(in);
  return true;
}

}  // namespace

ToolResult run(const std::vector<std::string>& argv, std::string_view input,
               std::chrono::seconds timeout) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  ::signal(SIGPIPE, SIG_IGN);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) exec_child(argv, in[0], out[1], err[1]);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  set_nonblocking(in[1]);
  set_nonblocking(out[0]);
  set_nonblocking(err[0]);
  ToolResult r;
  const bool done =
      pump(in[1], out[0], err[0], input, r, std::chrono::steady_clock::now() + timeout);
  if (!done) {
    ::kill(pid, SIGKILL);
    r.err += "\n[timed out after " + std::to_string(timeout.count()) + "s]";
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = done && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

ToolResult run_sandboxed(const std::vector<std::string>& argv, std::string_view input,
                         const std::vector<std::string>& hosts) {
  std::vector<std::string> full{HARDEN_MTA_SANDBOX};
  for (const auto& h : hosts) {
    full.push_back("--host");
    full.push_back(h);
  }
  full.push_back("--");
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, input);
}

namespace {

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<ToolResult> run_sandboxed_batch(const fs::path& work, const std::vector<Call>& calls,
                                            const std::vector<std::string>& hosts) {
  fs::create_directories(work);
  std::string script = "#!/bin/sh\n";
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string n = (work / std::to_string(i)).string();
    write_file(n + ".in", calls[i].input);
    if (!calls[i].env.empty()) script += "env ";
    for (const auto& e : calls[i].env) script += sh_quote(e) + " ";
    for (const auto& a : calls[i].argv) script += sh_quote(a) + " ";
    script += "<" + sh_quote(n + ".in") + " >" + sh_quote(n + ".out") + " 2>" +
              sh_quote(n + ".err") + "; echo $? >" + sh_quote(n + ".rc") + "\n";
  }
  write_file(work / "batch.sh", script);
  const ToolResult all = run_sandboxed({"sh", (work / "batch.sh").string()}, "", hosts);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  std::vector<ToolResult> out;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    const std::string n = (work / std::to_string(i)).string();
    ToolResult r;
    r.out = read_file(n + ".out");
    r.err = read_file(n + ".err");
    const std::string rc = read_file(n + ".rc");
    r.exit_code = rc.empty() ? -1 : std::stoi(rc);
    out.push_back(std::move(r));
  }
  return out;
}

bool sandbox_available() {
  static const bool ok = [] {
    if (::geteuid() != 0) return false;
    return run({HARDEN_MTA_SANDBOX, "--", "true"}).exit_code == 0;
  }();
  return ok;
}

fs::path faketime_library() {
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                        "/usr/lib/faketime/libfaketime.so.1"}) {
    if (fs::exists(p)) return p;
  }
  return {};
}

namespace {

// sendmail and makemap refuse (or warn about) files below a world-writable
// directory such as /tmp; as root (the tests that run them), use /run.
fs::path temp_base() {
  return ::geteuid() == 0 ? fs::path("/run/mtaconf-tests") : fs::temp_directory_path();
}

}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  const fs::path base = temp_base();
  const auto rx = fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                  fs::perms::others_read | fs::perms::others_exec;
  for (int i = 0; i < 100 && path_.empty(); ++i) {
    std::error_code ec;
    fs::create_directories(base, ec);  // again each time: another test may remove it
    fs::permissions(base, rx, ec);
    auto p = base / ("mtaconf-it-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    if (fs::create_directory(p, ec)) path_ = p;
  }
  if (path_.empty()) throw std::runtime_error("cannot create a temp dir in " + base.string());
  // MTA users (Debian-exim) must traverse into it.
  fs::permissions(path_, rx);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (temp_base() != fs::temp_directory_path()) fs::remove(temp_base(), ec);  // if empty
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::vector<std::string> lines_with(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.starts_with(prefix)) out.push_back(l);
  }
  return out;
}

namespace {

fs::path unpacked(const char* mta, const fs::path& probe) {
  const fs::path root = fs::path(HARDEN_MTA_DIR) / mta;
  if (!fs::exists(root / probe)) {
    ADD_FAILURE() << (root / probe) << " missing: run scripts/fetch-mta.sh " << mta << " " << root
                  << " (ctest runs it as fixture mta_" << mta << ")";
    throw std::runtime_error("no unpacked " + std::string(mta));
  }
  return root;
}

// `text` with `from` replaced by `to`, which must occur exactly once.
std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos || text.find(from, at + 1) != std::string::npos) {
    ADD_FAILURE() << "expected exactly one '" << from << "' in Debian's file";
    throw std::runtime_error("Debian's file changed");
  }
  return text.replace(at, from.size(), to);
}

}  // namespace

fs::path sendmail_root() {
  return unpacked("sendmail", "usr/libexec/sendmail/sendmail");
}
fs::path sendmail_cf_dir() {
  return sendmail_root() / "usr/share/sendmail/cf";
}
fs::path exim_root() {
  return unpacked("exim", "usr/sbin/exim4");
}
fs::path contrib_m4_dir() {
  return fs::path(HARDEN_SOURCE_DIR) / "contrib/m4";
}

std::string debian_mc(const fs::path& dir, const std::string& generated, const McOptions& o) {
  const fs::path real_cf = sendmail_cf_dir();
  const fs::path cf = o.cf_dir.empty() ? real_cf : o.cf_dir;
  std::string mc = read_file(real_cf / "debian/sendmail.mc");
  mc = replace_once(mc, "include(`/usr/share/sendmail/cf/m4/cf.m4')dnl\n",
                    "include(`" + (cf / "m4/cf.m4").string() + "')dnl\ninclude(`" +
                        (real_cf / "debian/autoconf.m4").string() + "')dnl\n");
  write_file(dir / "dialup.m4", "");
  write_file(dir / "provider.m4", "");
  write_file(dir / "local-host-names", "");
  mc = replace_once(mc, "include(`/etc/mail/m4/dialup.m4')dnl",
                    "include(`" + (dir / "dialup.m4").string() + "')dnl");
  mc = replace_once(mc, "include(`/etc/mail/m4/provider.m4')dnl",
                    "include(`" + (dir / "provider.m4").string() + "')dnl");
  for (const auto& f : o.drop) {
    const auto at = mc.find("\nFEATURE(`" + f + "'");
    if (at == std::string::npos) {
      ADD_FAILURE() << "Debian's sendmail.mc has no FEATURE(`" << f << "')";
      throw std::runtime_error("Debian's file changed");
    }
    mc.erase(at + 1, mc.find('\n', at + 1) - at);
  }
  const std::string env =
      "define(`confCW_FILE', `" + (dir / "local-host-names").string() + "')dnl\n";
  return replace_once(mc, "\nMAILER_DEFINITIONS\n",
                      "\n" + env + generated + "MAILER_DEFINITIONS\n");
}

fs::path shadow_cf_with_contrib_feature(const fs::path& dir) {
  const fs::path real = sendmail_cf_dir();
  const fs::path shadow = dir / "cf";
  fs::create_directories(shadow / "feature");
  for (const auto& e : fs::directory_iterator(real)) {
    if (e.path().filename() != "feature")
      fs::create_symlink(e.path(), shadow / e.path().filename());
  }
  for (const auto& e : fs::directory_iterator(real / "feature")) {
    fs::create_symlink(e.path(), shadow / "feature" / e.path().filename());
  }
  fs::copy_file(contrib_m4_dir() / "milter_harden.m4", shadow / "feature/milter_harden.m4");
  return shadow;
}

ToolResult m4_cf(const fs::path& dir, const std::string& mc, const std::string& name) {
  const fs::path file = dir / (name + ".mc");
  write_file(file, mc);
  return run({"m4", file.string()});
}

EximTree debian_exim_tree(const fs::path& dir) {
  EximTree t{dir / "exim4", dir / "spool", dir / "update-exim4.conf"};
  fs::copy(exim_root() / "etc/exim4", t.confdir, fs::copy_options::recursive);
  fs::create_directories(t.spool);
  write_file(dir / "mailname", "mx.test.example\n");
  write_file(dir / "aliases",
             "postmaster: root\nuser1: :blackhole:\nuser2: :blackhole:\n"
             "user3: :blackhole:\nuser4: :blackhole:\n");
  write_file(t.confdir / "conf.d/main/000_test",
             "# tests: everything below the test's directory; no DNS, so no host name\n"
             "# lookups (names come from -oMs as they would from verified rDNS).\n"
             "CONFDIR = " +
                 t.confdir.string() + "\nSPOOLDIR = " + t.spool.string() +
                 "\nMAIN_HARDCODE_PRIMARY_HOSTNAME = mx.test.example\nMAIN_HOST_LOOKUP = !*\n");
  const fs::path aliases_router = t.confdir / "conf.d/router/400_exim4-config_system_aliases";
  write_file(aliases_router, replace_once(read_file(aliases_router), "lsearch{/etc/aliases}",
                                          "lsearch{" + (dir / "aliases").string() + "}"));
  std::string script = read_file(exim_root() / "usr/sbin/update-exim4.conf");
  script = replace_once(script, "mailname=\"$(< /etc/mailname ",
                        "mailname=\"$(< " + (dir / "mailname").string() + " ");
  for (std::size_t at; (at = script.find("chown root:Debian-exim")) != std::string::npos;) {
    script.replace(at, 22, "true");
  }
  write_file(t.update_script, script);
  return t;
}

fs::path update_exim4_conf(const EximTree& t) {
  const fs::path out = t.confdir.parent_path() / "exim4.conf";
  fs::remove(out);
  const ToolResult r =
      run({"sh", t.update_script.string(), "--confdir", t.confdir.string(), "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err, "");
  return out;
}

ToolResult exim(const fs::path& conf, const fs::path& spool, const std::vector<std::string>& args,
                std::string_view input, const std::vector<std::string>& hosts) {
  std::vector<std::string> argv{"sh",
                                "-c",
                                "chown -R Debian-exim: \"$0\" && exec \"$@\"",
                                spool.string(),
                                (exim_root() / "usr/sbin/exim4").string(),
                                "-C",
                                conf.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_sandboxed(argv, input, hosts);
}

std::vector<ToolResult> exim_batch(const fs::path& conf, const fs::path& spool,
                                   const std::vector<Call>& calls,
                                   const std::vector<std::string>& hosts) {
  std::vector<Call> all{{{"chown", "-R", "Debian-exim:", spool.string()}, ""}};
  for (const auto& c : calls) {
    Call e{{(exim_root() / "usr/sbin/exim4").string(), "-C", conf.string()}, c.input, c.env};
    e.argv.insert(e.argv.end(), c.argv.begin(), c.argv.end());
    all.push_back(std::move(e));
  }
  static int batch = 0;
  auto results =
      run_sandboxed_batch(spool.parent_path() / ("batch" + std::to_string(++batch)), all, hosts);
  results.erase(results.begin());
  return results;
}

}  // namespace harden::mtaconf::itest
