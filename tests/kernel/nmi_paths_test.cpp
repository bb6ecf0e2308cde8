// default_do_nmi's paths off the happy path, as arch/x86/kernel/nmi.c runs
// them: unknown_nmi_error's ratelimits, pci_serr_error, io_check_error and
// nmi_panic (docs/linux.md "default_do_nmi").
#include <gtest/gtest.h>

#include <string>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

int count_lines(const Kernel& k, const std::string& text) {
  int n = 0;
  for (const auto& l : k.console().lines())
    n += l.text.find(text) != std::string::npos;
  return n;
}

// 2.5 GHz (the default core_mhz): one simulated second.
constexpr Cycle kSecond = 2'500'000'000;

// unknown_nmi_error: "Uhhuh", the NMI-source bitmap line and "Dazed" are three
// pr_emerg_ratelimited sites, each capped at DEFAULT_RATELIMIT_BURST (10) per
// DEFAULT_RATELIMIT_INTERVAL (5 s); a new interval prints again.
TEST(NmiPaths, UnknownNmiErrorRatelimitsEachCallSite) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const CpuId dest[] = {1};
  for (int i = 0; i < 15; ++i)
    sys->at(10 + static_cast<Cycle>(i) * 1'000'000, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->at(6 * kSecond, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->run_to_idle();
  EXPECT_EQ(k.cpu_state(1).stats.unknown, 16u);
  EXPECT_EQ(count_lines(k, "Uhhuh. NMI received for unknown reason"), 11);
  EXPECT_EQ(count_lines(k, "NMI-source bitmap is"), 11);
  EXPECT_EQ(count_lines(k, "Dazed and confused, but trying to continue"), 11);
}

// pci_serr_error and io_check_error print with plain pr_emerg: every unclaimed
// platform NMI prints its line, past the burst of 10 within one 5 s interval.
// (The test re-enables the SERR line before each SERR#, as port 0x61's owner may.)
TEST(NmiPaths, PciSerrErrorLineIsNotRatelimited) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  for (int i = 0; i < 12; ++i) {
    sys->at(10 + static_cast<Cycle>(i) * 1'000'000, [&] {
      sys->machine().port_out(machine::port61::kPort, 0);
      k.external_nmi(0, machine::NmiReason::serr);
    });
  }
  sys->run_to_idle();
  EXPECT_EQ(k.cpu_state(0).stats.external, 12u);
  EXPECT_EQ(count_lines(k, "NMI: PCI system error (SERR) for reason 80 on CPU 0."), 12);
}

// pci_serr_error clears and disables the SERR line (NMI_REASON_CLEAR_SERR,
// 0x04, in port 0x61) and never re-enables it; the platform honours the bit,
// so a later SERR# raises no NMI. Likewise IOCHK while bit 3 (0x08) is set.
TEST(NmiPaths, PciSerrErrorLeavesTheSerrLineDisabled) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  sys->at(10, [&] { k.external_nmi(0, machine::NmiReason::serr); });
  sys->at(1'000'000, [&] { k.external_nmi(0, machine::NmiReason::serr); });
  sys->run_to_idle();
  EXPECT_EQ(sys->machine().cpu(0).stats().nmi_received, 1u) << "the second SERR# is gated off";
  EXPECT_EQ(k.cpu_state(0).stats.external, 1u);
  EXPECT_EQ(count_lines(k, "NMI: PCI system error (SERR) for reason 80 on CPU 0."), 1);
  EXPECT_EQ(sys->machine().port_in(machine::port61::kPort), machine::port61::kSerrDisable)
      << "status clear, SERR disable bit still set";
  EXPECT_EQ(k.lost_work(0), 0u);
}

