#pragma once
// A virtual machine with a kernel of its own (docs/vmx.md "Guests with a kernel
// of their own"): vCPU i runs on host CPU host_cpus[i] in VMX non-root
// operation, and a second Kernel, the same Linux dispatch port as the host's,
// runs on the vCPUs with its own handlers, statistics and console. The Vm is
// that kernel's Platform: cpu(i) is the host CPU of vCPU i, and the APIC
// registers the guest writes go to KVM's emulated local APIC, never to the
// host's.
//
// KVM's part (arch/x86/kvm): the vCPUs' VM entries and exits are Kvm's; each
// vCPU keeps its virtual NMIs in a VirtualNmiQueue (kvm_inject_nmi,
// process_nmi, inject_pending_event).
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/apic/apic_mode.hpp"
#include "fredsim/apic/vector_bits.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "fredsim/kernel/platform.hpp"
#include "fredsim/kernel/virtual_nmi.hpp"
#include "fredsim/machine/machine.hpp"

namespace fredsim::kernel {

class Kvm;

struct VmConfig {
  std::string name;
  std::vector<CpuId> host_cpus;  // the host CPU of vCPU 0, 1, ...: distinct
  /// The guest kernel: its revision, FRED (use_fred) and sysctls.
  KernelConfig kernel;
  /// NMI-source exposed to the guest: its CPUID enumerates it, and KVM injects
  /// the pending virtual source bitmap as the injected-event data (0x2052).
  bool nmi_source = false;
  /// The guest's APIC mode: x2APIC ICR writes are WRMSR exits, xAPIC ones
  /// APIC-write exits.
  apic::ApicMode apic = apic::ApicMode::x2apic;
  bool nmi_exiting = true;           // pin-based NMI exiting
  std::optional<bool> virtual_nmis;  // unset: KVM's choice (on with NMI exiting)
};

/// What KVM counted for one vCPU (the result's `vms[].vcpus[]`).
struct VcpuCounts {
  std::uint64_t nmi_injected = 0;      // virtual NMIs injected at VM entry
  std::uint64_t nmi_window_exits = 0;  // NMI-window exits of this vCPU
  std::uint64_t nmi_delivered = 0;     // NMIs the guest kernel's entry received
  std::uint64_t kicks = 0;             // kvm_vcpu_kick IPIs sent to its host CPU
  std::uint64_t icr_exits = 0;         // its ICR writes: MSR-write / APIC-write exits
  std::uint64_t nmi_ipis = 0;          // NMIs the emulated APIC queued for it from an ICR
  std::uint64_t pmis = 0;              // NMIs its virtual PMU's LVTPC queued
  /// The guest's NMIs from the start of each delivery (the injection at VM
  /// entry) to the guest's return from it, summed: what dispatch_cycles is for
  /// a host CPU, in the guest.
  Cycle dispatch_cycles = 0;
  /// Host cycles the vCPU spent out of the guest: from each VM exit to the
  /// VM entry that follows it, summed (the exit, KVM's handling, the entry).
  Cycle exit_cycles = 0;
  std::uint64_t fixed_ipis = 0;        // fixed interrupts the emulated APIC accepted for it
  std::uint64_t irqs_injected = 0;     // external interrupts injected at VM entry
  std::uint64_t irq_window_exits = 0;  // interrupt-window exits of this vCPU
};

/// KVM's emulated local APIC of one vCPU: the registers the guest kernel
/// programs (kvm_lapic_reg_write) and the IRR of its fixed interrupts. The
/// vCPU's APIC ID is its number.
struct EmulatedApic {
  std::uint32_t lvtpc = 0x10000;  // masked at reset
  std::uint32_t lvt1 = 0x10000;
  /// Software-enabled with the spurious vector 0xff: the guest's
  /// setup_local_APIC() has run by the time the model's guest kernel boots.
  std::uint32_t spiv = 0x1ff;
  apic::VectorBits irr{};  // fixed-mode vectors waiting for injection

  bool enabled() const { return (spiv & 0x100) != 0; }
  /// The highest vector in the IRR, or -1 (apic_find_highest_irr).
  int highest_irr() const { return apic::highest_vector(irr); }
};

class Vm final : public Platform, public EventTarget, public cpu::OsEntry {
 public:
  Vm(machine::Machine& machine, Kvm& kvm, VmConfig config);
  ~Vm() override;
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  const std::string& name() const { return config_.name; }
  const VmConfig& config() const { return config_; }
  Kernel& kernel() { return *kernel_; }
  const Kernel& kernel() const { return *kernel_; }
  std::uint32_t vcpu_count() const { return static_cast<std::uint32_t>(config_.host_cpus.size()); }
  CpuId host_cpu(CpuId vcpu) const { return config_.host_cpus[vcpu]; }
  /// The vCPU the host CPU runs, or kNoCpu.
  CpuId vcpu_of(CpuId host_cpu) const;

