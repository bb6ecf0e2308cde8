// FredSs, FredCs and FredFrame against the layout of docs/hardware.md §1 "The frame".
#include "fredsim/cpu/fred_frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace fredsim::cpu {
namespace {

constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};

// --- FredSs: each field alone lands on its bits and nowhere else ---------------

TEST(FredSs, DefaultIsZero) {
  EXPECT_EQ(FredSs{}.encode(), 0u);
  EXPECT_EQ(FredCs{}.encode(), 0u);
}

TEST(FredSs, SelectorIsBits15To0) {
  EXPECT_EQ(FredSs{}.set_selector(0xFFFF).encode(), 0xFFFFull);
  EXPECT_EQ(FredSs{}.set_selector(0x18).encode(), 0x18ull);
  EXPECT_EQ(FredSs(0xFFFFull).selector(), 0xFFFF);
  EXPECT_EQ(FredSs(0x12345ull).selector(), 0x2345);  // bit 16 is not the selector
}

TEST(FredSs, StiShadowIsBit16) {
  EXPECT_EQ(FredSs{}.set_sti_shadow(true).encode(), 0x10000ull);
  EXPECT_TRUE(FredSs(0x10000ull).sti_shadow());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x10000ull).sti_shadow());
}

TEST(FredSs, SoftwareInitiatedIsBit17) {
  EXPECT_EQ(FredSs{}.set_software_initiated(true).encode(), 0x20000ull);
  EXPECT_TRUE(FredSs(0x20000ull).software_initiated());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x20000ull).software_initiated());
}

TEST(FredSs, NmiIsBit18) {
  EXPECT_EQ(FredSs{}.set_nmi(true).encode(), 0x40000ull);
  EXPECT_TRUE(FredSs(0x40000ull).nmi());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x40000ull).nmi());
}

TEST(FredSs, VectorIsBits39To32) {
  EXPECT_EQ(FredSs{}.set_vector(0xFF).encode(), 0xFF00000000ull);
  EXPECT_EQ(FredSs{}.set_vector(2).encode(), 0x200000000ull);
  EXPECT_EQ(FredSs(0xFF00000000ull).vector(), 0xFF);
  EXPECT_EQ(FredSs(0x0000010E00000000ull).vector(), 0x0E);  // bit 40 is not the vector
}

TEST(FredSs, TypeIsBits51To48) {
  EXPECT_EQ(FredSs{}.set_type(EventType::other).encode(), 0x7ull << 48);
  EXPECT_EQ(FredSs{}.set_type(EventType::nmi).encode(), 0x0002000000000000ull);
  EXPECT_EQ(FredSs(0x0003000000000000ull).type(), EventType::hardware_exception);
  EXPECT_EQ(FredSs(0x0006000000000000ull).type(), EventType::software_exception);
}

TEST(FredSs, EnclaveIsBit56) {
  EXPECT_EQ(FredSs{}.set_enclave(true).encode(), 0x0100000000000000ull);
  EXPECT_TRUE(FredSs(0x0100000000000000ull).enclave());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x0100000000000000ull).enclave());
}

TEST(FredSs, LongModeIsBit57) {
  EXPECT_EQ(FredSs{}.set_long_mode(true).encode(), 0x0200000000000000ull);
  EXPECT_TRUE(FredSs(0x0200000000000000ull).long_mode());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x0200000000000000ull).long_mode());
}

TEST(FredSs, NestedIsBit58) {
  EXPECT_EQ(FredSs{}.set_nested(true).encode(), 0x0400000000000000ull);
  EXPECT_TRUE(FredSs(0x0400000000000000ull).nested());
  EXPECT_FALSE(FredSs(kAllOnes & ~0x0400000000000000ull).nested());
}

TEST(FredSs, InstructionLengthIsBits63To60) {
  EXPECT_EQ(FredSs{}.set_instruction_length(0xF).encode(), 0xF000000000000000ull);
  EXPECT_EQ(FredSs{}.set_instruction_length(2).encode(), 0x2000000000000000ull);
  EXPECT_EQ(FredSs(0xF000000000000000ull).instruction_length(), 0xF);
  EXPECT_EQ(FredSs(0x0800000000000000ull).instruction_length(), 0);  // bit 59 is reserved
}

TEST(FredSs, SettersDoNotSpillIntoNeighbours) {
  // Out-of-range values are cut to the field's width.
  EXPECT_EQ(FredSs{}.set_instruction_length(0xFF).encode(), 0xF000000000000000ull);
  // Clearing one field in an all-ones word clears exactly its bits.
  EXPECT_EQ(FredSs(kAllOnes).set_selector(0).encode(), kAllOnes & ~0xFFFFull);
  EXPECT_EQ(FredSs(kAllOnes).set_vector(0).encode(), kAllOnes & ~0xFF00000000ull);
  EXPECT_EQ(FredSs(kAllOnes).set_type(EventType::external_interrupt).encode(),
            kAllOnes & ~0x000F000000000000ull);
  EXPECT_EQ(FredSs(kAllOnes).set_nmi(false).encode(), kAllOnes & ~0x40000ull);
}

