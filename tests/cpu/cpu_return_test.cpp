// ERETS and ERETU: what they pop, when they unblock NMIs, and every #GP/#UD check
// (docs/hardware.md §1 "Return"). Frames are corrupted through frame_at_rsp().
#include <gtest/gtest.h>

#include <functional>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

constexpr Cycle kRaise = 1000;
constexpr Cycle kEntry = kRaise + kFredCost;  // 1101

/// FRED programmed as Linux does; an NMI from ring 0 taken at cycle 1000 and its
/// entry reached at 1101.
class Erets : public ::testing::Test {
 protected:
  Harness h;
  Cpu& c = *h.cpu;
  FredFrame pushed;
  void SetUp() override {
    h.program_linux_fred();
    h.run_to(kRaise);
    c.raise_nmi(3);
    h.run_to(kEntry);
    ASSERT_EQ(h.os.seen.size(), 1u);
    ASSERT_EQ(c.run_state(), RunState::in_os);
    pushed = h.os.seen[0].d.frame;
  }
  void expect_gp_and_nothing_popped(Fault f) {
    EXPECT_EQ(f, Fault::gp);
    EXPECT_EQ(c.last_fault(), Fault::gp);
    EXPECT_EQ(c.stats().faults, 1u);
    ASSERT_EQ(h.sink.of("fault").size(), 1u);
    EXPECT_EQ(h.sink.of("fault")[0].at("fault"), "#GP");
    EXPECT_EQ(h.sink.of("fault")[0].cycle, kEntry);
    EXPECT_EQ(c.run_state(), RunState::in_os);
    EXPECT_NE(c.frame_at_rsp(), nullptr);
    EXPECT_TRUE(c.nmi_blocked());
    EXPECT_EQ(c.csl(), 2);
    h.run_idle();
    EXPECT_EQ(c.run_state(), RunState::in_os);
    EXPECT_TRUE(h.sink.of("nmi_return").empty());
  }
};

TEST_F(Erets, PopsTheFrameAndUnblocks) {
  ASSERT_EQ(c.erets(), Fault::none);
  EXPECT_EQ(c.run_state(), RunState::returning);
  h.run_idle();
  EXPECT_EQ(c.run_state(), RunState::running);
  EXPECT_EQ(h.queue.now(), kEntry + kEretsCost);
  EXPECT_EQ(c.rip(), pushed.rip);
  EXPECT_EQ(c.rsp(), kIdleRsp);
  EXPECT_EQ(c.rflags(), pushed.rflags);
  EXPECT_EQ(c.cs(), kKernelCs);
  EXPECT_EQ(c.ss(), kKernelSs);
  EXPECT_EQ(c.cpl(), 0);
  EXPECT_EQ(c.csl(), 0);  // min(2, popped stack level 0)
  EXPECT_FALSE(c.nmi_blocked());
  EXPECT_EQ(c.frame_at_rsp(), nullptr);
  ASSERT_EQ(h.os.resumes.size(), 1u);
  EXPECT_EQ(h.os.resumes[0].second, RunState::running);
  EXPECT_EQ(c.stats().faults, 0u);
}

TEST_F(Erets, ExitCodeBeforeTheInstructionDelaysOnlyItsEnd) {
  // Checked and popped now; done after the exit path and the instruction.
  ASSERT_EQ(c.erets(300), Fault::none);
  EXPECT_EQ(c.run_state(), RunState::returning);
  EXPECT_TRUE(c.nmi_blocked());
  c.raise_nmi(5);  // waits: NMIs stay blocked until the return completes
  h.run_to(kEntry + 300 + kEretsCost - 1);
  EXPECT_TRUE(h.sink.of("nmi_return").empty());
  EXPECT_EQ(h.os.seen.size(), 1u);
  h.run_to(kEntry + 300 + kEretsCost);
  ASSERT_EQ(h.sink.of("nmi_return").size(), 1u);
  EXPECT_EQ(h.sink.of("nmi_return")[0].cycle, kEntry + 300 + kEretsCost);
  h.run_to(kEntry + 300 + kEretsCost + kFredCost);
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.started, kEntry + 300 + kEretsCost)
      << "the waiting NMI is taken at the return, back-to-back";
}

TEST_F(Erets, NewCslIsMinOfCslAndPoppedLevel) {
  // Popped stack level 3 > CSL 2: CSL stays 2. (Level 3 would be a lie, but
  // the rule is min.)
  c.frame_at_rsp()->cs.set_stack_level(3);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.csl(), 2);
}

TEST_F(Erets, PoppedLevel1GivesCsl1) {
  c.frame_at_rsp()->cs.set_stack_level(1);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.csl(), 1);
}

