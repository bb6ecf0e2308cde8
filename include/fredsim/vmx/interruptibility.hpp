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
  /// Bits 31:4: bit 4 (enclave interruption) needs SGX, which the model does not
  /// have, so VM entry checks that all of them are 0 (SDM Vol. 3C "Checks on
  /// Guest Non-Register State": bits 31:5 must be 0; bit 4 only with SGX).
  static constexpr std::uint32_t kReservedMask = ~std::uint32_t{0xF};

  using RegisterValue::RegisterValue;

  constexpr bool blocking_by_sti() const { return get<bool>(kBlockingBySti); }
  constexpr bool blocking_by_mov_ss() const { return get<bool>(kBlockingByMovSs); }
  constexpr bool blocking_by_smi() const { return get<bool>(kBlockingBySmi); }
  constexpr bool blocking_by_nmi() const { return get<bool>(kBlockingByNmi); }
  constexpr Interruptibility& set_blocking_by_sti(bool v) { return set(kBlockingBySti, v); }
  constexpr Interruptibility& set_blocking_by_mov_ss(bool v) { return set(kBlockingByMovSs, v); }
  constexpr Interruptibility& set_blocking_by_nmi(bool v) { return set(kBlockingByNmi, v); }
};

/// Guest activity state, field 0x4826 (SDM Vol. 3C "Guest Non-Register State").
/// The model's processor supports active and HLT (IA32_VMX_MISC bit 6), not
/// shutdown or wait-for-SIPI, so VM entry rejects 2 and 3 like any value above 3.
enum class ActivityState : std::uint32_t {
  active = 0,
  hlt = 1,
  shutdown = 2,
  wait_for_sipi = 3,
};

}  // namespace fredsim::vmx
