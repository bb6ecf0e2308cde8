#include "fredsim/apic/icr.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace fredsim::apic {
namespace {

TEST(IcrValue, DefaultIsAllZero) {
  constexpr IcrValue v;
  EXPECT_EQ(v.raw(), 0u);
  EXPECT_EQ(v.delivery_mode(), DeliveryMode::fixed);
  EXPECT_EQ(v.shorthand(), Shorthand::none);
  EXPECT_EQ(v.dest_mode(), DestMode::physical);
}

TEST(IcrValue, HandComputedNmiUnicast) {
  // NMI mode 0x400 | vector 4, destination 3 in bits 63:32 (docs/hardware.md §3 "Local APIC").
  constexpr IcrValue v = IcrValue::nmi(3, 4);
  static_assert(v.raw() == 0x0000'0003'0000'0404ull);
  EXPECT_EQ(v.raw(), 0x0000'0003'0000'0404ull);
  EXPECT_EQ(v.low(), 0x404u);
  EXPECT_EQ(v.xapic_high(), 0x0300'0000u);
}

TEST(IcrValue, HandComputedLinuxShorthandWords) {
  // Linux: APIC_DEST_ALLBUT | APIC_DM_NMI | vector (NMI-source on).
  const IcrValue allbut(APIC_DEST_ALLBUT | APIC_DM_NMI | 4);
  EXPECT_EQ(allbut.raw(), 0xC0404u);
  EXPECT_EQ(allbut.shorthand(), Shorthand::all_excluding_self);
  EXPECT_EQ(allbut.delivery_mode(), DeliveryMode::nmi);
  EXPECT_EQ(allbut.vector(), 4);
  EXPECT_EQ(IcrValue(APIC_DEST_SELF).shorthand(), Shorthand::self);
  EXPECT_EQ(IcrValue(APIC_DEST_ALLINC).shorthand(), Shorthand::all_including_self);
  EXPECT_EQ(IcrValue{}.with_shorthand(Shorthand::all_including_self).raw(), APIC_DEST_ALLINC);
}

TEST(IcrValue, HandComputedEveryField) {
  const IcrValue v = IcrValue{}
                         .with_vector(0xEF)
                         .with_delivery_mode(DeliveryMode::fixed)
                         .with_dest_mode(DestMode::logical)
                         .with_level(Level::assert)
                         .with_trigger(Trigger::level)
                         .with_destination(0x0002'0005);
  // 0xEF | logical 0x800 | assert 0x4000 | level 0x8000, destination << 32.
  EXPECT_EQ(v.raw(), 0x0002'0005'0000'C8EFull);
  EXPECT_EQ(IcrValue{}.with_delivery_mode(DeliveryMode::init).raw(), APIC_DM_INIT);
  EXPECT_EQ(IcrValue{}.with_delivery_mode(DeliveryMode::startup).with_vector(0x9A).raw(), 0x69Au);
  EXPECT_EQ(IcrValue{}.with_delivery_status(true).raw(), APIC_ICR_BUSY);
  EXPECT_EQ(IcrValue{}.with_delivery_mode(DeliveryMode::extint).raw(), APIC_DM_MASK);
}

TEST(IcrValue, EachSetterTouchesOnlyItsField) {
  const IcrValue all_ones(~std::uint64_t{0});
  EXPECT_EQ(all_ones.with_vector(0).raw(), ~std::uint64_t{0xFF});
  EXPECT_EQ(all_ones.with_delivery_mode(DeliveryMode::fixed).raw(), ~std::uint64_t{APIC_DM_MASK});
  EXPECT_EQ(all_ones.with_dest_mode(DestMode::physical).raw(), ~std::uint64_t{APIC_DEST_LOGICAL});
  EXPECT_EQ(all_ones.with_delivery_status(false).raw(), ~std::uint64_t{APIC_ICR_BUSY});
  EXPECT_EQ(all_ones.with_level(Level::deassert).raw(), ~std::uint64_t{APIC_INT_ASSERT});
  EXPECT_EQ(all_ones.with_trigger(Trigger::edge).raw(), ~std::uint64_t{APIC_INT_LEVELTRIG});
  EXPECT_EQ(all_ones.with_shorthand(Shorthand::none).raw(), ~std::uint64_t{APIC_SHORT_MASK});
  EXPECT_EQ(all_ones.with_destination(0).raw(), 0xFFFF'FFFFull);
}

TEST(IcrValue, EveryFieldRoundTrips) {
  for (std::uint32_t mode = 0; mode < kDeliveryModeCount; ++mode) {
    for (std::uint32_t sh = 0; sh < 4; ++sh) {
      for (std::uint32_t bits = 0; bits < 16; ++bits) {
        const auto vector = static_cast<std::uint8_t>(mode * 37 + sh * 11 + bits);
        const std::uint32_t dest = 0x8000'0001u ^ (bits * 0x0101'0101u) ^ mode;
        const IcrValue v = IcrValue{}
                               .with_vector(vector)
                               .with_delivery_mode(static_cast<DeliveryMode>(mode))
                               .with_dest_mode(static_cast<DestMode>(bits & 1))
                               .with_delivery_status((bits & 2) != 0)
                               .with_level(static_cast<Level>((bits >> 2) & 1))
                               .with_trigger(static_cast<Trigger>((bits >> 3) & 1))
                               .with_shorthand(static_cast<Shorthand>(sh))
                               .with_destination(dest);
        const IcrValue back(v.raw());
        EXPECT_EQ(back.vector(), vector);
        EXPECT_EQ(back.delivery_mode(), static_cast<DeliveryMode>(mode));
        EXPECT_EQ(back.dest_mode(), static_cast<DestMode>(bits & 1));
        EXPECT_EQ(back.delivery_status(), (bits & 2) != 0);
        EXPECT_EQ(back.level(), static_cast<Level>((bits >> 2) & 1));
        EXPECT_EQ(back.trigger(), static_cast<Trigger>((bits >> 3) & 1));
        EXPECT_EQ(back.shorthand(), static_cast<Shorthand>(sh));
        EXPECT_EQ(back.destination(), dest);
        EXPECT_EQ(back, v);
      }
    }
  }
}

TEST(IcrValue, DecodeThenEncodeKeepsEveryDefinedBit) {
  std::uint64_t x = 0x9E37'79B9'7F4A'7C15ull;
  const std::uint64_t defined = kIcrX2apicWritable | kIcrDeliveryStatus.mask();
  for (int i = 0; i < 1000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const IcrValue d(x);
    const IcrValue rebuilt = IcrValue{}
                                 .with_vector(d.vector())
                                 .with_delivery_mode(d.delivery_mode())
                                 .with_dest_mode(d.dest_mode())
                                 .with_delivery_status(d.delivery_status())
                                 .with_level(d.level())
                                 .with_trigger(d.trigger())
                                 .with_shorthand(d.shorthand())
                                 .with_destination(d.destination());
    ASSERT_EQ(rebuilt.raw(), x & defined) << std::hex << x;
  }
}

TEST(IcrValue, XapicWordsRoundTrip) {
  // ICR2 carries the destination in bits 31:24; its other bits are reserved.
  const IcrValue v = IcrValue::from_xapic(APIC_DM_NMI | APIC_DEST_LOGICAL | 7, 0xA5FF'FFFFu);
  EXPECT_EQ(v.destination(), 0xA5u);
  EXPECT_EQ(v.vector(), 7);
  EXPECT_EQ(v.dest_mode(), DestMode::logical);
  EXPECT_EQ(v.raw(), 0x0000'00A5'0000'0C07ull);
  EXPECT_EQ(v.xapic_high(), 0xA500'0000u);
  EXPECT_EQ(IcrValue::from_xapic(v.low(), v.xapic_high()), v);
  // An x2APIC destination wider than 8 bits keeps only its low byte in ICR2.
  EXPECT_EQ(IcrValue::nmi(0x1234).xapic_high(), 0x3400'0000u);
}

TEST(DeliveryMode, NamesAndLinuxConstants) {
  EXPECT_EQ(delivery_mode_name(DeliveryMode::nmi), "nmi");
  EXPECT_EQ(delivery_mode_name(DeliveryMode::startup), "startup");
  EXPECT_EQ(IcrValue(APIC_DM_NMI).delivery_mode(), DeliveryMode::nmi);
  EXPECT_EQ(IcrValue(APIC_DM_INIT).delivery_mode(), DeliveryMode::init);
  EXPECT_EQ(IcrValue(APIC_DM_STARTUP).delivery_mode(), DeliveryMode::startup);
  EXPECT_EQ(IcrValue(APIC_DM_SMI).delivery_mode(), DeliveryMode::smi);
  EXPECT_EQ(IcrValue(APIC_DM_LOWEST).delivery_mode(), DeliveryMode::lowest_priority);
}

}  // namespace
}  // namespace fredsim::apic
