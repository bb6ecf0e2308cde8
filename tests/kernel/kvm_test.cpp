// KVM's NMI-exit path (docs/hardware.md §4 "VMX"): the exit qualification becomes
// the event data of the host's FRED NMI entry.
#include <gtest/gtest.h>

#include <optional>

#include "fredsim/kernel/kvm.hpp"
#include "fredsim/vmx.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

struct Rig {
  std::unique_ptr<system::System> sys;
  HandlerId dev, ghes;
  explicit Rig(bool source, bool fred = true) : sys(make_system(make_config(2, fred, source))) {
    dev = *sys->kernel().register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
    ghes = *sys->kernel().register_model(NmiType::local, HandlerModel::ghes, 0, "ghes", 0);
  }
  void nmi_to_guest(Cycle at, unsigned vector = 5, std::uint32_t items = 1) {
    sys->at(at, [this, vector, items] {
      if (items) sys->kernel().registry().add_work(dev, 1, items);
      const CpuId dest[] = {1};
      sys->kernel().send_nmi_ipi(0, dest, vector);
    });
  }
};

TEST(Kvm, NmiExitCarriesTheBitmapIntoTheHostDispatch) {
  Rig r(true);
  MemoryTraceSink trace;
  r.sys->machine().tracer().add_sink(trace);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.nmi_to_guest(5'000);
  r.sys->run_to_idle();
  const auto& st = r.sys->machine().cpu(1).stats();
  EXPECT_EQ(st.vm_exits_nmi, 1u);
  EXPECT_EQ(st.nmi_delivered, 1u);
  EXPECT_EQ(r.sys->machine().vmx(1).last_exit().qualification, 0x20u) << "bit 5";
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.handled, 1u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.ghes).total.calls, 0u)
      << "precise bitmap: GHES skipped";
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root()) << "KVM resumed the guest";
  EXPECT_FALSE(r.sys->machine().cpu(1).nmi_blocked());
  // The dispatch time runs from the exit to the VM entry.
  const auto& t = r.sys->machine().timing();
  EXPECT_GE(st.dispatch_cycles, t[TimingParam::vm_exit] + t[TimingParam::kvm_nmi_exit] +
                                    t[TimingParam::nmi_entry] + t[TimingParam::erets] +
                                    t[TimingParam::vm_entry]);
  bool exit_rec = false, vmentry_ret = false;
  for (const auto& l : trace.lines()) {
    exit_rec = exit_rec || l.find("vm_exit") != std::string::npos;
    vmentry_ret = vmentry_ret || l.find("nmi_return via=vmentry") != std::string::npos;
  }
  EXPECT_TRUE(exit_rec);
  EXPECT_TRUE(vmentry_ret);
}

TEST(Kvm, WithoutNmiSourceTheQualificationIsZeroAndTheHostPolls) {
  Rig r(false);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.nmi_to_guest(5'000);
  r.sys->run_to_idle();
  EXPECT_EQ(r.sys->machine().vmx(1).last_exit().qualification, 0u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.handled, 1u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.ghes).total.calls, 1u) << "every handler polled";
}

TEST(Kvm, IdtHostUsesTheIdtStub) {
  Rig r(false, false);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.nmi_to_guest(5'000);
  r.sys->run_to_idle();
  EXPECT_EQ(r.sys->machine().cpu(1).stats().vm_exits_nmi, 1u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.handled, 1u);
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root());
}

TEST(Kvm, IdtStubLeavesTheLatchFreeForTheNextExit) {
  // The IDT entry's latch (docs/linux.md "Entry") returns to "not running" after a
  // KVM-invoked NMI too; otherwise every later exit would look nested and be dropped.
  Rig r(false, false);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  for (int i = 0; i < 3; ++i)
    r.nmi_to_guest(5'000 + 100'000 * static_cast<Cycle>(i));
  r.sys->run_to_idle();
  EXPECT_EQ(r.sys->machine().cpu(1).stats().vm_exits_nmi, 3u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.handled, 3u);
  EXPECT_EQ(r.sys->kernel().cpu_state(1).idt_state, IdtNmiState::not_running);
  EXPECT_EQ(r.sys->kernel().lost_work(1), 0u);
}

