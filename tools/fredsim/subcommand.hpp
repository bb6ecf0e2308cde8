#pragma once
// How cli_main wires a subcommand: each file of a subcommand adds its options to
// the CLI11 application and gives back how to run it once the line is parsed.
#include <functional>
#include <iosfwd>

#include "fredsim/scenario/runner.hpp"

// CLI11 is declared only: the command's files include it (one unity translation
// unit, tools/fredsim/CMakeLists.txt), and the tests that use these headers do
// not pay for parsing it.
namespace CLI {
class App;
}  // namespace CLI

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
