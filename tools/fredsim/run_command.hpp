#pragma once
// `fredsim run`: runs a scenario, checks its expectations, writes the result JSON
// and the traces asked for, and prints a summary.
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "options.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

enum class TraceFormat : std::uint8_t { none, text, jsonl };

struct RunCommand {
  std::string file;
  std::optional<std::string> json_out;  // "-" = stdout
  TraceFormat trace = TraceFormat::none;
  std::optional<std::string> trace_out;  // default stdout
  std::optional<std::string> chrome_trace;
  std::optional<std::string> ftrace;
  std::vector<scenario::Override> overrides;
  bool quiet = false;
  LimitOptions limits;
};

int run_command(const RunCommand& cmd, const scenario::ScenarioRunner& runner, std::ostream& out,
                std::ostream& err);

Subcommand add_run_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
