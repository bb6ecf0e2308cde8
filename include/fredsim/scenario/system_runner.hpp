#pragma once
// The ScenarioRunner that runs scenarios on the simulator: it builds a System
// (machine + kernel model) from a ScenarioSpec through the public API only.
#include "fredsim/scenario/runner.hpp"
#include "fredsim/system/system.hpp"

namespace fredsim::scenario {

class SystemRunner final : public ScenarioRunner {
 public:
  Result<ScenarioResult> run(const ScenarioSpec& spec, RunOptions& options) const override;
  Result<std::unique_ptr<ScenarioSession>> start(const ScenarioSpec& spec,
                                                 RunOptions& options) const override;
};

/// Builds the System of a scenario, with its handlers registered and its events
/// scheduled, stopped at cycle 0. For library users who want the System itself.
Result<std::unique_ptr<system::System>> build_system(const ScenarioSpec& spec);

/// Collects the result of a System built from `spec` (expectations not applied).
ScenarioResult collect_result(const ScenarioSpec& spec, system::System& system);

}  // namespace fredsim::scenario
