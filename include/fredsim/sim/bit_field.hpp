#pragma once
// A field of a register, as a constexpr description (docs/architecture.md "Conventions": no
// C++ bitfields for architectural layouts, their order is implementation-defined).
#include <cstdint>

namespace fredsim {

/// Bits [shift, shift + width) of a 64-bit raw register value.
struct BitField {
  unsigned shift;
  unsigned width;

  constexpr std::uint64_t mask() const {
    return (width >= 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << width) - 1)) << shift;
  }
  constexpr std::uint64_t get(std::uint64_t raw) const { return (raw & mask()) >> shift; }
  /// `raw` with the field replaced by `value` (truncated to the field's width).
  constexpr std::uint64_t set(std::uint64_t raw, std::uint64_t value) const {
    return (raw & ~mask()) | ((value << shift) & mask());
  }
};

}  // namespace fredsim
