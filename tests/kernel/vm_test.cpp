// VMs with a kernel of their own at run time (kernel/vm.hpp, docs/vmx.md "Guests
// with a kernel of their own"): the vCPUs enter at start(), the guest kernel
// boots after the entry on KVM's emulated APIC, user space's KVM_NMI reaches the
// guest's dispatch through KVM's injection, and host NMIs stay the host's.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "fredsim/apic/constants.hpp"
#include "fredsim/kernel/vm.hpp"
#include "fredsim/vmx.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

/// A 3-CPU host (FRED); VM "g" with vCPU 0 on host CPU 1 and vCPU 1 on host CPU 2.
struct VmRig {
  std::unique_ptr<system::System> sys;
  Vm* vm = nullptr;
  MemoryTraceSink trace;
  explicit VmRig(bool vm_source = true, bool vm_fred = true, bool host_source = true,
                 bool virtual_nmis = true, apic::ApicMode mode = apic::ApicMode::x2apic,
                 std::uint32_t vcpus = 2, bool guest_unknown_nmi_panic = false) {
    sys = make_system(make_config(vcpus + 1, true, host_source));
    sys->machine().tracer().add_sink(trace);
    VmConfig c;
    c.name = "g";
    for (CpuId i = 0; i < vcpus; ++i)
      c.host_cpus.push_back(i + 1);
    c.kernel.use_fred = vm_fred;
    c.kernel.unknown_nmi_panic = guest_unknown_nmi_panic;
    c.nmi_source = vm_source;
    c.virtual_nmis = virtual_nmis;
    c.apic = mode;
    vm = &sys->add_vm(c);
    sys->at(0, [this] { vm->start(); });
  }
  Kernel& guest() { return vm->kernel(); }
  HandlerId guest_handler(const std::string& name, unsigned vector, Cycle handle = 0) {
    return *guest().register_model(NmiType::local, HandlerModel::device, 0, name, vector, 0,
                                   handle);
  }
  std::uint64_t calls(const Kernel& k, HandlerId h) const {
    return k.registry().handler(h).total.calls;
  }
  std::size_t lines_with(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& l : trace.lines())
      n += l.find(text) != std::string::npos;
    return n;
  }
};

TEST(Vm, TheVcpusEnterAndTheGuestKernelBootsOnTheEmulatedApic) {
  // The guest without NMI-source on a host with it: the guest kernel's LVTPC
  // write (perf: NMI mode, no source vector) goes to KVM's emulated APIC; the
  // host APIC keeps the host kernel's value (NMI mode with VECTOR_PMI).
  VmRig r(/*vm_source=*/false);
  r.sys->run_until(50'000);
  for (CpuId i = 0; i < 2; ++i) {
    const CpuId host = r.vm->host_cpu(i);
    EXPECT_TRUE(r.sys->machine().cpu(host).non_root()) << "vCPU " << i;
    EXPECT_TRUE(r.vm->booted(i));
    EXPECT_EQ(r.vm->apic(i).lvtpc, apic::APIC_DM_NMI) << "the guest's LVTPC, emulated";
    EXPECT_EQ(r.sys->machine().apic_read(host, apic::APIC_LVTPC),
              apic::APIC_DM_NMI | nmis::VECTOR_PMI)
        << "the host's LVTPC is untouched";
    EXPECT_TRUE(r.sys->machine().cpu(host).fred_enabled()) << "the guest kernel enabled FRED";
  }
  EXPECT_EQ(r.vm->apic(0).lvt1, apic::APIC_DM_NMI) << "LINT1 in NMI mode on the guest's BSP";
  EXPECT_FALSE(r.sys->machine().cpu(0).non_root()) << "host CPU 0 runs no vCPU";
  EXPECT_EQ(r.vm->vcpu_of(2), 1u);
  EXPECT_EQ(r.vm->vcpu_of(0), kNoCpu);
}

TEST(Vm, AnIdtGuestOnAFredHostTakesItsNmiThroughTheIdtAndTheHostKeepsFred) {
  VmRig r(/*vm_source=*/false, /*vm_fred=*/false);
  const HandlerId h = r.guest_handler("g_dev", 0);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(h, 0, 1);
    r.vm->kvm_nmi(0);
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 1u);
  EXPECT_EQ(r.guest().registry().handler(h).total.handled, 1u);
  EXPECT_EQ(r.lines_with("cpu=1 nmi_deliver path=idt"), 1u) << "the guest's IDT";
  EXPECT_FALSE(r.sys->machine().cpu(1).fred_enabled()) << "the guest's CR4";
  // Leave the guest: the host's FRED state comes back at the exit.
  r.sys->at(r.sys->now() + 1, [&] { r.vm->stop(); });
  r.sys->run_until(400'000);
  EXPECT_FALSE(r.sys->machine().cpu(1).non_root());
  EXPECT_TRUE(r.sys->machine().cpu(1).fred_enabled()) << "the host's CR4";
}

TEST(Vm, KvmNmiIsInjectedWithBitZeroAndTheGuestPollsEveryHandler) {
  VmRig r;
  const HandlerId a = r.guest_handler("g_a", 5);
  const HandlerId b = r.guest_handler("g_b", 6);
  const HandlerId host =
      *r.sys->kernel().register_model(NmiType::local, HandlerModel::device, 0, "h_dev", 5);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(b, 1, 1);
    r.vm->kvm_nmi(1);
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(1).nmi_injected, 1u);
  EXPECT_EQ(r.vm->counts(1).nmi_delivered, 1u);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 0u);
  EXPECT_EQ(r.lines_with("nmi_inject vm=g vcpu=1 event_data=0x1"), 1u)
      << "KVM_NMI has no source vector: bit 0, 'source unknown'";
  EXPECT_EQ(r.calls(r.guest(), a), 1u) << "bit 0: every handler is polled";
  EXPECT_EQ(r.calls(r.guest(), b), 1u);
  EXPECT_EQ(r.guest().registry().handler(b).per_cpu[1].handled, 1u) << "on vCPU 1";
  EXPECT_FALSE(console_has(r.guest(), "event data 0")) << "no zero-event-data warning";
  EXPECT_EQ(r.calls(r.sys->kernel(), host), 0u) << "the host kernel saw nothing";
  EXPECT_EQ(r.guest().cpu_state(1).stats.normal, 1u);
  EXPECT_TRUE(r.sys->machine().cpu(2).non_root()) << "the guest runs on";
  EXPECT_FALSE(r.sys->machine().cpu(2).nmi_blocked()) << "ERETS unblocked virtual NMIs";
  // The guest kernel's records: the host CPU that runs vCPU 1 (2), then vm and
  // vcpu ahead of the record's own fields.
  EXPECT_EQ(r.lines_with("cpu=2 handler_call vm=g vcpu=1 handler=g_a type=local returned=0 "), 1u);
  EXPECT_EQ(r.lines_with("cpu=2 handler_call vm=g vcpu=1 handler=g_b type=local returned=1 "), 1u);
  EXPECT_EQ(r.lines_with("cpu=2 nmi_outcome vm=g vcpu=1 handled=1 outcome=handled"), 1u);
  EXPECT_EQ(r.lines_with("handler_call"), 2u) << "the host kernel called nothing";
}

