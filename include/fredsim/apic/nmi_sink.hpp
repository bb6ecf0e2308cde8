#pragma once
// How a local APIC signals its CPU (docs/architecture.md "Conventions": the APIC declares the
// interface, the pending NMI latch and source bitmap live in the CPU). The machine
// layer binds it to the CPU's raise_nmi(source_vector).
#include <cstdint>

#include "fredsim/apic/delivery_mode.hpp"

namespace fredsim::apic {

class NmiSink {
 public:
  /// An NMI reaches the CPU. `source_vector` is the vector field of the message or
  /// LVT entry (0..255); the CPU maps it to the NMI-source bitmap (docs/hardware.md §2 "NMI-source
  /// reporting": 1..15 set their bit, 0 and >= 16 set bit 0; LINT1 arrives as vector 2).
  virtual void assert_nmi(std::uint32_t source_vector) = 0;
  /// `count` NMIs with the same source, one after another at one cycle (identical
  /// messages that arrived together). Default: assert_nmi() `count` times.
  virtual void assert_nmis(std::uint32_t source_vector, std::uint64_t count) {
    for (; count != 0; --count)
      assert_nmi(source_vector);
  }
  /// A message of another delivery mode (fixed, SMI, INIT, start-up...) was accepted.
  /// The model only counts these; a sink may watch them. Default: ignored.
  virtual void accept_message(DeliveryMode mode, std::uint8_t vector) {
    (void)mode;
    (void)vector;
  }

 protected:
  ~NmiSink() = default;
};

}  // namespace fredsim::apic
