#pragma once
// What the subcommands share: the limit options and the progress line of run and
// compare, --set overrides, loading a scenario, and the exit status of a run.
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/result.hpp"

// CLI11 is declared only: the command's files include it (one unity translation
// unit, tools/fredsim/CMakeLists.txt), and the tests that use these headers do
// not pay for parsing it.
namespace CLI {
class App;
}  // namespace CLI

namespace fredsim::cli {

/// Limits of `run` and `compare` (docs/cli.md "Limits").
struct LimitOptions {
  std::optional<Cycle> max_cycles;
  std::optional<double> max_wall_seconds;
  /// Progress lines on `err` once a run passes two seconds (set for a terminal).
  bool progress = false;
};

/// --max-cycles and --max-wall.
void add_limit_options(CLI::App& cmd, LimitOptions& limits);

/// The line the progress callback overwrites in place; cleared at the end.
class ProgressLine {
 public:
  explicit ProgressLine(std::ostream& err) : err_(err) {}
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void show(const scenario::RunProgress& p);
  void clear();

 private:
  std::ostream& err_;
  bool shown_ = false;
};

/// The RunLimits of a command's options (the deadline counts from now).
scenario::RunLimits make_limits(const LimitOptions& o, ProgressLine& line);

/// The exit status of a run that produced `r`: a signal first, then a limit,
/// then the expectations. A cut run never exits 0.
int run_status(const scenario::ScenarioResult& r, std::ostream& err);

/// Writes the message and returns kExitBadInput.
int report_error(std::ostream& err, const Error& e);
int report_error(std::ostream& err, const Status& st);

/// The --set words as overrides.
std::vector<scenario::Override> to_overrides(const std::vector<std::string>& sets);

/// A --shard K/N of `sweep` and `suite`: shard `index` (from 1) of `count`.
struct ShardArg {
  unsigned index = 1;
  unsigned count = 1;
};
/// Reads "K/N" (1 <= K <= N); the error is "error: --shard TEXT: what is wrong".
Result<ShardArg> parse_shard(std::string_view text);

/// Loads the scenario file after checking the form of every override.
Result<scenario::ScenarioSpec> load(const std::string& file,
                                    const std::vector<scenario::Override>& overrides);

}  // namespace fredsim::cli
