#pragma once
// What the kernel model's .cpp files share: the console's call sites, the
// handlers the kernel registers for its own senders, and the per-CPU context.
#include <functional>
#include <string_view>
#include <vector>

#include "fredsim/kernel/kernel.hpp"

namespace fredsim::kernel {

// Rate-limited console sites: each printk_ratelimited / pr_emerg_ratelimited
// call site keeps its own state (include/linux/printk.h: a static
// DEFINE_RATELIMIT_STATE per site). unknown_nmi_error (arch/x86/kernel/nmi.c)
// has three: "Uhhuh", the NMI-source bitmap line and "Dazed". The SERR and
// IOCHK lines are plain pr_emerg, not rate-limited.
enum RateSite : unsigned {
  kRateDuration,
  kRateUnknown,
  kRateUnknownBitmap,
  kRateUnknownDazed,
  kRateSites
};

// Warn-once sites.
enum WarnSite : unsigned {
  kWarnTypeVector,
  kWarnVectorRange,
  kWarnSecondSerr,
  kWarnSecondIochk,
  kWarnZeroEventData,
};

/// A handler the kernel registers for one of its senders, under a name
/// reserved for its model.
struct ReservedHandler {
  HandlerModel model;
  std::string_view name;
  unsigned flags;
  unsigned vector;
};
/// The kernel's own handler of `model` (one with a sender).
const ReservedHandler& reserved_handler(HandlerModel model);

// Events of a CPU's kernel context.
enum CpuEvent : std::uint32_t {
  kStart,          // the entry code ran: default_do_nmi begins
  kHandlerDone,    // a handler call finished: call the next one
  kReasonRead,     // the port 0x61 read finished
  kPathDone,       // the SERR / IOCHK / unknown path finished
  kKvmEntry,       // KVM's exit handling ran: it calls the host NMI entry
  kIochkWaitDone,  // io_check_error's 2-second wait ended: re-enable the IOCHK line
};

/// A CPU's kernel context: the NMI being dispatched and the per-CPU state.
struct Kernel::CpuCtx final : EventTarget {
  // The members are laid out by when an NMI's dispatch uses them (as the CPU
  // model's are, docs/benchmarks.md item 17): a broadcast to thousands of CPUs
  // finds each context out of the first-level cache at every step, so what
  // every NMI reads comes first, in as few cache lines as it fits, and what
  // only KVM, the perf and kgdb models or the lost-work report use comes last.
  Kernel& k;
  cpu::Cpu& cpu;  // the CPU model that runs it (the platform's cpu(id))
  CpuId id;

  // The NMI in progress.
  // Of its delivery, what the return and the samples read (not the whole
  // cpu::Delivery: copying it cost every NMI).
  cpu::DeliveryPath path = cpu::DeliveryPath::fred;
  std::uint8_t from_cpl = 0;
  cpu::EventType event_type = cpu::EventType::nmi;
  bool b2b = false;
  void note_delivery(const cpu::Delivery& d) {
    path = d.path;
    from_cpl = d.from_cpl;
    event_type = d.event.type;
  }
  KernelCpuState st;
  PtRegs regs;
  // The list as the walk found it (capacity kept, so no allocation per NMI once
  // warm): a handler (un)registered meanwhile must not shift the walk, which
  // would skip or repeat a handler (Linux walks an RCU list).
  std::vector<HandlerId> walk;
  // The list `walk` copies, as of HandlerRegistry::list_changes() `walk_changes`:
  // while no list has changed since, the copy is the list and is not taken
  // again (a copy per NMI otherwise). kNoChanges: no copy.
  static constexpr std::uint64_t kNoChanges = ~std::uint64_t{0};
  std::uint64_t walk_changes = kNoChanges;
  std::size_t next = 0;
  std::uint64_t bitmap = ~std::uint64_t{0};
  // With the filter: the walk positions whose handler's vector is in the
  // bitmap (HandlerRegistry::vector_positions), while no handler has been
  // registered since the walk began (`registrations`); the others are skipped
  // without a look. Off: every position is looked at.
  std::uint64_t positions = 0;
  std::uint64_t registrations = 0;
  Cycle started = 0;              // delivery (or VM exit) start, for the samples
  Cycle extra_return_cycles = 0;  // VM entry after KVM's return
  int sum = 0;
  int handled_total = 0;
  NmiType type = NmiType::local;  // the list nmi_handle walks now
  NmiType walk_type = NmiType::local;
  bool filter = false;  // the source filter is on for this walk
  bool by_positions = false;
  bool emergency = false;
  bool software = false;
  std::uint8_t reason = 0;
  bool spinning_on_reason_lock = false;  // in default_do_nmi's trylock loop
  bool nmi_source_cpuid = false;         // the platform's CPUID enumerates NMI-source

  // Process-context work waiting for this CPU to leave the event it is in
  // (in_process_context()): a KVM vCPU thread's VM entry. Looked at by every
  // return (Kernel::on_resume), as is kvm_then.
  std::function<void()> process_then;
  // KVM: what to do when the host NMI entry has returned.
  std::function<void()> kvm_then;
  std::uint64_t kvm_qualification = 0;
  // A guest kernel's CPU event that fell due while the vCPU was out of the
  // guest (KernelConfig::in_vm): it runs at the next VM entry. kNoEvent: none.
  static constexpr std::uint32_t kNoEvent = ~std::uint32_t{0};
  std::uint32_t deferred = kNoEvent;

  Cycle last_pmi = 0;
  bool had_pmi = false;
  bool was_in_debug_nmi = false;  // kgdb.c: this CPU's LOCAL kgdb handler claimed an NMI
  std::vector<std::uint64_t> lost_reasons;

  CpuCtx(Kernel& kernel, CpuId cpu, cpu::Cpu& model) : k(kernel), cpu(model), id(cpu) {}
  void on_event(std::uint32_t kind, std::uint64_t) override { k.on_cpu_event(*this, kind); }
  std::string_view event_name(std::uint32_t kind) const override {
    static constexpr std::string_view kNames[] = {"nmi_start",     "handler_done",
                                                  "reason_read",   "nmi_path_done",
                                                  "kvm_nmi_entry", "iochk_wait_done"};
    return kind < std::size(kNames) ? kNames[kind] : "kernel_?";
  }
  CpuId event_cpu() const override { return id; }
};

/// The stopper's side: cpus_stop_mask and the two waits.
struct Kernel::StopCtx final : EventTarget {
  enum Kind : std::uint32_t { kWaitEnd, kMaskEmpty, kReachedHlt };
  Kernel& k;
  CpuId from = kNoCpu;
  StopPhase phase = StopPhase::none;
  std::vector<bool> mask;  // cpus_stop_mask
  std::uint32_t remaining = 0;
  Cycle wait_started = 0;
  std::uint64_t generation = 0;  // a wait's events; a later wait ignores them
  EventId wait_end{};            // the running wait's timeout, cancelled when the mask empties

  explicit StopCtx(Kernel& kernel) : k(kernel) {}
  void on_event(std::uint32_t kind, std::uint64_t arg) override { k.on_stop_event(kind, arg); }
  std::string_view event_name(std::uint32_t kind) const override {
    static constexpr std::string_view kNames[] = {"stop_wait_end", "stop_mask_empty",
                                                  "stop_reached_hlt"};
    return kind < std::size(kNames) ? kNames[kind] : "stop_?";
  }
  CpuId event_cpu() const override { return from; }
};

}  // namespace fredsim::kernel
