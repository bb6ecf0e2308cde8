// The shape every result starts from: one zeroed entry per CPU and per handler.
#include "fredsim/scenario/runner.hpp"

namespace fredsim::scenario {

ScenarioResult empty_result(const ScenarioSpec& spec) {
  ScenarioResult r;
  r.scenario = spec.name;
  r.config = config_of(spec.system);
  r.cpus.resize(spec.system.cpus);
  for (CpuId i = 0; i < spec.system.cpus; ++i)
    r.cpus[i].id = i;
  for (const auto& h : spec.handlers) {
    HandlerResult hr;
    hr.name = h.name;
    hr.type = h.type;
    hr.vector = h.vector;
    hr.per_cpu.resize(spec.system.cpus);
    r.handlers.push_back(std::move(hr));
  }
  return r;
}

}  // namespace fredsim::scenario
