// rdns_corpus_test.cpp - the rDNS classifier on the labelled development corpus.
//
// Reads tests/data/rdns_corpus.tsv (real PTR names labelled dynamic, hosting
// or static; sources in rdns_corpus.SOURCES.md), classifies every name with
// its client address, prints precision and recall per class and the
// confusion matrix, and fails when a figure drops below its floor. The
// floors are what the classifier achieves today, rounded down: raise them
// when it improves, never lower them to make a change pass.
//
// RDNS_CORPUS_VERBOSE=1 in the environment also prints every name the
// classifier gets wrong, with what fired.
#include "rdns_corpus.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "harden/policy/address.hpp"
#include "harden/policy/rdns.hpp"

namespace harden::policy {
namespace {

using namespace corpus;

struct Prediction {
  Label label;
  std::string evidence;
};

Prediction predict(const Row& r) {
  const auto hit = classify_rdns(r.name, r.client ? &*r.client : nullptr);
  if (!hit) return {kStatic, ""};
  return {hit->kind == RdnsClass::dynamic ? kDynamic : kHosting,
          hit->heuristic + ": " + hit->detail};
}

Figures measure(const std::vector<Row>& rows) {
  const bool verbose = std::getenv("RDNS_CORPUS_VERBOSE") != nullptr;
  Figures f;
  for (const Row& r : rows) {
    const Prediction p = predict(r);
    ++f.matrix[r.label][p.label];
    if (verbose && p.label != r.label)
      std::cout << "  " << kLabelNames[r.label] << " -> " << kLabelNames[p.label] << "  " << r.name
                << " [" << (r.client ? r.client->to_string() : "-") << "] " << p.evidence << '\n';
  }
  return f;
}

TEST(RdnsCorpusTest, CorpusIsWellFormedAndCoversEveryClass) {
  const auto rows = load_corpus();
  std::array<std::size_t, kLabels> per_label{};
  for (const Row& r : rows) ++per_label[r.label];
  EXPECT_GE(rows.size(), 500u) << "names in the corpus";
  for (std::size_t c = 0; c < kLabels; ++c)
    EXPECT_GE(per_label[c], 75u) << kLabelNames[c] << " names in the corpus";
}

// Floors: what the classifier achieves on the corpus today, rounded down.
// `dialin: block` rejects what is predicted dynamic, so dynamic precision is
// the figure an MX admin cares about most.
TEST(RdnsCorpusTest, PrecisionAndRecallStayAboveTheFloors) {
  const Figures f = measure(load_corpus());
  print(f);
  EXPECT_GE(f.precision(kDynamic), 0.99) << "dynamic precision";
  EXPECT_GE(f.dynamic_vs_static(), 0.99) << "dynamic precision against static names alone";
  EXPECT_GE(f.recall(kDynamic), 0.86) << "dynamic recall";
  EXPECT_GE(f.precision(kHosting), 0.99) << "hosting precision";
  EXPECT_GE(f.recall(kHosting), 0.91) << "hosting recall";
  EXPECT_GE(f.recall(kStatic), 0.99) << "static recall (legitimate names left alone)";
}

}  // namespace
}  // namespace harden::policy
