// sendmail_mc.cpp - sendmail.mc lines for milter-harden (see sendmail.hpp).
//
// Only fixed text, numbers, durations and the checked socket spec are
// written outside `dnl #` comments, so nothing in the policy can reach m4.
#include <algorithm>
#include <array>

#include "common.hpp"
#include "harden/mtaconf/macros.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/rate.hpp"

namespace harden::mtaconf {

namespace {

using detail::quote;

struct Timeout {
  std::string_view define;
  std::string_view value;
  std::string_view doc;
};

// Short SMTP timeouts against floods that hold connections open; sendmail's
// defaults are minutes to an hour. datafinal stays long enough that a slow
// receiver is not mistaken for a failure (a duplicate delivery).
constexpr std::array<Timeout, 12> kShortTimeouts{{
    {"confTO_INITIAL", "1m", "wait for the greeting of a remote server"},
    {"confTO_CONNECT", "1m", "connect() to a remote server"},
    {"confTO_HELO", "2m", "reply to HELO/EHLO"},
    {"confTO_MAIL", "2m", "reply to MAIL"},
    {"confTO_RCPT", "2m", "reply to RCPT"},
    {"confTO_DATAINIT", "2m", "reply to DATA"},
    {"confTO_DATABLOCK", "2m", "each read of the message body (as client and server)"},
    {"confTO_DATAFINAL", "5m", "reply to the final dot"},
    {"confTO_RSET", "1m", "reply to RSET"},
    {"confTO_QUIT", "1m", "reply to QUIT"},
    {"confTO_MISC", "1m", "reply to NOOP, VERB and the like"},
    {"confTO_COMMAND", "1m", "the next command from a client (server side)"},
}};

std::string check_unix_path(std::string_view spec, std::string_view path) {
  if (path.empty() || path.front() != '/') {
    throw GenerateError("milter socket " + quote(spec) + ": the path must be absolute");
  }
  if (path.size() > 107) {
    throw GenerateError("milter socket " + quote(spec) + ": path longer than 107 characters");
  }
  if (!std::all_of(path.begin(), path.end(), detail::is_path_char)) {
    throw GenerateError("milter socket " + quote(spec) +
                        ": the path may hold only letters, digits and . _ / + -");
  }
  return std::string(path);
}

std::string check_inet(std::string_view spec, std::string_view kind, std::string_view rest) {
  const auto at = rest.find('@');
  if (at == std::string_view::npos) {
    throw GenerateError("milter socket " + quote(spec) + ": expected " + std::string(kind) +
                        ":PORT@HOST (sendmail needs the host)");
  }
  const std::string_view port = rest.substr(0, at);
  const std::string_view host = rest.substr(at + 1);
  std::uint32_t n = 0;
  try {
    n = policy::parse_count(port, "port", 65535);
  } catch (const policy::PolicyError&) {
    n = 0;
  }
  if (n == 0) throw GenerateError("milter socket " + quote(spec) + ": bad port " + quote(port));
  const auto addr = policy::IpAddress::try_parse(host);
  const bool v6 = kind == "inet6";
  if (addr && host.starts_with("IPv6:")) {
    throw GenerateError("milter socket " + quote(spec) + ": write the address without IPv6:");
  }
  if (addr && addr->is_v4() == v6) {
    throw GenerateError("milter socket " + quote(spec) + ": " + quote(host) +
                        " is not an address of family " + std::string(kind));
  }
  if (!addr && !detail::is_safe_hostname(host)) {
    throw GenerateError("milter socket " + quote(spec) + ": bad host " + quote(host));
  }
  return std::string(kind) + ":" + std::to_string(n) + "@" +
         (addr ? addr->to_string() : std::string(host));
}

std::string on_failure_flag(MilterOnFailure f) {
  switch (f) {
    case MilterOnFailure::tempfail:
      return "F=T, ";
    case MilterOnFailure::reject:
      return "F=R, ";
    case MilterOnFailure::tempfail_close:
      return "F=4, ";
    case MilterOnFailure::none:
      return "";
  }
  return "";
}

std::string dnl(std::string_view text) {
  return "dnl # " + std::string(text) + "\n";
}

std::string define(std::string_view name, std::string_view value) {
  return "define(`" + std::string(name) + "', `" + std::string(value) + "')dnl\n";
}

std::string milter_lines(const policy::Policy& p, const SendmailMcOptions& o,
                         policy::UnixTime now) {
  const std::string socket = check_milter_socket(o.socket);
  const auto reply = milter_reply_timeout(p, now);
  std::string out;
  out += dnl("The milter. F= says what sendmail does with mail while the milter is down:");
  out += dnl("  F=T tempfails it (451 4.3.2), F=R rejects it (550), F=4 answers 421 and");
  out += dnl("  closes; without F= sendmail goes on without the milter (mail unchecked).");
  out += dnl("T=R: is how long sendmail waits for the connect reply (its default 10s): it");
  out += dnl("  must exceed the longest greet_pause of the policy, so it is that plus " +
             policy::format_duration(kReplyTimeoutMargin) + ".");
  out += "INPUT_MAIL_FILTER(`milter-harden', `S=" + socket + ", " + on_failure_flag(o.on_failure) +
         "T=C:10s;S:10s;R:" + std::to_string(reply.count()) + "s;E:5m')dnl\n";
  return out;
}

// Is `item` one of the comma-separated entries of `list` ("j, _, {daemon_name}")?
bool in_list(std::string_view list, std::string_view item) {
  for (std::size_t pos = 0; pos <= list.size();) {
    const auto end = std::min(list.find(',', pos), list.size());
    std::string_view entry = list.substr(pos, end - pos);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    if (entry == item) return true;
    pos = end + 1;
  }
  return false;
}

std::string macro_lines() {
  std::string out;
  out += dnl("Macros the milter reads (the list its smfi_setsymlist() asks for), added to");
  out += dnl("sendmail's defaults; this assumes no earlier line of the .mc replaced them.");
  for (const auto& list : kMacroLists) {
    const std::string option(list.sendmail_option);
    std::string add;
    for (auto m : list.macros) {
      if (!in_list(sendmail_default(list.stage), m)) add += ", " + std::string(m);
    }
    if (add.empty()) {
      out += dnl(option + ": sendmail's default has them all");
    } else {
      out += "define(`" + option + "', defn(`" + option + "')``" + add + "'')dnl\n";
    }
  }
  return out;
}

std::string option_lines(const policy::Policy& p, const SendmailMcOptions& o) {
  const auto& d = p.default_rule().attrs;
  std::string out;
  out += dnl("Global limits from the default rule of the policy.");
  if (d.max_rcpts) out += define("confMAX_RCPTS_PER_MESSAGE", std::to_string(*d.max_rcpts));
  if (d.bad_rcpt_throttle) {
    out += define("confBAD_RCPT_THROTTLE", std::to_string(*d.bad_rcpt_throttle));
  }
  if (d.conn_rate) {
    out += define("confCONNECTION_RATE_WINDOW_SIZE",
                  policy::format_duration(connection_rate_window(p)));
  }
  if (o.connection_rate_throttle != 0) {
    out += dnl("Connections accepted per second, all clients together.");
    out += define("confCONNECTION_RATE_THROTTLE", std::to_string(o.connection_rate_throttle));
  }
  if (o.max_daemon_children != 0) {
    out += define("confMAX_DAEMON_CHILDREN", std::to_string(o.max_daemon_children));
  }
  if (o.short_timeouts) {
    out += dnl("Short SMTP timeouts against floods that hold connections open.");
    for (const auto& t : kShortTimeouts) {
      out += "define(`" + std::string(t.define) + "', `" + std::string(t.value) + "')dnl # " +
             std::string(t.doc) + "\n";
    }
  }
  return out;
}

// FEATURE(name, args) unless the .mc has it already: then an m4 *** ERROR,
// because a second copy would give sendmail the ruleset twice.
std::string feature_once(std::string_view name, std::string_view guard, std::string_view call) {
  return "ifdef(`" + std::string(guard) + "', `errprint(`*** ERROR: FEATURE(`" + std::string(name) +
         "') is in the .mc before the milter-harden lines: delete it, the generated one replaces "
         "it\n')', `" +
         std::string(call) + "')dnl\n";
}

std::string native_lines(const policy::Policy& p) {
  const auto& d = p.default_rule().attrs;
  const std::uint32_t pause = d.greet_pause.value_or(0);
  std::string out;
  out += dnl("sendmail's own per-client limits, from the access map entries of");
  out += dnl("`hardenctl gen sendmail-access` (makemap hash /etc/mail/access < file).");
  out += dnl("Delete the FEATURE(`ratecontrol'), FEATURE(`conncontrol') and");
  out += dnl("FEATURE(`greet_pause') lines Debian's sendmail.mc has: these replace them.");
  out += dnl("sendmail's greet_pause runs after the milter's: a client waits for both.");
  out += "ifdef(`_ACCESS_TABLE_', `', `FEATURE(`access_db')')dnl\n";
  for (std::string_view f : {"ratecontrol", "conncontrol"}) {
    const std::string name(f);
    const std::string guard = f == "ratecontrol" ? "_RATE_CONTROL_" : "_CONN_CONTROL_";
    out += feature_once(name, guard,
                        "ifdef(`_DELAY_CHECKS_', `FEATURE(`" + name +
                            "', `nodelay', `terminate')', `FEATURE(`" + name +
                            "', `', `terminate')')");
  }
  out += feature_once("greet_pause", "_GREET_PAUSE_",
                      "FEATURE(`greet_pause', `" + std::to_string(pause) + "')");
  return out;
}

}  // namespace

MilterOnFailure parse_on_failure(std::string_view text) {
  if (text == "T") return MilterOnFailure::tempfail;
  if (text == "R") return MilterOnFailure::reject;
  if (text == "4") return MilterOnFailure::tempfail_close;
  if (text == "none") return MilterOnFailure::none;
  throw GenerateError("milter failure mode " + quote(text) + ": expected T, R, 4 or none");
}

std::string check_milter_socket(std::string_view spec) {
  const auto colon = spec.find(':');
  if (spec.size() > 300 || colon == std::string_view::npos) {
    throw GenerateError("milter socket " + quote(spec) +
                        ": expected unix:/PATH, local:/PATH, inet:PORT@HOST or inet6:PORT@HOST");
  }
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  if (kind == "unix" || kind == "local") {
    return std::string(kind) + ":" + check_unix_path(spec, rest);
  }
  if (kind == "inet" || kind == "inet6") return check_inet(spec, kind, rest);
  throw GenerateError("milter socket " + quote(spec) + ": unknown kind " + quote(kind) +
                      " (unix, local, inet, inet6)");
}

std::string sendmail_feature() {
  const std::string reply = std::to_string(
      (detail::ceil_seconds(policy::kMaxGreetPauseMs) + kReplyTimeoutMargin).count());
  std::string out =
      R"(dnl # milter_harden.m4 - sendmail FEATURE for milter-harden, the policy milter.
dnl # Generated by `hardenctl gen sendmail-feature' from the macro list the daemon
dnl # asks for (mtaconf/include/harden/mtaconf/macros.hpp); do not edit by hand.
dnl #
dnl # Install: copy into sendmail's cf/feature/ (Debian: /usr/share/sendmail/cf/feature/),
dnl # then in sendmail.mc, after the other FEATURE() lines:
dnl #
dnl #   FEATURE(`milter_harden')                    socket unix:/run/milter-harden/milter.sock, F=T
dnl #   FEATURE(`milter_harden', `inet:8894@127.0.0.1')
dnl #   FEATURE(`milter_harden', `unix:/run/milter-harden/milter.sock', `R')
dnl #
dnl # The first argument is the milter socket in sendmail's S= form (unix:/PATH,
dnl # inet:PORT@HOST, inet6:PORT@HOST). The second says what sendmail does with
dnl # mail while the milter is down: T tempfails it (451 4.3.2, the default),
dnl # R rejects it, 4 answers 421 and closes, none goes on unchecked.
dnl # sendmail waits T=R: for the connect reply, which milter-harden holds for
dnl # the greet pause (at most 60s): the default T= is C:10s;S:10s;R:)" +
      reply + R"(s;E:5m;
dnl # define(`confMILTER_HARDEN_TIMEOUTS', `...') before the FEATURE changes it.
dnl # `hardenctl gen sendmail-mc' prints the same lines with R: fitted to the
dnl # policy, and the policy's global options.
dnl #
VERSIONID(`$Id: milter_harden.m4 (milter-harden) $')
divert(-1)

ifelse(len(X`'_ARG_), `1', `define(`_MILTER_HARDEN_SOCKET_', `unix:/run/milter-harden/milter.sock')',
	`define(`_MILTER_HARDEN_SOCKET_', _ARG_)')
ifelse(len(X`'_ARG2_), `1', `define(`_MILTER_HARDEN_F_', `T')', `define(`_MILTER_HARDEN_F_', _ARG2_)')
ifdef(`confMILTER_HARDEN_TIMEOUTS', `',
	`define(`confMILTER_HARDEN_TIMEOUTS', `C:10s;S:10s;R:)" +
      reply + R"(s;E:5m')')
ifelse(_MILTER_HARDEN_F_, `none',
	`INPUT_MAIL_FILTER(`milter-harden', `S='_MILTER_HARDEN_SOCKET_`, T='confMILTER_HARDEN_TIMEOUTS)',
	`INPUT_MAIL_FILTER(`milter-harden', `S='_MILTER_HARDEN_SOCKET_`, F='_MILTER_HARDEN_F_`, T='confMILTER_HARDEN_TIMEOUTS)')
)";
  return out + macro_lines();
}

std::chrono::seconds milter_reply_timeout(const policy::Policy& p, policy::UnixTime now) {
  return std::max(kSendmailDefaultReplyTimeout,
                  detail::ceil_seconds(detail::longest_greet_pause(p, now)) + kReplyTimeoutMargin);
}

std::chrono::seconds connection_rate_window(const policy::Policy& p) {
  const auto& d = p.default_rule().attrs;
  return d.conn_rate ? d.conn_rate->window : std::chrono::seconds{60};
}

std::string sendmail_mc(const policy::Policy& p, const SendmailMcOptions& o, const Provenance& from,
                        policy::UnixTime now) {
  std::string out = detail::header(from, "dnl # ",
                                   {"Paste into sendmail.mc after the FEATURE() lines, before",
                                    "MAILER_DEFINITIONS and MAILER(), then rebuild sendmail.cf",
                                    "(make -C /etc/mail, or sendmailconfig on Debian)."});
  out += milter_lines(p, o, now);
  out += macro_lines();
  out += option_lines(p, o);
  if (o.native_limits) out += native_lines(p);
  return out;
}

}  // namespace harden::mtaconf
