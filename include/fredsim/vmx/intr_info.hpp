#pragma once
// The interruption-information layout shared by VM-exit interruption information
// (0x4404), IDT-vectoring information (0x4408) and VM-entry interruption
// information (0x4016): docs/hardware.md §4 "VMX".
#include <cstdint>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/sim/register_value.hpp"
#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

class IntrInfo : public RegisterValue<IntrInfo, std::uint32_t> {
 public:
  static constexpr BitField kVector{0, 8};
  static constexpr BitField kType{
      8, 3};  // the event types of docs/hardware.md §1 "FRED event delivery"; NMI = 2
  static constexpr BitField kErrorCodeValid{11, 1};
  static constexpr BitField kNmiUnblockingIret{12, 1};  // NMI unblocking due to IRET
  static constexpr BitField kNested{13, 1};             // nested exception (FRED)
  static constexpr BitField kValid{31, 1};
  /// Bits 30:14 are reserved in all three fields.
  static constexpr std::uint32_t kReservedMask =
      static_cast<std::uint32_t>(BitField{14, 17}.mask());
  /// VM entry checks bits 30:12 of 0x4016 are 0, except bit 13, which FRED
  /// gives to injections of nested exceptions (SDM Vol. 3C "Checks on VM-Entry
  /// Control Fields"; bit 12 is defined for exits only).
  static constexpr std::uint32_t kEntryReservedMask =
      kReservedMask | static_cast<std::uint32_t>(kNmiUnblockingIret.mask());

  using RegisterValue::RegisterValue;

  /// A valid NMI: vector 2, type NMI.
  static constexpr IntrInfo nmi() {
    return IntrInfo{}
        .set_vector(cpu::arch::kNmiVector)
        .set_type(cpu::EventType::nmi)
        .set_valid(true);
  }

  constexpr std::uint8_t vector() const { return get<std::uint8_t>(kVector); }
  constexpr cpu::EventType type() const { return get<cpu::EventType>(kType); }
  constexpr bool error_code_valid() const { return get<bool>(kErrorCodeValid); }
  constexpr bool nmi_unblocking_iret() const { return get<bool>(kNmiUnblockingIret); }
  constexpr bool nested() const { return get<bool>(kNested); }
  constexpr bool valid() const { return get<bool>(kValid); }

  constexpr IntrInfo& set_vector(std::uint8_t v) { return set(kVector, v); }
  constexpr IntrInfo& set_type(cpu::EventType t) { return set(kType, t); }
  constexpr IntrInfo& set_error_code_valid(bool v) { return set(kErrorCodeValid, v); }
  constexpr IntrInfo& set_nmi_unblocking_iret(bool v) { return set(kNmiUnblockingIret, v); }
  constexpr IntrInfo& set_nested(bool v) { return set(kNested, v); }
  constexpr IntrInfo& set_valid(bool v) { return set(kValid, v); }
};

}  // namespace fredsim::vmx