TEST(FredSs, AllOnesDecodesEveryField) {
  const FredSs s(kAllOnes);
  EXPECT_EQ(s.selector(), 0xFFFF);
  EXPECT_TRUE(s.sti_shadow());
  EXPECT_TRUE(s.software_initiated());
  EXPECT_TRUE(s.nmi());
  EXPECT_EQ(s.vector(), 0xFF);
  EXPECT_EQ(static_cast<unsigned>(s.type()), 0xFu);
  EXPECT_TRUE(s.enclave());
  EXPECT_TRUE(s.long_mode());
  EXPECT_TRUE(s.nested());
  EXPECT_EQ(s.instruction_length(), 0xF);
  EXPECT_EQ(s.encode(), kAllOnes);
}

TEST(FredSs, ReservedMaskIsEverythingUnnamed) {
  // Named: 18:0, 39:32, 51:48, 58:56, 63:60. Reserved: 31:19, 47:40, 55:52, 59.
  const std::uint64_t reserved =
      0x00000000FFF80000ull | 0x0000FF0000000000ull | 0x00F0000000000000ull | 0x0800000000000000ull;
  EXPECT_EQ(FredSs::kReservedMask, reserved);
  EXPECT_EQ(FredSs::kEretsCheckMask, 0x00000000FFF80000ull);  // bits 31:19
}

TEST(FredSs, RoundTripEveryFieldAtItsBoundaries) {
  for (std::uint16_t sel : {0, 1, 0x18, 0x2B, 0xFFFF}) {
    EXPECT_EQ(FredSs::decode(FredSs{}.set_selector(sel).encode()).selector(), sel);
  }
  for (unsigned v : {0u, 1u, 2u, 127u, 128u, 255u}) {
    EXPECT_EQ(FredSs::decode(FredSs{}.set_vector(static_cast<std::uint8_t>(v)).encode()).vector(),
              v);
  }
  for (unsigned t = 0; t < 8; ++t) {
    const auto ty = static_cast<EventType>(t);
    EXPECT_EQ(FredSs::decode(FredSs{}.set_type(ty).encode()).type(), ty);
  }
  for (unsigned len : {0u, 1u, 2u, 15u}) {
    const auto l = static_cast<std::uint8_t>(len);
    EXPECT_EQ(FredSs::decode(FredSs{}.set_instruction_length(l).encode()).instruction_length(),
              len);
  }
  const FredSs full = FredSs{}
                          .set_selector(0xABCD)
                          .set_sti_shadow(true)
                          .set_software_initiated(true)
                          .set_nmi(true)
                          .set_vector(0x5A)
                          .set_type(EventType::software_interrupt)
                          .set_enclave(true)
                          .set_long_mode(true)
                          .set_nested(true)
                          .set_instruction_length(7);
  // Hand-assembled: 0xABCD | 7<<16 | 0x5A<<32 | 4<<48 | 7<<56 | 7<<60.
  EXPECT_EQ(full.encode(), 0x7704005A0007ABCDull);
  EXPECT_EQ(FredSs::decode(full.encode()), full);
}

TEST(FredSs, NmiFromRing0In64BitModeHandComputed) {
  // docs/hardware.md §1 "FRED event delivery": SS selector 0x18 | bit 18 (NMI) | vector 2 in 39:32
  // | type 2 in 51:48 | bit 57 (64-bit mode).
  //   0x0000000000000018  selector
  //   0x0000000000040000  bit 18
  //   0x0000000200000000  2 << 32
  //   0x0002000000000000  2 << 48
  //   0x0200000000000000  bit 57
  constexpr std::uint64_t kExpected = 0x0202000200040018ull;
  const FredSs ss = FredSs{}
                        .set_selector(0x18)
                        .set_nmi(true)
                        .set_vector(2)
                        .set_type(EventType::nmi)
                        .set_long_mode(true);
  EXPECT_EQ(ss.encode(), kExpected);
}

// --- FredCs ---------------------------------------------------------------------

