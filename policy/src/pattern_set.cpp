// pattern_set.cpp - PatternSet: many regexes compiled once into one matcher.
//
// SYNOPSIS
//   PatternSet set(regexes);                  // fastest engine (measured)
//   PatternSet set(regexes, RegexEngine::re2);
//   std::vector<std::uint32_t> hits = set.match("dsl-1-2-3-4.example.net");
//
// REFERENCE SEMANTICS
//   Postfix pcre tables are PCRE with PCRE2_CASELESS, searched anywhere in
//   the name. PCRE2 is therefore the reference: every regex is compiled with
//   PCRE2 first (PolicyError if it fails), and a regex is given to the fast
//   engine (Hyperscan or RE2::Set) only when
//     1. it stays inside the PORTABLE SUBSET (portable_subset.hpp), whose
//        meaning is the same in PCRE2, Hyperscan and RE2 for subjects of
//        printable ASCII, and
//     2. the fast engine compiles it.
//   Any other regex is matched by PCRE2 (JIT) and listed in fallbacks() with
//   the reason (the engine's compile error, or the construct outside the
//   subset).
//
//   Before that, a regex whose every match must end the subject with a
//   literal text (no "|" at depth 0, closing "$", unquantified literals or
//   "." before it: "^host[0-9]+\.example\.it$" -> ".example.it", see
//   literal_suffix.hpp) is taken out: match() walks the subject from its end
//   through a trie of those reversed suffixes and checks only the regexes
//   whose suffix the subject ends with, each with PCRE2 (interpreted: see
//   the constructor), under one candidate per name on average. 1,521 of the
//   1,531 regexes of fqrdns.pcre are matched this way; the fast engine gets
//   the other 10 and, being small, is fast too (and compiles in ~30 ms).
//   Not with RegexEngine::pcre2, which stays one regex after another.
//
//   A subject holding any byte outside printable ASCII (0x20..0x7e) is matched
//   by PCRE2 alone: "$" before a final newline, "\s" and VT, "." and CR,
//   case folding of Latin-1 letters all differ between the engines there.
//   Valid host names never take that path.
//
// DEFAULT ENGINE
//   Hyperscan when available, else RE2::Set; chosen by measurement with
//   tests/bench/bench_rdns.cpp (figures at kDefaultEngine below).
//
// THREAD SAFETY
//   match() is const and may run in any number of threads: Hyperscan scratch
//   and PCRE2 match data are per thread (no locks); RE2::Set::Match is
//   thread-safe (its DFA cache is shared behind a lock).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <new>
#include <string>

#include "harden/policy/ascii.hpp"
#include "harden/policy/error.hpp"
#include "harden/policy/rdns.hpp"
#include "literal_suffix.hpp"
#include "portable_subset.hpp"
#include "re2/re2.h"
#include "re2/set.h"

#ifdef HARDEN_HAVE_HYPERSCAN
#include <hs.h>
#endif

namespace harden::policy {

namespace {

// Measured with bench_rdns on fqrdns.pcre (1,531 regexes, 4,000 host names,
// RelWithDebInfo, a 2-vCPU VM shared with other work, so noisy), ns per
// host name, with the literal-suffix prefilter (1,521 regexes go through it,
// 10 to the fast engine):
//                     per name, median      first pass   compile
//                     stream     repeated   after build  PatternSet
//   Hyperscan          551-610    288-300    605-685      23-26 ms
//   RE2::Set           560-590    298-303    877-915      4 ms
//   PCRE2 one by one  ~35,000    ~15,100
// With all regexes in the fast engine (no prefilter): Hyperscan
// 930-1,350 / 415-470, compiled in 1.2-2.2 s; RE2::Set 1,080-1,820 /
// 220-250, first pass 21,000-30,000 (its DFA is built lazily).
// The two are about as fast; Hyperscan stays the default: it never
// locks (RE2's DFA cache is shared by all threads behind a lock and reset
// when its memory budget is spent) and costs the same from the first name on.
constexpr RegexEngine kDefaultEngine = RegexEngine::hyperscan;

// RE2 budget for the compiled program and the lazily built DFA of the set.
constexpr std::int64_t kRe2MaxMem = std::int64_t{64} << 20;
// PCRE2 backtracking bound; a regex that exceeds it counts as no match.
constexpr std::uint32_t kPcre2MatchLimit = 1'000'000;

// ----------------------------------------------------------------------------
// PCRE2

struct Pcre2CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
using Pcre2Code = std::unique_ptr<pcre2_code, Pcre2CodeFree>;

std::string pcre2_message(int code) {
  std::array<PCRE2_UCHAR, 256> buf{};
  pcre2_get_error_message(code, buf.data(), buf.size());
  return std::string(reinterpret_cast<const char*>(buf.data()));
}

Pcre2Code pcre2_compile_or_throw(const std::string& re, std::size_t index) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(),
                                   PCRE2_CASELESS, &err, &offset, nullptr);
  if (code == nullptr) {
    throw PolicyError("regex " + std::to_string(index) + " /" + re + "/: " + pcre2_message(err) +
                      " at offset " + std::to_string(offset));
  }
  return Pcre2Code(code);
}

