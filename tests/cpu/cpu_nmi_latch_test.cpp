// The NMI latch and the NMI-source bitmap (docs/hardware.md §2 "NMI-source reporting"): one pending
// NMI, sources OR-ed while it waits, the bitmap delivered as FRED event data and cleared; the
// counters of docs/format.md "Result JSON".
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

// (source vector, bitmap bit) by hand from docs/hardware.md §2 "NMI-source reporting".
const std::vector<std::pair<std::uint32_t, std::uint16_t>> kSources = {
    {0, 0x0001},  {16, 0x0001}, {255, 0x0001}, {1000, 0x0001},        {2, 0x0004}, {1, 0x0002},
    {15, 0x8000}, {7, 0x0080},  {3, 0x0008},   {4, 0x0010},           {5, 0x0020}, {6, 0x0040},
    {8, 0x0100},  {9, 0x0200},  {14, 0x4000},  {0xFFFFFFFFu, 0x0001},
};

class Coalesce : public ::testing::TestWithParam<int> {};

TEST_P(Coalesce, BlockedNmisMergeIntoOneDeliveryWithTheOrOfTheirBits) {
  const int n = GetParam();
  Harness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  c.raise_nmi(11);  // the first one is taken and blocks NMIs
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x0800u);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);  // cleared at delivery

  std::uint16_t expect = 0;
  for (int i = 0; i < n; ++i) {
    c.raise_nmi(kSources[static_cast<std::size_t>(i)].first);
    expect |= kSources[static_cast<std::size_t>(i)].second;
    EXPECT_EQ(c.nmi_source_bitmap(), expect) << "after " << i + 1;
  }
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_EQ(c.stats().nmi_received, static_cast<std::uint64_t>(1 + n));
  EXPECT_EQ(c.stats().nmi_coalesced, static_cast<std::uint64_t>(n - 1));
  EXPECT_EQ(c.stats().nmi_delivered, 1u);
  // received = coalesced + delivered + 1 pending.
  EXPECT_EQ(c.stats().nmi_received, c.stats().nmi_coalesced + c.stats().nmi_delivered + 1);

  const auto recv = h.sink.of("nmi_receive");
  ASSERT_EQ(recv.size(), static_cast<std::size_t>(1 + n));
  EXPECT_EQ(recv[0].at("coalesced"), "false");
  EXPECT_EQ(recv[1].at("coalesced"), "false");  // the first to wait merges with nothing
  for (int i = 2; i <= n; ++i) {
    EXPECT_EQ(recv[static_cast<std::size_t>(i)].at("coalesced"), "true") << i;
  }
  EXPECT_EQ(recv[static_cast<std::size_t>(n)].at("pending_bitmap"), hex(expect));
  EXPECT_EQ(recv[static_cast<std::size_t>(n)].at("vector"),
            std::to_string(kSources[static_cast<std::size_t>(n - 1)].first));

  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);  // exactly one more delivery
  EXPECT_EQ(h.os.seen[1].d.frame.event_data, expect);
  EXPECT_EQ(h.os.seen[1].d.event.event_data, expect);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  EXPECT_FALSE(c.nmi_pending());
  EXPECT_EQ(c.stats().nmi_delivered, 2u);
  EXPECT_EQ(c.stats().nmi_received, c.stats().nmi_coalesced + c.stats().nmi_delivered);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(h.os.seen.size(), 2u);
}
INSTANTIATE_TEST_SUITE_P(OneTo16, Coalesce, ::testing::Range(1, 17));

TEST(NmiLatch, EachVectorAloneLandsOnItsBit) {
  for (const auto& [vector, bit] : kSources) {
    Harness h;
    h.program_linux_fred();
    h.cpu->raise_nmi(vector);
    h.run_idle();
    ASSERT_EQ(h.os.seen.size(), 1u);
    EXPECT_EQ(h.os.seen[0].d.frame.event_data, bit) << "vector " << vector;
  }
}

