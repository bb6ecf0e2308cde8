#pragma once
// The exit-reason field 0x4402: basic reason in bits 15:0, bit 31 "VM-entry
// failure" (SDM Vol. 3C "Basic VM-Exit Information").
#include <cstddef>
#include <cstdint>

#include "fredsim/sim/register_value.hpp"
#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

/// Basic exit reasons the model produces (SDM Vol. 3C Appendix C).
enum class BasicExitReason : std::uint16_t {
  exception_or_nmi = 0,      // docs/hardware.md §4 "VMX"
  external_interrupt = 1,    // "external-interrupt exiting" (KVM's kick of a running vCPU)
  nmi_window = 8,            // "NMI-window exiting" (SDM Vol. 3C "NMI-Window Exiting")
  invalid_guest_state = 33,  // VM-entry failure due to invalid guest state
};

/// Basic reasons are below this (the stats array's size; SDM reasons end near 80).
inline constexpr std::size_t kBasicExitReasonCount = 96;

class ExitReason : public RegisterValue<ExitReason, std::uint32_t> {
 public:
  static constexpr BitField kBasic{0, 16};
  static constexpr BitField kEntryFailure{31, 1};

  using RegisterValue::RegisterValue;
  static constexpr ExitReason of(BasicExitReason r, bool entry_failure = false) {
    return ExitReason{}.set(kBasic, r).set(kEntryFailure, entry_failure);
  }
  constexpr std::uint16_t basic() const { return get<std::uint16_t>(kBasic); }
  constexpr bool entry_failure() const { return get<bool>(kEntryFailure); }
};

}  // namespace fredsim::vmx
