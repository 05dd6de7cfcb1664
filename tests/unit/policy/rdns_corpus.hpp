// rdns_corpus.hpp - the labelled rDNS corpus (tests/data/rdns_corpus.tsv)
// and its figures, shared by the classifier's corpus test (policy) and the
// fqrdns + heuristic one (db, which imports fqrdns.pcre).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "harden/policy/address.hpp"

namespace harden::policy::corpus {

// The corpus's labels, in the order of the confusion matrix. `static` is
// what the classifier answers when nothing fires ("static or unknown").
enum Label : std::size_t { kDynamic, kHosting, kStatic, kLabels };
constexpr std::array<const char*, kLabels> kLabelNames = {"dynamic", "hosting", "static"};

struct Row {
  std::string name;
  std::optional<IpAddress> client;
  Label label;
  std::string source;
};

inline std::optional<Label> parse_label(const std::string& s) {
  for (std::size_t i = 0; i < kLabels; ++i)
    if (s == kLabelNames[i]) return static_cast<Label>(i);
  return std::nullopt;
}

inline std::vector<Row> load_corpus() {
  std::ifstream in(HARDEN_TEST_DATA_DIR "/rdns_corpus.tsv");
  EXPECT_TRUE(in) << "cannot open rdns_corpus.tsv";
  std::vector<Row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string col; std::getline(ss, col, '\t');) cols.push_back(col);
    if (cols.size() != 4) {
      ADD_FAILURE() << "not 4 tab-separated columns: " << line;
      continue;
    }
    const auto label = parse_label(cols[2]);
    if (!label) {
      ADD_FAILURE() << "unknown label: " << line;
      continue;
    }
    std::optional<IpAddress> client;
    if (!cols[1].empty()) {
      client = IpAddress::try_parse(cols[1]);
      if (!client) ADD_FAILURE() << "bad address: " << line;
    }
    rows.push_back({cols[0], client, *label, cols[3]});
  }
  return rows;
}

struct Figures {
  std::array<std::array<std::size_t, kLabels>, kLabels> matrix{};  // [truth][predicted]
  double precision(Label c) const {
    std::size_t predicted = 0;
    for (std::size_t t = 0; t < kLabels; ++t) predicted += matrix[t][c];
    return predicted == 0 ? 1.0
                          : static_cast<double>(matrix[c][c]) / static_cast<double>(predicted);
  }
  // The framing: dynamic names against legitimate (static) hosts alone.
  double dynamic_vs_static() const {
    const auto hits = matrix[kDynamic][kDynamic];
    const auto wrong = matrix[kStatic][kDynamic];
    return hits + wrong == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(hits + wrong);
  }
  double recall(Label c) const {
    std::size_t actual = 0;
    for (std::size_t p = 0; p < kLabels; ++p) actual += matrix[c][p];
    return actual == 0 ? 1.0 : static_cast<double>(matrix[c][c]) / static_cast<double>(actual);
  }
};

inline void print(const Figures& f) {
  std::cout << "rdns corpus: truth \\ predicted   dynamic hosting static\n";
  for (std::size_t t = 0; t < kLabels; ++t)
    std::cout << "  " << kLabelNames[t] << "\t\t\t" << f.matrix[t][kDynamic] << '\t'
              << f.matrix[t][kHosting] << '\t' << f.matrix[t][kStatic] << '\n';
  for (std::size_t c = 0; c < kLabels; ++c)
    std::cout << "  " << kLabelNames[c] << ": precision " << f.precision(static_cast<Label>(c))
              << " recall " << f.recall(static_cast<Label>(c)) << '\n';
  std::cout << "  dynamic vs static names only: precision " << f.dynamic_vs_static() << '\n';
}

}  // namespace harden::policy::corpus
