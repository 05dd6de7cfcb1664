// bench_rdns.cpp - rDNS classification: the policy snapshot against PCRE2
// one regex after another, as Postfix walks a pcre table.
//
// SYNOPSIS
//   bench_rdns                                  verify, benchmark, summary
//   bench_rdns --benchmark_filter=Snapshot      the usual Google Benchmark flags
//   bench_rdns --verify-only                    verdict check and summary only
//
// WHAT IT DOES
//   1. Loads tests/data/fqrdns.pcre two ways:
//      snapshot   db::parse_postfix_pcre -> policy::Policy::build ->
//                 Policy::resolve(client, now) with client_resolve OK;
//      baseline   each regex compiled once with PCRE2 (CASELESS, JIT) and
//                 tried in file order, "if /re/" ... "endif" honoured, the
//                 first matching rule wins (Postfix's dict_pcre walk).
//   2. For every host name of tests/data/bench_hostnames.txt (see
//      gen_bench_hostnames.py) checks that both give the same verdict:
//      blocked or not, and which rule (file line) decided. Any difference is
//      printed and the program exits 1, before any benchmark runs.
//   3. Benchmarks, one host name per iteration (cycling through the list),
//      so "Time" is ns per host name: BM_Snapshot/<engine>, BM_PcreOneByOne,
//      BM_PatternSet/<engine> (the multi-pattern matcher alone, all regexes;
//      also from 4 threads at once: compare items_per_second),
//      BM_Snapshot/<engine>+heuristics (dialin and generic_hosting on),
//      BM_DialinHeuristic (classify_rdns() alone).
//   4. Summary: median (and mean) ns per host name, each name timed on its
//      own (cycling through the list, and warm: one name repeated), for the
//      snapshot, the baseline and each PatternSet engine; the speed-up, the
//      targets (<= 2000 ns, >= 50x), and compile times per engine.
//   5. Heuristic summary: the same medians for classify_rdns() alone and for
//      the snapshot with dialin and generic_hosting on, over the bench list
//      (one client address for all) and over tests/data/rdns_corpus.tsv (each
//      name with its own client address, so the address forms are tried in
//      earnest); targets: <= 500 ns alone, <= 1000 ns with fqrdns (issue 13).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "harden/db/importers.hpp"
#include "harden/policy/policy.hpp"
#include "harden/policy/rdns.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace {

using harden::policy::Action;
using harden::policy::Attr;
using harden::policy::Client;
using harden::policy::IpAddress;
using harden::policy::PatternSet;
using harden::policy::PatternTerm;
using harden::policy::Policy;
using harden::policy::RdnsStatus;
using harden::policy::RegexEngine;
using harden::policy::Source;
using Clock = std::chrono::steady_clock;

const std::string kPcreFile = HARDEN_TEST_DATA_DIR "/fqrdns.pcre";
const std::string kNamesFile = HARDEN_TEST_DATA_DIR "/bench_hostnames.txt";
const std::string kCorpusFile = HARDEN_TEST_DATA_DIR "/rdns_corpus.tsv";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---------------------------------------------------------------------------
// The baseline: a Postfix pcre table walked line by line.

struct Verdict {
  int line = 0;  // file line of the deciding rule; 0: no rule matched
  bool blocked = false;
  friend bool operator==(const Verdict&, const Verdict&) = default;
};

