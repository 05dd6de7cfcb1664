// decision.cpp - the pure checks and the replies of DESIGN.md "Replies".
#include "harden/policy/decision.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace harden::policy {
namespace {

constexpr std::array<std::string_view, kDecisionKindCount> kKindNames{
    "none",       "allowed",   "blocked",  "dialin",          "missing_rdns",
    "conn_limit", "conn_rate", "pregreet", "max_rcpts",       "bad_rcpt_throttle",
    "rcpt_rate",  "msg_rate",  "counters", "generic_hosting", "penalty"};

constexpr std::string_view kDefaultBlockText = "Access denied";

Decision refuse(Verdict v, DecisionKind kind, std::string rcode, std::string xcode,
                std::string text, std::string rule, std::string figure) {
  Decision d;
  d.verdict = v;
  d.kind = kind;
  d.rcode = std::move(rcode);
  d.xcode = std::move(xcode);
  d.text = std::move(text);
  d.rule = std::move(rule);
  d.figure = std::move(figure);
  return d;
}

std::string rate_figure(std::string_view name, std::uint32_t count, const Rate& r) {
  return std::string(name) + " " + std::to_string(count) + "/" + format_duration(r.window) + " > " +
         r.to_string();
}

}  // namespace

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::proceed:
      return "proceed";
    case Verdict::accept_all:
      return "accept";
    case Verdict::reject:
      return "reject";
    case Verdict::tempfail:
      return "tempfail";
  }
  return "?";
}

std::string_view to_string(DecisionKind k) {
  return kKindNames[static_cast<std::size_t>(k)];
}

std::string source_name(const Resolution& res, const Policy& policy, Attr a) {
  const Source& s = res.source(a);
  switch (s.kind) {
    case Source::Kind::rule:
      return policy.rules()[static_cast<std::size_t>(s.rule)].selector.text();
    case Source::Kind::heuristic:
    case Source::Kind::builtin:
      return res.detail;
    case Source::Kind::none:
      return "built-in default";
  }
  return "?";
}

Decision check_action(const Resolution& res, const Policy& policy) {
  const Limits& L = res.limits;
  switch (L.action) {
    case Action::allow: {
      Decision d;
      d.verdict = Verdict::accept_all;
      d.kind = DecisionKind::allowed;
      d.rule = source_name(res, policy, Attr::action);
      return d;
    }
    case Action::limit:
      return Decision{};  // the usual case: no rule name to build
    case Action::block:
    case Action::tempfail:
      break;
  }
  DecisionKind kind = DecisionKind::blocked;
  const Source& src = res.source(Attr::action);
  if (src.kind == Source::Kind::heuristic)
    kind = res.generic_hosting_hit ? DecisionKind::generic_hosting : DecisionKind::dialin;
  if (src.kind == Source::Kind::builtin) kind = DecisionKind::missing_rdns;
  const std::string text(L.reason.empty() ? kDefaultBlockText : L.reason);
  const std::string rule = source_name(res, policy, Attr::action);
  Decision d = L.action == Action::block
                   ? refuse(Verdict::reject, kind, "550", "5.7.1", text, rule, "action block")
                   : refuse(Verdict::tempfail, kind, "421", "4.7.0", text, rule, "action tempfail");
  d.monitor = L.monitor_only;
  return d;
}

Decision check_conn_limit(const Resolution& res, const Policy& policy, std::uint32_t open,
                          bool taken) {
  const auto limit = res.limits.conn_limit;
  if (taken || limit == 0) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::conn_limit, "421", "4.3.2",
                "Too many open connections.", source_name(res, policy, Attr::conn_limit),
                "conn_limit " + std::to_string(open + 1) + " > " + std::to_string(limit));
}

Decision check_conn_rate(const Resolution& res, const Policy& policy, std::uint32_t count) {
  const Rate& r = res.limits.conn_rate;
  if (r.unlimited() || count <= r.count) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::conn_rate, "421", "4.3.2",
                "Connection rate limit exceeded.", source_name(res, policy, Attr::conn_rate),
                rate_figure("conn_rate", count, r));
}

Decision check_counters(bool available) {
  if (available) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::counters, "421", "4.3.0",
                "Temporary failure, try again later.", "redis_failure tempfail",
                "counters unavailable");
}

