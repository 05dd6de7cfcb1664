// protocol.hpp - the milter side of the milter protocol (version 6, as
// Postfix 3.x and sendmail 8.14+ speak it), sans I/O: bytes in, calls to a
// handler and reply bytes out. The native engine (native_server.hpp) runs one
// ProtocolSession per MTA connection; the libFuzzer target drives it too.
//
// SYNOPSIS
//   struct H : ProtocolHandler { ... };                // the Engine side
//   ProtocolSession s(handler, ProtocolOptions{});
//   Feed f = s.feed(bytes);                           // as they arrive
//   send(s.take_output());                            // reply packets, may be empty
//   if (f.status == Feed::Status::pending) { ...later: s.complete(reply); feed({}) ... }
//   if (f.status == Feed::Status::violation) { log to_string(f.violation); close; }
//   if (f.status == Feed::Status::closed) close;      // QUIT
//
// WIRE FORMAT
//   Every packet: a 4-byte big-endian length (command byte included), one
//   command byte, the data. A length of 0, or above kMaxPacketLength
//   (libmilter's MILTER_MAX_DATA_SIZE + the command byte), is a violation
//   before any of its data is buffered.
//
// WHAT IS CHECKED (any failure: Feed::Status::violation, nothing more is
// processed, the connection must be closed; the handler sees session_end)
//   - OPTNEG first and once: version >= 2, at least 12 data bytes.
//   - CONNECT: host name NUL-terminated, family one of U L 4 6, then (not U)
//     a 2-byte port and a NUL-terminated address that ends the packet;
//     a second CONNECT without QUIT_NC in between is out of order.
//   - MACRO: a command byte, then NUL-terminated strings in name/value pairs
//     (an odd count, as a NUL inside a value gives, is refused), names of
//     1..kMaxMacroName bytes, values of at most kMaxMacroValue, at most
//     kMaxMacros pairs per packet; no strings at all is an empty list. Postfix
//     also sends macros for UNKNOWN, HEADER and BODY: checked, then dropped
//     (libmilter drops them too); a byte that is no command is refused.
//   - HELO, UNKNOWN: one NUL-terminated string; MAIL, RCPT: one or more;
//     HEADER: two (name, value); DATA, EOH: no data; BODY, EOM: any bytes.
//   - Order: nothing but OPTNEG before OPTNEG; HELO, MAIL, UNKNOWN only after
//     CONNECT; RCPT, DATA, HEADER, EOH, BODY, EOM only inside a transaction
//     (after MAIL, until EOM, ABORT, or a reply that ends it); ABORT, MACRO,
//     QUIT, QUIT_NC anywhere after OPTNEG; an unknown command byte is refused.
//     As in libmilter, MAIL or HELO inside a transaction ends it first
//     (message_end), a reply other than continue to MAIL, DATA, HEADER, EOH or
//     BODY ends it, and to RCPT only accept does.
//   - Negotiation: actions and protocol flags are cut to what the MTA offered
//     (sendmail refuses more); SMFIP_NOCONNECT and SMFIP_NOMAIL are never
//     asked for, since the order rules above need CONNECT and MAIL.
//   - While a reply is pending (Feed::Status::pending) bytes are buffered, not
//     processed, as libmilter reads one command at a time; at most
//     ProtocolOptions::max_buffered bytes may wait (else buffer_overflow).
//
// MACROS
//   Each MACRO packet replaces the list of its stage (the command byte it
//   names). lookup() searches the stages from the latest back to connect,
//   as smfi_getsymval does, and finds "j" as "{j}" and "{j}" as "j". An
//   ABORT clears the mail-and-later stages; QUIT_NC clears every stage.
//
// REPLIES
//   The handler answers CONNECT, HELO, MAIL, RCPT with a Response: a Reply
//   now, or pending (the server completes it later with complete()). Every
//   other command that expects a reply gets SMFIR_CONTINUE. Steps the milter
//   negotiated SMFIP_NR_* for get no reply. A Reply of kind replycode is sent
//   as SMFIR_REPLYCODE with "rcode[ xcode][ text]"; the first digit of rcode
//   must be 4 or 5 (else it is sent as plain reject).
//
// THREAD SAFETY
//   None: one session, one thread at a time. Nothing here throws except std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace harden::milter {

inline constexpr std::size_t kMaxPacketLength = 65535 + 1;  // MILTER_MAX_DATA_SIZE + command
inline constexpr std::size_t kMaxMacros = 128;              // name/value pairs per packet
inline constexpr std::size_t kMaxMacroName = 64;
inline constexpr std::size_t kMaxMacroValue = 4096;

enum class Violation : std::uint8_t {
  zero_length,        // packet length 0 (no command byte)
  oversized,          // packet length > kMaxPacketLength
  unknown_command,    // command byte not in the protocol
  malformed,          // a packet's data does not have its command's shape
  odd_macros,         // MACRO strings not in name/value pairs
  macro_limits,       // too many macros, a name or value too long, an empty name
  out_of_order,       // a command the protocol state does not allow now
  duplicate_connect,  // CONNECT twice without QUIT_NC
  bad_version,        // OPTNEG version < 2
  buffer_overflow,    // more than max_buffered bytes waiting behind a pending reply
};
inline constexpr std::size_t kViolationKinds = 10;
std::string_view to_string(Violation v);  // "odd_macros", ...

// What the MTA offered in OPTNEG, and what the milter asks for in return.
struct Negotiation {
  std::uint32_t version = 0;
  std::uint32_t actions = 0;   // SMFIF_*
  std::uint32_t protocol = 0;  // SMFIP_*
};

