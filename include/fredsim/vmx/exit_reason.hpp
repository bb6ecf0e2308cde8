#pragma once
// The exit-reason field 0x4402: basic reason in bits 15:0, bit 31 "VM-entry
// failure" (SDM Vol. 3C "Basic VM-Exit Information").
#include <cstddef>
#include <cstdint>

#include "fredsim/vmx/fields.hpp"

namespace fredsim::vmx {

/// Basic exit reasons the model produces (SDM Vol. 3C Appendix C).
enum class BasicExitReason : std::uint16_t {
  exception_or_nmi = 0,      // hardware.md §4
  invalid_guest_state = 33,  // VM-entry failure due to invalid guest state
};

/// Basic reasons are below this (the stats array's size; SDM reasons end near 80).
inline constexpr std::size_t kBasicExitReasonCount = 96;

class ExitReason {
 public:
  static constexpr BitField kBasic{0, 16};
  static constexpr BitField kEntryFailure{31, 1};

  constexpr ExitReason() = default;
  constexpr explicit ExitReason(std::uint32_t raw) : raw_(raw) {}
  static constexpr ExitReason decode(std::uint64_t raw) {
    return ExitReason(static_cast<std::uint32_t>(raw));
  }
  static constexpr ExitReason of(BasicExitReason r, bool entry_failure = false) {
    return ExitReason(static_cast<std::uint32_t>(
        kEntryFailure.set(kBasic.set(0, static_cast<std::uint64_t>(r)), entry_failure)));
  }
  constexpr std::uint32_t encode() const { return raw_; }
  constexpr std::uint16_t basic() const { return static_cast<std::uint16_t>(kBasic.get(raw_)); }
  constexpr bool entry_failure() const { return kEntryFailure.get(raw_) != 0; }

  friend constexpr bool operator==(ExitReason, ExitReason) = default;

 private:
  std::uint32_t raw_ = 0;
};

}  // namespace fredsim::vmx
