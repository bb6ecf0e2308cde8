// Result<T> and Status (fredsim/sim/result.hpp): a value or an error message.
#include "fredsim/sim/result.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace fredsim {
namespace {

Result<std::unique_ptr<int>> make(bool ok) {
  if (!ok) return Error{"no int today"};
  return std::make_unique<int>(7);
}

TEST(ResultAccess, ValueOfAValueReturnsIt) {
  auto r = make(true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r.value(), 7);
  EXPECT_EQ(**r, 7);
  // The rvalue forms move the value out, so `auto p = *make(...)` compiles.
  std::unique_ptr<int> moved = *make(true);
  EXPECT_EQ(*moved, 7);
  std::unique_ptr<int> moved2 = make(true).value();
  EXPECT_EQ(*moved2, 7);
}

TEST(ResultAccess, ValueOfAnErrorThrowsWithItsMessage) {
  auto r = make(false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no int today");
  try {
    (void)r.value();
    FAIL() << "value() on an error returned";
  } catch (const BadResultAccess& e) {
    EXPECT_STREQ(e.what(), "no int today");
  }
  EXPECT_THROW((void)*make(false), BadResultAccess);
  EXPECT_THROW((void)make(false).value(), BadResultAccess);
  EXPECT_THROW((void)r->get(), BadResultAccess);
  const auto& cr = r;
  EXPECT_THROW((void)cr.value(), BadResultAccess);
}

TEST(ResultAccess, ErrorOfAValueThrows) {
  auto r = make(true);
  EXPECT_THROW((void)r.error(), BadResultAccess);
  Status fine;
  EXPECT_THROW((void)fine.error(), BadResultAccess);
  Status bad = Error{"broken"};
  EXPECT_EQ(bad.error().message, "broken");
}

}  // namespace
}  // namespace fredsim