Decision check_penalty(const Resolution& res, const Policy& policy, const Penalty& p) {
  const ModeSetting mode = res.limits.penalty;
  if (mode == ModeSetting::off) return Decision{};
  const bool reject = res.limits.penalty_reply == PenaltyReply::reject;
  Decision d = refuse(reject ? Verdict::reject : Verdict::tempfail, DecisionKind::penalty,
                      reject ? "554" : "421", reject ? "5.7.1" : "4.7.0",
                      reject ? "Rejected: too many offences" : "Too many offences, try again later",
                      source_name(res, policy, Attr::penalty),
                      "penalty " + std::to_string(p.n) + " until " + format_wall_ms(p.until) +
                          " (" + p.reason + ")");
  d.monitor = mode == ModeSetting::monitor;
  return d;
}

std::optional<Offence> offence_of(DecisionKind k) {
  switch (k) {
    case DecisionKind::pregreet:
      return Offence::pregreet;
    case DecisionKind::conn_rate:
      return Offence::conn_rate;
    case DecisionKind::conn_limit:
      return Offence::conn_limit;
    case DecisionKind::rcpt_rate:
      return Offence::rcpt_rate;
    case DecisionKind::msg_rate:
      return Offence::msg_rate;
    case DecisionKind::max_rcpts:
      return Offence::max_rcpts;
    case DecisionKind::bad_rcpt_throttle:
      return Offence::bad_rcpt_throttle;
    case DecisionKind::blocked:
      return Offence::blocked;
    case DecisionKind::dialin:
      return Offence::dialin;
    case DecisionKind::missing_rdns:
      return Offence::missing_rdns;
    default:
      return std::nullopt;
  }
}

Decision check_pregreet(const Resolution& res, const Policy& policy, std::uint64_t bytes) {
  if (bytes == 0) return Decision{};
  return refuse(Verdict::reject, DecisionKind::pregreet, "554", "5.7.1",
                "Rejected: pre-greeting traffic", source_name(res, policy, Attr::greet_pause),
                "pregreet " + std::to_string(bytes) + " bytes before greeting (greet_pause " +
                    std::to_string(res.limits.greet_pause) + "ms)");
}

Decision check_max_rcpts(const Resolution& res, const Policy& policy, std::uint32_t rcpts) {
  const auto max = res.limits.max_rcpts;
  if (max == 0 || rcpts <= max) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::max_rcpts, "452", "4.5.3", "Too many recipients",
                source_name(res, policy, Attr::max_rcpts),
                "max_rcpts " + std::to_string(rcpts) + " > " + std::to_string(max));
}

Decision check_bad_rcpt_throttle(const Resolution& res, const Policy& policy, std::uint32_t bad) {
  const auto n = res.limits.bad_rcpt_throttle;
  if (n == 0 || bad < n) return Decision{};
  Decision d;
  d.kind = DecisionKind::bad_rcpt_throttle;
  d.delay = std::chrono::seconds{1};
  d.rule = source_name(res, policy, Attr::bad_rcpt_throttle);
  d.figure = "bad_rcpt_throttle " + std::to_string(bad) + " >= " + std::to_string(n);
  return d;
}

Decision check_rcpt_rate(const Resolution& res, const Policy& policy, std::uint32_t count) {
  const Rate& r = res.limits.rcpt_rate;
  if (r.unlimited() || count <= r.count) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::rcpt_rate, "450", "4.7.1",
                "Error: too many recipients from " + res.key.to_string(),
                source_name(res, policy, Attr::rcpt_rate), rate_figure("rcpt_rate", count, r));
}

Decision check_msg_rate(const Resolution& res, const Policy& policy, std::uint32_t count) {
  const Rate& r = res.limits.msg_rate;
  if (r.unlimited() || count <= r.count) return Decision{};
  return refuse(Verdict::tempfail, DecisionKind::msg_rate, "450", "4.7.1",
                "Error: too many messages from " + res.key.to_string(),
                source_name(res, policy, Attr::msg_rate), rate_figure("msg_rate", count, r));
}

HeldPause held_greet_pause(std::uint32_t policy_ms, std::chrono::milliseconds cap) {
  const auto cap_ms = static_cast<std::uint32_t>(
      std::clamp<std::chrono::milliseconds::rep>(cap.count(), 0, UINT32_MAX));
  return HeldPause{policy_ms, cap_ms, std::min(policy_ms, cap_ms)};
}

std::string held_pause_text(const HeldPause& p) {
  if (!p.cut()) return std::to_string(p.held_ms);
  return std::to_string(p.held_ms) + " (policy " + std::to_string(p.policy_ms) +
         ", cut to greet_pause_cap)";
}

}  // namespace harden::policy
