#pragma once
// The VM-execution, VM-exit and VM-entry control words on the NMI path
// (docs/hardware.md §4 "VMX"). Raw words with named bits; no C++ bitfields.
#include <cstdint>

#include "fredsim/sim/register_value.hpp"
#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

/// Pin-based VM-execution controls, field 0x4000 (docs/hardware.md §4 "VMX").
class PinControls : public RegisterValue<PinControls, std::uint32_t> {
 public:
  static constexpr BitField kExternalInterruptExiting{0, 1};
  static constexpr BitField kNmiExiting{3, 1};
  static constexpr BitField kVirtualNmis{5, 1};

  using RegisterValue::RegisterValue;

  constexpr bool external_interrupt_exiting() const { return get<bool>(kExternalInterruptExiting); }
  constexpr bool nmi_exiting() const { return get<bool>(kNmiExiting); }
  constexpr bool virtual_nmis() const { return get<bool>(kVirtualNmis); }

  constexpr PinControls& set_external_interrupt_exiting(bool v) {
    return set(kExternalInterruptExiting, v);
  }
  constexpr PinControls& set_nmi_exiting(bool v) { return set(kNmiExiting, v); }
  constexpr PinControls& set_virtual_nmis(bool v) { return set(kVirtualNmis, v); }
};

/// Primary processor-based VM-execution controls, field 0x4002 (SDM Vol. 3C
/// "Processor-Based VM-Execution Controls"): the model has bit 22, "NMI-window
/// exiting": a VM exit at the first instruction boundary where there is no
/// virtual-NMI blocking (and no blocking by MOV SS or STI).
class ProcControls : public RegisterValue<ProcControls, std::uint32_t> {
 public:
  static constexpr BitField kInterruptWindowExiting{2, 1};
  static constexpr BitField kNmiWindowExiting{22, 1};

  using RegisterValue::RegisterValue;
  constexpr bool interrupt_window_exiting() const { return get<bool>(kInterruptWindowExiting); }
  constexpr ProcControls& set_interrupt_window_exiting(bool v) {
    return set(kInterruptWindowExiting, v);
  }
  constexpr bool nmi_window_exiting() const { return get<bool>(kNmiWindowExiting); }
  constexpr ProcControls& set_nmi_window_exiting(bool v) { return set(kNmiWindowExiting, v); }
};

/// VM-entry controls, field 0x4012: bit 23 loads the guest FRED state
/// (docs/hardware.md §4 "VMX").
class EntryControls : public RegisterValue<EntryControls, std::uint32_t> {
 public:
  static constexpr BitField kLoadGuestFred{23, 1};

  using RegisterValue::RegisterValue;
  constexpr bool load_guest_fred() const { return get<bool>(kLoadGuestFred); }
  constexpr EntryControls& set_load_guest_fred(bool v) { return set(kLoadGuestFred, v); }
};

/// Primary VM-exit controls, field 0x400C: bit 31 activates the secondary
/// VM-exit controls (SDM Vol. 3C "Primary VM-Exit Controls"); when it is 0 the
/// processor treats the secondary controls as 0.
class PrimaryExitControls : public RegisterValue<PrimaryExitControls, std::uint32_t> {
 public:
  static constexpr BitField kActivateSecondary{31, 1};

  using RegisterValue::RegisterValue;
  constexpr bool activate_secondary() const { return get<bool>(kActivateSecondary); }
  constexpr PrimaryExitControls& set_activate_secondary(bool v) {
    return set(kActivateSecondary, v);
  }
};

/// Secondary VM-exit controls, field 0x2044 (64-bit): bit 0 saves the guest FRED
/// state, bit 1 loads the host FRED state (docs/hardware.md §4 "VMX").
class SecondaryExitControls : public RegisterValue<SecondaryExitControls, std::uint64_t> {
 public:
  static constexpr BitField kSaveGuestFred{0, 1};
  static constexpr BitField kLoadHostFred{1, 1};

  using RegisterValue::RegisterValue;
  constexpr bool save_guest_fred() const { return get<bool>(kSaveGuestFred); }
  constexpr bool load_host_fred() const { return get<bool>(kLoadHostFred); }
  constexpr SecondaryExitControls& set_save_guest_fred(bool v) { return set(kSaveGuestFred, v); }
  constexpr SecondaryExitControls& set_load_host_fred(bool v) { return set(kLoadHostFred, v); }
};

}  // namespace fredsim::vmx
