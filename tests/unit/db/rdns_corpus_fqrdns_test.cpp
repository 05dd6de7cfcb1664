// rdns_corpus_fqrdns_test.cpp - fqrdns.pcre plus the built-in heuristic on
// the labelled rDNS corpus, the combination issue 13 measures.
//
// Imports tests/data/fqrdns.pcre as pattern rules, adds a default rule with
// `dialin: block`, resolves every corpus name (its client address, or an
// IPv6 documentation address when the source gave none, so only the
// address-independent forms count) and takes "blocked" as "predicted
// dynamic". Prints precision and recall of that against the labels and
// fails below floors (what this achieves today, rounded down).
//
// Dynamic precision over the whole corpus stays under the heuristic's own
// because fqrdns.pcre itself rejects generic hosting names (its EC2,
// Hetzner and Strato rules: 7 of the corpus's hosting names); nothing the
// heuristic does can lift a rule the admin imported. Against the static
// names alone the combination keeps the heuristic's precision.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "../policy/rdns_corpus.hpp"
#include "harden/db/importers.hpp"
#include "harden/policy/policy.hpp"

namespace harden::db {
namespace {

using namespace policy::corpus;

std::shared_ptr<const policy::Policy> fqrdns_with_dialin(const std::string& dialin) {
  std::ifstream in(HARDEN_TEST_DATA_DIR "/fqrdns.pcre");
  EXPECT_TRUE(in) << "cannot open fqrdns.pcre";
  ImportResult imported = parse_postfix_pcre(in, "fqrdns.pcre");
  policy::Rule def;
  def.selector = policy::Selector::parse("default");
  def.attrs.set(policy::Attr::dialin, dialin);
  imported.rules.push_back(std::move(def));
  return policy::Policy::build(std::move(imported.rules));
}

Figures measure(const policy::Policy& p) {
  Figures f;
  const policy::UnixTime now{std::chrono::seconds{1'763'700'000}};
  for (const Row& r : load_corpus()) {
    policy::Client c;
    c.address = r.client ? *r.client : policy::IpAddress::parse("2001:db8::1");
    c.hostname = r.name;
    c.resolve = policy::RdnsStatus::ok;
    const bool blocked = p.resolve(c, now).limits.action == policy::Action::block;
    ++f.matrix[r.label][blocked ? kDynamic : kStatic];
  }
  return f;
}

TEST(RdnsCorpusFqrdnsTest, FqrdnsAlone) {
  const Figures f = measure(*fqrdns_with_dialin("off"));
  std::cout << "fqrdns.pcre alone (blocked = predicted dynamic):\n";
  print(f);
  // Informative (fqrdns is not ours to tune), but it must still load and match.
  EXPECT_GE(f.recall(kDynamic), 0.3);
}

TEST(RdnsCorpusFqrdnsTest, FqrdnsWithTheHeuristicStaysAboveTheFloors) {
  const Figures f = measure(*fqrdns_with_dialin("block"));
  std::cout << "fqrdns.pcre + dialin: block (blocked = predicted dynamic):\n";
  print(f);
  EXPECT_GE(f.precision(kDynamic), 0.95) << "dynamic precision";
  EXPECT_GE(f.recall(kDynamic), 0.89) << "dynamic recall";
  EXPECT_GE(f.dynamic_vs_static(), 0.99) << "dynamic precision against static names alone";
}

}  // namespace
}  // namespace harden::db
