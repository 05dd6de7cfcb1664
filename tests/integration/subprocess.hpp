// subprocess.hpp - run a program and capture what it says (for integration tests).
//
// SYNOPSIS
//   ProcessResult r = run_process("/path/to/hardenctl", {"rule", "list"}, opts);
//   r.exit_code, r.signal, r.out, r.err
//
// fork + execve with an explicit argv: no shell, nothing in an argument is
// ever interpreted. The child's environment is the test's minus `unset_env`,
// plus `set_env`. stdin gets `stdin_text` (then EOF); stdout and stderr are
// read concurrently so neither pipe can fill up and block the child. A child
// still running after `timeout` is killed (signal SIGKILL in the result).
// `file_size_limit` sets RLIMIT_FSIZE in the child (with SIGXFSZ ignored, so
// writes past it fail with EFBIG even for root).
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace harden::test {

struct ProcessOptions {
  std::vector<std::string> unset_env;
  std::vector<std::pair<std::string, std::string>> set_env;
  std::string stdin_text;
  std::optional<rlim_t> file_size_limit;
  std::chrono::seconds timeout{120};
};

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, or 0
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::string& path, const std::vector<std::string>& args,
                          const ProcessOptions& options = {});

}  // namespace harden::test
