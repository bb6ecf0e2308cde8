// The `irqs_off` interval event (docs/scenarios.md "Interrupts off"): its keys
// and errors, and what it does to the stop of the other CPUs (Linux's
// native_stop_other_cpus, arch/x86/kernel/smp.c: a CPU with interrupts off
// does not take the REBOOT_VECTOR IRQ and is stopped by NMI).
#include <gtest/gtest.h>

#include <string>

#include "fredsim/scenario/system_runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

TEST(IrqsOffEvent, TakesCpuAndUntil) {
  auto s = load_ok(std::string(kHead) +
                   "[[event]]\nat = 0\ntype = \"irqs_off\"\ncpu = 1\nuntil = 500\n"
                   "[[event]]\nat = 7\ntype = \"irqs_off\"\ncpu = 3\n");
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_EQ(s.events[0].type, EventType::irqs_off);
  EXPECT_EQ(to_string(s.events[0].type), "irqs_off");
  EXPECT_EQ(s.events[0].cpu, 1u);
  ASSERT_TRUE(s.events[0].until.has_value());
  EXPECT_EQ(*s.events[0].until, 500u);
  EXPECT_EQ(s.events[1].cpu, 3u);
  EXPECT_EQ(s.events[1].at, 7u);
  EXPECT_FALSE(s.events[1].until.has_value());  // to the end of the run
}

TEST(IrqsOffEvent, MissingCpuIsAnErrorAtTheTable) {
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"irqs_off\"\n"),
            "t.toml:4:1: error: missing required key 'cpu' in [[event]] of type \"irqs_off\"");
}

TEST(IrqsOffEvent, UntilMustComeAfterAt) {
  EXPECT_EQ(load_error(std::string(kHead) +
                       "[[event]]\nat = 10\ntype = \"irqs_off\"\ncpu = 1\nuntil = 10\n"),
            "t.toml:8:9: error: event.until = 10 must come after at = 10");
}

TEST(IrqsOffEvent, CpuOutOfRangeIsAnErrorAtTheValue) {
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"irqs_off\"\ncpu = 4\n"),
            "t.toml:7:7: error: event.cpu = 4 is not a CPU of this system (cpus = 4: 0..3)");
}

TEST(IrqsOffEvent, TakesNoRepetitionOrSenderKeys) {
  EXPECT_EQ(load_error(std::string(kHead) +
                       "[[event]]\nat = 1\ntype = \"irqs_off\"\ncpu = 1\nevery = 5\n"),
            "t.toml:8:1: error: unknown key 'every' in [[event]] of type \"irqs_off\" (allowed: "
            "at, type, cpu, until)");
}

// native_stop_other_cpus: only the CPU with interrupts off is left after the
// REBOOT_VECTOR IRQ; it alone gets the NMI, after the wait, with the message.
TEST(IrqsOffRun, NativeStopOtherCpusSendsTheNmiOnlyToTheCpuWithInterruptsOff) {
  auto spec = load_ok(std::string(kHead) +
                      "[[event]]\nat = 0\ntype = \"irqs_off\"\ncpu = 2\n"
                      "[[event]]\nat = 100\ntype = \"stop\"\nfrom = 0\n");
  auto sys = build_system(spec);
  ASSERT_TRUE(sys.ok()) << sys.error().message;
  (*sys)->run_to_idle();
  kernel::Kernel& k = (*sys)->kernel();
  for (CpuId c : {1u, 2u, 3u})
    EXPECT_TRUE(k.cpu_state(c).halted) << "cpu " << c;
  EXPECT_FALSE(k.cpu_state(0).halted);
  const kernel::HandlerId h = k.registry().find_registered(kernel::NmiType::local, "smp_stop");
  ASSERT_NE(h, kernel::kNoHandler);
  EXPECT_EQ(k.registry().handler(h).total.calls, 1u);
  EXPECT_EQ((*sys)->machine().cpu(2).stats().nmi_delivered, 1u);
  EXPECT_EQ((*sys)->machine().cpu(1).stats().nmi_delivered, 0u);
  int lines = 0;
  for (const auto& l : k.console().lines())
    lines += l.text == "Shutting down cpus with NMI";
  EXPECT_EQ(lines, 1);
}

// The interval's end: STI lets the waiting REBOOT_VECTOR in, so no NMI is needed.
TEST(IrqsOffRun, TheIrqWaitsInTheIrrUntilTheIntervalEnds) {
  auto spec = load_ok(std::string(kHead) +
                      "[[event]]\nat = 0\ntype = \"irqs_off\"\ncpu = 2\nuntil = 100000\n"
                      "[[event]]\nat = 100\ntype = \"stop\"\nfrom = 0\n");
  auto sys = build_system(spec);
  ASSERT_TRUE(sys.ok()) << sys.error().message;
  (*sys)->run_to_idle();
  kernel::Kernel& k = (*sys)->kernel();
  EXPECT_TRUE(k.cpu_state(2).halted);
  EXPECT_EQ(k.registry().find_registered(kernel::NmiType::local, "smp_stop"), kernel::kNoHandler);
  EXPECT_EQ((*sys)->machine().cpu(2).stats().nmi_delivered, 0u);
}

}  // namespace
}  // namespace fredsim::scenario
