#include "fredsim/sim/timing_profile.hpp"

#include <string>

namespace fredsim {
namespace {

using P = TimingParam;

// Sources: "hardware.md §5" is docs/hardware.md §5 "Published costs". Everything marked
// assumption is a round figure of the right order for a current server core; a
// scenario's [timing] table overrides it.
constexpr TimingParamInfo kParams[] = {
    {P::fred_delivery, "fred_delivery", 100,
     "assumption: no per-event FRED figure is published (hardware.md §5); microcoded delivery of a "
     "64-byte frame, set a little below IDT delivery"},
    {P::idt_delivery, "idt_delivery", 150,
     "assumption: no published figure (hardware.md §5); IDT gate lookup, IST stack switch, 40-byte "
     "frame"},
    {P::erets, "erets", 60, "assumption: no published figure (hardware.md §5)"},
    {P::eretu, "eretu", 80, "assumption: ERETS plus SWAPGS and the ring switch"},
    {P::iret, "iret", 120, "assumption: no published figure (hardware.md §5); IRET is serializing"},
    {P::msr_read, "msr_read", 100, "assumption: RDMSR of a non-architectural-fast MSR"},
    {P::msr_write, "msr_write", 150, "assumption: WRMSR"},
    {P::port_read, "port_read", 2000,
     "assumption: a legacy port read through the chipset takes about a microsecond"},
    {P::port_write, "port_write", 2000, "assumption: as port_read"},
    {P::shadow_insn, "shadow_insn", 1,
     "assumption: the one instruction an STI or MOV SS shadow covers is a simple one (NOP, "
     "TEST, MOV) that retires in about a cycle; the SDM gives no length, only that the "
     "shadow ends at the boundary after that instruction"},
    {P::icr_write, "icr_write", 150, "assumption: x2APIC ICR WRMSR (or xAPIC MMIO store)"},
    {P::ipi_latency, "ipi_latency", 1500,
     "assumption: bare-metal IPI send to arrival; the virtual IPI round trip of about 3,200 "
     "cycles (hardware.md §5) includes two exits and bounds it from above"},
    {P::ipi_per_destination, "ipi_per_destination", 0,
     "assumption: broadcasts fan out in parallel on the interconnect"},
    {P::lvt_delivery, "lvt_delivery", 50, "assumption: local APIC to its own core"},
    {P::vm_exit, "vm_exit", 800,
     "hardware.md §5: vmcall exit+entry round trip 1,530-1,560 cycles incl. KVM; split as exit "
     "800, "
     "entry 750 (the split is an assumption)"},
    {P::vm_entry, "vm_entry", 750, "hardware.md §5: see vm_exit"},
    {P::nmi_entry, "nmi_entry", 80,
     "assumption: entry code (register save, CR3/GS handling) before default_do_nmi"},
    {P::nmi_exit, "nmi_exit", 60, "assumption: register restore before ERETS/IRET"},
    {P::kvm_nmi_exit, "kvm_nmi_exit", 200,
     "assumption: KVM's exit dispatch before it calls the host NMI entry"},
    {P::handler_call, "handler_call", 20,
     "assumption: list walk step, indirect call, timestamp reads for the duration check"},
    {P::device_check, "device_check", 300, "assumption: one device status register read"},
    {P::device_handle, "device_handle", 1000, "assumption"},
    {P::pmi_check, "pmi_check", 250,
     "assumption: msr_write (LVTPC rewrite) + msr_read (global status), the perf handler's "
     "fixed cost"},
    {P::pmi_handle, "pmi_handle", 1500,
     "assumption: per overflowed counter: sample record and counter reprogram"},
    {P::ghes_check, "ghes_check", 2000,
     "assumption: an uncached read of the firmware error status block"},
    {P::ghes_handle, "ghes_handle", 20000, "assumption: error record processing"},
    {P::backtrace_check, "backtrace_check", 30, "assumption: one cpumask test"},
    {P::backtrace_handle, "backtrace_handle", 50000,
     "assumption: printing a stack trace to the console buffer"},
    {P::stop_check, "stop_check", 30, "assumption: one flag read"},
    {P::stop_handle, "stop_handle", 500, "assumption: disable virtualization, mark offline"},
    {P::stop_irq, "stop_irq", 1500,
     "assumption: the REBOOT_VECTOR interrupt's delivery (about idt_delivery), sysvec_reboot's "
     "EOI write and stop_this_cpu (APIC_SPIV read and write, offline marking) up to HLT, each "
     "access about msr_write; arch/x86/kernel/smp.c, process.c"},
    {P::selftest_check, "selftest_check", 30, "assumption: one cpumask test"},
    {P::selftest_handle, "selftest_handle", 30, "assumption: test-and-clear of one bit"},
    {P::kgdb_check, "kgdb_check", 30, "assumption"},
    {P::kgdb_handle, "kgdb_handle", 2000, "assumption: entering the debugger roundup"},
    {P::mce_check, "mce_check", 30, "assumption"},
    {P::mce_handle, "mce_handle", 5000, "assumption: MCE injection processing"},
    {P::serr_path, "serr_path", 6000,
     "assumption: console messages and the port 0x61 clear/re-enable writes"},
    {P::iochk_path, "iochk_path", 6000,
     "assumption: as serr_path; the wait between the two port 0x61 writes is iochk_udelay"},
    {P::iochk_udelay, "iochk_udelay", 250'000,
     "arch/x86/kernel/nmi.c io_check_error: one udelay(100) of its wait loop, 100 us at "
     "core_mhz 2500; the loop counts i down from 20000 with a pre-decrement, so it runs "
     "19,999 times (1.9999 s) inside the NMI, NMIs blocked"},
    {P::unknown_path, "unknown_path", 4000, "assumption: rate-limited console messages"},
    {P::selftest_poll, "selftest_poll", 2500,
     "assumption: Linux polls every 1 ms (mdelay); 1 us keeps simulated runs short and gives "
     "the same verdicts"},
    {P::core_mhz, "core_mhz", 2500,
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

Result<TimingProfile> TimingProfile::named(std::string_view name) {
  if (name == "default") return TimingProfile{};
  return Error{"unknown timing profile '" + std::string(name) + "' (known: default)"};
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
