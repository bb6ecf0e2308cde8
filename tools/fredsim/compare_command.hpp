#pragma once
// `fredsim compare`: a scenario run with bitmap dispatch (as written) and with
// polling, side by side.
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "options.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

struct CompareCommand {
  std::string file;
  std::optional<std::string> json_out;
  std::vector<scenario::Override> overrides;
  bool quiet = false;
  LimitOptions limits;  // each run's cycles; host time for both runs together
};

int compare_command(const CompareCommand& cmd, const scenario::ScenarioRunner& runner,
                    std::ostream& out, std::ostream& err);

Subcommand add_compare_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
