#pragma once
// The mode of a local APIC, as IA32_APIC_BASE's EN and EXTD bits select it. The
// machine and the scenario layer name an APIC mode with this enum too.
#include <cstdint>
#include <string_view>

namespace fredsim::apic {

/// IA32_APIC_BASE EN/EXTD: disabled (0/0), xAPIC (1/0), x2APIC (1/1).
enum class ApicMode : std::uint8_t { disabled, xapic, x2apic };
constexpr std::string_view apic_mode_name(ApicMode m) {
  switch (m) {
    case ApicMode::disabled:
      return "disabled";
    case ApicMode::xapic:
      return "xapic";
    case ApicMode::x2apic:
      return "x2apic";
  }
  return "?";
}

}  // namespace fredsim::apic
