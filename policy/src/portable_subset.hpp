// portable_subset.hpp - whether PCRE2, Hyperscan and RE2 read a regex alike.
// Internal to harden_policy (PatternSet gives the fast engine only regexes
// inside the subset); tested through PatternSet.
//
// SYNOPSIS
//   std::string why = portable_subset_violation(R"(^dsl(?=x))");
//       // "group construct "(?" at offset 4 (not in the portable subset)"; "" if inside
//
// PORTABLE SUBSET
//   Its meaning is the same in PCRE2, Hyperscan and RE2 for subjects of
//   printable ASCII:
//   literals (printable ASCII; "]" and "}" too), ".", "^", "$", "|", "(",
//   "(?:", ")", quantifiers "* + ? {n} {n,} {n,m}" after an atom, lazy "?"
//   after them; escapes \d \D \w \W \s \S \b \B \A \z, \t \n \r \f \a \e,
//   \xHH below 0x80, and a backslash before punctuation; classes of literals,
//   ranges of literals, class escapes and POSIX names ([:alpha:] ...).
//   Outside it, e.g.: backreferences, lookaround, (?x) and other "(?"
//   groups, possessive quantifiers, \Z \G \K \R \h \v \Q \c \1.., a "{" that
//   is no quantifier (PCRE2 10.43 reads "{,3}" as one, 10.42 as literal),
//   ambiguous "-" in a class, non-ASCII bytes (RE2 folds Latin-1 case).
//
// It reads the tokens of regex_tokens.hpp, the tokenizer required_suffix()
// (literal_suffix.hpp) reads too.
#pragma once

#include <string>
#include <string_view>

namespace harden::policy::detail {

// Why `regex` is outside the portable subset ("... at offset N (not in the
// portable subset)"), or "" if it is inside.
std::string portable_subset_violation(std::string_view regex);

}  // namespace harden::policy::detail
