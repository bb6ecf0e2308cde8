#pragma once
// The FRED stack frame and its two packed slots, SS and CS (docs/hardware.md §1 "FRED event
// delivery" "The frame"). Raw 64-bit words with named fields; no C++ bitfields, whose layout is
// implementation-defined.
#include <array>
#include <cstdint>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/sim/register_value.hpp"

namespace fredsim::cpu {

enum class EventType : std::uint8_t {
  external_interrupt = arch::kTypeExternalInterrupt,
  reserved = 1,
  nmi = arch::kTypeNmi,
  hardware_exception = arch::kTypeHardwareException,
  software_interrupt = arch::kTypeSoftwareInterrupt,
  privileged_software_exception = arch::kTypePrivilegedSoftwareException,
  software_exception = arch::kTypeSoftwareException,
  other = arch::kTypeOther,
};

/// The SS slot at +40: SS selector and the event information.
class FredSs : public RegisterValue<FredSs, std::uint64_t> {
 public:
  static constexpr BitField kSelector{0, 16};
  static constexpr BitField kStiShadow{16, 1};
  static constexpr BitField kSoftwareInitiated{17, 1};
  static constexpr BitField kNmi{18, 1};  // the NMI bit: ERETS/ERETU unblock NMIs on 1
  static constexpr BitField kVector{32, 8};
  static constexpr BitField kType{48, 4};
  static constexpr BitField kEnclave{56, 1};
  static constexpr BitField kLongMode{57, 1};  // 64-bit mode at the event
  static constexpr BitField kNested{58, 1};
  static constexpr BitField kInstructionLength{60, 4};
  /// Bits that must be 0 (everything not named above).
  static constexpr std::uint64_t kReservedMask =
      ~(kSelector.mask() | kStiShadow.mask() | kSoftwareInitiated.mask() | kNmi.mask() |
        kVector.mask() | kType.mask() | kEnclave.mask() | kLongMode.mask() | kNested.mask() |
        kInstructionLength.mask());
  /// ERETS: SS bits 31:19 must be 0 (docs/hardware.md §1 "Return").
  static constexpr std::uint64_t kEretsCheckMask = BitField{19, 13}.mask();

  using RegisterValue::RegisterValue;

  constexpr std::uint16_t selector() const { return get<std::uint16_t>(kSelector); }
  constexpr bool sti_shadow() const { return get<bool>(kStiShadow); }
  constexpr bool software_initiated() const { return get<bool>(kSoftwareInitiated); }
  constexpr bool nmi() const { return get<bool>(kNmi); }
  constexpr std::uint8_t vector() const { return get<std::uint8_t>(kVector); }
  constexpr EventType type() const { return get<EventType>(kType); }
  constexpr bool enclave() const { return get<bool>(kEnclave); }
  constexpr bool long_mode() const { return get<bool>(kLongMode); }
  constexpr bool nested() const { return get<bool>(kNested); }
  constexpr std::uint8_t instruction_length() const {
    return get<std::uint8_t>(kInstructionLength);
  }

  constexpr FredSs& set_selector(std::uint16_t v) { return set(kSelector, v); }
  constexpr FredSs& set_sti_shadow(bool v) { return set(kStiShadow, v); }
  constexpr FredSs& set_software_initiated(bool v) { return set(kSoftwareInitiated, v); }
  constexpr FredSs& set_nmi(bool v) { return set(kNmi, v); }
  constexpr FredSs& set_vector(std::uint8_t v) { return set(kVector, v); }
  constexpr FredSs& set_type(EventType v) { return set(kType, v); }
  constexpr FredSs& set_enclave(bool v) { return set(kEnclave, v); }
  constexpr FredSs& set_long_mode(bool v) { return set(kLongMode, v); }
  constexpr FredSs& set_nested(bool v) { return set(kNested, v); }
  constexpr FredSs& set_instruction_length(std::uint8_t v) { return set(kInstructionLength, v); }
};

/// The CS slot at +16: CS selector, the stack level at the event, WFE.
class FredCs : public RegisterValue<FredCs, std::uint64_t> {
 public:
  static constexpr BitField kSelector{0, 16};
  static constexpr BitField kStackLevel{16, 2};
  static constexpr BitField kWfe{18, 1};
  /// ERETS: CS bits 63:19 must be 0 (docs/hardware.md §1 "Return").
  static constexpr std::uint64_t kEretsCheckMask = ~std::uint64_t{0} << 19;

  using RegisterValue::RegisterValue;

  constexpr std::uint16_t selector() const { return get<std::uint16_t>(kSelector); }
  constexpr std::uint8_t stack_level() const { return get<std::uint8_t>(kStackLevel); }
  constexpr bool wfe() const { return get<bool>(kWfe); }

  constexpr FredCs& set_selector(std::uint16_t v) { return set(kSelector, v); }
  constexpr FredCs& set_stack_level(std::uint8_t v) { return set(kStackLevel, v); }
  constexpr FredCs& set_wfe(bool v) { return set(kWfe, v); }
};

/// The 64-byte frame. Slot order is memory order from the new RSP upwards.
struct FredFrame {
  std::uint64_t error_code = 0;  // +0
  std::uint64_t rip = 0;         // +8
  FredCs cs;                     // +16
  std::uint64_t rflags = 0;      // +24
  std::uint64_t rsp = 0;         // +32
  FredSs ss;                     // +40
  std::uint64_t event_data = 0;  // +48
  std::uint64_t reserved = 0;    // +56

  static constexpr std::size_t kSlots = 8;
  /// The eight words in memory order (+0 first).
  constexpr std::array<std::uint64_t, kSlots> words() const {
    return {error_code, rip, cs.encode(), rflags, rsp, ss.encode(), event_data, reserved};
  }
  static constexpr FredFrame from_words(const std::array<std::uint64_t, kSlots>& w) {
    FredFrame f;
    f.error_code = w[0];
    f.rip = w[1];
    f.cs = FredCs(w[2]);
    f.rflags = w[3];
    f.rsp = w[4];
    f.ss = FredSs(w[5]);
    f.event_data = w[6];
    f.reserved = w[7];
    return f;
  }
  friend constexpr bool operator==(const FredFrame&, const FredFrame&) = default;
};

}  // namespace fredsim::cpu