// The macro lists the milter asks for (SMFIR_SETSYMLIST / optneg reply),
// sent only when the MTA offered SMFIF_SETSYMLIST.
struct SymList {
  std::uint32_t stage = 0;  // SMFIM_CONNECT, SMFIM_ENVFROM, SMFIM_ENVRCPT, ...
  // Space-separated, e.g. "{client_addr} {client_port}"; read before
  // negotiate()'s caller returns, so it may view text the handler keeps.
  std::string_view macros;
};

struct ProtocolOptions {
  std::size_t max_buffered = 256 * 1024;  // input waiting behind a pending reply
};

struct Reply {
  enum class Kind : std::uint8_t { continue_, accept, reject, tempfail, replycode };
  Kind kind = Kind::continue_;
  std::string rcode;  // replycode: "421"
  std::string xcode;  // replycode: "4.3.2" or empty
  std::string text;   // replycode: text or empty
};

// A handler's answer: a reply now, or later through ProtocolSession::complete.
struct Response {
  std::optional<Reply> reply;  // nullopt = pending
  static Response now(Reply r) { return Response{std::move(r)}; }
  static Response later() { return Response{std::nullopt}; }
};

enum class AddressFamily : char { unknown = 'U', local = 'L', inet = '4', inet6 = '6' };

struct ConnectCommand {
  std::string_view hostname;
  AddressFamily family = AddressFamily::unknown;
  std::uint16_t port = 0;
  std::string_view address;  // empty for family unknown
};

class ProtocolSession;

// "421": three digits, the first 4 or 5 (a milter refuses, never accepts
// with a code). "4.3.2": an enhanced status code whose class is `klass`.
bool valid_reply_code(std::string_view r);
bool valid_enhanced_code(std::string_view x, char klass);

// The packet for `r` (SMFIR_CONTINUE, _ACCEPT, _REJECT, _TEMPFAIL or
// _REPLYCODE), as the session sends it.
std::string encode_reply(const Reply& r);

// The Engine side. string_views are valid only during the call.
class ProtocolHandler {
 public:
  virtual ~ProtocolHandler() = default;
  // What to ask for, given the MTA's offer (version is answered by the session).
  virtual Negotiation negotiate(const Negotiation& offered, std::vector<SymList>& symlists) = 0;
  virtual Response connect(const ProtocolSession& s, const ConnectCommand& c) = 0;
  virtual Response helo(const ProtocolSession& s, std::string_view name) = 0;
  virtual Response mail(const ProtocolSession& s, const std::vector<std::string_view>& args) = 0;
  virtual Response rcpt(const ProtocolSession& s, const std::vector<std::string_view>& args) = 0;
  // The message was aborted (ABORT), or ended (EOM).
  virtual void message_end() = 0;
  // The SMTP session ended: QUIT, QUIT_NC (a new one may follow on this
  // connection), a violation, or the connection closing (the server calls
  // ProtocolSession::close). Called at most once per CONNECT, and only after one.
  virtual void session_end() = 0;
};

struct Feed {
  enum class Status : std::uint8_t {
    more,       // everything buffered was processed; feed more bytes
    pending,    // a handler answered later(); call complete()
    closed,     // QUIT: close the connection after sending the output
    violation,  // see `violation`; close the connection
  };
  Status status = Status::more;
  Violation violation = Violation::malformed;
};

class ProtocolSession {
 public:
  ProtocolSession(ProtocolHandler& handler, ProtocolOptions options = {});

  // Appends `bytes` and processes whole packets until one is pending, QUIT,
  // a violation, or the buffer is drained. After closed/violation, further
  // calls return the same status and do nothing.
  Feed feed(std::string_view bytes);
  // Sends the pending reply and goes on with buffered packets.
  Feed complete(const Reply& reply);
  // The connection is gone: session_end() if a session is open. Idempotent.
  void close();

  // Reply bytes produced so far, and clears them.
  std::string take_output();
  bool has_output() const { return !out_.empty(); }

  // The macro's value as the MTA last sent it, nullopt when not sent.
  std::optional<std::string_view> lookup(std::string_view name) const;
  const Negotiation& negotiated() const { return negotiated_; }
  bool pending() const { return pending_ != 0; }
  std::size_t buffered() const { return in_.size() - in_pos_; }

 private:
  Feed run();
  std::optional<Feed> dispatch(char cmd, std::string_view data);
  std::optional<Feed> optneg(std::string_view data);
  std::optional<Feed> macro(std::string_view data);
  std::optional<Feed> connect(std::string_view data);
  std::optional<Feed> respond(char cmd, const Response& r);
  void apply(char cmd, const Reply& reply);  // send it, then its effect on the state
  void send(char cmd, const Reply& reply);   // unless negotiated SMFIP_NR_* says no reply
  Feed fail(Violation v);
  void end_message();
  void end_session();

  ProtocolHandler& handler_;
  ProtocolOptions options_;
  std::string in_;
  std::size_t in_pos_ = 0;
  std::string out_;
  Negotiation negotiated_{};
  char pending_ = 0;  // command byte whose reply is pending, 0: none
  Feed final_{};
  bool done_ = false;
  bool negotiated_done_ = false;
  bool connected_ = false;
  bool in_transaction_ = false;
  std::vector<std::string_view> args_;  // scratch: a packet's strings
  // The macros of one stage (SMFIM_*): the packet's strings copied once, and
  // where each name and value lies in that copy (offsets, not views: they
  // stay right if the session is copied).
  struct MacroStage {
    std::string text;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;  // name, value, name, ...
    void clear() {
      text.clear();
      spans.clear();
    }
  };
  std::vector<MacroStage> macros_;
};

}  // namespace harden::milter
