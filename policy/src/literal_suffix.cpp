// literal_suffix.cpp - required literal suffixes of regexes, and a reversed
// trie to find the regexes whose suffix a subject ends with.
//
// SYNOPSIS
//   required_suffix(R"(^(a|b)\.example\.com$)") == ".example.com"
//   LiteralSuffixIndex(entries).collect(subject, candidates);
//
// The reader takes the tokens of regex_tokens.hpp (the tokenizer
// portable_subset.cpp reads too), is exact on what it accepts and refuses
// the rest (see literal_suffix.hpp). It keeps `run`: the literal characters
// read since the last token that was not a plain, unquantified literal. A
// quantifier empties it (the quantified character is optional or repeated,
// so what came before is no longer adjacent to the end), as does every other
// atom, group bracket or assertion. When the closing "$" is the regex's last
// character at depth 0, `run` is what every match ends with.
#include "literal_suffix.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <map>

#include "harden/policy/ascii.hpp"
#include "regex_tokens.hpp"

namespace harden::policy::detail {

namespace {

using Kind = RegexToken::Kind;

using ascii::is_alnum;
using ascii::to_lower;

bool keeps(char c) {  // an unescaped literal kept in the run as itself
  return is_alnum(c) || c == '-' || c == '_';
}
bool one_of(char c, std::string_view set) {
  return c != '\0' && set.find(c) != std::string_view::npos;
}

// The required suffix of `re`, or "" (refused, or none).
std::string suffix_of(std::string_view re) {
  RegexLexer lex(re);
  std::string run;
  int depth = 0;
  while (!lex.done()) {
    const RegexToken t = lex.next();
    if (t.bad) return {};
    switch (t.kind) {
      case Kind::nonprintable:
      case Kind::bad_brace:  // PCRE2 versions differ on "{,m}" and "{ n }"
      case Kind::unterminated:
        return {};
      case Kind::literal:
        if (!keeps(t.c)) {  // ^ ] } and other punctuation: not kept in the run
          run.clear();
        } else {
          run += to_lower(t.c);
        }
        break;
      case Kind::escape:  // printable: a bad one was refused above
        if (!is_alnum(t.c)) {
          run += t.c;  // a backslash before punctuation (or space): that character
          break;
        }
        // backreferences, octal, classes, assertions: not literals we keep;
        // \Q \E \c \g \k \u ...: not read here
        if (!one_of(t.c, "0123456789xopPNdDwWsShHvVRXCtnrfaebBAzZGK")) return {};
        run.clear();
        break;
      case Kind::any:  // any character: kept as kAnyChar
        run += kAnyChar;
        break;
      case Kind::group_open:
        if (t.group == RegexToken::Group::verb || t.group == RegexToken::Group::special)
          return {};  // (*VERB), lookaround, options, names, ...
        ++depth;
        run.clear();
        break;
      case Kind::group_close:
        if (--depth < 0) return {};
        run.clear();
        break;
      case Kind::alternation:
        if (depth == 0) return {};
        run.clear();
        break;
      case Kind::dollar:
        if (t.end() == re.size() && depth == 0) return run;
        run.clear();
        break;
      case Kind::class_open:  // one atom, never kept in the run
        for (RegexToken m = lex.next(); m.kind != Kind::class_close; m = lex.next()) {
          if (m.bad || m.kind == Kind::unterminated || m.kind == Kind::nonprintable ||
              m.kind == Kind::collating)
            return {};
          if (m.kind == Kind::escape && one_of(m.c, "QEc")) return {};
        }
        run.clear();
        break;
      default:  // ^, quantifiers (what came before is no longer adjacent to the end)
        run.clear();
        break;
    }
  }
  return {};  // no closing "$"
}

}  // namespace

std::string required_suffix(std::string_view regex, std::size_t min_length) {
  std::string s = suffix_of(regex);
  s.erase(0, s.find_first_not_of(kAnyChar));  // a leading "any" tells nothing
  const auto literals = static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return c != kAnyChar; }));
  return literals >= min_length ? s : std::string();
}

