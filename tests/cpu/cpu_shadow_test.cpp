// Instruction shadows (docs/cpu.md "Instruction shadows"): STI (with IF = 0) and
// MOV SS inhibit events on the boundary after them (SDM Vol. 2B "STI", Vol. 3A
// "Masking Exceptions and Interrupts When Switching Stacks"). An NMI that becomes
// deliverable inside the shadow stays latched and is taken at the boundary after
// the next instruction, so never with RIP = the instruction after STI (what
// kvm-unit-tests x86/apic.c "nmi-after-sti" checks). Cycles below by hand from the
// harness costs and a shadowed instruction of kInsn cycles.
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

constexpr Cycle kInsn = 7;  // distinct from every other harness cost

struct ShadowHarness : Harness {
  explicit ShadowHarness(CpuFeatures f = {}) : Harness(f) {
    timing.set(TimingParam::shadow_insn, kInsn);
  }
};

TEST(Shadow, StiHoldsAnNmiToTheBoundaryAfterTheNextInstruction) {
  ShadowHarness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  h.run_to(1000);
  ASSERT_TRUE(c.open_shadow(Shadow::sti, true));
  EXPECT_EQ(c.shadow(), Shadow::sti);
  c.raise_nmi(3);  // the same cycle STI retired: pending on the shadowed boundary
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_EQ(c.run_state(), RunState::running);
  h.run_to(1000 + kInsn - 1);
  EXPECT_TRUE(c.nmi_pending()) << "still inside the shadow";
  EXPECT_TRUE(h.os.seen.empty());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  const auto& d = h.os.seen[0].d;
  EXPECT_EQ(d.started, 1000 + kInsn);
  // RIP after STI is kIdleRip + 1000; the NMI sees the one after the next
  // instruction.
  EXPECT_EQ(d.frame.rip, kIdleRip + 1000 + kInsn);
  EXPECT_EQ(d.frame.event_data, 0x8u) << "the bitmap survives the wait";
  EXPECT_EQ(c.shadow(), Shadow::none);
  EXPECT_EQ(c.stats().shadows, 1u);
  EXPECT_EQ(c.stats().nmi_deferred_shadow, 1u);
  EXPECT_EQ(c.stats().nmi_at_shadow_rip, 0u);

  const auto held = h.sink.of("nmi_deferred");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].cycle, 1000u);
  EXPECT_EQ(held[0].at("shadow"), "sti");
  EXPECT_EQ(held[0].at("rip"), hex(kIdleRip + 1000));
  EXPECT_EQ(held[0].at("until"), std::to_string(1000 + kInsn));
}

TEST(Shadow, AnNmiArrivingInTheMiddleOfTheShadowWaitsForItsEndToo) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(500);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.run_to(503);
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 500 + kInsn);
  EXPECT_EQ(h.os.seen[0].d.frame.rip, kIdleRip + 500 + kInsn);
}

TEST(Shadow, IdtDeliveryIsHeldTheSameWay) {
  ShadowHarness h(CpuFeatures::legacy());
  h.run_to(2000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::mov_ss, true));
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.path, DeliveryPath::idt);
  EXPECT_EQ(h.os.seen[0].d.started, 2000 + kInsn);
  EXPECT_EQ(h.os.seen[0].d.frame.rip, kIdleRip + 2000 + kInsn);
  EXPECT_EQ(h.sink.of("nmi_deferred").at(0).at("shadow"), "mov_ss");
}

TEST(Shadow, AnStiThatDoesNotBlockNmisLetsOneInAtTheRipAfterSti) {
  // The processors the SDM allows not to block NMIs after STI: the NMI is taken
  // on the boundary right after STI, what kvm-unit-tests counts as a failure.
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, false));
  h.cpu->raise_nmi(0);
  EXPECT_FALSE(h.cpu->nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000u);
  EXPECT_EQ(h.os.seen[0].d.frame.rip, kIdleRip + 1000);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 0u);
  EXPECT_EQ(h.cpu->stats().nmi_at_shadow_rip, 1u);
  EXPECT_TRUE(h.sink.of("nmi_deferred").empty());
}

TEST(Shadow, MovSsAlwaysHoldsNmis) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::mov_ss, false));  // holds_nmi ignored
  h.cpu->raise_nmi(0);
  EXPECT_TRUE(h.cpu->nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000 + kInsn);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 1u);
}

TEST(Shadow, TwoNmisInOneShadowCoalesceAndCountOnce) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.cpu->raise_nmi(2);
  h.run_to(1001);
  h.cpu->raise_nmi(5);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x24u);  // bits 2 and 5
  EXPECT_EQ(h.cpu->stats().nmi_coalesced, 1u);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 1u);
  EXPECT_EQ(h.sink.of("nmi_deferred").size(), 1u);
}

TEST(Shadow, BlockedNmisStayBlockedPastTheShadow) {
  // NMIs blocked while ordinary code runs: an ERETS whose frame has SS bit 18
  // clear returns without unblocking (docs/hardware.md §1 "Return"). The shadow
  // then holds nothing: the blocking does, and it outlasts the shadow.
  ShadowHarness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  h.nmi_and_enter(0);
  ASSERT_EQ(h.os.seen.size(), 1u);
  c.frame_at_rsp()->ss.set_nmi(false);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(c.run_state(), RunState::running);
  ASSERT_TRUE(c.nmi_blocked());
  const Cycle t = c.now() + 100;
  h.run_to(t);
  ASSERT_TRUE(c.open_shadow(Shadow::sti, true));
  c.raise_nmi(0);
  h.run_to(t + kInsn + 1000);
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(c.shadow(), Shadow::none);
  EXPECT_EQ(c.stats().nmi_deferred_shadow, 0u) << "held by the blocking, not by the shadow";
}

