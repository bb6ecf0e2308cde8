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
    // VMX (docs/vmx.md "NMI controls of a guest"): only when not 0.
    {"vm_exits_nmi_window", "", [](const CpuResult& c) { return c.vm_exits_nmi_window; },
     [](const CpuResult& c) { return c.vm_exits_nmi_window != 0; }},
    {"vm_exits_from_hlt", "", [](const CpuResult& c) { return c.vm_exits_from_hlt; },
     [](const CpuResult& c) { return c.vm_exits_from_hlt != 0; }},
    {"vm_entry_failures", "", [](const CpuResult& c) { return c.vm_entry_failures; },
     [](const CpuResult& c) { return c.vm_entry_failures != 0; }},
    // Instruction shadows (docs/cpu.md "Instruction shadows"): only in scenarios
    // with sti or mov_ss events, then on every CPU.
    {"shadows", "", [](const CpuResult& c) { return c.shadow ? c.shadow->shadows : 0; },
     [](const CpuResult& c) { return c.shadow.has_value(); }},
    {"nmi_deferred_shadow", "",
     [](const CpuResult& c) { return c.shadow ? c.shadow->nmi_deferred_shadow : 0; },
     [](const CpuResult& c) { return c.shadow.has_value(); }},
    {"nmi_at_shadow_rip", "",
     [](const CpuResult& c) { return c.shadow ? c.shadow->nmi_at_shadow_rip : 0; },
     [](const CpuResult& c) { return c.shadow.has_value(); }},
    // PMIs a masked LVTPC dropped (docs/apic.md "PMIs at a masked LVTPC"): only
    // when not 0.
    {"pmi_dropped", "", [](const CpuResult& c) { return c.pmi_dropped; },
     [](const CpuResult& c) { return c.pmi_dropped != 0; }},
};

constexpr VcpuCounter kVcpuCounters[] = {
    {"nmi_injected", "", [](const VcpuResult& v) { return v.nmi_injected; }},
    {"nmi_window_exits", "", [](const VcpuResult& v) { return v.nmi_window_exits; }},
    {"nmi_delivered", "", [](const VcpuResult& v) { return v.nmi_delivered; }},
    {"normal", "stats", [](const VcpuResult& v) { return v.stats.normal; }},
    {"unknown", "stats", [](const VcpuResult& v) { return v.stats.unknown; }},
    {"external", "stats", [](const VcpuResult& v) { return v.stats.external; }},
    {"swallow", "stats", [](const VcpuResult& v) { return v.stats.swallow; }},
    {"lost", "", [](const VcpuResult& v) { return v.lost; }},
    {"dispatch_cycles", "", [](const VcpuResult& v) { return std::uint64_t{v.dispatch_cycles}; }},
    {"exit_cycles", "", [](const VcpuResult& v) { return std::uint64_t{v.exit_cycles}; }},
    // KVM's counts of the vCPU (kernel::VcpuCounts, docs/vmx.md "Guests with a
    // kernel of their own").
    {"nmi_collapsed", "", [](const VcpuResult& v) { return v.nmi_collapsed; }},
    {"kicks", "", [](const VcpuResult& v) { return v.kicks; }},
    {"icr_exits", "", [](const VcpuResult& v) { return v.icr_exits; }},
    {"nmi_ipis", "", [](const VcpuResult& v) { return v.nmi_ipis; }},
    {"pmis", "", [](const VcpuResult& v) { return v.pmis; }},
    {"fixed_ipis", "", [](const VcpuResult& v) { return v.fixed_ipis; }},
    {"irqs_injected", "", [](const VcpuResult& v) { return v.irqs_injected; }},
    {"irq_window_exits", "", [](const VcpuResult& v) { return v.irq_window_exits; }},
};

// The entry of a counter table with this name, or null.
template <typename Counter>
const Counter* find_named(std::span<const Counter> table, std::string_view name) {
  for (const Counter& c : table) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

std::span<const VcpuCounter> vcpu_counters() {
  return kVcpuCounters;
}

const VcpuCounter* find_vcpu_counter(std::string_view name) {
  return find_named(vcpu_counters(), name);
}

std::span<const CpuCounter> cpu_counters() {
  return kCpuCounters;
}

const CpuCounter* find_cpu_counter(std::string_view name) {
  return find_named(cpu_counters(), name);
}

ResultConfig config_of(const SystemSpec& s) {
  ResultConfig c;
  c.cpus = s.cpus;
  c.delivery = s.delivery;
  c.nmi_source = s.nmi_source;
  c.apic = s.apic;
  c.kernel = s.kernel;
  c.timing = s.timing;
  c.frequency_mhz = s.frequency_mhz;
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
