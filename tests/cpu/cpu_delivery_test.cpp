// FRED event delivery: stack levels, new RSP, frame contents, entry RIP, event
// data per event type (docs/hardware.md §1 "Delivery", "Event data", "The frame").
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

// SS word pieces, by hand from docs/hardware.md §1 "FRED event delivery".
constexpr std::uint64_t kSsNmiBit = 1ull << 18;
constexpr std::uint64_t kSsSoftware = 1ull << 17;
constexpr std::uint64_t kSsLong = 1ull << 57;
constexpr std::uint64_t vec(std::uint64_t v) {
  return v << 32;
}
constexpr std::uint64_t type(std::uint64_t t) {
  return t << 48;
}
constexpr std::uint64_t len(std::uint64_t l) {
  return l << 60;
}

class FredDelivery : public ::testing::Test {
 protected:
  Harness h;
  Cpu& c = *h.cpu;
  void SetUp() override {
    h.program_linux_fred();
    h.run_to(1000);
  }
  void set_ring0(std::uint8_t csl, std::uint64_t rsp) {
    ArchState s = c.save_state();
    s.csl = csl;
    s.rsp = rsp;
    c.load_state(s);
  }
};

TEST_F(FredDelivery, NmiFromRing0SwitchesToRsp2) {
  const std::uint64_t rip = c.rip();
  const std::uint64_t rflags = c.rflags();
  c.raise_nmi(3);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const auto& s = h.os.seen[0];
  const FredFrame& f = s.d.frame;
  EXPECT_EQ(s.d.path, DeliveryPath::fred);
  EXPECT_EQ(f.error_code, 0u);
  EXPECT_EQ(f.rip, rip);
  EXPECT_EQ(f.cs.encode(), 0x10u);  // CS 0x10, stack level 0
  EXPECT_EQ(f.rflags, rflags);
  EXPECT_EQ(f.rsp, kIdleRsp);
  EXPECT_EQ(f.ss.encode(), 0x0202000200040018ull);
  EXPECT_EQ(f.event_data, 0x8u);  // vector 3 -> bit 3
  EXPECT_EQ(f.reserved, 0u);
  // STKLVLS gives the NMI level 2: the level rises, RSP2 is used.
  EXPECT_EQ(s.d.frame_rsp, kRsp2 - 64);
  EXPECT_EQ(s.rsp_at_entry, kRsp2 - 64);
  EXPECT_EQ(s.d.csl, 2);
  EXPECT_EQ(s.csl_at_entry, 2);
  EXPECT_EQ(s.d.from_cpl, 0);
  EXPECT_EQ(s.cpl_at_entry, 0);
  EXPECT_EQ(s.rip_at_entry, kEntryPage + 256);
  EXPECT_EQ(s.rflags_at_entry, 0x2u);
  EXPECT_TRUE(s.blocked_at_entry);
  EXPECT_EQ(s.d.started, 1000u);
  EXPECT_EQ(c.cs(), kKernelCs);
  EXPECT_EQ(c.ss(), kKernelSs);
  // The frame is what ERETS would pop.
  ASSERT_NE(c.frame_at_rsp(), nullptr);
  EXPECT_EQ(*c.frame_at_rsp(), f);
}

