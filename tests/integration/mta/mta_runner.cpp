// mta_runner.cpp - private Postfix and sendmail instances for the real-MTA tests.
#include "mta_runner.hpp"

#include <unistd.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

#include "support/process.hpp"

#ifndef HARDEN_MTA_DIR
#define HARDEN_MTA_DIR "mta"
#endif
#ifndef HARDEN_MTA_SANDBOX
#define HARDEN_MTA_SANDBOX "scripts/mta-sandbox.sh"
#endif

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Local users every Debian system has, for recipients the MTA accepts.
constexpr const char* kUsers[] = {"root", "daemon", "bin", "sys", "nobody", "mail", "news", "man"};

fs::path sendmail_root() {
  return fs::path(HARDEN_MTA_DIR) / "sendmail";
}
fs::path sendmail_binary() {
  return sendmail_root() / "usr/libexec/sendmail/sendmail";
}

std::string postconf_default(const std::string& key) {
  const RunResult r = run({"postconf", "-d", "-h", key}, 30s);
  std::string v = r.output;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  if (!r.ok() || v.empty()) throw std::runtime_error("postconf -d " + key + ": " + r.output);
  return v;
}

// Waits until `port` listens or the child exits; throws with `log` if not up.
void wait_listening(Child& child, std::uint16_t port, const std::string& what,
                    const std::function<std::string()>& log) {
  const bool up = poll_until(30s, [&] { return tcp_listening(port) || !child.running(); });
  if (!up || !child.running())
    throw std::runtime_error(what + " did not start listening on 127.0.0.1:" +
                             std::to_string(port) + "; log:\n" + log());
}

class Postfix final : public Mta {
 public:
  explicit Postfix(const fs::path& dir, std::string extra_main_cf = {})
      : dir_(dir / "postfix"), port_(free_tcp_port()), extra_(std::move(extra_main_cf)) {}
  ~Postfix() override { stop(); }

  std::string name() const override { return "postfix"; }
  std::uint16_t smtp_port() const override { return port_; }
  std::string log() const override { return read_file(dir_ / "maillog"); }

  void start(std::uint16_t milter_port) override {
    fs::create_directories(dir_ / "conf");
    fs::create_directories(dir_ / "queue");
    fs::create_directories(dir_ / "data");
    if (::chown((dir_ / "data").c_str(), postfix_uid(), static_cast<gid_t>(-1)) != 0)
      throw std::runtime_error("chown postfix data_directory failed");
    write_file(dir_ / "conf/main.cf", main_cf(milter_port));
    write_file(dir_ / "conf/master.cf", master_cf());
    const RunResult check = run({"postfix", "-c", (dir_ / "conf").string(), "check"}, 60s);
    if (!check.ok()) throw std::runtime_error("postfix check failed: " + check.output + log());
    const std::string master = postconf_default("daemon_directory") + "/master";
    SpawnOptions opts = log_to(dir_ / "master.out");
    opts.new_process_group = false;  // master calls setsid() itself
    master_ = Child::spawn({master, "-c", (dir_ / "conf").string()}, opts);
    wait_listening(master_, port_, "postfix", [this] { return log(); });
  }

  void stop() override { master_.terminate(10s); }

 private:
  static uid_t postfix_uid() {
    const RunResult r = run({"id", "-u", "postfix"}, 10s);
    if (!r.ok()) throw std::runtime_error("no postfix user (is postfix installed?)");
    return static_cast<uid_t>(std::stoul(r.output));
  }

  std::string main_cf(std::uint16_t milter_port) const {
    std::ostringstream o;
    o << "compatibility_level = 3.6\n"
      << "queue_directory = " << (dir_ / "queue").string() << "\n"
      << "data_directory = " << (dir_ / "data").string() << "\n"
      << "maillog_file_prefixes = " << dir_.string() << "\n"
      << "maillog_file = " << (dir_ / "maillog").string() << "\n"
      << "myhostname = mx.test.example\n"
      << "mydomain = test.example\n"
      << "mydestination = $myhostname, localhost\n"
      << "inet_interfaces = 127.0.0.1\n"
      << "inet_protocols = ipv4\n"
      << "mynetworks = 127.0.0.0/8\n"
      << "smtpd_peername_lookup = no\n"
      << "alias_maps =\n"
      << "alias_database =\n"
      << "local_recipient_maps = unix:passwd.byname\n"
      << "smtpd_banner = $myhostname ESMTP\n"
      << "biff = no\n";
    if (milter_port != 0) {
      o << "smtpd_milters = inet:127.0.0.1:" << milter_port << "\n"
        << "milter_default_action = tempfail\n"
        << "milter_protocol = 6\n";
    }
    return o.str() + extra_;
  }

  std::string master_cf() const {
    return "127.0.0.1:" + std::to_string(port_) +
           " inet n - n - - smtpd\n"
           "pickup    unix  n - n 60 1 pickup\n"
           "cleanup   unix  n - n - 0 cleanup\n"
           "qmgr      unix  n - n 300 1 qmgr\n"
           "rewrite   unix  - - n - - trivial-rewrite\n"
           "bounce    unix  - - n - 0 bounce\n"
           "defer     unix  - - n - 0 bounce\n"
           "trace     unix  - - n - 0 bounce\n"
           "verify    unix  - - n - 1 verify\n"
           "flush     unix  n - n 1000? 0 flush\n"
           "proxymap  unix  - - n - - proxymap\n"
           "smtp      unix  - - n - - smtp\n"
           "showq     unix  n - n - - showq\n"
           "error     unix  - - n - - error\n"
           "retry     unix  - - n - - error\n"
           "discard   unix  - - n - - discard\n"
           "local     unix  - n n - - local\n"
           "anvil     unix  - - n - 1 anvil\n"
           "scache    unix  - - n - 1 scache\n"
           "postlog   unix-dgram n - n - 1 postlogd\n";
  }

