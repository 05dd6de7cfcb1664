// pattern_set_test.cpp - PatternSet and PatternRuleIndex against rdns.hpp.
//
// The reference is PCRE2 itself (PCRE2_CASELESS, search anywhere), driven
// directly here one regex at a time, as Postfix walks a pcre table. Every
// engine must give its verdicts on every subject: on tricky constructs over
// all printable characters, on all regexes of tests/data/fqrdns.pcre over
// the generated bench host names plus random and mutated names, and from
// many threads at once. PatternRuleIndex is checked against a brute-force
// evaluation of random conjunctions. The literal-suffix prefilter inside
// PatternSet (policy/src/literal_suffix.hpp, internal) is tested on its
// own: which regexes yield a required suffix, and random mixes of regexes
// with and without one against PCRE2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../../policy/src/literal_suffix.hpp"  // internal: PatternSet's prefilter
#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"
#include "harden/policy/selector.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace harden::policy {

void PrintTo(RegexEngine e, std::ostream* os) {
  *os << to_string(e);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Ids = std::vector<std::uint32_t>;

// ---------------------------------------------------------------------------
// The reference: PCRE2, one regex after another.

class Reference {
 public:
  explicit Reference(const std::vector<std::string>& regexes) {
    for (const std::string& re : regexes) {
      int err = 0;
      PCRE2_SIZE off = 0;
      pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(),
                                    PCRE2_CASELESS, &err, &off, nullptr);
      if (c == nullptr) throw std::runtime_error("reference cannot compile /" + re + "/");
      pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
      codes_.push_back(c);
    }
  }
  ~Reference() {
    for (pcre2_code* c : codes_) pcre2_code_free(c);
    pcre2_match_data_free(md_);
  }
  Reference(const Reference&) = delete;
  Reference& operator=(const Reference&) = delete;

  bool matches(std::size_t i, std::string_view s) const {
    return pcre2_match(codes_[i], reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md_,
                       nullptr) >= 0;
  }
  Ids match(std::string_view s) const {
    Ids out;
    for (std::uint32_t i = 0; i < codes_.size(); ++i)
      if (matches(i, s)) out.push_back(i);
    return out;
  }

 private:
  std::vector<pcre2_code*> codes_;
  pcre2_match_data* md_ = pcre2_match_data_create(1, nullptr);
};

// ---------------------------------------------------------------------------
// Test data

// The regex of every "/re/ ..." and "if /re/" line, in file order.
std::vector<std::string> fqrdns_regexes() {
  std::ifstream in(HARDEN_TEST_DATA_DIR "/fqrdns.pcre");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    std::size_t start = line.rfind("if /", 0) == 0 ? 4 : line.rfind('/', 0) == 0 ? 1 : 0;
    if (start == 0) continue;
    std::size_t end = start;
    while (end < line.size() && line[end] != '/') end += line[end] == '\\' ? 2u : 1u;
    out.push_back(line.substr(start, end - start));
  }
  return out;
}

std::vector<std::string> bench_hostnames() {
  std::ifstream in(HARDEN_TEST_DATA_DIR "/bench_hostnames.txt");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

// Random names from pieces rDNS names are made of, and one-character
// mutations of real-looking ones: many fall right on a regex's edge.
std::vector<std::string> random_hostnames(const std::vector<std::string>& seeds, std::size_t n) {
  static const std::vector<std::string> words = {
      "dsl",     "adsl", "dyn",       "dynamic", "cable",    "pool",     "ppp",  "pppoe",
      "static",  "host", "ip",        "client",  "res",      "cpe",      "mail", "mx",
      "dhcp",    "dial", "broadband", "user",    "wireless", "customer", "net",  "rev",
      "in-addr", "hsd1", "c",         "d",       "p",        "x"};
  static const std::vector<std::string> tlds = {"net", "com", "de", "ru",     "com.br", "co.uk",
                                                "nl",  "pl",  "it", "net.ar", "example"};
  std::mt19937 rng(12345);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string name;
    const auto labels = 1 + rng() % 4;
    for (std::size_t l = 0; l < labels; ++l) {
      switch (rng() % 4) {
        case 0:
          name += std::to_string(rng() % 256) + "-" + std::to_string(rng() % 256) + "-" +
                  std::to_string(rng() % 256) + "-" + std::to_string(rng() % 300);
          break;
        case 1:
          name += pick(words) + std::to_string(rng() % 10000);
          break;
        case 2:
          name += pick(words) + "-" + std::to_string(rng() % 256);
          break;
        default:
          name += pick(words);
          break;
      }
      name += '.';
    }
    name += pick(words) + "." + pick(tlds);
    out.push_back(name);
  }
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-.";
  for (std::size_t i = 0; i < n && !seeds.empty(); ++i) {
    std::string m = seeds[rng() % seeds.size()];
    m[rng() % m.size()] = alphabet[rng() % alphabet.size()];
    out.push_back(m);
  }
  return out;
}

std::vector<RegexEngine> engines() {
  return {RegexEngine::hyperscan, RegexEngine::re2, RegexEngine::pcre2};
}

