#pragma once
// The VMX controls and guest state a `guest` event asks KVM to enter a guest with,
// beyond NMI exiting (docs/vmx.md "NMI controls of a guest"). The SDM names:
// Vol. 3C "Pin-Based VM-Execution Controls", "Processor-Based VM-Execution
// Controls", "Guest Non-Register State", "VM-Entry Controls for Event Injection".
#include <cstdint>
#include <optional>

namespace fredsim::kernel {

struct GuestControls {
  bool virtual_nmis = false;        // pin-based bit 5
  bool nmi_window_exiting = false;  // primary processor-based bit 22
  // Interruptibility state at VM entry (field 0x4824).
  bool blocking_by_sti = false;
  bool blocking_by_mov_ss = false;
  bool blocking_by_nmi = false;  // virtual-NMI blocking with virtual_nmis
  bool hlt = false;              // activity state HLT (field 0x4826), else active
  /// VM-entry event injection of an NMI with this vector (2 is the only valid
  /// one; others make VM entry fail, as the SDM says).
  std::optional<std::uint8_t> inject_nmi_vector;

  bool operator==(const GuestControls&) const = default;
};

}  // namespace fredsim::kernel
