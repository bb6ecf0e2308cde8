#pragma once
// The fredsim command line (docs/cli.md). A library of the tool, so tests run the
// command without a process; main.cpp only sets up the process and calls cli_main.
#include <iosfwd>
#include <string>
#include <vector>

#include "fredsim/scenario/runner.hpp"

namespace fredsim::cli {

/// Parses argv (args[0] is the program name) and runs the subcommand.
int cli_main(const std::vector<std::string>& args, const scenario::ScenarioRunner& runner,
             std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace fredsim::cli
