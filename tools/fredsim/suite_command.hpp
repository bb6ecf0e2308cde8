#pragma once
// `fredsim suite` (docs/suites.md): a unittests.cfg run under a machine target
// with the suite layer, its report on stdout and in a JUnit file.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

struct SuiteCommand {
  std::string file;
  std::vector<std::string> tests;
  std::optional<std::string> target;        // --target
  std::optional<std::string> env_target;    // FREDSIM_TARGET
  std::optional<std::string> env_timeout;   // FREDSIM_TIMEOUT
  std::optional<std::string> targets_file;  // --targets
  std::vector<std::string> groups;          // -g
  unsigned jobs = 1;                        // -j
  bool verbose = false;                     // -v
  bool tap = false;                         // -t
  std::optional<std::string> junit_out;     // --junit ("-" = stdout)
  std::optional<std::string> shard;         // --shard K/N
  std::optional<std::string> shard_out;     // --shard-out FILE: the record for --merge
  std::vector<std::string> merge;           // --merge FILE...: records to report as one run
};

/// Exit status: 0 nothing failed, 1 a test failed, 2 bad input or usage.
int suite_command(const SuiteCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err);

Subcommand add_suite_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