TEST(FredCs, Fields) {
  EXPECT_EQ(FredCs{}.set_selector(0xFFFF).encode(), 0xFFFFull);
  EXPECT_EQ(FredCs{}.set_stack_level(3).encode(), 0x30000ull);
  EXPECT_EQ(FredCs{}.set_stack_level(1).encode(), 0x10000ull);
  EXPECT_EQ(FredCs{}.set_stack_level(7).encode(), 0x30000ull);  // two bits only
  EXPECT_EQ(FredCs{}.set_wfe(true).encode(), 0x40000ull);
  EXPECT_EQ(FredCs(0x30010ull).stack_level(), 3);
  EXPECT_EQ(FredCs(0x30010ull).selector(), 0x10);
  EXPECT_EQ(FredCs(0x20000ull).stack_level(), 2);
  EXPECT_TRUE(FredCs(0x40000ull).wfe());
  EXPECT_FALSE(FredCs(kAllOnes & ~0x40000ull).wfe());
  const FredCs ones(kAllOnes);
  EXPECT_EQ(ones.selector(), 0xFFFF);
  EXPECT_EQ(ones.stack_level(), 3);
  EXPECT_TRUE(ones.wfe());
  EXPECT_EQ(FredCs(kAllOnes).set_stack_level(0).encode(), kAllOnes & ~0x30000ull);
}

TEST(FredCs, RoundTrip) {
  for (std::uint16_t sel : {0, 0x10, 0x33, 0xFFFF}) {
    for (std::uint8_t lvl = 0; lvl < 4; ++lvl) {
      for (bool wfe : {false, true}) {
        const FredCs cs = FredCs{}.set_selector(sel).set_stack_level(lvl).set_wfe(wfe);
        const std::uint64_t raw = sel | (std::uint64_t{lvl} << 16) | (wfe ? 0x40000ull : 0);
        EXPECT_EQ(cs.encode(), raw);
        const FredCs back = FredCs::decode(raw);
        EXPECT_EQ(back.selector(), sel);
        EXPECT_EQ(back.stack_level(), lvl);
        EXPECT_EQ(back.wfe(), wfe);
      }
    }
  }
  EXPECT_EQ(FredCs::kEretsCheckMask, 0xFFFFFFFFFFF80000ull);  // bits 63:19
}

TEST(FredCs, KernelCsAtStackLevel2HandComputed) {
  // CS 0x10 with stack level 2 at the event: 0x10 | 2 << 16.
  EXPECT_EQ(FredCs{}.set_selector(0x10).set_stack_level(2).encode(), 0x20010ull);
}

// --- FredFrame --------------------------------------------------------------------

TEST(FredFrame, WordsAreInMemoryOrder) {
  FredFrame f;
  f.error_code = 0x1111;
  f.rip = 0x2222;
  f.cs = FredCs(0x3333);
  f.rflags = 0x4444;
  f.rsp = 0x5555;
  f.ss = FredSs(0x6666);
  f.event_data = 0x7777;
  f.reserved = 0x8888;
  const auto w = f.words();
  ASSERT_EQ(w.size(), 8u);
  EXPECT_EQ(w[0], 0x1111u);  // +0  error code
  EXPECT_EQ(w[1], 0x2222u);  // +8  RIP
  EXPECT_EQ(w[2], 0x3333u);  // +16 CS
  EXPECT_EQ(w[3], 0x4444u);  // +24 RFLAGS
  EXPECT_EQ(w[4], 0x5555u);  // +32 RSP
  EXPECT_EQ(w[5], 0x6666u);  // +40 SS
  EXPECT_EQ(w[6], 0x7777u);  // +48 event data
  EXPECT_EQ(w[7], 0x8888u);  // +56 reserved
  EXPECT_EQ(FredFrame::from_words(w), f);
}

TEST(FredFrame, FromWordsRoundTripAndEquality) {
  const std::array<std::uint64_t, 8> w = {
      0, 0xFFFFFFFF81000123ull, 0x10, 0x246, 0xFFFFC90000003F00ull, 0x0202000200040018ull, 0x84, 0};
  const FredFrame f = FredFrame::from_words(w);
  EXPECT_EQ(f.rip, 0xFFFFFFFF81000123ull);
  EXPECT_EQ(f.cs.selector(), 0x10);
  EXPECT_TRUE(f.ss.nmi());
  EXPECT_EQ(f.ss.vector(), 2);
  EXPECT_EQ(f.event_data, 0x84u);
  EXPECT_EQ(f.words(), w);
  FredFrame g = f;
  EXPECT_EQ(f, g);
  g.reserved = 1;
  EXPECT_NE(f, g);
  EXPECT_EQ(sizeof(FredFrame), 64u);
}

// --- BitField ---------------------------------------------------------------------

TEST(BitField, MaskGetSet) {
  constexpr BitField f{32, 8};
  EXPECT_EQ(f.mask(), 0xFF00000000ull);
  EXPECT_EQ(f.get(0x1234567890ull), 0x12u);
  EXPECT_EQ(f.set(0, 0x1FF), 0xFF00000000ull);
  constexpr BitField whole{0, 64};
  EXPECT_EQ(whole.mask(), kAllOnes);
  EXPECT_EQ(whole.set(0, kAllOnes), kAllOnes);
  constexpr BitField top{63, 1};
  EXPECT_EQ(top.mask(), 0x8000000000000000ull);
}

}  // namespace
}  // namespace fredsim::cpu