  fs::path dir_;
  std::uint16_t port_;
  std::string extra_;  // main.cf lines after ours (none may repeat ours)
  Child master_;
};

class Sendmail final : public Mta {
 public:
  explicit Sendmail(const fs::path& dir) : dir_(dir / "sendmail"), port_(free_tcp_port()) {}
  ~Sendmail() override { stop(); }

  std::string name() const override { return "sendmail"; }
  std::uint16_t smtp_port() const override { return port_; }
  std::string log() const override { return read_file(dir_ / "sendmail.out"); }

  void start(std::uint16_t milter_port) override {
    fs::create_directories(dir_ / "queue");
    fs::permissions(dir_ / "queue", fs::perms::owner_all);
    write_file(dir_ / "local-host-names", "mx.test.example\n");
    write_file(dir_ / "aliases", "postmaster: root\n");
    write_file(dir_ / "statistics", "");
    write_file(dir_ / "sendmail.mc", mc(milter_port));
    const RunResult m4 = run({"m4", (dir_ / "sendmail.mc").string()}, 60s);
    if (!m4.ok() || m4.output.find("*** ERROR") != std::string::npos)
      throw std::runtime_error("m4 failed on sendmail.mc: " + m4.output.substr(0, 2000));
    write_file(dir_ / "sendmail.cf", m4.output);
    daemon_ = Child::spawn({HARDEN_MTA_SANDBOX, "--", sendmail_binary().string(), "-C",
                            (dir_ / "sendmail.cf").string(), "-bD"},
                           log_to(dir_ / "sendmail.out"));
    wait_listening(daemon_, port_, "sendmail", [this] { return log(); });
  }

  void stop() override { daemon_.terminate(10s); }

 private:
  std::string mc(std::uint16_t milter_port) const {
    const std::string d = dir_.string();
    auto def = [](const std::string& k, const std::string& v) {
      return "define(`" + k + "', `" + v + "')dnl\n";
    };
    return "divert(-1)\ndivert(0)dnl\n"
           "include(`" +
           (sendmail_root() / "usr/share/sendmail/cf/m4/cf.m4").string() +
           "')dnl\n"
           "VERSIONID(`milter-harden real-MTA test')dnl\n"
           "OSTYPE(`linux')dnl\n" +
           def("confCW_FILE", d + "/local-host-names") + def("QUEUE_DIR", d + "/queue") +
           def("confPID_FILE", d + "/sendmail.pid") + def("ALIAS_FILE", d + "/aliases") +
           def("STATUS_FILE", d + "/statistics") + def("confDONT_PROBE_INTERFACES", "true") +
           def("confBIND_OPTS", "-DNSRCH -DEFNAMES") + def("confTO_IDENT", "0") +
           def("confHOST_STATUS_DIRECTORY", "") +
           "FEATURE(`accept_unresolvable_domains')dnl\n"
           "FEATURE(`no_default_msa')dnl\n"
           "DAEMON_OPTIONS(`Port=" +
           std::to_string(port_) +
           ", Addr=127.0.0.1, Name=MTA')dnl\n"
           "INPUT_MAIL_FILTER(`harden', `S=inet:" +
           std::to_string(milter_port) +
           "@127.0.0.1, F=T, T=C:10s;S:20s;R:20s;E:5m')dnl\n"
           "MAILER(`local')dnl\n"
           "MAILER(`smtp')dnl\n";
  }

  fs::path dir_;
  std::uint16_t port_;
  Child daemon_;
};

}  // namespace

std::string Mta::good_rcpt(int i) const {
  return "<" + std::string(kUsers[static_cast<std::size_t>(i) % std::size(kUsers)]) + "@localhost>";
}

std::string Mta::bad_rcpt(int i) const {
  return "<no-such-user-" + std::to_string(i) + "@localhost>";
}

std::unique_ptr<Mta> make_postfix(const fs::path& dir, std::string extra_main_cf) {
  return std::make_unique<Postfix>(dir, std::move(extra_main_cf));
}

std::unique_ptr<Mta> make_mta(const std::string& kind, const fs::path& dir) {
  if (kind == "postfix") return std::make_unique<Postfix>(dir);
  if (kind == "sendmail") return std::make_unique<Sendmail>(dir);
  throw std::invalid_argument("unknown MTA " + kind);
}

std::string mta_unavailable(const std::string& kind) {
  if (::geteuid() != 0) return "needs root (a private MTA instance, a mount namespace)";
  if (kind == "postfix") {
    if (!run({"postconf", "-d", "mail_version"}, 30s).ok())
      return "postfix is not installed: run scripts/install-deps.sh";
    return "";
  }
  if (!fs::exists(sendmail_binary()))
    return "sendmail not unpacked at " + sendmail_binary().string() +
           " (ctest fixture mta_fetch_sendmail runs scripts/fetch-mta.sh)";
  if (run({HARDEN_MTA_SANDBOX, "--", "true"}, 30s).exit_code == 77)
    return "mount namespaces unavailable (scripts/mta-sandbox.sh)";
  return "";
}

}  // namespace harden::testing
