#pragma once
// Typed views of IA32_FRED_CONFIG and IA32_FRED_STKLVLS (docs/hardware.md §1 "FRED event
// delivery").
#include <cstdint>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/sim/register_value.hpp"

namespace fredsim::cpu {

class FredConfig : public RegisterValue<FredConfig, std::uint64_t> {
 public:
  using RegisterValue::RegisterValue;

  /// Bits 1:0 of the MSR. (The CPU's current stack level is its own state.)
  constexpr std::uint8_t csl_field() const { return get<std::uint8_t>(arch::kConfigCsl); }
  constexpr bool shadow_stack_space() const { return get<bool>(arch::kConfigShadowStackSpace); }
  /// The red zone in bytes (bits 8:6 in 64-byte units).
  constexpr std::uint64_t red_zone_bytes() const { return get(arch::kConfigRedZone) * 64; }
  constexpr std::uint8_t interrupt_stack_level() const {
    return get<std::uint8_t>(arch::kConfigIntLevel);
  }
  /// Bits 63:12 in place: the entry page's address.
  constexpr std::uint64_t entry_page() const { return raw() & arch::kConfigEntryPage.mask(); }

  /// Builds a value from its fields; bits of `entry_page` below 12 are dropped.
  static constexpr FredConfig make(std::uint64_t entry_page, unsigned red_zone_lines,
                                   unsigned interrupt_level) {
    return FredConfig{}
        .set(arch::kConfigEntryPage, entry_page >> arch::kConfigEntryPage.shift)
        .set(arch::kConfigRedZone, red_zone_lines)
        .set(arch::kConfigIntLevel, interrupt_level);
  }
};

/// IA32_FRED_STKLVLS: two bits per vector 0..31, vector v at bits 2v+1:2v.
class FredStklvls : public RegisterValue<FredStklvls, std::uint64_t> {
 public:
  /// One vector's level once the word is shifted right by 2v.
  static constexpr BitField kLevel{0, 2};

  using RegisterValue::RegisterValue;
  constexpr std::uint8_t level(unsigned vector) const {
    return vector < 32 ? static_cast<std::uint8_t>(kLevel.get(raw() >> (2 * vector))) : 0;
  }
  constexpr FredStklvls& set_level(unsigned vector, unsigned level) {
    return vector < 32 ? set(BitField{2 * vector, kLevel.width}, level) : *this;
  }
};

}  // namespace fredsim::cpu
