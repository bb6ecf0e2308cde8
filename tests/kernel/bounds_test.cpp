// What the kernel keeps per NMI stays bounded in a long storm: the console and
// the dispatch samples (issue 13 item 5).
#include <gtest/gtest.h>

#include <string>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

std::size_t lines_with(const Kernel& k, const std::string& text) {
  std::size_t n = 0;
  for (const auto& l : k.console().lines())
    n += l.text.find(text) != std::string::npos;
  return n;
}

TEST(Bounds, UnknownNmisRateLimitBothLinesAsLinuxDoes) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const CpuId dest[] = {1};
  // 300 unknown NMIs well inside one 5-second rate-limit interval.
  for (int i = 0; i < 300; ++i)
    sys->at(static_cast<Cycle>(i) * 20'000, [&] { k.send_nmi_ipi(0, dest, 3); });
  sys->run_to_idle();
  EXPECT_EQ(k.cpu_state(1).stats.unknown, 300u);
  EXPECT_EQ(lines_with(k, "Uhhuh. NMI received for unknown reason"), 10u);
  EXPECT_EQ(lines_with(k, "Dazed and confused"), 10u);
}

TEST(Bounds, TheConsoleKeepsAFixedNumberOfLinesAndCountsTheRest) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  for (int i = 0; i < 70'000; ++i)
    k.console().printk(0, "line " + std::to_string(i));
  ASSERT_EQ(k.console().lines().size(), 65'536u);
  EXPECT_EQ(k.console().lines()[65'534].text, "line 65534");
  // 70,000 lines, 65,535 kept: 4,465 dropped.
  EXPECT_EQ(k.console().lines().back().text, "printk: console full, 4465 later lines dropped");
}

TEST(Bounds, DispatchSamplesStayExactInCountAndSumPastTheCap) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  k.record_dispatch_samples(true);
  const CpuId dest[] = {1};
  const int nmis = 70'000;  // past Samples::kExactCap
  for (int i = 0; i < nmis; ++i)
    sys->at(static_cast<Cycle>(i) * 20'000, [&] { k.send_nmi_ipi(0, dest, 3); });
  sys->run_to_idle();
  const Samples& s = k.nmi_dispatch_samples();
  EXPECT_TRUE(s.folded());
  EXPECT_EQ(s.size(), static_cast<std::uint64_t>(nmis));
  EXPECT_TRUE(s.sum() == sys->machine().cpu(1).stats().dispatch_cycles)
      << "the samples add up to the CPU's dispatch cycles";
}

}  // namespace
}  // namespace fredsim::kernel
