#pragma once
// Local vector table entries (docs/hardware.md §3 "Local APIC"): which LVTs exist, where they live,
// which fields each has, and LvtEntry, the typed value of one entry.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/delivery_mode.hpp"
#include "fredsim/sim/register_value.hpp"

namespace fredsim::apic {

/// The LVT entries, in register-offset order.
enum class Lvt : std::uint8_t { cmci, timer, thermal, perfmon, lint0, lint1, error };

enum class Polarity : std::uint8_t { active_high = 0, active_low = 1 };
enum class LvtTrigger : std::uint8_t { edge = 0, level = 1 };
enum class TimerMode : std::uint8_t { one_shot = 0, periodic = 1, tsc_deadline = 2 };

/// The static description of one LVT register.
struct LvtInfo {
  Lvt lvt;
  std::string_view name;
  std::uint32_t offset;     // xAPIC MMIO offset
  std::uint32_t msr;        // x2APIC MSR
  bool has_delivery_mode;   // not timer, not error
  bool has_lint_fields;     // polarity, remote IRR, trigger: LINT0/1 only
  bool has_timer_mode;      // timer only
  std::uint32_t writable;   // bits software can set
  std::uint32_t read_only;  // bits that read back but ignore writes
};

namespace detail {
inline constexpr std::uint32_t kLvtVectorMask = static_cast<std::uint32_t>(kLvtVector.mask());
inline constexpr std::uint32_t kLvtDmMask = static_cast<std::uint32_t>(kLvtDeliveryMode.mask());
inline constexpr std::uint32_t kLvtBasic = kLvtVectorMask | APIC_LVT_MASKED;
inline constexpr std::uint32_t kLvtLint =
    kLvtBasic | kLvtDmMask | APIC_INPUT_POLARITY | APIC_LVT_LEVEL_TRIGGER;
inline constexpr std::uint32_t kLvtTimer =
    kLvtBasic | static_cast<std::uint32_t>(kLvtTimerMode.mask());
}  // namespace detail

/// docs/hardware.md §3 "Local APIC": offsets, MSRs and fields per LVT.
inline constexpr std::array<LvtInfo, kLvtCount> kLvtInfo{{
    {Lvt::cmci, "cmci", APIC_LVTCMCI, X2APIC_LVTCMCI_MSR, true, false, false,
     detail::kLvtBasic | detail::kLvtDmMask, APIC_SEND_PENDING},
    {Lvt::timer, "timer", APIC_LVTT, X2APIC_LVTT_MSR, false, false, true, detail::kLvtTimer,
     APIC_SEND_PENDING},
    {Lvt::thermal, "thermal", APIC_LVTTHMR, X2APIC_LVTTHMR_MSR, true, false, false,
     detail::kLvtBasic | detail::kLvtDmMask, APIC_SEND_PENDING},
    {Lvt::perfmon, "perfmon", APIC_LVTPC, X2APIC_LVTPC_MSR, true, false, false,
     detail::kLvtBasic | detail::kLvtDmMask, APIC_SEND_PENDING},
    {Lvt::lint0, "lint0", APIC_LVT0, X2APIC_LVT0_MSR, true, true, false, detail::kLvtLint,
     APIC_SEND_PENDING | APIC_LVT_REMOTE_IRR},
    {Lvt::lint1, "lint1", APIC_LVT1, X2APIC_LVT1_MSR, true, true, false, detail::kLvtLint,
     APIC_SEND_PENDING | APIC_LVT_REMOTE_IRR},
    {Lvt::error, "error", APIC_LVTERR, X2APIC_LVTERR_MSR, false, false, false, detail::kLvtBasic,
     APIC_SEND_PENDING},
}};

constexpr std::size_t index_of(Lvt l) {
  return static_cast<std::size_t>(l);
}
constexpr const LvtInfo& lvt_info(Lvt l) {
  return kLvtInfo[index_of(l)];
}
constexpr std::string_view lvt_name(Lvt l) {
  return lvt_info(l).name;
}

/// The LVT at an xAPIC offset, if any.
constexpr std::optional<Lvt> lvt_at_offset(std::uint32_t offset) {
  for (const auto& i : kLvtInfo) {
    if (i.offset == offset) return i.lvt;
  }
  return std::nullopt;
}

/// One LVT entry's value. Fields an LVT does not have read as 0 in its raw value.
class LvtEntry : public RegisterValue<LvtEntry, std::uint32_t> {
 public:
  using RegisterValue::RegisterValue;
  /// An NMI-mode entry with the given source vector, unmasked.
  static constexpr LvtEntry nmi(std::uint8_t vector = 0) {
    return LvtEntry{}.with_delivery_mode(DeliveryMode::nmi).with_vector(vector);
  }

  /// The value after reset: masked, everything else 0 (SDM 11.4.7.1).
  static constexpr LvtEntry reset() { return LvtEntry(kLvtReset); }

  constexpr std::uint8_t vector() const { return get<std::uint8_t>(kLvtVector); }
  constexpr DeliveryMode delivery_mode() const { return get<DeliveryMode>(kLvtDeliveryMode); }
  constexpr bool delivery_status() const { return get<bool>(kLvtDeliveryStatus); }
  constexpr Polarity polarity() const { return get<Polarity>(kLvtPolarity); }
  constexpr bool remote_irr() const { return get<bool>(kLvtRemoteIrr); }
  constexpr LvtTrigger trigger() const { return get<LvtTrigger>(kLvtTrigger); }
  constexpr bool masked() const { return get<bool>(kLvtMask); }
  constexpr TimerMode timer_mode() const { return get<TimerMode>(kLvtTimerMode); }

  constexpr LvtEntry with_vector(std::uint8_t v) const { return with(kLvtVector, v); }
  constexpr LvtEntry with_delivery_mode(DeliveryMode m) const { return with(kLvtDeliveryMode, m); }
  constexpr LvtEntry with_delivery_status(bool pending) const {
    return with(kLvtDeliveryStatus, pending);
  }
  constexpr LvtEntry with_polarity(Polarity p) const { return with(kLvtPolarity, p); }
  constexpr LvtEntry with_remote_irr(bool v) const { return with(kLvtRemoteIrr, v); }
  constexpr LvtEntry with_trigger(LvtTrigger t) const { return with(kLvtTrigger, t); }
  constexpr LvtEntry with_masked(bool m) const { return with(kLvtMask, m); }
  constexpr LvtEntry with_timer_mode(TimerMode t) const { return with(kLvtTimerMode, t); }
};

}  // namespace fredsim::apic
