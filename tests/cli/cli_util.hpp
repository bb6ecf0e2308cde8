#pragma once
// Runs the fredsim command in-process for the CLI tests.
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "scenario/test_util.hpp"

namespace fredsim::cli::test {

// The scenario tests' helpers (TempDir, read_file, source_dir...) under test:: too.
using namespace fredsim::scenario::test;

/// What one command gave: its exit status, stdout and stderr.
struct CliOutcome {
  int code;
  std::string out;
  std::string err;
};

/// Runs `fredsim ARGS...` in-process on `runner`, with `input` as its stdin.
inline CliOutcome run_cli(std::vector<std::string> args, const scenario::ScenarioRunner& runner,
                          std::string input = "") {
  args.insert(args.begin(), "fredsim");
  std::istringstream in(std::move(input));
  std::ostringstream out, err;
  const int code = cli_main(args, runner, in, out, err);
  return {code, out.str(), err.str()};
}

/// The same on the real runner: what `fredsim ARGS...` does as a process.
inline CliOutcome run_cli(std::vector<std::string> args, std::string input = "") {
  return run_cli(std::move(args), scenario::SystemRunner{}, std::move(input));
}

}  // namespace fredsim::cli::test
