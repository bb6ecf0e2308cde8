#include "fredsim/sim/timing_profile.hpp"

#include <string>

namespace fredsim {
namespace {

using P = TimingParam;
using B = CostBasis;

// Sources: "hardware.md §5" is docs/hardware.md §5 "Published costs". Everything marked
// assumption is a round figure of the right order for a current server core; a
// scenario's [timing] table overrides it.
constexpr TimingParamInfo kParams[] = {
    {P::fred_delivery, "fred_delivery", 100, B::assumed,
     "assumption: no per-event FRED figure is published (hardware.md §5); microcoded delivery of a "
     "64-byte frame, set a little below IDT delivery"},
    {P::idt_delivery, "idt_delivery", 150, B::assumed,
     "assumption: no published figure (hardware.md §5); IDT gate lookup, IST stack switch, 40-byte "
     "frame"},
    {P::erets, "erets", 60, B::assumed, "assumption: no published figure (hardware.md §5)"},
    {P::eretu, "eretu", 80, B::assumed, "assumption: ERETS plus SWAPGS and the ring switch"},
    {P::iret, "iret", 120, B::assumed,
     "assumption: no published figure for the return from an NMI (hardware.md §5); IRET is "
     "serializing"},
    {P::msr_read, "msr_read", 100, B::assumed, "assumption: RDMSR of a non-architectural-fast MSR"},
    {P::msr_write, "msr_write", 150, B::assumed, "assumption: WRMSR"},
    {P::port_read, "port_read", 2000, B::assumed,
     "assumption: a legacy port read through the chipset takes about a microsecond, as the "
     "comment above pit_expect_msb() in arch/x86/kernel/tsc.c expects (not a measurement)"},
    {P::port_write, "port_write", 2000, B::assumed, "assumption: as port_read"},
    {P::shadow_insn, "shadow_insn", 1, B::assumed,
     "assumption: the one instruction an STI or MOV SS shadow covers is a simple one (NOP, "
     "TEST, MOV) that retires in about a cycle; the SDM gives no length, only that the "
     "shadow ends at the boundary after that instruction"},
    {P::icr_write, "icr_write", 150, B::assumed,
     "assumption: x2APIC ICR WRMSR (or xAPIC MMIO store)"},
    {P::ipi_latency, "ipi_latency", 1500, B::assumed,
     "assumption: bare-metal IPI send to arrival; the virtual IPI round trip of about 3,200 "
     "cycles (hardware.md §5) includes two exits and bounds it from above"},
    {P::ipi_per_destination, "ipi_per_destination", 0, B::assumed,
     "assumption: broadcasts fan out in parallel on the interconnect"},
    {P::lvt_delivery, "lvt_delivery", 50, B::assumed, "assumption: local APIC to its own core"},
    {P::vm_exit, "vm_exit", 800, B::derived,
     "hardware.md §5: vmcall exit+entry round trip 1,530-1,560 cycles incl. KVM; split as exit "
     "800, "
     "entry 750 (the split is an assumption)"},
    {P::vm_entry, "vm_entry", 750, B::derived, "hardware.md §5: see vm_exit"},
    {P::vm_exit_msr_write, "vm_exit_msr_write", 800, B::derived,
     "hardware.md §5: as vm_exit (the exit transition does not depend on the reason; the "
     "CPUID exit round trip, 1,018-1,053 cycles with KVM's minimal handling, is of the same "
     "order)"},
    {P::vm_exit_external_interrupt, "vm_exit_external_interrupt", 800, B::derived,
     "hardware.md §5: as vm_exit_msr_write"},
    {P::vm_exit_nmi_window, "vm_exit_nmi_window", 800, B::derived,
     "hardware.md §5: as vm_exit_msr_write; every NMI-window exit (reason 8) takes it, a VM's "
     "or a guest interval's"},
    {P::vm_exit_interrupt_window, "vm_exit_interrupt_window", 800, B::derived,
     "hardware.md §5: as vm_exit_msr_write"},
    {P::nmi_entry, "nmi_entry", 80, B::assumed,
     "assumption: entry code (register save, CR3/GS handling) before default_do_nmi"},
    {P::nmi_exit, "nmi_exit", 60, B::assumed, "assumption: register restore before ERETS/IRET"},
    {P::kvm_nmi_exit, "kvm_nmi_exit", 200, B::assumed,
     "assumption: KVM's exit dispatch before it calls the host NMI entry"},
    {P::kvm_apic_emulation, "kvm_apic_emulation", 800, B::derived,
     "hardware.md §5: the x2APIC virtual IPI, sender to acknowledgement, takes 3,293 cycles "
     "with KVM's fast path; less the sender's exit and entry (vm_exit_msr_write + vm_entry, "
     "1,550) and the target's entry with the injection (kvm_nmi_inject + vm_entry, 950), "
     "about 800 remain for the ICR emulation and kvm_inject_nmi (the split is an assumption)"},
    {P::kvm_kick_ipi, "kvm_kick_ipi", 1500, B::assumed,
     "assumption: the host IPI of kvm_vcpu_kick, send to arrival, as ipi_latency"},
    {P::kvm_nmi_inject, "kvm_nmi_inject", 200, B::assumed,
     "assumption: process_nmi, inject_pending_event and the VMCS writes of an entry that "
     "injects an NMI (vmx_inject_nmi), of the order of kvm_nmi_exit; charged before that "
     "VMRESUME's vm_entry"},
    {P::kvm_irq_inject, "kvm_irq_inject", 200, B::assumed,
     "assumption: as kvm_nmi_inject, for a fixed interrupt of the emulated APIC "
     "(kvm_cpu_get_interrupt, vmx_inject_irq); charged before that VMRESUME's vm_entry"},
    {P::handler_call, "handler_call", 20, B::assumed,
     "assumption: list walk step, indirect call, timestamp reads for the duration check"},
    {P::device_check, "device_check", 300, B::assumed,
     "assumption: one device status register read"},
    {P::device_handle, "device_handle", 1000, B::assumed, "assumption"},
    {P::pmi_check, "pmi_check", 250, B::assumed,
     "assumption: msr_write (LVTPC rewrite) + msr_read (global status), the perf handler's "
     "fixed cost"},
    {P::pmi_handle, "pmi_handle", 1500, B::assumed,
     "assumption: per overflowed counter: sample record and counter reprogram"},
    {P::ghes_check, "ghes_check", 2000, B::assumed,
     "assumption: an uncached read of the firmware error status block; published for "
     "ghes_notify_nmi() with no error pending on Ice Lake: about 15,000 TSC cycles before and "
     "about 900 after \"ACPI: APEI: GHES: Improve ghes_notify_nmi() status check\" (Nov 2025) "
     "(hardware.md §5; profile \"icelake\" uses 900)"},
    {P::ghes_handle, "ghes_handle", 20000, B::assumed, "assumption: error record processing"},
    {P::backtrace_check, "backtrace_check", 30, B::assumed, "assumption: one cpumask test"},
    {P::backtrace_handle, "backtrace_handle", 50000, B::assumed,
     "assumption: printing a stack trace to the console buffer"},
    {P::stop_check, "stop_check", 30, B::assumed, "assumption: one flag read"},
    {P::stop_handle, "stop_handle", 500, B::assumed,
     "assumption: disable virtualization, mark offline"},
    {P::stop_irq, "stop_irq", 1500, B::assumed,
     "assumption: the REBOOT_VECTOR interrupt's delivery (about idt_delivery), sysvec_reboot's "
     "EOI write and stop_this_cpu (APIC_SPIV read and write, offline marking) up to HLT, each "
     "access about msr_write; arch/x86/kernel/smp.c, process.c"},
    {P::selftest_check, "selftest_check", 30, B::assumed, "assumption: one cpumask test"},
    {P::selftest_handle, "selftest_handle", 30, B::assumed,
     "assumption: test-and-clear of one bit"},
    {P::kgdb_check, "kgdb_check", 30, B::assumed, "assumption"},
    {P::kgdb_handle, "kgdb_handle", 2000, B::assumed, "assumption: entering the debugger roundup"},
    {P::mce_check, "mce_check", 30, B::assumed, "assumption"},
    {P::mce_handle, "mce_handle", 5000, B::assumed, "assumption: MCE injection processing"},
    {P::serr_path, "serr_path", 6000, B::assumed,
     "assumption: console messages and the port 0x61 clear/re-enable writes"},
    {P::iochk_path, "iochk_path", 6000, B::assumed,
     "assumption: as serr_path; the wait between the two port 0x61 writes is iochk_udelay"},
    {P::iochk_udelay, "iochk_udelay", 250'000, B::derived,
     "arch/x86/kernel/nmi.c io_check_error: one udelay(100) of its wait loop, 100 us at "
     "core_mhz 2500; the loop counts i down from 20000 with a pre-decrement, so it runs "
     "19,999 times (1.9999 s) inside the NMI, NMIs blocked"},
    {P::unknown_path, "unknown_path", 4000, B::assumed,
     "assumption: rate-limited console messages"},
    {P::selftest_poll, "selftest_poll", 2500, B::assumed,
     "assumption: Linux polls every 1 ms (mdelay); 1 us keeps simulated runs short and gives "
     "the same verdicts"},
    {P::core_mhz, "core_mhz", 2500, B::assumed,
     "assumption: a 2.5 GHz core; converts cycles to the ns of nmi_longest_ns and ftrace"},
};
static_assert(std::size(kParams) == kTimingParamCount, "every TimingParam needs an entry");

constexpr bool params_in_enum_order() {
  for (std::size_t i = 0; i < std::size(kParams); ++i) {
    if (static_cast<std::size_t>(kParams[i].param) != i) return false;
  }
  return true;
}
static_assert(params_in_enum_order(), "kParams must follow the enum order");

// Named profiles: the default profile with the costs that one CPU's (or host's)
// published figures give (docs/timing.md "Named profiles").
// A profile that sets vm_exit sets the exits of the guest NMI path to the same
// value, as the default does: the exit transition does not depend on the reason
// (hardware.md §5 publishes one round trip per host, not one per reason).
constexpr ProfileCost kSkylakeSp[] = {
    {P::vm_exit, 780, B::derived,
     "vmcall exit+entry round trip 1,529 cycles with KVM's exit fastpath (kvm-unit-tests "
     "vmexit.flat, Skylake-SP, KVM list, March 2020); the split 780 exit / 749 entry keeps the "
     "default's proportion (assumed)"},
    {P::vm_entry, 749, B::derived, "see vm_exit"},
    {P::vm_exit_msr_write, 780, B::derived, "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_external_interrupt, 780, B::derived,
     "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_nmi_window, 780, B::derived, "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_interrupt_window, 780, B::derived,
     "as this profile's vm_exit (reason-independent)"},
};
constexpr ProfileCost kIcelake[] = {
    {P::ghes_check, 900, B::measured,
     "ghes_notify_nmi() with no error pending: about 900 TSC cycles after \"ACPI: APEI: GHES: "
     "Improve ghes_notify_nmi() status check\" (Nov 2025, Ice Lake); about 15,000 before it "
     "(set ghes_check = 15000 for an older kernel)"},
};
constexpr ProfileCost kKvmMediatedPmu[] = {
    {P::vm_exit, 1450, B::derived,
     "CPUID exit round trip about 3,000 cycles with KVM's mediated PMU after \"KVM: x86/pmu: "
     "Elide WRMSRs when loading guest PMCs...\" (2025, Emerald Rapids; about 4,000 before); "
     "less kvm_nmi_exit's 200 for KVM's own handling, split 1,450 exit / 1,350 entry in the "
     "default's proportion (assumed)"},
    {P::vm_entry, 1350, B::derived, "see vm_exit"},
    {P::vm_exit_msr_write, 1450, B::derived, "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_external_interrupt, 1450, B::derived,
     "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_nmi_window, 1450, B::derived, "as this profile's vm_exit (reason-independent)"},
    {P::vm_exit_interrupt_window, 1450, B::derived,
     "as this profile's vm_exit (reason-independent)"},
};
constexpr NamedTimingProfile kProfiles[] = {
    {"default",
     "a current server core: published figures where they exist, assumptions elsewhere",
     {}},
    {"skylake-sp", "Skylake-SP under KVM: the VM exit and entry of the 2020 vmexit.flat figures",
     kSkylakeSp},
    {"icelake", "Ice Lake with a kernel that has the 2025 GHES status-check fix", kIcelake},
    {"kvm-mediated-pmu",
     "a KVM host with the mediated vPMU (Emerald Rapids): its dearer VM exits and entries",
     kKvmMediatedPmu},
};

}  // namespace

std::span<const TimingParamInfo> timing_params() {
  return kParams;
}

std::optional<TimingParam> timing_param_by_name(std::string_view name) {
  for (const auto& p : kParams) {
    if (p.name == name) return p.param;
  }
  return std::nullopt;
}

std::string_view timing_param_name(TimingParam p) {
  return kParams[static_cast<std::size_t>(p)].name;
}

TimingProfile::TimingProfile() {
  for (const auto& p : kParams)
    set(p.param, p.default_cycles);
}

std::string_view to_string(CostBasis b) {
  switch (b) {
    case CostBasis::measured:
      return "measured";
    case CostBasis::derived:
      return "derived";
    case CostBasis::assumed:
      return "assumed";
  }
  return "?";
}

std::span<const NamedTimingProfile> timing_profiles() {
  return kProfiles;
}

const NamedTimingProfile* find_timing_profile(std::string_view name) {
  for (const auto& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ProfileCost* profile_cost(const NamedTimingProfile& profile, TimingParam param) {
  for (const auto& c : profile.costs) {
    if (c.param == param) return &c;
  }
  return nullptr;
}

Result<TimingProfile> TimingProfile::named(std::string_view name) {
  const NamedTimingProfile* p = find_timing_profile(name);
  if (p == nullptr) {
    std::string known;
    for (const auto& q : kProfiles) {
      known += known.empty() ? "" : ", ";
      known += q.name;
    }
    return Error{"unknown timing profile '" + std::string(name) + "' (known: " + known + ")"};
  }
  TimingProfile t;
  for (const auto& c : p->costs)
    t.set(c.param, c.cycles);
  return t;
}

Status TimingProfile::set(std::string_view name, Cycle c) {
  if (auto p = timing_param_by_name(name)) {
    set(*p, c);
    return {};
  }
  std::string msg = "unknown timing parameter '" + std::string(name) + "'";
  // Suggest names that share a prefix, the usual typo being a wrong suffix.
  std::string close;
  for (const auto& p : kParams) {
    if (!name.empty() && p.name.substr(0, 3) == name.substr(0, 3)) {
      close += close.empty() ? "" : ", ";
      close += p.name;
    }
  }
  if (!close.empty()) msg += " (did you mean: " + close + "?)";
  return Error{msg};
}

}  // namespace fredsim
