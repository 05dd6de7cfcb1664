// exim_satellite.cpp - update-exim4.conf.conf for hosts that relay through
// the hardened MX, and the allow rules the MX needs for them (see exim.hpp).
//
// update-exim4.conf sources this file with a root shell: every value is
// validated (host names, addresses, ports) and written between single
// quotes; nothing else from the command line reaches it.
#include <algorithm>

#include "common.hpp"
#include "harden/mtaconf/exim.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/rate.hpp"

namespace harden::mtaconf {

namespace {

using detail::quote;

std::uint16_t parse_port(std::string_view text, std::string_view whole) {
  std::uint32_t n = 0;
  try {
    n = policy::parse_count(text, "port", 65535);
  } catch (const policy::PolicyError&) {
    n = 0;
  }
  if (n == 0) throw GenerateError("smarthost " + quote(whole) + ": bad port " + quote(text));
  return static_cast<std::uint16_t>(n);
}

std::string line(std::string_view name, std::string_view value) {
  return std::string(name) + "='" + std::string(value) + "'\n";
}

// What the MX's policy does with a satellite network today.
std::string allow_status(const policy::Policy& p, const policy::IpNetwork& n,
                         policy::UnixTime now) {
  for (const auto& r : p.rules()) {
    const auto k = r.selector.kind();
    if ((k != policy::Selector::Kind::address && k != policy::Selector::Kind::network) ||
        r.selector.network() != n) {
      continue;
    }
    if (r.expired(now)) return "has an expired rule: --apply renews it as allow";
    if (r.attrs.action == policy::Action::allow && r.expires) {
      return "allowed until " + policy::format_time(*r.expires) +
             " only: after that the satellites meet client limits";
    }
    if (r.attrs.action == policy::Action::allow) return "already allowed";
    return "has a rule without action allow: --apply sets action=allow on it";
  }
  return "not in the policy yet";
}

}  // namespace

Smarthost parse_smarthost(std::string_view text) {
  if (text.empty() || text.size() > 300) {
    throw GenerateError("smarthost " + quote(text) + ": expected HOST[::PORT]");
  }
  Smarthost s;
  std::string_view host = text;
  std::string_view rest;
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw GenerateError("smarthost " + quote(text) + ": missing ']'");
    }
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    const auto a = policy::IpAddress::try_parse(host);
    if (!a || a->is_v4() || host.starts_with("IPv6:") || host.starts_with("ipv6:")) {
      throw GenerateError("smarthost " + quote(text) + ": " + quote(host) +
                          " in brackets must be an IPv6 address");
    }
    s.host = a->to_string();
  } else {
    const auto sep = text.find("::");
    if (sep != std::string_view::npos) {
      host = text.substr(0, sep);
      rest = text.substr(sep);
    }
    if (host.find(':') != std::string_view::npos) {
      throw GenerateError("smarthost " + quote(text) +
                          ": write an IPv6 address in brackets, [2001:db8::25]::587");
    }
    const auto a = policy::IpAddress::try_parse(host);
    if (!a && !detail::is_safe_hostname(host)) {
      throw GenerateError("smarthost " + quote(text) + ": bad host name " + quote(host));
    }
    s.host = a ? a->to_string() : std::string(host);
  }
  if (!rest.empty()) {
    if (!rest.starts_with("::")) {
      throw GenerateError("smarthost " + quote(text) + ": expected ::PORT after the host");
    }
    s.port = parse_port(rest.substr(2), text);
  }
  return s;
}

std::string debian_smarthost(const Smarthost& s) {
  const bool v6 = s.host.find(':') != std::string::npos;
  std::string host;
  for (char c : s.host) host += c == ':' ? std::string("::") : std::string(1, c);
  if (s.port == 0) return host;
  if (v6) host = "[" + host + "]";
  return host + "::" + std::to_string(s.port);
}

std::vector<policy::Rule> satellite_allow_rules(const SatelliteOptions& s) {
  std::vector<policy::Rule> rules;
  for (const auto& n : s.satellite_nets) {
    policy::Rule r;
    r.selector = policy::Selector::for_network(n);
    r.attrs.action = policy::Action::allow;
    r.comment = std::string(kSatelliteRuleComment);
    rules.push_back(std::move(r));
  }
  return rules;
}

std::string rule_add_command(const policy::Rule& r) {
  std::string cmd = "hardenctl rule add " + r.selector.text();
  if (r.attrs.action) cmd += " action=" + std::string(policy::to_string(*r.attrs.action));
  if (!r.comment.empty()) cmd += " --comment '" + detail::comment_text(r.comment, 200) + "'";
  return cmd;
}

std::string exim_satellite(const policy::Policy& p, const SatelliteOptions& s,
                           const Provenance& from, policy::UnixTime now) {
  const Smarthost host = parse_smarthost(s.smarthost);
  if (!s.readhost.empty() && !detail::is_safe_hostname(s.readhost)) {
    throw GenerateError("readhost " + quote(s.readhost) + ": not a host or domain name");
  }
  std::string out =
      detail::header(from, "# ",
                     {"Debian exim4 for a satellite that sends all mail through the hardened MX.",
                      "Install on each satellite as /etc/exim4/update-exim4.conf.conf, then run",
                      "update-exim4.conf and restart exim4 (invoke-rc.d exim4 restart)."});
  out += line("dc_eximconfig_configtype", "satellite");
  out += line("dc_other_hostnames", "");
  out += line("dc_local_interfaces", "127.0.0.1 ; ::1");
  out += line("dc_readhost", s.readhost);
  out += line("dc_relay_domains", "");
  out += line("dc_minimaldns", "false");
  out += line("dc_relay_nets", "");
  out += line("dc_smarthost", debian_smarthost(host));
  out += line("CFILEMODE", "644");
  out += line("dc_use_split_config", "false");
  out += line("dc_hide_mailname", s.hide_mailname && !s.readhost.empty() ? "true" : "false");
  out += line("dc_mailname_in_oh", "true");
  out += line("dc_localdelivery", "mail_spool");
  out +=
      "#\n# On the MX, the satellite networks must be `allow` so that a satellite's\n"
      "# bursts (cron, bounces) do not trip client limits. Run there (or generate\n"
      "# with --apply on the MX's store):\n";
  if (s.satellite_nets.empty()) out += "#   (no --satellite-net given)\n";
  for (const auto& r : satellite_allow_rules(s)) {
    out += "#   " + rule_add_command(r) + "\n";
    out += "#     " + r.selector.text() + " " + allow_status(p, r.selector.network(), now) + "\n";
  }
  return out;
}

}  // namespace harden::mtaconf
