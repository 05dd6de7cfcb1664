// reply.cpp - Decision -> SMFIS_* + reply code, and the enforcement log line.
#include "harden/milter/reply.hpp"

#include <libmilter/mfapi.h>

#include <algorithm>

#include "harden/policy/ascii.hpp"

namespace harden::milter {
namespace {

using policy::Decision;
using policy::Verdict;

bool needs_quotes(std::string_view v) {
  return v.empty() || std::any_of(v.begin(), v.end(), [](char c) {
           return c == ' ' || !ascii::is_print(c) || c == '"' || c == '=' || c == '\\';
         });
}

}  // namespace

std::string sanitize_reply_text(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (out.size() >= kMaxReplyText) break;
    if (c == '%') {
      if (out.size() + 2 > kMaxReplyText) break;
      out += "%%";
    } else if (c == '\r' || c == '\n' || c == '\t') {
      out += ' ';
    } else {
      out += ascii::is_print(c) ? c : '?';
    }
  }
  const auto first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  const auto last = out.find_last_not_of(' ');
  return out.substr(first, last - first + 1);
}

MilterReply to_milter_reply(const Decision& d, Stage stage) {
  MilterReply r;
  if (d.verdict == Verdict::accept_all) {
    r.status = stage == Stage::connect ? SMFIS_ACCEPT : SMFIS_CONTINUE;
    return r;
  }
  if (!d.refuses()) {
    r.status = SMFIS_CONTINUE;
    return r;
  }
  r.rcode = valid_reply_code(d.rcode) ? d.rcode : (d.verdict == Verdict::reject ? "550" : "451");
  r.status = r.rcode[0] == '5' ? SMFIS_REJECT : SMFIS_TEMPFAIL;
  if (valid_enhanced_code(d.xcode, r.rcode[0])) r.xcode = d.xcode;
  r.text = sanitize_reply_text(d.text);
  return r;
}

Reply to_protocol_reply(const MilterReply& r) {
  Reply out;
  switch (r.status) {
    case SMFIS_ACCEPT:
      out.kind = Reply::Kind::accept;
      return out;
    case SMFIS_REJECT:
    case SMFIS_TEMPFAIL:
      if (r.has_reply()) {
        out.kind = Reply::Kind::replycode;
        out.rcode = r.rcode;
        out.xcode = r.xcode;
        out.text = r.text;
      } else {
        out.kind = r.status == SMFIS_REJECT ? Reply::Kind::reject : Reply::Kind::tempfail;
      }
      return out;
    default:
      return out;  // continue
  }
}

std::string MilterReply::to_string() const {
  std::string out = rcode;
  if (!xcode.empty()) out += " " + xcode;
  if (!text.empty()) {
    out += ' ';
    for (std::size_t i = 0; i < text.size(); ++i) {
      out += text[i];
      if (text[i] == '%' && i + 1 < text.size() && text[i + 1] == '%') ++i;
    }
  }
  return out;
}

std::string log_value(std::string_view v) {
  if (!needs_quotes(v)) return std::string(v);
  return "\"" + ascii::escape(v.substr(0, 1024), "\"\\") + "\"";
}

std::string enforcement_line(const Decision& d, const LogClient& client) {
  const bool throttle = d.kind == policy::DecisionKind::bad_rcpt_throttle;
  std::string verb;
  std::string reply;
  if (d.refuses() || (d.monitor && !throttle)) {
    verb = d.monitor ? "would reject" : "reject";
    Decision as_refusal = d;
    if (!as_refusal.refuses())
      as_refusal.verdict = d.rcode.starts_with('5') ? Verdict::reject : Verdict::tempfail;
    reply = to_milter_reply(as_refusal, Stage::envrcpt).to_string();
  } else if (throttle && (d.monitor || d.delay.count() > 0)) {
    verb = d.monitor ? "would throttle" : "throttle";
    reply = d.monitor ? std::string("delay") : "delayed " + std::to_string(d.delay.count()) + "ms";
  } else {
    return {};
  }
  return verb + ": client=[" + client.address() + "] name=" + log_value(client.name()) +
         " kind=" + std::string(policy::to_string(d.kind)) + " rule=" + log_value(d.rule) +
         " figure=" + log_value(d.figure) + " reply=" + log_value(reply);
}

std::string penalty_line(const policy::PenaltyStart& p, const LogClient& client,
                         std::string_view rule) {
  const policy::Penalty& pen = p.penalty;
  return std::string(p.monitor ? "would penalise" : "penalty") + ": client=[" + client.address() +
         "] name=" + log_value(client.name()) + " kind=penalty key=" + p.key.to_string() +
         " n=" + std::to_string(pen.n) + " length=" +
         policy::format_duration_ms(static_cast<std::uint64_t>(pen.until - pen.start)) +
         " until=" + policy::format_wall_ms(pen.until) + " offence=" + log_value(pen.reason) +
         " rule=" + log_value(rule);
}

std::string penalty_end_line(const policy::IpNetwork& key, const policy::Penalty& p, bool lifted) {
  return "penalty end: key=" + key.to_string() + " n=" + std::to_string(p.n) +
         " since=" + policy::format_wall_ms(p.start) + " offence=" + log_value(p.reason) +
         (lifted ? " lifted=yes" : "");
}

}  // namespace harden::milter
