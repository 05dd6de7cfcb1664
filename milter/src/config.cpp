// config.cpp - the key table and the typed value parsers behind it.
#include "harden/milter/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <set>
#include <sstream>

#include "config_values.hpp"
#include "harden/policy/ascii.hpp"
#include "harden/policy/rule.hpp"

namespace harden::milter {
namespace {

using namespace config_values;
using std::chrono::milliseconds;

constexpr std::uint64_t kMiB = 1u << 20;
constexpr std::uint64_t kGiB = 1u << 30;

// clang-format off
constexpr std::array kKeys{
  ConfigKey{"socket", ConfigType::text, "unix:PATH | inet:PORT@HOST | inet6:PORT@HOST", "unix:/run/milter-harden/milter.sock", 0, 0, false,
    "milter socket the MTA connects to (Postfix smtpd_milters, sendmail INPUT_MAIL_FILTER S=); "
    "a unix socket is mode 0660 in a directory created 0750, both the daemon's user and "
    "group: add the MTA's user to that group",
    [](Config& c, const ConfigKey&, std::string_view v) {
      parse_socket_spec(v);
      c.socket = std::string(v);
    },
    [](const Config& c) { return c.socket; }},
  ConfigKey{"store", ConfigType::text, "path", "/var/lib/milter-harden/policy.db", 0, 0, false,
    "SQLite policy store; created and seeded with the default rules if missing",
    [](Config& c, const ConfigKey&, std::string_view v) { c.store = parse_path(v, true); },
    [](const Config& c) { return c.store; }},
  ConfigKey{"mode", ConfigType::choice, "enforce | monitor", "enforce", 0, 0, false,
    "monitor logs \"would reject\" and enforces nothing",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.mode = parse_choice<Mode>(v, {{"enforce", Mode::enforce}, {"monitor", Mode::monitor}});
    },
    [](const Config& c) { return std::string(to_string(c.mode)); }},
  ConfigKey{"on_internal_error", ConfigType::choice, "continue | tempfail", "continue", 0, 0, false,
    "what a callback answers when milter-harden itself fails (continue never loses mail)",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.on_internal_error = parse_choice<InternalErrorAction>(
          v, {{"continue", InternalErrorAction::proceed},
              {"tempfail", InternalErrorAction::tempfail}});
    },
    [](const Config& c) { return std::string(to_string(c.on_internal_error)); }},
  ConfigKey{"log_level", ConfigType::choice, "trace | debug | info | warn | error | critical | off", "info", 0, 0, false,
    "least severe level logged; enforcement lines are info",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.log_level = parse_choice<LogLevel>(
          v, {{"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
              {"warn", LogLevel::warn}, {"error", LogLevel::error},
              {"critical", LogLevel::critical}, {"off", LogLevel::off}});
    },
    [](const Config& c) { return std::string(to_string(c.log_level)); }},
  ConfigKey{"syslog", ConfigType::boolean, "bool", "false", 0, 0, false,
    "also log to syslog (facility mail, ident milter-harden)",
    [](Config& c, const ConfigKey&, std::string_view v) { c.syslog = parse_bool(v); },
    [](const Config& c) { return std::string(c.syslog ? "true" : "false"); }},
  ConfigKey{"ipv4_prefix", ConfigType::integer, "integer", "32", 8, 32, false,
    "IPv4 clients are counted per network of this prefix length",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.ipv4_prefix = static_cast<unsigned>(parse_integer(v, k));
    },
    [](const Config& c) { return std::to_string(c.ipv4_prefix); }},
  ConfigKey{"ipv6_prefix", ConfigType::integer, "integer", "64", 16, 128, false,
    "IPv6 clients are counted per network of this prefix length (a host owns a /64)",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.ipv6_prefix = static_cast<unsigned>(parse_integer(v, k));
    },
    [](const Config& c) { return std::to_string(c.ipv6_prefix); }},
  ConfigKey{"counter_memory_cap", ConfigType::size, "size (bytes, KiB, MiB, GiB)", "256MiB", kMiB, 64 * kGiB, false,
    "hard cap on the per-client counter table; least recently used clients are evicted",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.counter_memory_cap = parse_size(v, k);
    },
    [](const Config& c) { return format_size(c.counter_memory_cap); }},
  ConfigKey{"counters", ConfigType::choice, "local | redis", "local", 0, 0, false,
    "where client counters live: local (this process; a restart starts every client from "
    "zero) or redis (shared by every MX host on that Redis, kept across restarts)",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.counters = parse_choice<CounterKind>(
          v, {{"local", CounterKind::local}, {"redis", CounterKind::redis}});
    },
    [](const Config& c) { return std::string(to_string(c.counters)); }},
  ConfigKey{"redis_url", ConfigType::text, "redis://[user[:password]@]host[:port][/db] | unix:PATH", "redis://127.0.0.1:6379/0", 0, 0, false,
    "counters redis: the server; a password given here is never printed (prefer "
    "redis_password_file)",
    [](Config& c, const ConfigKey&, std::string_view v) {
      try {
        const db::RedisUrl u = db::parse_redis_url(v);
        c.redis_url = u.redacted();
        c.redis_url_password = u.password;
      } catch (const db::RedisError& e) {
        const std::string_view m = e.what();  // "redis_url: why": the caller names the key
        throw ConfigError(std::string(m.starts_with("redis_url: ") ? m.substr(11) : m));
      }
    },
    [](const Config& c) { return c.redis_url; }},
  ConfigKey{"redis_password_file", ConfigType::text, "path or empty", "", 0, 0, false,
    "counters redis: a file holding the password (first line), read at start; the password "
    "is never logged or printed",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.redis_password_file = v.empty() ? std::string() : parse_path(v, false);
    },
    [](const Config& c) { return c.redis_password_file; }},
  ConfigKey{"redis_key_prefix", ConfigType::text, "1-64 printable characters", "mh:", 0, 0, false,
    "counters redis: prefix of every key written (several sites on one Redis use different "
    "prefixes)",
    [](Config& c, const ConfigKey&, std::string_view v) { c.redis_key_prefix = parse_key_prefix(v); },
    [](const Config& c) { return c.redis_key_prefix; }},
  ConfigKey{"redis_connect_timeout", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "50ms", 1, 10'000, false,
    "counters redis: longest wait for a connection to Redis; past it the call falls back "
    "(redis_failure)",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.redis_connect_timeout = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.redis_connect_timeout); }},
  ConfigKey{"redis_command_timeout", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "50ms", 1, 10'000, false,
    "counters redis: longest wait for one counter call (one round trip); past it the call "
    "falls back (redis_failure)",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.redis_command_timeout = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.redis_command_timeout); }},
  ConfigKey{"redis_failure", ConfigType::choice, "local | continue | tempfail", "local", 0, 0, false,
    "counters redis, while Redis is down or slow: local counts in this process (limits per "
    "host), continue counts nothing, tempfail answers new connections 421 4.3.0",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.redis_failure = parse_choice<db::RedisFailure>(
          v, {{"local", db::RedisFailure::local}, {"continue", db::RedisFailure::proceed},
              {"tempfail", db::RedisFailure::tempfail}});
    },
    [](const Config& c) { return std::string(to_string(c.redis_failure)); }},
  ConfigKey{"host_id", ConfigType::text, "name ([A-Za-z0-9._-], at most 64) or empty", "", 0, 0, false,
    "counters redis: this daemon's name in Redis (its open connections, its liveness key); "
    "empty: the host name",
    [](Config& c, const ConfigKey&, std::string_view v) { c.host_id = parse_host_id(v); },
    [](const Config& c) { return c.host_id; }},
  ConfigKey{"redis_liveness_ttl", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "10s", 1000, 300'000, false,
    "counters redis: a daemon renews its liveness key every third of this; when it dies, "
    "its open connections stop counting at most this long after",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.redis_liveness_ttl = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.redis_liveness_ttl); }},
  ConfigKey{"control_socket", ConfigType::text, "path or empty", "/run/milter-harden/control.sock", 0, 0, false,
    "unix socket for hardenctl status|client|flush|reload (mode 0660); empty: none",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.control_socket = parse_socket_path(v);
    },
    [](const Config& c) { return c.control_socket; }},
  ConfigKey{"metrics_listen", ConfigType::text, "HOST:PORT (loopback) or empty", "", 0, 0, false,
    "Prometheus text endpoint, GET /metrics, e.g. 127.0.0.1:9894; empty: none",
    [](Config& c, const ConfigKey&, std::string_view v) {
      if (!v.empty()) parse_listen_spec(v);
      c.metrics_listen = std::string(v);
    },
    [](const Config& c) { return c.metrics_listen; }},
  ConfigKey{"user", ConfigType::text, "user name or empty", "", 0, 0, false,
    "when started as root: switch to this user after binding the sockets",
    [](Config& c, const ConfigKey&, std::string_view v) { c.user = parse_account(v); },
    [](const Config& c) { return c.user; }},
  ConfigKey{"group", ConfigType::text, "group name or empty", "", 0, 0, false,
    "when started as root: switch to this group (default: the user's) after binding",
    [](Config& c, const ConfigKey&, std::string_view v) { c.group = parse_account(v); },
    [](const Config& c) { return c.group; }},
  ConfigKey{"greet_pause_cap", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "9s", 0, policy::kMaxGreetPauseMs, false,
    "longest greet pause held, whatever the policy says; keep it below the MTA's wait "
    "for the connect reply (sendmail T=R: 10s, Postfix milter_command_timeout 30s)",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.greet_pause_cap = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.greet_pause_cap); }},
  ConfigKey{"reload_interval", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "2s", 100, 3'600'000, true,
    "how often the store file is checked for changes (a stat, no SQLite); 0: only on "
    "SIGHUP and hardenctl reload",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.reload_interval = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.reload_interval); }},
  ConfigKey{"engine", ConfigType::choice, "native | libmilter", "native", 0, 0, false,
    "who speaks the milter protocol: native (event-driven, timers for pauses, strict parser) "
    "or libmilter (the reference engine, kept for one release)",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.engine = parse_choice<EngineKind>(
          v, {{"native", EngineKind::native}, {"libmilter", EngineKind::libmilter}});
    },
    [](const Config& c) { return std::string(to_string(c.engine)); }},
  ConfigKey{"libmilter_greet_pause", ConfigType::choice, "skip | hold", "skip", 0, 0, false,
    "engine libmilter only: skip holds no greet pause (libmilter's worker pool queues held "
    "CONNECTs behind each other: a burst of K waits up to K pauses); hold holds them anyway",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.libmilter_greet_pause = parse_choice<LibmilterPause>(
          v, {{"skip", LibmilterPause::skip}, {"hold", LibmilterPause::hold}});
    },
    [](const Config& c) { return std::string(to_string(c.libmilter_greet_pause)); }},
  ConfigKey{"allowed_peers", ConfigType::text, "networks (CIDR), comma-separated", "127.0.0.0/8,::1", 0, 0, false,
    "native engine, inet sockets: MTA addresses allowed to connect; others are closed "
    "before any byte is read",
    [](Config& c, const ConfigKey&, std::string_view v) {
      std::string norm;
      for (const auto& n : parse_allowed_peers(v)) norm += (norm.empty() ? "" : ",") + n.to_string();
      c.allowed_peers = norm;
    },
    [](const Config& c) { return c.allowed_peers; }},
  ConfigKey{"max_connections", ConfigType::integer, "integer", "4000", 1, 1'000'000, false,
    "native engine: MTA connections served at once; more are closed at accept (each "
    "needs one file descriptor)",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.max_connections = parse_integer(v, k);
    },
    [](const Config& c) { return std::to_string(c.max_connections); }},
  ConfigKey{"io_threads", ConfigType::integer, "integer", "0", 0, 256, false,
    "native engine: threads serving the MTA connections; 0: one per core (the first "
    "serves alone up to 64 sessions in progress, a burst spreads); with counters: redis "
    "each has one pipelined Redis connection and never waits for it",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.io_threads = parse_integer(v, k);
    },
    [](const Config& c) { return std::to_string(c.io_threads); }},
  ConfigKey{"state_file", ConfigType::text, "path or empty", "/var/lib/milter-harden/state.db", 0, 0, false,
    "SQLite file where greet passes and penalties survive a restart (written in batches by "
    "the control thread); empty: kept in memory only",
    [](Config& c, const ConfigKey&, std::string_view v) {
      c.state_file = v.empty() ? std::string() : parse_path(v, false);
    },
    [](const Config& c) { return c.state_file; }},
  ConfigKey{"state_flush_interval", ConfigType::duration, "duration (ms, s, m, h; bare digits: ms)", "5s", 100, 3'600'000, false,
    "how often changed client records are written to state_file; a crash loses at most "
    "this much",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.state_flush_interval = parse_duration(v, k);
    },
    [](const Config& c) { return format_duration(c.state_flush_interval); }},
  ConfigKey{"client_memory_entries", ConfigType::integer, "integer", "200000", 1000, 100'000'000, false,
    "most client records (passes, offences, penalties) kept, about 0.5 KiB each; the least "
    "recently used go first, preferring those without a penalty in force",
    [](Config& c, const ConfigKey& k, std::string_view v) {
      c.client_memory_entries = parse_integer(v, k);
    },
    [](const Config& c) { return std::to_string(c.client_memory_entries); }},
  ConfigKey{"test_clock_control", ConfigType::boolean, "bool", "false", 0, 0, false,
    "tests only: the control socket may move the daemon's clock forward (\"clock advance "
    "MS\"), so expiries can be tested without waiting; never on in production",
    [](Config& c, const ConfigKey&, std::string_view v) { c.test_clock_control = parse_bool(v); },
    [](const Config& c) { return std::string(c.test_clock_control ? "true" : "false"); }},
};
// clang-format on

