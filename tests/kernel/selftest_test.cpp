// docs/linux.md "The selftest".
#include <gtest/gtest.h>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

class Selftest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(Selftest, PassesAndPrintsTheLinuxSummary) {
  for (bool source : {true, false}) {
    auto sys = make_system(make_config(GetParam(), true, source));
    Kernel& k = sys->kernel();
    sys->at(0, [&] { k.run_selftest(0); });
    sys->run_to_idle();
    EXPECT_TRUE(console_has(k, "Good, all 2 testcases passed!")) << "source=" << source;
    EXPECT_EQ(k.selftest().report().passed, 2u);
    EXPECT_EQ(k.selftest().report().failed + k.selftest().report().timeout, 0u);
    EXPECT_EQ(k.registry().find_handler("nmi_selftest") == kNoHandler
                  ? 0u
                  : k.registry().handler(k.registry().find_handler("nmi_selftest")).registered,
              0u)
        << "unregistered at the end";
    for (CpuId c = 0; c < GetParam(); ++c)
      EXPECT_EQ(k.lost_work(c), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Cpus, Selftest, ::testing::Values(1u, 2u, 64u));

TEST(SelftestFailure, ATargetThatNeverAnswersTimesOut) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  // CPU 1 is busy in a handler that never returns: the remote test times out.
  ASSERT_TRUE(k.register_nmi_handler(
                   NmiType::local,
                   [](NmiType, const PtRegs&, NmiContext& ctx) {
                     ctx.halt_cpu();
                     return NMI_HANDLED;
                   },
                   NMI_FLAG_FIRST, "hang", 0)
                  .ok());
  const CpuId dest[] = {1};
  sys->at(0, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->at(10'000, [&] { k.run_selftest(0); });
  sys->run_to_idle();
  EXPECT_TRUE(console_has(k, "TIMEOUT"));
  EXPECT_TRUE(console_has(k, "BUG: 1 unexpected failures (out of 2)"));
  EXPECT_EQ(k.selftest().report().timeout, 1u);
}

}  // namespace
}  // namespace fredsim::kernel
