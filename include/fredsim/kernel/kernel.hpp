#pragma once
// The OS model: a port of the behaviour of Linux's x86 NMI code with the
// NMI-source series (docs/linux.md): handler registration, nmi_handle
// with the source filter, default_do_nmi with its swallow and reason logic, the
// FRED and IDT NMI entries, the senders, and KVM's NMI-exit path.
//
// Time runs through the dispatch: each handler is called at the cycle where the
// previous one finished and sees the machine as it is then. The dispatch is an
// explicit state machine per CPU, driven by the event queue.
//
// The Kernel composes three parts of its own: the handler registry
// (handler_registry.hpp), the console (console.hpp) and the NMI selftest
// (selftest.hpp); registry(), console() and selftest() return them.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/apic/icr.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/kernel/console.hpp"
#include "fredsim/kernel/handler_model.hpp"
#include "fredsim/kernel/handler_registry.hpp"
#include "fredsim/kernel/nmi.hpp"
#include "fredsim/kernel/platform.hpp"
#include "fredsim/kernel/selftest.hpp"
#include "fredsim/machine/machine.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/sim/stats.hpp"
#include "fredsim/sim/trace.hpp"

namespace fredsim::kernel {

class Kernel;

/// What a handler can do while it runs.
class NmiContext {
 public:
  CpuId cpu() const { return cpu_; }
  Cycle now() const;
  /// The call's cost so far, and adding to it.
  Cycle charged() const { return charged_; }
  void charge(Cycle cycles) { charged_ += cycles; }
  void charge(TimingParam p);
  Kernel& kernel() { return kernel_; }
  /// The shared machine: clock, timing profile, tracer.
  machine::Machine& machine();
  /// The CPU model that runs this call's CPU (the platform's cpu(cpu())).
  cpu::Cpu& cpu_model();
  HandlerId handler() const { return handler_; }
  /// Takes every work item pending for this handler on this CPU (returns how many).
  std::uint32_t take_work();
  std::uint32_t pending_work() const;
  /// This CPU stops for good inside this handler (stop_this_cpu): the dispatch
  /// never returns and NMIs stay blocked.
  void halt_cpu() { halt_ = true; }

 private:
  friend class Kernel;
  NmiContext(Kernel& k, CpuId cpu, HandlerId h) : kernel_(k), cpu_(cpu), handler_(h) {}
  Kernel& kernel_;
  CpuId cpu_;
  HandlerId handler_;
  Cycle charged_ = 0;
  bool halt_ = false;
};

/// Kernel settings (sysctls and boot choices).
struct KernelConfig {
  Revision revision = Revision::v7;
  bool use_fred = true;  // enable FRED when the CPU enumerates it
  bool unknown_nmi_panic = false;
  bool panic_on_unrecovered_nmi = false;
  bool panic_on_io_nmi = false;
  std::uint64_t nmi_longest_ns = 1'000'000;  // 1 ms
  /// v7's NMIS_VECTOR_COUNT: registration warns for a vector at or above it. 8
  /// as the series defines enum nmi_source_vectors; a kernel that names more
  /// vectors (up to the bitmap's 16) has a larger count.
  unsigned source_vectors = 8;
  bool perf_amd_claim_window = false;  // AMD: claim unattributed NMIs for 100 ms
  /// A guest kernel on a VM's vCPUs (docs/vmx.md "Guests with a kernel of their
  /// own"): its CPU's work waits while the vCPU is out of the guest (a VM exit,
  /// an entry in progress) and goes on when KVM has entered it again
  /// (vcpu_entered()). Its trace records carry `vm` (vm_name) and `vcpu` (its
  /// CPU number), and their `cpu` is the host CPU the vCPU runs on
  /// (docs/format.md "Trace records").
  bool in_vm = false;
  std::string vm_name;  // in_vm: the VM's name
};

/// Where native_stop_other_cpus is (docs/kernel.md "Stopping the other CPUs").
enum class StopPhase : std::uint8_t {
  none,  // no stop yet
  irq,   // the REBOOT_VECTOR IRQ went out; waiting up to 1 s
  nmi,   // NMIs went to the CPUs that did not stop; waiting up to 10 ms
  done,  // the stopper went on (every other CPU stopped, or the waits ran out)
};

/// The IDT NMI entry's per-CPU latch.
enum class IdtNmiState : std::uint8_t { not_running, executing, latched };

/// Per-CPU kernel state for inspection.
struct KernelCpuState {
  NmiStats stats;
  bool swallow = false;
  std::uint64_t last_nmi_rip = 0;
  IdtNmiState idt_state = IdtNmiState::not_running;
  bool halted = false;  // stopped by stop-other-CPUs
  bool in_dispatch = false;
  std::uint64_t lost = 0;  // filled by lost_work()
};

class Kernel final : public cpu::OsEntry {
 public:
  /// The host's kernel: it runs on the machine's own CPUs (a MachinePlatform).
  Kernel(machine::Machine& machine, const KernelConfig& config);
  /// A kernel on another platform (a VM's vCPUs), which must outlive it; the
  /// machine is the clock, timing profile and tracer it shares with the host.
  Kernel(machine::Machine& machine, Platform& platform, const KernelConfig& config);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  /// Boot: programs FRED (or the IDT NMI stack), LVTPC and LINT1 on every CPU
  /// the way Linux does, and attaches itself as every CPU's OS.
  void boot();
  /// Boots one CPU the way boot() does each (a guest kernel boots each vCPU
  /// after its first VM entry, so its FRED MSR and CR4 writes are the guest's).
  void boot_cpu(CpuId cpu);
  /// KVM entered CPU `cpu` of this guest kernel (in_vm): work of the CPU that
  /// fell due while it was out of the guest runs now.
  void vcpu_entered(CpuId cpu);

