#pragma once
// The VMX controls and guest state a `guest` event asks KVM to enter a guest with,
// beyond NMI exiting (docs/vmx.md "NMI controls of a guest"). The SDM names:
// Vol. 3C "Pin-Based VM-Execution Controls", "Processor-Based VM-Execution
// Controls", "Guest Non-Register State", "VM-Entry Controls for Event Injection".
#include <cstdint>
#include <optional>

namespace fredsim::kernel {

struct GuestControls {
  /// Pin-based bit 5. Unset: KVM's own choice, as arch/x86/kvm/vmx/vmx.c makes it
  /// (setup_vmcs_config asks for "virtual NMIs" as an optional control and
  /// vmx_pin_based_exec_ctrl keeps it while enable_vnmi, which hardware_setup
  /// clears only on a CPU without it): on, with NMI exiting (a guest without NMI
  /// exiting is the model's own, and "virtual NMIs" needs it).
  std::optional<bool> virtual_nmis;
  bool nmi_window_exiting = false;  // primary processor-based bit 22
  // Interruptibility state at VM entry (field 0x4824).
  bool blocking_by_sti = false;
  bool blocking_by_mov_ss = false;
  bool blocking_by_nmi = false;  // virtual-NMI blocking when virtual NMIs are on
  bool hlt = false;              // activity state HLT (field 0x4826), else active
  /// VM-entry event injection of an NMI with this vector (2 is the only valid
  /// one; others make VM entry fail, as the SDM says).
  std::optional<std::uint8_t> inject_nmi_vector;

  bool operator==(const GuestControls&) const = default;
};

}  // namespace fredsim::kernel
