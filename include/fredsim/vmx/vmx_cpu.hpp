#pragma once
// VMX on one logical CPU: VM entry (VMLAUNCH/VMRESUME) and the NMI-induced VM
// exit of docs/hardware.md §4 "VMX", over the CPU model's VmxHooks.
//
// Setting up a guest:
//   VmxCpu vcpu(cpu, {.guest_os = &guest_os, .exit_handler = &kvm});
//   vcpu.vmcs().vmwrite(field::kPinControls, PinControls{}.set_nmi_exiting(true).encode());
//   vcpu.write_guest_state(guest);  // RIP, RSP, CR4, selectors, FRED state, ...
//   vcpu.vm_enter();                // VMLAUNCH; later exits go to kvm.on_vm_exit()
//   ...                             // in on_vm_exit or later: vcpu.vm_resume()
#include <array>
#include <cstdint>
#include <string_view>

#include "fredsim/cpu/cpu.hpp"
#include "fredsim/sim/event_queue.hpp"
#include "fredsim/vmx/controls.hpp"
#include "fredsim/vmx/exit_handler.hpp"
#include "fredsim/vmx/vmcs.hpp"

namespace fredsim::vmx {

/// Guest-state and host-state values that no VMCS field holds: IA32_FRED_RSP0,
/// IA32_PL0_SSP (FRED's SSP0) and IA32_STAR. A VMM switches them through the
/// VM-entry MSR-load and VM-exit MSR-store/-load areas (SDM Vol. 3C "VM-Entry
/// Controls for MSRs"); the model keeps one such area per side and always uses it.
struct MsrArea {
  std::uint64_t fred_rsp0 = 0;
  std::uint64_t pl0_ssp = 0;
  std::uint64_t star = 0;
};

struct VmxStats {
  std::array<std::uint64_t, kBasicExitReasonCount> exits_by_reason{};
  std::uint64_t exits = 0;
  std::uint64_t entries = 0;         // VM entries that completed
  std::uint64_t failed_entries = 0;  // VMfailValid, or a VM-entry failure (guest state)
  std::uint64_t injected_events = 0;
  /// An NMI exit taken at the entry that was injecting an event (the event is
  /// then reported in the IDT-vectoring information).
  std::uint64_t exits_during_injection = 0;
  /// Exits taken while the guest was in the HLT activity state (they wake it;
  /// the saved activity state is HLT).
  std::uint64_t exits_from_hlt = 0;

  std::uint64_t exits_for(BasicExitReason r) const {
    return exits_by_reason[static_cast<std::size_t>(r)];
  }
};

/// Where this VMX CPU is.
enum class VmxMode : std::uint8_t {
  root,      // the host runs (before the first entry, or after an exit completed)
  entering,  // VM entry in progress (vm_entry cycles)
  guest,     // VMX non-root operation
  exiting,   // VM exit in progress (vm_exit cycles)
};
std::string_view vmx_mode_name(VmxMode m);

class VmxCpu final : public cpu::VmxHooks, public EventTarget {
 public:
  struct Config {
    /// The guest's OS entry points while the guest runs; null: a guest that never
    /// takes events itself (every event exits, or none comes).
    cpu::OsEntry* guest_os = nullptr;
    /// The VMM; null: exits complete and the host just runs on.
    VmExitHandler* exit_handler = nullptr;
    /// The host-state fields take the CPU's state at each VM entry, as KVM
    /// writes HOST_RSP, HOST_CR4 and the rest before VMRESUME (HOST_RIP: the
    /// instruction after VMRESUME). false: the host fields are the VMM's, set
    /// with vmwrite.
    bool capture_host_state = true;
  };

  VmxCpu(cpu::Cpu& cpu, const Config& config);
  VmxCpu(const VmxCpu&) = delete;
  VmxCpu& operator=(const VmxCpu&) = delete;

  cpu::Cpu& cpu() { return cpu_; }
  const cpu::Cpu& cpu() const { return cpu_; }
  Vmcs& vmcs() { return vmcs_; }
  const Vmcs& vmcs() const { return vmcs_; }
  void set_guest_os(cpu::OsEntry* os) { guest_os_ = os; }
  void set_exit_handler(VmExitHandler* h) { handler_ = h; }