const ConfigKey* find_key(std::string_view name) {
  for (const auto& k : kKeys)
    if (k.name == name) return &k;
  return nullptr;
}

std::string known_keys() {
  std::string out;
  for (const auto& k : kKeys) out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

// A YAML scalar in the form print_config writes: plain when safe, else double-quoted.
std::string yaml_scalar(std::string_view v) {
  const bool plain = !v.empty() && std::all_of(v.begin(), v.end(), [](char ch) {
    return ascii::is_alnum(ch) || ch == '.' || ch == '/' || ch == '_' || ch == '-' || ch == '@';
  });
  if (plain) return std::string(v);
  // Bytes >= 0x80 as they are: in YAML "\xc3" is U+00C3, not the byte.
  return "\"" + ascii::escape(v, "\"\\", ascii::High::keep) + "\"";
}

std::string scalar_of(const YAML::Node& value, std::string_view key) {
  if (value.IsNull()) throw ConfigError(std::string(key) + ": needs a value");
  if (!value.IsScalar())
    throw ConfigError(std::string(key) + ": expected a single value, not a list or map");
  return value.Scalar();
}

}  // namespace

std::string_view to_string(EngineKind e) {
  return e == EngineKind::native ? "native" : "libmilter";
}

std::string_view to_string(LibmilterPause p) {
  return p == LibmilterPause::skip ? "skip" : "hold";
}