// Per-thread match data; one ovector pair is enough to learn "matched".
pcre2_match_data* thread_match_data() {
  struct Holder {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~Holder() { pcre2_match_data_free(md); }
  };
  thread_local Holder holder;
  return holder.md;
}

// ----------------------------------------------------------------------------
// Fast engines

class FastMatcher {
 public:
  virtual ~FastMatcher() = default;
  // Appends the ids of matching patterns; false if the engine failed at run
  // time (then the caller uses PCRE2 for this subject).
  virtual bool match(std::string_view subject, std::vector<std::uint32_t>& out) const = 0;
};

struct Candidate {
  std::uint32_t index;  // into the regex list
  const std::string* regex;
};

#ifdef HARDEN_HAVE_HYPERSCAN

constexpr unsigned kHsFlags = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;

bool hyperscan_usable() {
  return hs_valid_platform() == HS_SUCCESS;
}

// Empty if Hyperscan can take the expression on its own, else its error.
std::string hyperscan_check(const std::string& re) {
  hs_expr_info_t* info = nullptr;
  hs_compile_error_t* err = nullptr;
  const hs_error_t rc = hs_expression_info(re.c_str(), kHsFlags, &info, &err);
  std::string why;
  if (rc != HS_SUCCESS) why = err != nullptr ? err->message : "hs_expression_info failed";
  if (err != nullptr) hs_free_compile_error(err);
  std::free(info);  // NOLINT: allocated by Hyperscan with malloc
  return why;
}

// Hyperscan scratch: each thread keeps clones for the last few databases it
// scanned, keyed by a serial number (never reused, unlike an address).
// Cloning the database's prototype costs under a microsecond; allocating
// from the database (hs_alloc_scratch) checks all of it, ~0.6 ms for
// fqrdns.pcre, which a thread-per-connection milter would pay per
// connection. No lock: threads never share a scratch.
class ThreadScratch {
 public:
  static hs_scratch_t* get(std::uint64_t serial, const hs_scratch_t* proto) {
    thread_local ThreadScratch cache;
    return cache.find(serial, proto);
  }
  ~ThreadScratch() {
    for (Slot& s : slots_) hs_free_scratch(s.scratch);
  }

 private:
  struct Slot {
    std::uint64_t serial = 0;
    hs_scratch_t* scratch = nullptr;
  };
  static constexpr std::size_t kSlots = 4;  // snapshots a thread uses at once: old, new

  ThreadScratch() = default;
  hs_scratch_t* find(std::uint64_t serial, const hs_scratch_t* proto) {
    for (const Slot& s : slots_)
      if (s.serial == serial) return s.scratch;
    hs_scratch_t* fresh = nullptr;
    if (hs_clone_scratch(proto, &fresh) != HS_SUCCESS) return nullptr;
    Slot& victim = slots_[next_++ % kSlots];
    hs_free_scratch(victim.scratch);
    victim = Slot{serial, fresh};
    return fresh;
  }

  std::array<Slot, kSlots> slots_{};
  std::size_t next_ = 0;
};

std::uint64_t next_serial() {
  static std::atomic<std::uint64_t> serial{0};
  return ++serial;
}

class HyperscanMatcher final : public FastMatcher {
 public:
  // Compiles the candidates, moving each one Hyperscan rejects to `rejected`.
  static std::unique_ptr<HyperscanMatcher> build(std::vector<Candidate>& cands,
                                                 std::vector<FallbackReport>& rejected);
  ~HyperscanMatcher() override {
    hs_free_scratch(proto_);
    hs_free_database(db_);
  }
  HyperscanMatcher(const HyperscanMatcher&) = delete;
  HyperscanMatcher& operator=(const HyperscanMatcher&) = delete;

