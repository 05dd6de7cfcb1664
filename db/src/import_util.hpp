// import_util.hpp - what the importers share (internal to harden::db).
//
//   LineReader r(in, "access");     physical lines, bounded, NUL-free, CR stripped
//   r.fail(line, "msg")             throws ImportError "access:12: msg"
//   r.note(result, line, "msg")     adds the note "access:12: msg"
//   RuleSet rules;                  rules by selector, in first-seen order
//   clean_reason(...)               reply text made safe (or an error)
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "harden/db/importers.hpp"

namespace harden::db::detail {

class LineReader {
 public:
  LineReader(std::istream& in, std::string_view file);

  // Next physical line without "\n" / "\r\n"; false at the end. Throws
  // ImportError on an overlong line, a NUL byte, too many lines or a read error.
  bool next(std::string& line);
  // Number of the line next() returned last (1-based).
  std::size_t line_no() const { return line_no_; }
  const std::string& file() const { return file_; }

  [[noreturn]] void fail(std::size_t line, std::string_view msg) const;
  void note(ImportResult& r, std::size_t line, std::string_view msg) const;
  // "import FILE:LINE", a comment for the rules a line creates.
  std::string comment(std::size_t line) const;

 private:
  std::istream& in_;
  std::string file_;
  std::size_t line_no_ = 0;
};

// Rules keyed by selector text, kept in the order first seen.
class RuleSet {
 public:
  // The rule for `sel`, created empty (with `comment`) if new.
  policy::Rule& get(const policy::Selector& sel, const std::string& comment);
  bool contains(const policy::Selector& sel) const;
  std::vector<policy::Rule> take() { return std::move(rules_); }

 private:
  std::vector<policy::Rule> rules_;
  std::unordered_map<std::string, std::size_t> index_;
};

// Reply text from a file: runs of blanks become one space, an enhanced status
// code at the start ("5.7.1 ") is dropped (the milter sends its own), text
// longer than kMaxReasonLength is cut with a note. Characters other than
// printable ASCII are an error: guessing what they meant is worse.
std::string clean_reason(const LineReader& r, ImportResult& result, std::size_t line,
                         std::string_view text);

// True for "d.d.d" enhanced status codes (RFC 3463) with class 2, 4 or 5.
bool is_enhanced_code(std::string_view s);

// Splits on any of `seps`, dropping empty pieces.
std::vector<std::string_view> split_any(std::string_view s, std::string_view seps);

// sendmail/tcpd IPv4 octet prefixes: "192.0.2.7" (the address), "192.0.2"
// (192.0.2.0/24), "10" (10.0.0.0/8). Decimal octets 0..255 without leading
// zeros (sendmail compares text: "010" would never match). nullopt if bad.
std::optional<policy::IpNetwork> parse_octets(std::string_view s);

}  // namespace harden::db::detail
