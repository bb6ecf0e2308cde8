// KVM's virtual NMIs of a vCPU (kernel/virtual_nmi.hpp): kvm_inject_nmi,
// process_nmi's collapse, injection with the NMI-source bitmap as injected-event
// data, and the NMI window.
#include <gtest/gtest.h>

#include "fredsim/kernel/virtual_nmi.hpp"

namespace fredsim::kernel {
namespace {

constexpr bool kBlocked = true, kOpen = false;
constexpr bool kNmiSource = true;

TEST(VirtualNmi, OneQueuedNmiIsInjectedWithItsSourceBitmap) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  EXPECT_TRUE(q.has_work());
  const VirtualNmiEntry e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 1u << 4);
  EXPECT_FALSE(e.nmi_window);
  EXPECT_FALSE(q.has_work());
  EXPECT_EQ(q.pending_sources(), 0u) << "cleared at injection";
  EXPECT_TRUE(q.injection_in_flight());
  EXPECT_EQ(q.stats().injected, 1u);
}

TEST(VirtualNmi, WithoutNmiSourceTheEventDataIsZero) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  const VirtualNmiEntry e = q.before_entry(kOpen, !kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 0u);
}

TEST(VirtualNmi, NothingQueuedNothingInjected) {
  VirtualNmiQueue q;
  const VirtualNmiEntry e = q.before_entry(kOpen, kNmiSource);
  EXPECT_FALSE(e.inject);
  EXPECT_FALSE(e.nmi_window);
}

TEST(VirtualNmi, TwoAtOnceInjectOneAndHoldOneForTheWindow) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  q.queue(1u << 7);
  VirtualNmiEntry e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, (1u << 4) | (1u << 7)) << "OR-accumulated while pending";
  EXPECT_TRUE(e.nmi_window);
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_EQ(q.stats().collapsed, 0u);
  // The NMI-window exit: the injected NMI was delivered, the guest's ERETS
  // unblocked NMIs; the second one goes in with what arrived since.
  q.after_exit();
  q.queue(1u << 2);
  e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 1u << 2);
  EXPECT_TRUE(e.nmi_window) << "the new one is held in its turn";
  EXPECT_EQ(q.stats().collapsed, 0u) << "two pending again: nothing collapses";
  // The last one: every source went with the earlier injections, so it
  // reports bit 0, "source unknown".
  q.after_exit();
  e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 1u << 0);
  EXPECT_FALSE(e.nmi_window);
  EXPECT_EQ(q.stats().injected, 3u);
}

TEST(VirtualNmi, AtMostTwoPendingTheRestCollapse) {
  VirtualNmiQueue q;
  for (unsigned v = 1; v <= 5; ++v)
    q.queue(std::uint64_t{1} << v);
  const VirtualNmiEntry e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 0x3Eu) << "no source is lost: every bit reported";
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_EQ(q.stats().collapsed, 3u);
  EXPECT_EQ(q.stats().queued, 5u);
}

TEST(VirtualNmi, WhileTheGuestBlocksNmisOneWaitsForTheWindow) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  q.queue(1u << 5);
  VirtualNmiEntry e = q.before_entry(kBlocked, kNmiSource);
  EXPECT_FALSE(e.inject);
  EXPECT_TRUE(e.nmi_window);
  EXPECT_EQ(q.pending(), 1u) << "limit 1 while blocked";
  EXPECT_EQ(q.stats().collapsed, 1u);
  EXPECT_EQ(q.pending_sources(), 0x30u);
  // The window opens: injected at that exit's VM entry.
  e = q.before_entry(kOpen, kNmiSource);
  EXPECT_TRUE(e.inject);
  EXPECT_EQ(e.event_data, 0x30u);
  EXPECT_FALSE(e.nmi_window);
  EXPECT_EQ(q.stats().window_requests, 1u);
}

TEST(VirtualNmi, AnInjectionInFlightLimitsThePendingToOne) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  EXPECT_TRUE(q.before_entry(kOpen, kNmiSource).inject);
  // An exit before the injected NMI completed (no after_exit yet): two more
  // arrive; one is held, the other merges into it, nothing is injected.
  q.queue(1u << 5);
  q.queue(1u << 6);
  const VirtualNmiEntry e = q.before_entry(kOpen, kNmiSource);
  EXPECT_FALSE(e.inject);
  EXPECT_TRUE(e.nmi_window);
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_EQ(q.stats().collapsed, 1u);
}

TEST(VirtualNmi, ClearDropsEverything) {
  VirtualNmiQueue q;
  q.queue(1u << 4);
  q.queue(1u << 5);
  q.clear();
  EXPECT_FALSE(q.has_work());
  EXPECT_EQ(q.pending_sources(), 0u);
  EXPECT_FALSE(q.before_entry(kOpen, kNmiSource).inject);
}

}  // namespace
}  // namespace fredsim::kernel