LiteralSuffixIndex::LiteralSuffixIndex(const std::vector<Entry>& entries) {
  // Build a tree with sorted children, one node per character...
  std::vector<std::map<char, std::uint32_t>> children(1);
  std::vector<std::vector<std::uint32_t>> ids(1);
  for (const Entry& e : entries) {
    std::uint32_t node = 0;
    for (auto it = e.suffix.rbegin(); it != e.suffix.rend(); ++it) {
      auto [pos, added] =
          children[node].try_emplace(*it, static_cast<std::uint32_t>(children.size()));
      if (added) {
        children.emplace_back();
        ids.emplace_back();
      }
      node = pos->second;
    }
    ids[node].push_back(e.id);
  }
  // ...then lay it out flat, breadth first, merging chains into edges.
  std::vector<std::uint32_t> order = {0};  // new node -> tree node
  for (std::size_t q = 0; q < order.size(); ++q) {
    const std::uint32_t old = order[q];
    Node node;
    node.edges_begin = static_cast<std::uint32_t>(edges_.size());
    for (auto [c, to] : children[old]) {
      const auto label_begin = static_cast<std::uint32_t>(labels_.size());
      labels_ += c;
      while (children[to].size() == 1 && ids[to].empty()) {
        labels_ += children[to].begin()->first;
        to = children[to].begin()->second;
      }
      edge_char_.push_back(c);
      edges_.push_back({static_cast<std::uint32_t>(order.size()), label_begin,
                        static_cast<std::uint32_t>(labels_.size()) - label_begin});
      order.push_back(to);
    }
    node.edges_end = static_cast<std::uint32_t>(edges_.size());
    node.ids_begin = static_cast<std::uint32_t>(ids_.size());
    ids_.insert(ids_.end(), ids[old].begin(), ids[old].end());
    node.ids_end = static_cast<std::uint32_t>(ids_.size());
    nodes_.push_back(node);
  }
}

std::size_t LiteralSuffixIndex::follow(const Edge& e, std::string_view subject,
                                       std::size_t left) const {
  if (left < e.label_size) return std::string_view::npos;
  const char* label = labels_.data() + e.label_begin;
  for (std::size_t j = 1; j < e.label_size; ++j) {
    const char want = label[j];
    if (want != kAnyChar && want != to_lower(subject[left - 1 - j])) return std::string_view::npos;
  }
  return left - e.label_size;
}

void LiteralSuffixIndex::collect(std::string_view subject, std::vector<std::uint32_t>& out) const {
  if (nodes_.empty()) return;
  // Walks from the subject's end; an "any" edge beside a matching one is
  // left on the stack for later (one per node of the walk at most).
  struct Frame {
    std::uint32_t node;
    std::size_t left;  // subject characters not yet consumed
  };
  boost::container::small_vector<Frame, 8> pending;
  pending.push_back({0, subject.size()});
  while (!pending.empty()) {
    auto [node, left] = pending.back();
    pending.pop_back();
    for (;;) {
      const Node& n = nodes_[node];
      out.insert(out.end(), ids_.begin() + n.ids_begin, ids_.begin() + n.ids_end);
      if (left == 0 || n.edges_begin == n.edges_end) break;
      const char* first = edge_char_.data() + n.edges_begin;
      const char* last = edge_char_.data() + n.edges_end;
      const Edge* any = nullptr;
      if (*first == kAnyChar) any = &edges_[n.edges_begin], ++first;  // sorted first
      const char* hit = std::find(first, last, to_lower(subject[left - 1]));
      const Edge* exact =
          hit != last ? &edges_[static_cast<std::size_t>(hit - edge_char_.data())] : nullptr;
      const std::size_t any_left = any ? follow(*any, subject, left) : std::string_view::npos;
      const std::size_t exact_left = exact ? follow(*exact, subject, left) : std::string_view::npos;
      if (exact_left != std::string_view::npos) {
        if (any_left != std::string_view::npos) pending.push_back({any->to, any_left});
        node = exact->to;
        left = exact_left;
      } else if (any_left != std::string_view::npos) {
        node = any->to;
        left = any_left;
      } else {
        break;
      }
    }
  }
}

}  // namespace harden::policy::detail