TEST_F(Erets, SsBit18ClearKeepsNmisBlockedAndPendingNmiWaits) {
  c.frame_at_rsp()->ss.set_nmi(false);
  h.run_to(kEntry + 10);
  c.raise_nmi(5);
  EXPECT_TRUE(c.nmi_pending());
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.run_state(), RunState::running);
  EXPECT_TRUE(c.nmi_blocked());
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_EQ(c.nmi_source_bitmap(), 0x20);
  EXPECT_EQ(h.os.seen.size(), 1u);  // no second delivery
  EXPECT_EQ(c.stats().nmi_delivered, 1u);
  const auto ret = h.sink.of("nmi_return");
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].at("via"), "erets");
  EXPECT_EQ(ret[0].at("nmi_unblocked"), "false");
}

TEST_F(Erets, SsBit18SetOnNonNmiFrameUnblocks) {
  // ERETS trusts the popped bit, not what was delivered: a #PF frame inside the
  // NMI handler returned with bit 18 set unblocks NMIs.
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0x1000, 0, false}), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  c.frame_at_rsp()->ss.set_nmi(true);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_FALSE(c.nmi_blocked());
  EXPECT_EQ(c.run_state(), RunState::in_os);  // back in the NMI handler
}

TEST_F(Erets, NonNmiFrameInsideNmiHandlerKeepsBlocking) {
  // The FRED fix of the nested-NMI problem: #PF in the NMI handler returns with
  // ERETS (bit 18 clear) and NMIs stay blocked; a new NMI waits.
  ASSERT_EQ(c.deliver_event({EventType::hardware_exception, 14, 0, 0x1000, 0, false}), Fault::none);
  h.run_idle();
  c.raise_nmi(6);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_TRUE(c.nmi_blocked());
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(c.run_state(), RunState::in_os);
  EXPECT_EQ(c.csl(), 2);
  EXPECT_TRUE(h.sink.of("nmi_return").empty());  // that was not an NMI's return
  // Now the NMI's own ERETS: the pending one follows back-to-back.
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 3u);
  EXPECT_EQ(h.os.seen[2].d.frame.event_data, 0x40u);
  EXPECT_EQ(h.os.seen[2].d.frame.rip, pushed.rip);
}

// --- #GP checks of ERETS, one by one ----------------------------------------------

TEST_F(Erets, GpCsBit19) {
  c.frame_at_rsp()->cs = FredCs(c.frame_at_rsp()->cs.encode() | (1ull << 19));
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpCsBit63) {
  c.frame_at_rsp()->cs = FredCs(c.frame_at_rsp()->cs.encode() | (1ull << 63));
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpCsBit32) {
  c.frame_at_rsp()->cs = FredCs(c.frame_at_rsp()->cs.encode() | (1ull << 32));
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpCsSelectorDiffers) {
  c.frame_at_rsp()->cs.set_selector(0x08);
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpCsSelectorRplDiffers) {
  c.frame_at_rsp()->cs.set_selector(0x13);
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpSsBit19) {
  c.frame_at_rsp()->ss = FredSs(c.frame_at_rsp()->ss.encode() | (1ull << 19));
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpSsBit31) {
  c.frame_at_rsp()->ss = FredSs(c.frame_at_rsp()->ss.encode() | (1ull << 31));
  expect_gp_and_nothing_popped(c.erets());
}
TEST_F(Erets, GpSsSelectorDiffers) {
  c.frame_at_rsp()->ss.set_selector(0x2B);
  expect_gp_and_nothing_popped(c.erets());
}

// Each reserved RFLAGS bit of mask 0xFFFFFFFFFFC2802A, and bit 1 clear.
class EretsRflags : public Erets, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(EretsRflags, Gp) {
  c.frame_at_rsp()->rflags = GetParam();
  expect_gp_and_nothing_popped(c.erets());
}
INSTANTIATE_TEST_SUITE_P(ReservedBits, EretsRflags,
                         ::testing::Values(0x202ull | (1ull << 3), 0x202ull | (1ull << 5),
                                           0x202ull | (1ull << 15), 0x202ull | (1ull << 17),
                                           0x202ull | (1ull << 22), 0x202ull | (1ull << 23),
                                           0x202ull | (1ull << 24), 0x202ull | (1ull << 32),
                                           0x202ull | (1ull << 63), 0x200ull /* bit 1 clear */,
                                           0x0ull));

// Bits outside the masks are accepted: the checks must not be stricter.
TEST_F(Erets, AcceptsEveryNonReservedBit) {
  // CS bit 18 (WFE) and bits 17:16 (stack level) are allowed.
  c.frame_at_rsp()->cs.set_wfe(true).set_stack_level(1);
  // RFLAGS: CF, PF, AF, ZF, SF, TF, IF, DF, OF, IOPL (13:12), NT (14), RF (16), AC
  // (18), VIF, VIP, ID (21): ~mask | 2.
  c.frame_at_rsp()->rflags = ~0xFFFFFFFFFFC2802Aull | 0x2;
  // SS bits 16, 17 and the event-information bits above 31.
  c.frame_at_rsp()->ss = FredSs(c.frame_at_rsp()->ss.encode() | 0x30000ull | 0xFFFFFFFF00000000ull);
  EXPECT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.stats().faults, 0u);
  EXPECT_EQ(c.rflags(), 0x3D7FD7u);
  EXPECT_EQ(c.csl(), 1);
}

