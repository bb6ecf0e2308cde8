// The NMI controls of VMX (docs/vmx.md "NMI controls of a guest"): the checks VM
// entry makes on them, NMI-window exits and when they come, the HLT activity
// state, and blocking by STI / MOV SS / NMI loaded at entry. SDM Vol. 3C "Checks
// on VM-Execution Control Fields", "Checks on Guest Non-Register State",
// "NMI-Window Exiting", "Activity State", "Interruptibility State".
#include <gtest/gtest.h>

#include <string>

#include "vmx_rig.hpp"

namespace fredsim::vmx {
namespace {

using namespace testing;
using cpu::RunState;

constexpr std::uint32_t kNmiWindowReason = 8;
constexpr std::uint32_t kInvalidGuestState = 0x80000021;  // reason 33, bit 31

void set_proc(Rig& r, bool window) {
  ASSERT_TRUE(r.vcpu.vmcs()
                  .vmwrite(field::kPrimaryProcControls,
                           ProcControls{}.set_nmi_window_exiting(window).encode())
                  .ok());
}
void set_intr(Rig& r, Interruptibility i) {
  ASSERT_TRUE(r.vcpu.vmcs().vmwrite(field::kGuestInterruptibility, i.encode()).ok());
}
void set_activity(Rig& r, ActivityState a) {
  ASSERT_TRUE(
      r.vcpu.vmcs().vmwrite(field::kGuestActivityState, static_cast<std::uint32_t>(a)).ok());
}

/// A FRED guest with these controls, VMLAUNCHed now (not yet run).
VmxResult enter(Rig& r, PinControls pin, bool window, Interruptibility intr = {},
                ActivityState act = ActivityState::active) {
  r.set_pin(pin);
  set_proc(r, window);
  r.vcpu.write_guest_state(Rig::fred_guest());
  set_intr(r, intr);
  set_activity(r, act);
  return r.vcpu.vm_enter();
}

// --- Checks on the controls ----------------------------------------------------------

struct ControlCase {
  bool nmi_exiting, virtual_nmis, window;
};
class NmiControlChecks : public ::testing::TestWithParam<ControlCase> {};

// "If the 'NMI exiting' control is 0, the 'virtual NMIs' control must be 0" and
// "if the 'virtual NMIs' control is 0, the 'NMI-window exiting' control must be
// 0"; all eight settings (kvm-unit-tests x86/vmx_tests.c test_nmi_ctrls).
TEST_P(NmiControlChecks, VmEntryFailsWithError7ExactlyWhenInconsistent) {
  const ControlCase c = GetParam();
  Rig r;
  r.kvm.handle = false;
  const VmxResult res = enter(
      r, PinControls{}.set_nmi_exiting(c.nmi_exiting).set_virtual_nmis(c.virtual_nmis), c.window);
  const bool valid = (!c.virtual_nmis || c.nmi_exiting) && (!c.window || c.virtual_nmis);
  if (valid) {
    EXPECT_TRUE(res.ok());
    EXPECT_EQ(r.vcpu.stats().failed_entries, 0u);
  } else {
    EXPECT_EQ(res.status, VmxStatus::fail_valid);
    EXPECT_EQ(res.error, VmInstructionError::entry_invalid_control_fields);
    EXPECT_EQ(r.vcpu.vmcs().vmread(field::kVmInstructionError).value, 7u);
    EXPECT_EQ(r.vcpu.last_entry_failure(), "VM entry with invalid control field(s)");
    EXPECT_EQ(r.vcpu.stats().failed_entries, 1u);
    EXPECT_FALSE(r.cpu.non_root());
    const auto* rec = r.sink.find("vm_entry_fail");
    ASSERT_NE(rec, nullptr);
    EXPECT_EQ(rec->num.at("error"), 7u);
  }
}
INSTANTIATE_TEST_SUITE_P(
    AllEight, NmiControlChecks,
    ::testing::Values(ControlCase{false, false, false}, ControlCase{false, false, true},
                      ControlCase{false, true, false}, ControlCase{false, true, true},
                      ControlCase{true, false, false}, ControlCase{true, false, true},
                      ControlCase{true, true, false}, ControlCase{true, true, true}));

TEST(NmiInjection, VectorOtherThan2IsError7AndVector2Enters) {
  Rig r;
  r.kvm.handle = false;
  r.set_pin(nmi_exiting_virtual());
  r.vcpu.write_guest_state(Rig::fred_guest());
  ASSERT_TRUE(
      r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, IntrInfo::nmi().set_vector(0).encode()).ok());
  EXPECT_EQ(r.vcpu.vm_enter().error, VmInstructionError::entry_invalid_control_fields);
  ASSERT_TRUE(r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, IntrInfo::nmi().encode()).ok());
  EXPECT_TRUE(r.vcpu.vm_enter().ok());
}

