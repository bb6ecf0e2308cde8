#pragma once
// The fredsim command line (SCENARIO.md "Command line", docs/cli.md), as a library
// so tests run it without a process: tools/fredsim/main.cpp only forwards to it.
#include <csignal>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/sweep.hpp"

namespace fredsim::scenario {

/// Exit status of the command (docs/cli.md "Exit status").
enum ExitCode : int {
  kExitPassed = 0,    // every expectation holds
  kExitFailed = 1,    // an expectation failed
  kExitBadInput = 2,  // bad file, bad key, bad value, inconsistent system, write error
  kExitBadUsage = 2,  // bad command line
  kExitCutShort = 3,  // --max-cycles or --max-wall stopped the run before its end
  kExitNoMemory = 4,  // memory ran out while loading or running (not bad input)
  // A signal: 128 + its number (130 SIGINT, 143 SIGTERM), as a shell reports it.
};

/// Limits of `run` and `compare` (docs/cli.md "Limits").
struct LimitOptions {
  std::optional<Cycle> max_cycles;
  std::optional<double> max_wall_seconds;
  /// Progress lines on `err` once a run passes two seconds (set for a terminal).
  bool progress = false;
};

/// Lets cli_main install handlers for SIGINT and SIGTERM in run, compare, step
/// and suite: they set a flag the runs check before each event (docs/cli.md
/// "Signals"). tools/fredsim/main.cpp calls it; without it the signals keep their
/// default action. A second signal ends the process at once (the default action).
void install_signal_handlers();
/// The flag the handlers set: the number of the signal, 0 when none came.
const volatile std::sig_atomic_t* interrupt_flag();

enum class TraceFormat : std::uint8_t { none, text, jsonl };

/// `fredsim run`
struct RunCommand {
  std::string file;
  std::optional<std::string> json_out;  // "-" = stdout
  TraceFormat trace = TraceFormat::none;
  std::optional<std::string> trace_out;  // default stdout
  std::optional<std::string> chrome_trace;
  std::optional<std::string> ftrace;
  std::vector<Override> overrides;
  bool quiet = false;
  LimitOptions limits;
};

/// `fredsim compare`
struct CompareCommand {
  std::string file;
  std::optional<std::string> json_out;
  std::vector<Override> overrides;
  bool quiet = false;
  LimitOptions limits;  // each run's cycles; host time for both runs together
};

/// `fredsim step`
struct StepCommand {
  std::string file;
  std::vector<Override> overrides;
};

/// How `fredsim sweep` draws its plot.
enum class PlotTool : std::uint8_t { automatic, gnuplot, matplotlib, none };

/// `fredsim sweep`
struct SweepCommand {
  SweepOptions options;
  std::string out_dir = "sweep";  // sweep.csv, sweep.json, sweep.png (and the plot script)
  PlotTool plot = PlotTool::automatic;
  std::optional<std::string> emit_dir;  // write each cell's scenario here
  bool quiet = false;
};

int run_command(const RunCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                std::ostream& err);
int compare_command(const CompareCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                    std::ostream& err);
/// Reads stepping commands from `in` until "quit" or its end.
int step_command(const StepCommand& cmd, const ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err);

/// Runs the study, writes its files and prints its table.
int sweep_command(const SweepCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                  std::ostream& err);

/// A stream buffer over file descriptor `fd` that keeps its first write error,
/// so a failure to write stdout is reported with its reason: main() gives
/// cli_main an ostream over fd 1 made with it.
std::unique_ptr<std::streambuf> fd_streambuf(int fd);

/// Parses argv (args[0] is the program name) and runs the subcommand.
int cli_main(const std::vector<std::string>& args, const ScenarioRunner& runner, std::istream& in,
             std::ostream& out, std::ostream& err);

}  // namespace fredsim::scenario
