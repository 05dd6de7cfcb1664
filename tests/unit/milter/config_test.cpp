// config_test.cpp - the daemon's config key table: defaults, parsing, bounds,
// hostile values, YAML files, --print-config round trip, the README table.
#include "harden/milter/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harden/policy/rule.hpp"

namespace harden::milter {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConfigTest, DefaultsComeFromTheTable) {
  const Config c = default_config();
  EXPECT_EQ(c.socket, "unix:/run/milter-harden/milter.sock");
  EXPECT_EQ(c.store, "/var/lib/milter-harden/policy.db");
  EXPECT_EQ(c.mode, Mode::enforce);
  EXPECT_EQ(c.on_internal_error, InternalErrorAction::proceed);
  EXPECT_EQ(c.log_level, LogLevel::info);
  EXPECT_FALSE(c.syslog);
  EXPECT_EQ(c.ipv4_prefix, 32u);
  EXPECT_EQ(c.ipv6_prefix, 64u);
  EXPECT_EQ(c.counter_memory_cap, 256u << 20);
  EXPECT_EQ(c.control_socket, "/run/milter-harden/control.sock");
  EXPECT_EQ(c.metrics_listen, "");
  EXPECT_EQ(c.greet_pause_cap, 9000ms);
  EXPECT_EQ(c.greet_pause_cap.count(),
            policy::kDefaultGreetPauseCapMs);  // hardenctl check assumes it
  EXPECT_EQ(c.reload_interval, 2000ms);
  EXPECT_EQ(c.engine, EngineKind::native);
  EXPECT_EQ(c.allowed_peers, "127.0.0.0/8,::1");
  EXPECT_EQ(c.max_connections, 4000u);
  // Every default is printed back exactly as the table writes it.
  for (const auto& k : config_keys()) EXPECT_EQ(k.get(c), k.default_value) << k.name;
}

TEST(ConfigTest, NativeEngineKeys) {
  Config c = default_config();
  set_config_value(c, "engine", "libmilter");
  EXPECT_EQ(c.engine, EngineKind::libmilter);
  set_config_value(c, "allowed_peers", "192.0.2.0/24, 2001:db8::/32 10.1.2.3");
  EXPECT_EQ(c.allowed_peers, "192.0.2.0/24,2001:db8::/32,10.1.2.3");
  EXPECT_EQ(parse_allowed_peers(c.allowed_peers).size(), 3u);
  for (const char* bad : {"", ",", "192.0.2.1/24", "300.1.2.3", "localhost", "::1/129"})
    EXPECT_THROW(set_config_value(c, "allowed_peers", bad), ConfigError) << bad;
  EXPECT_THROW(set_config_value(c, "engine", "sendmail"), ConfigError);
  EXPECT_THROW(set_config_value(c, "max_connections", "0"), ConfigError);
  std::string many;
  for (int i = 0; i < 300; ++i)
    many += "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ",";
  EXPECT_THROW(set_config_value(c, "allowed_peers", many), ConfigError);
}

TEST(ConfigTest, GoodValuesAreAccepted) {
  struct Case {
    const char* key;
    const char* value;
    const char* printed;
  };
  for (const Case& c : std::vector<Case>{
           {"socket", "unix:/run/milter-harden/milter.sock", "unix:/run/milter-harden/milter.sock"},
           {"socket", "local:/var/run/m.sock", "local:/var/run/m.sock"},
           {"socket", "inet6:8894@::1", "inet6:8894@::1"},
           {"socket", "inet:8894@localhost", "inet:8894@localhost"},
           {"socket", "inet:8894", "inet:8894"},
           {"store", ":memory:", ":memory:"},
           {"mode", "monitor", "monitor"},
           {"on_internal_error", "tempfail", "tempfail"},
           {"log_level", "debug", "debug"},
           {"syslog", "yes", "true"},
           {"syslog", "Off", "false"},
           {"ipv4_prefix", "24", "24"},
           {"ipv6_prefix", "128", "128"},
           {"counter_memory_cap", "1073741824", "1GiB"},
           {"counter_memory_cap", "2048K", "2MiB"},
           {"counter_memory_cap", "1025KiB", "1025KiB"},
           {"counter_memory_cap", "1536MiB", "1536MiB"},
           {"control_socket", "", ""},
           {"metrics_listen", "127.0.0.1:9894", "127.0.0.1:9894"},
           {"metrics_listen", "[::1]:9894", "[::1]:9894"},
           {"user", "milter-harden", "milter-harden"},
           {"greet_pause_cap", "0", "0"},
           {"greet_pause_cap", "2500ms", "2500ms"},
           {"greet_pause_cap", "1m", "1m"},
           {"greet_pause_cap", "9000", "9s"},  // bare digits are ms, as in rules
           {"greet_pause_cap", "2500", "2500ms"},
           {"greet_pause_cap", "0ms", "0"},
           {"reload_interval", "1500", "1500ms"},
           {"reload_interval", "1h", "1h"},
           {"reload_interval", "0", "0"},
           {"reload_interval", "500ms", "500ms"},
           {"reload_interval", "60s", "1m"},
       }) {
    SCOPED_TRACE(std::string(c.key) + "=" + c.value);
    Config cfg = default_config();
    ASSERT_NO_THROW(set_config_value(cfg, c.key, c.value));
    for (const auto& k : config_keys())
      if (k.name == c.key) {
        EXPECT_EQ(k.get(cfg), c.printed);
      }
  }
}

