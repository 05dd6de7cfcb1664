// redis_test_util.hpp - what the Redis backend's tests share: client keys,
// limits that count everything, options for a private redis-server.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "harden/db/redis_counters.hpp"
#include "support/redis_server.hpp"

namespace harden::db::redis_test {

inline policy::IpNetwork net(const char* text) {
  return policy::IpNetwork::parse(text);
}

inline policy::Limits limits(std::uint32_t conn_limit,
                             std::chrono::seconds window = std::chrono::seconds(60)) {
  policy::Limits l;
  l.conn_limit = conn_limit;
  l.conn_rate = policy::Rate{4, window};
  l.rcpt_rate = policy::Rate{10, window};
  l.msg_rate = policy::Rate{10, window};
  return l;
}

inline RedisCountersOptions options_for(const testing::RedisServer& r, std::string host = "mx1") {
  RedisCountersOptions o;
  o.url = parse_redis_url(r.url());
  o.password = r.password();
  o.host_id = std::move(host);
  // Generous: sanitizer builds on a shared machine; the timeout tests set theirs.
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.command_timeout = std::chrono::milliseconds(2000);
  return o;
}

}  // namespace harden::db::redis_test
