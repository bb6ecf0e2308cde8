#include "fredsim/scenario/result.hpp"

namespace fredsim::scenario {

ResultConfig config_of(const SystemSpec& s) {
  ResultConfig c;
  c.cpus = s.cpus;
  c.delivery = s.delivery;
  c.nmi_source = s.nmi_source;
  c.apic = s.apic;
  c.kernel = s.kernel;
  c.timing = s.timing;
  c.seed = s.seed;
  return c;
}

const HandlerResult* ScenarioResult::find_handler(std::string_view name) const {
  for (const auto& h : handlers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

}  // namespace fredsim::scenario
