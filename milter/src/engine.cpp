// engine.cpp - the session checks in DESIGN's order.
#include "harden/milter/engine.hpp"

#include <algorithm>

#include "harden/policy/error.hpp"
#include "harden/policy/selector.hpp"

namespace harden::milter {

using policy::Decision;
using policy::Verdict;

policy::Client interpret_client(const policy::IpAddress& addr, const ConnectInfo& info) {
  policy::Client c;
  c.address = addr;
  std::string name = info.client_name;
  if (!name.empty() && name.back() == '.') name.pop_back();
  const bool has_name =
      !name.empty() && name != "unknown" && name.front() != '[' && policy::is_valid_hostname(name);
  if (!info.client_resolve.empty()) {
    try {
      c.resolve = policy::parse_rdns_status(info.client_resolve);
    } catch (const policy::PolicyError&) {
      c.resolve = policy::RdnsStatus::fail;
    }
  } else if (has_name) {
    c.resolve = policy::RdnsStatus::ok;
  } else {
    c.resolve = info.client_ptr.empty() ? policy::RdnsStatus::fail : policy::RdnsStatus::forged;
  }
  if (c.resolve == policy::RdnsStatus::ok && has_name) {
    c.hostname = policy::normalize_hostname(name);
  } else if (c.resolve == policy::RdnsStatus::ok) {
    c.resolve = policy::RdnsStatus::fail;  // "OK" without a usable name
  }
  return c;
}

Engine::Engine(EngineOptions options, std::shared_ptr<db::CounterBackend> counters,
               const policy::Clock& clock, std::shared_ptr<db::ClientMemory> memory)
    : options_(options),
      counters_(std::move(counters)),
      clock_(clock),
      memory_(std::move(memory)) {}

policy::WallMs Engine::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wall().time_since_epoch())
      .count();
}

Decision Engine::remember(Session& s, Decision d) {
  if (!s.remembered) return d;
  const bool throttled = d.kind == policy::DecisionKind::bad_rcpt_throttle && d.delay.count() > 0;
  // A would-be refusal counts only when the whole daemon monitors: then its
  // penalties are would-be penalties too (check_penalty -> finish).
  const bool counts = d.refuses() || throttled || (d.monitor && options_.mode == Mode::monitor);
  if (!counts) return d;
  if (d.kind == policy::DecisionKind::pregreet || d.kind == policy::DecisionKind::blocked) {
    memory_->drop_pass(s.res.key);
  }
  const auto offence = policy::offence_of(d.kind);
  const policy::Limits& L = s.res.limits;
  if (!offence || L.penalty == policy::ModeSetting::off) return d;
  const std::uint32_t weight = L.penalty_weights[*offence];
  if (weight == 0) return d;
  auto started = memory_->offend(s.res.key, now_ms(), weight, policy::penalty_settings(L),
                                 policy::to_string(*offence));
  if (started) {
    d.penalty_started = policy::PenaltyStart{
        std::move(*started), s.res.key,
        options_.mode == Mode::monitor || L.penalty == policy::ModeSetting::monitor};
  }
  return d;
}

void Engine::grant_pass(Session& s) {
  if (!s.remembered || !s.paused_clean || s.pass_granted) return;
  const std::uint32_t ttl = s.res.limits.greet_pass_ttl;
  if (ttl == 0) return;
  memory_->grant_pass(s.res.key, now_ms(), ttl);
  s.pass_granted = true;
}

void Engine::set_policy(std::shared_ptr<const policy::Policy> p) {
  std::lock_guard lock(policy_mutex_);
  policy_.swap(p);  // the old snapshot is freed outside the lock, with `p`
}

std::shared_ptr<const policy::Policy> Engine::policy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

Decision Engine::finish(Decision d) const {
  // A delay (bad_rcpt_throttle) is enforcement too: monitor mode only reports it.
  const bool enforces = d.refuses() || d.delay.count() > 0;
  if (enforces && options_.mode == Mode::monitor) d.monitor = true;
  if (d.monitor) {
    d.verdict = Verdict::proceed;
    d.delay = std::chrono::milliseconds{0};
  }
  return d;
}

// A refusal of a throttled session is answered late too, as sendmail does
// for every RCPT after BadRcptThrottle.
Decision Engine::with_delay(Decision d, const Decision& throttle) {
  d.delay = std::max(d.delay, throttle.delay);
  return d;
}

Decision Engine::connect(Session& s, const ConnectInfo& info) {
  Step st = connect_begin(s, info);
  if (!st.waits()) return st.decision;
  Decision d = connect_end(s, counters_->connect(s.res.key, st.call.now, s.res.limits));
  if (auto key = take_refused_slot(s)) counters_->release(*key);
  return d;
}

Step Engine::connect_begin(Session& s, const ConnectInfo& info) {
  close(s);  // a Session reused without close() must not keep its slot
  s = Session{};
  s.policy = policy();
  if (!s.policy || !info.client) return Step{};  // no policy yet, or a local client
  s.client = interpret_client(*info.client, info);
  s.res = s.policy->resolve(s.client, clock_.wall());
  s.active = true;
  const policy::Policy& p = *s.policy;

  Decision d = policy::check_action(s.res, p);
  if (d.verdict == Verdict::accept_all) {
    s.accept_all = true;
    return Step{std::move(d), {}};
  }
  s.held_pause_ms = held_pause(s.res.limits.greet_pause).held_ms;
  s.remembered = memory_ != nullptr && !s.client.address.is_loopback();
  if (d.refuses()) {
    d = remember(s, finish(std::move(d)));
    if (!d.monitor) return Step{std::move(d), {}};
    // monitor: log it, then go on to the limits
    s.res.limits.action = policy::Action::limit;
    s.monitored = std::move(d);
  }
  return Step{{}, CounterCall{CounterCall::Kind::connect, clock_.steady()}};
}

