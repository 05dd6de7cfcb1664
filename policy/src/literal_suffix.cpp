// literal_suffix.cpp - required literal suffixes of regexes, and a reversed
// trie to find the regexes whose suffix a subject ends with.
//
// SYNOPSIS
//   required_suffix(R"(^(a|b)\.example\.com$)") == ".example.com"
//   LiteralSuffixIndex(entries).collect(subject, candidates);
//
// The tokenizer is exact on what it accepts and refuses the rest (see
// literal_suffix.hpp). It keeps `run_`: the literal characters read since
// the last token that was not a plain, unquantified literal. A quantifier
// empties it (the quantified character is optional or repeated, so what
// came before is no longer adjacent to the end), as does every other atom,
// group bracket or assertion. When the closing "$" is the regex's last
// character at depth 0, `run_` is what every match ends with.
#include "literal_suffix.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <map>

namespace harden::policy::detail {

namespace {

bool printable(char c) {
  return c >= 0x20 && c <= 0x7e;
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
}
bool one_of(char c, std::string_view set) {
  return c != '\0' && set.find(c) != std::string_view::npos;
}

class SuffixTokenizer {
 public:
  explicit SuffixTokenizer(std::string_view re) : re_(re) {}

  // The required suffix, or "" (refused, or none).
  std::string run() {
    while (i_ < re_.size() && !refused_ && !done_) step();
    return done_ && !refused_ ? run_ : std::string();
  }

 private:
  std::string_view re_;
  std::size_t i_ = 0;
  int depth_ = 0;
  bool refused_ = false, done_ = false;
  std::string run_;

  char at(std::size_t k) const { return k < re_.size() ? re_[k] : '\0'; }
  void refuse() { refused_ = true; }
  void other(std::size_t len) {  // any token that is not a plain literal
    i_ += len;
    run_.clear();
  }
  void literal(char c, std::size_t len) {
    i_ += len;
    run_ += lower(c);
  }

  void step() {
    const char c = re_[i_];
    if (!printable(c)) return refuse();
    if (alpha(c) || digit(c) || c == '-' || c == '_') return literal(c, 1);
    switch (c) {
      case '\\':
        return escape();
      case '[':
        return char_class();
      case '(':
        return open_group();
      case ')':
        if (--depth_ < 0) return refuse();
        return other(1);
      case '|':
        if (depth_ == 0) return refuse();
        return other(1);
      case '$':
        if (i_ + 1 == re_.size() && depth_ == 0) return void(done_ = true);
        return other(1);
      case '*':
      case '+':
      case '?':
        return quantifier(1);
      case '{':
        return brace();
      case '.':  // any character: kept as kAnyChar
        ++i_;
        run_ += kAnyChar;
        return;
      default:  // ^ ] } and other punctuation: not kept in the run
        return other(1);
    }
  }

  // After "*", "+", "?" or "{...}": a lazy "?" or possessive "+" may follow.
  void quantifier(std::size_t len) {
    other(len);
    if (at(i_) == '?' || at(i_) == '+') ++i_;
  }

  // Only "{n}", "{n,}", "{n,m}" are taken; any other "{" is refused, as
  // PCRE2 versions differ on "{,m}" and "{ n }".
  void brace() {
    std::size_t k = i_ + 1;
    const std::size_t start = k;
    while (digit(at(k))) ++k;
    if (k == start) return refuse();
    if (at(k) == ',')
      for (++k; digit(at(k));) ++k;
    if (at(k) != '}') return refuse();
    quantifier(k + 1 - i_);
  }

  void open_group() {
    if (at(i_ + 1) == '*') return refuse();  // (*VERB)
    if (at(i_ + 1) == '?') {
      if (at(i_ + 2) != ':') return refuse();  // lookaround, options, names, ...
      ++depth_;
      return other(3);
    }
    ++depth_;
    other(1);
  }

  // Length of a "{...}" argument at k (0 if none); refuses if unterminated.
  std::size_t braced(std::size_t k) {
    if (at(k) != '{') return 0;
    const std::size_t end = re_.find('}', k);
    if (end == std::string_view::npos) return refuse(), 0;
    return end + 1 - k;
  }

  // Length of what \x \o \p \P \N take after the letter at k: "{...}",
  // else up to 2 hex digits (\x), one letter (\p \P), nothing (\N).
  std::size_t escape_argument(char e, std::size_t k) {
    if (at(k) == '{') return braced(k);
    switch (e) {
      case 'x': {
        std::size_t n = 0;
        while (n < 2 && one_of(lower(at(k + n)), "0123456789abcdef")) ++n;
        return n;
      }
      case 'p':
      case 'P':
        if (!alpha(at(k))) refuse();
        return 1;
      case 'N':
        return 0;
      default:  // \o needs braces
        return refuse(), 0;
    }
  }

  void escape() {
    const char e = at(i_ + 1);
    if (e == '\0' || !printable(e)) return refuse();
    if (!alpha(e) && !digit(e)) return literal(e, 2);  // punctuation (or space)
    if (digit(e)) {  // backreference or octal: not a literal we keep
      std::size_t k = i_ + 1;
      while (digit(at(k))) ++k;
      return other(k - i_);
    }
    if (one_of(e, "xopPN")) return other(2 + escape_argument(e, i_ + 2));
    if (one_of(e, "dDwWsShHvVRXCtnrfaebBAzZGK")) return other(2);
    refuse();  // \Q \E \c \g \k \u ... : not read here
  }

  // A class "[...]" (one atom, never kept in the run).
  void char_class() {
    std::size_t k = i_ + 1;
    if (at(k) == '^') ++k;
    if (at(k) == ']') ++k;  // "[]...]" and "[^]...]": ']' is a member
    while (!refused_) {
      const char c = at(k);
      if (k >= re_.size() || !printable(c)) return refuse();
      if (c == ']') break;
      k += class_member(k);
    }
    if (refused_) return;
    i_ = k;
    other(1);
  }

  std::size_t class_member(std::size_t k) {
    const char c = at(k);
    if (c == '[' && one_of(at(k + 1), ".=")) return refuse(), 1;  // collating elements
    if (c == '[' && at(k + 1) == ':') {
      const std::size_t end = re_.find(":]", k + 2);
      if (end == std::string_view::npos) return refuse(), 1;
      return end + 2 - k;
    }
    if (c != '\\') return 1;
    const char e = at(k + 1);
    if (e == '\0' || !printable(e) || one_of(e, "QEc")) return refuse(), 1;
    if (one_of(e, "xopPN")) {
      const std::size_t arg = escape_argument(e, k + 2);
      return refused_ ? 1 : 2 + arg;
    }
    return 2;
  }
};

}  // namespace

std::string required_suffix(std::string_view regex, std::size_t min_length) {
  std::string s = SuffixTokenizer(regex).run();
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
    if (want != kAnyChar && want != lower(subject[left - 1 - j])) return std::string_view::npos;
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
      const char* hit = std::find(first, last, lower(subject[left - 1]));
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
