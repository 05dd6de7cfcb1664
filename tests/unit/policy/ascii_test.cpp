// ascii_test.cpp - the byte/ASCII helpers of ascii.hpp, byte by byte.
//
// The header promises: classes are ASCII alone (no locale), a byte >= 0x80 is
// never a letter, digit, space or printable, case changes touch A-Z/a-z only,
// and escape() keeps exactly 0x20..0x7e, writing every other byte as \xNN
// (bytes >= 0x80 kept only with High::keep).
#include "harden/policy/ascii.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "harden/policy/text.hpp"

namespace harden::ascii {
namespace {

// Every byte value, as the char a std::string holds it.
char byte(int b) {
  return static_cast<char>(static_cast<unsigned char>(b));
}

std::string hex_escape(int b) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02x", b);
  return buf;
}

TEST(AsciiTest, ClassesOfEveryByte) {
  for (int b = 0; b < 256; ++b) {
    const char c = byte(b);
    const bool digit = b >= '0' && b <= '9';
    const bool upper = b >= 'A' && b <= 'Z';
    const bool lower = b >= 'a' && b <= 'z';
    const bool xdigit = digit || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
    const bool space = b == ' ' || (b >= 0x09 && b <= 0x0d);
    EXPECT_EQ(is_digit(c), digit) << b;
    EXPECT_EQ(is_upper(c), upper) << b;
    EXPECT_EQ(is_lower(c), lower) << b;
    EXPECT_EQ(is_alpha(c), upper || lower) << b;
    EXPECT_EQ(is_alnum(c), upper || lower || digit) << b;
    EXPECT_EQ(is_xdigit(c), xdigit) << b;
    EXPECT_EQ(is_space(c), space) << b;
    EXPECT_EQ(is_print(c), b >= 0x20 && b <= 0x7e) << b;
    EXPECT_EQ(is_control(c), b < 0x20 || b == 0x7f) << b;
  }
}

TEST(AsciiTest, HighBytesAreNeverLettersDigitsSpacesOrPrintable) {
  for (int b = 0x80; b < 256; ++b) {
    const char c = byte(b);
    EXPECT_FALSE(is_digit(c) || is_alpha(c) || is_alnum(c) || is_xdigit(c)) << b;
    EXPECT_FALSE(is_space(c) || is_print(c) || is_control(c)) << b;
    EXPECT_EQ(to_lower(c), c) << b;
    EXPECT_EQ(to_upper(c), c) << b;
  }
}

TEST(AsciiTest, CaseChangesOnlyAsciiLetters) {
  for (int b = 0; b < 256; ++b) {
    const char c = byte(b);
    if (b >= 'A' && b <= 'Z') {
      EXPECT_EQ(to_lower(c), byte(b + 32)) << b;
      EXPECT_EQ(to_upper(c), c) << b;
    } else if (b >= 'a' && b <= 'z') {
      EXPECT_EQ(to_upper(c), byte(b - 32)) << b;
      EXPECT_EQ(to_lower(c), c) << b;
    } else {
      EXPECT_EQ(to_lower(c), c) << b;
      EXPECT_EQ(to_upper(c), c) << b;
    }
  }
  EXPECT_EQ(to_lower(std::string_view("MX.Example.ORG")), "mx.example.org");
  EXPECT_EQ(to_lower(std::string("B\xc3\x9c"
                                 "CHER-1\x7f")),
            "b\xc3\x9c"
            "cher-1\x7f");
  EXPECT_EQ(to_lower(std::string_view("")), "");
}

TEST(AsciiTest, IequalsIsAsciiCaseInsensitiveAndExactOtherwise) {
  EXPECT_TRUE(iequals("ClientRate", "CLIENTRATE"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("ok", "ok "));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_TRUE(iequals("gr\xc3\xbc\xc3\x9f", "GR\xc3\xbc\xc3\x9f"));
  EXPECT_FALSE(iequals("\xc3\xbc", "\xc3\x9c"));  // ü and Ü: not ASCII, compared as bytes
  EXPECT_FALSE(iequals("@", "`"));                // 0x40 and 0x60 differ by 0x20 but are no letters
  EXPECT_FALSE(iequals("[", "{"));
  static_assert(iequals("Default", "dEFAULT"));
}

TEST(AsciiTest, EscapeKeepsPrintableAsciiAndWritesEveryOtherByteAsHex) {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, byte(b));
    const bool printable = b >= 0x20 && b <= 0x7e;
    EXPECT_EQ(escape(in), printable ? in : hex_escape(b)) << b;
    EXPECT_EQ(escape(in, {}, High::keep), b >= 0x80 || printable ? in : hex_escape(b)) << b;
  }
  EXPECT_EQ(escape(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(escape("x\r\ny\t\x1b[31m\x7f"), "x\\x0d\\x0ay\\x09\\x1b[31m\\x7f");
  EXPECT_EQ(escape("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(escape("caf\xc3\xa9\n", {}, High::keep), "caf\xc3\xa9\\x0a");
  EXPECT_EQ(escape(""), "");
}

TEST(AsciiTest, EscapeBackslashesTheBytesAskedFor) {
  EXPECT_EQ(escape(R"(say "hi" \ bye)", "\"\\"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(escape("a=b", "="), "a\\=b");
  // A listed byte outside 0x20..0x7e is still written as hex.
  EXPECT_EQ(escape("\n", "\n"), "\\x0a");
}

TEST(AsciiTest, QuoteIsEscapeInQuotesCutAfterMax) {
  EXPECT_EQ(policy::quote("ab\x01\xff"), "'ab\\x01\\xff'");
  EXPECT_EQ(policy::quote("abcdef", 3), "'abc...'");
  EXPECT_EQ(policy::quote("abc", 3), "'abc'");
}

}  // namespace
}  // namespace harden::ascii
