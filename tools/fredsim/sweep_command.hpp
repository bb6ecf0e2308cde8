#pragma once
// `fredsim sweep`: runs the dispatch study of the study layer, writes its table
// and data files and has gnuplot or matplotlib draw the plot.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/study/sweep.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

/// Who draws the plot.
enum class PlotTool : std::uint8_t { automatic, gnuplot, matplotlib, none };

struct SweepCommand {
  study::SweepOptions options;
  std::string out_dir = "sweep";  // sweep.csv, sweep.json, sweep.png (and the plot script)
  PlotTool plot = PlotTool::automatic;
  std::optional<std::string> emit_dir;  // write each cell's scenario here
  bool quiet = false;
  unsigned jobs = 1;                 // -j: cells run at once (the CLI's default: every core)
  std::optional<std::string> shard;  // --shard K/N: write DIR/sweep.shard.json for --merge
  std::vector<std::string> merge;    // --merge DIR...: the shards' directories (or files)
  bool list = false;                 // --list: print one command per cell
};

/// The file a sharded sweep writes in its --out directory.
inline constexpr std::string_view kSweepShardFile = "sweep.shard.json";

/// Runs the study, writes its files and prints its table.
int sweep_command(const SweepCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err);

Subcommand add_sweep_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