TEST(Vm, TheGuestFiltersByTheInjectedBitmap) {
  for (const bool source : {true, false}) {
    SCOPED_TRACE(source ? "nmi_source on" : "nmi_source off");
    VmRig r(source);
    const HandlerId a = r.guest_handler("g_a", 5);
    const HandlerId b = r.guest_handler("g_b", 6);
    r.sys->at(10'000, [&] {
      r.guest().registry().add_work(a, 0, 1);
      r.vm->inject_nmi(0, 1u << 5);  // as the emulated APIC queues an NMI with source vector 5
    });
    r.sys->run_until(200'000);
    EXPECT_EQ(r.vm->counts(0).nmi_delivered, 1u);
    EXPECT_EQ(r.guest().registry().handler(a).total.handled, 1u);
    EXPECT_EQ(r.calls(r.guest(), b), source ? 0u : 1u)
        << "with NMI-source the guest skips the handler whose bit is clear";
    EXPECT_EQ(r.lines_with(source ? "nmi_inject vm=g vcpu=0 event_data=0x20"
                                  : "nmi_inject vm=g vcpu=0 event_data=0x0"),
              1u);
  }
}

TEST(Vm, AHostNmiToARunningVcpuStaysTheHosts) {
  VmRig r;
  const HandlerId g = r.guest_handler("g_a", 5);
  const HandlerId host =
      *r.sys->kernel().register_model(NmiType::local, HandlerModel::device, 0, "h_dev", 5);
  r.sys->at(10'000, [&] {
    r.sys->kernel().registry().add_work(host, 1, 1);
    const CpuId dest[] = {1};
    r.sys->kernel().send_nmi_ipi(0, dest, 5);
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.sys->machine().cpu(1).stats().vm_exits_nmi, 1u);
  EXPECT_EQ(r.sys->kernel().registry().handler(host).total.handled, 1u) << "the host's";
  EXPECT_EQ(r.calls(r.guest(), g), 0u) << "never injected";
  EXPECT_EQ(r.vm->counts(0).nmi_injected, 0u);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 0u);
  EXPECT_EQ(r.lines_with("nmi_inject"), 0u);
  EXPECT_EQ(r.lines_with("vm=g"), 0u) << "the guest kernel wrote no record";
  EXPECT_EQ(r.lines_with("cpu=1 handler_call handler=h_dev "), 1u) << "the host's call";
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root()) << "KVM resumed the vCPU";
}