TEST_F(FredDelivery, NmiFromRing3UsesRsp0AndStarSelectors) {
  c.set_user_mode(true);
  ASSERT_EQ(c.cpl(), 3);
  h.run_to(1500);
  const std::uint64_t user_rip = c.rip();
  const std::uint64_t user_rsp = c.rsp();
  const std::uint16_t user_cs = c.cs();
  const std::uint16_t user_ss = c.ss();
  EXPECT_EQ(user_cs & 3, 3);
  EXPECT_EQ(user_ss & 3, 3);
  c.raise_nmi(7);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const auto& s = h.os.seen[0];
  const FredFrame& f = s.d.frame;
  EXPECT_EQ(f.rip, user_rip);
  EXPECT_EQ(f.rsp, user_rsp);
  // CS slot: user CS, stack level 0 (from ring 3).
  EXPECT_EQ(f.cs.encode(), std::uint64_t{user_cs});
  EXPECT_EQ(f.ss.encode(), user_ss | kSsNmiBit | vec(2) | type(2) | kSsLong);
  EXPECT_EQ(f.event_data, 0x80u);
  // Level 0 from ring 3 whatever STKLVLS says; RSP0.
  EXPECT_EQ(s.d.frame_rsp, kRsp0 - 64);
  EXPECT_EQ(s.d.csl, 0);
  EXPECT_EQ(s.d.from_cpl, 3);
  EXPECT_EQ(s.cpl_at_entry, 0);
  // Entry page itself from ring 3 (no +256).
  EXPECT_EQ(s.rip_at_entry, kEntryPage);
  EXPECT_EQ(s.rflags_at_entry, 0x2u);
  // CS = IA32_STAR[47:32], SS = CS + 8.
  EXPECT_EQ(c.cs(), 0x10);
  EXPECT_EQ(c.ss(), 0x18);
}

TEST_F(FredDelivery, Ring3SelectorsComeFromStar) {
  ASSERT_EQ(c.wrmsr(0xC0000081, 0x0023002000000000ull), Fault::none);  // kernel CS 0x20
  c.set_user_mode(true);
  c.raise_nmi(1);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(c.cs(), 0x20);
  EXPECT_EQ(c.ss(), 0x28);
}

TEST_F(FredDelivery, Ring3SelectorsFromStarHaveRpl0) {
  // As SYSCALL loads them: CS = STAR[47:32] & 0xFFFC, SS = (STAR[47:32] + 8) &
  // 0xFFFC. After the delivery CPL is 0, so the selectors carry RPL 0.
  ASSERT_EQ(c.wrmsr(0xC0000081, 0x0023001300000000ull), Fault::none);  // RPL bits set
  c.set_user_mode(true);
  c.raise_nmi(1);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(c.cpl(), 0);
  EXPECT_EQ(c.cs(), 0x10);
  EXPECT_EQ(c.ss(), 0x18);
}

TEST_F(FredDelivery, LevelNeverDropsRedZonePath) {
  // CSL 3 (say, in the #DF handler) and an NMI of level 2: CSL stays 3, and the
  // frame goes below the red zone of the current stack, aligned down to 64.
  set_ring0(3, 0xFFFFC90000004018ull);
  c.raise_nmi(4);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const auto& s = h.os.seen[0];
  // ((0x...4018 - 64) & ~63) - 64 = (0x...3FD8 & ~63) - 64 = 0x...3FC0 - 64.
  EXPECT_EQ(s.d.frame_rsp, 0xFFFFC90000003F80ull);
  EXPECT_EQ(s.d.csl, 3);
  EXPECT_EQ(s.d.frame.cs.encode(), 0x30010u);  // stack level 3 at the event
  EXPECT_EQ(s.d.frame.rsp, 0xFFFFC90000004018ull);
  EXPECT_EQ(s.rip_at_entry, kEntryPage + 256);
}

TEST_F(FredDelivery, SameLevelUsesRedZoneNotRspN) {
  // CSL 2 already (a second NMI-level event): no switch to RSP2.
  set_ring0(2, 0xFFFFFE0000020F40ull);
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 18, 0, 0, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  // ((0x...0F40 - 64) & ~63) - 64 = 0x...0F00 - 64 = 0x...0EC0.
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, 0xFFFFFE0000020EC0ull);
  EXPECT_EQ(h.os.seen[0].d.csl, 2);
}

TEST_F(FredDelivery, LevelRisesFrom1To2) {
  set_ring0(1, 0xFFFFFE0000010E08ull);
  c.raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp2 - 64);
  EXPECT_EQ(h.os.seen[0].d.csl, 2);
  EXPECT_EQ(h.os.seen[0].d.frame.cs.encode(), 0x10010u);  // stack level 1
}

