#pragma once
// --set KEY=VALUE: each override patches the parsed tree before the validator
// reads it, so a value set on the command line is checked like one in the file.
#include "fredsim/scenario/loader.hpp"
#include "fredsim/sim/result.hpp"
#include "scenario/toml.hpp"

namespace fredsim::scenario::loader {

/// Sets KEY in `root` to VALUE: tables on the way are made, an array of tables
/// takes an index (handler.0.vector). Errors are "error: --set ARG: WHAT".
Status apply_override(toml::table& root, const Override& o);

}  // namespace fredsim::scenario::loader