// --- Checks on the guest's non-register state ------------------------------------------

struct StateCase {
  const char* name;
  bool virtual_nmis;
  Interruptibility intr;
  ActivityState activity;
  bool inject_nmi;
  bool if_flag;
  const char* failure;  // "" when the entry succeeds
};
class GuestStateChecks : public ::testing::TestWithParam<StateCase> {};

TEST_P(GuestStateChecks, FailAsAVmEntryFailureWithReason33) {
  const StateCase c = GetParam();
  Rig r;
  r.kvm.handle = false;
  r.set_pin(c.virtual_nmis ? nmi_exiting_virtual() : nmi_exiting());
  cpu::ArchState g = Rig::fred_guest();
  if (!c.if_flag) g.rflags &= ~arch::kRflagsIf;
  r.vcpu.write_guest_state(g);
  set_intr(r, c.intr);
  set_activity(r, c.activity);
  if (c.inject_nmi) r.vcpu.inject_nmi(0);
  const VmxResult res = r.vcpu.vm_enter();
  if (std::string(c.failure).empty()) {
    EXPECT_TRUE(res.ok()) << r.vcpu.last_entry_failure();
    return;
  }
  EXPECT_EQ(res.status, VmxStatus::entry_failure);
  EXPECT_EQ(res.error, VmInstructionError::none);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitReason).value, kInvalidGuestState);
  EXPECT_EQ(r.vcpu.last_entry_failure(), c.failure);
  EXPECT_EQ(r.vcpu.stats().failed_entries, 1u);
  EXPECT_FALSE(r.cpu.non_root());
  const auto* rec = r.sink.find("vm_entry_fail");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->num.at("reason"), kInvalidGuestState);
  EXPECT_EQ(rec->str.at("what"), c.failure);
}

const Interruptibility kNone{};
const Interruptibility kSti = Interruptibility{}.set_blocking_by_sti(true);
const Interruptibility kMovSs = Interruptibility{}.set_blocking_by_mov_ss(true);
const Interruptibility kNmi = Interruptibility{}.set_blocking_by_nmi(true);
constexpr ActivityState kActive = ActivityState::active;
constexpr ActivityState kHlt = ActivityState::hlt;

