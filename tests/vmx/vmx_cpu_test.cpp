#include "fredsim/vmx/vmx_cpu.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vmx_rig.hpp"

namespace fredsim::vmx {
namespace {

using namespace testing;
using cpu::RunState;

constexpr std::uint32_t kNmiExitIntrInfo = 0x80000202;  // valid, type NMI, vector 2

// --- VM entry ---------------------------------------------------------------------

TEST(VmEntry, LoadsTheGuestAfterVmEntryCyclesNotBefore) {
  Rig r;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  const Cycle t0 = r.queue.now();
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  EXPECT_EQ(r.vcpu.mode(), VmxMode::entering);
  EXPECT_TRUE(r.cpu.non_root());
  r.queue.run_until(t0 + r.cost(TimingParam::vm_entry) - 1);
  EXPECT_EQ(r.vcpu.mode(), VmxMode::entering) << "not at t-1";
  EXPECT_EQ(r.cpu.run_state(), RunState::transition);
  r.queue.run_until(t0 + r.cost(TimingParam::vm_entry));
  EXPECT_EQ(r.vcpu.mode(), VmxMode::guest) << "yes at t";
  EXPECT_EQ(r.cpu.run_state(), RunState::running);
  EXPECT_EQ(r.cpu.rip(), kGuestRip);
  EXPECT_EQ(r.cpu.fred_config().entry_page(), kGuestEntryPage);
  EXPECT_EQ(r.cpu.fred_rsp(2), kGuestNmiStack);
  EXPECT_EQ(r.cpu.os_entry(), &r.guest_os);
  EXPECT_EQ(r.vcpu.stats().entries, 1u);
  ASSERT_NE(r.sink.find("vm_entry"), nullptr);
  EXPECT_EQ(r.sink.find("vm_entry")->str.at("instruction"), "vmlaunch");
}

TEST(VmEntry, VirtualNmisWithoutNmiExitingFailsWithError7) {
  Rig r;
  r.set_pin(PinControls{}.set_virtual_nmis(true));
  r.vcpu.write_guest_state(Rig::fred_guest());
  const VmxResult res = r.vcpu.vm_enter();
  EXPECT_EQ(res.status, VmxStatus::fail_valid);
  EXPECT_EQ(res.error, VmInstructionError::entry_invalid_control_fields);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kVmInstructionError).value, 7u);
  EXPECT_FALSE(r.cpu.non_root());
  EXPECT_EQ(r.vcpu.mode(), VmxMode::root);
  EXPECT_FALSE(r.vcpu.vmcs().launched());
  EXPECT_EQ(r.vcpu.stats().failed_entries, 1u);
  EXPECT_EQ(r.queue.size(), 0u) << "nothing scheduled";
}

TEST(VmEntry, MalformedInjectionFailsWithError7) {
  Rig r;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  // An NMI must have vector 2.
  ASSERT_TRUE(
      r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, IntrInfo::nmi().set_vector(3).encode()).ok());
  EXPECT_EQ(r.vcpu.vm_enter().error, VmInstructionError::entry_invalid_control_fields);
  // Reserved bit 20.
  ASSERT_TRUE(
      r.vcpu.vmcs().vmwrite(field::kEntryIntrInfo, IntrInfo::nmi().encode() | 1u << 20).ok());
  EXPECT_EQ(r.vcpu.vm_enter().error, VmInstructionError::entry_invalid_control_fields);
}

TEST(VmEntry, LaunchStateErrors4And5) {
  Rig r;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  EXPECT_EQ(r.vcpu.vm_resume().error, VmInstructionError::vmresume_non_launched_vmcs);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kVmInstructionError).value, 5u);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  EXPECT_EQ(r.vcpu.vm_enter().status, VmxStatus::fault) << "not executing host code";
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 100);
  r.kvm.handle = false;
  r.cpu.raise_nmi(3);
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_exit));
  ASSERT_EQ(r.kvm.exits.size(), 1u);
  EXPECT_EQ(r.vcpu.vm_enter().error, VmInstructionError::vmlaunch_non_clear_vmcs);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kVmInstructionError).value, 4u);
  EXPECT_TRUE(r.vcpu.vm_resume().ok());
}