  bool match(std::string_view subject, std::vector<std::uint32_t>& out) const override {
    if (subject.size() > std::numeric_limits<unsigned>::max()) return false;
    hs_scratch_t* scratch = ThreadScratch::get(serial_, proto_);
    if (scratch == nullptr) return false;
    Hits hits{&ids_, &out, false};
    const hs_error_t rc = hs_scan(db_, subject.data(), static_cast<unsigned>(subject.size()), 0,
                                  scratch, &on_match, &hits);
    return rc == HS_SUCCESS && !hits.failed;
  }

 private:
  HyperscanMatcher(hs_database_t* db, std::vector<std::uint32_t> ids)
      : db_(db), ids_(std::move(ids)), serial_(next_serial()) {
    if (hs_alloc_scratch(db_, &proto_) != HS_SUCCESS) {
      hs_free_database(db_);
      throw std::bad_alloc();
    }
  }

  struct Hits {
    const std::vector<std::uint32_t>* ids;
    std::vector<std::uint32_t>* out;
    bool failed;  // out of memory: no exception may cross Hyperscan's C frames
  };
  static int on_match(unsigned id, unsigned long long /*from*/, unsigned long long /*to*/,
                      unsigned /*flags*/, void* ctx) noexcept {
    auto* hits = static_cast<Hits*>(ctx);
    try {
      hits->out->push_back((*hits->ids)[id]);
      return 0;
    } catch (...) {
      hits->failed = true;
      return 1;  // stop the scan
    }
  }

  hs_database_t* db_;
  std::vector<std::uint32_t> ids_;  // Hyperscan id -> regex index
  std::uint64_t serial_;
  hs_scratch_t* proto_ = nullptr;  // only ever cloned, never scanned with
};

std::unique_ptr<HyperscanMatcher> HyperscanMatcher::build(std::vector<Candidate>& cands,
                                                          std::vector<FallbackReport>& rejected) {
  auto reject = [&](std::size_t k, std::string why) {
    rejected.push_back({cands[k].index, *cands[k].regex, "hyperscan: " + std::move(why)});
    cands.erase(cands.begin() + static_cast<std::ptrdiff_t>(k));
  };
  for (std::size_t k = cands.size(); k-- > 0;) {
    std::string why = hyperscan_check(*cands[k].regex);
    if (!why.empty()) reject(k, std::move(why));
  }
  // hs_compile_multi names one bad expression per attempt; retry without it.
  while (!cands.empty()) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags(cands.size(), kHsFlags), ids;
    std::vector<std::uint32_t> index;
    for (std::size_t k = 0; k < cands.size(); ++k) {
      exprs.push_back(cands[k].regex->c_str());
      ids.push_back(static_cast<unsigned>(k));
      index.push_back(cands[k].index);
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) == HS_SUCCESS) {
      return std::unique_ptr<HyperscanMatcher>(new HyperscanMatcher(db, std::move(index)));
    }
    const int bad = err != nullptr ? err->expression : -1;
    std::string why = err != nullptr ? err->message : "hs_compile_multi failed";
    hs_free_compile_error(err);
    if (bad < 0) throw PolicyError("hyperscan: cannot compile the regex set: " + why);
    reject(static_cast<std::size_t>(bad), std::move(why));
  }
  return nullptr;
}

#else
bool hyperscan_usable() {
  return false;
}
#endif  // HARDEN_HAVE_HYPERSCAN

class Re2SetMatcher final : public FastMatcher {
 public:
  // Adds the candidates, moving each one RE2 rejects to `rejected`.
  static std::unique_ptr<Re2SetMatcher> build(const std::vector<Candidate>& cands,
                                              std::vector<FallbackReport>& rejected) {
    auto m = std::unique_ptr<Re2SetMatcher>(new Re2SetMatcher());
    for (const Candidate& c : cands) {
      std::string err;
      if (m->set_.Add(*c.regex, &err) < 0) {
        rejected.push_back({c.index, *c.regex, "re2: " + err});
        continue;
      }
      m->ids_.push_back(c.index);
    }
    if (m->ids_.empty()) return nullptr;
    if (!m->set_.Compile()) throw PolicyError("re2: the regex set is too large to compile");
    return m;
  }

  bool match(std::string_view subject, std::vector<std::uint32_t>& out) const override {
    thread_local std::vector<int> hits;
    hits.clear();
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    const re2::StringPiece text(subject.data(), subject.size());
    if (!set_.Match(text, &hits, &info)) return info.kind == RE2::Set::kNoError;
    for (int h : hits) out.push_back(ids_[static_cast<std::size_t>(h)]);
    return true;
  }

