// regex_tokens.cpp - the one regex tokenizer (see regex_tokens.hpp).
#include "regex_tokens.hpp"

#include "harden/policy/ascii.hpp"

namespace harden::policy::detail {

namespace {

using Kind = RegexToken::Kind;

using ascii::is_alpha;
using ascii::is_digit;
using ascii::is_print;
using ascii::is_xdigit;

RegexToken token(Kind kind, std::size_t begin, std::size_t size, char c = '\0') {
  RegexToken t;
  t.kind = kind;
  t.begin = begin;
  t.size = size;
  t.c = c;
  return t;
}

}  // namespace

RegexToken RegexLexer::next() {
  RegexToken t = in_class_ ? member() : outside();
  i_ = t.end();
  return t;
}

RegexToken RegexLexer::outside() {
  if (i_ >= re_.size()) return token(Kind::end, re_.size(), 0);
  const char c = re_[i_];
  if (!is_print(c)) return token(Kind::nonprintable, i_, 1, c);
  switch (c) {
    case '\\':
      return escape(false);
    case '[': {
      RegexToken t = token(Kind::class_open, i_, at(i_ + 1) == '^' ? 2 : 1);
      t.negated = t.size == 2;
      in_class_ = true;
      class_first_ = true;
      return t;
    }
    case '(': {
      RegexToken t = token(Kind::group_open, i_, 1);
      if (at(i_ + 1) == '*') {
        t.group = RegexToken::Group::verb;
      } else if (at(i_ + 1) == '?') {
        const bool nc = at(i_ + 2) == ':';
        t.group = nc ? RegexToken::Group::non_capturing : RegexToken::Group::special;
        t.size = nc ? 3 : 2;
      }
      return t;
    }
    case ')':
      return token(Kind::group_close, i_, 1);
    case '.':
      return token(Kind::any, i_, 1);
    case '^':
      return token(Kind::caret, i_, 1);
    case '$':
      return token(Kind::dollar, i_, 1);
    case '|':
      return token(Kind::alternation, i_, 1);
    case '*':
    case '+':
    case '?':
      return quantifier(1);
    case '{': {
      std::size_t k = i_ + 1;
      const std::size_t start = k;
      while (is_digit(at(k))) ++k;
      if (k == start) return token(Kind::bad_brace, i_, 1, c);
      if (at(k) == ',')
        for (++k; is_digit(at(k));) ++k;
      if (at(k) != '}') return token(Kind::bad_brace, i_, 1, c);
      return quantifier(k + 1 - i_);
    }
    default:
      return token(Kind::literal, i_, 1, c);
  }
}

RegexToken RegexLexer::quantifier(std::size_t base) {
  RegexToken t = token(Kind::quantifier, i_, base, re_[i_]);
  t.base = base;
  const char s = at(i_ + base);
  if (s == '?' || s == '+') {
    t.suffix = s;
    ++t.size;
  }
  return t;
}

RegexToken RegexLexer::member() {
  const bool first = class_first_;
  class_first_ = false;
  if (i_ >= re_.size()) {
    in_class_ = false;
    return token(Kind::unterminated, re_.size(), 0);
  }
  const char c = re_[i_];
  RegexToken t;
  if (c == ']' && !first) {
    in_class_ = false;
    return token(Kind::class_close, i_, 1, c);
  }
  if (!is_print(c)) {
    t = token(Kind::nonprintable, i_, 1, c);
  } else if (c == '\\') {
    t = escape(true);
  } else if (c == '[' && (at(i_ + 1) == '.' || at(i_ + 1) == '=')) {
    t = token(Kind::collating, i_, 2, c);
  } else if (c == '[' && at(i_ + 1) == ':') {
    const std::size_t close = re_.find(":]", i_ + 2);
    t = token(Kind::posix_class, i_, close == std::string_view::npos ? 2 : close + 2 - i_, c);
    t.bad = close == std::string_view::npos;
  } else {
    t = token(Kind::literal, i_, 1, c);
  }
  t.in_class = true;
  return t;
}

RegexToken RegexLexer::escape(bool in_class) {
  const char e = at(i_ + 1);
  RegexToken t = token(Kind::escape, i_, i_ + 1 < re_.size() ? 2 : 1, e);
  if (t.size == 1 || !is_print(e)) {
    t.bad = true;
  } else if (is_digit(e) && !in_class) {  // backreference or octal: all its digits
    std::size_t k = i_ + 1;
    while (is_digit(at(k))) ++k;
    t.size = k - i_;
  } else if (e == 'x' || e == 'o' || e == 'p' || e == 'P' || e == 'N') {
    t.size += escape_argument(e, i_ + 2, t.bad);
  }
  return t;
}

std::size_t RegexLexer::escape_argument(char e, std::size_t k, bool& bad) const {
  if (at(k) == '{') {
    const std::size_t close = re_.find('}', k);
    if (close == std::string_view::npos) return bad = true, 0;
    return close + 1 - k;
  }
  switch (e) {
    case 'x': {
      std::size_t n = 0;
      while (n < 2 && is_xdigit(at(k + n))) ++n;
      return n;
    }
    case 'p':
    case 'P':
      if (!is_alpha(at(k))) return bad = true, 0;
      return 1;
    case 'N':
      return 0;
    default:  // \o needs braces
      return bad = true, 0;
  }
}

}  // namespace harden::policy::detail