  machine::Machine& machine() { return machine_; }
  /// The platform's per-CPU operations (docs/architecture.md "kernel").
  Platform& platform() { return platform_; }
  /// The kernel's CPUs, numbered 0..cpu_count()-1 on its platform.
  std::uint32_t cpu_count() const { return cpu_count_; }
  const KernelConfig& config() const { return config_; }
  KernelConfig& config() { return config_; }
  /// NMI-source is on for this CPU: enumerated (by the platform's CPUID,
  /// Platform::enumerates_nmi_source) and CR4.FRED set.
  bool nmi_source_enabled(CpuId cpu) const;

  // --- Registration (docs/linux.md "Registration") ------------------
  /// Registers a handler. Refusals (a null callable, the same name already
  /// registered in that list, a name reserved for another model) are errors;
  /// the warn-once cases are logged on the console and the handler is
  /// registered. O(1) amortised: names are looked up in an index.
  Result<HandlerId> register_nmi_handler(NmiType type, NmiHandlerFn fn, unsigned flags,
                                         std::string_view name, unsigned vector = 0);
  /// Registers a built-in model with its costs (0 = the timing profile's).
  Result<HandlerId> register_model(NmiType type, HandlerModel model, unsigned flags,
                                   std::string_view name, unsigned vector, Cycle check_cycles = 0,
                                   Cycle handle_cycles = 0);
  /// Unregisters the first handler of that name in that list; false if none.
  bool unregister_nmi_handler(NmiType type, std::string_view name);
  /// The handlers: lookups, lists, emergency handlers and work items.
  HandlerRegistry& registry() { return registry_; }
  const HandlerRegistry& registry() const { return registry_; }

  // --- Ground truth ------------------------------------------------------------
  /// Work items still pending on `cpu` (all handlers), plus unhandled reasons.
  std::uint64_t lost_work(CpuId cpu) const;

  // --- Senders (docs/linux.md "Senders and their handlers"), through APIC writes ---------
  /// Linux's ICR value for an IPI (the __prepare_ICR of the NMI-source series):
  /// NMI mode keeps the vector when NMI-source is on, 0 when off; a plain
  /// "vector 2" request becomes bare NMI mode.
  apic::IcrValue prepare_icr(CpuId from, apic::Shorthand shorthand, apic::DeliveryMode mode,
                             std::uint32_t vector, std::uint32_t dest_apic_id) const;
  /// Sends an NMI IPI with a source vector: to one CPU, a list, or by shorthand.
  void send_nmi_ipi(CpuId from, std::span<const CpuId> dest, unsigned vector);
  void send_nmi_ipi_shorthand(CpuId from, apic::Shorthand shorthand, unsigned vector);
  /// trigger_cpumask_backtrace: the CPUs in `mask` print their backtraces (the
  /// sender's own is printed directly, without an NMI, unless excluded).
  void trigger_backtrace(CpuId from, std::span<const CpuId> mask, bool exclude_self);
  /// native_stop_other_cpus (panic/reboot): the REBOOT_VECTOR IRQ to every
  /// other CPU, then an NMI to those that did not stop within 1 s.
  void stop_other_cpus(CpuId from);
  StopPhase stop_phase() const;
  /// The NMI selftest (remote then local); its report goes to the console.
  void run_selftest(CpuId from);
  /// kgdb's roundup of the other CPUs: a debugger session begins (kgdb_active)
  /// and lasts until kgdb_session_end(); a scenario's session lasts to the end.
  void kgdb_roundup(CpuId from);
  /// The debugger session ends (kgdb_active back to -1).
  void kgdb_session_end() { kgdb_active_ = false; }
  bool kgdb_active() const { return kgdb_active_; }
  /// MCE injection broadcast to `targets`.
  void mce_inject(CpuId from, std::span<const CpuId> targets);
  /// Perf counters overflow on `cpu` (the PMU raises a PMI through LVTPC).
  void pmu_overflow(CpuId cpu, unsigned counters);
  /// The owner of counters the kernel's perf handler finds overflowed besides
  /// its own (KVM's vPMU events; null: none).
  void set_perf_overflow_sink(PerfOverflowSink* sink) { perf_sink_ = sink; }
  /// perf's NMI handler, registered if it is not (Linux always has it when
  /// the CPU has a PMU): KVM's vPMU counts on it for the host PMIs of its events.
  HandlerId ensure_perf_handler() { return ensure_role(HandlerModel::pmi); }
  /// A platform NMI through LINT1 (with a port 0x61 reason, or none).
  void external_nmi(CpuId cpu, machine::NmiReason reason);
  /// stop_nmi() / restart_nmi(): the IDT entry ignores NMIs while > 0.
  void stop_nmi() { ++ignore_nmis_; }
  void restart_nmi() {
    if (ignore_nmis_ > 0) --ignore_nmis_;
  }