INSTANTIATE_TEST_SUITE_P(
    Sdm, GuestStateChecks,
    ::testing::Values(
        StateCase{"StiAndMovSs", false,
                  Interruptibility{}.set_blocking_by_sti(true).set_blocking_by_mov_ss(true),
                  kActive, false, true,
                  "interruptibility state: blocking by STI and by MOV SS both set"},
        StateCase{"StiWithIf0", false, kSti, kActive, false, false,
                  "interruptibility state: blocking by STI with RFLAGS.IF = 0"},
        StateCase{"StiWithIf1", false, kSti, kActive, false, true, ""},
        StateCase{"Reserved", false, Interruptibility{0x20}, kActive, false, true,
                  "interruptibility state: reserved bits 31:4 not 0"},
        StateCase{"Smi", false, Interruptibility{}.set(Interruptibility::kBlockingBySmi, true),
                  kActive, false, true, "interruptibility state: blocking by SMI outside SMM"},
        StateCase{"NmiInjectedUnderVirtualNmiBlocking", true, kNmi, kActive, true, true,
                  "injecting an NMI with virtual-NMI blocking"},
        StateCase{"NmiInjectedUnderNmiBlockingWithoutVirtualNmis", false, kNmi, kActive, true, true,
                  ""},
        StateCase{"NmiInjectedUnderMovSs", true, kMovSs, kActive, true, true,
                  "injecting an NMI with blocking by MOV SS"},
        StateCase{"NmiInjectedUnderSti", true, kSti, kActive, true, true, ""},
        StateCase{"HltWithMovSs", false, kMovSs, kHlt, false, true,
                  "activity state HLT with blocking by STI or MOV SS"},
        StateCase{"HltWithNmiInjected", false, kNone, kHlt, true, true, ""},
        StateCase{"ShutdownUnsupported", false, kNone, ActivityState::shutdown, false, true,
                  "activity state not supported (the model has active and HLT)"},
        StateCase{"WaitForSipiUnsupported", false, kNone, ActivityState::wait_for_sipi, false, true,
                  "activity state not supported (the model has active and HLT)"}),
    [](const ::testing::TestParamInfo<StateCase>& i) { return std::string(i.param.name); });

TEST(GuestStateChecks, HltRejectsAnInjectedEventItDoesNotAllow) {
  Rig r;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  set_activity(r, kHlt);
  // #BP (hardware exception 3) may not be injected into HLT; #DB (1) may.
  const IntrInfo bp =
      IntrInfo{}.set_type(cpu::EventType::hardware_exception).set_vector(3).set_valid(true);
  ASSERT_TRUE(r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, bp.encode()).ok());
  EXPECT_EQ(r.vcpu.vm_enter().status, VmxStatus::entry_failure);
  EXPECT_EQ(r.vcpu.last_entry_failure(), "event injection the HLT activity state does not allow");
  ASSERT_TRUE(
      r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, IntrInfo{bp}.set_vector(1).encode()).ok());
  EXPECT_TRUE(r.vcpu.vm_enter().ok());
}

// --- NMI-window exits ----------------------------------------------------------------

TEST(NmiWindow, ExitsRightAfterTheEntryWhenNothingBlocks) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), true).ok());
  const Cycle in = r.cost(TimingParam::vm_entry);
  r.queue.run_until(in - 1);
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  r.queue.run_until(in);
  ASSERT_EQ(r.vcpu.stats().exits, 1u) << "at the first instruction boundary";
  EXPECT_EQ(r.vcpu.stats().exits_for(BasicExitReason::nmi_window), 1u);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitReason).value, kNmiWindowReason);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kGuestRip).value, kGuestRip) << "RIP did not move";
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitIntrInfo).value, 0u);
  EXPECT_EQ(r.cpu.stats().vm_exits_nmi, 0u) << "not an NMI";
  EXPECT_FALSE(r.cpu.nmi_blocked()) << "the host's NMIs stay unblocked";
  const auto* rec = r.sink.find("vm_exit");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->num.at("reason"), kNmiWindowReason);
  EXPECT_EQ(rec->str.at("name"), "nmi_window");
  EXPECT_EQ(rec->num.at("guest_rip"), kGuestRip);
  EXPECT_EQ(rec->str.at("activity"), "active");
  EXPECT_EQ(r.sink.find("nmi_deliver"), nullptr);
  r.queue.run_until(in + r.cost(TimingParam::vm_exit));
  ASSERT_EQ(r.kvm.exits.size(), 1u);
  EXPECT_EQ(r.kvm.exits[0].reason.basic(), kNmiWindowReason);
}

TEST(NmiWindow, TheExitTakesItsOwnCostNotVmExit) {
  // vm_exit_nmi_window (docs/vmx.md "KVM's virtual NMIs of a vCPU"): set apart
  // from vm_exit, the handler runs when the window exit's cost has run.
  Rig r;
  r.kvm.handle = false;
  r.timing.set(TimingParam::vm_exit, 100);
  r.timing.set(TimingParam::vm_exit_nmi_window, 900);
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), true).ok());
  const Cycle in = r.cost(TimingParam::vm_entry);
  r.queue.run_until(in + 899);
  EXPECT_EQ(r.vcpu.stats().exits_for(BasicExitReason::nmi_window), 1u);
  EXPECT_TRUE(r.kvm.exits.empty()) << "vm_exit's 100 cycles are not the window exit's";
  r.queue.run_until(in + 900);
  ASSERT_EQ(r.kvm.exits.size(), 1u);
  EXPECT_EQ(r.kvm.exits[0].reason.basic(), kNmiWindowReason);
}

