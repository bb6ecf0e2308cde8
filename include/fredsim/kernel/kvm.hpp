#pragma once
// KVM's side of VMX for the NMI path (docs/hardware.md §4 "VMX"): it enters guests,
// and after an NMI-induced VM exit hands the exit qualification (the NMI-source
// bitmap) to the host kernel's NMI entry as event data, then resumes the guest.
#include <cstdint>
#include <vector>

#include "fredsim/kernel/guest_setup.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "fredsim/machine/machine.hpp"
#include "fredsim/vmx/exit_handler.hpp"

namespace fredsim::kernel {

class Vm;

/// The guest's own NMI entry, for NMIs that reach the guest (NMI exiting off, or
/// a virtual NMI KVM injects): it counts them and returns. The guest's handlers
/// are not modelled; its event data is recorded so a test can see what a guest
/// kernel's dispatch would filter on.
struct GuestNmiStats {
  std::uint64_t nmis = 0;
  std::uint64_t last_event_data = 0;
  std::uint64_t event_data_or = 0;  // OR of the event data of every guest NMI
};

class Kvm final : public vmx::VmExitHandler, public cpu::OsEntry, public PerfOverflowSink {
 public:
  Kvm(machine::Machine& machine, Kernel& kernel);

  /// VMLAUNCH (or VMRESUME) a guest on `cpu`, a copy of the host's context in a
  /// guest address space, with the pin-based controls given. A host NMI that
  /// arrives while it runs is an NMI-induced exit the host kernel handles; KVM
  /// never reflects it into the guest (arch/x86/kvm/vmx/vmx.c
  /// handle_exception_nmi_irqoff -> the host's NMI entry, then VMRESUME).
  ///
  /// `controls` adds the NMI controls and entry state of docs/vmx.md "NMI
  /// controls of a guest". With nmi_window_exiting KVM holds one virtual NMI for
  /// the guest, as KVM asks for the NMI window only when it has an NMI it cannot
  /// inject yet: at the NMI-window exit it clears the control and injects that
  /// NMI with the VMRESUME (handle_nmi_window() and inject_pending_event() in
  /// arch/x86/kvm). A failed entry is an Error naming the VM-instruction error or
  /// the exit reason of the VM-entry failure and the check that failed.
  Status run_guest(CpuId cpu, bool nmi_exiting, const GuestControls& controls = {});
  /// The vCPU thread asks to run the guest on `cpu` (a scenario's guest
  /// interval): the VM entry is run_guest() in process context, so a CPU inside
  /// an NMI enters the guest only once it has returned from it. A failed entry
  /// is printed on the console ("KVM: ..."). stop_guest() before the entry
  /// cancels it.
  void request_guest(CpuId cpu, bool nmi_exiting, const GuestControls& controls = {});
  /// The guest's time is up: the next exit is not resumed.
  void stop_guest(CpuId cpu);
  bool guest_running(CpuId cpu) const;

  /// The thread of vCPU `vcpu` of `vm` asks to run it (on the VM's host CPU of
  /// that vCPU, in process context like request_guest()). The VM entry loads a
  /// guest whose FRED state the guest kernel sets up itself: the kernel boots
  /// the vCPU right after its first entry, so its MSR and CR4 writes are the
  /// guest's. Before each entry KVM injects a pending virtual NMI of the vCPU
  /// (VirtualNmiQueue), or asks for the NMI window.
  void request_vm_entry(Vm& vm, CpuId vcpu);
  /// kvm_vcpu_kick's IPI reached host CPU `cpu`: a vCPU running there exits
  /// (an external-interrupt exit), so KVM gets to its requests.
  void kick(CpuId cpu);
  /// KVM is done with the exit of a VM's vCPU on `cpu` (the ICR emulation):
  /// it enters the vCPU again, injecting what is pending.
  void resume_vcpu(CpuId cpu);
  /// The host kernel (its perf handler serves KVM's vPMU events).
  Kernel& host_kernel() { return kernel_; }
  /// PerfOverflowSink: the host perf handler's overflowed counters on
  /// `host_cpu`; those of the vCPU that runs there are KVM's (kvm_perf_overflow).
  void perf_overflow(CpuId host_cpu, std::uint64_t counters) override;
  /// The VM whose vCPU host CPU `cpu` runs (or last ran), or null.
  const Vm* vm_on(CpuId cpu) const { return vcpus_[cpu].vm; }
  const GuestNmiStats& guest_stats(CpuId cpu) const { return vcpus_[cpu].guest; }

  // vmx::VmExitHandler
  void on_vm_exit(vmx::VmxCpu& vcpu, const vmx::ExitInfo& exit) override;
  void on_vm_entry(vmx::VmxCpu& vcpu) override;
  // cpu::OsEntry: the guest kernel's entry points.
  void on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) override;

 private:
  struct Vcpu {
    bool active = false;           // a guest is set up
    bool stop = false;             // do not resume at the next exit
    bool nmi_queued = false;       // a virtual NMI KVM holds until the NMI window opens
    bool entry_requested = false;  // request_guest() waits for process context
    bool req_nmi_exiting = false;
    GuestControls req_controls;
    std::uint64_t queued_event_data = 0;
    GuestNmiStats guest;
    // A vCPU of a VM with a guest kernel (request_vm_entry()).
    Vm* vm = nullptr;
    CpuId vm_vcpu = 0;
    bool reinject = false;  // an injected NMI an exit interrupted: inject it again
    std::uint64_t reinject_data = 0;
    // Out of the guest since `out_since` (a VM exit), until the next VM entry:
    // the vCPU's exit_cycles. An entry that exits again at once (a pending
    // NMI) keeps the first exit's start.
    bool out = false;
    Cycle out_since = 0;
    int irq = -1;  // the fixed interrupt the entry under way injects, or -1
  };
  Status enter_vm(CpuId cpu);
  /// KVM before a VM entry of a VM's vCPU: process_nmi, inject_pending_event
  /// (an NMI, else a fixed interrupt of the emulated APIC when the guest can
  /// take one). Returns the cycles of that work to charge before the entry:
  /// kvm_nmi_inject or kvm_irq_inject when it injects, else 0 (its cost
  /// without an injection is part of vm_entry).
  Cycle prepare_vm_entry(vmx::VmxCpu& vcpu, Vcpu& v);
  /// VMRESUME after `work` cycles of KVM's own (an injection's), or leaves the
  /// guest when it is to stop.
  void resume(vmx::VmxCpu& vcpu, Cycle work = 0);
  void handle_nmi_window(vmx::VmxCpu& vcpu);
  /// Gives the guest a virtual NMI at the next VMRESUME, or, when the guest
  /// blocks it (virtual-NMI blocking), asks for the NMI window and holds it.
  void queue_guest_nmi(vmx::VmxCpu& vcpu, std::uint64_t event_data);

  machine::Machine& machine_;
  Kernel& kernel_;
  std::vector<Vcpu> vcpus_;
};

}  // namespace fredsim::kernel
