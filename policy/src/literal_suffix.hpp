// literal_suffix.hpp - the literal text a regex's every match ends with, and
// an index finding the regexes whose text a subject ends with. Internal to
// harden_policy (PatternSet's prefilter); tested directly.
//
// SYNOPSIS
//   std::string s = required_suffix(R"(^host[0-9]{1,3}\.example\.it$)");  // ".example.it"
//   LiteralSuffixIndex idx({{s, 7}});
//   idx.collect("host12.example.it", candidates);  // appends 7
//
// required_suffix() reads the regex FORWARD with a small exact tokenizer
// (escapes, classes incl. "[]...]", "[^]...]" and "[:name:]", groups,
// quantifiers incl. "{n,m}" and lazy/possessive suffixes). It gives a
// non-empty answer only when the regex has no "|" at depth 0, ends in "$"
// at depth 0, and the atoms right before that "$" are single literal
// characters (letters, digits, '-', '_', or a backslash before printable
// punctuation) with no quantifier. The answer, lower-cased, is then a
// NECESSARY condition under PCRE2 with PCRE2_CASELESS on a subject of
// printable ASCII (no newline, so "$" is the end): the lower-cased subject
// ends with it. Anything the tokenizer does not know for sure - "(?" groups
// other than "(?:", "(*" verbs, \Q \E \c \g \k, a "{" that is no clean
// quantifier, bytes outside printable ASCII - gives no answer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace harden::policy::detail {

// Shorter required suffixes select too many regexes to be worth it.
inline constexpr std::size_t kMinLiteralSuffix = 3;

// The lower-cased literal suffix every match of `regex` ends the subject
// with, or "" if there is none (or it is shorter than `min_length`).
std::string required_suffix(std::string_view regex, std::size_t min_length = kMinLiteralSuffix);

// A trie of reversed suffixes: collect() walks the subject from its end
// and appends the ids of all suffixes the subject ends with (ASCII case of
// the subject ignored), shortest suffix first.
class LiteralSuffixIndex {
 public:
  struct Entry {
    std::string suffix;  // lower-case, not empty
    std::uint32_t id;
  };
  LiteralSuffixIndex() = default;
  explicit LiteralSuffixIndex(const std::vector<Entry>& entries);

  void collect(std::string_view subject, std::vector<std::uint32_t>& out) const;
  bool empty() const { return ids_.empty(); }

 private:
  struct Node {
    std::uint32_t edges_begin = 0, edges_end = 0;  // into edge_char_ / edge_to_
    std::uint32_t ids_begin = 0, ids_end = 0;      // into ids_
  };
  std::vector<Node> nodes_;  // nodes_[0]: the root (the empty suffix)
  std::vector<char> edge_char_;
  std::vector<std::uint32_t> edge_to_, ids_;
};

}  // namespace harden::policy::detail
