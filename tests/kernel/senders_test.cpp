// The kernel's senders: docs/linux.md "Senders and their handlers".
#include <gtest/gtest.h>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

// Found by fuzz/run_fuzz: a second stop from another CPU took the stop over, so
// the first stopper's handler claimed the second stop's NMI and left its work.
// Linux lets only the first CPU through (native_stop_other_cpus' cmpxchg).
TEST(Senders, OnlyTheFirstStopOtherCpusStopsTheOthers) {
  for (bool fred : {true, false}) {
    SCOPED_TRACE(fred ? "fred" : "idt");
    auto sys = make_system(make_config(4, fred));
    Kernel& k = sys->kernel();
    sys->at(100, [&] { k.stop_other_cpus(1); });
    sys->at(110, [&] { k.stop_other_cpus(2); });  // before any CPU took the first NMI
    sys->run_to_idle();
    ASSERT_FALSE(k.panicked());
    EXPECT_FALSE(k.cpu_state(1).halted);
    for (CpuId c : {0u, 2u, 3u})
      EXPECT_TRUE(k.cpu_state(c).halted) << "cpu " << c;
    EXPECT_EQ(k.lost_work(1), 0u);
  }
}

}  // namespace
}  // namespace fredsim::kernel