TEST(ConfigTest, BadValuesAreRefusedWithOneLineNamingTheKey) {
  struct Case {
    const char* key;
    std::string value;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"ipv4_prefix", "40", "ipv4_prefix: '40' is out of range 8..32"},
           {"ipv4_prefix", "7", "out of range 8..32"},
           {"ipv4_prefix", "-1", "is not a number"},
           {"ipv4_prefix", "3.5", "is not a whole number"},
           {"ipv4_prefix", "", "is not a number"},
           {"ipv6_prefix", "99999999999999999999999", "too large"},
           {"mode", "enforcing", "mode: 'enforcing' is not one of enforce, monitor"},
           {"on_internal_error", "accept", "not one of continue, tempfail"},
           {"log_level", "INFO", "not one of trace"},
           {"syslog", "maybe", "not true or false"},
           {"counter_memory_cap", "1KiB", "out of range 1MiB..64GiB"},
           {"counter_memory_cap", "65GiB", "out of range 1MiB..64GiB"},
           {"counter_memory_cap", "2TB", "size unit must be KiB, MiB or GiB"},
           {"counter_memory_cap", "18446744073709551615GiB", "too large"},
           {"greet_pause_cap", "61s", "out of range 0..1m"},
           {"greet_pause_cap", "60001", "out of range 0..1m"},
           {"greet_pause_cap", "9 s", "greet_pause_cap: bad duration '9 s'"},
           {"greet_pause_cap", "1.5s", "bad duration '1.5s'"},
           {"greet_pause_cap", "s", "bad duration 's'"},
           {"greet_pause_cap", "10sec", "bad duration '10sec'"},
           {"greet_pause_cap", "-1s", "bad duration '-1s'"},
           {"greet_pause_cap", "", "bad duration ''"},
           {"greet_pause_cap", "99999999999999999999999", "is too large"},
           {"greet_pause_cap", "18446744073709551615m", "is too large"},
           {"greet_pause_cap", std::string(5000, '9'), "is too large"},
           {"reload_interval", "50ms", "out of range 0 or 100ms..1h"},
           {"reload_interval", "50", "out of range 0 or 100ms..1h"},
           {"reload_interval", "2w", "bad duration '2w'"},
           {"socket", "tcp:25@127.0.0.1", "is not unix:PATH, inet:PORT@HOST or inet6:PORT@HOST"},
           {"socket", "inet:0@127.0.0.1", "port must be 1..65535"},
           {"socket", "inet:70000@127.0.0.1", "port must be 1..65535"},
           {"socket", "inet:25@::1", "is not unix:PATH"},
           {"socket", "inet6:25@127.0.0.1", "is not unix:PATH"},
           {"socket", "inet:25@", "is not unix:PATH"},
           {"socket", "unix:relative/path", "is not an absolute path"},
           {"socket", "unix:/" + std::string(200, 'a'), "longer than a unix socket path"},
           {"store", "relative.db", "is not an absolute path"},
           {"store", std::string("/var/lib/x\0y", 12), "is not an absolute path"},
           {"control_socket", "run/c.sock", "is not an absolute path"},
           {"metrics_listen", "0.0.0.0:9894", "loopback"},
           {"metrics_listen", "192.0.2.1:9894", "loopback"},
           {"metrics_listen", "127.0.0.1:", "port must be"},
           {"metrics_listen", "::1:9894", "loopback"},
           {"metrics_listen", "localhost:9894", "loopback"},
           {"user", "root;rm -rf", "is not a user or group name"},
           {"group", "-mail", "is not a user or group name"},
           {"user", std::string(40, 'u'), "is not a user or group name"},
       }) {
    SCOPED_TRACE(std::string(c.key) + "=" + c.value);
    Config cfg = default_config();
    const std::string err = error_of([&] { set_config_value(cfg, c.key, c.value); });
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_TRUE(err.starts_with(std::string(c.key) + ": ")) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos);
  }
}

