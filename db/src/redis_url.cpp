// redis_url.cpp - redis_url: "redis://[user[:password]@]host[:port][/db]" or "unix:/path".
#include <algorithm>
#include <charconv>

#include "harden/db/redis_counters.hpp"
#include "harden/policy/address.hpp"
#include "harden/policy/selector.hpp"

namespace harden::db {
namespace {

constexpr std::size_t kMaxUnixPath = 107;  // sockaddr_un::sun_path less the NUL
constexpr std::size_t kMaxCredential = 256;

bool printable_no_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f;
  });
}

[[noreturn]] void bad(std::string_view why) {
  throw RedisError("redis_url: " + std::string(why) +
                   " (expected redis://[user[:password]@]host[:port][/db] or unix:/path)");
}

std::uint32_t parse_number(std::string_view s, std::uint32_t max, std::string_view what) {
  std::uint32_t n = 0;
  const auto* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, n);
  if (s.empty() || s.size() > 10 || r.ec != std::errc{} || r.ptr != end || n > max)
    bad(std::string(what) + " must be a number 0.." + std::to_string(max));
  return n;
}

void parse_host_port(RedisUrl& u, std::string_view hp) {
  std::string_view host = hp;
  std::string_view port;
  if (hp.starts_with('[')) {
    const auto close = hp.find(']');
    if (close == std::string_view::npos) bad("unclosed '[' in the host");
    host = hp.substr(1, close - 1);
    const std::string_view rest = hp.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') bad("unexpected text after ']'");
      port = rest.substr(1);
      if (port.empty()) bad("empty port");
    }
    const auto a = policy::IpAddress::try_parse(host);
    if (!a || a->is_v4()) bad("not an IPv6 address in '[...]'");
  } else {
    const auto colon = hp.find(':');
    if (colon != std::string_view::npos) {
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
      if (port.empty()) bad("empty port");
    }
    if (host.empty()) bad("no host");
    if (!policy::IpAddress::try_parse(host) && !policy::is_valid_hostname(host))
      bad("the host is not a host name or address");
  }
  u.host = std::string(host);
  if (!port.empty()) {
    const auto p = parse_number(port, 65535, "the port");
    if (p == 0) bad("the port must be 1..65535");
    u.port = static_cast<std::uint16_t>(p);
  }
}

}  // namespace

std::string RedisUrl::redacted() const {
  if (kind == Kind::unix_path) return "unix:" + path;
  std::string out = "redis://";
  if (!user.empty()) out += user + "@";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisUrl parse_redis_url(std::string_view text) {
  if (text.size() > kMaxRedisUrl) bad("longer than 1024 bytes");
  if (!printable_no_space(text)) bad("control bytes, spaces or non-ASCII");
  RedisUrl u;
  if (text.starts_with("unix:")) {
    u.kind = RedisUrl::Kind::unix_path;
    u.path = std::string(text.substr(5));
    if (u.path.empty() || u.path.front() != '/') bad("unix: needs an absolute path");
    if (u.path.size() > kMaxUnixPath) bad("the unix socket path is too long");
    return u;
  }
  if (!text.starts_with("redis://")) bad("unknown scheme");
  std::string_view rest = text.substr(8);
  // user[:password]@ - the last '@' ends it (a password may hold '@').
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = cred.find(':');
    u.user = std::string(cred.substr(0, colon));
    if (colon != std::string_view::npos) u.password = std::string(cred.substr(colon + 1));
    if (u.user.size() > kMaxCredential || u.password.size() > kMaxCredential)
      bad("user or password longer than 256 bytes");
    if (u.user.find('/') != std::string::npos) bad("'/' in the user name");
    if (u.user.empty() && u.password.empty()) bad("empty credentials before '@'");
  }
  std::string_view host_port = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    host_port = rest.substr(0, slash);
    u.db = parse_number(rest.substr(slash + 1), kMaxRedisDb, "the database");
  }
  parse_host_port(u, host_port);
  return u;
}

}  // namespace harden::db
