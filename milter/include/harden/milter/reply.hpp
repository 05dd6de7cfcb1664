// reply.hpp - the ONE place where a policy::Decision becomes a milter reply
// and an enforcement log line.
//
// SYNOPSIS
//   MilterReply r = to_milter_reply(decision, Stage::connect);
//   // r.status is an SMFIS_* value; with r.has_reply() the adapter calls
//   // smfi_setreply(ctx, r.rcode, r.xcode or NULL, r.text or NULL)
//   Reply p = to_protocol_reply(r);       // the native engine sends this instead
//   std::string line = enforcement_line(decision, client);   // "" when nothing to log
//
// REPLY RULES
//   proceed                  SMFIS_CONTINUE (after Decision::delay, slept by the adapter)
//   accept_all at connect    SMFIS_ACCEPT: the MTA skips this milter for the session
//   reject / tempfail        SMFIS_REJECT for a 5xx code, SMFIS_TEMPFAIL for 4xx; the status
//                            follows the reply code's first digit, because libmilter sends
//                            the custom reply only when they agree
//   monitor                  SMFIS_CONTINUE; the log line says "would reject"
//   A reply code that is not 4xx/5xx falls back to 550 / 451 by verdict; an
//   enhanced code that is malformed or disagrees with the reply code is dropped.
//   Text is made safe for smfi_setreply: printable ASCII only (others become
//   '?'), '%' doubled (the MTA formats it), no CR/LF, at most kMaxReplyText.
//
// LOG LINE (one per enforcement, fail2ban-matchable)
//   reject: client=[192.0.2.7] name=dsl-1-2.example.net kind=conn_rate rule=default
//     figure="conn_rate 6/1m > 5/1m" reply="421 4.3.2 Connection rate limit exceeded."
//   verbs: "reject" (any refusal, 4xx or 5xx: see reply=), "throttle" (RCPT answered
//   late, reply="delayed 1000ms"), "would reject" / "would throttle" in monitor.
//   Values are quoted (and '"', '\' and control bytes escaped) when they hold
//   spaces, quotes or '='; the client address is always in brackets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harden/milter/protocol.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/decision.hpp"

namespace harden::milter {

inline constexpr std::size_t kMaxReplyText = 900;  // libmilter refuses more than 980

struct MilterReply {
  int status = 0;     // SMFIS_CONTINUE, SMFIS_ACCEPT, SMFIS_REJECT or SMFIS_TEMPFAIL
  std::string rcode;  // "421"; empty: no smfi_setreply
  std::string xcode;  // "4.3.2"; empty: pass NULL
  std::string text;   // sanitized; empty: pass NULL

  bool has_reply() const { return !rcode.empty(); }
  // "421 4.3.2 Connection rate limit exceeded." with the '%' doubling undone.
  std::string to_string() const;
};

enum class Stage : std::uint8_t { connect, envfrom, envrcpt };

MilterReply to_milter_reply(const policy::Decision& d, Stage stage);
// The same reply for the native engine (protocol.hpp): SMFIS_CONTINUE ->
// continue, SMFIS_ACCEPT -> accept, a refusal with a code -> replycode with
// the same text libmilter would send, without one -> reject / tempfail.
Reply to_protocol_reply(const MilterReply& r);
// Printable ASCII, '%' as "%%", no CR/LF, trimmed, at most kMaxReplyText bytes.
std::string sanitize_reply_text(std::string_view text);

// Who the line is about. Every session has one and few are ever logged, so
// an address given as policy::IpAddress is put in words only for a line.
class LogClient {
 public:
  LogClient() = default;
  LogClient(std::string address, std::string name)  // "192.0.2.7"
      : text_(std::move(address)), name_(std::move(name)) {}
  // `ip` nullopt: a client without an address ("local").
  LogClient(std::optional<policy::IpAddress> ip, std::string name)
      : ip_(ip), name_(std::move(name)) {}

  std::string address() const {
    if (ip_) return ip_->to_string();
    return text_.empty() ? "local" : text_;
  }
  // As the MTA gave it ("unknown", "[192.0.2.7]", a host name).
  const std::string& name() const { return name_; }

 private:
  std::optional<policy::IpAddress> ip_;
  std::string text_;
  std::string name_;
};

// The enforcement line for `d`, or "" when `d` enforces nothing (plain proceed,
// accept_all).
std::string enforcement_line(const policy::Decision& d, const LogClient& client);
// The line of a penalty's start ("penalty: client=[A] name=N kind=penalty key=K n=2
// length=20m until=T offence=pregreet rule=R", or "would penalise: ..."),
// matched by the fail2ban filter like a "reject:" line.
std::string penalty_line(const policy::PenaltyStart& p, const LogClient& client,
                         std::string_view rule);
// The line of its end: "penalty end: key=K n=2 since=T offence=pregreet" (+ " lifted=yes").
std::string penalty_end_line(const policy::IpNetwork& key, const policy::Penalty& p, bool lifted);
// A logfmt value: bare when safe, else quoted with '"', '\' and control bytes escaped.
std::string log_value(std::string_view v);

}  // namespace harden::milter