TEST(VmEntry, InjectingAnNmiUnderVirtualNmiBlockingIsAVmEntryFailure) {
  // SDM Vol. 3C "Checks on Guest Non-Register State": only with virtual NMIs
  // (nmi_controls_test.cpp has the case without them, which enters).
  Rig r;
  r.set_pin(nmi_exiting_virtual());
  cpu::ArchState g = Rig::fred_guest();
  g.nmi_blocked = true;
  r.vcpu.write_guest_state(g);
  r.vcpu.inject_nmi(0x10);
  const VmxResult res = r.vcpu.vm_enter();
  EXPECT_EQ(res.status, VmxStatus::entry_failure);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitReason).value, 0x80000021u);
  EXPECT_FALSE(r.cpu.non_root());
  EXPECT_EQ(r.vcpu.stats().failed_entries, 1u);
}

// --- NMI-induced VM exit --------------------------------------------------------------

// 1..16 sources raised while the entry is in progress coalesce into one pending
// NMI; the exit at the end of the entry reports them all (docs/hardware.md §2 "NMI-source
// reporting", §4 "VMX").
class CoalescedSources : public ::testing::TestWithParam<unsigned> {};

TEST_P(CoalescedSources, ExitQualificationIsTheOrOfTheirBits) {
  const unsigned n = GetParam();
  Rig r;
  r.kvm.handle = false;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  std::uint16_t expect = 0;
  for (unsigned v = 0; v < n; ++v) {
    r.cpu.raise_nmi(v);  // vector 0 sets bit 0, v in 1..15 sets bit v
    expect = static_cast<std::uint16_t>(expect | arch::nmi_source_bit(v));
  }
  EXPECT_EQ(r.cpu.nmi_source_bitmap(), expect);
  r.queue.run_until(r.cost(TimingParam::vm_entry));
  EXPECT_EQ(r.vcpu.mode(), VmxMode::exiting);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitQualification).value, expect);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitReason).value, 0u);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitIntrInfo).value, kNmiExitIntrInfo);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kIdtVectoringInfo).value, 0u);
  EXPECT_EQ(r.cpu.nmi_source_bitmap(), 0u) << "the exit cleared the bitmap";
  EXPECT_FALSE(r.cpu.nmi_pending());
  EXPECT_EQ(r.cpu.stats().nmi_received, n);
  EXPECT_EQ(r.cpu.stats().nmi_coalesced, n - 1);
  EXPECT_EQ(r.cpu.stats().vm_exits_nmi, 1u);
  EXPECT_EQ(r.vcpu.stats().exits_for(BasicExitReason::exception_or_nmi), 1u);
  EXPECT_EQ(expect, static_cast<std::uint16_t>((1u << n) - 1));
}
INSTANTIATE_TEST_SUITE_P(Sources, CoalescedSources, ::testing::Range(1u, 17u));

TEST(NmiExit, SourcesHeldByGuestNmiBlockingCoalesce) {
  // NMI exiting without virtual NMIs: the guest's NMI blocking (here from an
  // injected NMI) holds physical NMIs back until the guest's ERETS.
  Rig r;
  r.kvm.handle = false;
  r.guest_os.erets_on_delivery = false;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0x2);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.queue.run_until(r.cost(TimingParam::vm_entry) + r.cost(TimingParam::fred_delivery));
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  ASSERT_TRUE(r.cpu.nmi_blocked());
  for (unsigned v : {3u, 4u, 7u})
    r.cpu.raise_nmi(v);
  r.queue.run_until(r.queue.now() + 500);
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  ASSERT_EQ(r.cpu.erets(), cpu::Fault::none);
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::erets));
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().qualification, 0x98u);
  EXPECT_FALSE(r.vcpu.last_exit().guest_interruptibility.blocking_by_nmi());
}

TEST(NmiExit, QualificationIsZeroWithoutNmiSource) {
  Rig r(features(false));
  r.kvm.handle = false;
  r.launch(nmi_exiting());
  r.cpu.raise_nmi(5);
  r.cpu.raise_nmi(7);  // in transition: coalesces, identity lost
  EXPECT_EQ(r.vcpu.last_exit().qualification, 0u);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kExitQualification).value, 0u);
  ASSERT_NE(r.sink.find("nmi_deliver"), nullptr);
  EXPECT_EQ(r.sink.find("nmi_deliver")->num.at("event_data"), 0u);
}

TEST(NmiExit, QualificationFollowsTheHostCr4NotTheGuests) {
  // NMI-source is active when enumerated and the host's CR4.FRED is set; a FRED
  // guest on a host without FRED gets no bitmap (docs/hardware.md §2 "NMI-source reporting", §4
  // "VMX").
  Rig r(features(true), /*host_fred=*/false);
  r.kvm.handle = false;
  r.launch(nmi_exiting());
  ASSERT_TRUE(r.cpu.fred_enabled());
  r.cpu.raise_nmi(5);
  EXPECT_EQ(r.vcpu.last_exit().qualification, 0u);
}

