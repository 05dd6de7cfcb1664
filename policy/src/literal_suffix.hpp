// literal_suffix.hpp - the literal text a regex's every match ends with, and
// an index finding the regexes whose text a subject ends with. Internal to
// harden_policy (PatternSet's prefilter); tested directly.
//
// SYNOPSIS
//   std::string s = required_suffix(R"(^host[0-9]{1,3}\.example\.it$)");  // ".example.it"
//   LiteralSuffixIndex idx({{s, 7}});
//   idx.collect("host12.example.it", candidates);  // appends 7
//
// required_suffix() reads the regex FORWARD through the shared tokenizer
// (regex_tokens.hpp: escapes, classes incl. "[]...]", "[^]...]" and
// "[:name:]", groups, quantifiers incl. "{n,m}" and lazy/possessive
// suffixes), the one the portable subset check reads too. It gives a
// non-empty answer only when the regex has no "|" at depth 0, ends in "$"
// at depth 0, and the atoms right before that "$" are single literal
// characters (letters, digits, '-', '_', or a backslash before printable
// punctuation) or "." (any character), with no quantifier. The answer, lower-cased, is then a
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

// In a suffix: any one character (an unescaped "." of the regex).
inline constexpr char kAnyChar = '\0';

// The lower-cased literal suffix every match of `regex` ends the subject
// with, kAnyChar standing for any one character ("\.cust.example\.it$" ->
// ".cust" kAnyChar "example.it"), or "" if there is none (or it has fewer
// than `min_length` characters other than kAnyChar). Never starts with
// kAnyChar.
std::string required_suffix(std::string_view regex, std::size_t min_length = kMinLiteralSuffix);

// A trie of reversed suffixes: collect() walks the subject from its end
// and appends the ids of all suffixes the subject ends with (ASCII case of
// the subject ignored; kAnyChar in a suffix matches any character), each
// once, in no particular order.
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
  // A path-compressed trie: an edge carries the characters of a chain of
  // nodes that had one child and no ids (in walk order: the suffix reversed).
  struct Node {
    std::uint32_t edges_begin = 0, edges_end = 0;  // into edge_char_ / edges_
    std::uint32_t ids_begin = 0, ids_end = 0;      // into ids_
  };
  struct Edge {
    std::uint32_t to;           // into nodes_
    std::uint32_t label_begin;  // into labels_; labels_[label_begin] is its edge_char_
    std::uint32_t label_size;
  };
  // Follows edge `e` from a node with `left` subject characters not yet
  // consumed; the edge's first character is known to match. Returns the
  // characters left after it, or npos if the rest of its label does not match.
  std::size_t follow(const Edge& e, std::string_view subject, std::size_t left) const;

  std::vector<Node> nodes_;      // nodes_[0]: the root (the empty suffix)
  std::vector<char> edge_char_;  // first character of each edge, sorted per node
  std::vector<Edge> edges_;
  std::string labels_;
  std::vector<std::uint32_t> ids_;
};

}  // namespace harden::policy::detail
