#pragma once
// Typed views of IA32_FRED_CONFIG and IA32_FRED_STKLVLS (hardware.md §1).
#include <cstdint>

#include "fredsim/cpu/arch.hpp"

namespace fredsim::cpu {

class FredConfig {
 public:
  constexpr FredConfig() = default;
  constexpr explicit FredConfig(std::uint64_t raw) : raw_(raw) {}
  constexpr std::uint64_t encode() const { return raw_; }

  /// Bits 1:0 of the MSR. (The CPU's current stack level is its own state.)
  constexpr std::uint8_t csl_field() const { return raw_ & arch::kConfigCslMask; }
  constexpr bool shadow_stack_space() const { return raw_ & arch::kConfigShadowStackSpace; }
  /// The red zone in bytes (bits 8:6 in 64-byte units).
  constexpr std::uint64_t red_zone_bytes() const {
    return ((raw_ >> arch::kConfigRedZoneShift) & arch::kConfigRedZoneMask) * 64;
  }
  constexpr std::uint8_t interrupt_stack_level() const {
    return (raw_ >> arch::kConfigIntLevelShift) & arch::kConfigIntLevelMask;
  }
  constexpr std::uint64_t entry_page() const { return raw_ & arch::kConfigEntryPageMask; }

  /// Builds a value from its fields.
  static constexpr FredConfig make(std::uint64_t entry_page, unsigned red_zone_lines,
                                   unsigned interrupt_level) {
    return FredConfig(
        (entry_page & arch::kConfigEntryPageMask) |
        ((red_zone_lines & arch::kConfigRedZoneMask) << arch::kConfigRedZoneShift) |
        ((interrupt_level & arch::kConfigIntLevelMask) << arch::kConfigIntLevelShift));
  }

 private:
  std::uint64_t raw_ = 0;
};

/// IA32_FRED_STKLVLS: two bits per vector 0..31, vector v at bits 2v+1:2v.
class FredStklvls {
 public:
  constexpr FredStklvls() = default;
  constexpr explicit FredStklvls(std::uint64_t raw) : raw_(raw) {}
  constexpr std::uint64_t encode() const { return raw_; }
  constexpr std::uint8_t level(unsigned vector) const {
    return vector < 32 ? (raw_ >> (2 * vector)) & 0x3 : 0;
  }
  constexpr FredStklvls& set_level(unsigned vector, unsigned level) {
    if (vector < 32) {
      raw_ = (raw_ & ~(std::uint64_t{3} << (2 * vector))) |
             (std::uint64_t{level & 3u} << (2 * vector));
    }
    return *this;
  }

 private:
  std::uint64_t raw_ = 0;
};

}  // namespace fredsim::cpu
