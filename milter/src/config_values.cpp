// config_values.cpp - strict parsers for config values and socket specs.
#include "config_values.hpp"

#include <sys/un.h>

#include <algorithm>
#include <array>
#include <optional>

#include "harden/policy/address.hpp"
#include "harden/policy/ascii.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rate.hpp"
#include "harden/policy/selector.hpp"

namespace harden::milter {
namespace config_values {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMaxPath = 4096;
constexpr std::size_t kMaxSunPath = sizeof(sockaddr_un{}.sun_path) - 1;

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 7> kSizeUnits{{{"", 1},
                                          {"K", 1ull << 10},
                                          {"KiB", 1ull << 10},
                                          {"M", 1ull << 20},
                                          {"MiB", 1ull << 20},
                                          {"G", 1ull << 30},
                                          {"GiB", 1ull << 30}}};
// Far above every key's bound; keeps a parsed duration within milliseconds::rep.
constexpr std::uint64_t kMaxDurationMs = 1ull << 53;

using ascii::is_digit;

// Splits "256MiB" into 256 and "MiB". Throws when there are no digits or the
// number overflows.
std::pair<std::uint64_t, std::string_view> split_number(std::string_view v) {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < v.size() && is_digit(v[i])) {
    const auto digit = static_cast<std::uint64_t>(v[i] - '0');
    if (n > (UINT64_MAX - digit) / 10) throw ConfigError("'" + printable(v) + "' is too large");
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) throw ConfigError("'" + printable(v) + "' is not a number");
  return {n, v.substr(i)};
}

std::uint64_t scaled(std::string_view v, std::uint64_t n, std::uint64_t factor) {
  if (factor != 0 && n > UINT64_MAX / factor)
    throw ConfigError("'" + printable(v) + "' is too large");
  return n * factor;
}

void check_bounds(std::string_view v, std::uint64_t n, const ConfigKey& k) {
  if (n == 0 && k.zero_off) return;
  if ((k.min != 0 || k.max != 0) && (n < k.min || n > k.max))
    throw ConfigError("'" + printable(v) + "' is out of range " + bounds_text(k));
}

std::string with_largest_unit(std::uint64_t n, std::span<const Unit> units) {
  for (auto it = units.rbegin(); it != units.rend(); ++it) {
    if (it->factor != 0 && n % it->factor == 0 && n != 0)
      return std::to_string(n / it->factor) + std::string(it->name);
  }
  return std::to_string(n);
}

bool no_control_chars(std::string_view v) {
  return std::none_of(v.begin(), v.end(), ascii::is_control);
}

}  // namespace

std::uint16_t parse_port(std::string_view text, std::string_view whole) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), is_digit))
    throw ConfigError("'" + printable(whole) + "': port must be 1..65535");
  const auto n = std::stoul(std::string(text));
  if (n == 0 || n > 65535) throw ConfigError("'" + printable(whole) + "': port must be 1..65535");
  return static_cast<std::uint16_t>(n);
}

std::string printable(std::string_view s, std::size_t max) {
  return ascii::escape(s.substr(0, max)) + (s.size() > max ? "..." : "");
}

bool parse_bool(std::string_view v) {
  const std::string lower = ascii::to_lower(v.substr(0, 8));
  if (v.size() <= 8) {
    if (lower == "true" || lower == "yes" || lower == "on") return true;
    if (lower == "false" || lower == "no" || lower == "off") return false;
  }
  throw ConfigError("'" + printable(v) + "' is not true or false");
}

std::uint64_t parse_integer(std::string_view v, const ConfigKey& k) {
  const auto [n, rest] = split_number(v);
  if (!rest.empty()) throw ConfigError("'" + printable(v) + "' is not a whole number");
  check_bounds(v, n, k);
  return n;
}

std::uint64_t parse_size(std::string_view v, const ConfigKey& k) {
  const auto [n, unit] = split_number(v);
  for (const auto& u : kSizeUnits) {
    if (u.name != unit) continue;
    const std::uint64_t bytes = scaled(v, n, u.factor);
    check_bounds(v, bytes, k);
    return bytes;
  }
  throw ConfigError("'" + printable(v) + "': size unit must be KiB, MiB or GiB (or none: bytes)");
}

milliseconds parse_duration(std::string_view v, const ConfigKey& k) {
  std::uint64_t ms = 0;
  try {
    ms = policy::parse_duration_ms(v, kMaxDurationMs);
  } catch (const policy::PolicyError& e) {
    throw ConfigError(e.what());
  }
  check_bounds(v, ms, k);
  return milliseconds{static_cast<milliseconds::rep>(ms)};
}

std::string format_size(std::uint64_t bytes) {
  // Only the canonical long forms.
  static constexpr std::array<Unit, 4> kLong{
      {{"", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}}};
  return with_largest_unit(bytes, kLong);
}