  /// The VM starts: each vCPU thread asks KVM to enter its vCPU (in process
  /// context on its host CPU, Kvm::request_vm_entry); the guest kernel boots
  /// each vCPU after its first entry.
  void start();
  /// The VM stops: each vCPU leaves the guest at its next VM exit, and KVM
  /// kicks the running ones so that it comes.
  void stop();
  /// User space's KVM_NMI ioctl on `vcpu` (arch/x86/kvm/x86.c
  /// kvm_vcpu_ioctl_nmi -> kvm_inject_nmi): a virtual NMI without a source
  /// vector, so its NMI-source bit is bit 0 ("source unknown"), then a kick so
  /// that a running vCPU exits and KVM injects the NMI at the next entry.
  void kvm_nmi(CpuId vcpu);
  /// kvm_inject_nmi with `source_bits`, then the kick.
  void inject_nmi(CpuId vcpu, std::uint64_t source_bits);
  /// Kvm, before an entry that injects no NMI: the fixed interrupt KVM
  /// injects (kvm_cpu_get_interrupt: the IRR's highest vector, moved out of
  /// the IRR), or -1 when none waits.
  int take_irr(CpuId vcpu);
  /// A fixed interrupt waits in the vCPU's IRR.
  bool irr_pending(CpuId vcpu) const { return vcpus_[vcpu].apic.highest_irr() >= 0; }
  /// Kvm: the entry that injected `vector` completed: the guest takes it at its
  /// first instruction, through the guest kernel's interrupt entry.
  void interrupt_entered(CpuId vcpu, std::uint8_t vector);
  /// Kvm: the host perf handler found `counters` overflowed on the vCPU's host
  /// CPU: those that are the vCPU's events go to kvm_perf_overflow (the
  /// vCPU's global status bits, KVM_REQ_PMI).
  void kvm_perf_overflow(CpuId vcpu, std::uint64_t counters);
  /// Kvm, before each entry: KVM_REQ_PMI -> kvm_pmu_deliver_pmi: the
  /// emulated LVTPC queues the guest's NMI. Returns whether it did.
  bool deliver_pmi(CpuId vcpu);

  VirtualNmiQueue& nmis(CpuId vcpu) { return vcpus_[vcpu].nmis; }
  const VirtualNmiQueue& nmis(CpuId vcpu) const { return vcpus_[vcpu].nmis; }
  VcpuCounts& counts(CpuId vcpu) { return vcpus_[vcpu].counts; }
  const VcpuCounts& counts(CpuId vcpu) const { return vcpus_[vcpu].counts; }
  const EmulatedApic& apic(CpuId vcpu) const { return vcpus_[vcpu].apic; }
  /// The guest kernel booted `vcpu` (at its first VM entry).
  bool booted(CpuId vcpu) const { return vcpus_[vcpu].booted; }
  /// Kvm: the vCPU's first VM entry succeeded: the guest kernel boots it.
  void boot_vcpu(CpuId vcpu);
  /// Kvm: the vCPU entered the guest again (its guest code runs): the guest
  /// kernel's waiting work goes on, and an ICR write it waits to make exits.
  void vcpu_entered(CpuId vcpu);
  /// Kvm: the vCPU exited for its ICR write (MSR write or APIC write): KVM's
  /// emulated APIC sends the IPI (kvm_apic_emulation cycles), then KVM
  /// enters the vCPU again.
  void icr_exit(CpuId vcpu);
  /// ICR writes of `vcpu` not yet emulated (the one in its exit included).
  std::uint32_t icr_writes_pending(CpuId vcpu) const { return vcpus_[vcpu].icr_count; }

