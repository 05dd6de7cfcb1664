// offenders_command.cpp - `hardenctl offenders list|show|remove|add`: the
// client memory (penalties, offences, greet passes) of the running daemon
// through its control socket, or of its state file when no daemon runs.
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "control_commands.hpp"
#include "harden/db/client_memory.hpp"
#include "harden/db/client_memory_json.hpp"
#include "harden/db/store.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rate.hpp"
#include "harden/policy/rule.hpp"
#include "output.hpp"

namespace harden::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kDefaultStateFile = "/var/lib/milter-harden/state.db";
constexpr std::string_view kStateFileEnvVar = "HARDEN_STATE_FILE";

struct OffendersOptions {
  std::string action = "list";
  std::string ip;
  std::string socket{kDefaultControlSocket};
  std::string state{kDefaultStateFile};
  std::string length;  // add: --for
  std::string reason;  // add: --reason
  bool json = false;
};

policy::WallMs now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The client key of `ip` as the daemon counts it by default (IPv4 /32, IPv6 /64).
policy::IpNetwork key_of(const std::string& ip) {
  const auto a = policy::IpAddress::try_parse(ip);
  if (!a) throw UsageError(fmt::format("'{}' is not an IP address", printable(ip)));
  return policy::ClientKeyer{}.key(*a);
}

// The state file's answer in the daemon's reply shape.
json from_state(const OffendersOptions& o) {
  const policy::WallMs now = now_ms();
  const bool writes = o.action == "remove" || o.action == "add";
  db::StateStore st = db::StateStore::open(
      o.state, writes ? db::StateStore::Mode::read_write : db::StateStore::Mode::read_only);
  if (o.action == "list") {
    auto all = st.load(now);
    json list = json::array();
    for (const auto& e : all) list.push_back(db::client_record_json(e.key, e.record, now));
    return {{"ok", true},
            {"now", policy::format_wall_ms(now)},
            {"total", all.size()},
            {"offenders", list}};
  }
  const policy::IpNetwork key = key_of(o.ip);
  auto rec = st.find(key);
  if (o.action == "show") {
    return {{"ok", true},
            {"key", key.to_string()},
            {"known", rec.has_value()},
            {"record", rec ? db::client_record_json(key, *rec, now) : json(nullptr)}};
  }
  db::ClientMemory::Changes ch;
  if (o.action == "remove") {
    if (rec) ch.deletes.push_back(key);
    st.save(ch);
    return {{"ok", true}, {"key", key.to_string()}, {"removed", rec.has_value()}};
  }
  policy::ClientRecord r = rec.value_or(policy::ClientRecord{});
  r.impose(now,
           static_cast<std::int64_t>(policy::parse_duration_ms(o.length, policy::kMaxPenaltyMs)),
           "manual" + (o.reason.empty() ? "" : ": " + o.reason));
  r.drop_pass();
  ch.upserts.push_back({key, r});
  st.save(ch);
  return {{"ok", true}, {"key", key.to_string()}, {"record", db::client_record_json(key, r, now)}};
}

json from_daemon(const OffendersOptions& o) {
  json req = {{"cmd", "offenders"}, {"action", o.action}};
  if (o.action != "list") req["ip"] = o.ip;
  if (o.action == "add") {
    req["for_ms"] = policy::parse_duration_ms(o.length, policy::kMaxPenaltyMs);
    if (!o.reason.empty()) req["reason"] = o.reason;
  }
  json r = control_request(o.socket, req);
  if (!r.value("ok", false))
    throw UsageError(fmt::format("milter-harden: {}", printable(r.value("error", "refused"))));
  return r;
}

std::string penalty_text(const json& rec) {
  const json& p = rec["penalty"];
  if (!p.is_object()) return "-";
  if (!p.value("in_force", false)) return fmt::format("ended {}", p.value("until", "?"));
  return fmt::format("until {} ({} left)", p.value("until", "?"),
                     policy::format_duration_ms(1000 * p.value("remaining_s", std::uint64_t{0})));
}