TEST(NmiWindow, WithoutTheControlNoExit) {
  Rig r;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), false).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 1000);
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  EXPECT_TRUE(r.vcpu.in_guest());
}

class EntryBlocking : public ::testing::TestWithParam<bool> {};  // true: MOV SS, false: STI

// kvm-unit-tests vmx_nmi_window_test "active, blocking by MOV-SS": the exit comes
// after the next instruction (one byte: one cycle of the symbolic RIP).
TEST_P(EntryBlocking, DelaysTheWindowExitByOneInstruction) {
  Rig r;
  r.kvm.handle = false;
  const Interruptibility i = GetParam() ? kMovSs : kSti;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), true, i).ok());
  const Cycle in = r.cost(TimingParam::vm_entry);
  r.queue.run_until(in);
  EXPECT_EQ(r.vcpu.stats().exits, 0u) << "held during the first instruction";
  r.queue.run_until(in + 1);
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kGuestRip).value, kGuestRip + 1);
  EXPECT_EQ(r.vcpu.last_exit().guest_interruptibility.encode(), 0u) << "blocking is over";
}

TEST_P(EntryBlocking, HoldsAnNmiExitForOneInstruction) {
  Rig r;
  r.kvm.handle = false;
  const Interruptibility i = GetParam() ? kMovSs : kSti;
  ASSERT_TRUE(enter(r, nmi_exiting(), false, i).ok());
  r.cpu.raise_nmi(2);
  const Cycle in = r.cost(TimingParam::vm_entry);
  r.queue.run_until(in);
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  EXPECT_TRUE(r.cpu.nmi_pending());
  r.queue.run_until(in + 1);
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().reason.basic(), 0u);
}
INSTANTIATE_TEST_SUITE_P(MovSsAndSti, EntryBlocking, ::testing::Bool());

TEST(NmiWindow, VirtualNmiBlockingHoldsItUntilTheGuestsReturnUnblocks) {
  // An injected NMI sets virtual-NMI blocking; the window opens with the ERETS
  // that ends the guest's NMI handler (SDM Vol. 3C "Virtual-NMI Blocking").
  Rig r;
  r.kvm.handle = false;
  r.guest_os.erets_on_delivery = false;
  r.set_pin(nmi_exiting_virtual());
  set_proc(r, true);
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  const Cycle in = r.cost(TimingParam::vm_entry) + r.cost(TimingParam::fred_delivery);
  r.queue.run_until(in + 500);
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  EXPECT_EQ(r.vcpu.stats().exits, 0u) << "virtual-NMI blocking";
  EXPECT_TRUE(r.cpu.nmi_blocked());
  ASSERT_EQ(r.cpu.erets(), cpu::Fault::none);
  const Cycle back = r.queue.now() + r.cost(TimingParam::erets);
  r.queue.run_until(back - 1);
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  r.queue.run_until(back);
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().reason.basic(), kNmiWindowReason);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kGuestRip).value, kGuestRip) << "the frame's RIP";
  EXPECT_FALSE(r.vcpu.last_exit().guest_interruptibility.blocking_by_nmi());
}

TEST(NmiWindow, TakesPriorityOverAPendingNmi) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), true).ok());
  r.cpu.raise_nmi(4);
  r.queue.run_until(r.cost(TimingParam::vm_entry));
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().reason.basic(), kNmiWindowReason);
  EXPECT_TRUE(r.cpu.nmi_pending()) << "the NMI waits";
  EXPECT_EQ(r.cpu.stats().vm_exits_nmi, 0u);
}

