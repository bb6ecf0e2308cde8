#include "fredsim/kernel/kvm.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/kernel/vm.hpp"
#include "fredsim/vmx.hpp"

namespace fredsim::kernel {

namespace {
// A symbolic guest context: the guest kernel's idle loop and stack.
constexpr std::uint64_t kGuestRip = 0xFFFFFFFF82000000ull;
constexpr std::uint64_t kGuestRsp = 0xFFFFC90001004000ull;

/// The console text of a VM entry that did not succeed (VMLAUNCH/VMRESUME):
/// the VM-instruction error of a VMfailValid, or the exit reason of a VM-entry
/// failure, each with what failed.
std::string entry_failure_text(const vmx::VmxCpu& vcpu, const vmx::VmxResult& r) {
  switch (r.status) {
    case vmx::VmxStatus::fail_valid:
      return fmt::format("VM-instruction error {} ({})", static_cast<unsigned>(r.error),
                         vcpu.last_entry_failure());
    case vmx::VmxStatus::entry_failure:
      return fmt::format("VM-entry failure, exit reason {:#x} (invalid guest state: {})",
                         vcpu.vmcs().get(vmx::field::kExitReason), vcpu.last_entry_failure());
    case vmx::VmxStatus::fail_invalid:
      return "VMfailInvalid (no current VMCS)";
    case vmx::VmxStatus::fault:
      return fmt::format("the instruction faulted ({})", cpu::fault_name(r.fault));
    case vmx::VmxStatus::succeed:
      break;
  }
  return "succeeded";
}
}  // namespace

Kvm::Kvm(machine::Machine& machine, Kernel& kernel)
    : machine_(machine), kernel_(kernel), vcpus_(machine.cpu_count()) {
  kernel_.set_perf_overflow_sink(this);
}

void Kvm::perf_overflow(CpuId host_cpu, std::uint64_t counters) {
  if (Vcpu& v = vcpus_[host_cpu]; v.vm != nullptr) v.vm->kvm_perf_overflow(v.vm_vcpu, counters);
}

bool Kvm::guest_running(CpuId cpu) const {
  return vcpus_[cpu].active && machine_.cpu(cpu).non_root();
}

Status Kvm::run_guest(CpuId cpu, bool nmi_exiting, const GuestControls& c) {
  Vcpu& v = vcpus_[cpu];
  vmx::VmxCpu& vcpu = machine_.vmx(cpu);
  vcpu.set_exit_handler(this);
  vcpu.set_guest_os(this);
  v.stop = false;
  v.vm = nullptr;
  // VMWRITEs of control and guest-state fields the model has: they cannot fail.
  vmx::Vmcs& f = vcpu.vmcs();
  // KVM sets "virtual NMIs" when the CPU has it (arch/x86/kvm/vmx/vmx.c
  // setup_vmcs_config, vmx_pin_based_exec_ctrl); the model's processor has it.
  const bool virtual_nmis = c.virtual_nmis.value_or(nmi_exiting);
  (void)f.vmwrite(
      vmx::field::kPinControls,
      vmx::PinControls{}.set_nmi_exiting(nmi_exiting).set_virtual_nmis(virtual_nmis).encode());
  (void)f.vmwrite(vmx::field::kPrimaryProcControls,
                  vmx::ProcControls{}.set_nmi_window_exiting(c.nmi_window_exiting).encode());
  // The guest runs a kernel like the host's: the same FRED setup, its own RIP/RSP.
  cpu::ArchState guest = machine_.cpu(cpu).save_state();
  guest.rip = kGuestRip;
  guest.rsp = kGuestRsp;
  guest.nmi_blocked = c.blocking_by_nmi;
  guest.halted = c.hlt;
  vcpu.write_guest_state(guest);
  (void)f.vmwrite(vmx::field::kGuestInterruptibility,
                  vmx::Interruptibility{}
                      .set_blocking_by_sti(c.blocking_by_sti)
                      .set_blocking_by_mov_ss(c.blocking_by_mov_ss)
                      .set_blocking_by_nmi(c.blocking_by_nmi)
                      .encode());
  // VM-entry interruption information: an injected NMI, or nothing.
  vmx::IntrInfo inject;
  if (c.inject_nmi_vector) inject = vmx::IntrInfo::nmi().set_vector(*c.inject_nmi_vector);
  (void)f.vmwrite(vmx::field::kEntryIntrInfo, inject.encode());
  (void)f.vmwrite(vmx::field::kInjectedEventData, 0);
  // KVM requests the NMI window for an NMI it holds (enable_nmi_window()).
  v.nmi_queued = c.nmi_window_exiting;
  v.queued_event_data = 0;
  const vmx::VmxResult r = v.active ? vcpu.vm_resume() : vcpu.vm_enter();
  if (r.status != vmx::VmxStatus::succeed) {
    return Error{fmt::format("VM entry on CPU {} failed: {}", cpu, entry_failure_text(vcpu, r))};
  }
  v.active = true;
  return {};
}

void Kvm::request_guest(CpuId cpu, bool nmi_exiting, const GuestControls& controls) {
  Vcpu& v = vcpus_[cpu];
  v.entry_requested = true;
  v.req_nmi_exiting = nmi_exiting;
  v.req_controls = controls;
  kernel_.in_process_context(cpu, [this, cpu] {
    Vcpu& w = vcpus_[cpu];
    if (!w.entry_requested) return;
    w.entry_requested = false;
    if (Status st = run_guest(cpu, w.req_nmi_exiting, w.req_controls); !st.ok()) {
      kernel_.console().printk(cpu, "KVM: " + st.error().message);
    }
  });
}

void Kvm::request_vm_entry(Vm& vm, CpuId i) {
  const CpuId cpu = vm.host_cpu(i);
  Vcpu& v = vcpus_[cpu];
  v.entry_requested = true;
  v.vm = &vm;
  v.vm_vcpu = i;
  v.reinject = false;
  kernel_.in_process_context(cpu, [this, cpu] {
    Vcpu& w = vcpus_[cpu];
    if (!w.entry_requested) return;
    w.entry_requested = false;
    if (Status st = enter_vm(cpu); !st.ok()) {
      kernel_.console().printk(cpu, "KVM: " + st.error().message);
    }
  });
}

Status Kvm::enter_vm(CpuId cpu) {
  Vcpu& v = vcpus_[cpu];
  Vm& vm = *v.vm;
  const VmConfig& vc = vm.config();
  vmx::VmxCpu& vcpu = machine_.vmx(cpu);
  vcpu.set_exit_handler(this);
  vcpu.set_guest_os(&vm);
  v.stop = false;
  v.nmi_queued = false;
  v.irq = -1;
  vmx::Vmcs& f = vcpu.vmcs();
  const bool virtual_nmis = vc.virtual_nmis.value_or(vc.nmi_exiting);
  (void)f.vmwrite(
      vmx::field::kPinControls,
      vmx::PinControls{}.set_nmi_exiting(vc.nmi_exiting).set_virtual_nmis(virtual_nmis).encode());
  (void)f.vmwrite(vmx::field::kPrimaryProcControls, vmx::ProcControls{}.encode());
  // The guest's registers before its kernel has set anything up: no FRED yet
  // (the guest kernel enables it when it boots the vCPU, after this entry).
  cpu::ArchState guest = machine_.cpu(cpu).save_state();
  guest.rip = kGuestRip;
  guest.rsp = kGuestRsp;
  guest.cr4 &= ~cpu::arch::kCr4Fred;
  guest.config = cpu::FredConfig{};
  guest.csl = 0;
  guest.stklvls = cpu::FredStklvls{};
  guest.nmi_blocked = false;
  guest.halted = false;
  vcpu.write_guest_state(guest);
  if (machine_.cpu(cpu).features().fred) {
    // KVM switches the FRED state at every entry and exit of a guest whose
    // CPUID has FRED (arch/x86/kvm/vmx/vmx.c: VM_ENTRY_LOAD_IA32_FRED,
    // SECONDARY_VM_EXIT_SAVE_IA32_FRED / _LOAD_IA32_FRED), whatever CR4.FRED is.
    (void)f.vmwrite(vmx::field::kEntryControls,
                    vmx::EntryControls::decode(f.get(vmx::field::kEntryControls))
                        .set_load_guest_fred(true)
                        .encode());
    (void)f.vmwrite(vmx::field::kPrimaryExitControls,
                    vmx::PrimaryExitControls::decode(f.get(vmx::field::kPrimaryExitControls))
                        .set_activate_secondary(true)
                        .encode());
    (void)f.vmwrite(vmx::field::kSecondaryExitControls,
                    vmx::SecondaryExitControls::decode(f.get(vmx::field::kSecondaryExitControls))
                        .set_save_guest_fred(true)
                        .set_load_host_fred(true)
                        .encode());
  }
  (void)f.vmwrite(vmx::field::kGuestInterruptibility, vmx::Interruptibility{}.encode());
  (void)f.vmwrite(vmx::field::kEntryIntrInfo, vmx::IntrInfo{}.encode());
  (void)f.vmwrite(vmx::field::kInjectedEventData, 0);
  const Cycle work = prepare_vm_entry(vcpu, v);
  const vmx::VmxResult r = f.launched() ? vcpu.vm_resume(work) : vcpu.vm_enter(work);
  if (r.status != vmx::VmxStatus::succeed) {
    return Error{fmt::format("VM entry of {} vCPU {} on CPU {} failed: {}", vm.name(), v.vm_vcpu,
                             cpu, entry_failure_text(vcpu, r))};
  }
  v.active = true;
  vm.boot_vcpu(v.vm_vcpu);
  return {};
}

Cycle Kvm::prepare_vm_entry(vmx::VmxCpu& vcpu, Vcpu& v) {
  Vm& vm = *v.vm;
  const CpuId i = v.vm_vcpu;
  VirtualNmiQueue& q = vm.nmis(i);
  vmx::Vmcs& f = vcpu.vmcs();
  // vcpu_enter_guest(): KVM_REQ_PMI (kvm_pmu_deliver_pmi) before the NMI is
  // processed: the guest's PMI goes in with this entry.
  vm.deliver_pmi(i);
  // vmx_nmi_blocked(): virtual-NMI blocking or MOV SS blocking as saved at the
  // exit; an NMI cannot be injected then (the entry would fail: SDM Vol. 3C
  // "Checks on Guest Non-Register State").
  const vmx::Interruptibility intr =
      vmx::Interruptibility::decode(f.get(vmx::field::kGuestInterruptibility));
  const bool blocked = intr.blocking_by_nmi() || intr.blocking_by_mov_ss();
  VirtualNmiEntry e;
  std::uint64_t data = 0;
  bool inject = false;
  if (v.reinject) {
    // vmx_complete_interrupts(): the NMI an exit interrupted during its
    // injection (IDT-vectoring information) is injected again, with the same
    // event data; with it in flight, at most one more stays pending.
    v.reinject = false;
    e = q.before_entry(true, vm.config().nmi_source);
    inject = true;
    data = v.reinject_data;
  } else {
    e = q.before_entry(blocked, vm.config().nmi_source);
    inject = e.inject;
    data = e.event_data;
    if (inject) {
      ++vm.counts(i).nmi_injected;
      if (machine_.tracer().enabled()) {
        machine_.tracer().emit(machine_.now(), vcpu.cpu().id(), "nmi_inject",
                               {{"vm", TraceValue::str(vm.name())},
                                {"vcpu", TraceValue::dec(i)},
                                {"event_data", TraceValue::hex(data)}});
      }
    }
  }
  // vmx_inject_nmi(): VM-entry interruption information NMI, vector 2, and
  // the injected-event data 0x2052 (the pending virtual source bitmap).
  if (inject) vcpu.inject_nmi(data);
  // enable_nmi_window(): an NMI still pending waits for the guest to unblock NMIs.
  (void)f.vmwrite(vmx::field::kPrimaryProcControls,
                  vmx::ProcControls::decode(f.get(vmx::field::kPrimaryProcControls))
                      .set_nmi_window_exiting(e.nmi_window)
                      .encode());
  if (inject) return machine_.timing().get(TimingParam::kvm_nmi_inject);
  // inject_pending_event(), after the NMI: a fixed interrupt of the emulated
  // APIC when vmx_interrupt_allowed(): guest RFLAGS.IF, no blocking by STI or
  // MOV SS; nor inside the guest's NMI handler (virtual-NMI blocking), where
  // the model's guest kernel, like the host CPU model, takes no interrupt.
  // The guest then takes it at its first instruction after the entry
  // (interrupt_entered). One that cannot go in waits in the IRR for the
  // interrupt-window exit below.
  const bool if_set = (f.get(vmx::field::kGuestRflags) & cpu::arch::kRflagsIf) != 0;
  const bool halted = f.get(vmx::field::kGuestActivityState) != 0;
  // An interrupt injected at an entry that exited before the guest took it
  // (a kick at the entry's end) goes in again (vmx_complete_interrupts).
  const bool allowed = if_set && !halted && !blocked && !intr.blocking_by_sti();
  if (v.irq < 0 && allowed) {
    v.irq = vm.take_irr(i);
    if (v.irq >= 0) {
      if (machine_.tracer().enabled()) {
        machine_.tracer().emit(machine_.now(), vcpu.cpu().id(), "irq_inject",
                               {{"vm", TraceValue::str(vm.name())},
                                {"vcpu", TraceValue::dec(i)},
                                {"vector", TraceValue::dec(static_cast<std::uint32_t>(v.irq))}});
      }
    }
  }
  // enable_irq_window(): an interrupt that cannot go in now asks for the
  // interrupt-window exit, which comes when the guest can take it (RFLAGS.IF
  // set, e.g. at the ERETS of its NMI handler); its entry injects it.
  const bool window = v.irq < 0 && vm.irr_pending(i);
  (void)f.vmwrite(vmx::field::kPrimaryProcControls,
                  vmx::ProcControls::decode(f.get(vmx::field::kPrimaryProcControls))
                      .set_interrupt_window_exiting(window)
                      .encode());
  return v.irq >= 0 ? machine_.timing().get(TimingParam::kvm_irq_inject) : 0;
}

void Kvm::kick(CpuId cpu) {
  if (machine_.has_vmx(cpu) && machine_.cpu(cpu).non_root()) machine_.vmx(cpu).kick();
}

void Kvm::resume_vcpu(CpuId cpu) {
  resume(machine_.vmx(cpu));
}

void Kvm::on_vm_entry(vmx::VmxCpu& vcpu) {
  Vcpu& v = vcpus_[vcpu.cpu().id()];
  if (v.vm != nullptr && v.out) {
    v.vm->counts(v.vm_vcpu).exit_cycles += machine_.now() - v.out_since;
    v.out = false;
  }
  // The guest kernel's work that fell due while the vCPU was out goes on.
  if (v.vm != nullptr && v.active) v.vm->vcpu_entered(v.vm_vcpu);
  // The fixed interrupt this entry injected: the guest takes it now.
  if (v.vm != nullptr && v.irq >= 0) {
    const auto vector = static_cast<std::uint8_t>(std::exchange(v.irq, -1));
    v.vm->interrupt_entered(v.vm_vcpu, vector);
  }
}

void Kvm::stop_guest(CpuId cpu) {
  vcpus_[cpu].stop = true;
  vcpus_[cpu].entry_requested = false;
}

void Kvm::on_vm_exit(vmx::VmxCpu& vcpu, const vmx::ExitInfo& exit) {
  const CpuId cpu = vcpu.cpu().id();
  const bool window =
      exit.reason.basic() == static_cast<std::uint16_t>(vmx::BasicExitReason::nmi_window);
  if (Vcpu& v = vcpus_[cpu]; v.vm != nullptr) {
    if (!v.out) {
      v.out = true;
      v.out_since = exit.exited_at;
    }
    // vmx_complete_interrupts(): an injected NMI the exit did not interrupt
    // has been delivered; one it interrupted is injected again.
    v.vm->nmis(v.vm_vcpu).after_exit();
    if (exit.idt_vectoring.valid() && exit.idt_vectoring.type() == cpu::EventType::nmi) {
      v.reinject = true;
      v.reinject_data = exit.original_event_data;
    }
    const auto basic = static_cast<vmx::BasicExitReason>(exit.reason.basic());
    if (basic == vmx::BasicExitReason::msr_write || basic == vmx::BasicExitReason::apic_write) {
      // handle_wrmsr -> kvm_x2apic_icr_write, or handle_apic_write ->
      // kvm_apic_write_nodecode: the emulated APIC sends the IPI, then KVM
      // enters again (Vm::icr_exit, resume_vcpu()).
      v.vm->icr_exit(v.vm_vcpu);
      return;
    }
    if (window) {
      // handle_nmi_window(): the window is open; the entry injects the pending NMI.
      ++v.vm->counts(v.vm_vcpu).nmi_window_exits;
      resume(vcpu);
      return;
    }
    if (basic == vmx::BasicExitReason::interrupt_window) {
      // handle_interrupt_window(): the entry injects the waiting interrupt.
      ++v.vm->counts(v.vm_vcpu).irq_window_exits;
      resume(vcpu);
      return;
    }
  } else if (window) {
    handle_nmi_window(vcpu);
    return;
  }
  const bool nmi =
      exit.reason.basic() == static_cast<std::uint16_t>(vmx::BasicExitReason::exception_or_nmi) &&
      exit.intr_info.valid() && exit.intr_info.type() == cpu::EventType::nmi;
  if (!nmi) {
    resume(vcpu);
    return;
  }
  // vmx_handle_nmi(): the host's NMI entry with event data = the exit
  // qualification, read unconditionally; ERETS unblocks NMIs; then VMRESUME.
  // The NMI was the host's: nothing of it goes to the guest.
  const std::uint64_t qualification = exit.qualification;
  kernel_.kvm_handle_nmi_exit(cpu, qualification, exit.exited_at,
                              machine_.timing().get(TimingParam::vm_entry),
                              // Two words: std::function keeps it without allocating.
                              [this, cpu] { resume(machine_.vmx(cpu)); });
}

void Kvm::queue_guest_nmi(vmx::VmxCpu& vcpu, std::uint64_t event_data) {
  // vmx_nmi_blocked() / enable_nmi_window(): with virtual NMIs, a guest that
  // blocks NMIs (virtual-NMI blocking or MOV SS as saved at the exit) cannot take
  // an injected NMI (the entry would fail: SDM Vol. 3C "Checks on Guest
  // Non-Register State"), so KVM asks for the NMI window and holds it.
  const vmx::Interruptibility intr = vcpu.last_exit().guest_interruptibility;
  const vmx::PinControls pin = vmx::PinControls::decode(vcpu.vmcs().get(vmx::field::kPinControls));
  if (pin.virtual_nmis() && (intr.blocking_by_nmi() || intr.blocking_by_mov_ss())) {
    Vcpu& v = vcpus_[vcpu.cpu().id()];
    v.nmi_queued = true;
    v.queued_event_data = event_data;
    (void)vcpu.vmcs().vmwrite(
        vmx::field::kPrimaryProcControls,
        vmx::ProcControls::decode(vcpu.vmcs().get(vmx::field::kPrimaryProcControls))
            .set_nmi_window_exiting(true)
            .encode());
    return;
  }
  vcpu.inject_nmi(event_data);
}

void Kvm::handle_nmi_window(vmx::VmxCpu& vcpu) {
  // handle_nmi_window(): clear the control; the held NMI is injected with the
  // next entry (inject_pending_event() -> vmx_inject_nmi()).
  Vcpu& v = vcpus_[vcpu.cpu().id()];
  (void)vcpu.vmcs().vmwrite(
      vmx::field::kPrimaryProcControls,
      vmx::ProcControls::decode(vcpu.vmcs().get(vmx::field::kPrimaryProcControls))
          .set_nmi_window_exiting(false)
          .encode());
  const bool inject = v.nmi_queued && !v.stop;
  if (inject) vcpu.inject_nmi(v.queued_event_data);
  v.nmi_queued = false;
  v.queued_event_data = 0;
  // The injection's work (process_nmi, inject_pending_event, the VMCS writes)
  // comes before the VMRESUME: kvm_nmi_inject cycles.
  resume(vcpu, inject ? machine_.timing().get(TimingParam::kvm_nmi_inject) : 0);
}

void Kvm::resume(vmx::VmxCpu& vcpu, Cycle work) {
  Vcpu& v = vcpus_[vcpu.cpu().id()];
  if (v.stop) {
    // The vCPU thread leaves the guest: the CPU goes back to the host's idle loop.
    v.active = false;
    v.irq = -1;
    if (v.vm != nullptr) v.vm->nmis(v.vm_vcpu).clear();
    vcpu.cpu().begin_transition();
    vcpu.cpu().end_transition();
    return;
  }
  if (v.vm != nullptr) work += prepare_vm_entry(vcpu, v);
  const vmx::VmxResult r = vcpu.vm_resume(work);
  if (r.status != vmx::VmxStatus::succeed) {
    kernel_.console().printk(vcpu.cpu().id(),
                             fmt::format("KVM: VMRESUME failed: {}", entry_failure_text(vcpu, r)));
  }
}

void Kvm::on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) {
  // The guest kernel's NMI entry: count, remember the event data, return.
  Vcpu& v = vcpus_[cpu.id()];
  if (d.event.type == cpu::EventType::nmi) {
    ++v.guest.nmis;
    v.guest.last_event_data = d.event.event_data;
    v.guest.event_data_or |= d.event.event_data;
  }
  if (d.path == cpu::DeliveryPath::idt) {
    cpu.iret();
  } else if (d.from_cpl == 3) {
    cpu.eretu();
  } else {
    cpu.erets();
  }
}

}  // namespace fredsim::kernel
