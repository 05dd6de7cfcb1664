// milter_client.hpp - the MTA side of the milter protocol (version 6), for
// tests and the benchmark: what sendmail or Postfix send to a milter.
//
// SYNOPSIS
//   MilterClient c = MilterClient::open("unix:/tmp/x/milter.sock", 5s);
//   Negotiated n = c.negotiate();                 // SMFIC_OPTNEG, reads the milter's wishes
//   c.macros('C', {{"{client_addr}", "192.0.2.7"}, {"j", "mx.test"}});
//   Reply r = c.connect("host.example", Family::inet, 40000, "192.0.2.7");
//   r = c.helo("client.example");  r = c.mail({"<a@b.example>"});
//   r = c.rcpt({"<x@y.example>"}); c.quit();
//   r.is_continue(); r.smtp_code() == "421"; r.text; r.elapsed
//
//   Session s = Session::start(addr, Peer{.address="192.0.2.7", ...}, 5s);   //
//   open+negotiate+connect
//
// Wire format: every packet is a 4-byte big-endian length (command byte
// included), one command byte, then the data. The client honours what the
// milter negotiated: steps with SMFIP_NO* are not sent (the call returns a
// synthetic "continue" reply with skipped=true) and steps with SMFIP_NR_*
// get no reply read. SMFIR_PROGRESS packets are skipped while waiting.
// Every read and write has a deadline; a milter that stays silent past it
// makes the call throw MilterError("... timed out ..."), as an MTA would
// give up. Replies longer than 1 MiB are refused.
//
// Socket specs: "unix:/path", "local:/path", "inet:PORT@HOST",
// "inet6:PORT@HOST" (libmilter's syntax; HOST is numeric).
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace harden::testing {

class MilterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Protocol constants (libmilter mfdef.h / mfapi.h), spelled out so the test
// support does not depend on libmilter's headers.
namespace smfi {
inline constexpr std::uint32_t kVersion = 6;
inline constexpr std::uint32_t kAllActions = 0x1FF;      // SMFIF_ADDHDRS .. SMFIF_SETSYMLIST
inline constexpr std::uint32_t kAllProtocol = 0x1FFFFF;  // SMFIP_NOCONNECT .. SMFIP_HDR_LEADSPC
inline constexpr std::uint32_t kNoConnect = 0x1, kNoHelo = 0x2, kNoMail = 0x4, kNoRcpt = 0x8;
inline constexpr std::uint32_t kNoUnknown = 0x100, kNoData = 0x200, kSkip = 0x400;
inline constexpr std::uint32_t kRcptRej = 0x800;
inline constexpr std::uint32_t kNrConn = 0x1000, kNrHelo = 0x2000, kNrMail = 0x4000,
                               kNrRcpt = 0x8000, kNrData = 0x10000;
inline constexpr std::uint32_t kSetSymList = 0x100;  // action SMFIF_SETSYMLIST
// Macro stages of SMFIR_SETSYMLIST / the optneg reply.
enum Stage : std::uint32_t { connect = 0, helo, envfrom, envrcpt, data, eom, eoh };
}  // namespace smfi

enum class Family : char { unknown = 'U', local = 'L', inet = '4', inet6 = '6' };

struct Reply {
  char code = 0;     // SMFIR_* byte: 'c' continue, 'y' replycode, 'r', 't', 'a', ...
  std::string text;  // SMFIR_REPLYCODE: "421 4.3.2 Connection rate ..."
  std::chrono::nanoseconds elapsed{0};  // from sending the command to the reply
  bool skipped = false;  // step not sent (SMFIP_NO*) or no reply expected (SMFIP_NR_*)

  bool is_continue() const { return code == 'c'; }
  bool is_accept() const { return code == 'a'; }
  // A refusal: reject, tempfail, replycode with 4xx/5xx, or shutdown / connfail.
  bool refuses() const;
  // "421" for a replycode, "550"/"451" for plain reject/tempfail, "" otherwise.
  std::string smtp_code() const;
  // "4.3.2" when the replycode text carries an enhanced status code.
  std::string enhanced_code() const;
  std::string describe() const;  // for assertion messages
};

struct Negotiated {
  std::uint32_t version = 0;
  std::uint32_t actions = 0;
  std::uint32_t protocol = 0;
  // Macro names the milter asked for per stage (index smfi::Stage), as sent.
  std::vector<std::pair<std::uint32_t, std::string>> symlists;

  bool wants(std::uint32_t protocol_flag) const { return (protocol & protocol_flag) != 0; }
  // The symlist of a stage ("" when none was sent).
  std::string symlist(std::uint32_t stage) const;
};

using Macros = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;

class MilterClient {
 public:
  static MilterClient open(const std::string& spec, std::chrono::milliseconds timeout);

  MilterClient(MilterClient&& o) noexcept;
  MilterClient& operator=(MilterClient&& o) noexcept;
  MilterClient(const MilterClient&) = delete;
  MilterClient& operator=(const MilterClient&) = delete;
  ~MilterClient();

  // The per-call deadline (default: the open timeout).
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  Negotiated negotiate(std::uint32_t version = smfi::kVersion,
                       std::uint32_t actions = smfi::kAllActions,
                       std::uint32_t protocol = smfi::kAllProtocol);
  const Negotiated& negotiated() const { return neg_; }

  // SMFIC_MACRO for the command `for_cmd` ('C', 'H', 'M', 'R', ...); no reply.
  void macros(char for_cmd, const Macros& m);
  Reply connect(const std::string& hostname, Family family, std::uint16_t port,
                const std::string& address);
  Reply helo(const std::string& name);
  Reply mail(const std::vector<std::string>& args);
  Reply rcpt(const std::vector<std::string>& args);
  Reply data();
  Reply eom();  // SMFIC_BODYEOB: end of message (no body sent)
  Reply unknown(const std::string& command);
  void abort();  // SMFIC_ABORT: end the message, keep the connection
  void quit();   // SMFIC_QUIT, then close the socket
  // SMFIC_QUIT_NC: this SMTP session ends, the next one reuses the milter
  // connection (libmilter allows it after end of message; CONNECT follows).
  void quit_nc();
  void close();  // drop the socket without a word (an MTA crashing)
  bool is_open() const { return fd_ >= 0; }

  // Raw access for hostile-input tests: send any packet, read one reply.
  void send_packet(char cmd, const std::string& data);
  void send_raw(const std::string& bytes);
  Reply read_reply();
  // True when the milter closed the connection within `within`.
  bool wait_closed(std::chrono::milliseconds within);

 private:
  explicit MilterClient(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
  Reply command(char cmd, const std::string& data, std::uint32_t no_flag, std::uint32_t nr_flag);
  void write_all(const std::string& bytes, Clock::time_point deadline);
  void read_exact(char* buf, std::size_t n, Clock::time_point deadline);

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  Negotiated neg_;
};

// The client as an MTA describes it at connect.
struct Peer {
  std::string address = "192.0.2.10";  // numeric IPv4 or IPv6
  std::uint16_t port = 40000;
  std::string hostname;      // verified rDNS name; "" = none ("[addr]" is sent, as sendmail)
  std::string resolve = "";  // {client_resolve}: "", "OK", "FAIL", "FORGED", "TEMP"
  std::string helo = "client.example";
  // The MTA's socket ({daemon_addr}, {daemon_port}); empty: loopback port 25.
  std::string daemon_addr;
  std::string daemon_port;
  Macros extra;  // more connect macros
};

// A peer at `address` with rDNS name `hostname` ("" = none), {client_resolve}
// `resolve` ("" = not sent, as Postfix), a port derived from the address.
Peer peer_at(const std::string& address, const std::string& hostname = "",
             const std::string& resolve = "");

// One SMTP session as an MTA drives it. start() opens, negotiates, sends the
// connect macros (sendmail-style, incl. {client_addr}, {client_name},
// {client_resolve}, {daemon_addr}, {daemon_port}) and CONNECT.
class Session {
 public:
  static Session start(const std::string& spec, const Peer& peer,
                       std::chrono::milliseconds timeout);

  MilterClient& client() { return client_; }
  const Reply& connect_reply() const { return connect_reply_; }

  Reply helo();
  Reply mail(const std::string& from = "<sender@example.org>");
  // rejected_by_mta: the MTA refused it already (SMFIP_RCPT_REJ, {rcpt_mailer}=error).
  Reply rcpt(const std::string& to, bool rejected_by_mta = false);
  void abort() { client_.abort(); }
  void quit() { client_.quit(); }

 private:
  Session(MilterClient c, Peer p) : client_(std::move(c)), peer_(std::move(p)) {}
  MilterClient client_;
  Peer peer_;
  Reply connect_reply_;
};

}  // namespace harden::testing
