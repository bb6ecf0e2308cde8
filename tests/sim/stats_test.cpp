#include "fredsim/sim/stats.hpp"

#include <gtest/gtest.h>

namespace fredsim {
namespace {

TEST(Samples, NearestRankPercentiles) {
  Samples s;
  for (std::uint64_t v = 1; v <= 100; ++v)
    s.add(101 - v);
  Summary sum = s.summary();
  EXPECT_EQ(sum.count, 100u);
  EXPECT_DOUBLE_EQ(sum.mean, 50.5);
  EXPECT_EQ(sum.p50, 50u);
  EXPECT_EQ(sum.p99, 99u);
  EXPECT_EQ(sum.min, 1u);
  EXPECT_EQ(sum.max, 100u);
}

TEST(Samples, EmptyAndSingle) {
  EXPECT_EQ(Samples{}.summary().count, 0u);
  Samples one;
  one.add(7);
  EXPECT_EQ(one.summary().p99, 7u);
  EXPECT_EQ(one.summary().p50, 7u);
}

}  // namespace
}  // namespace fredsim