TEST_F(FredDelivery, RedZoneSizeFromConfig) {
  // Red zone 0 and 3 lines, an NMI of level 0 at CSL 0 (no rise).
  for (unsigned lines : {0u, 3u}) {
    Harness g;
    g.program_linux_fred();
    ASSERT_EQ(g.cpu->wrmsr(0x1D0, 0), Fault::none);
    ASSERT_EQ(g.cpu->wrmsr(0x1D4, kEntryPage | (std::uint64_t{lines} << 6)), Fault::none);
    g.cpu->raise_nmi(1);
    g.run_idle();
    ASSERT_EQ(g.os.seen.size(), 1u);
    // kIdleRsp = 0x...4000 is aligned: (0x4000 - 64*lines) & ~63 - 64.
    const std::uint64_t expect = kIdleRsp - 64 * lines - 64;
    EXPECT_EQ(g.os.seen[0].d.frame_rsp, expect) << lines;
    EXPECT_EQ(g.os.seen[0].d.csl, 0);
  }
}

TEST_F(FredDelivery, DoubleFaultLevel3EvenFromRing3) {
  c.set_user_mode(true);
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 8, 0, 0, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp3 - 64);
  EXPECT_EQ(h.os.seen[0].d.csl, 3);
  EXPECT_EQ(h.os.seen[0].d.frame.cs.stack_level(), 0);
  EXPECT_FALSE(h.os.seen[0].blocked_at_entry);  // not an NMI
}

TEST_F(FredDelivery, NestedExceptionFromRing3UsesItsLevel) {
  c.set_user_mode(true);
  // #DB (level 1) nested in a delivery from ring 3: STKLVLS applies.
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 1, 0, 0x4000, 0, true}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp1 - 64);
  EXPECT_EQ(h.os.seen[0].d.csl, 1);
  EXPECT_TRUE(h.os.seen[0].d.frame.ss.nested());
}

TEST_F(FredDelivery, NonNestedDbFromRing3IsLevel0) {
  c.set_user_mode(true);
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 1, 0, 0x4000, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp0 - 64);
  EXPECT_EQ(h.os.seen[0].d.csl, 0);
}

TEST_F(FredDelivery, PageFaultEventDataIsCr2) {
  const std::uint64_t rip = c.rip();
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0x2, 0xDEADBEEF000ull, 0, false}),
            Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const FredFrame& f = h.os.seen[0].d.frame;
  EXPECT_EQ(f.error_code, 0x2u);
  EXPECT_EQ(f.event_data, 0xDEADBEEF000ull);
  EXPECT_EQ(f.rip, rip);
  EXPECT_EQ(f.ss.encode(), 0x18 | vec(14) | type(3) | kSsLong);  // no NMI bit
  // #PF level 0 at CSL 0: red-zone path on the current stack.
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kIdleRsp - 64 - 64);
  EXPECT_FALSE(c.nmi_blocked());
  EXPECT_EQ(c.stats().nmi_delivered, 0u);
  EXPECT_EQ(c.stats().events_delivered, 1u);
}

TEST_F(FredDelivery, DebugEventDataIsDr6AndLevel1) {
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 1, 0, 0x4000, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x4000u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp1 - 64);
  EXPECT_EQ(h.os.seen[0].d.csl, 1);
  EXPECT_EQ(h.os.seen[0].d.frame.ss.encode(), 0x18 | vec(1) | type(3) | kSsLong);
}