std::string_view to_string(Mode m) {
  return m == Mode::enforce ? "enforce" : "monitor";
}

std::string_view to_string(InternalErrorAction a) {
  return a == InternalErrorAction::proceed ? "continue" : "tempfail";
}

std::string_view to_string(LogLevel l) {
  static constexpr std::array<std::string_view, 7> kNames{"trace", "debug",    "info", "warn",
                                                          "error", "critical", "off"};
  return kNames[static_cast<std::size_t>(l)];
}

std::string_view to_string(CounterKind k) {
  return k == CounterKind::local ? "local" : "redis";
}

std::string_view to_string(db::RedisFailure f) {
  switch (f) {
    case db::RedisFailure::local:
      return "local";
    case db::RedisFailure::proceed:
      return "continue";
    case db::RedisFailure::tempfail:
      return "tempfail";
  }
  return "?";
}

std::span<const ConfigKey> config_keys() {
  return kKeys;
}

std::string bounds_text(const ConfigKey& key) {
  if (key.min == 0 && key.max == 0) return "";
  const std::string range = format_number(key, key.min) + ".." + format_number(key, key.max);
  return key.zero_off ? "0 or " + range : range;
}

Config default_config() {
  Config c;
  for (const auto& k : kKeys) k.set(c, k, k.default_value);
  return c;
}