 private:
  static RE2::Options options() {
    RE2::Options o;
    o.set_case_sensitive(false);
    o.set_longest_match(false);
    o.set_encoding(RE2::Options::EncodingLatin1);  // bytes, as PCRE2 without UTF
    o.set_log_errors(false);
    o.set_max_mem(kRe2MaxMem);
    return o;
  }
  Re2SetMatcher() : set_(options(), RE2::UNANCHORED) {}

  RE2::Set set_;
  std::vector<std::uint32_t> ids_;  // RE2 set index -> regex index
};

bool printable_ascii(std::string_view s) {
  bool ok = true;  // no early exit: the loop vectorizes
  for (char c : s) ok &= ascii::is_print(c);
  return ok;
}

}  // namespace

std::string_view to_string(RegexEngine e) {
  switch (e) {
    case RegexEngine::hyperscan:
      return "hyperscan";
    case RegexEngine::re2:
      return "re2";
    case RegexEngine::pcre2:
      return "pcre2";
  }
  return "unknown";
}

struct PatternSet::Impl {
  std::size_t size = 0;
  RegexEngine engine = RegexEngine::pcre2;
  std::vector<Pcre2Code> pcre;           // every regex (JIT for the fallbacks)
  std::vector<bool> jit;                 // per regex: JIT-compiled
  std::vector<std::uint32_t> pcre_only;  // matched with PCRE2 on every subject
  // Regexes with a required literal suffix: PCRE2 (interpreted) checks those whose
  // suffix the subject ends with; the fast engine never sees them.
  detail::LiteralSuffixIndex suffixes;
  std::vector<std::uint32_t> suffixed;
  std::vector<FallbackReport> fallbacks;
  std::unique_ptr<FastMatcher> fast;
  std::unique_ptr<pcre2_match_context, void (*)(pcre2_match_context*)> mctx{
      pcre2_match_context_create(nullptr), &pcre2_match_context_free};

  bool pcre_match(std::uint32_t id, std::string_view s) const {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    // pcre2_jit_match: the JIT code straight away, without pcre2_match's checks.
    const int rc = jit[id] ? pcre2_jit_match(pcre[id].get(), subject, s.size(), 0, 0,
                                             thread_match_data(), mctx.get())
                           : pcre2_match(pcre[id].get(), subject, s.size(), 0, 0,
                                         thread_match_data(), mctx.get());
    return rc >= 0;  // errors (match limit) count as no match
  }
  void jit_compile(std::uint32_t id) {
    jit[id] = pcre2_jit_compile(pcre[id].get(), PCRE2_JIT_COMPLETE) == 0;
  }
  void match_all_pcre(std::string_view s, std::vector<std::uint32_t>& out) const {
    for (std::uint32_t id = 0; id < pcre.size(); ++id)
      if (pcre_match(id, s)) out.push_back(id);
  }
  void verify_suffixed(std::string_view s, std::vector<std::uint32_t>& out) const {
    const std::size_t first = out.size();
    suffixes.collect(s, out);
    std::size_t keep = first;
    for (std::size_t k = first; k < out.size(); ++k)
      if (pcre_match(out[k], s)) out[keep++] = out[k];
    out.resize(keep);
  }
  void split_suffixed(std::span<const std::string> regexes, std::vector<std::uint32_t>& rest);
  void build_fast(std::span<const std::string> regexes, const std::vector<std::uint32_t>& ids,
                  RegexEngine want);
};

// Puts the regexes with a required literal suffix in `suffixes`, the
// others' indices in `rest`.
void PatternSet::Impl::split_suffixed(std::span<const std::string> regexes,
                                      std::vector<std::uint32_t>& rest) {
  std::vector<detail::LiteralSuffixIndex::Entry> entries;
  for (std::uint32_t k = 0; k < regexes.size(); ++k) {
    std::string suffix = detail::required_suffix(regexes[k]);
    if (suffix.empty()) {
      rest.push_back(k);
      continue;
    }
    entries.push_back({std::move(suffix), k});
    suffixed.push_back(k);
  }
  suffixes = detail::LiteralSuffixIndex(entries);
}

