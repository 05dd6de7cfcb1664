// regex_tokens_test.cpp - the one regex tokenizer (policy/src/regex_tokens.hpp)
// and its two readers: the portable subset check and required_suffix().
#include "../../../policy/src/regex_tokens.hpp"  // internal: the tokenizer of both

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "../../../policy/src/literal_suffix.hpp"   // internal: PatternSet's prefilter
#include "../../../policy/src/portable_subset.hpp"  // internal: PatternSet's engine choice

namespace harden::policy::detail {
namespace {

using Kind = RegexToken::Kind;

std::vector<RegexToken> tokens(std::string_view re) {
  std::vector<RegexToken> out;
  RegexLexer lex(re);
  while (!lex.done()) out.push_back(lex.next());
  return out;
}

// "kind:text" per token, for readable expectations.
std::string show(std::string_view re) {
  static constexpr const char* kNames[] = {"lit",   "esc",   "any",    "caret", "dollar", "alt",
                                           "open",  "close", "quant",  "brace", "class",  "/class",
                                           "posix", "coll",  "unterm", "byte",  "end"};
  std::string out;
  for (const RegexToken& t : tokens(re)) {
    if (!out.empty()) out += ' ';
    out += kNames[static_cast<int>(t.kind)];
    out += ':';
    out += re.substr(t.begin, t.size);
    if (t.bad) out += '!';
  }
  return out;
}

TEST(RegexTokensTest, CutsARegexIntoTokens) {
  EXPECT_EQ(show(R"(^host[0-9]{1,3}\.example\.it$)"),
            "caret:^ lit:h lit:o lit:s lit:t class:[ lit:0 lit:- lit:9 /class:] quant:{1,3} "
            "esc:\\. lit:e lit:x lit:a lit:m lit:p lit:l lit:e esc:\\. lit:i lit:t dollar:$");
  EXPECT_EQ(show("(a|b)(?:c)(?=d)"),
            "open:( lit:a alt:| lit:b close:) open:(?: lit:c close:) open:(? lit:= lit:d close:)");
  EXPECT_EQ(show("(*UTF)"), "open:( quant:* lit:U lit:T lit:F close:)");  // verb: "(" alone
  EXPECT_EQ(show("a*?b++c{2,}?d{,3}"),
            "lit:a quant:*? lit:b quant:++ lit:c quant:{2,}? lit:d brace:{ lit:, lit:3 lit:}");
  EXPECT_EQ(show(".]}"), "any:. lit:] lit:}");
}

TEST(RegexTokensTest, EscapesTakeTheirArguments) {
  EXPECT_EQ(show(R"(\12\x41\x4g\x{41}\pL\p{Lu}\N\d)"),
            "esc:\\12 esc:\\x41 esc:\\x4 lit:g esc:\\x{41} esc:\\pL esc:\\p{Lu} esc:\\N esc:\\d");
  EXPECT_EQ(show(R"(\p1)"), "esc:\\p! lit:1");
  EXPECT_EQ(show(R"(\o7)"), "esc:\\o! lit:7");
  EXPECT_EQ(show(R"(\x{41)"), "esc:\\x! brace:{ lit:4 lit:1");
  EXPECT_EQ(show("a\\"), "lit:a esc:\\!");
  EXPECT_EQ(show("\\\x01"), "esc:\\\x01!");
  EXPECT_EQ(tokens("\\").front().c, '\0');
}

TEST(RegexTokensTest, ClassesYieldTheirMembers) {
  EXPECT_EQ(show("[]a-]"), "class:[ lit:] lit:a lit:- /class:]");
  EXPECT_EQ(show("[^]x]"), "class:[^ lit:] lit:x /class:]");
  EXPECT_TRUE(tokens("[^]x]").front().negated);
  EXPECT_EQ(show(R"([[:alpha:]\d\12[.a.]])"),
            "class:[ posix:[:alpha:] esc:\\d esc:\\1 lit:2 coll:[. lit:a lit:. /class:] lit:]");
  EXPECT_EQ(show("[[:alpha"), "class:[ posix:[:! lit:a lit:l lit:p lit:h lit:a unterm:");
  EXPECT_EQ(show("[ab"), "class:[ lit:a lit:b unterm:");
  EXPECT_TRUE(tokens("[a]").at(1).in_class);
  EXPECT_FALSE(tokens("[a]b").at(3).in_class);
}

TEST(RegexTokensTest, BytesOutsidePrintableAsciiAreTheirOwnTokens) {
  EXPECT_EQ(show("a\xc3\xa9"), "lit:a byte:\xc3 byte:\xa9");
  EXPECT_EQ(show("[\x7f]"), "class:[ byte:\x7f /class:]");
}

// Tokens cover the text exactly, in order, and the lexer always ends.
TEST(RegexTokensTest, TokensTileEveryText) {
  const std::string alphabet = "ab0-_.^$|()?:*+{},[]\\=:.xpPoN\x01\xc3 ";
  std::mt19937 rng(9);
  for (int n = 0; n < 20000; ++n) {
    std::string re;
    const std::size_t len = rng() % 14;
    for (std::size_t k = 0; k < len; ++k) re += alphabet[rng() % alphabet.size()];
    std::size_t at = 0, count = 0;
    RegexLexer lex(re);
    while (!lex.done()) {
      const RegexToken t = lex.next();
      ASSERT_EQ(t.begin, at) << re;
      at = t.end();
      ASSERT_LE(++count, re.size() + 1) << re;
    }
    EXPECT_EQ(at, re.size()) << re;
    EXPECT_EQ(lex.next().kind, Kind::end) << re;
  }
}

// The two readers of the one token stream, each with its own verdict.
TEST(RegexTokensTest, BothReadersReadTheOneStream) {
  EXPECT_EQ(portable_subset_violation(R"(^host[0-9]{1,3}\.example\.it$)"), "");
  EXPECT_EQ(required_suffix(R"(^host[0-9]{1,3}\.example\.it$)"), ".example.it");
  EXPECT_EQ(portable_subset_violation("a*?+"),
            "possessive quantifier at offset 3 (not in the portable subset)");
  EXPECT_EQ(portable_subset_violation("(*UTF)a"),
            "quantifier not after an atom at offset 1 (not in the portable subset)");
  EXPECT_EQ(required_suffix("(*UTF)abc$"), "");
  EXPECT_EQ(portable_subset_violation("[a-c-e]"),
            "'-' right after a range at offset 4 (not in the portable subset)");
  EXPECT_EQ(portable_subset_violation("[c-a]"),
            "'-' in a class that is not a plain range at offset 2 (not in the portable subset)");
  EXPECT_EQ(portable_subset_violation("[[:foo:]]"),
            "class member at offset 1 (not in the portable subset)");
  EXPECT_EQ(portable_subset_violation("[ab"),
            "unterminated class at offset 0 (not in the portable subset)");
  EXPECT_EQ(portable_subset_violation(R"(\x{41})"),
            "\\x escape other than \\xHH below 0x80 at offset 0 (not in the portable subset)");
  EXPECT_EQ(required_suffix(R"([[:alpha:]\]]x\.abc$)"), "x.abc");
  EXPECT_EQ(required_suffix(R"([\Q]x\.abc$)"), "");
  EXPECT_EQ(required_suffix(R"(\x{41x\.abc$)"), "");
}

}  // namespace
}  // namespace harden::policy::detail