TEST(NmiLatch, ExternalNmiIsBit2) {
  Harness h;
  h.program_linux_fred();
  h.cpu->raise_nmi(2);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x4u);
}

TEST(NmiLatch, NmisDuringDeliveryCoalesce) {
  Harness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  c.raise_nmi(1);
  ASSERT_EQ(c.run_state(), RunState::delivering);
  h.run_to(50);
  c.raise_nmi(4);
  c.raise_nmi(4);
  EXPECT_EQ(c.nmi_source_bitmap(), 0x10);
  h.run_idle();
  EXPECT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(c.stats().nmi_coalesced, 1u);
}

TEST(NmiLatch, WithoutNmiSourceEventDataIsZero) {
  CpuFeatures f;
  f.nmi_source = false;
  Harness h(f);
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  c.raise_nmi(7);
  h.run_idle();
  c.raise_nmi(3);
  c.raise_nmi(9);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[0].d.path, DeliveryPath::fred);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0u);
  EXPECT_EQ(h.os.seen[1].d.frame.event_data, 0u);
  EXPECT_TRUE(h.os.seen[1].d.frame.ss.nmi());
  EXPECT_EQ(c.stats().nmi_coalesced, 1u);
}

TEST(NmiLatch, NmiLatchedDuringAnotherEventsDeliveryIsTakenAtItsEntry) {
  // A #PF does not block NMIs (docs/hardware.md §1 "Delivery" step 6 blocks only for an
  // NMI). An NMI that arrives while the #PF is being delivered must be taken at
  // the first instruction boundary after it, not left waiting for a return.
  Harness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0x1000, 0, false}), Fault::none);
  h.run_to(10);
  c.raise_nmi(3);
  EXPECT_FALSE(c.nmi_blocked());
  h.run_to(kFredCost);  // the #PF reaches its entry
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(c.run_state(), RunState::delivering);  // and the NMI is being delivered
  EXPECT_FALSE(c.nmi_pending());
  h.run_to(2 * kFredCost);
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.event.type, EventType::nmi);
  EXPECT_EQ(h.os.seen[1].d.frame.event_data, 0x8u);
  EXPECT_EQ(h.os.seen[1].d.started, kFredCost);
  EXPECT_EQ(h.os.seen[1].d.frame.rip, kEntryPage + 256);  // the #PF entry point
  EXPECT_EQ(c.stats().nmi_delivered, 1u);
}

TEST(NmiLatch, UnblockedInOsNmiIsTakenAtOnce) {
  // OS code with NMIs unblocked (after a #PF entry): a new NMI nests at once.
  Harness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0x1000, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(c.run_state(), RunState::in_os);
  c.raise_nmi(5);
  EXPECT_EQ(c.run_state(), RunState::delivering);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.frame.cs.stack_level(), 0);
  EXPECT_EQ(h.os.seen[1].d.csl, 2);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.run_state(), RunState::in_os);  // back in the #PF handler
  ASSERT_FALSE(h.os.resumes.empty());
  EXPECT_EQ(h.os.resumes.back().second, RunState::in_os);
  EXPECT_EQ(c.csl(), 0);
}

// --- IDT baseline (docs/hardware.md §1 "IDT delivery") ------------------------------------

constexpr std::uint64_t kIst = 0xFFFFFE0000050000ull;

class Idt : public ::testing::Test {
 protected:
  Harness h{CpuFeatures::legacy()};
  Cpu& c = *h.cpu;
  void SetUp() override {
    c.set_idt_nmi_stack(kIst);
    h.run_to(1000);
  }
};