TEST(NmiExit, SavesTheGuestAndLoadsTheHostWithNmisBlocked) {
  Rig r;
  r.kvm.handle = false;
  const cpu::ArchState host_before = r.cpu.save_state();
  r.launch(nmi_exiting());
  const Cycle ran = 1000;
  r.queue.run_until(r.queue.now() + ran);
  r.cpu.raise_nmi(4);
  Vmcs& v = r.vcpu.vmcs();
  EXPECT_EQ(v.vmread(field::kGuestRip).value, kGuestRip + ran) << "the guest ran on";
  EXPECT_EQ(v.vmread(field::kGuestRsp).value, kGuestRsp);
  EXPECT_EQ(v.vmread(field::kGuestFredRsp2).value, kGuestNmiStack);
  EXPECT_EQ(v.vmread(field::kGuestFredConfig).value & ~std::uint64_t{3},
            cpu::FredConfig::make(kGuestEntryPage, 1, 0).encode());
  EXPECT_EQ(v.vmread(field::kGuestInterruptibility).value, 0u);
  EXPECT_FALSE(r.cpu.non_root());
  EXPECT_EQ(r.cpu.os_entry(), &r.host_os);
  EXPECT_EQ(r.cpu.rip(), host_before.rip);
  EXPECT_EQ(r.cpu.rsp(), host_before.rsp);
  EXPECT_EQ(r.cpu.cpl(), 0);
  EXPECT_EQ(r.cpu.rflags(), arch::kRflagsFixed1);
  EXPECT_EQ(r.cpu.fred_config().entry_page(), kHostEntryPage);
  EXPECT_EQ(r.cpu.fred_rsp(2), kHostNmiStack);
  EXPECT_TRUE(r.cpu.nmi_blocked());
  EXPECT_EQ(r.vcpu.last_exit().guest_rip, kGuestRip + ran);
}

TEST(NmiExit, HandlerRunsAfterVmExitCyclesNotBefore) {
  Rig r;
  r.kvm.handle = false;
  r.launch(nmi_exiting());
  r.queue.run_until(r.queue.now() + 10);
  const Cycle t1 = r.queue.now();
  r.cpu.raise_nmi(4);
  EXPECT_EQ(r.vcpu.mode(), VmxMode::exiting);
  r.queue.run_until(t1 + r.cost(TimingParam::vm_exit) - 1);
  EXPECT_TRUE(r.kvm.exits.empty()) << "not at t-1";
  EXPECT_EQ(r.cpu.run_state(), RunState::transition);
  r.queue.run_until(t1 + r.cost(TimingParam::vm_exit));
  ASSERT_EQ(r.kvm.exits.size(), 1u) << "yes at t";
  EXPECT_EQ(r.kvm.at[0], t1 + r.cost(TimingParam::vm_exit));
  EXPECT_EQ(r.kvm.exits[0].exited_at, t1);
  EXPECT_EQ(r.cpu.run_state(), RunState::in_os);
  EXPECT_EQ(r.vcpu.mode(), VmxMode::root);
}

TEST(NmiExit, NmiRaisedAtTheLastCycleOfTheEntryExitsWhenTheEntryCompletes) {
  Rig r;
  r.kvm.handle = false;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  const Cycle t = r.cost(TimingParam::vm_entry);
  r.queue.run_until(t - 1);
  r.cpu.raise_nmi(9);
  EXPECT_EQ(r.vcpu.stats().exits, 0u) << "not at t-1";
  r.queue.run_until(t);
  EXPECT_EQ(r.vcpu.stats().exits, 1u) << "yes at t";
  EXPECT_EQ(r.vcpu.last_exit().exited_at, t);
}

