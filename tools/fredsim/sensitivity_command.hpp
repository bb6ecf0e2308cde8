#pragma once
// `fredsim sensitivity`: the study of how the dispatch study's headline moves
// with the costs that rest on no measurement (study/sensitivity.hpp); writes its
// table and data files and has gnuplot draw the tornado plot.
#include <iosfwd>
#include <string>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/study/sensitivity.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

struct SensitivityCommand {
  study::SensitivityOptions options;
  std::string out_dir = "sensitivity";  // sensitivity.csv, .json, .png (and .gp)
  bool plot = true;                     // draw the PNG when gnuplot is installed
  bool quiet = false;
};

int sensitivity_command(const SensitivityCommand& cmd, const scenario::ScenarioRunner& runner,
                        std::ostream& out, std::ostream& err);

Subcommand add_sensitivity_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
