// FredConfig and FredStklvls field extraction (docs/hardware.md §1 "FRED event delivery"
// "Enumeration and control").
#include "fredsim/cpu/fred_msrs.hpp"

#include <gtest/gtest.h>

#include <cstdint>

#include "fredsim/cpu/arch.hpp"

namespace fredsim::cpu {
namespace {

TEST(FredConfig, FieldsOfAHandBuiltValue) {
  // Entry page 0xFFFFFFFF81A00000, bits 1:0 = 3, bit 3 shadow-stack space, red zone
  // 1 line (bits 8:6 = 1 -> 0x40), interrupt level 2 (bits 10:9 = 2 -> 0x400).
  const FredConfig c(0xFFFFFFFF81A00000ull | 0x3 | 0x8 | 0x40 | 0x400);
  EXPECT_EQ(c.entry_page(), 0xFFFFFFFF81A00000ull);
  EXPECT_EQ(c.csl_field(), 3);
  EXPECT_TRUE(c.shadow_stack_space());
  EXPECT_EQ(c.red_zone_bytes(), 64u);
  EXPECT_EQ(c.interrupt_stack_level(), 2);
}

TEST(FredConfig, EachFieldAlone) {
  EXPECT_EQ(FredConfig(0x1).csl_field(), 1);
  EXPECT_EQ(FredConfig(0x2).csl_field(), 2);
  EXPECT_FALSE(FredConfig(0x7).shadow_stack_space());  // bits 2:0 are not bit 3
  EXPECT_TRUE(FredConfig(0x8).shadow_stack_space());
  // Red zone: bits 8:6 in 64-byte units; bit 5 and bit 9 are outside it.
  EXPECT_EQ(FredConfig(0x1C0).red_zone_bytes(), 7u * 64);
  EXPECT_EQ(FredConfig(0x80).red_zone_bytes(), 128u);
  EXPECT_EQ(FredConfig(0x20 | 0x200).red_zone_bytes(), 0u);
  // Interrupt level: bits 10:9.
  EXPECT_EQ(FredConfig(0x600).interrupt_stack_level(), 3);
  EXPECT_EQ(FredConfig(0x200).interrupt_stack_level(), 1);
  EXPECT_EQ(FredConfig(0x800 | 0x100).interrupt_stack_level(), 0);  // bit 11, bit 8
  // Entry page: bits 63:12.
  EXPECT_EQ(FredConfig(0xFFF).entry_page(), 0u);
  EXPECT_EQ(FredConfig(0x1000).entry_page(), 0x1000u);
  EXPECT_EQ(FredConfig(~std::uint64_t{0}).entry_page(), 0xFFFFFFFFFFFFF000ull);
}

TEST(FredConfig, AllOnes) {
  const FredConfig c(~std::uint64_t{0});
  EXPECT_EQ(c.csl_field(), 3);
  EXPECT_TRUE(c.shadow_stack_space());
  EXPECT_EQ(c.red_zone_bytes(), 448u);
  EXPECT_EQ(c.interrupt_stack_level(), 3);
}

TEST(FredConfig, MakeBuildsLinuxValue) {
  // Linux: entry page | FRED_CONFIG_REDZONE(1 line) | interrupt level 0.
  EXPECT_EQ(FredConfig::make(0xFFFFFFFF81A00000ull, 1, 0).encode(), 0xFFFFFFFF81A00040ull);
  EXPECT_EQ(FredConfig::make(0xFFFFFFFF81A00123ull, 7, 3).encode(),
            0xFFFFFFFF81A00000ull | 0x1C0 | 0x600);   // page offset dropped
  EXPECT_EQ(FredConfig::make(0, 8, 4).encode(), 0u);  // out-of-range fields cut
}

TEST(FredConfig, ReservedBitsAre2_4_5_11) {
  EXPECT_EQ(arch::kConfigReservedMask, 0x834u);  // 0x4 | 0x10 | 0x20 | 0x800
}

TEST(FredStklvls, LinuxSettingsHandComputed) {
  // #DB level 1: bits 3:2 = 01; NMI level 2: bits 5:4 = 10; #DF level 3: bits
  // 17:16 = 11; #MC level 2: bits 37:36 = 10.
  constexpr std::uint64_t raw = 0x4 | 0x20 | 0x30000 | 0x2000000000ull;
  const FredStklvls s(raw);
  EXPECT_EQ(s.level(1), 1);
  EXPECT_EQ(s.level(2), 2);
  EXPECT_EQ(s.level(8), 3);
  EXPECT_EQ(s.level(18), 2);
  for (unsigned v : {0u, 3u, 6u, 7u, 13u, 14u, 17u, 19u, 31u}) {
    EXPECT_EQ(s.level(v), 0) << "vector " << v;
  }
  FredStklvls built;
  built.set_level(1, 1).set_level(2, 2).set_level(8, 3).set_level(18, 2);
  EXPECT_EQ(built.encode(), raw);
}

TEST(FredStklvls, EveryVectorAtBits2vPlus1To2v) {
  for (unsigned v = 0; v < 32; ++v) {
    for (unsigned lvl = 0; lvl < 4; ++lvl) {
      FredStklvls s;
      s.set_level(v, lvl);
      EXPECT_EQ(s.encode(), std::uint64_t{lvl} << (2 * v)) << v;
      EXPECT_EQ(s.level(v), lvl);
    }
  }
  const FredStklvls ones(~std::uint64_t{0});
  EXPECT_EQ(ones.level(0), 3);
  EXPECT_EQ(ones.level(31), 3);
  EXPECT_EQ(ones.level(32), 0);  // vectors 32+ have no field: level 0
  EXPECT_EQ(ones.level(255), 0);
  FredStklvls s(~std::uint64_t{0});
  s.set_level(5, 0);
  EXPECT_EQ(s.encode(), ~std::uint64_t{0} & ~(std::uint64_t{3} << 10));
  s.set_level(40, 3);  // ignored
  EXPECT_EQ(s.encode(), ~std::uint64_t{0} & ~(std::uint64_t{3} << 10));
}

TEST(Arch, NmiSourceBitRule) {
  // docs/hardware.md §2 "NMI-source reporting": vector v in 1..15 sets bit v; 0 or >= 16 sets bit
  // 0.
  EXPECT_EQ(arch::nmi_source_bit(0), 0x1);
  EXPECT_EQ(arch::nmi_source_bit(1), 0x2);
  EXPECT_EQ(arch::nmi_source_bit(2), 0x4);
  EXPECT_EQ(arch::nmi_source_bit(7), 0x80);
  EXPECT_EQ(arch::nmi_source_bit(15), 0x8000);
  EXPECT_EQ(arch::nmi_source_bit(16), 0x1);
  EXPECT_EQ(arch::nmi_source_bit(255), 0x1);
  EXPECT_EQ(arch::nmi_source_bit(1000), 0x1);
  EXPECT_EQ(arch::nmi_source_bit(0xFFFFFFFFu), 0x1);
}

TEST(Arch, Canonical) {
  EXPECT_TRUE(arch::is_canonical(0));
  EXPECT_TRUE(arch::is_canonical(0x00007FFFFFFFFFFFull));
  EXPECT_FALSE(arch::is_canonical(0x0000800000000000ull));
  EXPECT_TRUE(arch::is_canonical(0xFFFF800000000000ull));
  EXPECT_FALSE(arch::is_canonical(0xFFFF7FFFFFFFFFFFull));
  EXPECT_FALSE(arch::is_canonical(0x8000000000000000ull));
}

TEST(Arch, ConstantsMatchTheReference) {
  EXPECT_EQ(arch::kCr4Fred, 0x100000000ull);
  EXPECT_EQ(arch::kMsrFredRsp0, 0x1CCu);
  EXPECT_EQ(arch::kMsrFredRsp3, 0x1CFu);
  EXPECT_EQ(arch::kMsrFredStklvls, 0x1D0u);
  EXPECT_EQ(arch::kMsrFredSsp1, 0x1D1u);
  EXPECT_EQ(arch::kMsrFredSsp3, 0x1D3u);
  EXPECT_EQ(arch::kMsrFredConfig, 0x1D4u);
  EXPECT_EQ(arch::kMsrPl0Ssp, 0x6A4u);
  EXPECT_EQ(arch::kEretsRflagsMask, 0xFFFFFFFFFFC2802Aull);
  EXPECT_EQ(arch::kEretuRflagsMask, 0xFFFFFFFFFFC2B02Aull);
  EXPECT_EQ(arch::kRing0EntryOffset, 256u);
}

}  // namespace
}  // namespace fredsim::cpu