TEST(Shadow, AnNmiHeldByTheShadowBlocksTheNextOneUntilItsReturn) {
  // Nesting: the held NMI is delivered at the shadow's end and blocks NMIs; one
  // that arrives in its handler waits for the ERETS and is taken back-to-back,
  // at the RIP popped, which is past the shadow.
  ShadowHarness h;
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  h.run_to(1000);
  ASSERT_TRUE(c.open_shadow(Shadow::sti, true));
  c.raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_TRUE(c.nmi_blocked());
  c.raise_nmi(0);
  EXPECT_TRUE(c.nmi_pending());
  EXPECT_FALSE(c.open_shadow(Shadow::sti, true)) << "the handler is not the shadowed code";
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.frame.rip, kIdleRip + 1000 + kInsn);
  EXPECT_EQ(c.stats().nmi_deferred_shadow, 1u);
  EXPECT_EQ(c.stats().nmi_at_shadow_rip, 0u);
  EXPECT_EQ(c.stats().shadows, 1u);
}

TEST(Shadow, AShadowInsideAShadowOpensNothing) {
  // SDM: of consecutive interrupt-delaying instructions only the first is
  // guaranteed to delay; the model does not extend the shadow.
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.run_to(1003);
  EXPECT_FALSE(h.cpu->open_shadow(Shadow::mov_ss, true));
  h.cpu->raise_nmi(0);
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000 + kInsn);
  EXPECT_EQ(h.cpu->stats().shadows, 1u);
}

TEST(Shadow, AnEventDeliveredInTheShadowEndsIt) {
  // SDM Vol. 2B "STI": the inhibition ends with the delivery of another event.
  // A long shadow here, so that it would still be open after the return.
  ShadowHarness h;
  h.timing.set(TimingParam::shadow_insn, 100'000);
  h.program_linux_fred();
  Cpu& c = *h.cpu;
  h.run_to(1000);
  ASSERT_TRUE(c.open_shadow(Shadow::sti, true));
  EventInfo pf{EventType::hardware_exception, 14, 0, 0, 0, false};
  ASSERT_EQ(c.deliver_event(pf), Fault::none);
  EXPECT_EQ(c.shadow(), Shadow::none);
  h.run_idle();
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  ASSERT_EQ(c.run_state(), RunState::running);
  const Cycle back = c.now();
  c.raise_nmi(0);  // within what would have been the shadow's cycles: taken at once
  EXPECT_FALSE(c.nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 2u);
  EXPECT_EQ(h.os.seen[1].d.started, back);
  EXPECT_EQ(c.stats().nmi_deferred_shadow, 0u);
}

TEST(Shadow, NoShadowNoDelayAndNoCounts) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  h.cpu->raise_nmi(0);
  ASSERT_EQ(h.os.seen.size(), 0u);  // entry not reached yet, but delivery began
  EXPECT_FALSE(h.cpu->nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000u);
  EXPECT_EQ(h.cpu->stats().shadows, 0u);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 0u);
  EXPECT_EQ(h.cpu->stats().nmi_at_shadow_rip, 0u);
}

TEST(Shadow, AnNmiAfterTheShadowIsTakenAtOnce) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.run_to(1000 + kInsn);
  EXPECT_EQ(h.cpu->shadow(), Shadow::none);
  h.cpu->raise_nmi(0);
  EXPECT_FALSE(h.cpu->nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000 + kInsn);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 0u);
}

/// Raises an NMI on a CPU when its event runs (an IPI arriving).
struct NmiAt final : EventTarget {
  Cpu* cpu = nullptr;
  void on_event(std::uint32_t, std::uint64_t) override { cpu->raise_nmi(0); }
  std::string_view event_name(std::uint32_t) const override { return "nmi_at"; }
};

TEST(Shadow, AnNmiArrivingOnTheClosingCycleIsNotHeld) {
  // The arrival was scheduled before the shadow opened, so at the closing cycle
  // it runs before the shadow's own end event: the shadow covers
  // [open, open + shadow_insn) all the same.
  ShadowHarness h;
  h.program_linux_fred();
  NmiAt arrival;
  arrival.cpu = h.cpu.get();
  h.queue.schedule(1000 + kInsn, arrival, 0);
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000 + kInsn);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 0u);
  EXPECT_TRUE(h.sink.of("nmi_deferred").empty());
}

TEST(Shadow, AZeroLengthShadowHoldsNothing) {
  // shadow_insn = 0: the NMI is taken at once, at the RIP right after STI (the
  // counter the kvm-unit-tests check reads).
  ShadowHarness h;
  h.timing.set(TimingParam::shadow_insn, 0);
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.cpu->raise_nmi(0);
  EXPECT_FALSE(h.cpu->nmi_pending());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.started, 1000u);
  EXPECT_EQ(h.cpu->stats().nmi_deferred_shadow, 0u);
  EXPECT_EQ(h.cpu->stats().nmi_at_shadow_rip, 1u);
}

TEST(Shadow, UserModeSwitchEndsTheShadow) {
  ShadowHarness h;
  h.program_linux_fred();
  h.run_to(1000);
  ASSERT_TRUE(h.cpu->open_shadow(Shadow::sti, true));
  h.cpu->set_user_mode(true);
  EXPECT_EQ(h.cpu->shadow(), Shadow::none);
  h.cpu->raise_nmi(0);
  EXPECT_FALSE(h.cpu->nmi_pending());
}

TEST(Shadow, ShadowNames) {
  EXPECT_EQ(shadow_name(Shadow::sti), "sti");
  EXPECT_EQ(shadow_name(Shadow::mov_ss), "mov_ss");
  EXPECT_EQ(shadow_name(Shadow::none), "none");
}

}  // namespace
}  // namespace fredsim::cpu
