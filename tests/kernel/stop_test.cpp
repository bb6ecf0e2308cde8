// Stopping the other CPUs as Linux does (arch/x86/kernel/smp.c
// native_stop_other_cpus, sysvec_reboot, smp_stop_nmi_callback;
// arch/x86/kernel/process.c stop_this_cpu) and panic()'s smp_send_stop
// (kernel/panic.c) after an nmi_panic. docs/kernel.md "Stopping the other CPUs".
#include <gtest/gtest.h>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

int count_lines(const Kernel& k, std::string_view text) {
  int n = 0;
  for (const auto& l : k.console().lines())
    n += l.text == text;
  return n;
}

// native_stop_other_cpus step 1: the REBOOT_VECTOR IRQ stops every CPU that
// has interrupts on; no NMI, no stop handler, no message (sysvec_reboot ->
// stop_this_cpu: halted, local APIC software-disabled).
TEST(NativeStopOtherCpus, TheRebootVectorIrqStopsCpusWithInterruptsOn) {
  for (bool fred : {true, false}) {
    SCOPED_TRACE(fred ? "fred" : "idt");
    auto sys = make_system(make_config(4, fred));
    Kernel& k = sys->kernel();
    sys->at(100, [&] { k.stop_other_cpus(0); });
    sys->run_to_idle();
    EXPECT_EQ(k.stop_phase(), StopPhase::done);
    for (CpuId c : {1u, 2u, 3u}) {
      EXPECT_TRUE(k.cpu_state(c).halted) << "cpu " << c;
      EXPECT_TRUE(sys->machine().cpu(c).halted()) << "cpu " << c;
      EXPECT_FALSE(sys->machine().apic(c).software_enabled()) << "cpu " << c;
      EXPECT_EQ(sys->machine().cpu(c).stats().nmi_delivered, 0u) << "cpu " << c;
    }
    EXPECT_FALSE(k.cpu_state(0).halted);
    EXPECT_EQ(k.registry().find_registered(NmiType::local, "smp_stop"), kNoHandler);
    EXPECT_FALSE(console_has(k, "Shutting down cpus with NMI"));
  }
}

// Steps 3 and 4: a CPU with interrupts off keeps the IRQ in its IRR; after the
// wait the stopper registers smp_stop, prints the message once and sends that
// CPU (only) an NMI, whose handler runs stop_this_cpu.
TEST(NativeStopOtherCpus, OnlyCpusWithInterruptsOffGetTheNmi) {
  auto sys = make_system(make_config(4));
  Kernel& k = sys->kernel();
  sys->machine().cpu(1).set_interrupt_flag(false);
  sys->machine().cpu(3).set_interrupt_flag(false);
  sys->at(100, [&] { k.stop_other_cpus(0); });
  sys->run_to_idle();
  EXPECT_EQ(count_lines(k, "Shutting down cpus with NMI"), 1);
  const HandlerId h = k.registry().find_registered(NmiType::local, "smp_stop");
  ASSERT_NE(h, kNoHandler);
  EXPECT_EQ(k.registry().handler(h).total.calls, 2u);
  for (CpuId c : {1u, 3u}) {
    EXPECT_TRUE(k.cpu_state(c).halted) << "cpu " << c;
    EXPECT_EQ(sys->machine().cpu(c).stats().nmi_delivered, 1u) << "cpu " << c;
    // The REBOOT_VECTOR request is still in the IRR: the CPU never took it.
    EXPECT_TRUE(sys->machine().apic(c).irr_bit(0xf8)) << "cpu " << c;
    EXPECT_EQ(k.lost_work(c), 0u) << "cpu " << c;
  }
  EXPECT_EQ(sys->machine().cpu(2).stats().nmi_delivered, 0u);
  EXPECT_TRUE(k.cpu_state(2).halted);
  // The message comes after the 1 s wait of step 2 (USEC_PER_SEC udelay(1)s).
  const Cycle second = sys->machine().timing().get(TimingParam::core_mhz) * 1'000'000;
  for (const auto& l : k.console().lines()) {
    if (l.text == "Shutting down cpus with NMI") {
      EXPECT_GE(l.cycle, 100 + second);
    }
  }
  EXPECT_EQ(k.stop_phase(), StopPhase::done);
}

// A CPU that does not stop even for the NMI (NMIs blocked for good here: it
// is inside another NMI that never returns) leaves the stopper after the
// 10 ms wait; the stop is over all the same.
TEST(NativeStopOtherCpus, TheNmiWaitEndsWithoutTheCpu) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  sys->machine().cpu(1).set_interrupt_flag(false);
  sys->machine().cpu(1).set_nmi_blocked(true);
  sys->at(100, [&] { k.stop_other_cpus(0); });
  sys->run_to_idle();
  EXPECT_EQ(k.stop_phase(), StopPhase::done);
  EXPECT_FALSE(k.cpu_state(1).halted);
  EXPECT_EQ(count_lines(k, "Shutting down cpus with NMI"), 1);
  const Cycle ms = sys->machine().timing().get(TimingParam::core_mhz) * 1'000;
  EXPECT_GE(sys->machine().now(), 100 + 1'000 * ms + 10 * ms);
}