  // --- Results -------------------------------------------------------------------
  const KernelCpuState& cpu_state(CpuId cpu) const;
  /// The console log, with the panic record.
  Console& console() { return console_; }
  const Console& console() const { return console_; }
  bool panicked() const { return console_.panicked(); }
  /// io_check_error's wait inside the NMI: 19,999 x the timing parameter
  /// iochk_udelay (docs/kernel.md "nmi_reason_lock and io_check_error's wait").
  Cycle iochk_wait() const;
  /// The machine has stopped: a panic, after panic() stopped the other CPUs
  /// (docs/kernel.md "A panic stops the machine").
  bool machine_halted() const { return halted_; }
  /// The flag behind machine_halted(), for a run loop that reads it after
  /// every event without a call (EventQueue::run_batch).
  const bool& machine_halted_flag() const { return halted_; }
  /// Keeps the dispatch cycles of each NMI (for the summary and compare's
  /// percentiles) in constant memory (Samples); off by default.
  void record_dispatch_samples(bool on) { record_samples_ = on; }
  const Samples& nmi_dispatch_samples() const { return samples_; }
  const Selftest& selftest() const { return selftest_; }

  // cpu::OsEntry
  void on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) override;
  /// The NMI entry's code (timing nmi_entry) for an NMI; 0 for anything else.
  Cycle entry_code(const cpu::Delivery& d) const override;
  void on_resume(cpu::Cpu& cpu, cpu::RunState resumed) override;
  /// A maskable interrupt: sysvec_reboot for REBOOT_VECTOR during a stop.
  void on_interrupt(cpu::Cpu& cpu, std::uint8_t vector) override;

  /// KVM: after an NMI-induced VM exit, run the host's NMI entry with a frame
  /// built in software (event data = the exit qualification, read
  /// unconditionally), or the IDT stub without FRED (docs/hardware.md §4 "VMX"). `then` runs
  /// when the entry's return has completed (KVM goes on to VM entry).
  /// `exit_started` is the cycle the VM exit began and `entry_cycles` the VM
  /// entry that will follow, for the dispatch samples.
  /// Runs `fn` in process context on `cpu`: now when the CPU runs its ordinary
  /// code, otherwise when it returns to it from the NMI (or other event) it is
  /// in. A CPU stopped for good, or a halted machine, never runs it. One piece
  /// of work per CPU: a second replaces the first.
  void in_process_context(CpuId cpu, std::function<void()> fn);

  void kvm_handle_nmi_exit(CpuId cpu, std::uint64_t exit_qualification, Cycle exit_started,
                           Cycle entry_cycles, std::function<void()> then);

 private:
  friend class NmiContext;
  struct CpuCtx;

  Kernel(machine::Machine& machine, Platform* platform, std::unique_ptr<Platform> owned,
         const KernelConfig& config);
  /// The kernel's context of the CPU model `cpu` (a host CPU number).
  CpuCtx& ctx_of(const cpu::Cpu& cpu);

