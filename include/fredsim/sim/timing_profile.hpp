#pragma once
// The timing profile: every cycle cost of the model, by name (docs/architecture.md "Time and
// determinism").
//
// The default profile cites docs/hardware.md §5 "Published costs" where a figure is
// published and says "assumption" where none is. A scenario overrides any
// parameter by its name (docs/scenarios.md "`[timing]`").
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim {

/// One named cost. The order is the order of timing_params().
enum class TimingParam : std::uint16_t {
  // CPU (cpu/)
  fred_delivery,  // NMI/event delivery through FRED, to the first entry instruction
  idt_delivery,   // delivery through IDT vector 2
  erets,          // ERETS, to the first instruction after it
  eretu,          // ERETU
  iret,           // IRET
  msr_read,       // RDMSR of an ordinary MSR
  msr_write,      // WRMSR of an ordinary MSR
  port_read,      // IN from a legacy I/O port (port 0x61)
  port_write,     // OUT to a legacy I/O port
  shadow_insn,    // the one instruction an STI / MOV SS shadow covers (docs/cpu.md)
  // APIC and interconnect (apic/)
  icr_write,            // the ICR write itself (xAPIC MMIO store or x2APIC WRMSR)
  ipi_latency,          // interconnect: ICR write to arrival at the destination APIC
  ipi_per_destination,  // extra latency per further destination of one broadcast
  lvt_delivery,         // LVT (PMI, LINT1, thermal, CMCI) assertion to NMI at the CPU
  // VMX (vmx/)
  vm_exit,   // NMI-induced VM exit, to the first host instruction
  vm_entry,  // VMRESUME, to the first guest instruction
  // The guest NMI path of a VM with a kernel of its own (docs/vmx.md "KVM's
  // virtual NMIs of a vCPU"); a named profile that sets vm_exit sets these too.
  vm_exit_msr_write,           // a guest's x2APIC ICR WRMSR traps (basic reason 32)
  vm_exit_external_interrupt,  // the kick's host IPI makes the target vCPU exit (reason 1)
  vm_exit_nmi_window,          // an NMI-window exit (reason 8) of a VM
  vm_exit_interrupt_window,    // an interrupt-window exit (reason 7) of a VM
  // Kernel (kernel/)
  nmi_entry,           // entry code before default_do_nmi (FRED or IDT stub)
  nmi_exit,            // code after default_do_nmi up to the return instruction
  kvm_nmi_exit,        // KVM's exit handling before it calls the host NMI entry
  kvm_apic_emulation,  // KVM's emulated APIC: the ICR write to kvm_inject_nmi per target
  kvm_kick_ipi,        // kvm_vcpu_kick: the host IPI to a target vCPU's host CPU
  kvm_nmi_inject,      // process_nmi + inject_pending_event before a VM entry with an NMI
  kvm_irq_inject,      // inject_pending_event before a VM entry with a fixed interrupt
  handler_call,        // one indirect call of a handler through the list, with its trace
  device_check,        // handler "device": a call that finds no work
  device_handle,       // handler "device": each work item
  pmi_check,           // perf: LVTPC rewrite and global-status read (two MSR accesses)
  pmi_handle,          // perf: each overflowed counter (sample, reprogram)
  ghes_check,          // GHES: read the firmware error status block
  ghes_handle,
  backtrace_check,
  backtrace_handle,  // printing one CPU's backtrace
  stop_check,
  stop_handle,
  stop_irq,  // REBOOT_VECTOR taken to stop_this_cpu's HLT (sysvec_reboot)
  selftest_check,
  selftest_handle,
  kgdb_check,
  kgdb_handle,
  mce_check,
  mce_handle,
  serr_path,      // default_do_nmi's SERR path (prints, port 0x61 writes)
  iochk_path,     // the IOCHK path
  iochk_udelay,   // one udelay(100) of io_check_error's wait (19,999 of them, inside the NMI)
  unknown_path,   // the unknown-NMI path (prints)
  selftest_poll,  // the NMI selftest's wait loop: one poll of the CPU mask
  core_mhz,       // not a cost: the core clock, to turn cycles into the kernel's ns
  count_
};

inline constexpr std::size_t kTimingParamCount = static_cast<std::size_t>(TimingParam::count_);

/// What a cost's value rests on (docs/timing.md).
enum class CostBasis : std::uint8_t {
  measured,  // a published measurement, used as published
  derived,   // computed from published figures or kernel constants: a round trip
             // split into its parts, a delay converted at the core clock; the
             // split or conversion is stated and is itself an assumption
  assumed,   // no published figure: an estimate of the right order
};
std::string_view to_string(CostBasis b);

/// A parameter's name, default value, what that value rests on and its source.
struct TimingParamInfo {
  TimingParam param;
  std::string_view name;
  Cycle default_cycles;
  CostBasis basis;
  std::string_view source;
};

/// One cost a named profile sets differently from the default profile.
struct ProfileCost {
  TimingParam param;
  Cycle cycles;
  CostBasis basis;
  std::string_view source;
};

/// A named profile (`timing = NAME` in a scenario's [system]): the default
/// profile with some costs replaced by the published figures of one CPU or host.
struct NamedTimingProfile {
  std::string_view name;
  std::string_view summary;
  std::span<const ProfileCost> costs;
};
/// Every named profile, "default" first.
std::span<const NamedTimingProfile> timing_profiles();
const NamedTimingProfile* find_timing_profile(std::string_view name);
/// What `param`'s value rests on in the named profile (the default's basis
/// where the profile does not set it) and its source.
const ProfileCost* profile_cost(const NamedTimingProfile& profile, TimingParam param);

/// All parameters, in enum order.
std::span<const TimingParamInfo> timing_params();
std::optional<TimingParam> timing_param_by_name(std::string_view name);
std::string_view timing_param_name(TimingParam p);

class TimingProfile {
 public:
  /// The "default" profile.
  TimingProfile();
  /// A profile by name: "default" (more may follow). Error names the known ones.
  static Result<TimingProfile> named(std::string_view name);

  Cycle get(TimingParam p) const { return cycles_[static_cast<std::size_t>(p)]; }
  Cycle operator[](TimingParam p) const { return get(p); }
  void set(TimingParam p, Cycle c) { cycles_[static_cast<std::size_t>(p)] = c; }
  /// Overrides by name; an unknown name is an error listing the close matches.
  Status set(std::string_view name, Cycle c);

 private:
  std::array<Cycle, kTimingParamCount> cycles_{};
};

}  // namespace fredsim
