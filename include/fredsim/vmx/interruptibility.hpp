#pragma once
// Guest interruptibility state, field 0x4824 (hardware.md §4; SDM Vol. 3C
// "Guest Non-Register State").
#include <cstdint>

#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

class Interruptibility {
 public:
  static constexpr BitField kBlockingBySti{0, 1};
  static constexpr BitField kBlockingByMovSs{1, 1};
  static constexpr BitField kBlockingBySmi{2, 1};
  /// Blocking by NMI; with the "virtual NMIs" control it is virtual-NMI blocking.
  static constexpr BitField kBlockingByNmi{3, 1};

  constexpr Interruptibility() = default;
  constexpr explicit Interruptibility(std::uint32_t raw) : raw_(raw) {}
  static constexpr Interruptibility decode(std::uint64_t raw) {
    return Interruptibility(static_cast<std::uint32_t>(raw));
  }
  constexpr std::uint32_t encode() const { return raw_; }

  constexpr bool blocking_by_sti() const { return kBlockingBySti.get(raw_) != 0; }
  constexpr bool blocking_by_mov_ss() const { return kBlockingByMovSs.get(raw_) != 0; }
  constexpr bool blocking_by_smi() const { return kBlockingBySmi.get(raw_) != 0; }
  constexpr bool blocking_by_nmi() const { return kBlockingByNmi.get(raw_) != 0; }
  constexpr Interruptibility& set_blocking_by_nmi(bool v) {
    raw_ = static_cast<std::uint32_t>(kBlockingByNmi.set(raw_, v));
    return *this;
  }

  friend constexpr bool operator==(Interruptibility, Interruptibility) = default;

 private:
  std::uint32_t raw_ = 0;
};

}  // namespace fredsim::vmx
