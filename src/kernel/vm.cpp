// A VM with a guest kernel of its own (include/fredsim/kernel/vm.hpp).
#include "fredsim/kernel/vm.hpp"

#include <cassert>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/kernel/kvm.hpp"
#include "kernel/apicdef.hpp"

namespace fredsim::kernel {

Vm::Vm(machine::Machine& machine, Kvm& kvm, VmConfig config)
    : machine_(machine), kvm_(kvm), config_(std::move(config)), vcpus_(config_.host_cpus.size()) {
  config_.kernel.in_vm = true;
  kernel_ = std::make_unique<Kernel>(machine_, *this, config_.kernel);
}

Vm::~Vm() = default;

CpuId Vm::vcpu_of(CpuId host_cpu) const {
  for (CpuId i = 0; i < vcpu_count(); ++i) {
    if (config_.host_cpus[i] == host_cpu) return i;
  }
  return kNoCpu;
}

void Vm::start() {
  for (CpuId i = 0; i < vcpu_count(); ++i)
    kvm_.request_vm_entry(*this, i);
}

void Vm::stop() {
  for (CpuId i = 0; i < vcpu_count(); ++i) {
    kvm_.stop_guest(host_cpu(i));
    kick(i);
  }
}

void Vm::boot_vcpu(CpuId vcpu) {
  Vcpu& v = vcpus_[vcpu];
  if (v.booted) return;
  v.booted = true;
  cpu::Cpu& c = cpu(vcpu);
  kernel_->boot_cpu(vcpu);
  // The guest kernel attached itself as the CPU's OS; the guest's entry points
  // are the VM's, which pass everything on to it.
  c.set_os_entry(this);
}

void Vm::kvm_nmi(CpuId vcpu) {
  // An NMI without a source vector: NMI-source reports it with bit 0, "source
  // unknown, check everything" (docs/hardware.md §2 "NMI-source reporting": an
  // NMI without a vector sets bit 0), so the guest polls every handler for it.
  inject_nmi(vcpu, cpu::arch::kNmiSourceUnknownBit);
}

void Vm::inject_nmi(CpuId vcpu, std::uint64_t source_bits) {
  vcpus_[vcpu].nmis.queue(source_bits);
  kick(vcpu);
}

void Vm::kick(CpuId vcpu) {
  // kvm_vcpu_kick(): an IPI only to a vCPU in guest mode (an entry under way
  // included); a vCPU in the host looks at its requests before the next entry.
  Vcpu& v = vcpus_[vcpu];
  if (v.kick_in_flight || !machine_.cpu(host_cpu(vcpu)).non_root()) return;
  v.kick_in_flight = true;
  ++v.counts.kicks;
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::kvm_kick_ipi), *this, vcpu);
}

void Vm::on_event(std::uint32_t kind, std::uint64_t /*arg*/) {
  vcpus_[kind].kick_in_flight = false;
  kvm_.kick(host_cpu(kind));
}

std::string_view Vm::event_name(std::uint32_t /*kind*/) const {
  return "kvm_kick";
}

void Vm::on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) {
  if (d.event.type == cpu::EventType::nmi) {
    const CpuId vcpu = vcpu_of(cpu.id());
    if (vcpu != kNoCpu) ++vcpus_[vcpu].counts.nmi_delivered;
  }
  kernel_->on_delivery(cpu, d);
}

void Vm::apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) {
  // kvm_lapic_reg_write(): the emulated APIC keeps the guest's LVT values.
  EmulatedApic& a = vcpus_[cpu].apic;
  if (offset == apicdef::APIC_LVTPC) a.lvtpc = static_cast<std::uint32_t>(value);
  if (offset == apicdef::APIC_LVT1) a.lvt1 = static_cast<std::uint32_t>(value);
}

void Vm::write_icr(CpuId /*cpu*/, apic::IcrValue /*icr*/) {
  // The guest's ICR writes (an MSR-write or APIC-write exit, the emulated
  // APIC's NMI to the target vCPUs) are not modelled yet; the scenario runner
  // refuses the guest events that would make them.
}

void Vm::pmu_overflow(CpuId /*cpu*/, std::uint64_t /*counter_mask*/) {
  // The virtual PMU is not modelled yet (the runner refuses guest pmi events).
}

void Vm::external_nmi(CpuId /*cpu*/, machine::NmiReason /*reason*/) {
  // The model's VM has no virtual LINT1 source.
}

}  // namespace fredsim::kernel