// Compares `set` with the reference on every subject; returns the first
// few differences, described.
std::vector<std::string> differences(const PatternSet& set, const Reference& ref,
                                     const std::vector<std::string>& regexes,
                                     const std::vector<std::string>& subjects) {
  std::vector<std::string> out;
  for (const std::string& s : subjects) {
    const Ids want = ref.match(s), got = set.match(s);
    if (want == got || out.size() >= 5) continue;
    std::string d = "'" + s + "':";
    for (std::uint32_t i : want)
      if (!std::binary_search(got.begin(), got.end(), i)) d += " missed /" + regexes[i] + "/";
    for (std::uint32_t i : got)
      if (!std::binary_search(want.begin(), want.end(), i)) d += " extra /" + regexes[i] + "/";
    out.push_back(d);
  }
  return out;
}

std::string reasons(const PatternSet& set) {
  std::string out;
  for (const FallbackReport& f : set.fallbacks())
    out += std::to_string(f.index) + " /" + f.regex + "/: " + f.reason + "\n";
  return out;
}

// ---------------------------------------------------------------------------
// PatternSet, per engine

class PatternSetEngineTest : public ::testing::TestWithParam<RegexEngine> {
 protected:
  // Hyperscan is optional (HARDEN_HAVE_HYPERSCAN, CPU support): without it a
  // set asked for Hyperscan is built with RE2, and these tests are skipped.
  void SetUp() override {
    const std::vector<std::string> probe = {"probe"};
    if (PatternSet(probe, GetParam()).engine() != GetParam())
      GTEST_SKIP() << to_string(GetParam()) << " is not available here";
  }
  PatternSet make(const std::vector<std::string>& regexes) {
    return PatternSet(regexes, GetParam());
  }
};

TEST_P(PatternSetEngineTest, EmptySetMatchesNothing) {
  PatternSet set(std::vector<std::string>{}, GetParam());
  EXPECT_EQ(set.size(), 0u);
  EXPECT_TRUE(set.match("dsl-1-2-3-4.example.net").empty());
  EXPECT_TRUE(set.match("").empty());
}

TEST_P(PatternSetEngineTest, ReportsEveryMatchAscendingAndIgnoresCase) {
  const std::vector<std::string> regexes = {R"(^dsl-[0-9-]+\.)", "cable|dsl", "static",
                                            R"(\.EXAMPLE\.net$)", "^mx[0-9]*\\."};
  PatternSet set = make(regexes);
  EXPECT_EQ(set.size(), 5u);
  EXPECT_THAT(set.match("dsl-1-2-3-4.example.net"), ElementsAre(0u, 1u, 3u));
  EXPECT_THAT(set.match("DSL-1-2-3-4.Example.NET"), ElementsAre(0u, 1u, 3u));
  EXPECT_THAT(set.match("mx1.example.org"), ElementsAre(4u));
  EXPECT_THAT(set.match("static.cable.example.net"), ElementsAre(1u, 2u, 3u));
  EXPECT_TRUE(set.match("mail.example.org").empty());
}

TEST_P(PatternSetEngineTest, FallbacksMatchWithPcre2AndNameTheReason) {
  const std::vector<std::string> regexes = {
      R"(^(a)\1\.)",           // backreference: no fast engine
      R"(dsl(?=-[0-9]))",      // lookahead
      R"((\elekta\.lt)$)",     // \e: RE2 refuses it; Hyperscan reads it as PCRE does
      R"(^x{,3}y)",            // "{,3}" read differently by PCRE2 versions
      R"(^ab*+b)",             // possessive: never matches "abb"
      R"(^cust\.dyn\.12]?x)",  // a lone ']' is a literal everywhere
      R"(plain)"};
  const Reference ref(regexes);
  PatternSet set = make(regexes);
  if (GetParam() == RegexEngine::pcre2) {
    EXPECT_TRUE(set.fallbacks().empty()) << reasons(set);
  } else {
    std::vector<std::size_t> fell;
    for (const FallbackReport& f : set.fallbacks()) {
      fell.push_back(f.index);
      EXPECT_EQ(f.regex, regexes[f.index]);
      EXPECT_FALSE(f.reason.empty());
    }
    for (std::size_t must : {0u, 1u, 3u, 4u}) EXPECT_THAT(fell, ::testing::Contains(must));
    EXPECT_THAT(fell, ::testing::Not(::testing::Contains(5u))) << reasons(set);
    EXPECT_THAT(fell, ::testing::Not(::testing::Contains(6u))) << reasons(set);
    if (GetParam() == RegexEngine::re2) {
      EXPECT_THAT(fell, ::testing::Contains(2u));
      EXPECT_THAT(reasons(set), HasSubstr("re2: invalid escape sequence: \\e"));
    }
    EXPECT_EQ(set.engine(), RegexEngine::pcre2);  // it holds most of these regexes
  }
  const std::vector<std::string> subjects = {"aa.example",
                                             "ab.example",
                                             "dsl-1.example",
                                             "dsl.example",
                                             "1-2-3elekta.lt",
                                             "1-2-3\x1b"
                                             "lekta.lt",
                                             "x{,3}y",
                                             "xxy",
                                             "y",
                                             "abb",
                                             "cust.dyn.12]x",
                                             "cust.dyn.12x",
                                             "cust.dyn.1x",
                                             "plain",
                                             "PLAIN.example"};
  EXPECT_THAT(differences(set, ref, regexes, subjects), ::testing::IsEmpty());
  EXPECT_TRUE(ref.matches(5, "cust.dyn.12]x"));  // the subjects do exercise the regexes
  EXPECT_TRUE(ref.matches(2,
                          "1-2-3\x1b"
                          "lekta.lt"));
}

