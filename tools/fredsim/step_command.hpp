#pragma once
// `fredsim step`: steps through a scenario from commands read on stdin.
#include <iosfwd>
#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

struct StepCommand {
  std::string file;
  std::vector<scenario::Override> overrides;
};

/// Reads stepping commands from `in` until "quit" or its end.
int step_command(const StepCommand& cmd, const scenario::ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err);

Subcommand add_step_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
