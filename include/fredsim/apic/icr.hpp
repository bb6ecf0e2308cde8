#pragma once
// The Interrupt Command Register as a typed value (docs/hardware.md §3 "Local APIC").
//
// The raw form is the 64-bit x2APIC layout: low word as in xAPIC, destination in
// bits 63:32. An xAPIC ICR (low word at 0x300, ICR2 at 0x310 with the 8-bit
// destination in bits 31:24) converts to and from it with from_xapic()/xapic_high().
#include <cstdint>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/delivery_mode.hpp"
#include "fredsim/sim/register_value.hpp"

namespace fredsim::apic {

enum class DestMode : std::uint8_t { physical = 0, logical = 1 };
enum class Shorthand : std::uint8_t {
  none = 0,
  self = 1,
  all_including_self = 2,
  all_excluding_self = 3,
};
enum class Level : std::uint8_t { deassert = 0, assert = 1 };
enum class Trigger : std::uint8_t { edge = 0, level = 1 };

class IcrValue : public RegisterValue<IcrValue, std::uint64_t> {
 public:
  using RegisterValue::RegisterValue;
  /// From the xAPIC words: `low` at 0x300, `high` (ICR2) at 0x310.
  static constexpr IcrValue from_xapic(std::uint32_t low, std::uint32_t high) {
    return IcrValue(kIcrX2apicDest.set(low, kIcr2XapicDest.get(high)));
  }
  /// An NMI-mode IPI to one physical destination; `vector` is the NMI-source vector.
  static constexpr IcrValue nmi(std::uint32_t destination, std::uint8_t vector = 0) {
    return IcrValue{}
        .with_delivery_mode(DeliveryMode::nmi)
        .with_vector(vector)
        .with_destination(destination);
  }

  /// The low word (xAPIC 0x300).
  constexpr std::uint32_t low() const { return static_cast<std::uint32_t>(raw()); }
  /// The xAPIC ICR2 word: destination bits 7:0 in bits 31:24.
  constexpr std::uint32_t xapic_high() const {
    return static_cast<std::uint32_t>(kIcr2XapicDest.set(0, destination()));
  }

  constexpr std::uint8_t vector() const { return get<std::uint8_t>(kIcrVector); }
  constexpr DeliveryMode delivery_mode() const { return get<DeliveryMode>(kIcrDeliveryMode); }
  constexpr DestMode dest_mode() const { return get<DestMode>(kIcrDestMode); }
  constexpr bool delivery_status() const { return get<bool>(kIcrDeliveryStatus); }
  constexpr Level level() const { return get<Level>(kIcrLevel); }
  constexpr Trigger trigger() const { return get<Trigger>(kIcrTrigger); }
  constexpr Shorthand shorthand() const { return get<Shorthand>(kIcrShorthand); }
  constexpr std::uint32_t destination() const { return get<std::uint32_t>(kIcrX2apicDest); }

  constexpr IcrValue with_vector(std::uint8_t v) const { return with(kIcrVector, v); }
  constexpr IcrValue with_delivery_mode(DeliveryMode m) const { return with(kIcrDeliveryMode, m); }
  constexpr IcrValue with_dest_mode(DestMode m) const { return with(kIcrDestMode, m); }
  constexpr IcrValue with_delivery_status(bool pending) const {
    return with(kIcrDeliveryStatus, pending);
  }
  constexpr IcrValue with_level(Level l) const { return with(kIcrLevel, l); }
  constexpr IcrValue with_trigger(Trigger t) const { return with(kIcrTrigger, t); }
  constexpr IcrValue with_shorthand(Shorthand s) const { return with(kIcrShorthand, s); }
  constexpr IcrValue with_destination(std::uint32_t d) const { return with(kIcrX2apicDest, d); }
};

}  // namespace fredsim::apic
