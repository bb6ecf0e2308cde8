// KVM's kick of a running vCPU (VmxCpu::kick): an external-interrupt VM exit
// (basic reason 1) at the guest's next instruction boundary; the entry hook; and
// a guest that an exit interrupted inside its OS code goes on there after the
// next entry (docs/vmx.md "Guests with a kernel of their own").
#include <gtest/gtest.h>

#include "fredsim/vmx/vmx_cpu.hpp"
#include "vmx_rig.hpp"

namespace fredsim::vmx {
namespace {

using namespace testing;
using cpu::RunState;

constexpr std::uint32_t kKickIntrInfo = 0x800000FD;  // valid, external interrupt, vector 0xfd

/// Records exits and completed entries; resumes nothing by itself.
struct Vmm final : VmExitHandler {
  std::vector<ExitInfo> exits;
  std::vector<Cycle> exited_at;
  unsigned entries = 0;
  void on_vm_exit(VmxCpu& vcpu, const ExitInfo& e) override {
    exits.push_back(e);
    exited_at.push_back(vcpu.cpu().now());
  }
  void on_vm_entry(VmxCpu&) override { ++entries; }
};

TEST(Kick, ARunningGuestTakesAnExternalInterruptExit) {
  Rig r;
  Vmm vmm;
  r.vcpu.set_exit_handler(&vmm);
  r.launch(nmi_exiting_virtual());
  EXPECT_EQ(vmm.entries, 1u) << "the entry hook";
  const Cycle t0 = r.queue.now();
  r.vcpu.kick();
  EXPECT_EQ(r.vcpu.mode(), VmxMode::exiting) << "at once: the guest is at a boundary";
  r.queue.run_until(t0 + r.cost(TimingParam::vm_exit_external_interrupt));
  ASSERT_EQ(vmm.exits.size(), 1u);
  EXPECT_EQ(vmm.exited_at[0], t0 + r.cost(TimingParam::vm_exit_external_interrupt));
  EXPECT_EQ(vmm.exits[0].reason.basic(), 1u);
  EXPECT_EQ(vmm.exits[0].intr_info.encode(), kKickIntrInfo);
  EXPECT_EQ(vmm.exits[0].qualification, 0u);
  EXPECT_EQ(r.vcpu.stats().exits_for(BasicExitReason::external_interrupt), 1u);
  EXPECT_FALSE(r.cpu.non_root());
  EXPECT_FALSE(r.cpu.nmi_blocked()) << "not an NMI exit: the host runs unblocked";
  ASSERT_NE(r.sink.find("vm_exit"), nullptr);
  EXPECT_EQ(r.sink.find("vm_exit")->num.at("reason"), 1u);
  EXPECT_EQ(r.sink.find("vm_exit")->str.at("name"), "external_interrupt") << "the named record";
  // In VMX root operation a kick does nothing.
  r.vcpu.kick();
  EXPECT_FALSE(r.vcpu.kick_pending());
  ASSERT_TRUE(r.vcpu.vm_resume().ok());
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_entry));
  EXPECT_TRUE(r.vcpu.in_guest()) << "no exit left over";
  EXPECT_EQ(vmm.exits.size(), 1u);
  EXPECT_EQ(vmm.entries, 2u);
}

TEST(Kick, DuringAnEntryTheGuestExitsRightAfterIt) {
  Rig r;
  Vmm vmm;
  r.vcpu.set_exit_handler(&vmm);
  r.set_pin(nmi_exiting_virtual());
  r.vcpu.write_guest_state(Rig::fred_guest());
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.vcpu.kick();
  EXPECT_TRUE(r.vcpu.kick_pending());
  EXPECT_EQ(r.vcpu.mode(), VmxMode::entering);
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_entry));
  EXPECT_EQ(r.vcpu.mode(), VmxMode::exiting) << "the entry completed, then the exit";
  EXPECT_EQ(vmm.entries, 0u) << "the guest did not run";
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_exit_external_interrupt));
  ASSERT_EQ(vmm.exits.size(), 1u);
  EXPECT_EQ(vmm.exits[0].reason.basic(), 1u);
}

TEST(Kick, AGuestInterruptedInItsOsCodeGoesOnThereAfterTheEntry) {
  // The guest takes an injected NMI and stays in its handler (no ERETS yet);
  // the kick's exit interrupts it there. After VMRESUME it is in OS code again,
  // so its ERETS is valid (outside OS code ERETS would #UD).
  Rig r;
  Vmm vmm;
  r.vcpu.set_exit_handler(&vmm);
  r.guest_os.erets_on_delivery = false;
  r.set_pin(nmi_exiting_virtual());
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0x20);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_entry) + 1'000'000);
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  EXPECT_EQ(r.guest_os.deliveries[0].event.event_data, 0x20u);
  ASSERT_EQ(r.cpu.run_state(), RunState::in_os);
  r.vcpu.kick();
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_exit_external_interrupt));
  ASSERT_EQ(vmm.exits.size(), 1u);
  EXPECT_TRUE(vmm.exits[0].guest_interruptibility.blocking_by_nmi()) << "inside the NMI";
  ASSERT_TRUE(r.vcpu.vm_resume().ok());
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_entry));
  ASSERT_TRUE(r.vcpu.in_guest());
  EXPECT_EQ(r.cpu.run_state(), RunState::in_os);
  EXPECT_EQ(r.cpu.erets(), cpu::Fault::none);
}

}  // namespace
}  // namespace fredsim::vmx
