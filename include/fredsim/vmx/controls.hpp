#pragma once
// The VM-execution, VM-exit and VM-entry control words on the NMI path
// (hardware.md §4). Raw words with named bits; no C++ bitfields.
#include <cstdint>

#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

/// Pin-based VM-execution controls, field 0x4000 (hardware.md §4).
class PinControls {
 public:
  static constexpr BitField kExternalInterruptExiting{0, 1};
  static constexpr BitField kNmiExiting{3, 1};
  static constexpr BitField kVirtualNmis{5, 1};

  constexpr PinControls() = default;
  constexpr explicit PinControls(std::uint32_t raw) : raw_(raw) {}
  static constexpr PinControls decode(std::uint64_t raw) {
    return PinControls(static_cast<std::uint32_t>(raw));
  }
  constexpr std::uint32_t encode() const { return raw_; }

  constexpr bool external_interrupt_exiting() const {
    return kExternalInterruptExiting.get(raw_) != 0;
  }
  constexpr bool nmi_exiting() const { return kNmiExiting.get(raw_) != 0; }
  constexpr bool virtual_nmis() const { return kVirtualNmis.get(raw_) != 0; }

  constexpr PinControls& set_external_interrupt_exiting(bool v) {
    return put(kExternalInterruptExiting, v);
  }
  constexpr PinControls& set_nmi_exiting(bool v) { return put(kNmiExiting, v); }
  constexpr PinControls& set_virtual_nmis(bool v) { return put(kVirtualNmis, v); }

  friend constexpr bool operator==(PinControls, PinControls) = default;

 private:
  constexpr PinControls& put(BitField f, std::uint64_t v) {
    raw_ = static_cast<std::uint32_t>(f.set(raw_, v));
    return *this;
  }
  std::uint32_t raw_ = 0;
};

/// VM-entry controls, field 0x4012: bit 23 loads the guest FRED state
/// (hardware.md §4).
class EntryControls {
 public:
  static constexpr BitField kLoadGuestFred{23, 1};

  constexpr EntryControls() = default;
  constexpr explicit EntryControls(std::uint32_t raw) : raw_(raw) {}
  static constexpr EntryControls decode(std::uint64_t raw) {
    return EntryControls(static_cast<std::uint32_t>(raw));
  }
  constexpr std::uint32_t encode() const { return raw_; }
  constexpr bool load_guest_fred() const { return kLoadGuestFred.get(raw_) != 0; }
  constexpr EntryControls& set_load_guest_fred(bool v) {
    raw_ = static_cast<std::uint32_t>(kLoadGuestFred.set(raw_, v));
    return *this;
  }
  friend constexpr bool operator==(EntryControls, EntryControls) = default;

 private:
  std::uint32_t raw_ = 0;
};

/// Primary VM-exit controls, field 0x400C: bit 31 activates the secondary
/// VM-exit controls (SDM Vol. 3C "Primary VM-Exit Controls"); when it is 0 the
/// processor treats the secondary controls as 0.
class PrimaryExitControls {
 public:
  static constexpr BitField kActivateSecondary{31, 1};

  constexpr PrimaryExitControls() = default;
  constexpr explicit PrimaryExitControls(std::uint32_t raw) : raw_(raw) {}
  static constexpr PrimaryExitControls decode(std::uint64_t raw) {
    return PrimaryExitControls(static_cast<std::uint32_t>(raw));
  }
  constexpr std::uint32_t encode() const { return raw_; }
  constexpr bool activate_secondary() const { return kActivateSecondary.get(raw_) != 0; }
  constexpr PrimaryExitControls& set_activate_secondary(bool v) {
    raw_ = static_cast<std::uint32_t>(kActivateSecondary.set(raw_, v));
    return *this;
  }
  friend constexpr bool operator==(PrimaryExitControls, PrimaryExitControls) = default;

 private:
  std::uint32_t raw_ = 0;
};

/// Secondary VM-exit controls, field 0x2044 (64-bit): bit 0 saves the guest FRED
/// state, bit 1 loads the host FRED state (hardware.md §4).
class SecondaryExitControls {
 public:
  static constexpr BitField kSaveGuestFred{0, 1};
  static constexpr BitField kLoadHostFred{1, 1};

  constexpr SecondaryExitControls() = default;
  constexpr explicit SecondaryExitControls(std::uint64_t raw) : raw_(raw) {}
  static constexpr SecondaryExitControls decode(std::uint64_t raw) {
    return SecondaryExitControls(raw);
  }
  constexpr std::uint64_t encode() const { return raw_; }
  constexpr bool save_guest_fred() const { return kSaveGuestFred.get(raw_) != 0; }
  constexpr bool load_host_fred() const { return kLoadHostFred.get(raw_) != 0; }
  constexpr SecondaryExitControls& set_save_guest_fred(bool v) {
    raw_ = kSaveGuestFred.set(raw_, v);
    return *this;
  }
  constexpr SecondaryExitControls& set_load_host_fred(bool v) {
    raw_ = kLoadHostFred.set(raw_, v);
    return *this;
  }
  friend constexpr bool operator==(SecondaryExitControls, SecondaryExitControls) = default;

 private:
  std::uint64_t raw_ = 0;
};

}  // namespace fredsim::vmx