TEST(NmiPaths, DisabledIochkLineRaisesNoNmi) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  sys->at(10, [&] {
    sys->machine().port_out(machine::port61::kPort, machine::port61::kIochkDisable);
    k.external_nmi(0, machine::NmiReason::iochk);
  });
  sys->at(1'000'000, [&] {
    sys->machine().port_out(machine::port61::kPort, 0);
    k.external_nmi(0, machine::NmiReason::iochk);
  });
  sys->run_to_idle();
  EXPECT_EQ(sys->machine().cpu(0).stats().nmi_received, 1u) << "only the enabled line's NMI";
  EXPECT_EQ(k.cpu_state(0).stats.external, 1u);
  EXPECT_EQ(count_lines(k, "NMI: IOCK error"), 1);
}

// pci_serr_error with panic_on_unrecovered_nmi: nmi_panic -> panic() does not
// return, so neither "Dazed" nor the port 0x61 write follows the panic.
TEST(NmiPaths, PciSerrErrorPanicDoesNotReturn) {
  auto cfg = make_config(2);
  cfg.kernel.panic_on_unrecovered_nmi = true;
  auto sys = make_system(cfg);
  Kernel& k = sys->kernel();
  sys->at(10, [&] { k.external_nmi(0, machine::NmiReason::serr); });
  sys->run_to_idle();
  ASSERT_TRUE(k.panicked());
  // The panic line and, once panic() has stopped the other CPU (smp_send_stop),
  // its closing "---[ end Kernel panic - not syncing: ... ]---" line.
  EXPECT_EQ(count_lines(k, "Kernel panic - not syncing: NMI: Not continuing"), 2);
  EXPECT_EQ(count_lines(k, "---[ end Kernel panic - not syncing: NMI: Not continuing ]---"), 1);
  EXPECT_EQ(count_lines(k, "Dazed and confused"), 0);
  EXPECT_EQ(sys->machine().port_in(machine::port61::kPort), machine::port61::kSerr)
      << "no clear/disable write after the panic";
}

// The first console line containing `text`, or null.
const ConsoleLine* find_line(const Kernel& k, const std::string& text) {
  for (const auto& l : k.console().lines()) {
    if (l.text.find(text) != std::string::npos) return &l;
  }
  return nullptr;
}

// io_check_error (arch/x86/kernel/nmi.c) without panic_on_io_nmi: its line,
// no "Dazed" line, NMI_REASON_CLEAR_IOCHK written to port 0x61, then 19,999
// udelay(100) (about 2 s; one is the timing parameter iochk_udelay) still inside the NMI,
// then the line re-enabled. NMIs that arrive meanwhile latch (the second
// coalesces into the first) and are handled after the NMI returns; an IOCHK#
// meanwhile finds its line disabled and raises nothing.
TEST(NmiPaths, IoCheckErrorWaitsInsideTheNmiAndLatchesNmisArrivingMeanwhile) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const Cycle wait = k.iochk_wait();
  // The loop counts i down from 20000 and tests after the decrement: 19,999 delays.
  EXPECT_EQ(wait, 19'999 * sys->machine().timing().get(TimingParam::iochk_udelay));
  ASSERT_GT(wait, 4u);
  const Cycle mid = 10 + wait / 2;
  std::uint8_t port_during = 0;
  sys->at(10, [&] { k.external_nmi(0, machine::NmiReason::iochk); });
  sys->at(mid, [&] {
    port_during = sys->machine().port_in(machine::port61::kPort);
    const CpuId dest[] = {0};
    k.send_nmi_ipi(1, dest, 0);
    k.send_nmi_ipi(1, dest, 0);
    k.external_nmi(0, machine::NmiReason::iochk);
  });
  sys->run_to_idle();
  EXPECT_EQ(count_lines(k, "NMI: IOCK error (debug interrupt?) for reason 40 on CPU 0."), 1);
  EXPECT_EQ(port_during, machine::port61::kIochkDisable)
      << "mid-wait: IOCHK status cleared, the line held off";
  const auto& st = sys->machine().cpu(0).stats();
  EXPECT_EQ(st.nmi_received, 3u) << "the IOCHK# during the wait is gated off";
  EXPECT_EQ(st.nmi_coalesced, 1u) << "the two IPIs latch as one";
  EXPECT_EQ(st.nmi_delivered, 2u);
  EXPECT_EQ(k.cpu_state(0).stats.external, 1u);
  EXPECT_EQ(k.cpu_state(0).stats.unknown, 1u);
  // The latched NMI is handled only after the wait; the only "Dazed" is its own.
  const ConsoleLine* uhhuh = find_line(k, "Uhhuh. NMI received for unknown reason 00 on CPU 0.");
  ASSERT_NE(uhhuh, nullptr);
  EXPECT_GT(uhhuh->cycle, 10 + wait);
  EXPECT_EQ(count_lines(k, "Dazed and confused"), 1);
  const ConsoleLine* dazed = find_line(k, "Dazed and confused");
  ASSERT_NE(dazed, nullptr);
  EXPECT_GE(dazed->cycle, uhhuh->cycle);
  EXPECT_EQ(sys->machine().port_in(machine::port61::kPort), 0u) << "the line re-enabled";
  EXPECT_EQ(k.lost_work(0), 0u);
}