// A regex with a literal suffix is matched by PCRE2 after the suffix check,
// never given to the fast engine: one RE2 refuses is no fallback.
TEST_P(PatternSetEngineTest, SuffixRegexesAreNoFallbacks) {
  const std::vector<std::string> regexes = {R"(^[0-9-]+\elekta\.lt$)", R"(\.Example\.NET$)", "dsl"};
  const Reference ref(regexes);
  PatternSet set = make(regexes);
  EXPECT_TRUE(set.fallbacks().empty()) << reasons(set);
  EXPECT_EQ(set.engine(), GetParam());
  const std::vector<std::string> subjects = {"1-2-3elekta.lt",
                                             "1-2-3\x1b"
                                             "lekta.lt",
                                             "dsl.example.net",
                                             "DSL.EXAMPLE.NET",
                                             "dsl.example.net.",
                                             "dsl.example.net\n",
                                             "example.net"};
  EXPECT_THAT(differences(set, ref, regexes, subjects), ::testing::IsEmpty());
  EXPECT_THAT(set.match("DSL.EXAMPLE.NET"), ElementsAre(1u, 2u));
  EXPECT_THAT(set.match("dsl.example.net\n"), ElementsAre(1u, 2u));  // PCRE's '$'
}

// Constructs inside the portable subset, over every printable character in
// several positions: the engines must agree with PCRE2 everywhere.
TEST_P(PatternSetEngineTest, PortableConstructsAgreeWithPcre2OnAllPrintableCharacters) {
  const std::vector<std::string> regexes = {"a]b",
                                            "a}b",
                                            "[]a]",
                                            "[^]a]",
                                            "[a-]",
                                            "[-a]",
                                            "[A-z]",
                                            "[Z-a]",
                                            "^[[:alpha:]]$",
                                            "^[[:punct:]]$",
                                            "^[[:upper:]]$",
                                            "^[[:lower:]]$",
                                            "^[[:xdigit:]]$",
                                            "^[[:word:]]$",
                                            R"(^\w$)",
                                            R"(^\W$)",
                                            R"(^\s$)",
                                            R"(^\S$)",
                                            R"(^[\d\w]$)",
                                            R"(\bx)",
                                            R"(x\b)",
                                            R"(^\B.$)",
                                            "^.$",
                                            "^[^a]$",
                                            R"(^\x41$)",
                                            R"(^\_$)",
                                            R"(^[\.\-]$)",
                                            R"(^a{2}$)",
                                            "^a{1,}$",
                                            "^(?:ab|c)+?$",
                                            R"(\Aq)",
                                            R"(q\z)",
                                            R"(^\d{1,3}$)",
                                            R"([\t]|\.\telesat)"};
  std::vector<std::string> subjects = {"", "aa", "aaa", "abab", "abc", "q", "qq"};
  for (char c = 0x20; c < 0x7f; ++c) {
    const std::string ch(1, c);
    for (const std::string& s : {ch, "a" + ch + "b", "x" + ch, ch + "x", ch + ch + ch})
      subjects.push_back(s);
  }
  PatternSet set = make(regexes);
  if (GetParam() != RegexEngine::pcre2) {
    // "a{1,}$" and such stay on the fast engine: the subset is not just a denylist.
    EXPECT_LE(set.fallbacks().size(), 1u) << reasons(set);
  }
  const Reference ref(regexes);
  EXPECT_THAT(differences(set, ref, regexes, subjects), ::testing::IsEmpty()) << reasons(set);
}

// Subjects outside printable ASCII go to PCRE2, so '$' before a final
// newline, "\s" and VT, NUL bytes and Latin-1 keep PCRE's meaning.
TEST_P(PatternSetEngineTest, NonPrintableSubjectsKeepPcreMeaning) {
  const std::vector<std::string> regexes = {"abc$", R"(a\sb)", "^.$", "caf\\xe9", "x.y", "[^a]"};
  const Reference ref(regexes);
  PatternSet set = make(regexes);
  const std::vector<std::string> subjects = {
      "abc\n", "abc\n\n", "a\vb",    "a\rb", std::string("\0", 1),
      "\xc9",  "caf\xc9", "caf\xe9", "x\ny", std::string("x\0y", 3),
      "\n"};
  EXPECT_THAT(differences(set, ref, regexes, subjects), ::testing::IsEmpty());
  EXPECT_TRUE(ref.matches(0, "abc\n"));  // the PCRE behaviour this test is about
}

