// error.hpp - the one exception type of the policy layer.
//
// Thrown only on the control plane (parsing selectors, attributes, building a
// snapshot). Decision functions never throw it.
#pragma once

#include <stdexcept>
#include <string>

namespace harden::policy {

class PolicyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace harden::policy