TEST_F(Idt, NmiHasNoEventDataAndUsesIdtCost) {
  const std::uint64_t rip = c.rip();
  c.raise_nmi(4);
  h.run_to(1000 + kIdtCost - 1);
  EXPECT_TRUE(h.os.seen.empty());
  h.run_to(1000 + kIdtCost);
  ASSERT_EQ(h.os.seen.size(), 1u);
  const auto& s = h.os.seen[0];
  EXPECT_EQ(s.d.path, DeliveryPath::idt);
  EXPECT_EQ(s.d.event.event_data, 0u);
  EXPECT_EQ(s.d.frame.event_data, 0u);
  EXPECT_EQ(s.d.frame.rip, rip);
  EXPECT_EQ(s.d.frame_rsp, kIst - 64);
  EXPECT_TRUE(s.blocked_at_entry);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  const auto del = h.sink.of("nmi_deliver");
  ASSERT_EQ(del.size(), 1u);
  EXPECT_EQ(del[0].at("path"), "idt");
  EXPECT_EQ(del[0].at("event_data"), "0x0");
}

TEST_F(Idt, CoalescedNmisLoseTheirIdentity) {
  c.raise_nmi(4);
  h.run_idle();
  c.raise_nmi(7);
  c.raise_nmi(2);
  c.raise_nmi(0);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  EXPECT_EQ(c.stats().nmi_received, 4u);
  EXPECT_EQ(c.stats().nmi_coalesced, 2u);
  ASSERT_EQ(c.iret(), Fault::none);
  h.run_to(h.queue.now() + kIretCost);
  EXPECT_EQ(c.run_state(), RunState::delivering);  // back-to-back
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.event.event_data, 0u);
  EXPECT_EQ(h.os.seen[1].d.frame.event_data, 0u);
  EXPECT_EQ(c.stats().nmi_delivered, 2u);
  EXPECT_EQ(c.stats().nmi_received, c.stats().nmi_coalesced + c.stats().nmi_delivered);
}

TEST_F(Idt, IretUnblocksUnconditionally) {
  // The legacy hazard: a #PF inside the NMI handler returns with IRET, which
  // unblocks NMIs, so a waiting NMI nests inside the first handler.
  c.raise_nmi(1);
  h.run_idle();
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0x1000, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  c.raise_nmi(1);
  EXPECT_TRUE(c.nmi_pending());
  ASSERT_EQ(c.iret(), Fault::none);  // the #PF's IRET
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 3u);
  EXPECT_EQ(h.os.seen[2].d.event.type, EventType::nmi);
  EXPECT_TRUE(c.nmi_blocked());
}

TEST_F(Idt, IretIgnoresTheSsNmiBit) {
  c.raise_nmi(1);
  h.run_idle();
  ASSERT_NE(c.frame_at_rsp(), nullptr);
  EXPECT_FALSE(c.frame_at_rsp()->ss.nmi());  // an IDT frame has no such bit
  ASSERT_EQ(c.iret(), Fault::none);
  h.run_to(h.queue.now() + kIretCost - 1);
  EXPECT_TRUE(c.nmi_blocked());
  h.run_to(h.queue.now() + 1);
  EXPECT_FALSE(c.nmi_blocked());
  const auto ret = h.sink.of("nmi_return");
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].at("via"), "iret");
  EXPECT_EQ(ret[0].at("nmi_unblocked"), "true");
}

TEST_F(Idt, EretsAndEretuUd) {
  c.raise_nmi(1);
  h.run_idle();
  EXPECT_EQ(c.erets(), Fault::ud);
  EXPECT_EQ(c.eretu(), Fault::ud);
  EXPECT_EQ(c.stats().faults, 2u);
}

TEST(IdtWithFredEnumerated, Cr4FredOffMeansIdtAndNoBitmap) {
  Harness h;  // FRED and NMI-source enumerated, CR4.FRED left 0
  Cpu& c = *h.cpu;
  EXPECT_FALSE(c.nmi_source_active());
  c.raise_nmi(5);
  h.run_idle();
  c.raise_nmi(6);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.path, DeliveryPath::idt);
  EXPECT_EQ(h.os.seen[0].d.event.event_data, 0u);
}

}  // namespace
}  // namespace fredsim::cpu
