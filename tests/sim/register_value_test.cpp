// RegisterValue, the base of the typed register values: raw round trip, fields
// that do not disturb each other, equality, and the 32-bit form's truncation.
#include "fredsim/sim/register_value.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace fredsim {
namespace {

enum class Colour : std::uint8_t { red = 1, green = 2, blue = 3 };

// A made-up 64-bit register: a low byte, a flag, an enumeration and a field that
// reaches bit 63.
class Wide : public RegisterValue<Wide, std::uint64_t> {
 public:
  static constexpr BitField kLow{0, 8};
  static constexpr BitField kFlag{8, 1};
  static constexpr BitField kColour{10, 2};
  static constexpr BitField kTop{40, 24};
  using RegisterValue::RegisterValue;
};

// A made-up 32-bit register.
class Narrow : public RegisterValue<Narrow, std::uint32_t> {
 public:
  static constexpr BitField kHigh{24, 8};
  using RegisterValue::RegisterValue;
};

TEST(RegisterValue, DefaultIsZero) {
  EXPECT_EQ(Wide{}.raw(), 0u);
  EXPECT_EQ(Narrow{}.raw(), 0u);
}

TEST(RegisterValue, RawRoundTrip) {
  constexpr std::uint64_t kRaws[] = {0, 1, 0x8000000000000000ull, 0x0123456789ABCDEFull,
                                     ~std::uint64_t{0}};
  for (std::uint64_t raw : kRaws) {
    EXPECT_EQ(Wide(raw).raw(), raw);
    EXPECT_EQ(Wide(raw).encode(), raw);
    EXPECT_EQ(Wide::decode(raw).raw(), raw);
    EXPECT_EQ(Wide::decode(Wide(raw).encode()), Wide(raw));
  }
  EXPECT_EQ(Narrow(0xDEADBEEFu).raw(), 0xDEADBEEFu);
  // decode of a 64-bit word keeps a 32-bit register's low half.
  EXPECT_EQ(Narrow::decode(0x12345678DEADBEEFull).raw(), 0xDEADBEEFu);
}

TEST(RegisterValue, TypedGet) {
  const Wide w(0xABCDEF0000000000ull | (3u << 10) | (1u << 8) | 0x5A);
  EXPECT_EQ(w.get<std::uint8_t>(Wide::kLow), 0x5A);
  EXPECT_TRUE(w.get<bool>(Wide::kFlag));
  EXPECT_EQ(w.get<Colour>(Wide::kColour), Colour::blue);
  EXPECT_EQ(w.get(Wide::kTop), 0xABCDEFu);
  EXPECT_FALSE(Wide(0x2FF).get<bool>(Wide::kFlag));  // bit 9 is no part of it
}

TEST(RegisterValue, SetTouchesOnlyItsField) {
  Wide w(~std::uint64_t{0});
  w.set(Wide::kColour, Colour::red);
  EXPECT_EQ(w.raw(), ~std::uint64_t{0} & ~(std::uint64_t{2} << 10));
  w.set(Wide::kFlag, false).set(Wide::kLow, 0);
  EXPECT_EQ(w.raw(), ~std::uint64_t{0} & ~(std::uint64_t{2} << 10) & ~std::uint64_t{0x1FF});

  Wide z;
  z.set(Wide::kTop, 0xFFFFFF);
  EXPECT_EQ(z.raw(), 0xFFFFFF0000000000ull);
  z.set(Wide::kFlag, true);
  EXPECT_EQ(z.get(Wide::kTop), 0xFFFFFFu);
  EXPECT_EQ(z.get(Wide::kLow), 0u);
}

TEST(RegisterValue, SetCutsToTheFieldWidth) {
  EXPECT_EQ(Wide{}.set(Wide::kLow, 0x1FF).raw(), 0xFFu);
  EXPECT_EQ(Wide{}.set(Wide::kColour, 7).raw(), 3u << 10);
  EXPECT_EQ(Narrow{}.set(Narrow::kHigh, 0x1AB).raw(), 0xAB000000u);
}

TEST(RegisterValue, WithLeavesTheOriginal) {
  const Wide w(0x100);
  const Wide v = w.with(Wide::kLow, 0x42);
  EXPECT_EQ(w.raw(), 0x100u);
  EXPECT_EQ(v.raw(), 0x142u);
}

TEST(RegisterValue, Equality) {
  EXPECT_EQ(Wide(5), Wide(5));
  EXPECT_NE(Wide(5), Wide(4));
  EXPECT_EQ(Wide{}.set(Wide::kFlag, true), Wide(0x100));
  EXPECT_NE(Narrow(1), Narrow(0));
}

TEST(RegisterValue, UsableInConstantExpressions) {
  constexpr Wide w = Wide{}.with(Wide::kColour, Colour::green).with(Wide::kLow, 9);
  static_assert(w.raw() == ((2u << 10) | 9));
  static_assert(w.get<Colour>(Wide::kColour) == Colour::green);
  static_assert(w == Wide::decode((2u << 10) | 9));
  static_assert(sizeof(Wide) == sizeof(std::uint64_t) && sizeof(Narrow) == sizeof(std::uint32_t));
  SUCCEED();
}

}  // namespace
}  // namespace fredsim