void set_config_value(Config& c, std::string_view key, std::string_view value) {
  const ConfigKey* k = find_key(key);
  if (!k) throw ConfigError("unknown key '" + printable(key) + "' (known: " + known_keys() + ")");
  try {
    k->set(c, *k, value);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(k->name) + ": " + e.what());
  }
}

void apply_config_yaml(Config& c, std::string_view yaml, std::string_view origin) {
  const std::string where(origin);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": line " + std::to_string(e.mark.line + 1) + ": " +
                      printable(e.msg));
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw ConfigError(where + ": expected a map of key: value");
  Config next = c;
  std::set<std::string> seen;
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    try {
      if (!seen.insert(key).second) throw ConfigError(printable(key) + ": given twice");
      set_config_value(next, key, scalar_of(kv.second, printable(key)));
    } catch (const ConfigError& e) {
      throw ConfigError(where + ": " + e.what());
    }
  }
  c = std::move(next);
}

void load_config_file(Config& c, const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::is_regular_file(status))
    throw ConfigError(path.string() + ": not a readable regular file");
  if (std::filesystem::file_size(path, ec) > kMaxConfigFileBytes || ec)
    throw ConfigError(path.string() + ": larger than 1 MiB");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw ConfigError(path.string() + ": cannot be read");
  apply_config_yaml(c, text.str(), path.string());
}

std::string print_config(const Config& c) {
  std::string out = "# milter-harden configuration (effective values)\n";
  for (const auto& k : kKeys) {
    out += "\n# " + std::string(k.doc) + "\n";
    out += std::string(k.name) + ": " + yaml_scalar(k.get(c)) + "\n";
  }
  return out;
}

std::string config_table_markdown() {
  std::string out = "| key | type | default | bounds | meaning |\n|---|---|---|---|---|\n";
  auto cell = [](std::string_view s) {
    std::string r;
    for (char ch : s) r += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return r;
  };
  for (const auto& k : kKeys) {
    const std::string def =
        k.default_value.empty() ? "(empty)" : "`" + std::string(k.default_value) + "`";
    out += "| `" + std::string(k.name) + "` | " + cell(k.type) + " | " + def + " | " +
           bounds_text(k) + " | " + cell(k.doc) + " |\n";
  }
  return out;
}

}  // namespace harden::milter