class PostfixTable {
 public:
  explicit PostfixTable(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::size_t> open;  // indices of unclosed "if" entries
    std::vector<PatternTerm> conditions;
    int number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("endif", 0) == 0) {
        entries_[open.back()].skip_to = entries_.size();
        open.pop_back();
        conditions.pop_back();
        continue;
      }
      const bool is_if = line.rfind("if ", 0) == 0;
      Entry e;
      e.line = number;
      std::size_t i = is_if ? 3 : 0;
      if (line[i] == '!') e.negated = true, ++i;
      if (line[i] != '/') throw std::runtime_error("line " + std::to_string(number) + ": no regex");
      std::size_t end = i + 1;
      while (end < line.size() && line[end] != '/') end += line[end] == '\\' ? 2u : 1u;
      e.regex = line.substr(i + 1, end - i - 1);
      std::istringstream rest(line.substr(end + 1));
      std::string action;
      rest >> action;
      e.blocked = action == "REJECT" || (action.size() == 3 && action[0] == '5');
      e.code = compile(e.regex);
      if (is_if) {
        open.push_back(entries_.size());
        conditions.push_back(PatternTerm{e.regex, e.negated});
      } else {
        std::vector<PatternTerm> terms = conditions;
        terms.push_back(PatternTerm{e.regex, e.negated});
        by_terms_[key(terms)] = number;
      }
      e.is_if = is_if;
      entries_.push_back(std::move(e));
    }
  }
  ~PostfixTable() {
    for (Entry& e : entries_) pcre2_code_free(e.code);
    pcre2_match_data_free(md_);
  }
  PostfixTable(const PostfixTable&) = delete;
  PostfixTable& operator=(const PostfixTable&) = delete;

  Verdict lookup(std::string_view name) const {
    for (std::size_t i = 0; i < entries_.size();) {
      const Entry& e = entries_[i];
      const bool hit = pcre2_match(e.code, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(),
                                   0, 0, md_, nullptr) >= 0;
      if (e.is_if) {
        i = hit != e.negated ? i + 1 : e.skip_to;
        continue;
      }
      if (hit != e.negated) return Verdict{e.line, e.blocked};
      ++i;
    }
    return Verdict{};
  }

  // The file line of the rule with these terms, 0 if none.
  int line_of(const std::vector<PatternTerm>& terms) const {
    const auto it = by_terms_.find(key(terms));
    return it == by_terms_.end() ? 0 : it->second;
  }
  std::size_t regex_count() const { return entries_.size(); }

 private:
  struct Entry {
    std::string regex;
    pcre2_code* code = nullptr;
    bool negated = false, is_if = false, blocked = false;
    int line = 0;
    std::size_t skip_to = 0;  // if: the entry after its endif
  };

  static std::string key(std::vector<PatternTerm> terms) {
    std::sort(terms.begin(), terms.end(), [](const PatternTerm& a, const PatternTerm& b) {
      return std::tie(a.regex, a.negated) < std::tie(b.regex, b.negated);
    });
    std::string k;
    for (const PatternTerm& t : terms) k += (t.negated ? "!/" : "/") + t.regex + "/\n";
    return k;
  }

  static pcre2_code* compile(const std::string& re) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re.data()), re.size(),
                                  PCRE2_CASELESS, &err, &off, nullptr);
    if (c == nullptr) throw std::runtime_error("PCRE2 cannot compile /" + re + "/");
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    return c;
  }

  std::vector<Entry> entries_;
  std::map<std::string, int> by_terms_;
  pcre2_match_data* md_ = pcre2_match_data_create(1, nullptr);
};

// ---------------------------------------------------------------------------
// The snapshot

struct Snapshot {
  RegexEngine engine;
  std::shared_ptr<const Policy> policy;
  std::vector<int> line_of_rule;  // Policy::rules() index -> file line (0: not from the file)
  double build_ms = 0;
};

// With `heuristics`, a default rule turns dialin and generic_hosting on, so
// classify_rdns() runs for every name no fqrdns rule decided (such a
// snapshot is timed, never verified against the Postfix walk).
Snapshot make_snapshot(const std::string& text, RegexEngine engine, const PostfixTable& table,
                       bool heuristics = false) {
  std::istringstream in(text);
  harden::db::ImportResult imported = harden::db::parse_postfix_pcre(in, "fqrdns.pcre");
  if (heuristics) {
    harden::policy::Rule def;
    def.selector = harden::policy::Selector::parse("default");
    def.attrs.set(harden::policy::Attr::dialin, "block");
    def.attrs.set(harden::policy::Attr::generic_hosting, "block");
    imported.rules.push_back(std::move(def));
  }
  harden::policy::PolicyOptions options;
  options.regex_engine = engine;
  const auto t0 = Clock::now();
  Snapshot s{engine, Policy::build(std::move(imported.rules), options), {}, 0};
  s.build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  for (const auto& rule : s.policy->rules()) {
    const bool pattern = rule.selector.kind() == harden::policy::Selector::Kind::pattern;
    s.line_of_rule.push_back(pattern ? table.line_of(rule.selector.terms()) : 0);
  }
  return s;
}

