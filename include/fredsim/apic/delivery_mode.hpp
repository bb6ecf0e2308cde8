#pragma once
// Delivery modes of ICR and LVT entries (docs/hardware.md §3 "Local APIC": bits 10:8).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fredsim::apic {

enum class DeliveryMode : std::uint8_t {
  fixed = 0,
  lowest_priority = 1,
  smi = 2,
  remote_read = 3,  // obsolete
  nmi = 4,
  init = 5,
  startup = 6,
  extint = 7,
};
inline constexpr std::uint32_t kDeliveryModeCount = 8;

constexpr std::string_view delivery_mode_name(DeliveryMode m) {
  switch (m) {
    case DeliveryMode::fixed:
      return "fixed";
    case DeliveryMode::lowest_priority:
      return "lowest_priority";
    case DeliveryMode::smi:
      return "smi";
    case DeliveryMode::remote_read:
      return "remote_read";
    case DeliveryMode::nmi:
      return "nmi";
    case DeliveryMode::init:
      return "init";
    case DeliveryMode::startup:
      return "startup";
    case DeliveryMode::extint:
      return "extint";
  }
  return "?";
}

constexpr std::size_t index_of(DeliveryMode m) {
  return static_cast<std::size_t>(m);
}

}  // namespace fredsim::apic
