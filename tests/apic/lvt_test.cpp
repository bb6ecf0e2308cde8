#include "fredsim/apic/lvt.hpp"

#include <gtest/gtest.h>

namespace fredsim::apic {
namespace {

TEST(LvtInfo, OffsetsAndMsrsOfHardwareMdSection3) {
  struct Row {
    Lvt lvt;
    std::uint32_t offset;
    std::uint32_t msr;
  };
  const Row rows[] = {{Lvt::cmci, 0x2F0, 0x82F},    {Lvt::timer, 0x320, 0x832},
                      {Lvt::thermal, 0x330, 0x833}, {Lvt::perfmon, 0x340, 0x834},
                      {Lvt::lint0, 0x350, 0x835},   {Lvt::lint1, 0x360, 0x836},
                      {Lvt::error, 0x370, 0x837}};
  for (const auto& r : rows) {
    EXPECT_EQ(lvt_info(r.lvt).offset, r.offset) << lvt_name(r.lvt);
    EXPECT_EQ(lvt_info(r.lvt).msr, r.msr) << lvt_name(r.lvt);
    EXPECT_EQ(x2apic_msr(r.offset), r.msr);
    EXPECT_EQ(x2apic_offset(r.msr), r.offset);
    EXPECT_EQ(lvt_at_offset(r.offset), r.lvt);
  }
  EXPECT_FALSE(lvt_at_offset(APIC_ICR).has_value());
}

TEST(LvtInfo, FieldsPerEntry) {
  EXPECT_FALSE(lvt_info(Lvt::timer).has_delivery_mode);
  EXPECT_FALSE(lvt_info(Lvt::error).has_delivery_mode);
  EXPECT_TRUE(lvt_info(Lvt::perfmon).has_delivery_mode);
  EXPECT_TRUE(lvt_info(Lvt::lint1).has_lint_fields);
  EXPECT_FALSE(lvt_info(Lvt::thermal).has_lint_fields);
  EXPECT_TRUE(lvt_info(Lvt::timer).has_timer_mode);
  EXPECT_EQ(lvt_info(Lvt::perfmon).writable, 0x107FFu);
  EXPECT_EQ(lvt_info(Lvt::lint1).writable, 0x1A7FFu);
  EXPECT_EQ(lvt_info(Lvt::timer).writable, 0x700FFu);
  EXPECT_EQ(lvt_info(Lvt::error).writable, 0x100FFu);
}

TEST(LvtEntry, HandComputedValues) {
  EXPECT_EQ(LvtEntry::reset().raw(), APIC_LVT_MASKED);
  EXPECT_TRUE(LvtEntry::reset().masked());
  // Linux perf: apic_write(APIC_LVTPC, APIC_DM_NMI) with the PMI source vector 7.
  EXPECT_EQ(LvtEntry::nmi(7).raw(), APIC_DM_NMI | 7u);
  EXPECT_FALSE(LvtEntry::nmi(7).masked());
  EXPECT_EQ(
      LvtEntry{}.with_vector(0xEC).with_timer_mode(TimerMode::periodic).with_masked(true).raw(),
      0x300ECu);
  EXPECT_EQ(LvtEntry{}
                .with_delivery_mode(DeliveryMode::nmi)
                .with_trigger(LvtTrigger::level)
                .with_polarity(Polarity::active_low)
                .raw(),
            0xA400u);
}

TEST(LvtEntry, EveryFieldRoundTrips) {
  for (std::uint32_t mode = 0; mode < kDeliveryModeCount; ++mode) {
    for (std::uint32_t bits = 0; bits < 32; ++bits) {
      const auto vector = static_cast<std::uint8_t>(mode * 29 + bits);
      const auto timer = static_cast<TimerMode>(bits % 3);
      const LvtEntry e = LvtEntry{}
                             .with_vector(vector)
                             .with_delivery_mode(static_cast<DeliveryMode>(mode))
                             .with_delivery_status((bits & 1) != 0)
                             .with_polarity(static_cast<Polarity>((bits >> 1) & 1))
                             .with_remote_irr((bits & 4) != 0)
                             .with_trigger(static_cast<LvtTrigger>((bits >> 3) & 1))
                             .with_masked((bits & 16) != 0)
                             .with_timer_mode(timer);
      const LvtEntry back(e.raw());
      EXPECT_EQ(back.vector(), vector);
      EXPECT_EQ(back.delivery_mode(), static_cast<DeliveryMode>(mode));
      EXPECT_EQ(back.delivery_status(), (bits & 1) != 0);
      EXPECT_EQ(back.polarity(), static_cast<Polarity>((bits >> 1) & 1));
      EXPECT_EQ(back.remote_irr(), (bits & 4) != 0);
      EXPECT_EQ(back.trigger(), static_cast<LvtTrigger>((bits >> 3) & 1));
      EXPECT_EQ(back.masked(), (bits & 16) != 0);
      EXPECT_EQ(back.timer_mode(), timer);
      EXPECT_EQ(back, e);
    }
  }
}

TEST(LvtEntry, SettersTouchOnlyTheirField) {
  const LvtEntry ones(0xFFFF'FFFFu);
  EXPECT_EQ(ones.with_masked(false).raw(), ~APIC_LVT_MASKED);
  EXPECT_EQ(ones.with_vector(0).raw(), 0xFFFF'FF00u);
  EXPECT_EQ(ones.with_remote_irr(false).raw(), ~APIC_LVT_REMOTE_IRR);
  EXPECT_EQ(ones.with_timer_mode(TimerMode::one_shot).raw(), 0xFFF9'FFFFu);
}

TEST(BitField, MaskGetSet) {
  constexpr BitField f{8, 3};
  static_assert(f.mask() == 0x700);
  EXPECT_EQ(f.get(0xFFFF), 7u);
  EXPECT_EQ(f.set(0, 0xF), 0x700u) << "value truncated to the width";
  EXPECT_EQ(f.set(0xFFFF, 0), 0xF8FFu);
  constexpr BitField whole{0, 64};
  EXPECT_EQ(whole.mask(), ~std::uint64_t{0});
}

}  // namespace
}  // namespace fredsim::apic
