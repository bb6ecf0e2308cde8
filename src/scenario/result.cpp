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

std::string_view to_string(StopReason r) {
  switch (r) {
    case StopReason::none:
      return "none";
    case StopReason::interrupted:
      return "interrupted";
    case StopReason::max_cycles:
      return "max_cycles";
    case StopReason::max_wall:
      return "max_wall";
  }
  return "none";
}

const HandlerResult* ScenarioResult::find_handler(std::string_view name) const {
  for (const auto& h : handlers) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

}  // namespace fredsim::scenario
