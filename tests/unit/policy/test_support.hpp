// test_support.hpp - helpers shared by the policy unit tests.
//
// SYNOPSIS
//   EXPECT_THAT(policy_error_of([] { IpNetwork::parse("10.0.0.1/8"); }), HasSubstr("host bits"));
#pragma once

#include <string>

#include "harden/policy/error.hpp"

namespace harden::policy {

// The message of the PolicyError `f` throws, or "<no PolicyError thrown>".
template <class F>
std::string policy_error_of(F&& f) {
  try {
    f();
  } catch (const PolicyError& e) {
    return e.what();
  }
  return "<no PolicyError thrown>";
}

}  // namespace harden::policy