  /// `entry_ran`: the entry code has run already (folded into the delivery);
  /// otherwise it is scheduled (KVM's software entry).
  void begin_nmi(CpuCtx& c, const cpu::Delivery& d, bool entry_ran);
  void start_default_do_nmi(CpuCtx& c);
  void begin_handle(CpuCtx& c, NmiType type);
  void call_next_handler(CpuCtx& c);
  void handle_done(CpuCtx& c);
  void iochk_wait_done(CpuCtx& c);
  void lock_reason_and_read(CpuCtx& c);
  void unlock_reason(CpuCtx& c);
  void after_reason_read(CpuCtx& c);
  void finish_do_nmi(CpuCtx& c, std::string_view outcome);
  /// The exit code (`exit_code` cycles), then IRET/ERETU/ERETS.
  void return_from_nmi(CpuCtx& c, Cycle exit_code = 0);
  void on_cpu_event(CpuCtx& c, std::uint32_t kind);
  NmiHandlerFn make_model(HandlerId id, HandlerModel model, Cycle check, Cycle handle);
  /// The handler that does this sender's work: always a valid, registered id.
  HandlerId ensure_role(HandlerModel model);
  /// The model's handler gets work on every other CPU, which an NMI by
  /// shorthand then reaches (the kgdb roundup).
  void roundup_others(CpuId from, HandlerModel model, unsigned vector);
  Result<HandlerId> register_action(NmiType type, NmiHandlerFn fn, unsigned flags,
                                    std::string_view name, unsigned vector, HandlerModel model);
  std::uint64_t cycles_to_ns(Cycle c) const;
  bool reaches_longest_ns(Cycle c) const;  // cycles_to_ns(c) >= config's nmi_longest_ns
  /// nmi_panic -> panic(): the panic line, then smp_send_stop(); the machine
  /// halts when the stop is over. Nothing more runs on `cpu`.
  void nmi_panic(CpuId cpu, std::string message);
  bool panicked_on(CpuId cpu) const { return console_.panicked() && console_.panic()->cpu == cpu; }
  Cycle us_to_cycles(std::uint64_t us) const;
  // stop.cpp: native_stop_other_cpus' waits and stop_this_cpu.
  struct StopCtx;
  void start_stop_wait(std::uint64_t us);
  void on_stop_event(std::uint32_t kind, std::uint64_t arg);
  void finish_stop();
  void stop_mask_clear(CpuId cpu);
  void stop_this_cpu(CpuId cpu, std::string_view via);
  void disable_local_apic(CpuId cpu);
  void halt_machine();
  void trace_stop(CpuId cpu, std::string_view phase, std::uint32_t cpus);
  /// Emits one of the kernel's records for its CPU `cpu` (the caller checked
  /// that the tracer is enabled). A guest kernel's record is the host CPU's,
  /// with `vm` and `vcpu` ahead of `fields` (built on the stack: no allocation).
  void trace(CpuId cpu, std::string_view event, std::span<const TraceField> fields) const;
  void trace(CpuId cpu, std::string_view event, std::initializer_list<TraceField> fields) const {
    trace(cpu, event, std::span<const TraceField>(fields.begin(), fields.size()));
  }

  machine::Machine& machine_;
  std::unique_ptr<Platform> owned_platform_;  // the host's MachinePlatform
  Platform& platform_;
  PerfOverflowSink* perf_sink_ = nullptr;
  std::uint32_t cpu_count_;
  // The kernel's CPU number of each host CPU that runs one of its CPUs (the
  // identity on the host), for the deliveries and resumes the CPUs report.
  std::vector<CpuId> local_of_host_;
  KernelConfig config_;
  Console console_;
  HandlerRegistry registry_;
  std::vector<std::unique_ptr<CpuCtx>> cpus_;
  Samples samples_;
  bool record_samples_ = false;
  CpuId reason_owner_ = kNoCpu;  // the CPU whose external NMI latched the port 0x61 reason
  // nmi_reason_lock (arch/x86/kernel/nmi.c): the CPU holding it across the port
  // 0x61 read and the SERR / IOCHK handling, and how many CPUs spin for it.
  CpuId reason_lock_holder_ = kNoCpu;
  std::uint32_t reason_lock_spinners_ = 0;
  unsigned ignore_nmis_ = 0;
  CpuId stopping_cpu_ = kNoCpu;
  std::unique_ptr<StopCtx> stop_;  // made by the first stop
  bool halted_ = false;            // machine_halted()
  std::string panic_message_;
  bool kgdb_active_ = false;
  CpuId nmi_code_cpu_ = kNoCpu;  // the CPU running a handler call now (NMI context)
  Selftest selftest_;
  HandlerId roles_[9];
};

}  // namespace fredsim::kernel
