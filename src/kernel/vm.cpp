// A VM with a guest kernel of its own (include/fredsim/kernel/vm.hpp).
#include "fredsim/kernel/vm.hpp"

#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/delivery_mode.hpp"
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
  targets_.reserve(vcpus_.size());
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
  // NMI and fixed mode are modelled; KVM's other modes (lowest priority,
  // SMI, INIT, SIPI, ExtINT) are not: the IPI is refused with a message.
  const apic::DeliveryMode mode = icr.delivery_mode();
  const bool nmi = mode == apic::DeliveryMode::nmi;
  if (!nmi && mode != apic::DeliveryMode::fixed) {
    kernel_->console().printk(
        from, fmt::format("KVM: {} IPI not modelled: dropped", apic::delivery_mode_name(mode)));
    return;
  }
  const bool x2apic = config_.apic == apic::ApicMode::x2apic;
  const bool logical = icr.dest_mode() == apic::DestMode::logical;
  if (icr.shorthand() == apic::Shorthand::none && logical && !x2apic) {
    // xAPIC logical destinations match the LDR and DFR the guest programs
    // (flat or cluster model); the model's guest kernel programs neither.
    kernel_->console().printk(
        from, "KVM: xAPIC logical destination not modelled (no LDR is programmed): IPI dropped");
    return;
  }
  collect_targets(from, icr);
  if (machine_.tracer().enabled()) {
    // KVM's emulated APIC sends the guest's IPI (docs/format.md "Trace
    // records", kvm_apic_ipi): the Chrome trace's arrow from the ICR write to
    // the NMI it brings starts here.
    machine_.tracer().emit(machine_.now(), host_cpu(from), "kvm_apic_ipi",
                           {{"vm", TraceValue::str(config_.name)},
                            {"vcpu", TraceValue::dec(from)},
                            {"icr", TraceValue::hex(icr.raw())},
                            {"dest", TraceValue::cpu_list(targets_)}});
  }
  for (CpuId t : targets_) {
    if (!nmi) {
      accept_fixed(t, icr.vector());
      continue;
    }
    ++vcpus_[t].counts.nmi_ipis;
    // The NMI-source vector's bit, as the host's latch takes it: bit 0 for
    // vector 0 or one beyond the bitmap (docs/hardware.md §2).
    inject_nmi(t, cpu::arch::nmi_source_bit(icr.vector()));
  }
}

void Vm::collect_targets(CpuId from, apic::IcrValue icr) {
  targets_.clear();
  const bool x2apic = config_.apic == apic::ApicMode::x2apic;
  const bool logical = icr.dest_mode() == apic::DestMode::logical;
  switch (icr.shorthand()) {
    case apic::Shorthand::none: {
      const std::uint32_t dest = icr.destination();
      // The broadcast destination (0xffffffff in x2APIC, 0xff in xAPIC)
      // reaches every vCPU (kvm_apic_match_dest -> kvm_apic_broadcast).
      if (dest == (x2apic ? 0xFFFFFFFFu : 0xFFu)) {
        for (CpuId t = 0; t < vcpu_count(); ++t)
          targets_.push_back(t);
        break;
      }
      if (logical) {
        // x2APIC logical mode: the LDR is derived from the APIC ID (SDM Vol.
        // 3A "Logical Destination Mode in x2APIC Mode"): cluster ID[19:4] in
        // bits 31:16, bit ID[3:0] of the 16-bit mask; a destination names one
        // cluster and a mask of its members.
        for (CpuId t = 0; t < vcpu_count(); ++t) {
          if ((dest >> 16) == (t >> 4) && (dest & (1u << (t & 15))) != 0) targets_.push_back(t);
        }
        break;
      }
      // Physical destination mode: the vCPU whose APIC ID is the destination
      // (KVM's default APIC ID is the vCPU number); none matches: nothing.
      if (dest < vcpu_count()) targets_.push_back(dest);
      break;
    }
    case apic::Shorthand::self:
      targets_.push_back(from);
      break;
    case apic::Shorthand::all_including_self:
    case apic::Shorthand::all_excluding_self:
      for (CpuId t = 0; t < vcpu_count(); ++t) {
        if (t != from || icr.shorthand() == apic::Shorthand::all_including_self) {
          targets_.push_back(t);
        }
      }
      break;
  }
}

void Vm::accept_fixed(CpuId vcpu, std::uint8_t vector) {
  Vcpu& v = vcpus_[vcpu];
  // __apic_accept_irq(APIC_DM_FIXED): a software-disabled APIC accepts no
  // fixed interrupt (SDM Vol. 3A "Local APIC State After It Has Been Software
  // Disabled"), nor does any APIC a vector 0-15 (a send-illegal-vector error).
  if (!v.apic.enabled() || vector < 16) return;
  apic::set_vector(v.apic.irr, vector);
  ++v.counts.fixed_ipis;
  // kvm_make_request(KVM_REQ_EVENT) and kvm_vcpu_kick(): a running vCPU
  // exits so that KVM injects the interrupt at its next entry.
  kick(vcpu);
}

