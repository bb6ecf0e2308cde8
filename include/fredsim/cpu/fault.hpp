#pragma once
// Architectural faults, modelled as values: a guest-writable bad value raises
// #GP or #UD in the model, it never throws in the simulator (docs/architecture.md "Conventions").
#include <cstdint>
#include <string_view>

namespace fredsim::cpu {

enum class Fault : std::uint8_t {
  none,
  gp,  // #GP(0), vector 13
  ud,  // #UD, vector 6
};

constexpr std::string_view fault_name(Fault f) {
  switch (f) {
    case Fault::none:
      return "none";
    case Fault::gp:
      return "#GP";
    case Fault::ud:
      return "#UD";
  }
  return "?";
}

/// RDMSR's outcome: the value, or a fault (value 0 then).
struct MsrRead {
  Fault fault = Fault::none;
  std::uint64_t value = 0;
  bool ok() const { return fault == Fault::none; }
};

}  // namespace fredsim::cpu
