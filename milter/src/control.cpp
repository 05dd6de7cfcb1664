// control.cpp - control requests: parsing, dispatch, the "client" description.
#include "harden/milter/control.hpp"

#include "harden/db/client_memory_json.hpp"
#include "harden/policy/ascii.hpp"
#include "harden/policy/decision.hpp"
#include "harden/policy/selector.hpp"

namespace harden::milter {
namespace {

using nlohmann::json;

// The first 300 bytes of `s` with every control byte (ascii::is_control) as a
// space: one line for an error reply, whatever the request held.
std::string controls_to_spaces(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 300)) out += ascii::is_control(c) ? ' ' : c;
  return out;
}

const json& member(const json& req, const char* name) {
  static const json kNull;
  const auto it = req.find(name);
  return it == req.end() ? kNull : *it;
}

std::string string_member(const json& req, const char* name, bool required) {
  const json& v = member(req, name);
  if (v.is_null()) {
    if (required) throw ControlError(std::string(name) + ": missing");
    return {};
  }
  if (!v.is_string()) throw ControlError(std::string(name) + ": must be a string");
  return v.get<std::string>();
}

ControlRequest::Command parse_command(const std::string& cmd) {
  using C = ControlRequest::Command;
  if (cmd == "stats") return C::stats;
  if (cmd == "client") return C::client;
  if (cmd == "flush") return C::flush;
  if (cmd == "reload") return C::reload;
  if (cmd == "offenders") return C::offenders;
  if (cmd == "clock") return C::clock;
  if (cmd == "top") return C::top;
  throw ControlError("unknown cmd '" + controls_to_spaces(cmd.substr(0, 40)) +
                     "' (known: stats, client, flush, reload, offenders, clock, top)");
}

ControlRequest::Action parse_action(const std::string& a) {
  using A = ControlRequest::Action;
  if (a.empty() || a == "list") return A::list;
  if (a == "show") return A::show;
  if (a == "remove") return A::remove;
  if (a == "add") return A::add;
  throw ControlError("unknown action '" + controls_to_spaces(a.substr(0, 40)) +
                     "' (known: list, show, remove, add)");
}

std::int64_t int_member(const json& req, const char* name, std::int64_t min, std::int64_t max) {
  const json& v = member(req, name);
  if (!v.is_number_integer()) throw ControlError(std::string(name) + ": must be an integer");
  const auto n = v.get<std::int64_t>();
  if (n < min || n > max)
    throw ControlError(std::string(name) + ": " + std::to_string(n) + " is out of range " +
                       std::to_string(min) + ".." + std::to_string(max));
  return n;
}

}  // namespace

json ControlService::offenders(const ControlRequest&) {
  return {{"ok", false}, {"error", "client memory is not available here"}};
}

json ControlService::top(std::size_t) {
  return {{"ok", false}, {"error", "top is not available here"}};
}

json ControlService::clock(std::chrono::milliseconds) {
  return {{"ok", false}, {"error", "the clock can only be moved with test_clock_control: true"}};
}

