// top_test.cpp - the control socket's "top" command and `hardenctl top`
// against the built daemon (issue 15): the client keys with the most open
// connections (the counter table's busy index) and the ones refused most
// (the refusal tally fed by enforce()), then the live view in a real tmux
// pane: headings and figures appear, q quits with status 0 and clears the
// screen and gives the terminal back as it found it (stty -a before and
// after), Ctrl-C does the same.
//
// The tmux test runs a private tmux server (its own socket in the test's
// temp dir, no user config) with a detached session of 100x30, polls
// `tmux capture-pane -p` with a bounded deadline (no fixed sleeps), and
// skips, saying so, when tmux is not installed.
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace harden::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The word after the word `key` on the screen ("" when none): the figure
// beside a client key, whichever block it is in.
std::string beside(const std::string& screen, const std::string& key) {
  std::istringstream in(screen);
  for (std::string word, prev; in >> word; prev = word)
    if (prev == key) return word;
  return "";
}

class Top : public DaemonTest {
 protected:
  void TearDown() override {
    for (auto& s : held_) s.quit();  // the daemon waits for open sessions at SIGTERM
    held_.clear();
    DaemonTest::TearDown();
  }

  json control(const json& request) { return json::parse(daemon().control(request.dump())); }

  // Three open sessions from 192.0.2.7, one from 192.0.2.8; 192.0.2.66
  // refused three times by a block rule, 192.0.2.67 once.
  void traffic() {
    rule("192.0.2.66", {{"action", "block"}});
    rule("192.0.2.67", {{"action", "block"}});
    start();
    for (int i = 0; i < 3; ++i) {
      held_.push_back(open(peer_at("192.0.2.7")));
      EXPECT_CONTINUES(held_.back().connect_reply());
    }
    held_.push_back(open(peer_at("192.0.2.8")));
    for (int i = 0; i < 3; ++i) EXPECT_REFUSED(connect_once(peer_at("192.0.2.66")), "550", "5.7.1");
    EXPECT_REFUSED(connect_once(peer_at("192.0.2.67")), "550", "5.7.1");
  }

  std::vector<Session> held_;
};

TEST_F(Top, TopClientsByOpenConnectionsAndByRefusals) {
  traffic();
  const json t = control({{"cmd", "top"}, {"n", 2}});
  ASSERT_TRUE(t.value("ok", false)) << t.dump();
  EXPECT_EQ(t["n"], 2);
  EXPECT_EQ(t["open_scope"], "local");
  ASSERT_EQ(t["by_open"].size(), 2u) << t.dump();
  EXPECT_EQ(t["by_open"][0], json({{"key", "192.0.2.7"}, {"open", 3}}));
  EXPECT_EQ(t["by_open"][1], json({{"key", "192.0.2.8"}, {"open", 1}}));
  ASSERT_EQ(t["by_refusals"].size(), 2u) << t.dump();
  EXPECT_EQ(t["by_refusals"][0],
            json({{"key", "192.0.2.66"}, {"refusals", 3}, {"error", 0}, {"last", "blocked"}}));
  EXPECT_EQ(t["by_refusals"][1]["key"], "192.0.2.67");
  EXPECT_EQ(t["refusals_total"], 4);
  EXPECT_EQ(t["refusals_tracked"], 1024);
  // The tally agrees with decisions_total.
  const json st = control({{"cmd", "stats"}});
  EXPECT_EQ(st["metrics"]["decisions"]["blocked"]["reject"], 4) << st.dump();

  // Default n, bounds, and the slots given back at close.
  EXPECT_EQ(control({{"cmd", "top"}})["n"], 10);
  EXPECT_FALSE(control({{"cmd", "top"}, {"n", 0}}).value("ok", true));
  EXPECT_FALSE(control({{"cmd", "top"}, {"n", 101}}).value("ok", true));
  for (auto& s : held_) s.quit();
  EXPECT_TRUE(poll_until(5s, [&] { return control({{"cmd", "top"}})["by_open"].empty(); }));
  EXPECT_EQ(control({{"cmd", "top"}})["by_refusals"].size(), 2u);  // refusals stay counted
}

TEST_F(Top, HardenctlTopOnceAndWithoutDaemon) {
  traffic();
  const std::string sock = daemon().control_socket().string();
  const RunResult r = run(
      {hardenctl_path(), "top", "--once", "--interval", "200ms", "-n", "3", "--socket", sock}, 20s);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;  // no ANSI with --once
  EXPECT_NE(r.output.find("TOP BY REFUSALS"), std::string::npos) << r.output;
  EXPECT_EQ(beside(r.output, "192.0.2.66"), "3") << r.output;
  EXPECT_EQ(beside(r.output, "192.0.2.7"), "3") << r.output;
  EXPECT_EQ(beside(r.output, "192.0.2.8"), "1") << r.output;
  EXPECT_NE(r.output.find("blocked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("n/a"), std::string::npos) << r.output;  // two samples: rates known

  const RunResult none =
      run({hardenctl_path(), "top", "--once", "--socket", (dir() / "nothing.sock").string()}, 20s);
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_EQ(none.output, "hardenctl: no control socket at " + (dir() / "nothing.sock").string() +
                             " (is milter-harden running? see its control_socket)\n");
}

// A private tmux server; killed with everything in it by the destructor.
class Tmux {
 public:
  explicit Tmux(const std::filesystem::path& dir) : socket_((dir / "tmux.sock").string()) {
    // Dead panes stay (remain-on-exit), so the server lives until the destructor.
    write_file(dir / "tmux.conf", "set -g status off\nset -g remain-on-exit on\n");
    conf_ = (dir / "tmux.conf").string();
  }
  ~Tmux() { run({"tmux", "-S", socket_, "kill-server"}, 10s); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  RunResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), {"tmux", "-S", socket_, "-f", conf_});
    return run(args, 10s, {{"TERM", "xterm-256color"}});
  }
  std::string pane(const std::string& session = "top") const {
    return (*this)({"capture-pane", "-p", "-t", session}).output;
  }
  // "1": the pane's program has ended; "0" while it runs.
  std::string dead(const std::string& session = "top") const {
    return (*this)({"display-message", "-p", "-t", session, "#{pane_dead}"}).output;
  }

 private:
  std::string socket_;
  std::string conf_;
};