TEST(ConfigTest, UnknownKeyListsTheKnownOnes) {
  Config c = default_config();
  const std::string err = error_of([&] { set_config_value(c, "sockt", "x"); });
  EXPECT_NE(err.find("unknown key 'sockt'"), std::string::npos) << err;
  EXPECT_NE(err.find("known: socket, store,"), std::string::npos) << err;
  const std::string ctl = error_of([&] { set_config_value(c, std::string("a\nb\x01"), "x"); });
  EXPECT_EQ(ctl.find('\n'), std::string::npos) << ctl;
  EXPECT_NE(ctl.find("a\\x0ab\\x01"), std::string::npos) << ctl;
}

TEST(ConfigTest, YamlDocumentAppliesAllOrNothing) {
  Config c = default_config();
  apply_config_yaml(c, "mode: monitor\nipv4_prefix: 24\nsocket: \"unix:/run/m.sock\"\n", "t.yaml");
  EXPECT_EQ(c.mode, Mode::monitor);
  EXPECT_EQ(c.ipv4_prefix, 24u);
  EXPECT_EQ(c.socket, "unix:/run/m.sock");
  Config d = default_config();
  const std::string err =
      error_of([&] { apply_config_yaml(d, "mode: monitor\nipv6_prefix: 8\n", "/etc/m.yaml"); });
  EXPECT_EQ(err, "/etc/m.yaml: ipv6_prefix: '8' is out of range 16..128");
  EXPECT_EQ(d.mode, Mode::enforce);        // nothing applied
  apply_config_yaml(d, "", "empty.yaml");  // an empty file is the defaults
  apply_config_yaml(d, "# only a comment\n", "comment.yaml");
  EXPECT_EQ(print_config(d), print_config(default_config()));
}

TEST(ConfigTest, YamlShapesThatAreNotAConfig) {
  struct Case {
    std::string yaml;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"- socket\n- store\n", "f.yaml: expected a map of key: value"},
           {"just a string", "f.yaml: expected a map"},
           {"mode: monitor\nmode: enforce\n", "f.yaml: mode: given twice"},
           {"mode: [a, b]\n", "f.yaml: mode: expected a single value"},
           {"mode:\n", "f.yaml: mode: needs a value"},
           {"mode: {x: 1}\n", "f.yaml: mode: expected a single value"},
           {"mode: [a, b\n", "f.yaml: line"},
           {"mode: \"a\" b\n", "f.yaml: line"},
           {"bogus: 1\n", "f.yaml: unknown key 'bogus'"},
           {"? [a]\n: b\n", "f.yaml: unknown key '?'"},
       }) {
    Config cfg = default_config();
    const std::string err = error_of([&] { apply_config_yaml(cfg, c.yaml, "f.yaml"); });
    EXPECT_NE(err.find(c.expect), std::string::npos) << c.yaml << " -> " << err;
  }
}

TEST(ConfigTest, PrintConfigParsesBackToTheSameConfig) {
  Config c = default_config();
  set_config_value(c, "mode", "monitor");
  set_config_value(c, "metrics_listen", "[::1]:9894");
  set_config_value(c, "counter_memory_cap", "3GiB");
  set_config_value(c, "greet_pause_cap", "4500ms");
  set_config_value(c, "control_socket", "");
  set_config_value(c, "syslog", "true");
  const std::string printed = print_config(c);
  for (const auto& k : config_keys())
    EXPECT_NE(printed.find("\n" + std::string(k.name) + ": "), std::string::npos) << k.name;
  Config back = default_config();
  apply_config_yaml(back, printed, "printed");
  EXPECT_EQ(print_config(back), printed);
  EXPECT_EQ(back.greet_pause_cap, 4500ms);
  EXPECT_EQ(back.control_socket, "");
}

