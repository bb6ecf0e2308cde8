#pragma once
// A 256-bit register of interrupt vectors, a bit a vector: the local APIC's
// IRR, ISR and TMR (SDM Vol. 3A ch. 11 "Interrupt Acceptance for Fixed
// Interrupts"), and KVM's emulated APIC's IRR (kernel/vm.hpp).
#include <array>
#include <bit>
#include <cstdint>

namespace fredsim::apic {

using VectorBits = std::array<std::uint64_t, 4>;

inline void set_vector(VectorBits& b, std::uint8_t v) {
  b[v / 64] |= std::uint64_t{1} << (v % 64);
}
inline void clear_vector(VectorBits& b, std::uint8_t v) {
  b[v / 64] &= ~(std::uint64_t{1} << (v % 64));
}
inline bool has_vector(const VectorBits& b, std::uint8_t v) {
  return ((b[v / 64] >> (v % 64)) & 1) != 0;
}
/// The highest vector set, or -1 (the priority order of the IRR and ISR).
inline int highest_vector(const VectorBits& b) {
  for (int w = static_cast<int>(b.size()) - 1; w >= 0; --w) {
    if (b[w] != 0) return w * 64 + 63 - std::countl_zero(b[w]);
  }
  return -1;
}

}  // namespace fredsim::apic