int Vm::take_irr(CpuId vcpu) {
  EmulatedApic& a = vcpus_[vcpu].apic;
  const int v = a.highest_irr();
  if (v < 0) return -1;
  // kvm_cpu_get_interrupt -> kvm_apic_ack_interrupt: IRR to ISR (the model
  // keeps no ISR: the guest's EOI ends it).
  apic::clear_vector(a.irr, static_cast<std::uint8_t>(v));
  ++vcpus_[vcpu].counts.irqs_injected;
  return v;
}

void Vm::interrupt_entered(CpuId vcpu, std::uint8_t vector) {
  // The guest takes the injected interrupt at its first instruction: as the
  // host CPU model takes a maskable interrupt (docs/hardware.md "Maskable
  // interrupts"), IF is cleared and the kernel's interrupt entry runs.
  cpu::Cpu& c = cpu(vcpu);
  c.set_interrupt_flag(false);
  kernel_->on_interrupt(c, vector);
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
  if (offset == apic::APIC_SPIV) a.spiv = static_cast<std::uint32_t>(value & apic::kSpivWritable);
  // APIC_EOI: the model keeps no ISR (take_irr); nothing to end.
}

std::uint64_t Vm::apic_read(CpuId cpu, std::uint32_t offset) {
  const EmulatedApic& a = vcpus_[cpu].apic;
  if (offset == apicdef::APIC_LVTPC) return a.lvtpc;
  if (offset == apicdef::APIC_LVT1) return a.lvt1;
  if (offset == apic::APIC_SPIV) return a.spiv;
  return 0;
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
  // The virtual PMU without the mediated PMU (arch/x86/kvm/pmu.c): each guest
  // counter is a perf event KVM created on the host (pmc_reprogram_counter,
  // exclude_host), so its overflow is the host PMU's: the host CPU's global
  // status and its LVTPC, a host PMI. While the vCPU runs that NMI is an
  // NMI-induced VM exit; the host's perf handler reads the status and hands
  // KVM's counters to kvm_perf_overflow (kvm_perf_overflow()), which sets the
  // vCPU's global status and KVM_REQ_PMI; at the next entry the emulated
  // LVTPC delivers the guest's NMI (deliver_pmi()). perf's NMI handler is
  // always registered in Linux: the host kernel's is made if the scenario has
  // none.
  kvm_.host_kernel().ensure_perf_handler();
  vcpus_[cpu].kvm_counters |= counter_mask;
  machine_.pmu_overflow(host_cpu(cpu), counter_mask);
}

void Vm::kvm_perf_overflow(CpuId vcpu, std::uint64_t counters) {
  Vcpu& v = vcpus_[vcpu];
  const std::uint64_t mine = counters & v.kvm_counters;
  if (mine == 0) return;
  v.kvm_counters &= ~mine;
  // __kvm_perf_overflow: the counter's bit in pmu->global_status, and
  // KVM_REQ_PMI for a counter with its interrupt enabled (the model's are).
  v.pmu_status |= mine;
  v.pmi_request = true;
}

bool Vm::deliver_pmi(CpuId vcpu) {
  Vcpu& v = vcpus_[vcpu];
  if (!std::exchange(v.pmi_request, false)) return false;
  // kvm_pmu_deliver_pmi -> kvm_apic_local_deliver(APIC_LVTPC): an unmasked
  // LVTPC in NMI mode queues an NMI with LVTPC's vector as its source (the
  // guest's perf sets VECTOR_PMI with NMI-source), and KVM masks LVTPC as the
  // hardware does ("KVM: x86: Mask LVTPC when handling a PMI"); the guest's
  // handler unmasks it. The vCPU is about to enter: no kick.
  EmulatedApic& a = v.apic;
  if ((a.lvtpc & apicdef::APIC_LVT_MASKED) != 0 ||
      (a.lvtpc & apic::APIC_DM_MASK) != apicdef::APIC_DM_NMI)
    return false;
  a.lvtpc |= apicdef::APIC_LVT_MASKED;
  ++v.counts.pmis;
  v.nmis.queue(cpu::arch::nmi_source_bit(a.lvtpc & 0xFF));
  return true;
}

void Vm::external_nmi(CpuId /*cpu*/, machine::NmiReason /*reason*/) {
  // The model's VM has no virtual LINT1 source.
}

}  // namespace fredsim::kernel
