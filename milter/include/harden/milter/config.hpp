// config.hpp - the daemon's configuration: one table of keys, YAML in, YAML out.
//
// SYNOPSIS
//   Config c = default_config();                     // the table's defaults
//   load_config_file(c, "/etc/milter-harden/milter-harden.yaml");  // YAML map of key: value
//   set_config_value(c, "socket", "inet:8894@127.0.0.1");   // --set, -p, --store
//   std::cout << print_config(c);                    // --print-config, parseable again
//   std::cout << config_table_markdown();            // the README table
//
// Every key is declared once, in config_keys(): name, type, default, bounds
// and a doc line. Parsing, defaults, --print-config and the README table all
// come from that table, so they cannot disagree.
//
// Errors (unknown key, bad value, value out of bounds, unreadable file)
// throw ConfigError with ONE line naming the file and the key:
//   "/etc/milter-harden/milter-harden.yaml: ipv4_prefix: 40 is out of range 8..32"
//
// THREAD SAFETY
//   A Config is a plain value, read-only once the daemon runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "harden/db/fallback_counters.hpp"
#include "harden/milter/engine.hpp"
#include "harden/policy/address.hpp"

namespace harden::milter {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a callback does when our own code fails (on_internal_error).
enum class InternalErrorAction : std::uint8_t { proceed, tempfail };  // "continue" | "tempfail"
enum class LogLevel : std::uint8_t { trace, debug, info, warn, error, critical, off };
enum class EngineKind : std::uint8_t { native, libmilter };
// engine libmilter: whether greet pauses are held there (libmilter_greet_pause).
enum class LibmilterPause : std::uint8_t { skip, hold };

std::string_view to_string(Mode m);
std::string_view to_string(InternalErrorAction a);
std::string_view to_string(LogLevel l);
std::string_view to_string(EngineKind e);
std::string_view to_string(LibmilterPause p);

// counters: local | redis (redis_failure is db::RedisFailure).
enum class CounterKind : std::uint8_t { local, redis };
std::string_view to_string(CounterKind k);
std::string_view to_string(db::RedisFailure f);

struct Config {
  std::string socket;  // libmilter socket spec
  std::string store;   // SQLite policy store
  Mode mode = Mode::enforce;
  InternalErrorAction on_internal_error = InternalErrorAction::proceed;
  LogLevel log_level = LogLevel::info;
  bool syslog = false;
  unsigned ipv4_prefix = 32;
  unsigned ipv6_prefix = 64;
  std::uint64_t counter_memory_cap = 0;  // bytes
  std::string control_socket;            // empty: no control socket
  std::string metrics_listen;            // empty: no metrics endpoint
  std::string user;                      // empty: keep running as who started us
  std::string group;
  std::chrono::milliseconds greet_pause_cap{0};
  std::chrono::milliseconds reload_interval{0};  // 0: no data_version polling
  EngineKind engine = EngineKind::native;
  LibmilterPause libmilter_greet_pause = LibmilterPause::skip;
  std::string allowed_peers;  // normalised: "127.0.0.0/8,::1/128"
  std::uint64_t max_connections = 0;
  std::uint64_t io_threads = 0;  // 0: automatic (set_native_io)

  // counters: local | redis, and the Redis backend's settings.
  CounterKind counters = CounterKind::local;
  std::string redis_url;           // without its password (RedisUrl::redacted)
  std::string redis_url_password;  // from redis_url; never printed
  std::string redis_password_file;
  std::string redis_key_prefix;
  std::chrono::milliseconds redis_connect_timeout{0};
  std::chrono::milliseconds redis_command_timeout{0};
  db::RedisFailure redis_failure = db::RedisFailure::local;
  std::string host_id;  // empty: the host name
  std::chrono::milliseconds redis_liveness_ttl{0};

  // Client memory: greet passes and penalties (db/client_memory.hpp).
  std::string state_file;  // empty: memory only
  std::chrono::milliseconds state_flush_interval{0};
  std::uint64_t client_memory_entries = 0;
  bool test_clock_control = false;
};

struct ConfigKey;
using ConfigSetter = void (*)(Config&, const ConfigKey&, std::string_view);
using ConfigGetter = std::string (*)(const Config&);

enum class ConfigType : std::uint8_t { text, choice, boolean, integer, size, duration };

struct ConfigKey {
  std::string_view name;
  ConfigType kind;
  std::string_view type;           // for humans: "enforce | monitor", "size", ...
  std::string_view default_value;  // as it would be written in the YAML file
  std::uint64_t min = 0;           // integer, size (bytes), duration (ms); both 0: unbounded
  std::uint64_t max = 0;
  bool zero_off = false;  // 0 is also allowed and means "off"
  std::string_view doc;
  ConfigSetter set;
  ConfigGetter get;
};

// The one table of keys, in the order --print-config and the README use.
std::span<const ConfigKey> config_keys();
// "8..32", "1MiB..64GiB", "0 or 100ms..1h", or "" when the key has none.
std::string bounds_text(const ConfigKey& key);

Config default_config();
// Parses and sets one key. Throws ConfigError "key: why" (unknown key: lists the known ones).
void set_config_value(Config& c, std::string_view key, std::string_view value);
// Applies a YAML document (a map of key: scalar) on top of `c`. `origin`
// names the source in errors. Throws ConfigError.
void apply_config_yaml(Config& c, std::string_view yaml, std::string_view origin);
// Reads a regular file of at most kMaxConfigFileBytes and applies it.
void load_config_file(Config& c, const std::filesystem::path& path);
inline constexpr std::uintmax_t kMaxConfigFileBytes = 1u << 20;

// The effective configuration as YAML with each key's doc line as a comment;
// apply_config_yaml(print_config(c)) gives c back.
std::string print_config(const Config& c);
// The key table as a Markdown table (key | type | default | bounds | meaning).
std::string config_table_markdown();

// A libmilter socket spec, validated: unix:PATH (or local:PATH, or a bare
// absolute path), inet:PORT[@HOST], inet6:PORT[@HOST].
struct SocketSpec {
  enum class Kind : std::uint8_t { unix_path, inet, inet6 } kind = Kind::inet;
  std::string path;  // unix
  std::uint16_t port = 0;
  std::string host;  // inet, inet6; empty = every address
};
// Throws ConfigError naming the bad part.
SocketSpec parse_socket_spec(std::string_view text);

// metrics_listen: "127.0.0.1:9894" or "[::1]:9894" (loopback only).
struct ListenSpec {
  std::string host;  // address literal without brackets
  std::uint16_t port = 0;
};
ListenSpec parse_listen_spec(std::string_view text);

// allowed_peers: networks or addresses separated by commas or spaces, at
// least one, at most 256. Throws ConfigError naming the bad item.
std::vector<policy::IpNetwork> parse_allowed_peers(std::string_view text);

}  // namespace harden::milter
