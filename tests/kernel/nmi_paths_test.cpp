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

}  // namespace
}  // namespace fredsim::kernel
