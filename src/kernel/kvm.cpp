#include "fredsim/kernel/kvm.hpp"

#include <fmt/format.h>

#include "fredsim/vmx.hpp"

namespace fredsim::kernel {

namespace {
// A symbolic guest context: the guest kernel's idle loop and stack.
constexpr std::uint64_t kGuestRip = 0xFFFFFFFF82000000ull;
constexpr std::uint64_t kGuestRsp = 0xFFFFC90001004000ull;
}  // namespace

Kvm::Kvm(machine::Machine& machine, Kernel& kernel)
    : machine_(machine), kernel_(kernel), vcpus_(machine.cpu_count()) {}

bool Kvm::guest_running(CpuId cpu) const {
  return vcpus_[cpu].active && machine_.cpu(cpu).non_root();
}

Status Kvm::run_guest(CpuId cpu, bool nmi_exiting, bool guest_nmi_source) {
  Vcpu& v = vcpus_[cpu];
  vmx::VmxCpu& vcpu = machine_.vmx(cpu);
  vcpu.set_exit_handler(this);
  vcpu.set_guest_os(this);
  v.stop = false;
  v.guest_nmi_source = guest_nmi_source;
  vcpu.vmcs().vmwrite(vmx::field::kPinControls,
                      vmx::PinControls{}.set_nmi_exiting(nmi_exiting).encode());
  // The guest runs a kernel like the host's: the same FRED setup, its own RIP/RSP.
  cpu::ArchState guest = machine_.cpu(cpu).save_state();
  guest.rip = kGuestRip;
  guest.rsp = kGuestRsp;
  guest.nmi_blocked = false;
  vcpu.write_guest_state(guest);
  const vmx::VmxResult r = v.active ? vcpu.vm_resume() : vcpu.vm_enter();
  if (r.status != vmx::VmxStatus::succeed) {
    return Error{fmt::format("VM entry on CPU {} failed (VM-instruction error {})", cpu,
                             static_cast<unsigned>(r.error))};
  }
  v.active = true;
  return {};
}

void Kvm::stop_guest(CpuId cpu) {
  vcpus_[cpu].stop = true;
}

void Kvm::on_vm_exit(vmx::VmxCpu& vcpu, const vmx::ExitInfo& exit) {
  const CpuId cpu = vcpu.cpu().id();
  const bool nmi =
      exit.reason.basic() == static_cast<std::uint16_t>(vmx::BasicExitReason::exception_or_nmi) &&
      exit.intr_info.valid() && exit.intr_info.type() == cpu::EventType::nmi;
  if (!nmi) {
    resume(vcpu);
    return;
  }
  // vmx_handle_nmi(): the host's NMI entry with event data = the exit
  // qualification, read unconditionally; ERETS unblocks NMIs; then VMRESUME.
  const std::uint64_t qualification = exit.qualification;
  kernel_.kvm_handle_nmi_exit(cpu, qualification, exit.exited_at,
                              machine_.timing().get(TimingParam::vm_entry),
                              // Two words: std::function keeps it without allocating.
                              [this, cpu] {
                                vmx::VmxCpu& vc = machine_.vmx(cpu);
                                const std::uint64_t bitmap = vc.last_exit().qualification;
                                const Vcpu& v = vcpus_[cpu];
                                if (v.guest_nmi_source && !v.stop && bitmap != 0) {
                                  vc.inject_nmi(bitmap);
                                }
                                resume(vc);
                              });
}

void Kvm::resume(vmx::VmxCpu& vcpu) {
  Vcpu& v = vcpus_[vcpu.cpu().id()];
  if (v.stop) {
    // The vCPU thread leaves the guest: the CPU goes back to the host's idle loop.
    v.active = false;
    vcpu.cpu().begin_transition();
    vcpu.cpu().end_transition();
    return;
  }
  const vmx::VmxResult r = vcpu.vm_resume();
  if (r.status != vmx::VmxStatus::succeed) {
    kernel_.console().printk(vcpu.cpu().id(),
                             fmt::format("KVM: VMRESUME failed (VM-instruction error {})",
                                         static_cast<unsigned>(r.error)));
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