TEST(NmiExit, HostNmisStayBlockedUntilErretsOfAFrameWithSsBit18) {
  for (const bool nmi_bit : {true, false}) {
    Rig r;
    r.kvm.handle = false;
    r.launch(nmi_exiting());
    r.cpu.raise_nmi(3);
    r.queue.run_until(r.queue.now() + r.cost(TimingParam::vm_exit));
    ASSERT_EQ(r.kvm.exits.size(), 1u);
    r.cpu.raise_nmi(4);  // a host NMI while the host runs with NMIs blocked
    r.queue.run_until(r.queue.now() + 1000);
    EXPECT_TRUE(r.cpu.nmi_pending());
    EXPECT_TRUE(r.host_os.deliveries.empty());
    ASSERT_EQ(KvmLike::handle_nmi(r.cpu, r.kvm.exits[0].qualification, nmi_bit), cpu::Fault::none);
    const Cycle erets_done = r.queue.now() + r.cost(TimingParam::erets);
    r.queue.run_until(erets_done - 1);
    EXPECT_TRUE(r.cpu.nmi_blocked());
    r.queue.run_until(erets_done + r.cost(TimingParam::fred_delivery));
    if (nmi_bit) {
      ASSERT_EQ(r.host_os.deliveries.size(), 1u);
      const cpu::Delivery& d = r.host_os.deliveries[0];
      EXPECT_EQ(d.path, cpu::DeliveryPath::fred);
      EXPECT_EQ(d.event.event_data, 1u << 4);
      EXPECT_EQ(d.frame_rsp, kHostNmiStack - arch::kFredFrameSize);
      EXPECT_EQ(r.host_os.delivered_at[0], erets_done + r.cost(TimingParam::fred_delivery));
    } else {
      EXPECT_TRUE(r.cpu.nmi_blocked()) << "SS bit 18 clear: NMIs stay blocked";
      EXPECT_TRUE(r.cpu.nmi_pending());
      EXPECT_TRUE(r.host_os.deliveries.empty());
    }
  }
}

TEST(NmiExit, RoundTripThroughKvmAndVmresume) {
  Rig r;
  r.host_os.resume_guest = &r.vcpu;
  r.launch(nmi_exiting());
  r.queue.run_until(r.queue.now() + 100);
  const Cycle t1 = r.queue.now();
  r.cpu.raise_nmi(4);
  const Cycle back = t1 + r.cost(TimingParam::vm_exit) + r.cost(TimingParam::erets) +
                     r.cost(TimingParam::vm_entry);
  r.queue.run_until(back - 1);
  EXPECT_FALSE(r.vcpu.in_guest());
  r.queue.run_until(back);
  ASSERT_TRUE(r.vcpu.in_guest());
  ASSERT_EQ(r.host_os.resume_results.size(), 1u);
  EXPECT_TRUE(r.host_os.resume_results[0].ok());
  EXPECT_EQ(r.kvm.exits[0].qualification, 1u << 4);
  EXPECT_EQ(r.cpu.stats().dispatch_cycles, back - t1);
  EXPECT_EQ(r.vcpu.stats().entries, 2u);
  EXPECT_FALSE(r.cpu.nmi_blocked()) << "the guest's own blocking came back";
  EXPECT_EQ(r.cpu.rip(), kGuestRip + 100) << "the guest goes on where it stopped";
  bool via_vmentry = false;
  for (const auto& rec : r.sink.recs) {
    if (rec.event == "nmi_return" && rec.str.count("via") && rec.str.at("via") == "vmentry") {
      via_vmentry = true;
      EXPECT_EQ(rec.cycle, back);
    }
  }
  EXPECT_TRUE(via_vmentry);
}