TEST_P(PatternSetEngineTest, LongAndHostileSubjects) {
  const std::vector<std::string> regexes = {"^(a+)+$", "dsl", R"(\.net$)"};
  const Reference ref(regexes);
  PatternSet set = make(regexes);
  const std::vector<std::string> subjects = {std::string(100000, 'a'), std::string(30, 'a') + "!",
                                             std::string(5000, '.') + "dsl.net"};
  EXPECT_THAT(set.match(subjects[0]), ElementsAre(0u));
  EXPECT_THAT(set.match(subjects[2]), ElementsAre(1u, 2u));
  // Catastrophic backtracking hits the match limit: no match, no hang, no throw.
  EXPECT_TRUE(set.match(subjects[1]).empty());
}

TEST_P(PatternSetEngineTest, AllFqrdnsRegexesGivePcre2Verdicts) {
  const std::vector<std::string> regexes = fqrdns_regexes();
  ASSERT_GT(regexes.size(), 1500u);
  std::vector<std::string> subjects = bench_hostnames();
  ASSERT_GT(subjects.size(), 3000u);
  const std::vector<std::string> more = random_hostnames(subjects, 1500);
  subjects.insert(subjects.end(), more.begin(), more.end());

  const Reference ref(regexes);
  PatternSet set = make(regexes);
  EXPECT_EQ(set.size(), regexes.size());
  EXPECT_LT(set.fallbacks().size(), 10u) << reasons(set);
  EXPECT_EQ(set.engine(), GetParam());
  EXPECT_THAT(differences(set, ref, regexes, subjects), ::testing::IsEmpty()) << reasons(set);

  // The subjects are worth something: most sampled names hit a rule regex.
  const auto hit = std::count_if(subjects.begin(), subjects.end(),
                                 [&](const std::string& s) { return !ref.match(s).empty(); });
  EXPECT_GT(hit, 2000);
}

TEST_P(PatternSetEngineTest, ManyThreadsGetTheSameAnswers) {
  const std::vector<std::string> regexes = fqrdns_regexes();
  std::vector<std::string> subjects = bench_hostnames();
  // PCRE2 one by one is ~50x slower: fewer subjects keep the test quick.
  const std::size_t n = GetParam() == RegexEngine::pcre2 ? 300 : 1500;
  subjects.resize(std::min(subjects.size(), n));
  subjects.push_back("abc\n");  // the PCRE2 path too
  const PatternSet set = make(regexes);
  std::vector<Ids> want;
  for (const std::string& s : subjects) want.push_back(set.match(s));

  constexpr int kThreads = 8;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round)
        for (std::size_t i = 0; i < subjects.size(); ++i) {
          const std::size_t k = (i * 7 + static_cast<std::size_t>(t) * 131) % subjects.size();
          if (set.match(subjects[k]) != want[k]) ++wrong[static_cast<std::size_t>(t)];
        }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_THAT(wrong, ::testing::Each(0));
}

// One thread going back and forth between more sets than it keeps scratch
// for, while sets are destroyed and new ones made.
TEST_P(PatternSetEngineTest, OneThreadManySetsInTurn) {
  std::vector<std::unique_ptr<PatternSet>> sets;
  auto make_one = [&](std::size_t k) {
    const std::vector<std::string> regexes = {"^s" + std::to_string(k) + "\\.", "common"};
    return std::make_unique<PatternSet>(regexes, GetParam());
  };
  for (std::size_t k = 0; k < 7; ++k) sets.push_back(make_one(k));
  for (int round = 0; round < 30; ++round) {
    for (std::size_t k = 0; k < sets.size(); ++k) {
      const std::string name = "s" + std::to_string(k) + ".common.example";
      ASSERT_THAT(sets[k]->match(name), ElementsAre(0u, 1u)) << "set " << k << " round " << round;
      ASSERT_THAT(sets[k]->match("other.example"), ElementsAre());
    }
    const std::size_t victim = static_cast<std::size_t>(round) % sets.size();
    sets[victim] = make_one(victim);
  }
}

// Random regexes, with and without a literal suffix anchored by "$", and
// subjects made to end (or nearly end) with those suffixes, in mixed case.
struct RandomSuffixCase {
  std::vector<std::string> regexes, subjects;
};

