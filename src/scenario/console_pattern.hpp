#pragma once
// A `console` expectation's pattern, compiled once by the loader (ECMAScript
// grammar) and searched in each console line after the run.
#include <regex>

#include "fredsim/scenario/spec.hpp"

namespace fredsim::scenario {

struct ConsolePattern {
  std::regex re;
};

}  // namespace fredsim::scenario