// SDM Vol. 3A "Local APIC State After It Has Been Software Disabled": a CPU
// stopped by the IRQ still takes NMIs, and no fixed interrupt. Linux runs
// default_do_nmi on it (no stop handler is registered after a stop the IRQ
// finished: an unknown NMI) and it goes back to its HLT loop.
TEST(NativeStopOtherCpus, ACpuStoppedByTheIrqStillTakesNmisAndHaltsAgain) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  sys->at(100, [&] { k.stop_other_cpus(0); });
  sys->run_to_idle();
  ASSERT_TRUE(k.cpu_state(1).halted);
  const CpuId one[] = {1};
  sys->at(sys->machine().now() + 10, [&] {
    k.send_nmi_ipi(0, one, 2);
    sys->machine().write_icr(0, apic::IcrValue{}
                                    .with_delivery_mode(apic::DeliveryMode::fixed)
                                    .with_vector(0x40)
                                    .with_destination(1));
  });
  sys->run_to_idle();
  EXPECT_EQ(sys->machine().cpu(1).stats().nmi_delivered, 1u);
  EXPECT_EQ(k.cpu_state(1).stats.unknown, 1u);
  EXPECT_TRUE(sys->machine().cpu(1).halted());
  EXPECT_FALSE(sys->machine().apic(1).irr_bit(0x40));
  EXPECT_EQ(sys->machine().apic(1).counters().received_dropped, 1u);
}

// SDM Vol. 3A ch. 11 "Interrupt Acceptance for Fixed Interrupts": a fixed IPI
// waits in the IRR while RFLAGS.IF = 0 and is taken (IRR -> ISR) at STI.
TEST(MaskableInterrupts, AFixedIpiWaitsInTheIrrUntilIfIsSet) {
  auto sys = make_system(make_config(2));
  auto& cpu = sys->machine().cpu(1);
  auto& apic1 = sys->machine().apic(1);
  cpu.set_interrupt_flag(false);
  sys->at(10, [&] {
    sys->machine().write_icr(0, apic::IcrValue{}
                                    .with_delivery_mode(apic::DeliveryMode::fixed)
                                    .with_vector(0x40)
                                    .with_destination(1));
  });
  sys->run_to_idle();
  EXPECT_TRUE(apic1.irr_bit(0x40));
  EXPECT_FALSE(apic1.isr_bit(0x40));
  // Software sees it too: IRR register 2 (vectors 0x40..0x5F), bit 0.
  EXPECT_EQ(sys->machine().apic_read(1, apic::APIC_IRR + 0x20), 1u);
  EXPECT_EQ(sys->machine().apic_read(1, apic::APIC_IRR + 0x10), 0u);
  cpu.set_interrupt_flag(true);
  EXPECT_FALSE(apic1.irr_bit(0x40));
  // The kernel ends it (EOI) and returns with IF on again.
  EXPECT_FALSE(apic1.isr_bit(0x40));
  EXPECT_EQ(sys->machine().apic_read(1, apic::APIC_IRR + 0x20), 0u);
  EXPECT_EQ(apic1.counters().eoi_writes, 1u);
  EXPECT_TRUE(cpu.interrupt_flag());
}

// kernel/panic.c panic(): after nmi_panic the panicking CPU stops the others
// with smp_send_stop (native_stop_other_cpus); the busy CPU with interrupts
// off is stopped by NMI; then the machine halts.
TEST(PanicStopsOtherCpus, NmiPanicRunsSmpSendStopThenTheMachineHalts) {
  auto cfg = make_config(3);
  cfg.kernel.unknown_nmi_panic = true;
  auto sys = make_system(cfg);
  Kernel& k = sys->kernel();
  sys->machine().cpu(2).set_interrupt_flag(false);
  const CpuId one[] = {1};
  sys->at(100, [&] { k.send_nmi_ipi(0, one, 2); });  // an unknown NMI on CPU 1
  sys->run_to_idle();
  ASSERT_TRUE(k.panicked());
  EXPECT_TRUE(k.machine_halted());
  EXPECT_TRUE(sys->stopped());
  EXPECT_TRUE(k.cpu_state(0).halted);   // by the IRQ
  EXPECT_TRUE(k.cpu_state(2).halted);   // by the NMI
  EXPECT_FALSE(k.cpu_state(1).halted);  // the panicking CPU loops in panic()
  EXPECT_EQ(sys->machine().cpu(2).stats().nmi_delivered, 1u);
  EXPECT_EQ(count_lines(k, "Shutting down cpus with NMI"), 1);
  EXPECT_EQ(count_lines(k, "---[ end Kernel panic - not syncing: NMI: Not continuing ]---"), 1);
  // No "Dazed" after the panic (nmi_panic does not return).
  EXPECT_FALSE(console_has(k, "Dazed"));
}

// Until the stop reaches them, the other CPUs go on: an NMI CPU 0 gets
// between the panic and the stop is handled.
TEST(PanicStopsOtherCpus, OtherCpusRunUntilTheStopReachesThem) {
  auto cfg = make_config(2);
  cfg.kernel.unknown_nmi_panic = true;
  auto sys = make_system(cfg);
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 1).ok());
  sys->machine().cpu(0).set_interrupt_flag(false);  // CPU 0 keeps the IRQ out
  const CpuId one[] = {1};
  const CpuId zero[] = {0};
  sys->at(100, [&] { k.send_nmi_ipi(0, one, 2); });
  sys->at(50'000, [&] {
    k.registry().add_work(k.registry().find_handler("dev"), 0);
    k.send_nmi_ipi(0, zero, 1);
  });
  sys->run_to_idle();
  ASSERT_TRUE(k.panicked());
  EXPECT_TRUE(k.machine_halted());
  EXPECT_EQ(k.cpu_state(0).stats.normal, 1u);
  EXPECT_TRUE(k.cpu_state(0).halted);
}

}  // namespace
}  // namespace fredsim::kernel