  // Platform: the guest kernel's view of the VM.
  std::uint32_t cpu_count() const override { return vcpu_count(); }
  cpu::Cpu& cpu(CpuId id) override { return machine_.cpu(config_.host_cpus[id]); }
  bool enumerates_nmi_source(CpuId /*id*/) override { return config_.nmi_source; }
  void apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) override;
  std::uint64_t apic_read(CpuId cpu, std::uint32_t offset) override;
  void write_icr(CpuId cpu, apic::IcrValue icr) override;
  /// The guest's counters overflow: they are KVM's perf events on the host
  /// (a non-mediated vPMU), so the overflow is a host PMI on the host CPU
  /// (docs/vmx.md "The guest's PMI, host side").
  void pmu_overflow(CpuId cpu, std::uint64_t counter_mask) override;
  /// The vCPU's IA32_PERF_GLOBAL_STATUS is KVM's (pmu->global_status): the
  /// guest's RDMSR and its OVF_CTRL write are emulated.
  std::uint64_t perf_global_status(CpuId cpu) override { return vcpus_[cpu].pmu_status; }
  void perf_global_ack(CpuId cpu, std::uint64_t mask) override { vcpus_[cpu].pmu_status &= ~mask; }
  void external_nmi(CpuId cpu, machine::NmiReason reason) override;
  /// KVM's port 0x61 (QEMU's PC speaker / NMI status port): no SERR or IOCHK
  /// is ever latched in the model's VM.
  std::uint8_t port_in(std::uint16_t /*port*/) override { return 0; }
  void port_out(std::uint16_t /*port*/, std::uint8_t /*value*/) override {}
  std::uint8_t nmi_reason() const override { return 0; }

  // cpu::OsEntry: the guest's entry points, which count the NMIs the guest
  // receives (nmi_delivered) and go to the guest kernel.
  void on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) override;
  Cycle entry_code(const cpu::Delivery& d) const override { return kernel_->entry_code(d); }
  void on_resume(cpu::Cpu& cpu, cpu::RunState resumed) override;
  void on_interrupt(cpu::Cpu& cpu, std::uint8_t vector) override {
    kernel_->on_interrupt(cpu, vector);
  }

  // EventTarget: the kick's IPI reaches the vCPU's host CPU; the emulated
  // APIC's IPI is sent (arg = the vCPU).
  void on_event(std::uint32_t kind, std::uint64_t arg) override;
  std::string_view event_name(std::uint32_t kind) const override;
  CpuId event_cpu() const override { return kNoCpu; }

 private:
  enum EventKind : std::uint32_t { kKick, kIcrEmulated };
  struct Vcpu {
    VirtualNmiQueue nmis;
    VcpuCounts counts;
    EmulatedApic apic;
    bool booted = false;
    bool kick_in_flight = false;     // a kick IPI is on its way
    bool nmi_open = false;           // a guest NMI delivered, its return still to come
    Cycle nmi_started = 0;           // that delivery's start
    std::uint64_t kvm_counters = 0;  // host counters that overflowed for the guest, not yet seen
    std::uint64_t pmu_status = 0;    // the vCPU's IA32_PERF_GLOBAL_STATUS (KVM's)
    bool pmi_request = false;        // KVM_REQ_PMI
    // ICR writes the guest made, oldest first (a ring sized at setup): each
    // is one exit, emulated in order; icr_exit: the oldest one's exit is
    // requested or under way.
    std::vector<apic::IcrValue> icr_ring;
    std::uint32_t icr_head = 0, icr_count = 0;
    bool icr_exit = false;
  };
  void kick(CpuId vcpu);
  /// The guest executes its oldest waiting ICR write: the exit, when it runs.
  void request_icr_exit(CpuId vcpu);
  /// KVM's emulated APIC: the IPI of `icr` from `from` (kvm_apic_send_ipi ->
  /// __apic_accept_irq): an NMI for each target vCPU, with its source vector,
  /// or a fixed interrupt in its IRR.
  void send_ipi(CpuId from, apic::IcrValue icr);
  /// The vCPUs `icr` from `from` addresses (kvm_apic_match_dest), in vCPU
  /// order, into targets_.
  void collect_targets(CpuId from, apic::IcrValue icr);
  /// __apic_accept_irq(APIC_DM_FIXED): the vector into the target's IRR and a
  /// kick, unless the target's APIC is software-disabled.
  void accept_fixed(CpuId vcpu, std::uint8_t vector);

  machine::Machine& machine_;
  Kvm& kvm_;
  VmConfig config_;
  std::vector<Vcpu> vcpus_;
  std::vector<CpuId> targets_;  // one IPI's destinations (capacity: every vCPU, from setup)
  std::unique_ptr<Kernel> kernel_;
};

}  // namespace fredsim::kernel