std::string format_duration(milliseconds d) {
  if (d.count() <= 0) return "0";
  return policy::format_duration_ms(static_cast<std::uint64_t>(d.count()));
}

std::string format_number(const ConfigKey& k, std::uint64_t n) {
  switch (k.kind) {
    case ConfigType::size:
      return format_size(n);
    case ConfigType::duration:
      return format_duration(milliseconds{static_cast<milliseconds::rep>(n)});
    default:
      return std::to_string(n);
  }
}

std::string parse_path(std::string_view v, bool allow_memory) {
  if (allow_memory && v == ":memory:") return std::string(v);
  if (v.empty() || v.front() != '/' || v.size() > kMaxPath || !no_control_chars(v))
    throw ConfigError("'" + printable(v) + "' is not an absolute path");
  return std::string(v);
}

std::string parse_socket_path(std::string_view v) {
  if (v.empty()) return {};
  parse_path(v, false);
  if (v.size() > kMaxSunPath)
    throw ConfigError("'" + printable(v) + "' is longer than a unix socket path may be (" +
                      std::to_string(kMaxSunPath) + ")");
  return std::string(v);
}

std::string parse_account(std::string_view v) {
  const bool ok = v.size() <= 32 && (v.empty() || v.front() != '-') &&
                  std::all_of(v.begin(), v.end(), [](char c) {
                    return ascii::is_alnum(c) || c == '.' || c == '_' || c == '-';
                  });
  if (!ok) throw ConfigError("'" + printable(v) + "' is not a user or group name");
  return std::string(v);
}

std::string parse_key_prefix(std::string_view v) {
  const bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
  if (!ok) throw ConfigError("'" + printable(v) + "' is not 1-64 printable characters");
  return std::string(v);
}

std::string parse_host_id(std::string_view v) {
  const bool ok = v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                  });
  if (!ok)
    throw ConfigError("'" + printable(v) + "' is not a host id ([A-Za-z0-9._-], at most 64)");
  return std::string(v);
}

}  // namespace config_values

using config_values::printable;

SocketSpec parse_socket_spec(std::string_view text) {
  const std::string bad =
      "'" + printable(text) + "' is not unix:PATH, inet:PORT@HOST or inet6:PORT@HOST";
  SocketSpec s;
  const auto colon = text.find(':');
  const std::string_view scheme = colon == std::string_view::npos ? "" : text.substr(0, colon);
  const std::string_view rest = colon == std::string_view::npos ? text : text.substr(colon + 1);
  if (scheme == "unix" || scheme == "local" || (scheme.empty() && text.starts_with('/'))) {
    s.kind = SocketSpec::Kind::unix_path;
    s.path = config_values::parse_socket_path(rest);
    if (s.path.empty()) throw ConfigError(bad);
    return s;
  }
  if (scheme != "inet" && scheme != "inet6") throw ConfigError(bad);
  s.kind = scheme == "inet" ? SocketSpec::Kind::inet : SocketSpec::Kind::inet6;
  const auto at = rest.find('@');
  s.port = config_values::parse_port(rest.substr(0, at), text);
  if (at == std::string_view::npos) return s;
  s.host = std::string(rest.substr(at + 1));
  const auto addr = policy::IpAddress::try_parse(s.host);
  const bool host_ok = addr ? addr->is_v4() == (s.kind == SocketSpec::Kind::inet)
                            : policy::is_valid_hostname(s.host);
  if (s.host.empty() || !host_ok) throw ConfigError(bad);
  return s;
}

ListenSpec parse_listen_spec(std::string_view text) {
  const std::string bad = "'" + printable(text) +
                          "' is not HOST:PORT with a loopback address (127.0.0.1:9894, [::1]:9894)";
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw ConfigError(bad);
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos)
    throw ConfigError(bad);
  const auto addr = policy::IpAddress::try_parse(host);
  if (!addr || !addr->is_loopback()) throw ConfigError(bad);
  return ListenSpec{std::string(host), config_values::parse_port(text.substr(colon + 1), text)};
}

std::vector<policy::IpNetwork> parse_allowed_peers(std::string_view text) {
  std::vector<policy::IpNetwork> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = text.find_first_of(", \t", i);
    const std::string_view item = text.substr(i, end == std::string_view::npos ? end : end - i);
    i = end == std::string_view::npos ? text.size() : end + 1;
    if (item.empty()) continue;
    if (out.size() >= 256) throw ConfigError("more than 256 networks");
    try {
      out.push_back(policy::IpNetwork::parse(item));
    } catch (const std::exception&) {
      throw ConfigError("'" + config_values::printable(item) +
                        "' is not a network (CIDR) or address");
    }
  }
  if (out.empty()) throw ConfigError("needs at least one network, e.g. 127.0.0.0/8");
  return out;
}

}  // namespace harden::milter
