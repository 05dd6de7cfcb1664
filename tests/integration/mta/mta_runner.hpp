// mta_runner.hpp - a real Postfix or sendmail on a loopback port, with its
// own configuration in a private directory, using milter-harden as its milter.
//
// SYNOPSIS
//   TempDir dir("harden-mta", "/run");                   // root-owned, not world-writable
//   std::unique_ptr<Mta> mta = make_mta("postfix", dir.path());
//   mta->start(milter_port);    // returns once it listens; throws with its log if it fails
//   SmtpClient c = SmtpClient::connect("127.0.0.1", mta->smtp_port(), 15s);
//   mta->log();                 // Postfix: its maillog_file; sendmail: its stdout/stderr
//   // ~Mta(): stops it (SIGTERM to its process group, SIGKILL past the deadline)
//
// POSTFIX (the installed package, run as a private instance)
//   main.cf/master.cf in DIR/postfix/conf: smtpd on 127.0.0.1:PORT, no
//   chroot (so inet: milter and unix sockets need no chroot paths),
//   smtpd_peername_lookup = no (no DNS here: the client is "unknown"),
//   mydestination includes localhost, local_recipient_maps from passwd (so
//   unknown users are refused 550 5.1.1), smtpd_milters = inet:127.0.0.1:MPORT,
//   maillog_file in DIR. `postfix -c CONF check` creates the queue; then
//   master -c CONF runs as our child (it makes itself a session leader, so
//   stopping it signals its process group: master and every smtpd).
//
// SENDMAIL (Debian's sendmail-bin unpacked by scripts/fetch-mta.sh into
//   HARDEN_MTA_DIR/sendmail, see /work/shared/REAL-MTAS.md)
//   A .mc with OSTYPE(linux), every file under DIR/sendmail (root-owned,
//   0755: sendmail's safe-file checks refuse world-writable paths),
//   DAEMON_OPTIONS on 127.0.0.1:PORT, INPUT_MAIL_FILTER(`harden',
//   `S=inet:MPORT@127.0.0.1, F=T, T=C:10s;S:20s;R:20s;E:5m') (R: above the
//   longest greet pause used), m4 -> .cf (m4 errors on stderr fail start()),
//   run with -bD under scripts/mta-sandbox.sh (a qualified host name and
//   the smmta/smmsp users in a private mount namespace). Local users are
//   <user>@localhost; unknown ones get 550 5.1.1 User unknown.
//
// Both need root; callers skip when not root.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace harden::testing {

class Mta {
 public:
  virtual ~Mta() = default;
  virtual std::string name() const = 0;
  virtual void start(std::uint16_t milter_port) = 0;
  virtual void stop() = 0;
  virtual std::uint16_t smtp_port() const = 0;
  virtual std::string log() const = 0;
  // A recipient the MTA accepts, and one it refuses as unknown.
  std::string good_rcpt(int i = 0) const;
  std::string bad_rcpt(int i = 0) const;
};

// "postfix" or "sendmail"; `dir` must be root-owned and not world-writable.
std::unique_ptr<Mta> make_mta(const std::string& kind, const std::filesystem::path& dir);
// A Postfix whose main.cf ends with `extra_main_cf`; start(0) runs it
// without a milter (Postfix's native limits alone).
std::unique_ptr<Mta> make_postfix(const std::filesystem::path& dir, std::string extra_main_cf);

// Why this machine cannot run `kind` ("" when it can): not root, postfix not
// installed, sendmail not unpacked, no mount namespaces.
std::string mta_unavailable(const std::string& kind);

}  // namespace harden::testing