std::string control_error_reply(std::string_view msg) {
  return json{{"ok", false}, {"error", controls_to_spaces(msg)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

ControlRequest parse_control_request(std::string_view line) {
  if (line.size() > kMaxControlRequest) throw ControlError("request too long");
  if (line.find('\0') != std::string_view::npos) throw ControlError("bad JSON (NUL byte)");
  json req = json::parse(line.begin(), line.end(), nullptr, false);
  if (req.is_discarded()) throw ControlError("bad JSON");
  if (!req.is_object()) throw ControlError("request must be a JSON object");
  ControlRequest r;
  using C = ControlRequest::Command;
  using A = ControlRequest::Action;
  r.command = parse_command(string_member(req, "cmd", true));
  if (r.command == C::offenders) r.action = parse_action(string_member(req, "action", false));
  if (r.command == C::offenders && r.action == A::add) {
    r.duration_ms = int_member(req, "for_ms", 1000, policy::kMaxPenaltyMs);
    r.reason = string_member(req, "reason", false);
    try {
      policy::check_text("reason", r.reason, policy::kMaxReasonLength);
    } catch (const std::exception& e) {
      throw ControlError(controls_to_spaces(e.what()));
    }
  }
  if (r.command == C::clock) r.duration_ms = int_member(req, "advance_ms", 1, 400LL * 86'400'000);
  if (r.command == C::top) {
    r.limit = kDefaultTopN;
    if (req.contains("n"))
      r.limit =
          static_cast<std::size_t>(int_member(req, "n", 1, static_cast<std::int64_t>(kMaxTopN)));
  }
  if (r.command == C::offenders && r.action == A::list && req.contains("limit"))
    r.limit = static_cast<std::size_t>(int_member(req, "limit", 1, 1000));
  if (r.command == C::client || r.command == C::flush ||
      (r.command == C::offenders && r.action != A::list)) {
    const std::string ip = string_member(req, "ip", true);
    r.ip = policy::IpAddress::try_parse(ip);
    if (!r.ip)
      throw ControlError("ip: '" + controls_to_spaces(ip.substr(0, 60)) + "' is not an IP address");
  }
  if (r.command == ControlRequest::Command::client) {
    const std::string host = string_member(req, "hostname", false);
    if (!host.empty() && !policy::is_valid_hostname(host))
      throw ControlError("hostname: '" + controls_to_spaces(host.substr(0, 60)) +
                         "' is not a host name");
    if (!host.empty()) r.hostname = policy::normalize_hostname(host);
  }
  return r;
}

std::string handle_control_line(std::string_view line, ControlService& svc) noexcept {
  try {
    const ControlRequest r = parse_control_request(line);
    json reply;
    switch (r.command) {
      case ControlRequest::Command::stats:
        reply = svc.stats();
        break;
      case ControlRequest::Command::client:
        reply = svc.client(r);
        break;
      case ControlRequest::Command::flush:
        reply = svc.flush(*r.ip);
        break;
      case ControlRequest::Command::reload:
        reply = svc.reload();
        break;
      case ControlRequest::Command::offenders:
        reply = svc.offenders(r);
        break;
      case ControlRequest::Command::clock:
        reply = svc.clock(std::chrono::milliseconds{r.duration_ms});
        break;
      case ControlRequest::Command::top:
        reply = svc.top(r.limit);
        break;
    }
    if (!reply.contains("ok")) reply["ok"] = true;
    return reply.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    try {
      return control_error_reply(e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  return R"({"ok":false,"error":"internal error"})";
}

json describe_client(Engine& engine, const ControlRequest& r, const policy::Clock& clock) {
  const auto snapshot = engine.policy();
  if (!snapshot) throw ControlError("no policy loaded");
  if (!r.ip) throw ControlError("ip: missing");
  policy::Client c;
  c.address = *r.ip;
  c.hostname = r.hostname;
  c.resolve = r.hostname.empty() ? policy::RdnsStatus::fail : policy::RdnsStatus::ok;
  const policy::Resolution res = snapshot->resolve(c, clock.wall());

  json limits = json::object();
  const policy::Attributes eff = policy::as_attributes(res.limits);
  for (const auto& info : policy::attributes()) {
    limits[std::string(info.name)] = {{"value", eff.get(info.attr).value_or("")},
                                      {"source", policy::source_name(res, *snapshot, info.attr)}};
  }
  const policy::HeldPause pause = engine.held_pause(res.limits.greet_pause);
  json& greet = limits["greet_pause"];
  greet["value"] = std::to_string(pause.held_ms);
  greet["held_ms"] = pause.held_ms;
  greet["policy_ms"] = pause.policy_ms;
  greet["cap_ms"] = pause.cap_ms;
  greet["cut"] = pause.cut();
  greet["text"] = policy::held_pause_text(pause);
  json counters = {{"known", false}};
  if (const auto st = engine.counters().inspect(res.key, clock.steady(), res.limits)) {
    counters = {{"known", true},
                {"conn_count", st->conn_count},
                {"open", st->open},
                {"rcpt_count", st->rcpt_count},
                {"msg_count", st->msg_count}};
  }
  json memory = nullptr;  // client memory off, or nothing remembered
  if (db::ClientMemory* mem = engine.memory()) {
    if (const auto rec = mem->find(res.key))
      memory = db::client_record_json(res.key, *rec, engine.now_ms());
  }
  return {{"ok", true},
          {"ip", r.ip->to_string()},
          {"key", res.key.to_string()},
          {"hostname", r.hostname},
          {"resolve", std::string(policy::to_string(c.resolve))},
          {"limits", limits},
          {"counters", counters},
          {"memory", memory}};
}

}  // namespace harden::milter
