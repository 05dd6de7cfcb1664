// daemon_fixture.hpp - a GoogleTest fixture that runs the built milter-harden
// on a fresh store in a temp dir and drives it over its unix socket.
//
// SYNOPSIS
//   class MyTest : public DaemonTest {};
//   TEST_F(MyTest, X) {
//     rule("default", {{"conn_rate", "3/1m"}});    // before start(): written with harden::db
//     start();                                    // milter-harden --config dir/milter-harden.yaml
//     Session s = open(peer_at("192.0.2.7"));     // negotiate + macros + CONNECT
//     expect_refused(s.connect_reply(), "421", "4.3.2");
//   }
//
// The store starts as `hardenctl init` leaves it, with every limit of the
// default rule switched off (conn_rate, conn_limit, greet_pause, max_rcpts,
// bad_rcpt_throttle, rcpt_rate, msg_rate, greet_pass_ttl = 0; dialin,
// missing_rdns, penalty = off), so
// each test turns on exactly the limit it measures. Loopback stays allowed.
// The metrics endpoint listens on a free loopback port (metric()).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/daemon.hpp"
#include "support/milter_client.hpp"
#include "support/process.hpp"

namespace harden::testing {

using Attrs = std::vector<std::pair<std::string, std::string>>;

// The store of `d` as `hardenctl init` leaves it, every limit of the default
// rule switched off (what DaemonTest starts from).
void seed_store_all_off(const MilterDaemon& d);
// Adds or updates the rule for `selector` in the store of `d` (harden::db).
void set_rule(const MilterDaemon& d, const std::string& selector, const Attrs& attrs);

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest();
  void TearDown() override;

  // Adds the rule, or sets these attributes on the existing rule with that
  // selector. Works before start() and, for live changes, after.
  void rule(const std::string& selector, const Attrs& attrs);
  void remove_rule(const std::string& selector);
  void start() { daemon_.start(); }

  Session open(const Peer& peer) { return Session::start(daemon_.socket(), peer, timeout_); }
  // Opens a session, returns the connect reply, quits.
  Reply connect_once(const Peer& peer);

  // A sample of the daemon's Prometheus endpoint (0 when absent).
  double metric(const std::string& sample);
  // The whole text of GET /metrics.
  std::string metrics_text();

  MilterDaemon& daemon() { return daemon_; }
  const TempDir& dir() const { return dir_; }

  std::chrono::milliseconds timeout_{10'000};

 private:
  TempDir dir_;
  MilterDaemon daemon_;
  std::uint16_t metrics_port_ = 0;
};

// The reply is a SMFIR_REPLYCODE with this SMTP and enhanced code.
::testing::AssertionResult refused_with(const Reply& r, const std::string& smtp,
                                        const std::string& enhanced);
::testing::AssertionResult continues(const Reply& r);
// A connect reply that lets the client in: continue, or accept (allow-listed:
// the milter steps aside for the rest of the connection).
::testing::AssertionResult passes(const Reply& r);

#define EXPECT_REFUSED(reply, smtp, enhanced) \
  EXPECT_TRUE(::harden::testing::refused_with((reply), (smtp), (enhanced)))
#define EXPECT_CONTINUES(reply) EXPECT_TRUE(::harden::testing::continues(reply))
#define EXPECT_PASSES(reply) EXPECT_TRUE(::harden::testing::passes(reply))

}  // namespace harden::testing