TEST(ConfigTest, LoadConfigFileRefusesWhatIsNotARegularSmallFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("harden-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Config c = default_config();
  EXPECT_NE(error_of([&] { load_config_file(c, dir / "missing.yaml"); }).find("not a readable"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_config_file(c, dir); }).find("not a readable regular file"),
            std::string::npos);
  {
    std::ofstream big(dir / "big.yaml");
    big << "# " << std::string(kMaxConfigFileBytes, 'x') << "\n";
  }
  EXPECT_NE(error_of([&] { load_config_file(c, dir / "big.yaml"); }).find("larger than 1 MiB"),
            std::string::npos);
  {
    std::ofstream good(dir / "good.yaml");
    good << "mode: monitor\n";
  }
  load_config_file(c, dir / "good.yaml");
  EXPECT_EQ(c.mode, Mode::monitor);
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, ReadmeTableIsTheGeneratedOne) {
  const auto readme =
      std::filesystem::path(HARDEN_TEST_DATA_DIR) / ".." / ".." / "milter" / "README.md";
  std::ifstream in(readme);
  ASSERT_TRUE(in) << readme;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find(config_table_markdown()), std::string::npos)
      << "milter/README.md: paste the output of milter-harden --print-config-table";
}

TEST(ConfigTest, ExampleConfigFileLoads) {
  const auto example =
      std::filesystem::path(HARDEN_TEST_DATA_DIR) / ".." / ".." / "contrib" / "milter-harden.yaml";
  Config c = default_config();
  ASSERT_NO_THROW(load_config_file(c, example));
  EXPECT_FALSE(c.syslog);  // the unit's stderr reaches syslog through the journal
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9894");
  EXPECT_EQ(c.socket, default_config().socket);
}

}  // namespace
}  // namespace harden::milter

namespace harden::milter {
namespace {

TEST(ConfigTest, RedisKeysAreCheckedAndThePasswordIsNeverPrinted) {
  Config c = default_config();
  EXPECT_EQ(c.counters, CounterKind::local);
  EXPECT_EQ(c.redis_command_timeout, 50ms);
  EXPECT_EQ(c.redis_connect_timeout, 50ms);
  EXPECT_EQ(c.redis_key_prefix, "mh:");
  EXPECT_EQ(c.redis_failure, db::RedisFailure::local);
  EXPECT_EQ(c.host_id, "");
  set_config_value(c, "counters", "redis");
  set_config_value(c, "redis_url", "redis://mh:hunter2secret@10.0.0.5:6380/2");
  set_config_value(c, "redis_failure", "continue");
  set_config_value(c, "host_id", "mx1.example.org");
  EXPECT_EQ(c.redis_url, "redis://mh@10.0.0.5:6380/2");
  EXPECT_EQ(c.redis_url_password, "hunter2secret");
  EXPECT_EQ(c.redis_failure, db::RedisFailure::proceed);
  const std::string printed = print_config(c);
  EXPECT_EQ(printed.find("hunter2secret"), std::string::npos);
  EXPECT_NE(printed.find("redis_failure: continue"), std::string::npos);
  EXPECT_NE(printed.find("redis_url: \"redis://mh@10.0.0.5:6380/2\""), std::string::npos)
      << printed;
  Config back = default_config();
  apply_config_yaml(back, printed, "printed");
  EXPECT_EQ(print_config(back), printed);

  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"redis_url", "http://x"},
           {"redis_url", "redis://u:pw@host:0"},
           {"redis_url", "unix:relative"},
           {"redis_url", "redis://" + std::string(2000, 'h')},
           {"redis_key_prefix", ""},
           {"redis_key_prefix", "a b"},
           {"redis_key_prefix", std::string(65, 'p')},
           {"host_id", "mx 1"},
           {"host_id", "mx/1"},
           {"redis_command_timeout", "0"},
           {"redis_command_timeout", "11s"},
           {"redis_liveness_ttl", "500ms"},
           {"redis_failure", "ignore"},
           {"counters", "memcached"},
           {"redis_password_file", "relative/file"},
       }) {
    Config d = default_config();
    const std::string err = error_of([&] { set_config_value(d, key, value); });
    EXPECT_EQ(err.find(key + ": "), 0u) << key << "=" << value << " -> " << err;
    EXPECT_EQ(err.find("pw@"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace harden::milter
