// NullRunner: the stand-in ScenarioRunner until the System is built. It runs
// nothing; every count it reports is zero.
#include "fredsim/scenario/runner.hpp"

namespace fredsim::scenario {
namespace {

class NullSession final : public ScenarioSession {
 public:
  explicit NullSession(ScenarioResult r) : result_(std::move(r)) {}
  Cycle now() const override { return 0; }
  bool done() const override { return true; }
  std::vector<std::string> step() override { return {}; }
  std::vector<std::string> run_to(Cycle) override { return {}; }
  Result<std::string> print(std::string_view what) const override {
    return Error{"cannot print '" + std::string(what) + "': no simulator is attached (NullRunner)"};
  }
  ScenarioResult result() const override { return result_; }

 private:
  ScenarioResult result_;
};

}  // namespace

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

Result<ScenarioResult> NullRunner::run(const ScenarioSpec& spec, RunOptions&) const {
  return empty_result(spec);
}

Result<std::unique_ptr<ScenarioSession>> NullRunner::start(const ScenarioSpec& spec,
                                                           RunOptions&) const {
  return std::unique_ptr<ScenarioSession>(std::make_unique<NullSession>(empty_result(spec)));
}

}  // namespace fredsim::scenario
