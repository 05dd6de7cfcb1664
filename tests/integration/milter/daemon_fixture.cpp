// daemon_fixture.cpp - the protocol tests' fixture: store seeding with
// harden::db, daemon start/stop, reply assertions.
#include "daemon_fixture.hpp"

#include <iostream>

#include "harden/db/store.hpp"
#include "harden/policy/selector.hpp"
#include "support/http_get.hpp"

namespace harden::testing {
namespace {

const Attrs kAllOff{{"conn_rate", "0"},      {"conn_limit", "0"},        {"greet_pause", "0"},
                    {"max_rcpts", "0"},      {"bad_rcpt_throttle", "0"}, {"rcpt_rate", "0"},
                    {"msg_rate", "0"},       {"dialin", "off"},          {"missing_rdns", "off"},
                    {"greet_pass_ttl", "0"}, {"penalty", "off"}};

}  // namespace

void seed_store_all_off(const MilterDaemon& d) {
  db::Store::open(d.store()).init_defaults();
  set_rule(d, "default", kAllOff);
}

void set_rule(const MilterDaemon& d, const std::string& selector, const Attrs& attrs) {
  auto store = db::Store::open(d.store());
  const auto sel = policy::Selector::parse(selector);
  std::optional<policy::Rule> r = store.find(sel);
  const bool exists = r.has_value();
  if (!exists) {
    r.emplace();
    r->selector = sel;
  }
  for (const auto& [k, v] : attrs) r->attrs.set(k, v);
  if (exists) {
    store.update(*r);
  } else {
    store.add(*r);
  }
}

DaemonTest::DaemonTest() : dir_("milter-proto"), daemon_(dir_.path()) {
  seed_store_all_off(daemon_);
  metrics_port_ = free_tcp_port();
  daemon_.set("metrics_listen", "127.0.0.1:" + std::to_string(metrics_port_));
}

double DaemonTest::metric(const std::string& sample) {
  return metric_value(metrics_text(), sample).value_or(0.0);
}

std::string DaemonTest::metrics_text() {
  return http_get("127.0.0.1", metrics_port_, "/metrics", timeout_);
}

void DaemonTest::TearDown() {
  if (HasFailure()) {
    std::cerr << "---- milter-harden log (" << daemon_.log_path() << ") ----\n"
              << daemon_.log() << "---- end of log ----\n";
  }
  if (daemon_.running()) {
    EXPECT_TRUE(daemon_.stop()) << "milter-harden did not stop on SIGTERM";
  }
}

void DaemonTest::rule(const std::string& selector, const Attrs& attrs) {
  set_rule(daemon_, selector, attrs);
}

void DaemonTest::remove_rule(const std::string& selector) {
  auto store = db::Store::open(daemon_.store());
  store.remove(policy::Selector::parse(selector));
}

Reply DaemonTest::connect_once(const Peer& peer) {
  Session s = open(peer);
  Reply r = s.connect_reply();
  s.quit();
  return r;
}

::testing::AssertionResult refused_with(const Reply& r, const std::string& smtp,
                                        const std::string& enhanced) {
  if (r.code != 'y')
    return ::testing::AssertionFailure()
           << "expected a " << smtp << " " << enhanced << " replycode, got " << r.describe();
  if (r.smtp_code() != smtp || r.enhanced_code() != enhanced)
    return ::testing::AssertionFailure()
           << "expected " << smtp << " " << enhanced << ", got " << r.describe();
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult continues(const Reply& r) {
  if (r.is_continue()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected continue, got " << r.describe();
}

::testing::AssertionResult passes(const Reply& r) {
  if (r.is_continue() || r.is_accept()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected continue or accept, got " << r.describe();
}

}  // namespace harden::testing
