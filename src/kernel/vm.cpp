// A VM with a guest kernel of its own (include/fredsim/kernel/vm.hpp).
#include "fredsim/kernel/vm.hpp"

#include <cassert>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/kernel/kvm.hpp"
#include "fredsim/vmx.hpp"
#include "kernel/apicdef.hpp"

namespace fredsim::kernel {

namespace {
// The ICR writes a vCPU can have waiting for their exits: a guest writes one
// per destination in physical mode (send_IPI_mask), each sender call at most
// one per vCPU; twice that covers a second call before the first is emulated.
std::uint32_t icr_ring_size(std::size_t vcpus) {
  return static_cast<std::uint32_t>(2 * vcpus + 2);
}
}  // namespace

Vm::Vm(machine::Machine& machine, Kvm& kvm, VmConfig config)
    : machine_(machine), kvm_(kvm), config_(std::move(config)), vcpus_(config_.host_cpus.size()) {
  config_.kernel.in_vm = true;
  config_.kernel.vm_name = config_.name;
  for (Vcpu& v : vcpus_)
    v.icr_ring.resize(icr_ring_size(vcpus_.size()));
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
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::kvm_kick_ipi), *this, kKick,
                               vcpu);
}

void Vm::on_event(std::uint32_t kind, std::uint64_t arg) {
  const CpuId vcpu = static_cast<CpuId>(arg);
  Vcpu& v = vcpus_[vcpu];
  if (kind == kKick) {
    v.kick_in_flight = false;
    kvm_.kick(host_cpu(vcpu));
    return;
  }
  // kIcrEmulated: KVM's emulation of the oldest ICR write is done; the
  // instruction is skipped and the vCPU enters again.
  assert(v.icr_count > 0);
  const apic::IcrValue icr = v.icr_ring[v.icr_head];
  v.icr_head = (v.icr_head + 1) % static_cast<std::uint32_t>(v.icr_ring.size());
  --v.icr_count;
  v.icr_exit = false;
  send_ipi(vcpu, icr);
  kvm_.resume_vcpu(host_cpu(vcpu));
}

std::string_view Vm::event_name(std::uint32_t kind) const {
  return kind == kKick ? "kvm_kick" : "kvm_apic_icr";
}

void Vm::vcpu_entered(CpuId vcpu) {
  kernel_->vcpu_entered(vcpu);
  Vcpu& v = vcpus_[vcpu];
  if (v.icr_count > 0 && !v.icr_exit) request_icr_exit(vcpu);
}

void Vm::request_icr_exit(CpuId vcpu) {
  vmx::VmxCpu& x = machine_.vmx(host_cpu(vcpu));
  // Only guest code executes the write: a vCPU out of the guest makes it after
  // its next entry (vcpu_entered()).
  if (x.mode() != vmx::VmxMode::guest && x.mode() != vmx::VmxMode::entering) return;
  vcpus_[vcpu].icr_exit = true;
  if (config_.apic == apic::ApicMode::x2apic) {
    // WRMSR to IA32_X2APIC_ICR (0x830): KVM's MSR bitmap intercepts ICR writes
    // without IPI virtualization (arch/x86/kvm/vmx/vmx.c
    // vmx_update_msr_bitmap_x2apic); the exit qualification is 0.
    x.instruction_exit(vmx::BasicExitReason::msr_write, 0, TimingParam::vm_exit_msr_write);
  } else {
    // The xAPIC ICR store at offset 0x300 of the APIC-access page, trapped
    // after the write by APIC-register virtualization (handle_apic_write).
    x.instruction_exit(vmx::BasicExitReason::apic_write, apic::APIC_ICR,
                       TimingParam::vm_exit_msr_write);
  }
}

void Vm::icr_exit(CpuId vcpu) {
  ++vcpus_[vcpu].counts.icr_exits;
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::kvm_apic_emulation), *this,
                               kIcrEmulated, vcpu);
}

