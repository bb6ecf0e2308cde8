#pragma once
// KVM's virtual-NMI bookkeeping for one vCPU, with the NMI-source bitmap a
// guest with NMI-source receives (docs/vmx.md). What KVM does, by function:
//
// - arch/x86/kvm/x86.c kvm_inject_nmi(): an NMI for the vCPU (the emulated
//   APIC's NMI IPI, the virtual PMU's PMI, user space's KVM_NMI) increments
//   nmi_queued and requests KVM_REQ_NMI; the model also ORs the NMI's source
//   bits into the vCPU's pending virtual source bitmap.
// - x86.c process_nmi(), before VM entry: the queued NMIs become pending, at
//   most two while the guest does not block NMIs and no injected NMI is still in
//   flight (one to inject now, one held for the NMI window), else at most one;
//   the others collapse into those (an NMI that arrives while one is pending
//   merges with it, as on bare metal).
// - x86.c inject_pending_event() -> vmx.c vmx_inject_nmi(): when the guest can
//   take an NMI, one pending NMI is injected with VM-entry interruption
//   information type NMI, vector 2, and (NMI-source) the injected-event data
//   (VMCS field 0x2052) = the pending bitmap, which injection clears (bit 0,
//   "source unknown", when every source went with an earlier injection); while an
//   NMI stays pending (the guest blocks NMIs, or a second one waits) KVM asks
//   for an NMI-window exit (vmx.c enable_nmi_window()).
// - vmx.c vmx_complete_interrupts(), after the next exit: the injected NMI was
//   delivered (nmi_injected cleared).
//
// Plain state, no time: the VM model calls it at its exits and entries.
#include <cstdint>

namespace fredsim::kernel {

struct VirtualNmiStats {
  std::uint64_t queued = 0;           // kvm_inject_nmi() calls
  std::uint64_t collapsed = 0;        // queued NMIs process_nmi() merged into a pending one
  std::uint64_t injected = 0;         // NMIs injected at VM entry
  std::uint64_t window_requests = 0;  // VM entries with NMI-window exiting requested
};

/// What KVM writes into the VMCS for the next VM entry.
struct VirtualNmiEntry {
  bool inject = false;           // VM-entry interruption info: NMI, vector 2
  std::uint64_t event_data = 0;  // injected-event data (0x2052); 0 without NMI-source
  bool nmi_window = false;       // primary processor-based control "NMI-window exiting"
};

class VirtualNmiQueue {
 public:
  /// kvm_inject_nmi(): one more NMI, with its NMI-source bits (bit v for
  /// source vector v; bit 0 for an NMI without a source vector, such as
  /// KVM_NMI).
  void queue(std::uint64_t source_bits) {
    ++queued_;
    sources_ |= source_bits;
    ++stats_.queued;
  }

  /// process_nmi() then inject_pending_event(), before a VM entry.
  /// `guest_blocks_nmi`: the guest's virtual-NMI blocking (or MOV SS blocking)
  /// as saved at the exit; `nmi_source`: the VM exposes NMI-source.
  VirtualNmiEntry before_entry(bool guest_blocks_nmi, bool nmi_source);

  /// vmx_complete_interrupts() at the exit after an injection: the injected NMI
  /// has been delivered to the guest.
  void after_exit() { injected_in_flight_ = false; }

  /// A vCPU that leaves the VM for good drops what it holds.
  void clear() {
    queued_ = pending_ = 0;
    sources_ = 0;
    injected_in_flight_ = false;
  }

  std::uint32_t queued() const { return queued_; }
  std::uint32_t pending() const { return pending_; }
  std::uint64_t pending_sources() const { return sources_; }
  bool injection_in_flight() const { return injected_in_flight_; }
  /// KVM has something to inject: the vCPU needs a VM entry (a kick when it runs).
  bool has_work() const { return queued_ != 0 || pending_ != 0; }
  const VirtualNmiStats& stats() const { return stats_; }

 private:
  std::uint32_t queued_ = 0;         // nmi_queued
  std::uint32_t pending_ = 0;        // nmi_pending, 0..2
  std::uint64_t sources_ = 0;        // the pending virtual source bitmap
  bool injected_in_flight_ = false;  // nmi_injected
  VirtualNmiStats stats_;
};

}  // namespace fredsim::kernel
