#include "fredsim/sim/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

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

// The first sample is the minimum and the maximum, at either end of the range
// (add() keeps them without a first-sample case), exact and folded.
TEST(Samples, MinAndMaxFromTheFirstSampleAtEitherEnd) {
  for (const std::uint64_t first : {std::uint64_t{0}, ~std::uint64_t{0}}) {
    Samples s;
    s.add(first);
    EXPECT_EQ(s.summary().min, first);
    EXPECT_EQ(s.summary().max, first);
    s.add(12345);
    EXPECT_EQ(s.summary().min, std::min<std::uint64_t>(first, 12345));
    EXPECT_EQ(s.summary().max, std::max<std::uint64_t>(first, 12345));
  }
  Samples folded;
  folded.add(~std::uint64_t{0});
  for (std::uint64_t i = 0; i < Samples::kExactCap; ++i)
    folded.add(1000 + i);
  ASSERT_TRUE(folded.folded());
  EXPECT_EQ(folded.summary().min, 1000u);
  EXPECT_EQ(folded.summary().max, ~std::uint64_t{0});
  EXPECT_EQ(folded.summary().count, Samples::kExactCap + 1);
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

namespace fredsim {
namespace {

TEST(Samples, ExactUpToTheCap) {
  Samples s;
  for (std::uint64_t i = 0; i < Samples::kExactCap; ++i)
    s.add(1'000'000 + (i * 7919) % 65'536);  // every value once, shuffled
  EXPECT_FALSE(s.folded());
  const Summary sum = s.summary();
  EXPECT_EQ(sum.count, Samples::kExactCap);
  // Nearest rank of 65,536 values 1,000,000 .. 1,065,535: ranks 32,768 and 64,881.
  EXPECT_EQ(sum.p50, 1'000'000u + 32'767);
  EXPECT_EQ(sum.p99, 1'000'000u + 64'880);
  EXPECT_EQ(sum.min, 1'000'000u);
  EXPECT_EQ(sum.max, 1'065'535u);
}

TEST(Samples, BucketsCoverEveryValueWithinTheRelativeBound) {
  // Every bucket boundary region and a spread of values up to 2^64 - 1.
  std::vector<std::uint64_t> probes = {0, 1, 511, 512, 513, 1023, 1024, ~std::uint64_t{0}};
  for (unsigned b = 9; b < 64; ++b) {
    const std::uint64_t p = std::uint64_t{1} << b;
    probes.insert(probes.end(), {p - 1, p, p + 1, p + p / 3, p + p / 2 + 12345});
  }
  for (std::uint64_t v : probes) {
    const std::size_t b = Samples::bucket_of(v);
    const std::uint64_t low = Samples::bucket_low(b);
    const std::uint64_t width = Samples::bucket_width(b);
    EXPECT_LE(low, v) << v;
    EXPECT_LE(v - low, width - 1) << v;
    // A bucket is at most 1/256 of the values it holds wide.
    EXPECT_LE(static_cast<double>(width - 1), static_cast<double>(low) / 256.0 + 1e-9) << v;
    if (b > 0) {
      EXPECT_EQ(Samples::bucket_low(b - 1) + Samples::bucket_width(b - 1), low) << v;
    }
  }
}

TEST(Samples, FoldedPercentilesStayWithinTheBound) {
  // A long-tailed spread, as dispatch cycles are: mostly ~2,000, some ~10^6.
  std::mt19937_64 rng(13);
  std::lognormal_distribution<double> dist(7.6, 1.2);
  Samples s;
  std::vector<std::uint64_t> all;
  Samples::Sum sum = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    s.add(v);
    all.push_back(v);
    sum += v;
  }
  ASSERT_TRUE(s.folded());
  std::sort(all.begin(), all.end());
  const Summary got = s.summary();
  EXPECT_EQ(got.count, all.size());
  EXPECT_EQ(got.min, all.front());
  EXPECT_EQ(got.max, all.back());
  EXPECT_TRUE(s.sum() == sum);
  EXPECT_DOUBLE_EQ(got.mean, static_cast<double>(static_cast<long double>(sum) /
                                                 static_cast<long double>(all.size())));
  for (auto [p, reported] : {std::pair{50.0, got.p50}, std::pair{99.0, got.p99}}) {
    const double exact = static_cast<double>(percentile_sorted(all, p));
    EXPECT_LE(std::abs(static_cast<double>(reported) - exact), exact * Samples::kRelativeError)
        << "p" << p << ": " << reported << " vs " << exact;
  }
}

TEST(Samples, MemoryStaysBoundedAndTheSumExact) {
  Samples s;
  // Past 2^64 in total: the sum must not wrap.
  const std::uint64_t big = std::uint64_t{1} << 62;
  for (int i = 0; i < 200'000; ++i)
    s.add(big + static_cast<std::uint64_t>(i));
  EXPECT_TRUE(s.folded());
  EXPECT_EQ(s.size(), 200'000u);
  const Samples::Sum expected =
      static_cast<Samples::Sum>(big) * 200'000 + Samples::Sum{199'999} * 200'000 / 2;
  EXPECT_TRUE(s.sum() == expected);
  const Summary got = s.summary();
  EXPECT_EQ(got.min, big);
  EXPECT_EQ(got.max, big + 199'999);
  EXPECT_GE(got.p50, big);
  EXPECT_LE(got.p99, big + 199'999);
}

}  // namespace
}  // namespace fredsim

namespace fredsim {
namespace {

/// What a summary must say, from every sample kept: exact nearest-rank values
/// up to kExactCap samples, histogram bucket midpoints past it.
Summary reference_summary(std::vector<std::uint64_t> all) {
  Summary s;
  s.count = all.size();
  if (all.empty()) return s;
  std::sort(all.begin(), all.end());
  s.min = all.front();
  s.max = all.back();
  const auto report = [&](double p) {
    const std::uint64_t exact = percentile_sorted(all, p);
    if (all.size() <= Samples::kExactCap) return exact;
    // Folded: the midpoint of the exact value's bucket, kept inside [min, max].
    const std::size_t b = Samples::bucket_of(exact);
    const std::uint64_t mid = Samples::bucket_low(b) + (Samples::bucket_width(b) - 1) / 2;
    return std::clamp(mid, s.min, s.max);
  };
  s.p50 = report(50);
  s.p99 = report(99);
  return s;
}

// The counting table gives way to a list of values (exact) or the full bucket
// array (folded) past kTableMax distinct keys; every road gives the summary that
// sorting every sample gives. The spreads: a few values (the table throughout;
// in turn and in runs), more distinct values than the table takes but few
// buckets (in turn, and with one value between them), and more of both.
TEST(Samples, EveryRepresentationSummarisesAsSortingEverySample) {
  struct Spread {
    const char* name;
    std::uint64_t (*value)(std::uint64_t i);  // the i-th sample, in shuffled order
  };
  const Spread spreads[] = {
      {"three values", [](std::uint64_t i) { return 2'000 + (i * 7919) % 3 * 700; }},
      // Runs of one value, as a steady simulation gives: the last value's slot.
      {"five values in runs", [](std::uint64_t i) { return 2'000 + (i / 100) % 5 * 300; }},
      // One value between many others, across the table's growth and past it:
      // the last value's slot must not outlive the table it was found in.
      {"one value between many",
       [](std::uint64_t i) -> std::uint64_t {
         return i % 2 == 0 ? 5'000 : 2'000 + (i / 2 * 7919) % (Samples::kTableMax + 900);
       }},
      {"past the table, few buckets",
       [](std::uint64_t i) { return 2'000 + (i * 7919) % (Samples::kTableMax + 500); }},
      {"past the table in buckets too",
       [](std::uint64_t i) {
         return Samples::bucket_low(600 + (i * 7919) % (Samples::kTableMax + 900)) + i % 3;
       }},
  };
  for (const Spread& sp : spreads) {
    for (const std::uint64_t n :
         {std::uint64_t{1}, std::uint64_t{1000}, std::uint64_t{Samples::kExactCap},
          std::uint64_t{Samples::kExactCap + 1}, std::uint64_t{300'000}}) {
      Samples s;
      std::vector<std::uint64_t> all;
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t v = sp.value(i);
        s.add(v);
        all.push_back(v);
      }
      const Summary want = reference_summary(all);
      const Summary got = s.summary();
      EXPECT_EQ(s.folded(), n > Samples::kExactCap) << sp.name << ", " << n;
      EXPECT_EQ(got.count, want.count) << sp.name << ", " << n;
      EXPECT_EQ(got.min, want.min) << sp.name << ", " << n;
      EXPECT_EQ(got.max, want.max) << sp.name << ", " << n;
      EXPECT_EQ(got.p50, want.p50) << sp.name << ", " << n;
      EXPECT_EQ(got.p99, want.p99) << sp.name << ", " << n;
      // A copy (the result keeps one) summarises the same.
      const Samples copy = s;
      EXPECT_EQ(copy.summary().p99, got.p99) << sp.name << ", " << n;
    }
  }
}

}  // namespace
}  // namespace fredsim
