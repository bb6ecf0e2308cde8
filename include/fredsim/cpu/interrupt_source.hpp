#pragma once
// The maskable-interrupt input (INTR) as the CPU sees it. The local APIC holds
// the requests (its IRR) and implements this interface, so the CPU takes a
// fixed interrupt without knowing the APIC (docs/architecture.md "Layers":
// upward calls go through interfaces the lower layer declares).
#include <cstdint>

namespace fredsim::cpu {

class InterruptSource {
 public:
  /// The vector the controller would hand the CPU now, or -1 when none is
  /// requested (SDM Vol. 3A ch. 11 "Interrupt Acceptance for Fixed Interrupts":
  /// the highest-priority IRR bit).
  virtual int pending_interrupt() const = 0;
  /// The CPU takes `vector` (the interrupt acknowledge cycle): it moves from the
  /// IRR to the ISR, where it stays until an EOI.
  virtual void acknowledge_interrupt(std::uint8_t vector) = 0;

 protected:
  ~InterruptSource() = default;
};

}  // namespace fredsim::cpu