TEST_F(FredDelivery, ExternalInterruptEventData0AndConfigLevel) {
  ASSERT_EQ(c.deliver_event({EventType::external_interrupt, 0xEC, 0, 0, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0u);
  EXPECT_EQ(h.os.seen[0].d.frame.ss.encode(), 0x18 | vec(0xEC) | type(0) | kSsLong);
  EXPECT_EQ(h.os.seen[0].d.csl, 0);  // CONFIG[10:9] = 0
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kIdleRsp - 128);

  // CONFIG[10:9] = 2: interrupts switch to RSP2 (STKLVLS is not consulted).
  Harness g;
  g.program_linux_fred();
  ASSERT_EQ(g.cpu->wrmsr(0x1D4, kLinuxConfig | (2u << 9)), Fault::none);
  ASSERT_EQ(g.cpu->deliver_event({EventType::external_interrupt, 0x20, 0, 0, 0, false}),
            Fault::none);
  g.run_idle();
  ASSERT_EQ(g.os.seen.size(), 1u);
  EXPECT_EQ(g.os.seen[0].d.frame_rsp, kRsp2 - 64);
  EXPECT_EQ(g.os.seen[0].d.csl, 2);
}

TEST_F(FredDelivery, SoftwareInterruptIsLevel0AndNotAnNmi) {
  // INT 2: vector 2 with STKLVLS level 2, but INT n always uses level 0, and it is
  // no NMI (SS bit 18 clear, no NMI blocking).
  ASSERT_EQ(c.deliver_event({EventType::software_interrupt, 2, 0, 0, 2, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const FredFrame& f = h.os.seen[0].d.frame;
  EXPECT_EQ(f.ss.encode(), 0x18 | kSsSoftware | vec(2) | type(4) | kSsLong | len(2));
  EXPECT_EQ(h.os.seen[0].d.csl, 0);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kIdleRsp - 128);
  EXPECT_FALSE(c.nmi_blocked());
  EXPECT_EQ(c.stats().nmi_delivered, 0u);
}

TEST_F(FredDelivery, Int3SoftwareExceptionHasInstructionLength) {
  ASSERT_EQ(c.deliver_event({EventType::software_exception, 3, 0, 0, 1, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  // Bit 17 (software-initiated) is left out on purpose: docs/hardware.md §1 "The
  // frame" names SYSCALL, SYSENTER and INT n for it (as Linux's struct fred_ss
  // does) and leaves INT1/INT3/INTO open (Bochs sets it for INT n, SYSCALL and
  // SYSENTER only).
  const std::uint64_t ss = h.os.seen[0].d.frame.ss.encode() & ~kSsSoftware;
  EXPECT_EQ(ss, 0x18 | vec(3) | type(6) | kSsLong | len(1));
}

TEST_F(FredDelivery, HardwareExceptionHasNoInstructionLength) {
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 13, 0, 0, 5, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.ss.instruction_length(), 0);
  EXPECT_FALSE(h.os.seen[0].d.frame.ss.software_initiated());
}

TEST_F(FredDelivery, SyscallFromRing3) {
  c.set_user_mode(true);
  const std::uint16_t ucs = c.cs();
  ASSERT_EQ(c.deliver_event({EventType::other, 1, 0, 0, 2, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame_rsp, kRsp0 - 64);
  EXPECT_EQ(h.os.seen[0].d.frame.cs.encode(), std::uint64_t{ucs});
  EXPECT_EQ(h.os.seen[0].rip_at_entry, kEntryPage);
}

TEST_F(FredDelivery, InjectedNmiBlocksButIsNotALatchedNmi) {
  ASSERT_EQ(c.deliver_event(EventInfo::nmi(0x84)), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x84u);
  EXPECT_TRUE(h.os.seen[0].d.frame.ss.nmi());
  EXPECT_TRUE(c.nmi_blocked());
  EXPECT_EQ(c.stats().nmi_delivered, 0u);
  EXPECT_EQ(c.stats().nmi_received, 0u);
}

TEST_F(FredDelivery, DeliverEventWhileDeliveringGp) {
  c.raise_nmi(1);
  EXPECT_EQ(c.run_state(), RunState::delivering);
  EXPECT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0, 0, false}), Fault::gp);
  EXPECT_EQ(c.stats().faults, 1u);
}

TEST_F(FredDelivery, NestedEventInsideNmiHandler) {
  c.raise_nmi(1);
  h.run_idle();
  ASSERT_EQ(c.csl(), 2);
  const std::uint64_t nmi_rsp = c.rsp();
  // #DB (level 1) inside the NMI handler: CSL stays 2, red zone below the NMI frame.
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 1, 0, 0x1, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.csl, 2);
  EXPECT_EQ(h.os.seen[1].d.frame.cs.stack_level(), 2);
  EXPECT_EQ(h.os.seen[1].d.frame_rsp, ((nmi_rsp - 64) & ~std::uint64_t{63}) - 64);
  EXPECT_EQ(h.os.seen[1].d.frame.rsp, nmi_rsp);
}

}  // namespace
}  // namespace fredsim::cpu
