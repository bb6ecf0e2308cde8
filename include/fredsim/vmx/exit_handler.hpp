#pragma once
// What the host's VMM sees of a VM exit: the exit fields as typed values, and the
// interface through which the vmx layer hands an exit to it (the kernel model's
// KVM implements it). Lower layers notify higher ones only through interfaces
// they declare (docs/architecture.md "Conventions").
#include <cstdint>

#include "fredsim/sim/cycle.hpp"
#include "fredsim/vmx/exit_reason.hpp"
#include "fredsim/vmx/interruptibility.hpp"
#include "fredsim/vmx/intr_info.hpp"

namespace fredsim::vmx {

class VmxCpu;

/// The VM-exit information fields of one exit (also readable with VMREAD).
struct ExitInfo {
  ExitReason reason;                        // 0x4402
  std::uint64_t qualification = 0;          // 0x6400: the NMI-source bitmap on an NMI exit
  IntrInfo intr_info;                       // 0x4404
  IntrInfo idt_vectoring;                   // 0x4408
  std::uint64_t original_event_data = 0;    // 0x2404
  Interruptibility guest_interruptibility;  // 0x4824 as saved
  ActivityState guest_activity = ActivityState::active;  // 0x4826 as saved
  std::uint64_t guest_rip = 0;                           // 0x681E as saved
  Cycle exited_at = 0;                                   // the cycle the exit began
};

class VmExitHandler {
 public:
  /// The host's first instruction after the exit, `vm_exit` cycles after it
  /// began. The CPU runs OS code (RunState::in_os) in VMX root operation; after
  /// an NMI-induced exit NMIs are blocked until an ERETS/IRET unblocks them
  /// (docs/hardware.md §4 "VMX"). The handler resumes the guest later with
  /// VmxCpu::vm_resume(), from any cycle at which the host runs.
  virtual void on_vm_exit(VmxCpu& vcpu, const ExitInfo& exit) = 0;
  /// A VM entry completed and the guest runs again (an injected event's
  /// delivery has begun). The default does nothing.
  virtual void on_vm_entry(VmxCpu& /*vcpu*/) {}

 protected:
  ~VmExitHandler() = default;
};

}  // namespace fredsim::vmx