// --- Virtual NMIs and NMI-induced exits ----------------------------------------------

TEST(VirtualNmis, AnNmiExitKeepsVirtualNmiBlockingAndTheEntryRestoresIt) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), false, kNmi).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 10);
  EXPECT_TRUE(r.cpu.nmi_blocked()) << "virtual-NMI blocking from the entry";
  r.cpu.raise_nmi(1);
  ASSERT_EQ(r.vcpu.stats().exits, 1u) << "virtual-NMI blocking holds back no NMI";
  EXPECT_TRUE(r.vcpu.last_exit().guest_interruptibility.blocking_by_nmi()) << "kept";
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_exit));
  // The host's ERETS of KVM's frame unblocks its NMIs; VMRESUME restores the guest's.
  ASSERT_EQ(KvmLike::handle_nmi(r.cpu, 0, true), cpu::Fault::none);
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::erets));
  ASSERT_TRUE(r.vcpu.vm_resume().ok());
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_entry));
  EXPECT_TRUE(r.vcpu.in_guest());
  EXPECT_TRUE(r.cpu.nmi_blocked());
}

// --- The HLT activity state -----------------------------------------------------------

TEST(Hlt, TheGuestStaysAtItsRipUntilAnNmiExitWakesIt) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting(), false, kNone, kHlt).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 5000);
  EXPECT_TRUE(r.cpu.halted());
  EXPECT_EQ(r.cpu.rip(), kGuestRip) << "HLT: RIP does not move";
  r.cpu.raise_nmi(3);
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.stats().exits_from_hlt, 1u);
  EXPECT_EQ(r.vcpu.last_exit().guest_activity, kHlt) << "saved as HLT";
  EXPECT_EQ(r.vcpu.last_exit().guest_rip, kGuestRip);
  EXPECT_FALSE(r.cpu.halted()) << "the host runs";
  const auto* rec = r.sink.find("vm_exit");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->str.at("activity"), "hlt");
}

TEST(Hlt, ActiveGuestExitsWithoutTheActivityField) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting(), false).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 10);
  r.cpu.raise_nmi(3);
  EXPECT_EQ(r.vcpu.stats().exits_from_hlt, 0u);
  EXPECT_EQ(r.vcpu.last_exit().guest_activity, kActive);
  const auto* rec = r.sink.find("vm_exit");
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->str.count("activity"), 0u) << "NMI exits keep their fields";
}

TEST(Hlt, AnNmiWithoutNmiExitingGoesToTheGuestAndWakesIt) {
  Rig r;
  ASSERT_TRUE(enter(r, PinControls{}, false, kNone, kHlt).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 700);
  r.cpu.raise_nmi(5);
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::fred_delivery) +
                    r.cost(TimingParam::erets));
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  EXPECT_EQ(r.guest_os.deliveries[0].frame.rip, kGuestRip) << "the RIP after HLT";
  EXPECT_FALSE(r.cpu.halted());
  const Cycle t = r.queue.now();
  r.queue.run_until(t + 10);
  EXPECT_EQ(r.cpu.rip(), kGuestRip + 10) << "active after the handler";
}

TEST(Hlt, TheNmiWindowExitWakesItAtOnce) {
  Rig r;
  r.kvm.handle = false;
  ASSERT_TRUE(enter(r, nmi_exiting_virtual(), true, kNone, kHlt).ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry));
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().reason.basic(), kNmiWindowReason);
  EXPECT_EQ(r.vcpu.last_exit().guest_activity, kHlt);
  EXPECT_EQ(r.vcpu.stats().exits_from_hlt, 1u);
}

TEST(Hlt, AnInjectingEntryLeavesTheGuestActive) {
  Rig r;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  set_activity(r, kHlt);
  r.vcpu.inject_nmi(0);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + r.cost(TimingParam::fred_delivery) +
                    r.cost(TimingParam::erets) + 20);
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  EXPECT_FALSE(r.cpu.halted());
  EXPECT_NE(r.cpu.rip(), kGuestRip);
}

}  // namespace
}  // namespace fredsim::vmx