TEST(NmiExit, TraceRecordFields) {
  Rig r;
  MemoryTraceSink text;
  r.tracer.add_sink(text);
  r.kvm.handle = false;
  r.set_pin(nmi_exiting());
  r.vcpu.write_guest_state(Rig::fred_guest());
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.cpu.raise_nmi(3);
  r.cpu.raise_nmi(4);
  r.queue.run_until(r.cost(TimingParam::vm_entry));
  const CapturingSink::Rec* e = r.sink.find("vm_exit");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->cycle, r.cost(TimingParam::vm_entry));
  EXPECT_EQ(e->num.at("reason"), 0u);
  EXPECT_EQ(e->num.at("exit_qualification"), 0x18u);
  EXPECT_EQ(e->num.at("intr_info"), kNmiExitIntrInfo);
  const CapturingSink::Rec* d = r.sink.find("nmi_deliver");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->str.at("path"), "vmexit");
  EXPECT_EQ(d->num.at("event_data"), 0x18u);
  bool found = false;
  for (const std::string& line : text.lines()) {
    if (line.find("vm_exit reason=0 name=nmi exit_qualification=0x18 intr_info=0x80000202") !=
        std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << "hex fields print as hex";
}

// --- NMI exiting off, virtual NMIs, injection ---------------------------------------------

TEST(GuestNmi, WithoutNmiExitingTheGuestTakesItThroughFred) {
  Rig r;
  r.launch(PinControls{});
  r.queue.run_until(r.queue.now() + 50);
  const Cycle t = r.queue.now();
  r.cpu.raise_nmi(5);
  r.queue.run_until(t + r.cost(TimingParam::fred_delivery));
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  const cpu::Delivery& d = r.guest_os.deliveries[0];
  EXPECT_EQ(d.path, cpu::DeliveryPath::fred);
  EXPECT_EQ(d.event.event_data, 1u << 5);
  EXPECT_EQ(d.frame.event_data, 1u << 5);
  EXPECT_EQ(d.frame_rsp, kGuestNmiStack - arch::kFredFrameSize);
  EXPECT_EQ(d.frame.rip, kGuestRip + 50);
  EXPECT_TRUE(r.host_os.deliveries.empty());
  EXPECT_EQ(r.vcpu.stats().exits, 0u);
  EXPECT_EQ(r.cpu.stats().vm_exits_nmi, 0u);
  EXPECT_TRUE(r.vcpu.in_guest());
  r.queue.run_until(r.queue.now() + r.cost(TimingParam::erets));
  EXPECT_FALSE(r.cpu.nmi_blocked()) << "the guest's ERETS unblocked";
}

TEST(GuestNmi, InjectedNmiCarriesTheInjectedEventData) {
  Rig r;
  r.guest_os.erets_on_delivery = false;
  r.kvm.handle = false;
  r.set_pin(nmi_exiting_virtual());
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0x88);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kEntryIntrInfo).value, kNmiExitIntrInfo);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kInjectedEventData).value, 0x88u);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  const Cycle in = r.cost(TimingParam::vm_entry) + r.cost(TimingParam::fred_delivery);
  r.queue.run_until(in);
  ASSERT_EQ(r.guest_os.deliveries.size(), 1u);
  const cpu::Delivery& d = r.guest_os.deliveries[0];
  EXPECT_EQ(d.event.type, cpu::EventType::nmi);
  EXPECT_EQ(d.event.event_data, 0x88u);
  EXPECT_EQ(d.frame.event_data, 0x88u);
  EXPECT_TRUE(d.frame.ss.nmi());
  EXPECT_EQ(r.guest_os.delivered_at[0], in);
  EXPECT_TRUE(r.cpu.nmi_blocked()) << "virtual-NMI blocking";
  EXPECT_EQ(r.vcpu.stats().injected_events, 1u);
  EXPECT_EQ(r.cpu.stats().nmi_delivered, 0u) << "not a latched NMI";

  // Virtual-NMI blocking holds back no physical NMI: it exits at once.
  r.cpu.raise_nmi(6);
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.last_exit().qualification, 1u << 6);
  EXPECT_TRUE(r.vcpu.last_exit().guest_interruptibility.blocking_by_nmi());
  EXPECT_FALSE(IntrInfo::decode(r.vcpu.vmcs().vmread(field::kEntryIntrInfo).value).valid())
      << "every exit clears the entry interruption information's valid bit";
}

TEST(GuestNmi, ExitPendingAtAnInjectingEntryReportsTheEventAsVectoring) {
  Rig r;
  r.kvm.handle = false;
  r.set_pin(nmi_exiting_virtual());
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0x88);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.cpu.raise_nmi(3);
  r.queue.run_until(r.cost(TimingParam::vm_entry) + r.cost(TimingParam::fred_delivery));
  EXPECT_TRUE(r.guest_os.deliveries.empty());
  ASSERT_EQ(r.vcpu.stats().exits, 1u);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kIdtVectoringInfo).value, kNmiExitIntrInfo);
  EXPECT_EQ(r.vcpu.vmcs().vmread(field::kOriginalEventData).value, 0x88u);
  EXPECT_EQ(r.vcpu.last_exit().qualification, 1u << 3);
  EXPECT_EQ(r.vcpu.stats().exits_during_injection, 1u);
}

TEST(GuestNmi, InjectionWithoutNmiExitingWaitsForThePhysicalNmi) {
  // The injected NMI goes first and blocks NMIs; the physical one that was
  // pending follows after the guest's ERETS.
  Rig r;
  r.set_pin(PinControls{});
  r.vcpu.write_guest_state(Rig::fred_guest());
  r.vcpu.inject_nmi(0x80);
  ASSERT_TRUE(r.vcpu.vm_enter().ok());
  r.cpu.raise_nmi(5);
  r.queue.run_until(r.cost(TimingParam::vm_entry) + 2 * r.cost(TimingParam::fred_delivery) +
                    r.cost(TimingParam::erets));
  ASSERT_EQ(r.guest_os.deliveries.size(), 2u);
  EXPECT_EQ(r.guest_os.deliveries[0].event.event_data, 0x80u);
  EXPECT_EQ(r.guest_os.deliveries[1].event.event_data, 1u << 5);
}

}  // namespace
}  // namespace fredsim::vmx