void PatternSet::Impl::build_fast(std::span<const std::string> regexes,
                                  const std::vector<std::uint32_t>& ids, RegexEngine want) {
  std::vector<Candidate> cands;
  for (std::uint32_t k : ids) {
    std::string why = detail::portable_subset_violation(regexes[k]);
    if (why.empty())
      cands.push_back({k, &regexes[k]});
    else
      fallbacks.push_back({k, regexes[k], std::move(why)});
  }
  std::size_t fast_count = cands.size();
#ifdef HARDEN_HAVE_HYPERSCAN
  if (want == RegexEngine::hyperscan) {
    fast = HyperscanMatcher::build(cands, fallbacks);
    fast_count = cands.size();
  }
#endif
  if (want == RegexEngine::re2) {
    const std::size_t before = fallbacks.size();
    fast = Re2SetMatcher::build(cands, fallbacks);
    fast_count -= fallbacks.size() - before;
  }
  std::sort(fallbacks.begin(), fallbacks.end(),
            [](const FallbackReport& a, const FallbackReport& b) { return a.index < b.index; });
  for (const FallbackReport& f : fallbacks)
    pcre_only.push_back(static_cast<std::uint32_t>(f.index));
  engine = fast_count + suffixed.size() >= pcre_only.size() ? want : RegexEngine::pcre2;
}

PatternSet::PatternSet(std::span<const std::string> regexes, std::optional<RegexEngine> preferred)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.size = regexes.size();
  if (im.size > std::numeric_limits<std::uint32_t>::max() / 2)
    throw PolicyError("too many regexes for one pattern set");
  pcre2_set_match_limit(im.mctx.get(), kPcre2MatchLimit);
  im.pcre.reserve(regexes.size());
  for (std::size_t k = 0; k < regexes.size(); ++k)
    im.pcre.push_back(pcre2_compile_or_throw(regexes[k], k));

  RegexEngine want = preferred.value_or(kDefaultEngine);
  if (want == RegexEngine::hyperscan && !hyperscan_usable()) want = RegexEngine::re2;
  if (want == RegexEngine::pcre2) {
    for (std::uint32_t k = 0; k < regexes.size(); ++k) im.pcre_only.push_back(k);
    im.engine = RegexEngine::pcre2;
  } else {
    std::vector<std::uint32_t> rest;
    im.split_suffixed(regexes, rest);
    try {
      im.build_fast(regexes, rest, want);
    } catch (const PolicyError&) {
      if (preferred || want == RegexEngine::re2) throw;
      im.fallbacks.clear();  // Hyperscan failed as a whole: the default falls to RE2
      im.pcre_only.clear();
      im.build_fast(regexes, rest, RegexEngine::re2);
    }
  }
  im.jit.assign(regexes.size(), false);
  for (std::uint32_t id : im.pcre_only) im.jit_compile(id);
  // The suffixed regexes stay on PCRE2's interpreter: each is tried only
  // for the few names ending with its suffix, so its code is cold when it
  // runs, and the interpreter's compact byte code costs fewer cache misses
  // than one JIT code block per regex (bench_rdns, stream median: ~590 vs
  // ~660 ns per name; repeated: ~270 vs ~160), builds in half the time and
  // takes no executable memory per regex.
}

PatternSet::~PatternSet() = default;
PatternSet::PatternSet(PatternSet&&) noexcept = default;
PatternSet& PatternSet::operator=(PatternSet&&) noexcept = default;

std::size_t PatternSet::size() const {
  return impl_->size;
}
RegexEngine PatternSet::engine() const {
  return impl_->engine;
}
const std::vector<FallbackReport>& PatternSet::fallbacks() const {
  return impl_->fallbacks;
}

std::vector<std::uint32_t> PatternSet::match(std::string_view subject) const {
  std::vector<std::uint32_t> out;
  out.reserve(8);  // one allocation for the usual handful of hits
  match(subject, out);
  return out;
}

void PatternSet::match(std::string_view subject, std::vector<std::uint32_t>& out) const {
  const Impl& im = *impl_;
  out.clear();
  if (!printable_ascii(subject) || (im.fast && !im.fast->match(subject, out))) {
    out.clear();
    im.match_all_pcre(subject, out);
    return;
  }
  im.verify_suffixed(subject, out);
  for (std::uint32_t id : im.pcre_only)
    if (im.pcre_match(id, subject)) out.push_back(id);
  if (out.size() > 1) std::sort(out.begin(), out.end());
}

bool PatternSet::matches(std::uint32_t index, std::string_view subject) const {
  return index < impl_->pcre.size() && impl_->pcre_match(index, subject);
}

}  // namespace harden::policy