Decision Engine::connect_end(Session& s, const db::ConnectCount& counts) {
  Decision penalty;  // a penalty in force (monitor: logged if nothing else is)
  Decision next = connect_limits(s, counts, penalty);
  if (s.monitored) {
    Decision d = std::move(*s.monitored);
    s.monitored.reset();
    return next.refuses() || next.monitor ? next : d;
  }
  if (next.refuses() || next.monitor) return next;
  if (s.remembered && s.held_pause_ms > 0 && s.res.limits.greet_pass_ttl > 0 &&
      memory_->has_pass(s.res.key, now_ms())) {
    s.held_pause_ms = 0;
    s.pass_used = true;
  }
  return penalty.monitor ? penalty : next;
}

Decision Engine::connect_limits(Session& s, const db::ConnectCount& counts, Decision& penalty) {
  const policy::Policy& p = *s.policy;
  s.slot_held = counts.slot_taken;
  if (s.remembered) {
    // Shared counters read the client's shared record in the same round trip.
    if (counts.memory_read) memory_->refresh(s.res.key, counts.memory, now_ms());
    if (const auto pen = memory_->penalty(s.res.key, now_ms())) {
      penalty = finish(policy::check_penalty(s.res, p, *pen));
      if (penalty.refuses()) {
        s.give_back_now = s.slot_held;  // take_refused_slot()
        return penalty;
      }
    }
  }
  if (counts.unavailable) return finish(policy::check_counters(false));
  Decision d =
      remember(s, finish(policy::check_conn_limit(s.res, p, counts.open, counts.slot_taken)));
  if (d.refuses() || d.monitor) return d;
  return remember(s, finish(policy::check_conn_rate(s.res, p, counts.conn_count)));
}

Decision Engine::pregreet(Session& s, std::uint64_t bytes) {
  if (!s.active || s.accept_all) return Decision{};
  Decision d = remember(s, finish(policy::check_pregreet(s.res, *s.policy, bytes)));
  if (bytes == 0 && s.held_pause_ms > 0) s.paused_clean = true;
  return d;
}

Decision Engine::mail(Session& s) {
  Step st = mail_begin(s);
  if (!st.waits()) return st.decision;
  return mail_end(s, counters_->add_msg(s.res.key, st.call.now, s.res.limits.msg_rate));
}

Step Engine::mail_begin(Session& s) {
  s.rcpts_in_msg = 0;
  if (!s.active || s.accept_all || s.res.limits.msg_rate.unlimited()) return Step{};
  return Step{{}, CounterCall{CounterCall::Kind::msg, clock_.steady()}};
}

Decision Engine::mail_end(Session& s, std::uint32_t count) {
  return remember(s, finish(policy::check_msg_rate(s.res, *s.policy, count)));
}

Decision Engine::rcpt(Session& s, bool rejected_by_mta) {
  Step st = rcpt_begin(s, rejected_by_mta);
  if (!st.waits()) return st.decision;
  return rcpt_end(s, counters_->add_rcpt(s.res.key, st.call.now, s.res.limits.rcpt_rate));
}

Step Engine::rcpt_begin(Session& s, bool rejected_by_mta) {
  if (!s.active || s.accept_all) return Step{};
  // The throttle looks at rejections before this one, as sendmail does.
  Decision throttle = finish(policy::check_bad_rcpt_throttle(s.res, *s.policy, s.bad_rcpts));
  if (rejected_by_mta) {
    ++s.bad_rcpts;
    return Step{remember(s, throttle), {}};  // the MTA refuses it already; only the delay matters
  }
  if (!s.res.limits.rcpt_rate.unlimited())
    return Step{{}, CounterCall{CounterCall::Kind::rcpt, clock_.steady()}};
  return Step{rcpt_rest(s, throttle), {}};
}

Decision Engine::rcpt_end(Session& s, std::uint32_t count) {
  const policy::Policy& p = *s.policy;
  const Decision throttle = finish(policy::check_bad_rcpt_throttle(s.res, p, s.bad_rcpts));
  Decision d = remember(s, finish(policy::check_rcpt_rate(s.res, p, count)));
  if (d.refuses()) return with_delay(std::move(d), throttle);
  if (d.monitor) return d;
  return rcpt_rest(s, throttle);
}

Decision Engine::rcpt_rest(Session& s, const Decision& throttle) {
  Decision d = remember(s, finish(policy::check_max_rcpts(s.res, *s.policy, s.rcpts_in_msg + 1)));
  if (d.refuses()) return with_delay(std::move(d), throttle);
  ++s.rcpts_in_msg;
  if (throttle.delay.count() == 0) grant_pass(s);
  return d.monitor ? d : remember(s, throttle);
}

std::optional<policy::IpNetwork> Engine::take_slot(Session& s) {
  s.give_back_now = false;
  if (!s.slot_held) return std::nullopt;
  s.slot_held = false;
  return s.res.key;
}

std::optional<policy::IpNetwork> Engine::take_refused_slot(Session& s) {
  if (!s.give_back_now) return std::nullopt;
  return take_slot(s);
}

void Engine::close(Session& s) {
  if (auto key = take_slot(s)) counters_->release(*key);
  s.active = false;
}

}  // namespace harden::milter
