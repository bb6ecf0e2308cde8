// Cycle timing of delivery and return ("not at t-1, yes at t", docs/architecture.md "Conventions"),
// and the dispatch_cycles counter (docs/format.md "Result JSON": delivery to return, summed).
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

TEST(CpuTiming, FredDeliveryReachesTheOsAfterExactlyItsCost) {
  Harness h;
  h.program_linux_fred();
  h.run_to(500);
  h.cpu->raise_nmi(1);
  h.run_to(500 + kFredCost - 1);
  EXPECT_TRUE(h.os.seen.empty());
  EXPECT_EQ(h.cpu->run_state(), RunState::delivering);
  h.run_to(500 + kFredCost);
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].at, 500 + kFredCost);
  EXPECT_EQ(h.cpu->run_state(), RunState::in_os);
}

TEST(CpuTiming, OsEntryCodeFoldsIntoTheDelivery) {
  // The OS's fixed entry stub (OsEntry::entry_code) runs before on_delivery, in
  // the same event: the CPU stays "delivering" until then, NMIs blocked.
  Harness h;
  h.os.nmi_entry_code = 180;
  h.program_linux_fred();
  h.run_to(500);
  h.cpu->raise_nmi(1);
  h.run_to(500 + kFredCost + 179);
  EXPECT_TRUE(h.os.seen.empty());
  EXPECT_EQ(h.cpu->run_state(), RunState::delivering);
  EXPECT_TRUE(h.cpu->nmi_blocked());
  h.run_to(500 + kFredCost + 180);
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].at, 500 + kFredCost + 180);
  EXPECT_EQ(h.os.seen[0].d.started, 500u) << "the delivery still starts at the raise";
  EXPECT_EQ(h.cpu->run_state(), RunState::in_os);
}

TEST(CpuTiming, EretsCompletesAfterExactlyItsCost) {
  Harness h;
  h.program_linux_fred();
  h.cpu->raise_nmi(1);
  h.run_idle();
  const Cycle t = h.queue.now() + 40;
  h.run_to(t);
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_to(t + kEretsCost - 1);
  EXPECT_EQ(h.cpu->run_state(), RunState::returning);
  EXPECT_TRUE(h.cpu->nmi_blocked());
  EXPECT_TRUE(h.os.resumes.empty());
  h.run_to(t + kEretsCost);
  EXPECT_EQ(h.cpu->run_state(), RunState::running);
  EXPECT_FALSE(h.cpu->nmi_blocked());
  ASSERT_EQ(h.os.resumes.size(), 1u);
  EXPECT_EQ(h.os.resumes[0].first, t + kEretsCost);
}

TEST(CpuTiming, IdtDeliveryAndIretUseTheirCosts) {
  Harness h(CpuFeatures::legacy());
  h.run_to(300);
  h.cpu->raise_nmi(1);
  h.run_to(300 + kIdtCost - 1);
  EXPECT_TRUE(h.os.seen.empty());
  h.run_to(300 + kIdtCost);
  ASSERT_EQ(h.os.seen.size(), 1u);
  ASSERT_EQ(h.cpu->iret(), Fault::none);
  h.run_to(300 + kIdtCost + kIretCost - 1);
  EXPECT_EQ(h.cpu->run_state(), RunState::returning);
  h.run_to(300 + kIdtCost + kIretCost);
  EXPECT_EQ(h.cpu->run_state(), RunState::running);
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, kIdtCost + kIretCost);
}

TEST(CpuTiming, NonNmiEventsUseTheFredCostToo) {
  Harness h;
  h.program_linux_fred();
  ASSERT_EQ(h.cpu->deliver_event({EventType::hardware_exception, 14, 0, 0, 0, false}), Fault::none);
  h.run_to(kFredCost - 1);
  EXPECT_TRUE(h.os.seen.empty());
  h.run_to(kFredCost);
  EXPECT_EQ(h.os.seen.size(), 1u);
}

TEST(CpuDispatchCycles, DeliveryStartToReturnCompletion) {
  Harness h;
  h.program_linux_fred();
  h.run_to(1000);
  h.cpu->raise_nmi(1);
  h.run_to(1500);  // entry at 1101; the handler runs until 1500
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 1500 + kEretsCost - 1000);
  // A second NMI adds its own span.
  h.run_to(5000);
  h.cpu->raise_nmi(1);
  h.run_to(5200);
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(h.cpu->stats().dispatch_cycles,
            (1500 + kEretsCost - 1000) + (5200 + kEretsCost - 5000));
}

TEST(CpuDispatchCycles, AutoReturningOsCostsDeliveryPlusErets) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  h.cpu->raise_nmi(1);
  h.run_idle();
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, kFredCost + kEretsCost);
  // From ring 3 the return is ERETU.
  h.cpu->set_user_mode(true);
  h.cpu->raise_nmi(1);
  h.run_idle();
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 2 * kFredCost + kEretsCost + kEretuCost);
  for (Fault f : h.os.return_faults)
    EXPECT_EQ(f, Fault::none);
}

TEST(CpuDispatchCycles, NonNmiEventsDoNotCount) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  ASSERT_EQ(h.cpu->deliver_event({EventType::hardware_exception, 14, 0, 0, 0, false}), Fault::none);
  h.run_idle();
  EXPECT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 0u);
}

TEST(CpuDispatchCycles, NestedPageFaultInsideNmiDoesNotCloseIt) {
  Harness h;
  h.program_linux_fred();
  h.cpu->raise_nmi(1);
  h.run_idle();  // 101
  ASSERT_EQ(h.cpu->deliver_event({EventType::hardware_exception, 14, 0, 0, 0, false}), Fault::none);
  h.run_idle();  // 202
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_idle();  // 263: back in the NMI handler
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 0u);
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_idle();  // 324
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 2 * kFredCost + 2 * kEretsCost);
}

TEST(CpuDispatchCycles, BackToBackSpansDoNotOverlap) {
  Harness h;
  h.program_linux_fred();
  h.cpu->raise_nmi(1);
  h.run_idle();
  h.cpu->raise_nmi(2);  // pending
  h.os.auto_return = true;
  ASSERT_EQ(h.cpu->erets(), Fault::none);
  h.run_idle();
  // First: 0 -> 101 + 61; second: 162 -> 162 + 101 + 61.
  EXPECT_EQ(h.cpu->stats().dispatch_cycles, 2 * (kFredCost + kEretsCost));
  EXPECT_EQ(h.queue.now(), 2 * (kFredCost + kEretsCost));
}

}  // namespace
}  // namespace fredsim::cpu