Client client_for(const std::string& name) {
  Client c;
  c.address = IpAddress::parse("192.0.2.1");
  c.hostname = name;
  c.resolve = RdnsStatus::ok;
  return c;
}

Verdict snapshot_verdict(const Snapshot& s, const Client& c, harden::policy::UnixTime now) {
  const harden::policy::Resolution r = s.policy->resolve(c, now);
  const Source& src = r.source(Attr::action);
  Verdict v;
  v.blocked = r.limits.action == Action::block;
  if (src.kind == Source::Kind::rule) v.line = s.line_of_rule[static_cast<std::size_t>(src.rule)];
  return v;
}

// ---------------------------------------------------------------------------
// Shared state

struct World {
  std::string text = read_file(kPcreFile);
  PostfixTable table{text};
  std::vector<std::string> names;
  std::vector<Client> clients;
  std::vector<Snapshot> snapshots;
  std::vector<std::string> regexes;  // every regex of the file, "if" ones too
  harden::policy::UnixTime now{std::chrono::seconds{1'763'700'000}};

  World() {
    std::istringstream in(read_file(kNamesFile));
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && line[0] != '#') names.push_back(line);
    for (const auto& n : names) clients.push_back(client_for(n));
    std::istringstream t(text);
    for (std::string line; std::getline(t, line);) {
      const std::size_t start = line.rfind("if /", 0) == 0 ? 4 : line.rfind('/', 0) == 0 ? 1 : 0;
      if (start == 0) continue;
      std::size_t end = start;
      while (end < line.size() && line[end] != '/') end += line[end] == '\\' ? 2u : 1u;
      regexes.push_back(line.substr(start, end - start));
    }
  }
};

World& world() {
  static World w;
  return w;
}

std::vector<RegexEngine> fast_engines() {
  std::vector<RegexEngine> out;
  for (RegexEngine e : {RegexEngine::hyperscan, RegexEngine::re2}) {
    const std::vector<std::string> probe = {"probe"};
    if (PatternSet(probe, e).engine() == e) out.push_back(e);
  }
  return out;
}

// Every host name, both ways; prints differences. True if all agree.
bool verify(const Snapshot& s) {
  World& w = world();
  std::size_t bad = 0, blocked = 0;
  for (std::size_t i = 0; i < w.names.size(); ++i) {
    const Verdict want = w.table.lookup(w.names[i]);
    const Verdict got = snapshot_verdict(s, w.clients[i], w.now);
    blocked += want.blocked ? 1 : 0;
    if (want == got) continue;
    if (++bad <= 10) {
      std::printf("MISMATCH [%s] %s: postfix line %d %s, snapshot line %d %s\n",
                  std::string(to_string(s.engine)).c_str(), w.names[i].c_str(), want.line,
                  want.blocked ? "blocked" : "passed", got.line,
                  got.blocked ? "blocked" : "passed");
    }
  }
  std::printf("verdicts [%s]: %zu host names, %zu blocked, %zu differences -> %s\n",
              std::string(to_string(s.engine)).c_str(), w.names.size(), blocked, bad,
              bad == 0 ? "IDENTICAL" : "DIFFERENT");
  return bad == 0;
}

// ---------------------------------------------------------------------------
// Benchmarks: one host name per iteration.

void BM_Snapshot(benchmark::State& state, const Snapshot* s) {
  World& w = world();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s->policy->resolve(w.clients[i], w.now));
    i = i + 1 == w.clients.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PcreOneByOne(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.table.lookup(w.names[i]));
    i = i + 1 == w.names.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PatternSet(benchmark::State& state, const PatternSet* set) {
  World& w = world();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 977 % w.names.size();
  for (auto _ : state) {
    benchmark::DoNotOptimize(set->match(w.names[i]));
    i = i + 1 == w.names.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DialinHeuristic(benchmark::State& state) {
  World& w = world();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(harden::policy::classify_rdns(w.names[i], &w.clients[i].address));
    i = i + 1 == w.names.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

// ---------------------------------------------------------------------------
// Summary: every host name timed on its own, two ways:
//   cycling  a method runs through the whole list, one call per name, as a
//            milter sees a stream of connections from different hosts (the
//            caches hold the other names' traces, not this name's); passes
//            alternate between the methods and per name the median over the
//            passes is kept, so a burst of load on the machine is dropped;
//   warm     the same name repeated back to back, the average;
// then the median (and mean) over the names, less the clock's own cost.
// The targets are judged on the cycling medians.

struct Figures {
  double median = 0, mean = 0;
};

Figures over_names(std::vector<double> per_name) {
  Figures out;
  for (double v : per_name) out.mean += v / static_cast<double>(per_name.size());
  const auto mid = per_name.begin() + static_cast<std::ptrdiff_t>(per_name.size() / 2);
  std::nth_element(per_name.begin(), mid, per_name.end());
  out.median = *mid;
  return out;
}

struct Method {
  std::string name;
  std::function<void(std::size_t)> run;  // one call for host name i
  Figures cycling, warm;
};

double elapsed_ns(const std::function<void(std::size_t)>& f, std::size_t i, int reps) {
  const auto t0 = Clock::now();
  for (int r = 0; r < reps; ++r) f(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / reps;
}

void measure(std::vector<Method>& methods, std::size_t count, int passes, int warm_reps) {
  const std::function<void(std::size_t)> nothing = [](std::size_t) {};
  const std::size_t ms = methods.size() + 1;  // the last one: the clock alone
  // One flat array, written in order, so the harness disturbs the caches little.
  std::vector<double> samples(static_cast<std::size_t>(passes) * ms * count);
  auto at = [&](std::size_t p, std::size_t m, std::size_t i) -> double& {
    return samples[(p * ms + m) * count + i];
  };
  for (std::size_t p = 0; p < static_cast<std::size_t>(passes); ++p) {
    for (std::size_t k = 0; k < ms; ++k) {
      const std::size_t m = (k + p) % ms;
      const auto& f = m < methods.size() ? methods[m].run : nothing;
      for (std::size_t i = 0; i < count; ++i) at(p, m, i) = elapsed_ns(f, i, 1);
    }
  }
  std::vector<Figures> figures;
  for (std::size_t m = 0; m < ms; ++m) {
    std::vector<double> per_name, v(static_cast<std::size_t>(passes));
    for (std::size_t i = 0; i < count; ++i) {
      for (std::size_t p = 0; p < v.size(); ++p) v[p] = at(p, m, i);
      std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
      per_name.push_back(v[v.size() / 2]);
    }
    figures.push_back(over_names(std::move(per_name)));
  }
  for (std::size_t m = 0; m < methods.size(); ++m) {
    methods[m].cycling = figures[m];
    methods[m].cycling.median -= figures.back().median;
    methods[m].cycling.mean -= figures.back().mean;
    std::vector<double> warm(count);
    for (std::size_t i = 0; i < count; ++i) {
      methods[m].run(i);
      warm[i] = elapsed_ns(methods[m].run, i, warm_reps);
    }
    methods[m].warm = over_names(std::move(warm));
  }
}

void summary(const std::vector<std::unique_ptr<PatternSet>>& sets) {
  World& w = world();
  const std::size_t n = w.names.size();
  std::vector<Method> methods;
  methods.push_back({"PCRE2 one by one (Postfix walk)",
                     [&](std::size_t i) { benchmark::DoNotOptimize(w.table.lookup(w.names[i])); },
                     {},
                     {}});
  for (const Snapshot& s : w.snapshots) {
    methods.push_back(
        {"snapshot [" + std::string(to_string(s.engine)) + "]",
         [&](std::size_t i) { benchmark::DoNotOptimize(s.policy->resolve(w.clients[i], w.now)); },
         {},
         {}});
    methods.push_back(
        {"  its PatternRuleIndex",
         [&](std::size_t i) { benchmark::DoNotOptimize(s.policy->patterns().match(w.names[i])); },
         {},
         {}});
  }
  for (const auto& set : sets) {
    if (set->engine() == RegexEngine::pcre2) continue;  // ~100 us: the baseline tells enough
    methods.push_back({"PatternSet [" + std::string(to_string(set->engine())) + "]",
                       [&](std::size_t i) { benchmark::DoNotOptimize(set->match(w.names[i])); },
                       {},
                       {}});
  }
  measure(methods, n, 7, 10);

  std::printf("\n=== rDNS summary: %zu host names, %zu regexes in fqrdns.pcre ===\n", n,
              w.table.regex_count());
  std::printf("%-32s %14s %10s %14s %9s\n", "ns per host name", "cycling median", "mean",
              "warm median", "speed-up");
  const Method& base = methods.front();
  for (const Method& m : methods) {
    std::printf("%-32s %14.0f %10.0f %14.0f %8.1fx\n", m.name.c_str(), m.cycling.median,
                m.cycling.mean, m.warm.median, base.cycling.median / m.cycling.median);
  }
  for (std::size_t k = 0; k < w.snapshots.size(); ++k) {
    const Snapshot& s = w.snapshots[k];
    const Method& m = methods[1 + 2 * k];
    const double speedup = base.cycling.median / m.cycling.median;
    std::printf(
        "SUMMARY snapshot [%s]: median %.0f ns/host name vs PCRE2 one by one %.0f ns: %.1fx "
        "faster (warm %.1fx); targets <= 2000 ns %s, >= 50x %s; Policy::build %.0f ms\n",
        std::string(to_string(s.engine)).c_str(), m.cycling.median, base.cycling.median, speedup,
        base.warm.median / m.warm.median, m.cycling.median <= 2000 ? "met" : "MISSED",
        speedup >= 50 ? "met" : "MISSED", s.build_ms);
  }
}

// classify_rdns() alone and the snapshot with both heuristics on, over the
// names given (and their clients).
void heuristic_summary(const char* list, const std::vector<std::string>& names,
                       const std::vector<Client>& clients, const Snapshot& with_heuristics) {
  World& w = world();
  std::vector<Method> methods;
  methods.push_back({"classify_rdns() alone",
                     [&](std::size_t i) {
                       benchmark::DoNotOptimize(
                           harden::policy::classify_rdns(names[i], &clients[i].address));
                     },
                     {},
                     {}});
  methods.push_back({"snapshot [" + std::string(to_string(with_heuristics.engine)) + "]+heuristics",
                     [&](std::size_t i) {
                       benchmark::DoNotOptimize(with_heuristics.policy->resolve(clients[i], w.now));
                     },
                     {},
                     {}});
  measure(methods, names.size(), 7, 10);
  std::printf("\n=== heuristics, %s: %zu host names ===\n", list, names.size());
  std::printf("%-32s %14s %10s %14s\n", "ns per host name", "cycling median", "mean",
              "warm median");
  for (const Method& m : methods)
    std::printf("%-32s %14.0f %10.0f %14.0f\n", m.name.c_str(), m.cycling.median, m.cycling.mean,
                m.warm.median);
  std::printf(
      "SUMMARY heuristics [%s]: classify_rdns() median %.0f ns (<= 500 %s), snapshot with "
      "fqrdns and both heuristics median %.0f ns (<= 1000 %s)\n",
      list, methods[0].cycling.median, methods[0].cycling.median <= 500 ? "met" : "MISSED",
      methods[1].cycling.median, methods[1].cycling.median <= 1000 ? "met" : "MISSED");
}

// The corpus's names and client addresses (a documentation IPv6 address
// where the corpus has none, as the corpus tests do).
void corpus_clients(std::vector<std::string>& names, std::vector<Client>& clients) {
  std::istringstream in(read_file(kCorpusFile));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream cols(line);
    std::string name, address;
    std::getline(cols, name, '\t');
    std::getline(cols, address, '\t');
    Client c = client_for(name);
    c.address = IpAddress::parse(address.empty() ? "2001:db8::1" : address);
    names.push_back(name);
    clients.push_back(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool verify_only = false;
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--verify-only") verify_only = true;
  benchmark::Initialize(&argc, argv);
  World& w = world();

  bool same = true;
  for (RegexEngine e : fast_engines()) {
    w.snapshots.push_back(make_snapshot(w.text, e, w.table));
    same = verify(w.snapshots.back()) && same;
  }
  if (!same) {
    std::printf("FAIL: the snapshot and the Postfix walk disagree\n");
    return 1;
  }

  std::vector<std::unique_ptr<PatternSet>> sets;
  for (RegexEngine e : {RegexEngine::hyperscan, RegexEngine::re2, RegexEngine::pcre2}) {
    const auto t0 = Clock::now();
    sets.push_back(std::make_unique<PatternSet>(w.regexes, e));
    const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const auto t1 = Clock::now();  // a lazily built engine pays on the first names it sees
    for (const std::string& name : w.names) benchmark::DoNotOptimize(sets.back()->match(name));
    std::printf("PatternSet [%-9s]: compiled %zu regexes in %.0f ms; first pass %.0f ns/name\n",
                std::string(to_string(sets.back()->engine())).c_str(), w.regexes.size(), build_ms,
                std::chrono::duration<double, std::nano>(Clock::now() - t1).count() /
                    static_cast<double>(w.names.size()));
    for (const auto& f : sets.back()->fallbacks())
      std::printf("  fallback to PCRE2: regex %zu /%s/: %s\n", f.index, f.regex.c_str(),
                  f.reason.c_str());
  }

  if (!verify_only) {
    for (const Snapshot& s : w.snapshots)
      benchmark::RegisterBenchmark(("BM_Snapshot/" + std::string(to_string(s.engine))).c_str(),
                                   BM_Snapshot, &s);
    benchmark::RegisterBenchmark("BM_PcreOneByOne", BM_PcreOneByOne);
    for (const auto& set : sets) {
      auto* b = benchmark::RegisterBenchmark(
          ("BM_PatternSet/" + std::string(to_string(set->engine()))).c_str(), BM_PatternSet,
          set.get());
      if (set->engine() != RegexEngine::pcre2) b->Threads(1)->Threads(4)->UseRealTime();
    }
    static const Snapshot with_heuristics =
        make_snapshot(w.text, fast_engines().front(), w.table, true);
    benchmark::RegisterBenchmark(
        ("BM_Snapshot/" + std::string(to_string(with_heuristics.engine)) + "+heuristics").c_str(),
        BM_Snapshot, &with_heuristics);
    benchmark::RegisterBenchmark("BM_DialinHeuristic", BM_DialinHeuristic);
    benchmark::RunSpecifiedBenchmarks();
  }
  summary(sets);
  const Snapshot heuristics = make_snapshot(w.text, fast_engines().front(), w.table, true);
  heuristic_summary("bench list", w.names, w.clients, heuristics);
  std::vector<std::string> corpus_names;
  std::vector<Client> corpus;
  corpus_clients(corpus_names, corpus);
  heuristic_summary("rdns corpus", corpus_names, corpus, heuristics);
  benchmark::Shutdown();
  return 0;
}
