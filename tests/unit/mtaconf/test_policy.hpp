// test_policy.hpp - building policies and catching errors in mtaconf tests.
//
// SYNOPSIS
//   auto p = make_policy({R("default", {{"conn_rate", "5/1m"}}), R("192.0.2.0/24", {...})});
//   std::string msg = error_of([&] { check_milter_socket("x"); });  // "" if none thrown
//   std::vector<std::string> l = lines(text);
#pragma once

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "harden/mtaconf/generate.hpp"
#include "harden/policy/policy.hpp"

namespace harden::mtaconf::test {

using Attrs = std::vector<std::pair<std::string, std::string>>;

inline const policy::UnixTime kNow{std::chrono::seconds{1'800'000'000}};
inline const Provenance kFrom{"hardenctl gen test", "/var/lib/milter-harden/policy.db"};

inline policy::Rule R(const std::string& selector, const Attrs& attrs = {}) {
  policy::Rule r;
  r.selector = policy::Selector::parse(selector);
  for (const auto& [k, v] : attrs) r.attrs.set(k, v);
  return r;
}

inline std::shared_ptr<const policy::Policy> make_policy(std::vector<policy::Rule> rules) {
  return policy::Policy::build(std::move(rules));
}

// The message of the GenerateError (or other PolicyError) `f` throws; "" if none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const policy::PolicyError& e) {
    return e.what();
  }
  return "";
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

}  // namespace harden::mtaconf::test
