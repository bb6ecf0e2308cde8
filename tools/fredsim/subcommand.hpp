#pragma once
// How cli_main wires a subcommand: each file of a subcommand adds its options to
// the CLI11 application and gives back how to run it once the line is parsed.
#include <CLI/CLI.hpp>

#include <functional>
#include <iosfwd>

#include "fredsim/scenario/runner.hpp"

namespace fredsim::cli {

/// What every subcommand runs with: the runner and the three streams.
struct CliContext {
  const scenario::ScenarioRunner& runner;
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  /// Progress lines for long runs (stderr is a terminal).
  bool progress = false;
};

struct Subcommand {
  CLI::App* app = nullptr;
  /// Runs the parsed command; its exit status.
  std::function<int()> run;
};

}  // namespace fredsim::cli