  // --- Setup helpers (each is a series of VMWRITEs of the VMM) -------------
  /// Writes the guest-state fields and the guest MSR area from `s`: RIP, RSP,
  /// RFLAGS, CR4, CS/SS selectors, SS access rights (DPL = CPL), the FRED fields
  /// (CONFIG carries the CSL in bits 1:0), and interruptibility bit 3 from
  /// s.nmi_blocked. Sets "load guest FRED state" and "save guest FRED state" /
  /// "load host FRED state" (with the secondary exit controls activated) when
  /// CR4.FRED is set in `s`.
  void write_guest_state(const cpu::ArchState& s);
  /// The guest state as the fields and the guest MSR area hold it.
  cpu::ArchState guest_state() const;
  /// Writes the host-state fields and host MSR area (with capture_host_state false).
  void write_host_state(const cpu::ArchState& s);
  cpu::ArchState host_state() const;
  MsrArea& guest_msrs() { return guest_msrs_; }
  MsrArea& host_msrs() { return host_msrs_; }

  // --- VMX instructions, executed by the host at the current cycle ----------
  /// VMLAUNCH: checks, then switches to the guest; the guest runs its first
  /// instruction `vm_entry` cycles later. VMfailValid with error 4 when the VMCS
  /// is launched, 7 on invalid controls (e.g. virtual NMIs without NMI exiting,
  /// a malformed VM-entry interruption information). #UD unless the CPU runs
  /// host code (VMX root, RunState running or in_os).
  ///
  /// `vmm_cycles`: the VMM's own work between deciding to enter and the
  /// instruction (KVM's NMI injection, `kvm_nmi_inject`), added before the
  /// entry's `vm_entry` cycles: the guest runs its first instruction
  /// vmm_cycles + vm_entry cycles later. The checks and the switch to the
  /// guest are made now, so a kick meanwhile exits right after the entry, as
  /// KVM's last request check before VMRESUME would cancel it.
  VmxResult vm_enter(Cycle vmm_cycles = 0);
  /// VMRESUME: as vm_enter(), error 5 when the VMCS is not launched.
  VmxResult vm_resume(Cycle vmm_cycles = 0);

  /// Guest NMI-source, a model of a proposal, ahead of the field (docs/hardware.md §4 "VMX"
  /// last bullet: no kernel exposes NMI-source to guests yet): sets the VM-entry
  /// interruption information to a valid NMI (vector 2) and the injected-event
  /// data 0x2052 to `event_data`, so the next VM entry delivers a virtual NMI
  /// carrying that event data (a source bitmap) to a FRED guest.
  void inject_nmi(std::uint64_t event_data);

  /// KVM's kick of a running vCPU (virt/kvm/kvm_main.c kvm_vcpu_kick: an IPI to
  /// the host CPU that runs it) has arrived. KVM runs its guests with
  /// "external-interrupt exiting" (arch/x86/kvm/vmx/vmx.c
  /// vmx_pin_based_exec_ctrl keeps PIN_BASED_EXT_INTR_MASK), so the guest exits
  /// at its next instruction boundary with basic reason 1 (SDM Vol. 3C
  /// "External-Interrupt Exiting"), whatever its RFLAGS.IF, taking
  /// `vm_exit_external_interrupt` cycles. An entry in progress exits right after
  /// it completes; in VMX root operation the kick does nothing (KVM looks at its
  /// requests before the next entry).
  void kick();
  bool kick_pending() const { return kick_pending_; }
  /// The guest executes an instruction that KVM intercepts, a VM exit with
  /// basic reason `reason` and `qualification`, taking `cost` cycles: WRMSR to
  /// the x2APIC ICR (reason 32, the MSR bitmap intercepts it: SDM Vol. 3C
  /// "Instructions That Cause VM Exits Conditionally") or the xAPIC ICR store
  /// that APIC-register virtualization traps (reason 56, qualification = the
  /// page offset: SDM Vol. 3C "APIC-Write VM Exits"). Taken at the guest's next
  /// instruction boundary (at once when it is at one; after an entry in
  /// progress, or after an injected event's delivery); nothing in VMX root
  /// operation. One at a time: the caller waits for the exit.
  void instruction_exit(BasicExitReason reason, std::uint64_t qualification, TimingParam cost);
  bool instruction_exit_pending() const { return insn_exit_.pending; }