bool tmux_installed() {
  return run({"tmux", "-V"}, 10s).ok();
}

TEST_F(Top, LiveViewInTmuxQuitsOnQAndOnCtrlC) {
  if (!tmux_installed()) GTEST_SKIP() << "tmux is not installed (scripts/install-deps.sh adds it)";
  traffic();
  const Tmux tmux(dir().path());
  const std::filesystem::path status = dir() / "status";
  for (const char* key : {"q", "C-c"}) {
    SCOPED_TRACE(key);
    const std::string session = key[0] == 'q' ? "top-q" : "top-ctrl-c";  // one per run
    // bash records the terminal settings before and after, and the status.
    const char* script = R"(d=$1; shift; stty -a > "$d/stty.before"; "$@"; s=$?; )"
                         R"(stty -a > "$d/stty.after"; echo $s > "$d/status")";
    const std::vector<std::string> argv = {"new-session",
                                           "-d",
                                           "-s",
                                           session,
                                           "-x",
                                           "100",
                                           "-y",
                                           "30",
                                           "bash",
                                           "-c",
                                           script,
                                           "top",
                                           dir().path().string(),
                                           hardenctl_path(),
                                           "top",
                                           "--interval",
                                           "300ms",
                                           "-n",
                                           "5",
                                           "--socket",
                                           daemon().control_socket().string()};
    const RunResult started = tmux(argv);
    ASSERT_TRUE(started.ok()) << started.output;
    std::string screen;
    // The headings and the figures, with rates (the second sample) in place.
    const bool shown = poll_until(15s, [&] {
      screen = tmux.pane(session);
      return screen.find("REFUSALS BY KIND") != std::string::npos &&
             screen.find("TOP BY OPEN CONNECTIONS") != std::string::npos &&
             beside(screen, "192.0.2.66") == "3" && beside(screen, "192.0.2.7") == "3" &&
             screen.find("blocked") != std::string::npos &&
             screen.find("q quits; every 300ms") != std::string::npos &&
             screen.find("n/a") == std::string::npos;
    });
    ASSERT_TRUE(shown) << screen;
    EXPECT_EQ(tmux.dead(session).substr(0, 1), "0");  // still running
    ASSERT_TRUE(tmux({"send-keys", "-t", session, key}).ok());
    // bash writes hardenctl's exit status, and the terminal settings before
    // and after it, to files (what a dead pane shows is not reliable).
    EXPECT_TRUE(poll_until(10s, [&] { return std::filesystem::exists(status); }));
    EXPECT_TRUE(poll_until(10s, [&] { return tmux.dead(session).rfind("1", 0) == 0; }))
        << tmux.dead(session);
    EXPECT_EQ(read_file(status), "0\n");
    EXPECT_EQ(read_file(dir() / "stty.after"), read_file(dir() / "stty.before"));
    EXPECT_NE(read_file(dir() / "stty.before").find(" icanon"), std::string::npos);
    std::filesystem::remove(status);
    // It cleared its screen on the way out.
    EXPECT_TRUE(poll_until(5s, [&] {
      return tmux.pane(session).find("TOP BY REFUSALS") == std::string::npos;
    })) << tmux.pane(session);
  }
}

TEST_F(Top, LiveViewSaysWhenTheDaemonGoesAwayAndStillQuits) {
  if (!tmux_installed()) GTEST_SKIP() << "tmux is not installed (scripts/install-deps.sh adds it)";
  traffic();
  const Tmux tmux(dir().path());
  const std::vector<std::string> argv = {"new-session",
                                         "-d",
                                         "-s",
                                         "top",
                                         "-x",
                                         "100",
                                         "-y",
                                         "30",
                                         hardenctl_path(),
                                         "top",
                                         "--interval",
                                         "300ms",
                                         "--socket",
                                         daemon().control_socket().string()};
  ASSERT_TRUE(tmux(argv).ok());
  std::string screen;
  ASSERT_TRUE(poll_until(15s, [&] {
    screen = tmux.pane();
    return beside(screen, "192.0.2.66") == "3";
  })) << screen;
  for (auto& s : held_) s.quit();
  held_.clear();
  ASSERT_TRUE(daemon().stop());
  // The last figures stay, the error is the last line, and it retries.
  ASSERT_TRUE(poll_until(15s, [&] {
    screen = tmux.pane();
    return screen.find("retrying every 300ms: ") != std::string::npos;
  })) << screen;
  EXPECT_EQ(beside(screen, "192.0.2.66"), "3") << screen;
  EXPECT_EQ(tmux.dead().substr(0, 1), "0");
  ASSERT_TRUE(tmux({"send-keys", "-t", "top", "q"}).ok());
  EXPECT_TRUE(poll_until(10s, [&] { return tmux.dead().rfind("1", 0) == 0; })) << tmux.dead();
}

}  // namespace
}  // namespace harden::testing
