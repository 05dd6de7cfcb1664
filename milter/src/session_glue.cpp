// session_glue.cpp - see session_glue.hpp.
#include "session_glue.hpp"

#include <spdlog/spdlog.h>

#include "harden/milter/pregreet.hpp"

namespace harden::milter {
namespace {

constexpr std::size_t kMaxHostname = 1024;

std::uint16_t port_of(const std::string& text) {
  const auto ep = Endpoint::from_text("127.0.0.1", text);
  return ep ? ep->port : 0;
}

}  // namespace

ConnectInfo connect_info(const MacroLookup& macro, std::optional<policy::IpAddress> addr,
                         std::uint16_t port, std::string_view hostname, GreetTarget& greet) {
  ConnectInfo info;
  info.client = addr;
  if (!info.client) info.client = policy::IpAddress::try_parse(macro("{client_addr}"));
  info.client_port = port != 0 ? port : port_of(macro("{client_port}"));
  info.client_name = macro("{client_name}");
  if (info.client_name.empty()) info.client_name = std::string(hostname.substr(0, kMaxHostname));
  info.client_ptr = macro("{client_ptr}");
  info.client_resolve = macro("{client_resolve}");
  // {if_addr} (sendmail) is the accepted socket's own address; {daemon_addr}
  // may be the listener's wildcard. The probe copes with either.
  std::string local = macro("{if_addr}");
  if (!policy::IpAddress::try_parse(local)) local = macro("{daemon_addr}");
  greet = GreetTarget{std::move(local), macro("{daemon_port}"), info.client, info.client_port};
  return info;
}

void count_pause_not_held(Metrics& metrics, const Session& s, const policy::Decision& d) {
  if (d.verdict != policy::Verdict::proceed || s.held_greet_pause().count() > 0 ||
      s.greet_pause() == 0)
    return;
  metrics.bump(s.pass_used ? Metric::greet_pauses_passed_total
                           : Metric::greet_pauses_skipped_total);
}

MilterReply enforce(Metrics& metrics, const SessionState& st, const policy::Decision& d,
                    Stage stage) {
  metrics.count_decision(d);
  if (d.refuses() && st.session.active) metrics.refusals().count(st.session.res.key, d.kind);
  const LogClient& client = st.log;
  const std::string line = enforcement_line(d, client);
  if (!line.empty()) spdlog::info("{}", line);
  if (d.penalty_started) {
    metrics.bump(Metric::penalties_started_total);
    spdlog::info("{}", penalty_line(*d.penalty_started, client, d.rule));
  }
  return to_milter_reply(d, stage);
}

}  // namespace harden::milter