TEST_F(Erets, UdWithoutCr4Fred) {
  ASSERT_EQ(c.write_cr4(0), Fault::none);
  EXPECT_EQ(c.erets(), Fault::ud);
  EXPECT_EQ(c.eretu(), Fault::ud);
  EXPECT_EQ(c.stats().faults, 2u);
  ASSERT_EQ(h.sink.of("fault").size(), 2u);
  EXPECT_EQ(h.sink.of("fault")[0].at("fault"), "#UD");
  EXPECT_EQ(c.run_state(), RunState::in_os);
}

TEST_F(Erets, UdAtCpl3) {
  ArchState s = c.save_state();
  s.cpl = 3;
  c.load_state(s);
  EXPECT_EQ(c.erets(), Fault::ud);
  EXPECT_EQ(c.eretu(), Fault::ud);
  EXPECT_EQ(c.stats().faults, 2u);
}

TEST_F(Erets, EretuGpWhenCslNot0) {
  // A ring-0 NMI runs at CSL 2: ERETU must refuse.
  ASSERT_EQ(c.csl(), 2);
  expect_gp_and_nothing_popped(c.eretu());
}

// --- ERETU ---------------------------------------------------------------------------

class Eretu : public ::testing::Test {
 protected:
  Harness h;
  Cpu& c = *h.cpu;
  std::uint64_t user_rip = 0, user_rsp = 0;
  std::uint16_t user_cs = 0, user_ss = 0;
  void SetUp() override {
    h.program_linux_fred();
    c.set_user_mode(true);
    h.run_to(kRaise);
    user_rip = c.rip();
    user_rsp = c.rsp();
    user_cs = c.cs();
    user_ss = c.ss();
    c.raise_nmi(2);
    h.run_to(kEntry);
    ASSERT_EQ(h.os.seen.size(), 1u);
    ASSERT_EQ(c.csl(), 0);
  }
  void expect_gp(Fault f) {
    EXPECT_EQ(f, Fault::gp);
    EXPECT_EQ(c.stats().faults, 1u);
    ASSERT_EQ(h.sink.of("fault").size(), 1u);
    EXPECT_EQ(c.run_state(), RunState::in_os);
    EXPECT_NE(c.frame_at_rsp(), nullptr);
    EXPECT_TRUE(c.nmi_blocked());
    EXPECT_EQ(c.cpl(), 0);
  }
};

TEST_F(Eretu, ReturnsToRing3AndUnblocks) {
  ASSERT_EQ(c.eretu(), Fault::none);
  h.run_to(kEntry + kEretuCost - 1);
  EXPECT_EQ(c.run_state(), RunState::returning);
  h.run_to(kEntry + kEretuCost);
  EXPECT_EQ(c.run_state(), RunState::running);
  EXPECT_EQ(c.cpl(), 3);
  EXPECT_EQ(c.csl(), 0);
  EXPECT_EQ(c.rip(), user_rip);
  EXPECT_EQ(c.rsp(), user_rsp);
  EXPECT_EQ(c.cs(), user_cs);
  EXPECT_EQ(c.ss(), user_ss);
  EXPECT_FALSE(c.nmi_blocked());
  const auto ret = h.sink.of("nmi_return");
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].at("via"), "eretu");
  EXPECT_EQ(ret[0].at("nmi_unblocked"), "true");
  EXPECT_EQ(ret[0].cycle, kEntry + kEretuCost);
}

TEST_F(Eretu, SsBit18ClearKeepsBlocking) {
  c.frame_at_rsp()->ss.set_nmi(false);
  ASSERT_EQ(c.eretu(), Fault::none);
  h.run_idle();
  EXPECT_TRUE(c.nmi_blocked());
  EXPECT_EQ(c.cpl(), 3);
}

TEST_F(Eretu, GpCsRplNot3) {
  c.frame_at_rsp()->cs.set_selector(0x30);
  expect_gp(c.eretu());
}
TEST_F(Eretu, GpSsRplNot3) {
  c.frame_at_rsp()->ss.set_selector(0x28);
  expect_gp(c.eretu());
}
TEST_F(Eretu, GpCsRpl1) {
  c.frame_at_rsp()->cs.set_selector(0x31);
  expect_gp(c.eretu());
}

