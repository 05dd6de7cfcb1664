// regex_tokens.hpp - the one tokenizer of regex text (PCRE syntax) that
// PatternSet's readers share. Internal to harden_policy; tested directly.
//
// SYNOPSIS
//   RegexLexer lex(R"(^host[0-9]{1,3}\.example\.it$)");
//   while (!lex.done()) {
//     const RegexToken t = lex.next();   // caret, literal 'h', ..., class_open,
//     ...                                 // literal '0', literal '-', ...
//   }
//
// The lexer only cuts the text into tokens; it never refuses. What a token
// means, and which tokens a reader does not accept, is the reader's business:
//   required_suffix() (literal_suffix.cpp): the literal text every match ends
//     with; refuses anything it does not know for sure.
//   portable_subset_violation() (portable_subset.cpp): whether PCRE2,
//     Hyperscan and RE2 read the regex alike.
// A malformed token (an escape at the end or before a byte outside printable
// ASCII, an unterminated "{...}" argument, "\p" without a letter, "\o"
// without braces, "[:" without ":]") has `bad` set; a reader that accepts
// none of those stops there, so what follows a bad token is cut
// best-effort.
//
// TOKENS (outside a class)
//   literal      one byte as itself (letters, digits, punctuation with no
//                meaning here, "]" and "}" too); `c`
//   escape       "\" and what follows it: `c` is the byte after the
//                backslash ('\0' at the end of the text); a digit takes all
//                the digits after it (backreference or octal); "\x", "\o",
//                "\p", "\P", "\N" take their argument: "{...}", else up to two
//                hex digits (\x), one letter (\p \P), nothing (\N)
//   any          "."
//   caret, dollar, alternation   "^", "$", "|"
//   group_open   "(" (`group` plain), "(?:" (non_capturing), "(?" and
//                anything else (special, 2 bytes), "(" before "*" (verb: the
//                "(" alone, the "*" comes next as a quantifier)
//   group_close  ")"
//   quantifier   "*", "+", "?", "{n}", "{n,}", "{n,m}" (`c` its first byte),
//                with one lazy "?" or possessive "+" after it in `suffix`
//                ('\0' if none); `base` is the size without the suffix
//   bad_brace    a "{" that is no such quantifier (1 byte)
//   class_open   "[" or "[^" (`negated`); class tokens follow until
//                class_close or unterminated
//   nonprintable a byte outside printable ASCII (0x20..0x7e), 1 byte
//   end          the end of the text (size 0): what next() gives once done()
// TOKENS (inside a class)
//   literal      one byte; a "]" right after "[" or "[^" is a member, "-" is
//                always a literal (ranges are the reader's)
//   escape       as outside, but a digit takes only itself
//   posix_class  "[:name:]" (`bad` without the closing ":]")
//   collating    "[." or "[=" (2 bytes)
//   nonprintable as outside
//   class_close  the "]" that ends the class
//   unterminated the end of the text inside a class (size 0)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace harden::policy::detail {

struct RegexToken {
  enum class Kind : std::uint8_t {
    literal,
    escape,
    any,
    caret,
    dollar,
    alternation,
    group_open,
    group_close,
    quantifier,
    bad_brace,
    class_open,
    class_close,
    posix_class,
    collating,
    unterminated,
    nonprintable,
    end,
  };
  enum class Group : std::uint8_t { plain, non_capturing, special, verb };

  Kind kind = Kind::literal;
  std::size_t begin = 0;  // offset in the regex
  std::size_t size = 0;   // bytes, suffix included
  char c = '\0';          // literal, escape, quantifier, nonprintable: see above
  char suffix = '\0';     // quantifier: '?' lazy, '+' possessive, '\0' none
  std::size_t base = 0;   // quantifier: size without the suffix
  Group group = Group::plain;
  bool negated = false;   // class_open "[^"
  bool in_class = false;  // a member of a class (literal, escape, ...)
  bool bad = false;       // malformed: see the header comment

  std::size_t end() const { return begin + size; }
};

class RegexLexer {
 public:
  explicit RegexLexer(std::string_view regex) : re_(regex) {}

  bool done() const { return i_ >= re_.size() && !in_class_; }
  // The next token; `end` once done().
  RegexToken next();
  // The token next() would return, without taking it.
  RegexToken peek() const { return RegexLexer(*this).next(); }
  std::string_view text() const { return re_; }

 private:
  char at(std::size_t k) const { return k < re_.size() ? re_[k] : '\0'; }
  RegexToken outside();
  RegexToken member();
  RegexToken escape(bool in_class);
  // Size of the argument of \x \o \p \P \N after the letter at k; sets bad.
  std::size_t escape_argument(char e, std::size_t k, bool& bad) const;
  RegexToken quantifier(std::size_t base);

  std::string_view re_;
  std::size_t i_ = 0;
  bool in_class_ = false;
  bool class_first_ = false;  // no member read yet: a "]" is a member
};

}  // namespace harden::policy::detail