void Vm::send_ipi(CpuId from, apic::IcrValue icr) {
  // Only NMI mode is modelled: a fixed-vector IPI of the guest (such as
  // stop_other_cpus' REBOOT_VECTOR) reaches no guest handler in the model.
  if (icr.delivery_mode() != apic::DeliveryMode::nmi) return;
  // The vector is the NMI-source vector (0 without NMI-source: bit 0).
  const std::uint64_t bit = std::uint64_t{1} << icr.vector();
  auto deliver = [&](CpuId t) {
    ++vcpus_[t].counts.nmi_ipis;
    inject_nmi(t, bit);
  };
  switch (icr.shorthand()) {
    case apic::Shorthand::none:
      // Physical destination mode: the vCPU whose APIC ID is the destination
      // (KVM's default APIC ID is the vCPU number); none matches: no NMI.
      if (icr.destination() < vcpu_count()) deliver(icr.destination());
      break;
    case apic::Shorthand::self:
      deliver(from);
      break;
    case apic::Shorthand::all_including_self:
    case apic::Shorthand::all_excluding_self:
      for (CpuId t = 0; t < vcpu_count(); ++t) {
        if (t != from || icr.shorthand() == apic::Shorthand::all_including_self) deliver(t);
      }
      break;
  }
}

void Vm::on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) {
  if (d.event.type == cpu::EventType::nmi) {
    const CpuId vcpu = vcpu_of(cpu.id());
    if (vcpu != kNoCpu) {
      Vcpu& v = vcpus_[vcpu];
      ++v.counts.nmi_delivered;
      // One taken at the return of the one before (back to back) starts
      // where that one ended.
      if (v.nmi_open) v.counts.dispatch_cycles += d.started - v.nmi_started;
      v.nmi_open = true;
      v.nmi_started = d.started;
    }
  }
  kernel_->on_delivery(cpu, d);
}

void Vm::on_resume(cpu::Cpu& cpu, cpu::RunState resumed) {
  // The guest's return from its NMI completed: the code it interrupted goes on.
  if (const CpuId vcpu = vcpu_of(cpu.id()); vcpu != kNoCpu) {
    Vcpu& v = vcpus_[vcpu];
    if (v.nmi_open) {
      v.counts.dispatch_cycles += machine_.now() - v.nmi_started;
      v.nmi_open = false;
    }
  }
  kernel_->on_resume(cpu, resumed);
}

void Vm::apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) {
  // kvm_lapic_reg_write(): the emulated APIC keeps the guest's LVT values.
  EmulatedApic& a = vcpus_[cpu].apic;
  if (offset == apicdef::APIC_LVTPC) a.lvtpc = static_cast<std::uint32_t>(value);
  if (offset == apicdef::APIC_LVT1) a.lvt1 = static_cast<std::uint32_t>(value);
}

void Vm::write_icr(CpuId cpu, apic::IcrValue icr) {
  // Without IPI virtualization or posted interrupts every ICR write of the
  // guest is a VM exit on the sender's host CPU, emulated by KVM in order.
  Vcpu& v = vcpus_[cpu];
  const auto size = static_cast<std::uint32_t>(v.icr_ring.size());
  if (v.icr_count == size) {
    kernel_->console().printk(cpu, "KVM: ICR write dropped: too many waiting for their exits");
    return;
  }
  v.icr_ring[(v.icr_head + v.icr_count) % size] = icr;
  ++v.icr_count;
  if (!v.icr_exit) request_icr_exit(cpu);
}

void Vm::pmu_overflow(CpuId cpu, std::uint64_t counter_mask) {
  // The virtual PMU (arch/x86/kvm/pmu.c): the guest's counters overflow; the
  // overflow status the guest's perf handler reads is the vCPU's
  // IA32_PERF_GLOBAL_STATUS, here the host CPU model's while the vCPU runs.
  // kvm_pmu_deliver_pmi -> kvm_apic_local_deliver(APIC_LVTPC): an unmasked
  // LVTPC in NMI mode queues an NMI with LVTPC's vector as its source (the
  // guest's perf sets VECTOR_PMI with NMI-source), and KVM masks LVTPC as the
  // hardware does ("KVM: x86: Mask LVTPC when handling a PMI"); the guest's
  // handler unmasks it. The host PMI and NMI exit that bring the overflow to
  // KVM are left out: the NMI is queued at once.
  machine_.cpu(host_cpu(cpu)).pmu_overflow(counter_mask);
  EmulatedApic& a = vcpus_[cpu].apic;
  if ((a.lvtpc & apicdef::APIC_LVT_MASKED) != 0 ||
      (a.lvtpc & apic::APIC_DM_MASK) != apicdef::APIC_DM_NMI)
    return;
  a.lvtpc |= apicdef::APIC_LVT_MASKED;
  ++vcpus_[cpu].counts.pmis;
  inject_nmi(cpu, std::uint64_t{1} << (a.lvtpc & 0xFF));
}

void Vm::external_nmi(CpuId /*cpu*/, machine::NmiReason /*reason*/) {
  // The model's VM has no virtual LINT1 source.
}

}  // namespace fredsim::kernel
