// sendmail_access.cpp - ClientRate:/ClientConn:/GreetPause: access map
// entries from the policy (see sendmail.hpp).
//
// sendmail looks ClientRate and ClientConn up by {client_addr} only (A: and
// the empty default key E:), GreetPause by host name and parent domains
// first, then by address. {client_addr} of an IPv6 client is "IPv6:" plus
// eight uncompressed groups (sendmail's default, UseCompressedIPv6Addresses
// false); the A: lookup strips one ".octet" or ":group" at a time, so a key
// is a network on an octet or 16-bit boundary.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "common.hpp"
#include "harden/mtaconf/sendmail.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/rate.hpp"

namespace harden::mtaconf {

namespace {

using Kind = policy::Selector::Kind;

// The key of the first `units` groups (IPv4 octets or IPv6 16-bit groups).
std::string key_of(const policy::IpAddress& a, unsigned units) {
  const auto& b = a.bytes();
  std::string out;
  if (a.is_v4()) {
    for (unsigned i = 0; i < units; ++i) {
      if (i) out += '.';
      out += std::to_string(b[i]);
    }
    return out;
  }
  out = "IPv6";
  for (unsigned i = 0; i < units; ++i) {
    char group[8];
    std::snprintf(group, sizeof group, ":%x", (b[2 * i] << 8) | b[2 * i + 1]);
    out += group;
  }
  return out;
}

// The access keys that cover `n` exactly, or nullopt with why not.
struct Keys {
  std::vector<std::string> keys;
  std::string why_not;
};

Keys network_keys(const policy::IpNetwork& n) {
  const unsigned unit = n.address().is_v4() ? 8 : 16;
  const unsigned prefix = n.prefix();
  if (prefix == 0) return {{}, "a /0 network is every client: use the default rule"};
  const unsigned units = (prefix + unit - 1) / unit;
  const unsigned extra = units * unit - prefix;
  if (extra > 8 || (std::size_t{1} << extra) > kMaxExpandedKeys) {
    return {{},
            "it is not on a " + std::to_string(unit) + "-bit boundary and would take " +
                std::to_string(1ull << std::min(extra, 63u)) + " access keys"};
  }
  Keys k;
  for (std::uint32_t i = 0; i < (1u << extra); ++i) {
    auto bytes = n.address().bytes();
    // Set the `extra` host bits just past the prefix to i.
    for (unsigned bit = 0; bit < extra; ++bit) {
      const unsigned pos = prefix + bit;
      const bool on = (i >> (extra - 1 - bit)) & 1u;
      const auto mask = static_cast<std::uint8_t>(1u << (7 - pos % 8));
      bytes[pos / 8] =
          static_cast<std::uint8_t>(on ? bytes[pos / 8] | mask : bytes[pos / 8] & ~mask);
    }
    const auto a = n.address().is_v4()
                       ? policy::IpAddress::v4((std::uint32_t{bytes[0]} << 24) |
                                               (std::uint32_t{bytes[1]} << 16) |
                                               (std::uint32_t{bytes[2]} << 8) | bytes[3])
                       : policy::IpAddress::v6(bytes);
    k.keys.push_back(key_of(a, units));
  }
  return k;
}

// A ClientRate count for sendmail's one window: N per `w` scaled to
// `global` (rounded up, so sendmail is never stricter than the policy).
std::uint64_t scaled_rate(const policy::Rate& r, std::chrono::seconds global) {
  if (r.unlimited()) return 0;
  const auto w = static_cast<std::uint64_t>(r.window.count());
  const auto g = static_cast<std::uint64_t>(global.count());
  return (std::uint64_t{r.count} * g + w - 1) / w;
}

struct Writer {
  const policy::Policy& p;
  std::chrono::seconds window;
  policy::UnixTime now;
  std::string out;

  void comment(std::string_view text) { out += "# " + std::string(text) + "\n"; }
  void entry(std::string_view tag, std::string_view key, std::uint64_t value) {
    out += std::string(tag) + ":" + std::string(key) + "\t" + std::to_string(value) + "\n";
  }

  // Does an allow on this address rule or a network containing it win the
  // `action` attribute (so every limit is lifted)?
  bool allowed_by_network(const policy::IpNetwork& n) const {
    const policy::Rule* best = nullptr;
    for (const auto& r : p.rules()) {
      const auto k = r.selector.kind();
      if ((k != Kind::address && k != Kind::network) || r.expired(now) || !r.attrs.action) continue;
      const auto& m = r.selector.network();
      if (m.address().is_v4() != n.address().is_v4() || m.prefix() > n.prefix() ||
          !m.contains(n.address())) {
        continue;
      }
      if (!best || m.prefix() > best->selector.network().prefix()) best = &r;
    }
    const auto& d = p.default_rule().attrs;
    if (!best) return d.action == policy::Action::allow;
    return best->attrs.action == policy::Action::allow;
  }

  void milter_only(std::string_view what) {
    comment("  " + std::string(what) + ": enforced by the milter only");
  }

  void rate_comment(const policy::Rate& r) {
    if (!r.unlimited() && r.window != window) {
      comment("  conn_rate " + r.to_string() + " scaled to sendmail's one window of " +
              policy::format_duration(window));
    }
  }

