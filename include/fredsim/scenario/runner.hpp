#pragma once
// The seam between the scenario front end (files, CLI, results) and the simulator:
// a ScenarioRunner builds a System from a ScenarioSpec and runs it.
//
// SystemRunner (system_runner.hpp) is the runner of the simulator; tests of the
// front end use their own doubles.
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/sim/trace.hpp"

namespace fredsim::scenario {

/// How far a run has come, for a progress line.
struct RunProgress {
  Cycle cycle = 0;
  std::uint64_t nmis = 0;  // received by the CPUs so far
  double host_seconds = 0;
};

/// When a run stops before its scenario's end (docs/cli.md "Limits"). The result
/// says which (ScenarioResult::stopped).
struct RunLimits {
  /// Set (nonzero) from a signal handler: the run stops before its next event.
  const volatile std::sig_atomic_t* interrupt = nullptr;
  /// No event after this cycle runs; the clock ends there.
  std::optional<Cycle> max_cycles;
  /// Host time after which the run stops (checked every few thousand events).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  /// Called about four times a second once a run has taken two seconds.
  std::function<void(const RunProgress&)> progress;

  bool any() const { return interrupt || max_cycles || deadline || progress; }
};

/// What a run is asked for besides the spec. The sinks belong to the caller and
/// outlive the run; the runner attaches them to its System's Tracer.
struct RunOptions {
  std::vector<TraceSink*> trace_sinks;
  RunLimits limits;
  /// A session's step() and run_to() return the text of each trace record (what
  /// `fredsim step` prints). false: they return no lines and the session does not
  /// trace for them, so a long run stepped in chunks (the suite's timed tests)
  /// costs what a plain run does.
  bool session_lines = true;
};

/// One run in progress, for `fredsim step`.
class ScenarioSession {
 public:
  virtual ~ScenarioSession() = default;
  virtual Cycle now() const = 0;
  /// True when no event is left (or the end cycle is reached).
  virtual bool done() const = 0;
  /// The cycle of the next event to run, or kNever when none is left.
  virtual Cycle next_cycle() const { return kNever; }
  /// Runs one event; returns what happened, one line per trace record (the text
  /// format of docs/format.md). An event that writes no record gives one line
  /// that names it, `cycle=C cpu=N (event NAME, no trace record)`.
  virtual std::vector<std::string> step() = 0;
  /// Runs every event up to and including `cycle`; the clock is then at `cycle`
  /// (or at the scenario's end, if that is earlier), between two events.
  virtual std::vector<std::string> run_to(Cycle cycle) = 0;
  /// The state of one thing: "cpu 3", "apic 3", "handlers", "stats", ...; an
  /// error names what can be printed.
  virtual Result<std::string> print(std::string_view what) const = 0;
  /// The result so far (expectations not yet applied).
  virtual ScenarioResult result() const = 0;
  /// An error when the run stopped on one instead of ending (simulated time ran
  /// out: docs/scenarios.md "Limits"); done() is then true.
  virtual Status status() const { return {}; }
};

class ScenarioRunner {
 public:
  virtual ~ScenarioRunner() = default;
  /// Builds and runs to the end. An error (an inconsistent system found while
  /// building) is in the contract's form: use spec.error_at(loc, what).
  virtual Result<ScenarioResult> run(const ScenarioSpec& spec, RunOptions& options) const = 0;
  /// Builds and returns a session stopped at cycle 0.
  virtual Result<std::unique_ptr<ScenarioSession>> start(const ScenarioSpec& spec,
                                                         RunOptions& options) const = 0;
};

/// A result with the configuration, one zeroed CpuResult per CPU and one zeroed
/// HandlerResult per handler: the shape every runner starts from.
ScenarioResult empty_result(const ScenarioSpec& spec);

}  // namespace fredsim::scenario