  // --- State ---------------------------------------------------------------
  VmxMode mode() const { return mode_; }
  bool in_guest() const { return mode_ == VmxMode::guest; }
  const ExitInfo& last_exit() const { return exit_; }
  const VmxStats& stats() const { return stats_; }
  /// The pin-based controls in force in the guest (latched at VM entry).
  PinControls active_pin_controls() const { return active_pin_; }
  /// Why the last VM entry failed: the VM-instruction error's text, or which
  /// check on the guest state failed; "" when none has.
  std::string_view last_entry_failure() const { return entry_failure_; }

  // cpu::VmxHooks
  bool nmi_exiting() const override { return active_pin_.nmi_exiting(); }
  bool virtual_nmis() const override { return active_pin_.virtual_nmis(); }
  void nmi_vm_exit(cpu::Cpu& cpu, std::uint16_t source_bitmap) override;
  bool at_boundary(cpu::Cpu& cpu) override;

  // EventTarget
  void on_event(std::uint32_t kind, std::uint64_t arg) override;
  std::string_view event_name(std::uint32_t kind) const override;
  CpuId event_cpu() const override { return cpu_.id(); }

 private:
  enum EventKind : std::uint32_t { kEntryDone, kExitDone, kBlockingEnds };
  enum class Instruction : std::uint8_t { vmlaunch, vmresume };

  VmxResult enter(Instruction insn, Cycle vmm_cycles);
  VmInstructionError check_controls() const;
  std::string_view check_guest_state() const;
  void exit_to_host(ExitReason reason, IntrInfo intr_info, std::uint64_t qualification, bool nmi,
                    TimingParam cost = TimingParam::vm_exit);
  void complete_entry();
  void capture_host_state();
  // Saves the guest's state into the VMCS and returns it as the CPU held it.
  cpu::ArchState save_guest_state();
  // The host's state: `base` (the CPU's state at the exit) with the host-state
  // fields loaded over it.
  cpu::ArchState build_host_state(cpu::ArchState base) const;
  bool load_host_fred() const;

  cpu::Cpu& cpu_;
  Vmcs vmcs_;
  cpu::OsEntry* guest_os_;
  cpu::OsEntry* host_os_ = nullptr;
  VmExitHandler* handler_;
  bool capture_host_;

  VmxMode mode_ = VmxMode::root;
  Instruction entering_with_ = Instruction::vmlaunch;
  PinControls active_pin_;
  ProcControls active_proc_;
  /// Blocking by STI or MOV SS loaded by a non-vectoring VM entry: held for the
  /// guest's first instruction (SDM Vol. 3C "Interruptibility State" under
  /// "Special Features of VM Entry").
  bool entry_blocking_ = false;
  std::string_view entry_failure_;
  bool ends_nmi_exit_ = false;  // the next entry completes an NMI-induced exit
  struct InsnExit {
    bool pending = false;
    BasicExitReason reason = BasicExitReason::msr_write;
    std::uint64_t qualification = 0;
    TimingParam cost = TimingParam::vm_exit;
  };
  InsnExit insn_exit_;         // instruction_exit(): taken at the next boundary
  bool kick_pending_ = false;  // kick(): an external-interrupt exit at the next boundary
  bool guest_in_os_ = false;   // the last exit interrupted the guest's OS code
  IntrInfo vectoring_;         // an injected event an exit interrupted
  std::uint64_t vectoring_data_ = 0;
  MsrArea guest_msrs_;
  MsrArea host_msrs_;
  ExitInfo exit_;
  VmxStats stats_;
};

}  // namespace fredsim::vmx
