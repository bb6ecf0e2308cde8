#pragma once
// The outcome of one scenario run (docs/format.md "Result JSON"): what a runner fills in,
// what expectations check and what result_json writes.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/kernel/console.hpp"
#include "fredsim/kernel/nmi.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/stats.hpp"

namespace fredsim::scenario {

/// Instruction shadows on one CPU (docs/format.md "Result JSON").
struct ShadowCounts {
  std::uint64_t shadows = 0;              // STI / MOV SS shadows opened
  std::uint64_t nmi_deferred_shadow = 0;  // NMIs a shadow held to its end
  std::uint64_t nmi_at_shadow_rip = 0;    // NMIs taken at the RIP after STI / MOV SS
};

struct CpuResult {
  CpuId id = 0;
  std::uint64_t nmi_received = 0;
  std::uint64_t nmi_coalesced = 0;
  std::uint64_t nmi_delivered = 0;  // FRED/IDT deliveries and NMI-induced VM exits
  std::uint64_t vm_exits_nmi = 0;   // the VM-exit part of nmi_delivered
  Cycle dispatch_cycles = 0;        // delivery to return, summed
  kernel::NmiStats stats;           // as default_do_nmi counts them
  std::uint64_t lost = 0;           // work items still unhandled at the end
  // VMX (docs/vmx.md "NMI controls of a guest"); in the JSON only when not 0.
  std::uint64_t vm_exits_nmi_window = 0;  // NMI-window exits (basic reason 8)
  std::uint64_t vm_exits_from_hlt = 0;    // exits that woke a guest in the HLT state
  std::uint64_t vm_entry_failures = 0;    // VMfailValid and VM-entry failures
  // Only in scenarios with sti / mov_ss events.
  std::optional<ShadowCounts> shadow;
  // PMIs raised while LVTPC was masked (the mask a delivered PMI sets until
  // perf's handler rewrites LVTPC): dropped by the local APIC. In the JSON only
  // when not 0.
  std::uint64_t pmi_dropped = 0;
};

/// One per-CPU integer of a result: its name (its key in the result JSON and the
/// `counter` of an expectation), the JSON object it sits in within the CPU's
/// ("" for the CPU's own, "stats") and how to read it.
struct CpuCounter {
  std::string_view name;
  std::string_view group;
  std::uint64_t (*get)(const CpuResult&);
  /// Whether the result JSON shows it for this CPU; null: always. A counter that
  /// only some scenarios have (VMX exits, instruction shadows) is left out of the
  /// others' results, which stay as they were; an expectation reads it as 0 there.
  bool (*shown)(const CpuResult&) = nullptr;
};
/// Every per-CPU integer of CpuResult, in the result JSON's order (docs/format.md
/// "Per CPU"). result_json writes them from this table and counter expectations
/// read them through it: a new CpuResult field is one line in result.cpp.
std::span<const CpuCounter> cpu_counters();
const CpuCounter* find_cpu_counter(std::string_view name);

struct HandlerCpuCounts {
  std::uint64_t calls = 0;
  std::uint64_t handled = 0;
};

struct HandlerResult {
  std::string name;
  kernel::NmiType type = kernel::NmiType::local;
  std::uint32_t vector = 0;
  std::uint64_t calls = 0;
  std::uint64_t handled = 0;  // sum of the return values
  Cycle cycles = 0;           // simulated cycles spent in its calls
  /// Indexed by CPU id; empty or shorter means zero for the CPUs beyond it.
  std::vector<HandlerCpuCounts> per_cpu;

