// mta_tools.hpp - running the real MTA tools over generated configuration.
//
// SYNOPSIS
//   TempDir dir;                                   // fresh, mode 0755, removed afterwards
//   ToolResult r = run({"m4", mc}, "");                   // argv as is, no shell; stdout, stderr
//   apart ToolResult r = run_sandboxed({exim, "-C", conf, "-bV"}, "", {"203.0.113.5
//   dsl-5.example.net"}); if (!sandbox_available()) GTEST_SKIP() << kNeedsRoot; fs::path cf =
//   sendmail_cf_dir();               // unpacked Debian sendmail-cf tree std::string mc =
//   debian_mc(dir.path(), generated, {.drop = {"greet_pause"}}); EximTree t =
//   debian_exim_tree(dir.path());     // copy of Debian's /etc/exim4 for tests
//
// The MTAs come unpacked from scripts/fetch-mta.sh (ctest fixtures mta_sendmail
// and mta_exim) below HARDEN_MTA_DIR. sendmail -bt, makemap and exim need
// scripts/mta-sandbox.sh (a qualified host name, the Debian-exim/smmta users),
// which needs root; tests that need it skip without it. m4 runs anywhere.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace harden::mtaconf::itest {

namespace fs = std::filesystem;

inline constexpr std::string_view kNeedsRoot =
    "needs root for scripts/mta-sandbox.sh (private mount namespace)";

struct ToolResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

ToolResult run(const std::vector<std::string>& argv, std::string_view input = {},
               std::chrono::seconds timeout = std::chrono::seconds{60});
// The same inside scripts/mta-sandbox.sh, with extra /etc/hosts lines.
ToolResult run_sandboxed(const std::vector<std::string>& argv, std::string_view input = {},
                         const std::vector<std::string>& hosts = {});
// Several commands in ONE sandbox (starting it costs more than most commands):
// each with its own argv and stdin; results in the same order. `work` is a
// directory for the batch's files.
struct Call {
  std::vector<std::string> argv;
  std::string input;
  std::vector<std::string> env = {};  // "NAME=value" added to the command's environment
};
std::vector<ToolResult> run_sandboxed_batch(const fs::path& work, const std::vector<Call>& calls,
                                            const std::vector<std::string>& hosts = {});
// True when scripts/mta-sandbox.sh works here (root, mount namespaces).
bool sandbox_available();
// libfaketime's preload library (Debian's libfaketime), or "" when missing.
// A command run with LD_PRELOAD=it and FAKETIME="2026-12-06 10:00:00" sees
// that frozen time (Exim's ratelimit and $tod_epoch included).
fs::path faketime_library();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& p);
void write_file(const fs::path& p, std::string_view text);
// Lines of `text` starting with `prefix`.
std::vector<std::string> lines_with(const std::string& text, std::string_view prefix);

// Unpacked trees (fail the test with a hint if missing).
fs::path sendmail_root();
fs::path sendmail_cf_dir();  // sendmail_root()/usr/share/sendmail/cf
fs::path exim_root();
fs::path contrib_m4_dir();  // the repository's contrib/m4

struct McOptions {
  // FEATURE(`x' ...) lines of Debian's .mc to delete (what the generated
  // native lines tell ops to do): "greet_pause", "ratecontrol", ...
  std::vector<std::string> drop;
  // Use this cf/ tree instead of the unpacked one (a shadow with our FEATURE).
  fs::path cf_dir;
};

// Debian's default sendmail.mc made to run from the unpacked tree: its
// include of cf.m4 and of Debian's autoconf.m4 point there, dialup.m4 and
// provider.m4 are empty files in `dir`, local-host-names is in `dir`; then
// `generated` goes in just before MAILER_DEFINITIONS. Fails the test if
// Debian's file no longer has the lines this relies on.
std::string debian_mc(const fs::path& dir, const std::string& generated,
                      const McOptions& options = {});

// A cf/ tree in `dir` that is the unpacked one plus contrib/m4's FEATURE.
fs::path shadow_cf_with_contrib_feature(const fs::path& dir);

// m4 over `mc` (written to dir/name.mc); the .cf text and m4's stderr.
ToolResult m4_cf(const fs::path& dir, const std::string& mc, const std::string& name = "test");

// Debian's /etc/exim4 copied to dir/exim4, with a main file that points
// CONFDIR and SPOOLDIR into `dir` and turns off host name lookups (there is
// no DNS in tests: names come from -oMs), system_aliases reading
// dir/aliases, and update-exim4.conf copied to dir with its two fixed
// system paths (/etc/mailname, the chown to Debian-exim) replaced.
struct EximTree {
  fs::path confdir;  // dir/exim4: update-exim4.conf.conf, conf.d/, ...
  fs::path spool;
  fs::path update_script;
};
EximTree debian_exim_tree(const fs::path& dir);
// update-exim4.conf over the tree; returns the generated exim4.conf path.
fs::path update_exim4_conf(const EximTree& t);
// exim -C conf ARGS in the sandbox (spool handed to Debian-exim first); the
// batch form runs several in one sandbox.
ToolResult exim(const fs::path& conf, const fs::path& spool, const std::vector<std::string>& args,
                std::string_view input = {}, const std::vector<std::string>& hosts = {});
std::vector<ToolResult> exim_batch(const fs::path& conf, const fs::path& spool,
                                   const std::vector<Call>& calls,
                                   const std::vector<std::string>& hosts = {});

}  // namespace harden::mtaconf::itest
