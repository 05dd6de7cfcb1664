// portable_subset.cpp - the portable subset check (see portable_subset.hpp)
// over the shared regex tokens.
#include "portable_subset.hpp"

#include <algorithm>
#include <array>

#include "harden/policy/ascii.hpp"
#include "regex_tokens.hpp"

namespace harden::policy::detail {

namespace {

using Kind = RegexToken::Kind;

using ascii::is_alnum;
using ascii::is_digit;
using ascii::is_print;
using ascii::is_xdigit;

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return ascii::to_lower(c) - 'a' + 10;
}
bool one_of(char c, std::string_view set) {
  return set.find(c) != std::string_view::npos;
}

int control_escape(char e) {
  switch (e) {
    case 't':
      return '\t';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 'f':
      return '\f';
    case 'a':
      return '\a';
    default:
      return 0x1b;  // e
  }
}

class SubsetChecker {
 public:
  explicit SubsetChecker(std::string_view re) : re_(re), lex_(re) {}

  std::string run() {
    while (!lex_.done() && why_.empty()) step(lex_.next());
    return why_;
  }

 private:
  std::string_view re_;
  RegexLexer lex_;
  bool can_repeat_ = false;  // the previous item is an atom a quantifier may follow
  std::string why_;

  char at(std::size_t k) const { return k < re_.size() ? re_[k] : '\0'; }
  void fail(std::string_view what, std::size_t offset) {
    why_ = std::string(what) + " at offset " + std::to_string(offset) +
           " (not in the portable subset)";
  }
  void atom() { can_repeat_ = true; }
  void assertion() { can_repeat_ = false; }
  // "\xHH" below 0x80 at k (the backslash).
  bool hex_escape(std::size_t k) const {
    const char h = at(k + 2), l = at(k + 3);
    return is_xdigit(h) && is_xdigit(l) && hex_value(h) < 8;
  }

  void step(const RegexToken& t) {
    switch (t.kind) {
      case Kind::nonprintable:
        return fail("non-printable or non-ASCII byte", t.begin);
      case Kind::escape:
        return escape(t);
      case Kind::class_open:
        return char_class(t);
      case Kind::group_open:
        if (t.group == RegexToken::Group::special) return fail("group construct \"(?\"", t.begin);
        return assertion();  // "(", "(?:"; "(*" fails at its "*"
      case Kind::group_close:
      case Kind::any:
      case Kind::literal:  // "]" and "}" too
        return atom();
      case Kind::caret:
      case Kind::dollar:
      case Kind::alternation:
        return assertion();
      case Kind::quantifier:
        return quantifier(t);
      case Kind::bad_brace:  // read differently by PCRE2 versions and the engines
        return fail("'{' that is not a quantifier", t.begin);
      default:  // end; class tokens come only after class_open
        return;
    }
  }

  void escape(const RegexToken& t) {
    const char e = t.c;
    if (one_of(e, "dDwWstnrfae")) return atom();
    if (one_of(e, "bBAz")) return assertion();
    if (e == 'x')
      return hex_escape(t.begin) ? atom() : fail("\\x escape other than \\xHH below 0x80", t.begin);
    if (e == '\0' || is_alnum(e) || !is_print(e))
      return fail(std::string("escape \\") + e, t.begin);
    atom();  // backslash before punctuation: that character
  }

  void quantifier(const RegexToken& t) {
    if (!can_repeat_) return fail("quantifier not after an atom", t.begin);
    can_repeat_ = false;
    if (t.suffix == '+') return fail("possessive quantifier", t.begin + t.base);
    // lazy: same verdict for "matches anywhere"; "?+" is possessive again
    const RegexToken after = lex_.peek();
    if (t.suffix == '?' && after.kind == Kind::quantifier && after.c == '+')
      fail("possessive quantifier", after.begin);
  }

  // ---- character classes ----

  // Whether class member `m` is allowed; `literal` gets its character for
  // literals (-1 for \d, [:alpha:] ...).
  bool member(const RegexToken& m, int& literal) const {
    literal = -1;
    switch (m.kind) {
      case Kind::escape: {
        const char e = m.c;
        if (one_of(e, "dDwWsS")) return true;
        if (one_of(e, "tnrfae")) return literal = control_escape(e), true;
        if (e == 'x') {
          if (!hex_escape(m.begin)) return false;
          literal = hex_value(at(m.begin + 2)) * 16 + hex_value(at(m.begin + 3));
          return true;
        }
        if (e == '\0' || is_alnum(e) || !is_print(e)) return false;
        literal = static_cast<unsigned char>(e);
        return true;
      }
      case Kind::posix_class:
        return !m.bad && posix_name(m);
      case Kind::literal:
        if (m.c == '[') return false;  // "[" other than "[:name:]"
        literal = static_cast<unsigned char>(m.c);
        return true;
      default:  // collating elements, bytes outside printable ASCII, the end
        return false;
    }
  }

  bool posix_name(const RegexToken& m) const {
    static constexpr std::array<std::string_view, 13> kNames = {
        "alpha",  "digit", "alnum", "upper", "lower", "space", "punct",
        "xdigit", "word",  "blank", "cntrl", "graph", "print"};
    const std::string_view name = re_.substr(m.begin + 2, m.size - 4);
    return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
  }

  static bool is_dash(const RegexToken& t) { return t.kind == Kind::literal && t.c == '-'; }

  void char_class(const RegexToken& open) {
    for (;;) {
      const RegexToken m = lex_.next();
      if (m.kind == Kind::unterminated) return fail("unterminated class", open.begin);
      if (m.kind == Kind::class_close) break;
      int lo = -1;
      if (!member(m, lo)) return fail("class member", m.begin);
      // A "-" before the closing "]" is a literal; any other makes a range.
      RegexLexer look = lex_;
      const RegexToken dash = look.next();
      if (!is_dash(dash) || look.peek().kind == Kind::class_close) continue;
      // A range: both ends literals, and no '-' right after it.
      const RegexToken end = look.next();
      lex_ = look;
      int hi = -1;
      if (lo < 0 || !member(end, hi) || hi < 0 || hi < lo)
        return fail("'-' in a class that is not a plain range", dash.begin);
      look = lex_;
      const RegexToken next = look.next();
      if (is_dash(next) && look.peek().kind != Kind::class_close)
        return fail("'-' right after a range", next.begin);
    }
    atom();
  }
};

}  // namespace

std::string portable_subset_violation(std::string_view regex) {
  return SubsetChecker(regex).run();
}

}  // namespace harden::policy::detail
