#pragma once
// The exit-reason field 0x4402: basic reason in bits 15:0, bit 31 "VM-entry
// failure" (SDM Vol. 3C "Basic VM-Exit Information").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fredsim/sim/register_value.hpp"
#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

/// Basic exit reasons the model produces (SDM Vol. 3C Appendix C).
enum class BasicExitReason : std::uint16_t {
  exception_or_nmi = 0,      // docs/hardware.md §4 "VMX"
  external_interrupt = 1,    // "external-interrupt exiting" (KVM's kick of a running vCPU)
  interrupt_window = 7,      // "interrupt-window exiting" (SDM Vol. 3C "Interrupt-Window Exiting")
  nmi_window = 8,            // "NMI-window exiting" (SDM Vol. 3C "NMI-Window Exiting")
  msr_write = 32,            // WRMSR of an intercepted MSR (a guest's x2APIC ICR write)
  invalid_guest_state = 33,  // VM-entry failure due to invalid guest state
  apic_write = 56,           // a trapped xAPIC register store (a guest's xAPIC ICR write)
};

/// The trace's name of a basic exit reason (the result's and trace's
/// `vm_exit` records: SDM Vol. 3C Appendix C, as Linux's VMX_EXIT_REASONS
/// names them in lower case); "other" for one the model does not produce.
constexpr std::string_view exit_reason_name(std::uint16_t basic) {
  switch (static_cast<BasicExitReason>(basic)) {
    case BasicExitReason::exception_or_nmi:
      return "nmi";
    case BasicExitReason::external_interrupt:
      return "external_interrupt";
    case BasicExitReason::interrupt_window:
      return "interrupt_window";
    case BasicExitReason::nmi_window:
      return "nmi_window";
    case BasicExitReason::msr_write:
      return "msr_write";
    case BasicExitReason::invalid_guest_state:
      return "invalid_guest_state";
    case BasicExitReason::apic_write:
      return "apic_write";
  }
  return "other";
}

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
