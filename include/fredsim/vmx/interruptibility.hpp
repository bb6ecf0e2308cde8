#pragma once
// Guest interruptibility state, field 0x4824 (docs/hardware.md §4 "VMX"; SDM Vol. 3C
// "Guest Non-Register State").
#include <cstdint>

#include "fredsim/sim/register_value.hpp"
#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

class Interruptibility : public RegisterValue<Interruptibility, std::uint32_t> {
 public:
  static constexpr BitField kBlockingBySti{0, 1};
  static constexpr BitField kBlockingByMovSs{1, 1};
  static constexpr BitField kBlockingBySmi{2, 1};
  /// Blocking by NMI; with the "virtual NMIs" control it is virtual-NMI blocking.
  static constexpr BitField kBlockingByNmi{3, 1};

  using RegisterValue::RegisterValue;

  constexpr bool blocking_by_sti() const { return get<bool>(kBlockingBySti); }
  constexpr bool blocking_by_mov_ss() const { return get<bool>(kBlockingByMovSs); }
  constexpr bool blocking_by_smi() const { return get<bool>(kBlockingBySmi); }
  constexpr bool blocking_by_nmi() const { return get<bool>(kBlockingByNmi); }
  constexpr Interruptibility& set_blocking_by_nmi(bool v) { return set(kBlockingByNmi, v); }
};

}  // namespace fredsim::vmx
