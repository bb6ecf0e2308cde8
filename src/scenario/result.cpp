#include "fredsim/scenario/result.hpp"

namespace fredsim::scenario {
namespace {

constexpr CpuCounter kCpuCounters[] = {
    {"nmi_received", "", [](const CpuResult& c) { return c.nmi_received; }},
    {"nmi_coalesced", "", [](const CpuResult& c) { return c.nmi_coalesced; }},
    {"nmi_delivered", "", [](const CpuResult& c) { return c.nmi_delivered; }},
    {"vm_exits_nmi", "", [](const CpuResult& c) { return c.vm_exits_nmi; }},
    {"dispatch_cycles", "", [](const CpuResult& c) { return std::uint64_t{c.dispatch_cycles}; }},
    {"normal", "stats", [](const CpuResult& c) { return c.stats.normal; }},
    {"unknown", "stats", [](const CpuResult& c) { return c.stats.unknown; }},
    {"external", "stats", [](const CpuResult& c) { return c.stats.external; }},
    {"swallow", "stats", [](const CpuResult& c) { return c.stats.swallow; }},
    {"lost", "", [](const CpuResult& c) { return c.lost; }},
};

}  // namespace

std::span<const CpuCounter> cpu_counters() {
  return kCpuCounters;
}

const CpuCounter* find_cpu_counter(std::string_view name) {
  for (const auto& c : kCpuCounters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

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