class EretuRflags : public Eretu, public ::testing::WithParamInterface<std::uint64_t> {};
TEST_P(EretuRflags, Gp) {
  c.frame_at_rsp()->rflags = GetParam();
  expect_gp(c.eretu());
}
// Mask 0xFFFFFFFFFFC2B02A: ERETS's bits plus IOPL (13:12).
INSTANTIATE_TEST_SUITE_P(ReservedBits, EretuRflags,
                         ::testing::Values(0x202ull | (1ull << 12), 0x202ull | (1ull << 13),
                                           0x202ull | (3ull << 12), 0x202ull | (1ull << 3),
                                           0x202ull | (1ull << 5), 0x202ull | (1ull << 15),
                                           0x202ull | (1ull << 17), 0x202ull | (1ull << 22),
                                           0x202ull | (1ull << 40), 0x200ull));

TEST_F(Eretu, AcceptsNonReservedRflags) {
  c.frame_at_rsp()->rflags = ~0xFFFFFFFFFFC2B02Aull | 0x2;
  EXPECT_EQ(c.eretu(), Fault::none);
  h.run_idle();
  EXPECT_EQ(c.rflags(), 0x3D4FD7u);
}

TEST_F(Eretu, EretsOfRing3FrameGpOnSelector) {
  // ERETS of a ring-3 frame: the popped CS (user) differs from the current one.
  expect_gp(c.erets());
}

// --- Back-to-back ---------------------------------------------------------------------

TEST_F(Erets, PendingNmiIsDeliveredBackToBackWithTheSameRip) {
  h.run_to(kEntry + 50);
  c.raise_nmi(5);  // latched while blocked
  EXPECT_TRUE(c.nmi_pending());
  h.run_to(kEntry + 200);
  ASSERT_EQ(c.erets(), Fault::none);
  const Cycle ret_done = kEntry + 200 + kEretsCost;
  h.run_to(ret_done - 1);
  EXPECT_EQ(h.os.seen.size(), 1u);
  h.run_to(ret_done);
  EXPECT_EQ(c.run_state(), RunState::delivering);  // the second delivery began at once
  EXPECT_TRUE(c.nmi_blocked());
  EXPECT_FALSE(c.nmi_pending());
  h.run_to(ret_done + kFredCost);
  ASSERT_EQ(h.os.seen.size(), 2u);
  const auto& second = h.os.seen[1];
  EXPECT_EQ(second.d.started, ret_done);
  EXPECT_EQ(second.at, ret_done + kFredCost);
  EXPECT_EQ(second.d.frame.rip, pushed.rip);  // the RIP just popped
  EXPECT_EQ(second.d.frame.rsp, kIdleRsp);
  EXPECT_EQ(second.d.frame.event_data, 0x20u);
  EXPECT_EQ(second.d.frame_rsp, kRsp2 - 64);
  EXPECT_EQ(second.d.csl, 2);
  // The OS is not told of a resume in between.
  EXPECT_TRUE(h.os.resumes.empty());
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.resumes.size(), 1u);
  EXPECT_EQ(h.os.resumes[0].first, ret_done + kFredCost + kEretsCost);
  EXPECT_EQ(c.stats().nmi_delivered, 2u);
}

TEST_F(Erets, NmiArrivingDuringTheReturnIsBackToBack) {
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_to(kEntry + 30);
  EXPECT_EQ(c.run_state(), RunState::returning);
  c.raise_nmi(9);
  EXPECT_TRUE(c.nmi_pending());  // still blocked until the return completes
  h.run_to(kEntry + kEretsCost);
  EXPECT_EQ(c.run_state(), RunState::delivering);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.started, kEntry + kEretsCost);
  EXPECT_EQ(h.os.seen[1].d.frame.rip, pushed.rip);
  EXPECT_EQ(h.os.seen[1].d.frame.event_data, 0x200u);
}

TEST_F(Erets, NmiAfterOrdinaryCodeRanHasADifferentRip) {
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  const Cycle back = h.queue.now();
  EXPECT_EQ(c.rip(), pushed.rip);
  h.run_to(back + 1000);
  c.raise_nmi(5);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_NE(h.os.seen[1].d.frame.rip, pushed.rip);
  EXPECT_EQ(h.os.seen[1].d.started, back + 1000);
}

TEST_F(Erets, NmiOneCycleAfterReturnIsNotBackToBack) {
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  const Cycle back = h.queue.now();
  h.run_to(back + 1);
  c.raise_nmi(5);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_NE(h.os.seen[1].d.frame.rip, pushed.rip);
}

TEST_F(Erets, NoFrameAtRspGp) {
  ArchState s = c.save_state();
  s.rsp -= 64;
  c.load_state(s);
  EXPECT_EQ(c.frame_at_rsp(), nullptr);
  EXPECT_EQ(c.erets(), Fault::gp);
}

}  // namespace
}  // namespace fredsim::cpu