TEST(Vm, KvmHoldsASecondNmiForTheWindowWhileTheGuestHandlesTheFirst) {
  VmRig r;
  const HandlerId g = r.guest_handler("g_slow", 5, /*handle=*/100'000);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(g, 0, 1);
    r.vm->inject_nmi(0, 1u << 5);
  });
  // The second comes while the guest is inside the first one's handler: the
  // kick makes the vCPU exit, KVM cannot inject (virtual-NMI blocking) and asks
  // for the NMI window, which opens at the guest's ERETS.
  r.sys->at(40'000, [&] {
    r.guest().registry().add_work(g, 0, 1);
    r.vm->inject_nmi(0, 1u << 5);
  });
  r.sys->run_until(1'000'000);
  EXPECT_EQ(r.vm->counts(0).kicks, 2u);
  EXPECT_EQ(r.sys->machine().vmx(1).stats().exits_for(vmx::BasicExitReason::external_interrupt),
            2u);
  EXPECT_EQ(r.vm->counts(0).nmi_window_exits, 1u);
  EXPECT_EQ(r.vm->counts(0).nmi_injected, 2u);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 2u);
  EXPECT_EQ(r.calls(r.guest(), g), 2u);
  EXPECT_EQ(r.guest().registry().handler(g).total.handled, 2u);
  EXPECT_EQ(r.guest().cpu_state(0).lost, 0u);
  EXPECT_EQ(r.guest().lost_work(0), 0u);
  if (std::getenv("VM_TEST_TRACE")) {
    for (const auto& l : r.trace.lines())
      std::printf("%s\n", l.c_str());
  }
}

TEST(Vm, GuestWorkThatFallsDueWhileTheVcpuIsOutWaitsForTheEntry) {
  // A host NMI arrives in the middle of a long guest handler: the NMI-induced
  // exit takes the CPU to the host, whose dispatch runs; the guest's next step
  // (its handler's end, then ERETS) waits for KVM's VM entry.
  VmRig r;
  const HandlerId g = r.guest_handler("g_slow", 5, /*handle=*/100'000);
  const HandlerId host = *r.sys->kernel().register_model(NmiType::local, HandlerModel::device, 0,
                                                         "h_dev", 5, 0, /*handle=*/200'000);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(g, 0, 1);
    r.vm->inject_nmi(0, 1u << 5);
  });
  r.sys->at(40'000, [&] {
    r.sys->kernel().registry().add_work(host, 1, 1);
    const CpuId dest[] = {1};
    r.sys->kernel().send_nmi_ipi(0, dest, 5);
  });
  r.sys->run_until(2'000'000);
  EXPECT_EQ(r.sys->kernel().registry().handler(host).total.handled, 1u);
  EXPECT_EQ(r.guest().registry().handler(g).total.handled, 1u);
  EXPECT_TRUE(r.guest().console().lines().empty()) << r.guest().console().lines().front().text;
  EXPECT_TRUE(r.sys->kernel().console().lines().empty())
      << r.sys->kernel().console().lines().front().text;
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root());
  EXPECT_FALSE(r.sys->machine().cpu(1).nmi_blocked());
  EXPECT_FALSE(r.guest().cpu_state(0).in_dispatch);
  EXPECT_FALSE(r.sys->kernel().cpu_state(1).in_dispatch);
  // In the trace: the host's dispatch ends (its nmi_outcome; the guest
  // kernel's carries vm= and vcpu=), then KVM re-enters the vCPU, then the
  // guest's dispatch ends and its ERETS comes.
  auto cycle_of = [](const std::string& l) { return std::stoull(l.substr(l.find('=') + 1)); };
  std::size_t outcome = 0, exit = 0, entry = 0, guest_return = 0, guest_outcome = 0;
  const auto& lines = r.trace.lines();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.find("cpu=1 nmi_outcome handled=") != std::string::npos) outcome = i;
    if (l.find("cpu=1 nmi_outcome vm=g vcpu=0 ") != std::string::npos) guest_outcome = i;
    if (l.find("cpu=1 vm_exit reason=0 ") != std::string::npos) {
      exit = i;
      entry = 0;
    }
    if (entry == 0 && l.find("cpu=1 vm_entry") != std::string::npos) entry = i;
    if (l.find("cpu=1 nmi_return via=erets") != std::string::npos) guest_return = i;
  }
  ASSERT_NE(outcome, 0u);
  ASSERT_NE(exit, 0u);
  ASSERT_NE(entry, 0u);
  EXPECT_GT(entry, outcome) << "KVM enters the vCPU after the host's dispatch";
  EXPECT_GE(cycle_of(lines[entry]), cycle_of(lines[exit]) + 200'000u)
      << "out of the guest for at least the host handler's 200,000 cycles";
  EXPECT_GT(guest_return, entry) << "the guest's ERETS waited for the entry";
  EXPECT_GT(guest_outcome, entry) << "the guest's dispatch ends in the guest";
  EXPECT_LT(guest_outcome, guest_return);
  EXPECT_GE(cycle_of(lines[guest_return]), cycle_of(lines[entry]));
}