RandomSuffixCase random_suffix_case(std::uint32_t seed) {
  static const std::vector<std::string> heads = {
      "^",    "[0-9]{1,3}", "[a-z]+", "(a|bc)", "(?:x|Y)?", R"(\d+)",
      "-",    "dsl",        ".",      "[^.]*",  R"(\.)",    "(ab)+",
      "[]x]", "a*?",        "b++",    "(?:c|)", "_",        "[[:alpha:]]"};
  static const std::string run_chars = "abcxyzABC019.-_";
  std::mt19937 rng(seed);
  auto random_run = [&](std::size_t len) {
    std::string r;
    while (r.size() < len) r += run_chars[rng() % run_chars.size()];
    return r;
  };
  auto escaped = [](const std::string& run) {
    std::string r;
    for (char c : run) r += c == '.' ? std::string(R"(\.)") : std::string(1, c);
    return r;
  };
  RandomSuffixCase out;
  std::vector<std::string> runs;
  for (int k = 0; k < 120; ++k) {
    std::string re;
    for (auto n = rng() % 4; n-- > 0;) re += heads[rng() % heads.size()];
    const std::string run = random_run(1 + rng() % 6);
    runs.push_back(run);
    switch (rng() % 6) {
      case 0:
        re += escaped(run) + "+$";  // quantified last character
        break;
      case 1:
        re += escaped(run) + "$|" + heads[rng() % heads.size()];  // top-level '|'
        break;
      case 2:
        re += escaped(run) + "[a-c]$";
        break;
      case 3:
        re += escaped(run);  // not anchored
        break;
      default:
        re += escaped(run) + "$";
        break;
    }
    out.regexes.push_back(re);
  }
  static const std::vector<std::string> pieces = {"a", "bc",  "x", "Y",  "1", "23", "-",
                                                  ".", "dsl", "_", "ab", "c", "Z"};
  for (int k = 0; k < 1500; ++k) {
    std::string subject;
    for (auto n = rng() % 4; n-- > 0;) subject += pieces[rng() % pieces.size()];
    subject += runs[rng() % runs.size()];
    if (rng() % 4 == 0) subject += pieces[rng() % pieces.size()];
    for (char& c : subject)
      if (rng() % 3 == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out.subjects.push_back(subject);
  }
  return out;
}

TEST_P(PatternSetEngineTest, RandomRegexesWithAndWithoutLiteralSuffixAgreeWithPcre2) {
  for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
    const RandomSuffixCase c = random_suffix_case(seed);
    const Reference ref(c.regexes);
    const PatternSet set = make(c.regexes);
    EXPECT_THAT(differences(set, ref, c.regexes, c.subjects), ::testing::IsEmpty())
        << "seed " << seed << "\n"
        << reasons(set);
    // The mix is worth something: both kinds of regex, and many matches
    // of regexes that have a suffix.
    std::size_t suffixed = 0, suffixed_hits = 0;
    for (std::size_t i = 0; i < c.regexes.size(); ++i) {
      if (detail::required_suffix(c.regexes[i]).empty()) continue;
      ++suffixed;
      for (const std::string& s : c.subjects) suffixed_hits += ref.matches(i, s) ? 1u : 0u;
    }
    EXPECT_GT(suffixed, 20u) << "seed " << seed;
    EXPECT_LT(suffixed, c.regexes.size() - 20) << "seed " << seed;
    EXPECT_GT(suffixed_hits, 40u) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, PatternSetEngineTest, ::testing::ValuesIn(engines()),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// ---------------------------------------------------------------------------
// PatternSet, engine independent

TEST(PatternSetTest, RegexPcre2CannotCompileIsAPolicyErrorNamingIt) {
  const std::vector<std::string> regexes = {"fine", "a(b", "also fine"};
  try {
    PatternSet set(regexes);
    FAIL() << "no PolicyError";
  } catch (const PolicyError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/a(b/"));
    EXPECT_THAT(e.what(), HasSubstr("regex 1"));
  }
}

TEST(PatternSetTest, DefaultEngineIsAFastOneAndMovesWork) {
  const std::vector<std::string> regexes = {"dsl", "cable"};
  PatternSet set(regexes);
  EXPECT_NE(set.engine(), RegexEngine::pcre2);
  PatternSet moved(std::move(set));
  EXPECT_THAT(moved.match("cable-dsl.example"), ElementsAre(0u, 1u));
  PatternSet other(std::vector<std::string>{"x"});
  other = std::move(moved);
  EXPECT_THAT(other.match("dsl.example"), ElementsAre(0u));
}

TEST(PatternSetTest, EngineNames) {
  EXPECT_EQ(to_string(RegexEngine::hyperscan), "hyperscan");
  EXPECT_EQ(to_string(RegexEngine::re2), "re2");
  EXPECT_EQ(to_string(RegexEngine::pcre2), "pcre2");
}

// ---------------------------------------------------------------------------
// PatternRuleIndex

using Entry = PatternRuleIndex::Entry;

PatternTerm term(std::string re, bool negated = false) {
  return {std::move(re), negated};
}

TEST(PatternRuleIndexTest, ConjunctionsNegationsAndOrder) {
  std::vector<Entry> rules = {
      {{term("cable|dsl"), term(R"(^cm[0-9]+\.)")}, 5},    // 0: if-block style
      {{term("static", true), term("dyn")}, 1},            // 1: dyn but not static
      {{term("dsl")}, 1},                                  // 2: same priority as 1
      {{term("cable|dsl"), term("dsl"), term("dsl")}, 0},  // 3: repeated term
      {{term("dsl"), term("dsl", true)}, 0},               // 4: never
  };
  PatternRuleIndex idx(rules);
  EXPECT_EQ(idx.size(), 5u);
  // The filing regexes, each once: ^cm, dyn, dsl, cable|dsl; "static" files
  // no rule and is tried apart, only for candidates.
  EXPECT_EQ(idx.patterns().size(), 4u);
  EXPECT_THAT(idx.match("cm12.dsl.example"), ElementsAre(3u, 2u, 0u));
  EXPECT_THAT(idx.match("cm12.cable.example"), ElementsAre(0u));
  EXPECT_THAT(idx.match("dyn-1.dsl.example"), ElementsAre(3u, 1u, 2u));
  EXPECT_THAT(idx.match("static-dyn.example"), ElementsAre());
  EXPECT_THAT(idx.match("mail.example.org"), ElementsAre());
}

// More conditions than the per-name memo of tried regexes holds: each is
// still tried, and a failing one, wherever it stands, keeps the rule out.
TEST(PatternRuleIndexTest, ManyConditionsOnOneRule) {
  std::vector<Entry> rules;
  for (int fail = -1; fail < 12; ++fail) {
    Entry e;
    e.terms.push_back(term("^own" + std::to_string(fail + 1) + R"(\.)"));
    for (int k = 0; k < 12; ++k) {
      const std::string cond = "c" + std::to_string(k) + "x";
      e.terms.push_back(term(cond, k == fail));  // the one at `fail` must not match
    }
    e.priority = fail;
    rules.push_back(std::move(e));
  }
  PatternRuleIndex idx(rules);
  std::string all = ".";
  for (int k = 0; k < 12; ++k) all += "c" + std::to_string(k) + "x-";
  EXPECT_THAT(idx.match("own0" + all), ElementsAre(0u));  // fail = -1: every condition holds
  for (std::uint32_t r = 1; r < rules.size(); ++r)
    EXPECT_THAT(idx.match("own" + std::to_string(r) + all), ElementsAre()) << r;
  EXPECT_THAT(idx.match("own0.c0x"), ElementsAre());
}

TEST(PatternRuleIndexTest, RefusesARuleWithoutAPlainTerm) {
  std::vector<Entry> rules = {{{term("static", true)}, 0}};
  EXPECT_THROW(PatternRuleIndex{rules}, PolicyError);
}

TEST(PatternRuleIndexTest, OverlongNamesMatchNothing) {
  PatternRuleIndex idx({{{term("a")}, 0}});
  EXPECT_THAT(idx.match(std::string(kMaxHostnameLength, 'a')), ElementsAre(0u));
  EXPECT_THAT(idx.match(std::string(kMaxHostnameLength + 1, 'a')), ElementsAre());
  PatternRuleIndex empty({});
  EXPECT_THAT(empty.match("a"), ElementsAre());
}

// Random rules over the fqrdns regexes, checked against a plain evaluation
// of every term with the PCRE2 reference.
TEST(PatternRuleIndexTest, AgreesWithBruteForceOnRandomConjunctions) {
  const std::vector<std::string> pool = fqrdns_regexes();
  const Reference ref(pool);
  std::mt19937 rng(777);
  std::vector<Entry> rules;
  std::vector<std::vector<std::pair<std::size_t, bool>>> plain;  // (regex, negated)
  for (int r = 0; r < 600; ++r) {
    Entry e;
    std::vector<std::pair<std::size_t, bool>> terms;
    const auto n = 1 + rng() % 3;
    for (std::size_t k = 0; k < n; ++k) {
      // Broad regexes (the if-block conditions, indices 2, 3 and later ones)
      // often, so that conjunctions both hold and fail.
      const std::size_t i = rng() % 4 == 0 ? 2 + rng() % 2 : rng() % pool.size();
      const bool neg = k > 0 && rng() % 3 == 0;
      e.terms.push_back(term(pool[i], neg));
      terms.emplace_back(i, neg);
    }
    e.priority = static_cast<std::int64_t>(rng() % 50);
    rules.push_back(e);
    plain.push_back(terms);
  }
  PatternRuleIndex idx(rules);
  std::vector<std::string> names = bench_hostnames();
  names.resize(std::min<std::size_t>(names.size(), 1500));
  std::size_t nonempty = 0;
  for (const std::string& name : names) {
    Ids want;
    for (std::uint32_t r = 0; r < plain.size(); ++r) {
      const bool holds = std::all_of(plain[r].begin(), plain[r].end(), [&](const auto& t) {
        return ref.matches(t.first, name) != t.second;
      });
      if (holds) want.push_back(r);
    }
    std::stable_sort(want.begin(), want.end(), [&](std::uint32_t a, std::uint32_t b) {
      return rules[a].priority < rules[b].priority;
    });
    nonempty += want.empty() ? 0u : 1u;
    ASSERT_EQ(idx.match(name), want) << name;
  }
  EXPECT_GT(nonempty, 100u);
}

// ---------------------------------------------------------------------------
// The literal-suffix prefilter (internal)

struct SuffixCase {
  std::string regex;
  std::string suffix;  // "" : none may be taken
};

TEST(RequiredSuffixTest, TakesOnlyARequiredUnquantifiedLiteralRunBeforeAFinalDollar) {
  const std::vector<SuffixCase> cases = {
      // A suffix.
      {R"(^host[0-9]{1,3}-x\.retail\.telecomitalia\.it$)", "-x.retail.telecomitalia.it"},
      {R"((foo|bar)\.com$)", ".com"},  // the '|' is inside a group
      {R"(^ABC\.Example\.NET$)", "abc.example.net"},
      {R"([]a]xyz$)", "xyz"},
      {R"([^]a]xyz$)", "xyz"},
      {R"([[:alpha:]]xyz$)", "xyz"},
      {R"([a\]]xyz$)", "xyz"},
      {R"([a-z]+?xyz$)", "xyz"},
      {R"(a*+xyz$)", "xyz"},
      {R"(a{2,5}?xyz$)", "xyz"},
      {R"(a{2,}+xyz$)", "xyz"},
      {R"((?:a|b)xyz$)", "xyz"},
      {R"(\-\_\.ab_c$)", "-_.ab_c"},
      {R"(a\$b$)", "a$b"},
      {R"(\x41abc$)", "abc"},
      {R"(\x{41}abc$)", "abc"},
      {R"(\pLabc$)", "abc"},
      {R"((a)\1xyz$)", "xyz"},
      {R"(\d{2}\.net$)", ".net"},
      {R"(^\Aab\bcde$)", "cde"},
      // No suffix.
      {"a|b$", ""},
      {"a|bcde$", ""},
      {"abcd$|x", ""},
      {R"(foo\.com$|bar)", ""},
      {"ab+$", ""},
      {"abc+$", ""},
      {"abc?$", ""},
      {"abc{2}$", ""},
      {"x{2}$", ""},
      {"[a-z]$", ""},
      {"abc[a-z]$", ""},
      {R"(\\.$)", ""},
      {R"(\d$)", ""},
      {R"(abc\d$)", ""},
      {R"(\.$)", ""},  // too short
      {"ab$", ""},     // too short
      {"abc", ""},
      {R"(abc\$)", ""},
      {"(abc)$", ""},
      {"(abc$)", ""},
      {"abc$x", ""},
      {R"(abc\b$)", ""},
      {R"(abc\x41$)", ""},
      {R"(a{,3}bcd$)", ""},   // "{,3}": PCRE2 versions differ
      {R"(a{ 2 }bcd$)", ""},  // same
      {"(?i)abc$", ""},
      {"(?=x)abc$", ""},
      {"(?<n>x)abc$", ""},
      {"(*CR)abc$", ""},
      {R"(\Qa|b\Eabc$)", ""},
      {R"(\cabc$)", ""},
      {R"(\k<n>abc$)", ""},
      {"[abc$", ""},
      {"[[.a.]]abc$", ""},
      {"abc)$", ""},
      {"caf\xe9$", ""},
      {"abc\x01$", ""},
      {"", ""},
      {"$", ""},
  };
  // "." is any one character (kAnyChar, '\0'); never leading, not counted
  // in the length.
  using namespace std::string_literals;
  const std::vector<SuffixCase> any = {
      {R"(^dynamic(-[0-9]{1,3}){4}\.entelnet.bo$)", ".entelnet\0bo"s},
      {R"(-[0-9]{4,12}.dsl.bell.ca$)", "dsl\0bell\0ca"s},
      {"abc.$", "abc\0"s},
      {".abc$", "abc"},
      {"x..abc$", "x\0\0abc"s},
      {".+abc$", "abc"},
      {"abc.+$", ""},
      {"a.b$", ""},     // two characters
      {"a..b$", ""},    // same
      {R"(\\.$)", ""},  // one
      {R"([.]abc$)", "abc"},
  };
  for (const SuffixCase& c : cases)
    EXPECT_EQ(detail::required_suffix(c.regex), c.suffix) << "/" << c.regex << "/";
  for (const SuffixCase& c : any)
    EXPECT_EQ(detail::required_suffix(c.regex), c.suffix) << "/" << c.regex << "/";
  EXPECT_EQ(detail::required_suffix("ab$", 1), "ab");
  EXPECT_EQ(detail::required_suffix(R"(\.$)", 1), ".");
  EXPECT_EQ(detail::required_suffix("abcdef$", 7), "");
}

// Every suffix taken must really be required: whenever PCRE2 matches a
// subject, the lower-cased subject ends with the suffix.
TEST(RequiredSuffixTest, SuffixesOfFqrdnsRegexesHoldOnEveryMatch) {
  const std::vector<std::string> regexes = fqrdns_regexes();
  std::vector<std::string> subjects = bench_hostnames();
  const std::vector<std::string> more = random_hostnames(subjects, 1500);
  subjects.insert(subjects.end(), more.begin(), more.end());
  const Reference ref(regexes);
  std::size_t with_suffix = 0, checked = 0;
  for (std::size_t i = 0; i < regexes.size(); ++i) {
    const std::string suffix = detail::required_suffix(regexes[i]);
    if (suffix.empty()) continue;
    ++with_suffix;
    for (const std::string& s : subjects) {
      if (!ref.matches(i, s)) continue;
      ++checked;
      std::string low = s;
      for (char& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      bool ends = low.size() >= suffix.size();
      for (std::size_t k = 1; ends && k <= suffix.size(); ++k) {
        const char want = suffix[suffix.size() - k];
        ends = want == detail::kAnyChar || want == low[low.size() - k];
      }
      ASSERT_TRUE(ends) << "/" << regexes[i] << "/ '" << s << "' '" << suffix;
    }
  }
  EXPECT_GT(with_suffix, 1300u);  // most fqrdns regexes have one
  EXPECT_GT(checked, 2000u);
}

TEST(LiteralSuffixIndexTest, FindsEverySuffixTheSubjectEndsWithIgnoringCase) {
  const detail::LiteralSuffixIndex idx({{".example.net", 0},
                                        {"example.net", 1},
                                        {".net", 2},
                                        {"-dsl.example.net", 3},
                                        {".org", 4},
                                        {".net", 5}});
  auto found = [&](std::string_view s) {
    Ids out = {99};  // collect() appends
    idx.collect(s, out);
    return out;
  };
  EXPECT_THAT(found("a.dsl.example.net"), ElementsAre(99u, 2u, 5u, 1u, 0u));
  EXPECT_THAT(found("A.DSL.Example.NET"), ElementsAre(99u, 2u, 5u, 1u, 0u));
  EXPECT_THAT(found("x-dsl.example.net"), ElementsAre(99u, 2u, 5u, 1u, 0u, 3u));
  EXPECT_THAT(found("-DSL.example.net"), ElementsAre(99u, 2u, 5u, 1u, 0u, 3u));
  EXPECT_THAT(found("xexample.net"), ElementsAre(99u, 2u, 5u, 1u));
  EXPECT_THAT(found("example.org"), ElementsAre(99u, 4u));
  EXPECT_THAT(found("example.net."), ElementsAre(99u));
  EXPECT_THAT(found(""), ElementsAre(99u));
  EXPECT_THAT(found(std::string("x.net\0", 6)), ElementsAre(99u));
  const detail::LiteralSuffixIndex empty;
  Ids none;
  empty.collect("a.net", none);
  EXPECT_TRUE(none.empty());
}

TEST(LiteralSuffixIndexTest, AnyCharMatchesEveryCharacter) {
  using namespace std::string_literals;
  const detail::LiteralSuffixIndex idx({{"cust\0example\0it"s, 0},
                                        {".example.it"s, 1},
                                        {"\0\0it"s, 2},  // a trie of "any" edges only
                                        {".\0xample.it"s, 3},
                                        {"xample.it"s, 4}});
  auto found = [&](std::string_view s) {
    Ids out;
    idx.collect(s, out);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_THAT(found("a.cust.example.it"), ElementsAre(0u, 1u, 2u, 3u, 4u));
  EXPECT_THAT(found("a.cust-example.it"), ElementsAre(0u, 2u, 4u));
  EXPECT_THAT(found("custXexampleYit"), ElementsAre(0u, 2u));
  EXPECT_THAT(found("CUST.EXAMPLE.IT"), ElementsAre(0u, 1u, 2u, 3u, 4u));
  EXPECT_THAT(found("xit"), ElementsAre());
  EXPECT_THAT(found("xyit"), ElementsAre(2u));
  EXPECT_THAT(found("it"), ElementsAre());
  EXPECT_THAT(found("cust\0example\0it"s), ElementsAre(0u, 2u));
}

// Random suffixes over a tiny alphabet (so that they share paths, chains
// and "any" branches), against a plain ends-with check.
TEST(LiteralSuffixIndexTest, AgreesWithPlainEndsWithOnRandomSuffixes) {
  std::mt19937 rng(4242);
  const std::string alphabet = "ab.";
  auto ends_with = [](std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (std::size_t k = 1; k <= suffix.size(); ++k) {
      const char want = suffix[suffix.size() - k];
      if (want != detail::kAnyChar && want != std::tolower(s[s.size() - k])) return false;
    }
    return true;
  };
  for (int round = 0; round < 40; ++round) {
    std::vector<detail::LiteralSuffixIndex::Entry> entries;
    const std::size_t count = 1 + rng() % 30;
    for (std::uint32_t id = 0; id < count; ++id) {
      std::string suffix;
      const std::size_t len = 1 + rng() % 7;
      for (std::size_t k = 0; k < len; ++k)
        suffix += rng() % 4 == 0 ? detail::kAnyChar : alphabet[rng() % alphabet.size()];
      entries.push_back({suffix, id});
    }
    const detail::LiteralSuffixIndex idx(entries);
    for (int t = 0; t < 200; ++t) {
      std::string subject;
      const std::size_t len = rng() % 10;
      for (std::size_t k = 0; k < len; ++k) subject += "abAB.x"[rng() % 6];
      Ids want, got;
      for (const auto& e : entries)
        if (ends_with(subject, e.suffix)) want.push_back(e.id);
      idx.collect(subject, got);
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "round " << round << " subject '" << subject << "'";
    }
  }
}

TEST(LiteralSuffixIndexTest, EmptyIndexFindsNothing) {
  const detail::LiteralSuffixIndex empty;
  Ids none;
  empty.collect("a.net", none);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace harden::policy