// default_do_nmi's nmi_reason_lock (arch/x86/kernel/nmi.c, Linux 4.5 to 6.x):
// CPU 1 reaches the reason read while CPU 0 holds the lock through
// io_check_error's wait; it spins on raw_spin_trylock and reads port 0x61 only
// after CPU 0 has re-enabled the line and dropped the lock, so it reads 00 and
// not CPU 0's half-done state (08: the IOCHK line held off).
TEST(NmiPaths, DefaultDoNmiSpinsOnNmiReasonLockWhileAnotherCpuHoldsIt) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const Cycle wait = k.iochk_wait();
  sys->at(10, [&] { k.external_nmi(0, machine::NmiReason::iochk); });
  sys->at(10 + wait / 2, [&] {
    const CpuId dest[] = {1};
    k.send_nmi_ipi(0, dest, 0);
  });
  sys->run_to_idle();
  EXPECT_EQ(k.cpu_state(0).stats.external, 1u);
  EXPECT_EQ(k.cpu_state(1).stats.external, 0u);
  EXPECT_EQ(k.cpu_state(1).stats.unknown, 1u);
  EXPECT_EQ(count_lines(k, "for unknown reason 08"), 0) << "read while the lock was held";
  const ConsoleLine* uhhuh = find_line(k, "Uhhuh. NMI received for unknown reason 00 on CPU 1.");
  ASSERT_NE(uhhuh, nullptr);
  EXPECT_GE(uhhuh->cycle, 10 + wait + sys->machine().timing().get(TimingParam::port_read))
      << "CPU 1 read the port only after CPU 0's wait and unlock";
}

// Two CPUs reach the reason read in the same cycle: one reads, the other spins
// until the first has read and dropped nmi_reason_lock; both NMIs end unknown.
TEST(NmiPaths, TwoCpusReachingTheReasonReadTogetherTakeNmiReasonLockInTurn) {
  auto sys = make_system(make_config(3));
  Kernel& k = sys->kernel();
  sys->at(10, [&] {
    const CpuId dest[] = {1, 2};
    k.send_nmi_ipi(0, dest, 0);
  });
  sys->run_to_idle();
  const ConsoleLine* first = find_line(k, "Uhhuh. NMI received for unknown reason 00 on CPU 1.");
  const ConsoleLine* second = find_line(k, "Uhhuh. NMI received for unknown reason 00 on CPU 2.");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(k.cpu_state(1).stats.unknown, 1u);
  EXPECT_EQ(k.cpu_state(2).stats.unknown, 1u);
  // The second read starts when the first ends: one port read apart.
  EXPECT_EQ(second->cycle - first->cycle, sys->machine().timing().get(TimingParam::port_read));
}

}  // namespace
}  // namespace fredsim::kernel