TEST(Kvm, NmiDuringHostHandlingIsTakenBackToBackAfterErets) {
  Rig r(true);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.nmi_to_guest(5'000);
  // Arrives while the host handles the first: NMIs are blocked until KVM's ERETS.
  r.nmi_to_guest(5'000 + 100, 5, 1);
  r.sys->run_to_idle();
  const auto& st = r.sys->machine().cpu(1).stats();
  EXPECT_EQ(st.vm_exits_nmi, 1u) << "the second one is a host NMI, not an exit";
  EXPECT_EQ(st.nmi_delivered, 2u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.calls, 2u);
  EXPECT_EQ(r.sys->kernel().lost_work(1), 0u);
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root());
}

TEST(Kvm, NmiExitingOffDeliversToTheGuest) {
  Rig r(true);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, false).ok()); });
  r.nmi_to_guest(5'000, 5, 0);
  r.sys->run_to_idle();
  EXPECT_EQ(r.sys->machine().cpu(1).stats().vm_exits_nmi, 0u);
  EXPECT_EQ(r.sys->kvm().guest_stats(1).nmis, 1u);
  EXPECT_EQ(r.sys->kvm().guest_stats(1).last_event_data, 0x20u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.calls, 0u);
}

TEST(Kvm, AHostNmiIsNeverInjectedIntoTheGuest) {
  // Host NMIs stay the host's: with the host's NMI-source, virtual NMIs and
  // NMI exiting, the exit's bitmap goes to the host dispatch and no virtual NMI
  // follows (no VM-entry injection, no event data 0x2052, no NMI window).
  Rig r(true);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.nmi_to_guest(5'000);
  r.nmi_to_guest(9'000);
  r.sys->run_to_idle();
  EXPECT_EQ(r.sys->machine().cpu(1).stats().vm_exits_nmi, 2u);
  EXPECT_EQ(r.sys->kernel().registry().handler(r.dev).total.handled, 2u);
  EXPECT_EQ(r.sys->kvm().guest_stats(1).nmis, 0u);
  EXPECT_EQ(r.sys->kvm().guest_stats(1).event_data_or, 0u);
  const vmx::Vmcs& f = r.sys->machine().vmx(1).vmcs();
  EXPECT_FALSE(vmx::IntrInfo::decode(f.get(vmx::field::kEntryIntrInfo)).valid());
  EXPECT_EQ(f.get(vmx::field::kInjectedEventData), 0u);
  EXPECT_EQ(r.sys->machine().vmx(1).stats().exits_for(vmx::BasicExitReason::nmi_window), 0u);
}

TEST(Kvm, StoppedGuestIsNotResumed) {
  Rig r(true);
  r.sys->at(0, [&] { ASSERT_TRUE(r.sys->kvm().run_guest(1, true).ok()); });
  r.sys->at(1'000, [&] { r.sys->kvm().stop_guest(1); });
  r.nmi_to_guest(5'000);
  r.sys->run_to_idle();
  EXPECT_FALSE(r.sys->machine().cpu(1).non_root());
  EXPECT_EQ(r.sys->machine().cpu(1).run_state(), cpu::RunState::running);
}

// The vCPU thread runs in process context: a guest interval that begins while
// its host CPU is inside an NMI handler enters the guest only after that NMI's
// ERETS (Kvm::request_guest). Entering inside the NMI let a later NMI reuse
// the CPU's dispatch state while the long call was still running (run_fuzz).
TEST(Kvm, GuestEntryWaitsForTheHostToLeaveItsNmi) {
  Rig r(true);
  const HandlerId slow = *r.sys->kernel().register_model(NmiType::local, HandlerModel::device, 0,
                                                         "slow", 3, 0, 400'000);
  MemoryTraceSink trace;
  r.sys->machine().tracer().add_sink(trace);
  r.sys->at(1'000, [&] {
    r.sys->kernel().registry().add_work(slow, 1, 1);
    const CpuId dest[] = {1};
    r.sys->kernel().send_nmi_ipi(0, dest, 3);
  });
  r.sys->at(20'000, [&] {
    ASSERT_TRUE(r.sys->kernel().cpu_state(1).in_dispatch);
    r.sys->kvm().request_guest(1, true);
  });
  bool in_guest_during_nmi = true;
  r.sys->at(30'000, [&] { in_guest_during_nmi = r.sys->machine().cpu(1).non_root(); });
  r.sys->run_to_idle();
  EXPECT_FALSE(in_guest_during_nmi) << "no VM entry inside the NMI handler";
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root()) << "entered once the NMI returned";
  EXPECT_EQ(r.sys->kernel().registry().handler(slow).total.handled, 1u);
  // The entry comes after the NMI's return, in trace order.
  std::size_t ret = std::string::npos, entry = std::string::npos;
  for (std::size_t i = 0; i < trace.lines().size(); ++i) {
    const std::string& l = trace.lines()[i];
    if (ret == std::string::npos && l.find("nmi_return") != std::string::npos) ret = i;
    if (entry == std::string::npos && l.find("vm_entry") != std::string::npos) entry = i;
  }
  ASSERT_NE(ret, std::string::npos);
  ASSERT_NE(entry, std::string::npos);
  EXPECT_LT(ret, entry);
}

TEST(Kvm, GuestIntervalOverBeforeTheNmiReturnsNeverEntersTheGuest) {
  Rig r(true);
  const HandlerId slow = *r.sys->kernel().register_model(NmiType::local, HandlerModel::device, 0,
                                                         "slow", 3, 0, 400'000);
  r.sys->at(1'000, [&] {
    r.sys->kernel().registry().add_work(slow, 1, 1);
    const CpuId dest[] = {1};
    r.sys->kernel().send_nmi_ipi(0, dest, 3);
  });
  r.sys->at(20'000, [&] { r.sys->kvm().request_guest(1, true); });
  r.sys->at(60'000, [&] { r.sys->kvm().stop_guest(1); });
  r.sys->run_to_idle();
  EXPECT_FALSE(r.sys->machine().cpu(1).non_root());
  EXPECT_EQ(r.sys->machine().cpu(1).run_state(), cpu::RunState::running);
}

TEST(Kvm, GuestRequestedOnAnIdleCpuEntersAtOnce) {
  Rig r(true);
  bool entered = false;
  r.sys->at(1'000, [&] {
    r.sys->kvm().request_guest(1, true);
    entered = r.sys->machine().cpu(1).non_root();
  });
  r.sys->run_to_idle();
  EXPECT_TRUE(entered);
}

// KVM's VMCS pin controls: NMI exiting and, by default, virtual NMIs
// (arch/x86/kvm/vmx/vmx.c vmx_pin_based_exec_ctrl keeps PIN_BASED_VIRTUAL_NMIS
// while enable_vnmi; setup_vmcs_config took it as an optional control the CPU
// has). Explicit controls win; without NMI exiting the default is off.
TEST(Kvm, VmxPinBasedExecCtrlHasVirtualNmisByDefault) {
  auto pin_of = [](bool nmi_exiting, std::optional<bool> vnmi) {
    Rig r(true);
    GuestControls c;
    c.virtual_nmis = vnmi;
    r.sys->at(0, [&] { EXPECT_TRUE(r.sys->kvm().run_guest(1, nmi_exiting, c).ok()); });
    r.sys->run_to_idle();
    return vmx::PinControls::decode(r.sys->machine().vmx(1).vmcs().get(vmx::field::kPinControls));
  };
  const vmx::PinControls dflt = pin_of(true, std::nullopt);
  EXPECT_TRUE(dflt.nmi_exiting());
  EXPECT_TRUE(dflt.virtual_nmis());
  EXPECT_FALSE(pin_of(true, false).virtual_nmis());
  EXPECT_FALSE(pin_of(false, std::nullopt).virtual_nmis());
  EXPECT_TRUE(pin_of(true, true).virtual_nmis());
}

}  // namespace
}  // namespace fredsim::kernel