void print_record(const json& rec) {
  std::cout << fmt::format("key        {}\n", printable(rec.value("key", "?")));
  std::cout << fmt::format("penalty    {}\n", penalty_text(rec));
  if (rec["penalty"].is_object()) {
    std::cout << fmt::format("           n={} since {} ({})\n", rec["penalty"].value("n", 0),
                             rec["penalty"].value("start", "?"),
                             printable(rec["penalty"].value("reason", "")));
  }
  std::cout << fmt::format("history    {} penalties remembered\n", rec["history"].size());
  std::cout << fmt::format("offences   {} since the last penalty\n", rec["offences"].size());
  std::cout << fmt::format("greet pass {}\n", rec["pass_until"].is_string()
                                                  ? "until " + rec["pass_until"].get<std::string>()
                                                  : std::string("none"));
  std::cout << fmt::format("forgotten  at {}\n", rec.value("forget_at", "?"));
}

void print_reply(const OffendersOptions& o, const json& r, bool live) {
  if (o.json) {
    print_json(std::cout, r);
    return;
  }
  const char* where = live ? "" : " (state file; milter-harden is not running)";
  if (o.action == "list") {
    Table t({"KEY", "PENALTY", "N", "REASON", "GREET PASS"});
    for (const auto& rec : r["offenders"]) {
      const json& p = rec["penalty"];
      t.add({printable(rec.value("key", "?")), penalty_text(rec),
             p.is_object() ? std::to_string(p.value("n", 0)) : "-",
             p.is_object() ? printable(p.value("reason", "")) : "-",
             rec["pass_until"].is_string() ? rec["pass_until"].get<std::string>() : "-"});
    }
    std::cout << fmt::format("{} client records{}\n", r.value("total", 0), where);
    t.print(std::cout, "");
  } else if (o.action == "show") {
    if (!r.value("known", false)) {
      std::cout << fmt::format("{} is not remembered{}\n", printable(r.value("key", o.ip)), where);
    } else {
      print_record(r["record"]);
    }
  } else if (o.action == "remove") {
    std::cout << (r.value("removed", false)
                      ? fmt::format("{} forgotten{}\n", printable(r.value("key", o.ip)), where)
                      : fmt::format("{} was not remembered{}\n", printable(r.value("key", o.ip)),
                                    where));
  } else {
    std::cout << fmt::format("{}: {}{}\n", printable(r.value("key", o.ip)),
                             penalty_text(r["record"]), where);
  }
}

int run_offenders(const Globals&, OffendersOptions& o) {
  if (o.action != "list" && o.ip.empty())
    throw UsageError(fmt::format("offenders {}: an IP address is required", o.action));
  if (o.action == "add") {
    if (o.length.empty()) throw UsageError("offenders add: --for DURATION is required");
    try {
      if (policy::parse_duration_ms(o.length, policy::kMaxPenaltyMs) < 1000)
        throw UsageError("offenders add: --for must be at least 1s");
      policy::check_text("--reason", o.reason, policy::kMaxReasonLength);
    } catch (const policy::PolicyError& e) {
      throw UsageError(fmt::format("offenders add: {}", e.what()));
    }
  }
  if (o.action != "list") key_of(o.ip);  // a clear error before any I/O
  const bool live = control_socket_answers(o.socket);
  const json r = live ? from_daemon(o) : from_state(o);
  print_reply(o, r, live);
  return kExitOk;
}

}  // namespace

void add_offenders_command(CLI::App& app, Dispatch& d) {
  auto o = std::make_shared<OffendersOptions>();
  CLI::App* sub = add_command(
      app, "offenders", "penalties, offences and greet passes the daemon remembers",
      "\nACTION: list (default), show IP, remove IP (forget it: lifts its penalty now), add IP "
      "--for DURATION [--reason TEXT] (a penalty by hand).\nTalks to the running milter-harden "
      "over its control socket; when none answers, reads and edits its state file "
      "(--state, default /var/lib/milter-harden/state.db), keyed IPv4 /32 and IPv6 /64.");
  sub->add_option("action", o->action, "list | show | remove | add")
      ->check(CLI::IsMember({"list", "show", "remove", "add"}));
  sub->add_option("ip", o->ip, "client address (show, remove, add)");
  sub->add_option("--for", o->length, "add: the penalty's length (30m, 2h, 1d)")
      ->type_name("DURATION");
  sub->add_option("--reason", o->reason, "add: why (printable ASCII, logged)")->type_name("TEXT");
  add_socket_option(sub, o->socket);
  sub->add_option("--state", o->state, "the daemon's state file, used when it is not running")
      ->envname(std::string(kStateFileEnvVar))
      ->type_name("PATH");
  sub->add_flag("--json", o->json, "the reply as JSON");
  on_run(sub, d, o, run_offenders);
}

}  // namespace harden::cli