  void address_rule(const policy::Rule& r) {
    const auto& a = r.attrs;
    const auto keys = network_keys(r.selector.network());
    if (keys.keys.empty()) {
      comment("  not expressible in the access map (" + keys.why_not + "): milter only");
      return;
    }
    const bool allow = allowed_by_network(r.selector.network());
    if (allow && a.action != policy::Action::allow) comment("  inside an allow rule: unlimited");
    if (!r.selector.network().address().is_v4() && (a.conn_rate || a.conn_limit) && !allow) {
      comment("  sendmail counts each IPv6 address; the milter counts the client's /64");
    }
    if (a.conn_rate && !allow) rate_comment(*a.conn_rate);
    for (const auto& k : keys.keys) {
      if (allow || a.conn_rate)
        entry("ClientRate", k, allow ? 0 : scaled_rate(*a.conn_rate, window));
      if (allow || a.conn_limit) entry("ClientConn", k, allow ? 0 : *a.conn_limit);
      if (allow || a.greet_pause) entry("GreetPause", k, allow ? 0 : *a.greet_pause);
    }
    rest(r, allow);
  }

  void name_rule(const policy::Rule& r) {
    const auto& a = r.attrs;
    const bool allow = a.action == policy::Action::allow;
    std::string key = r.selector.name();
    if (r.selector.kind() == Kind::suffix) key.erase(0, 1);
    if (!detail::is_safe_hostname(key)) {
      throw GenerateError(detail::rule_name(r) + ": host name unfit for an access key");
    }
    if (allow || a.greet_pause) {
      comment(r.selector.kind() == Kind::suffix
                  ? "  sendmail's domain key also matches " + key + " itself"
                  : "  sendmail's domain key also matches names below " + key);
      entry("GreetPause", key, allow ? 0 : *a.greet_pause);
    }
    if (!allow && a.conn_rate) milter_only("conn_rate (sendmail looks it up by address only)");
    if (!allow && a.conn_limit) milter_only("conn_limit (sendmail looks it up by address only)");
    if (allow) milter_only("allow for conn_rate/conn_limit (looked up by address only)");
    rest(r, allow);
  }

  // What no access entry carries.
  void rest(const policy::Rule& r, bool allow) {
    const auto& a = r.attrs;
    if (a.action == policy::Action::block || a.action == policy::Action::tempfail) {
      milter_only("action " + std::string(policy::to_string(*a.action)));
    }
    if (allow) return;
    if (a.max_rcpts) milter_only("max_rcpts " + std::to_string(*a.max_rcpts));
    if (a.bad_rcpt_throttle) {
      milter_only("bad_rcpt_throttle " + std::to_string(*a.bad_rcpt_throttle));
    }
    if (a.rcpt_rate) milter_only("rcpt_rate " + a.rcpt_rate->to_string());
    if (a.msg_rate) milter_only("msg_rate " + a.msg_rate->to_string());
  }

  void default_rule(const policy::Rule& r) {
    const auto& a = r.attrs;
    comment("default rule: the empty key");
    if (a.action == policy::Action::allow) {
      entry("ClientRate", "", 0);
      entry("ClientConn", "", 0);
      return;
    }
    if (a.conn_rate) {
      rate_comment(*a.conn_rate);
      entry("ClientRate", "", scaled_rate(*a.conn_rate, window));
    }
    if (a.conn_limit) entry("ClientConn", "", *a.conn_limit);
    if (a.greet_pause) {
      comment("  greet_pause " + std::to_string(*a.greet_pause) +
              ": sendmail takes the default from FEATURE(`greet_pause') in sendmail.mc");
    }
    if (a.max_rcpts || a.bad_rcpt_throttle) {
      comment("  max_rcpts, bad_rcpt_throttle: global options in sendmail.mc");
    }
    if (a.rcpt_rate) milter_only("rcpt_rate " + a.rcpt_rate->to_string());
    if (a.msg_rate) milter_only("msg_rate " + a.msg_rate->to_string());
    if (a.dialin && *a.dialin != policy::ModeSetting::off) milter_only("dialin heuristic");
    if (a.generic_hosting && *a.generic_hosting != policy::ModeSetting::off) {
      milter_only("generic_hosting heuristic");
    }
    if (a.missing_rdns && *a.missing_rdns != policy::MissingRdnsMode::off) {
      milter_only("missing_rdns");
    }
  }

  void rule(const policy::Rule& r) {
    if (r.expires) {
      comment("  expires " + policy::format_time(*r.expires) +
              ": sendmail does not expire entries, generate again then");
    }
    switch (r.selector.kind()) {
      case Kind::default_rule:
        default_rule(r);
        return;
      case Kind::address:
      case Kind::network:
        address_rule(r);
        return;
      case Kind::host:
      case Kind::suffix:
        name_rule(r);
        return;
      case Kind::pattern:
        comment("  rDNS pattern: enforced by the milter only");
        return;
    }
  }
};

}  // namespace

std::string sendmail_access(const policy::Policy& p, const Provenance& from, policy::UnixTime now) {
  Writer w{p, connection_rate_window(p), now, {}};
  w.out = detail::header(
      from, "# ",
      {"sendmail access map entries for FEATURE(`ratecontrol'), FEATURE(`conncontrol')",
       "and FEATURE(`greet_pause') (hardenctl gen sendmail-mc --native-limits).",
       "Merge into /etc/mail/access, then: makemap hash /etc/mail/access < /etc/mail/access",
       "ClientRate counts connections per ConnectionRateWindowSize (" +
           policy::format_duration(w.window) + ", the default rule's window); 0 = unlimited.",
       "GreetPause is in milliseconds. IPv6 keys are uncompressed, as sendmail writes them.",
       "sendmail looks GreetPause up by host name before the address; the milter the other",
       "way round. Rules sendmail cannot express are listed as enforced by the milter only."});
  const auto& rules = p.rules();
  for (auto i : detail::live_rules_by_specificity(p, now)) {
    const auto& r = rules[i];
    if (r.selector.kind() != Kind::default_rule) w.comment(detail::rule_name(r));
    w.rule(r);
  }
  for (const auto& r : rules) {
    if (r.expired(now)) w.comment(detail::rule_name(r) + ": expired, left out");
  }
  return w.out;
}

}  // namespace harden::mtaconf