TEST(Vm, AtItsEndTheVcpusLeaveAndQueuedNmisAreDropped) {
  VmRig r;
  r.guest_handler("g_a", 5);
  r.sys->at(100'000, [&] { r.vm->stop(); });
  r.sys->run_until(300'000);
  EXPECT_FALSE(r.sys->machine().cpu(1).non_root()) << "kicked out, not resumed";
  EXPECT_FALSE(r.sys->machine().cpu(2).non_root());
  // A KVM_NMI after the end reaches no guest.
  r.sys->at(r.sys->now() + 1, [&] { r.vm->kvm_nmi(0); });
  r.sys->run_until(600'000);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 0u);
  EXPECT_FALSE(r.sys->machine().cpu(1).non_root());
}

std::uint64_t exits(VmRig& r, CpuId host, vmx::BasicExitReason why) {
  return r.sys->machine().vmx(host).stats().exits_for(why);
}

/// The cycle of the first trace line holding `text`, or 0.
Cycle cycle_of_first(const VmRig& r, const std::string& text) {
  for (const auto& l : r.trace.lines()) {
    if (l.find(text) != std::string::npos) return std::stoull(l.substr(l.find('=') + 1));
  }
  return 0;
}

TEST(Vm, AGuestNmiIpiExitsOnTheSenderAndIsInjectedWithItsSourceIntoTheTarget) {
  VmRig r;
  const HandlerId a = r.guest_handler("g_a", 5);
  const HandlerId b = r.guest_handler("g_b", 6);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(a, 1, 1);
    const CpuId dest[] = {1};
    r.guest().send_nmi_ipi(0, dest, 5);
  });
  r.sys->run_until(200'000);
  // The sender's WRMSR to the x2APIC ICR is an MSR-write exit on its host CPU.
  EXPECT_EQ(exits(r, 1, vmx::BasicExitReason::msr_write), 1u);
  EXPECT_EQ(r.vm->counts(0).icr_exits, 1u);
  EXPECT_EQ(r.vm->icr_writes_pending(0), 0u);
  // KVM's emulated APIC queued an NMI for vCPU 1 and kicked its host CPU.
  EXPECT_EQ(r.vm->counts(1).nmi_ipis, 1u);
  EXPECT_EQ(r.vm->counts(1).kicks, 1u);
  EXPECT_EQ(exits(r, 2, vmx::BasicExitReason::external_interrupt), 1u);
  EXPECT_EQ(r.vm->counts(1).nmi_injected, 1u);
  EXPECT_EQ(r.lines_with("cpu=2 nmi_inject vm=g vcpu=1 event_data=0x20"), 1u)
      << "the injected-event data is the source vector's bit";
  EXPECT_EQ(r.guest().registry().handler(a).total.handled, 1u);
  EXPECT_EQ(r.calls(r.guest(), b), 0u) << "the guest's dispatch filters by the event data";
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 0u) << "the sender gets nothing";
  // The host kernel calls no handler for the guest's NMI (the rig registers
  // handlers only in the guest, so the host's registry may well be empty).
  for (HandlerId h = 0; h < r.sys->kernel().registry().handler_count(); ++h)
    EXPECT_EQ(r.calls(r.sys->kernel(), h), 0u) << "host handler " << h;
  // In order: the sender's exit, the emulation, the kick, the target's exit, the injection.
  const TimingProfile& t = r.sys->machine().timing();
  const Cycle injected = cycle_of_first(r, "nmi_inject");
  EXPECT_GE(injected, 10'000 + t.get(TimingParam::vm_exit_msr_write) +
                          t.get(TimingParam::kvm_apic_emulation) +
                          t.get(TimingParam::kvm_kick_ipi) +
                          t.get(TimingParam::vm_exit_external_interrupt));
  EXPECT_TRUE(r.sys->machine().cpu(1).non_root()) << "the sender runs its guest again";
  EXPECT_TRUE(r.sys->machine().cpu(2).non_root());
}

TEST(Vm, EachVcpuCountsItsGuestDispatchAndItsCyclesOutOfTheGuest) {
  // Two guest NMI IPIs from vCPU 0 to vCPU 1 (each an MSR-write exit on host
  // CPU 1, a kick and an external-interrupt exit on host CPU 2, an injection)
  // and a KVM_NMI to vCPU 1. The counts are checked against the trace: the
  // out-of-guest time is each vm_exit to the next vm_entry of that host CPU,
  // the guest's dispatch each delivery on host CPU 2 to its ERETS.
  VmRig r;
  const HandlerId a = r.guest_handler("g_a", 5, /*handle=*/3'000);
  for (Cycle at : {10'000u, 60'000u}) {
    r.sys->at(at, [&] {
      r.guest().registry().add_work(a, 1, 1);
      const CpuId dest[] = {1};
      r.guest().send_nmi_ipi(0, dest, 5);
    });
  }
  r.sys->at(120'000, [&] { r.vm->kvm_nmi(1); });
  r.sys->run_until(300'000);
  ASSERT_EQ(r.vm->counts(1).nmi_delivered, 3u);

  auto cycle_of = [](const std::string& l) { return std::stoull(l.substr(l.find('=') + 1)); };
  Cycle out[3] = {}, dispatch = 0;
  std::optional<Cycle> exit_at[3], deliver_at;
  for (const std::string& l : r.trace.lines()) {
    for (CpuId cpu : {1u, 2u}) {
      const std::string at = fmt::format(" cpu={} ", cpu);
      if (l.find(at + "vm_exit ") != std::string::npos && !exit_at[cpu]) exit_at[cpu] = cycle_of(l);
      if (l.find(at + "vm_entry ") != std::string::npos && exit_at[cpu]) {
        out[cpu] += cycle_of(l) - *exit_at[cpu];
        exit_at[cpu].reset();
      }
    }
    if (l.find(" cpu=2 nmi_deliver ") != std::string::npos) deliver_at = cycle_of(l);
    if (l.find(" cpu=2 nmi_return via=erets") != std::string::npos && deliver_at) {
      dispatch += cycle_of(l) - *deliver_at;
      deliver_at.reset();
    }
  }
  EXPECT_GT(out[1], 0u) << "vCPU 0's two ICR-write exits";
  EXPECT_EQ(r.vm->counts(0).exit_cycles, out[1]);
  EXPECT_EQ(r.vm->counts(1).exit_cycles, out[2]);
  EXPECT_GE(dispatch, 2 * 3'000u) << "the handler's work is inside the guest's dispatch";
  EXPECT_EQ(r.vm->counts(1).dispatch_cycles, dispatch);
  EXPECT_EQ(r.vm->counts(0).dispatch_cycles, 0u) << "the sender took no NMI";
}

TEST(Vm, KvmsInjectionWorkComesBeforeTheVmEntryThatInjects) {
  // kvm_nmi_inject: process_nmi, inject_pending_event and the VMCS writes run
  // before the VMRESUME, so the entry that injects completes kvm_nmi_inject +
  // vm_entry cycles after KVM decided to inject (the nmi_inject record).
  VmRig r;
  TimingProfile& t = r.sys->machine().timing();
  t.set(TimingParam::kvm_nmi_inject, 3'000);
  r.sys->at(10'000, [&] { r.vm->kvm_nmi(0); });
  r.sys->run_until(200'000);
  ASSERT_EQ(r.vm->counts(0).nmi_injected, 1u);
  const Cycle decided = cycle_of_first(r, "nmi_inject vm=g vcpu=0");
  const Cycle entered =
      cycle_of_first(r, "cpu=1 vm_entry instruction=vmresume injected=0x80000202");
  ASSERT_NE(decided, 0u);
  EXPECT_EQ(entered, decided + 3'000 + t.get(TimingParam::vm_entry));
  // An entry that injects nothing takes vm_entry alone: the vCPU's first entry.
  const Cycle first = cycle_of_first(r, "cpu=1 vm_entry instruction=vmlaunch");
  EXPECT_EQ(first, t.get(TimingParam::vm_entry));
}

TEST(Vm, AGuestNmiIpisVectorBeyondTheBitmapIsInjectedAsSourceUnknown) {
  // As the host's latch takes it (docs/hardware.md §2): a vector past the
  // 16-bit bitmap sets bit 0. (It was a shift past 63: undefined.)
  VmRig r;
  const HandlerId a = r.guest_handler("g_a", 5);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(a, 1, 1);
    const CpuId dest[] = {1};
    r.guest().send_nmi_ipi(0, dest, 200);
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.lines_with("nmi_inject vm=g vcpu=1 event_data=0x1"), 1u);
  EXPECT_EQ(r.guest().registry().handler(a).total.handled, 1u) << "bit 0: every handler polled";
}

TEST(Vm, AnXapicGuestsIcrWriteIsAnApicWriteExit) {
  VmRig r(true, true, true, true, apic::ApicMode::xapic);
  const HandlerId a = r.guest_handler("g_a", 5);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(a, 1, 1);
    const CpuId dest[] = {1};
    r.guest().send_nmi_ipi(0, dest, 5);
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(exits(r, 1, vmx::BasicExitReason::msr_write), 0u);
  EXPECT_EQ(exits(r, 1, vmx::BasicExitReason::apic_write), 1u);
  EXPECT_EQ(r.lines_with("cpu=1 vm_exit reason=56 name=apic_write exit_qualification=0x300"), 1u);
  EXPECT_EQ(r.guest().registry().handler(a).total.handled, 1u);
}

TEST(Vm, AGuestBacktraceReachesEveryOtherVcpuThroughKvm) {
  VmRig r;
  r.sys->at(10'000, [&] {
    const CpuId mask[] = {0, 1};
    r.guest().trigger_backtrace(0, mask, false);
  });
  r.sys->run_until(500'000);
  EXPECT_TRUE(console_has(r.guest(), "NMI backtrace for cpu 0")) << "the sender prints its own";
  EXPECT_TRUE(console_has(r.guest(), "NMI backtrace for cpu 1")) << "vCPU 1 through an NMI";
  EXPECT_EQ(r.vm->counts(1).nmi_delivered, 1u);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 0u);
  EXPECT_FALSE(console_has(r.sys->kernel(), "NMI backtrace")) << "the host printed nothing";
}

TEST(Vm, NmisToABusyVcpuCollapseToOnePending) {
  // vCPU 1 is inside a slow handler; three more NMI IPIs come: KVM keeps one
  // pending (the guest blocks NMIs) and the others collapse into it, their
  // sources ORed into the bitmap it injects at the NMI window.
  VmRig r;
  const HandlerId slow = r.guest_handler("g_slow", 5, /*handle=*/300'000);
  const HandlerId c = r.guest_handler("g_c", 6);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(slow, 1, 1);
    r.vm->inject_nmi(1, 1u << 5);
  });
  r.sys->at(60'000, [&] {
    r.guest().registry().add_work(c, 1, 1);
    const CpuId dest[] = {1};
    r.guest().send_nmi_ipi(0, dest, 6);
    r.guest().send_nmi_ipi(0, dest, 6);
    r.guest().send_nmi_ipi(0, dest, 5);
  });
  r.sys->run_until(2'000'000);
  EXPECT_EQ(r.vm->counts(0).icr_exits, 3u) << "one exit per ICR write, in order";
  EXPECT_EQ(r.vm->counts(1).nmi_ipis, 3u);
  EXPECT_EQ(r.vm->nmis(1).stats().queued, 4u);
  EXPECT_EQ(r.vm->counts(1).nmi_injected, 2u) << "one in service, one pending: the rest collapse";
  EXPECT_EQ(r.vm->nmis(1).stats().collapsed, 2u);
  EXPECT_EQ(r.vm->counts(1).nmi_window_exits, 1u);
  EXPECT_EQ(r.lines_with("nmi_inject vm=g vcpu=1 event_data=0x60"), 1u)
      << "the pending bitmap ORs the collapsed NMIs' sources";
  EXPECT_EQ(r.guest().registry().handler(c).total.handled, 1u);
  EXPECT_EQ(r.guest().lost_work(1), 0u);
}

TEST(Vm, TheGuestsPerfPmiComesThroughTheVirtualLvtpcWithVector7) {
  for (const bool source : {true, false}) {
    SCOPED_TRACE(source ? "nmi_source on" : "nmi_source off");
    VmRig r(source);
    const HandlerId dev = r.guest_handler("g_dev", 5);
    r.sys->at(10'000, [&] { r.guest().pmu_overflow(0, 1); });
    r.sys->run_until(300'000);
    EXPECT_EQ(r.vm->counts(0).pmis, 1u);
    EXPECT_EQ(r.vm->counts(0).nmi_delivered, 1u);
    EXPECT_EQ(r.lines_with(source ? "nmi_inject vm=g vcpu=0 event_data=0x80"
                                  : "nmi_inject vm=g vcpu=0 event_data=0x0"),
              1u);
    EXPECT_EQ(r.calls(r.guest(), dev), source ? 0u : 1u) << "bit 7 alone skips the device";
    EXPECT_EQ(r.guest().cpu_state(0).stats.normal, 1u) << "perf handled it";
    EXPECT_EQ(r.vm->apic(0).lvtpc & apic::APIC_LVT_MASKED, 0u) << "perf unmasked LVTPC";
  }
}

TEST(Vm, AGuestCountersOverflowIsAHostPmiAnNmiExitAndHostPerfBeforeTheGuestsNmi) {
  // Without the mediated PMU the guest's counter is KVM's perf event on the
  // host: its overflow raises the host's PMI on host CPU 1, an NMI-induced
  // exit (qualification: the host's bitmap, VECTOR_PMI); the host's perf
  // handler (registered by the host kernel, as Linux always has it) claims
  // the counter and hands it to kvm_perf_overflow; the VM entry after the
  // host's NMI handling delivers the guest's PMI through the emulated LVTPC.
  VmRig r;
  r.sys->at(10'000, [&] { r.guest().pmu_overflow(0, 1); });
  r.sys->run_until(300'000);
  EXPECT_EQ(exits(r, 1, vmx::BasicExitReason::exception_or_nmi), 1u) << "the host PMI";
  EXPECT_EQ(exits(r, 1, vmx::BasicExitReason::external_interrupt), 0u) << "no kick";
  EXPECT_EQ(r.vm->counts(0).kicks, 0u);
  EXPECT_EQ(r.lines_with("cpu=1 vm_exit reason=0 name=nmi exit_qualification=0x80"), 1u)
      << "the host's NMI-source bitmap: its LVTPC's VECTOR_PMI";
  const HandlerId perf = r.sys->kernel().registry().find_handler("PMI");
  ASSERT_NE(perf, kNoHandler) << "the host kernel has perf's NMI handler";
  EXPECT_EQ(r.sys->kernel().registry().handler(perf).per_cpu[1].calls, 1u);
  EXPECT_EQ(r.sys->kernel().registry().handler(perf).per_cpu[1].handled, 1u);
  EXPECT_EQ(r.sys->kernel().cpu_state(1).stats.unknown, 0u);
  EXPECT_EQ(r.sys->machine().cpu(1).perf_global_status(), 0u) << "host perf cleared it";
  // The guest's NMI is injected only after the host's NMI exit.
  const Cycle exit = cycle_of_first(r, "cpu=1 vm_exit reason=0");
  const Cycle inject = cycle_of_first(r, "nmi_inject vm=g vcpu=0 event_data=0x80");
  ASSERT_NE(inject, 0u);
  EXPECT_GT(inject, exit);
  EXPECT_EQ(r.vm->counts(0).nmi_delivered, 1u);
  EXPECT_EQ(r.guest().cpu_state(0).stats.normal, 1u) << "the guest's perf read KVM's status";
  EXPECT_EQ(r.vm->perf_global_status(0), 0u) << "and cleared it";
}

}  // namespace
}  // namespace fredsim::kernel

namespace fredsim::kernel {
namespace {

// --- The guest's fixed-vector IPIs: KVM's emulated APIC, kick, injection ------

constexpr std::uint8_t kRebootVector = 0xf8;  // arch/x86/include/asm/irq_vectors.h

TEST(VmFixedIpi, AGuestStopStopsItsOtherVcpusWithTheRebootVectorThroughKvm) {
  // native_stop_other_cpus in the guest: the REBOOT_VECTOR IPI to all but
  // self is an MSR-write exit; KVM's emulated APIC puts the vector in the IRR
  // of vCPUs 1 and 2 and kicks them; each exits (external interrupt), KVM
  // injects the interrupt at the entry, sysvec_reboot stops the vCPU. No NMI.
  VmRig r(true, true, true, true, apic::ApicMode::x2apic, /*vcpus=*/3);
  r.sys->at(50'000, [&] { r.guest().stop_other_cpus(0); });
  r.sys->run_until(3'000'000);
  EXPECT_EQ(r.guest().stop_phase(), StopPhase::done);
  for (CpuId i : {1u, 2u}) {
    EXPECT_EQ(r.vm->counts(i).fixed_ipis, 1u) << "vCPU " << i;
    EXPECT_EQ(r.vm->counts(i).irqs_injected, 1u) << "vCPU " << i;
    EXPECT_TRUE(r.guest().cpu_state(i).halted) << "vCPU " << i << " is in its HLT loop";
    EXPECT_FALSE(r.vm->apic(i).enabled()) << "stop_this_cpu disabled its emulated APIC";
    EXPECT_EQ(exits(r, r.vm->host_cpu(i), vmx::BasicExitReason::external_interrupt), 1u);
    EXPECT_EQ(r.lines_with("irq_inject vm=g vcpu=" + std::to_string(i) + " vector=248"), 1u);
    EXPECT_EQ(r.vm->counts(i).nmi_delivered, 0u) << "the IRQ sufficed";
  }
  EXPECT_FALSE(r.guest().cpu_state(0).halted) << "the stopper runs on";
  EXPECT_FALSE(r.vm->apic(0).enabled()) << "and disables its own APIC at the end";
  EXPECT_FALSE(console_has(r.guest(), "Shutting down cpus with NMI"));
  // The host is untouched: its CPUs run, their APICs stay enabled.
  for (CpuId h = 0; h < 4; ++h) {
    EXPECT_FALSE(r.sys->kernel().cpu_state(h).halted) << "host CPU " << h;
    EXPECT_NE(r.sys->machine().apic_read(h, apic::APIC_SPIV) & apic::APIC_SPIV_APIC_ENABLED, 0u);
  }
  EXPECT_EQ(r.sys->kernel().stop_phase(), StopPhase::none);
  EXPECT_TRUE(r.sys->machine().cpu(2).non_root()) << "a stopped vCPU still runs its guest (HLT)";
}

TEST(VmFixedIpi, AVcpuInItsNmiHandlerTakesTheInterruptAtTheInterruptWindow) {
  // vCPU 1 is inside a long guest NMI handler when the REBOOT_VECTOR comes:
  // KVM cannot inject it (virtual-NMI blocking), asks for the interrupt
  // window (enable_irq_window), and the exit comes when the handler's ERETS
  // has set IF again; that exit's entry injects the interrupt. No NMI fallback.
  VmRig r;
  const HandlerId slow = r.guest_handler("g_slow", 5, /*handle=*/200'000);
  r.sys->at(10'000, [&] {
    r.guest().registry().add_work(slow, 1, 1);
    r.vm->inject_nmi(1, 1u << 5);
  });
  r.sys->at(50'000, [&] { r.guest().stop_other_cpus(0); });
  r.sys->run_until(3'000'000);
  EXPECT_EQ(r.vm->counts(1).irq_window_exits, 1u);
  EXPECT_EQ(exits(r, 2, vmx::BasicExitReason::interrupt_window), 1u);
  EXPECT_EQ(r.lines_with("cpu=2 vm_exit reason=7 name=interrupt_window"), 1u);
  EXPECT_EQ(r.vm->counts(1).irqs_injected, 1u);
  EXPECT_TRUE(r.guest().cpu_state(1).halted);
  EXPECT_EQ(r.guest().registry().handler(slow).total.handled, 1u) << "the handler ended first";
  EXPECT_EQ(r.guest().stop_phase(), StopPhase::done);
  EXPECT_FALSE(console_has(r.guest(), "Shutting down cpus with NMI"));
  // The interrupt came after the handler: its irq_inject follows the window exit.
  EXPECT_GT(cycle_of_first(r, "irq_inject vm=g vcpu=1"),
            cycle_of_first(r, "cpu=2 vm_exit reason=7"));
}

TEST(VmFixedIpi, AGuestPanicStopsTheOtherVcpusAndHaltsOnlyTheGuest) {
  // A KVM_NMI no guest handler claims, with unknown_nmi_panic: the guest
  // panics on vCPU 0 and smp_send_stop stops vCPU 1 through the REBOOT_VECTOR.
  VmRig r(true, true, true, true, apic::ApicMode::x2apic, 2, /*guest_unknown_nmi_panic=*/true);
  r.sys->at(10'000, [&] { r.vm->kvm_nmi(0); });
  r.sys->run_until(3'000'000);
  EXPECT_TRUE(r.guest().panicked());
  EXPECT_TRUE(console_has(r.guest(), "end Kernel panic - not syncing: NMI: Not continuing"));
  EXPECT_TRUE(r.guest().cpu_state(1).halted);
  EXPECT_EQ(r.vm->counts(1).irqs_injected, 1u);
  EXPECT_FALSE(r.sys->kernel().panicked()) << "the host goes on";
  EXPECT_FALSE(r.sys->kernel().cpu_state(2).halted);
}

TEST(VmFixedIpi, AnOtherVectorIsEndedAndTheVcpuRunsOn) {
  VmRig r;
  r.sys->at(10'000, [&] {
    r.vm->write_icr(0, apic::IcrValue{}
                           .with_delivery_mode(apic::DeliveryMode::fixed)
                           .with_vector(0x40)
                           .with_destination(1));
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(1).irqs_injected, 1u);
  EXPECT_EQ(r.lines_with("irq_inject vm=g vcpu=1 vector=64"), 1u);
  EXPECT_FALSE(r.guest().cpu_state(1).halted);
  EXPECT_TRUE(r.sys->machine().cpu(2).interrupt_flag()) << "EOI, and IF is back on";
  EXPECT_EQ(r.vm->counts(0).irqs_injected, 0u);
}

TEST(VmFixedIpi, X2apicLogicalDestinationsMatchTheDerivedLdr) {
  // Cluster 0, mask bit 1: vCPU 1 only (SDM Vol. 3A "Logical Destination Mode
  // in x2APIC Mode").
  VmRig r(true, true, true, true, apic::ApicMode::x2apic, 3);
  r.sys->at(10'000, [&] {
    r.vm->write_icr(0, apic::IcrValue{}
                           .with_delivery_mode(apic::DeliveryMode::fixed)
                           .with_dest_mode(apic::DestMode::logical)
                           .with_vector(0x40)
                           .with_destination(0x0000'0002));
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(1).fixed_ipis, 1u);
  EXPECT_EQ(r.vm->counts(2).fixed_ipis, 0u);
  EXPECT_EQ(r.vm->counts(0).fixed_ipis, 0u);
}

TEST(VmFixedIpi, XapicLogicalDestinationsAndOtherModesAreRefusedWithAMessage) {
  VmRig r(true, true, true, true, apic::ApicMode::xapic);
  r.sys->at(10'000, [&] {
    r.vm->write_icr(0, apic::IcrValue{}
                           .with_delivery_mode(apic::DeliveryMode::fixed)
                           .with_dest_mode(apic::DestMode::logical)
                           .with_vector(0x40)
                           .with_destination(0x02));
    r.vm->write_icr(0, apic::IcrValue{}
                           .with_delivery_mode(apic::DeliveryMode::lowest_priority)
                           .with_vector(0x40)
                           .with_destination(1));
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(1).fixed_ipis, 0u);
  EXPECT_TRUE(console_has(r.guest(), "KVM: xAPIC logical destination not modelled"));
  EXPECT_TRUE(console_has(r.guest(), "IPI not modelled: dropped"));
}

TEST(VmFixedIpi, ASoftwareDisabledEmulatedApicAcceptsNoFixedInterrupt) {
  VmRig r;
  r.sys->at(10'000, [&] {
    r.vm->apic_write(1, apic::APIC_SPIV, 0xff);  // enable bit clear
    r.vm->write_icr(0, apic::IcrValue{}
                           .with_delivery_mode(apic::DeliveryMode::fixed)
                           .with_vector(kRebootVector)
                           .with_destination(1));
  });
  r.sys->run_until(200'000);
  EXPECT_EQ(r.vm->counts(1).fixed_ipis, 0u);
  EXPECT_EQ(r.vm->counts(1).kicks, 0u);
  EXPECT_FALSE(r.guest().cpu_state(1).halted);
}

}  // namespace
}  // namespace fredsim::kernel