  HandlerCpuCounts on_cpu(CpuId cpu) const {
    return cpu < per_cpu.size() ? per_cpu[cpu] : HandlerCpuCounts{};
  }
};

/// The kernel's console lines and panic record, as the kernel model keeps them.
using ConsoleLine = kernel::ConsoleLine;
using PanicRecord = kernel::PanicRecord;

struct ExpectationResult {
  std::string text;  // "handler perf on cpu 3: calls == 1"
  bool passed = false;
  std::uint64_t actual = 0;
  std::uint64_t expected = 0;
  bool boolean = false;  // actual and expected are false/true as 0/1 (panic)
  SourceLoc loc;
};

/// The configuration the run used (after overrides).
struct ResultConfig {
  std::uint32_t cpus = 0;
  Delivery delivery = Delivery::fred;
  bool nmi_source = false;
  apic::ApicMode apic = apic::ApicMode::x2apic;
  kernel::Revision kernel = kernel::Revision::v7;
  std::string timing = "default";
  std::uint32_t frequency_mhz = 2000;  // the one clock: every cycles-to-time conversion
  std::uint64_t seed = 0;
};
ResultConfig config_of(const SystemSpec& s);

/// Why a run ended before its scenario did (docs/cli.md "Limits").
enum class StopReason : std::uint8_t { none, interrupted, max_cycles, max_wall };
std::string_view to_string(StopReason r);

/// One vCPU of a VM (docs/format.md "Result JSON", `vms`).
struct VcpuResult {
  CpuId id = 0;  // the vCPU number
  CpuId host_cpu = 0;
  std::uint64_t nmi_injected = 0;      // virtual NMIs KVM injected at VM entry
  std::uint64_t nmi_window_exits = 0;  // NMI-window exits of this vCPU
  std::uint64_t nmi_delivered = 0;     // NMIs the guest kernel's entry received
  kernel::NmiStats stats;              // as the guest's default_do_nmi counts them
  std::uint64_t lost = 0;              // guest work items still unhandled at the end
  Cycle dispatch_cycles = 0;           // guest NMIs, delivery (injection) to return, summed
  Cycle exit_cycles = 0;               // host cycles out of the guest: VM exit to next entry
  std::uint64_t nmi_collapsed = 0;     // queued NMIs process_nmi merged into a pending one
  std::uint64_t kicks = 0;             // kvm_vcpu_kick IPIs sent to its host CPU
  std::uint64_t icr_exits = 0;         // its ICR writes: MSR-write / APIC-write exits
  std::uint64_t nmi_ipis = 0;          // NMIs the emulated APIC queued for it from an ICR
  std::uint64_t pmis = 0;              // NMIs its virtual PMU's LVTPC queued
  std::uint64_t fixed_ipis = 0;        // fixed interrupts the emulated APIC accepted for it
  std::uint64_t irqs_injected = 0;     // external interrupts injected at VM entry
  std::uint64_t irq_window_exits = 0;  // interrupt-window exits of this vCPU
};

/// One per-vCPU integer of a VM's result, as CpuCounter is for a host CPU: its
/// name (its key in `vms[].vcpus[]` and the `counter` of an expectation with
/// `vm = NAME`), its group ("" or "stats") and how to read it.
struct VcpuCounter {
  std::string_view name;
  std::string_view group;
  std::uint64_t (*get)(const VcpuResult&);
};
/// Every per-vCPU integer of VcpuResult but `id` and `host_cpu`, in the result
/// JSON's order (docs/format.md "Per VM").
std::span<const VcpuCounter> vcpu_counters();
const VcpuCounter* find_vcpu_counter(std::string_view name);

/// A [[vm]] and its guest kernel.
struct VmResult {
  std::string name;
  std::vector<VcpuResult> vcpus;
  std::vector<HandlerResult> handlers;  // the guest kernel's, registration order
  std::vector<ConsoleLine> console;     // the guest kernel's console (vCPU numbers)
  std::optional<PanicRecord> panic;     // the guest kernel's first panic (a vCPU number)
};

struct ScenarioResult {
  std::string scenario;
  ResultConfig config;
  Cycle end_cycle = 0;
  std::vector<CpuResult> cpus;          // one per CPU, by id
  std::vector<HandlerResult> handlers;  // registration order
  std::vector<ConsoleLine> console;
  std::optional<PanicRecord> panic;
  /// The VMs with a kernel of their own, file order (empty without [[vm]]).
  std::vector<VmResult> vms;
  /// Dispatch cycles of each NMI delivery (delivery to return), in run order.
  Samples dispatch_samples;
  /// The number of records each trace expectation matched, by
  /// ExpectSpec::trace_slot (counted only when the spec has such expectations;
  /// not part of the result JSON).
  std::vector<std::uint64_t> trace_counts;
  std::vector<ExpectationResult> expectations;
  bool passed = true;  // every expectation holds (and the run was not cut short)
  StopReason stopped = StopReason::none;

  const HandlerResult* find_handler(std::string_view name) const;
};

}  // namespace fredsim::scenario
