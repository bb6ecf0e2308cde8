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

// raise_mce (arch/x86/kernel/cpu/mce/inject.c): the broadcast's mask is every
// target but the sending CPU, which raises its own MCE locally (raise_local)
// and takes no MCE NMI.
TEST(Senders, RaiseMceLeavesTheSenderOutOfTheNmiMask) {
  auto sys = make_system(make_config(4));
  Kernel& k = sys->kernel();
  const CpuId all[] = {0, 1, 2, 3};
  sys->at(100, [&] { k.mce_inject(0, all); });
  sys->run_to_idle();
  const HandlerId h = k.registry().find_handler("mce");
  ASSERT_NE(h, kNoHandler);
  const NmiAction& a = k.registry().handler(h);
  EXPECT_EQ(a.per_cpu[0].calls, 0u) << "no NMI on the sender";
  EXPECT_EQ(k.cpu_state(0).stats.normal, 0u);
  for (CpuId c : {1u, 2u, 3u}) {
    EXPECT_EQ(a.per_cpu[c].handled, 1u) << "cpu " << c;
    EXPECT_EQ(k.lost_work(c), 0u) << "cpu " << c;
  }
  EXPECT_EQ(k.lost_work(0), 0u) << "no work left for the sender";
}

// mce_raise_notify returns NMI_HANDLED at most once per NMI: its CPU's bit in
// mce_inject_cpumask is one bit however many injections were queued, so two
// injections before the target's NMI do not arm the swallow flag (a handler
// returning 2 would).
TEST(Senders, MceRaiseNotifyReturnsAtMostOne) {
  for (bool source : {true, false}) {
    SCOPED_TRACE(source ? "nmi-source" : "no nmi-source");
    auto sys = make_system(make_config(2, true, source));
    Kernel& k = sys->kernel();
    const CpuId one[] = {1};
    sys->at(100, [&] {
      k.mce_inject(0, one);
      k.mce_inject(0, one);
    });
    sys->run_to_idle();
    const HandlerId h = k.registry().find_handler("mce");
    ASSERT_NE(h, kNoHandler);
    const NmiAction& a = k.registry().handler(h);
    EXPECT_EQ(a.per_cpu[1].handled, 1u) << "one bit for two injections";
    EXPECT_FALSE(k.cpu_state(1).swallow) << "handled 1: the swallow flag stays clear";
    EXPECT_EQ(k.cpu_state(1).stats.swallow, 0u);
    EXPECT_EQ(k.lost_work(1), 0u);
  }
}

// kgdb_nmi_handler (arch/x86/kernel/kgdb.c). NMI_LOCAL: while the session holds
// the CPUs (kgdb_active != -1) it claims every NMI, not only the roundup's, and
// sets the CPU's was_in_debug_nmi bit. NMI_UNKNOWN: after the session, the
// first unknown NMI on such a CPU is claimed silently (clearing the bit); the
// next one is an unknown NMI again.
TEST(Senders, KgdbNmiHandlerClaimsEveryNmiInASessionAndSwallowsTheNextUnknown) {
  for (bool source : {true, false}) {
    SCOPED_TRACE(source ? "nmi-source" : "no nmi-source");
    auto sys = make_system(make_config(2, true, source));
    Kernel& k = sys->kernel();
    const CpuId one[] = {1};
    sys->at(100, [&] { k.kgdb_roundup(0); });
    // A stray NMI (no source vector, no handler's work) during the session.
    sys->at(50'000, [&] { k.send_nmi_ipi(0, one, 0); });
    sys->run_to_idle();
    ASSERT_TRUE(k.kgdb_active());
    EXPECT_EQ(k.cpu_state(1).stats.normal, 2u) << "the roundup NMI and the stray one";
    EXPECT_EQ(k.cpu_state(1).stats.unknown, 0u);
    EXPECT_EQ(k.lost_work(1), 0u);
    // The session ends; the next stray NMI is swallowed by the UNKNOWN handler.
    sys->at(sys->machine().now() + 10, [&] {
      k.kgdb_session_end();
      k.send_nmi_ipi(0, one, 0);
    });
    sys->run_to_idle();
    EXPECT_EQ(k.cpu_state(1).stats.normal, 2u);
    EXPECT_EQ(k.cpu_state(1).stats.unknown, 1u) << "claimed by kgdb on NMI_UNKNOWN";
    EXPECT_FALSE(fredsim::testing::console_has(k, "Uhhuh"));
    // Its bit is cleared: one more is an unknown NMI.
    sys->at(sys->machine().now() + 10, [&] { k.send_nmi_ipi(0, one, 0); });
    sys->run_to_idle();
    EXPECT_TRUE(fredsim::testing::console_has(k, "Uhhuh"));
    EXPECT_EQ(k.cpu_state(1).stats.unknown, 2u);
  }
}

}  // namespace
}  // namespace fredsim::kernel
