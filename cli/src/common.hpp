// common.hpp - what every hardenctl command shares.
//
// SYNOPSIS
//   Globals g;                                 --db (or HARDEN_DB), filled by main.cpp
//   throw UsageError("...");                   exit 2, one line on stderr
//   db::Store s = open_store(g, Access::write, Need::initialized);
//   Assignment a = split_assignment("conn_rate=10/1m");
//   std::string text = read_input_file(path);  regular files only, bounded size
//   auto in = open_input_stream("-");          FILE or stdin, streamed
//   LineReader r(*in, 4096); r.next(line, too_long);   lines with bounded memory
//   write_output_file(path, text);             atomic: temp file + rename
//   std::string line = escaped_line(message);  control characters escaped
//
// EXIT CODES
//   0  success
//   1  the policy result the caller asked about (check --exit-code: block/tempfail)
//   2  usage or input error: bad arguments, bad values, bad files, store errors
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <istream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "harden/db/store.hpp"
#include "harden/policy/rule.hpp"

namespace harden::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitPolicy = 1;
inline constexpr int kExitUsage = 2;

inline constexpr std::string_view kDefaultDbPath = "/var/lib/milter-harden/policy.db";
inline constexpr std::string_view kDbEnvVar = "HARDEN_DB";
// Import files larger than this are refused before they are parsed.
inline constexpr std::uintmax_t kMaxInputFileBytes = 64u * 1024u * 1024u;

// A bad argument, value or file: the command did nothing. Exit code 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Options every command takes.
struct Globals {
  std::string db{kDefaultDbPath};
};

enum class Access { read, write };
enum class Need { exists, initialized };

// The store path of `g`; throws UsageError if it is empty.
std::filesystem::path store_path(const Globals& g);

// Opens the existing store for `access`. Throws UsageError with one line
// (and the fix: `hardenctl init`) when it is missing, a directory, not
// writable for a write, or (Need::initialized) holds no default rule.
db::Store open_store(const Globals& g, Access access, Need need = Need::initialized);

// "name=value" split at the first '='. Throws UsageError without one.
struct Assignment {
  std::string name;
  std::string value;
};
Assignment split_assignment(std::string_view arg);

// The whole content of a regular file of at most kMaxInputFileBytes.
// Throws UsageError naming the path otherwise.
std::string read_input_file(const std::filesystem::path& path);

// A stream read line by line with bounded memory (check --batch): next()
// gives each line without its newline (and a CR before it). A line longer
// than `max_len` bytes comes back cut to max_len with `too_long` set; the
// rest of it is skipped unread into memory.
class LineReader {
 public:
  LineReader(std::istream& in, std::size_t max_len) : in_(in), max_len_(max_len) {}
  // False at the end of the input (a last line without a newline counts).
  bool next(std::string& line, bool& too_long);
  std::size_t line_no() const { return line_no_; }
  bool failed() const { return in_.bad(); }

 private:
  std::istream& in_;
  std::size_t max_len_;
  std::size_t line_no_ = 0;
};

// Opens FILE for reading, or stdin for "-": anything but a directory or a
// missing file (pipes and /dev/stdin included). Throws UsageError.
std::unique_ptr<std::istream> open_input_stream(const std::string& path);

// Writes `text` to `path` via a temporary file in the same directory and a
// rename, so `path` is either untouched or complete. With `mode`, the file
// gets exactly that mode whatever the umask (generated MTA files: 0644).
// Throws UsageError.
void write_output_file(const std::filesystem::path& path, std::string_view text,
                       std::optional<mode_t> mode = std::nullopt);

// `msg` as one line: trailing newlines, CRs and spaces dropped, then newlines
// and other control bytes as \xNN (bytes >= 0x80 kept, as printable() does).
std::string escaped_line(std::string_view msg);

// Wall-clock now, in whole seconds.
policy::UnixTime now();

}  // namespace harden::cli
