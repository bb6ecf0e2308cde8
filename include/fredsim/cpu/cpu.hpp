#pragma once
// One logical CPU: the architectural state that matters to NMIs, FRED and IDT
// event delivery, the NMI latch with its NMI-source bitmap, and the return
// instructions ERETS, ERETU and IRET (docs/hardware.md §1 "FRED event delivery" and §2 "NMI-source
// reporting").
//
// The CPU knows nothing of Linux or of the APIC. It reaches the OS through the
// OsEntry interface, VMX non-root operation through VmxHooks, and devices that own
// MSR ranges (the x2APIC) through MsrDevice, all declared here.
#include <array>
#include <cstdint>
#include <string_view>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/cpu/fault.hpp"
#include "fredsim/cpu/fred_frame.hpp"
#include "fredsim/cpu/fred_msrs.hpp"
#include "fredsim/cpu/interrupt_source.hpp"
#include "fredsim/cpu/msr_device.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::cpu {

class Cpu;

/// CPUID.(EAX=7,ECX=1):EAX feature bits of docs/hardware.md §1 "FRED event delivery".
struct CpuFeatures {
  bool fred = true;
  bool lkgs = true;
  bool wrmsrns = true;
  bool nmi_source = true;

  std::uint32_t cpuid_7_1_eax() const;
  static CpuFeatures from_cpuid_7_1_eax(std::uint32_t eax);
  /// FRED depends on LKGS, NMI_SOURCE on FRED (docs/hardware.md §1 "FRED event delivery"): an error
  /// names the broken dependency.
  Status check() const;
  /// Bare-metal IDT machine: no FRED, no NMI-source.
  static CpuFeatures legacy() { return {false, true, true, false}; }
};

/// An event to deliver: type, vector, error code, event data (docs/hardware.md §1 "FRED event
/// delivery").
struct EventInfo {
  EventType type = EventType::nmi;
  std::uint8_t vector = arch::kNmiVector;
  std::uint64_t error_code = 0;
  std::uint64_t event_data = 0;
  std::uint8_t instruction_length = 0;  // INT n, INT1, INT3, INTO, SYSCALL, SYSENTER
  bool nested = false;                  // an exception during delivery

  static EventInfo nmi(std::uint64_t event_data) {
    return {EventType::nmi, arch::kNmiVector, 0, event_data, 0, false};
  }
};

enum class DeliveryPath : std::uint8_t { fred, idt, vmexit };
std::string_view delivery_path_name(DeliveryPath p);

/// An instruction that opens a one-instruction shadow: events are inhibited on
/// the instruction boundary after it, so the first boundary where they can be
/// taken is the one after the next instruction (docs/cpu.md "Instruction
/// shadows").
///  - sti: STI executed with RFLAGS.IF = 0. SDM Vol. 2B "STI-Set Interrupt
///    Flag": maskable interrupts stay inhibited on that boundary, and NMIs "may
///    be" inhibited there too; the inhibition ends with the next instruction or
///    the delivery of another event. Vol. 3C "Format of Interruptibility State"
///    (bit 0, blocking by STI: interrupts "and, optionally, other events") and
///    the VM-entry checks on guest non-register state (a processor may refuse
///    to inject an NMI with blocking by STI, others may not) leave the choice to
///    the processor. The model holds NMIs by default, as kvm-unit-tests x86/apic.c
///    "nmi-after-sti" expects of KVM; Cpu::open_shadow's `holds_nmi` = false
///    models a processor that does not.
///  - mov_ss: MOV SS or POP SS. SDM Vol. 3A "Masking Exceptions and Interrupts
///    When Switching Stacks": interrupts, debug exceptions and single-step traps
///    are inhibited until the boundary after the next instruction; Vol. 3C
///    (bit 1, blocking by MOV SS; VM entry refuses to inject an NMI with it set)
///    makes that blocking cover NMIs. Always holds NMIs.
enum class Shadow : std::uint8_t { none, sti, mov_ss };
std::string_view shadow_name(Shadow s);

/// What the OS entry point receives when the CPU reaches it.
/// (The small members come first: 120 bytes, two cache lines.)
struct Delivery {
  DeliveryPath path = DeliveryPath::fred;
  std::uint8_t csl = 0;       // CSL after delivery
  std::uint8_t from_cpl = 0;  // CPL at the event
  bool software = false;      // a frame built by software (KVM), not by the CPU
  EventInfo event;
  FredFrame frame;              // FRED: the pushed frame; IDT: the same slots, no event data
  std::uint64_t frame_rsp = 0;  // the new RSP (address of the error-code slot)
  Cycle started = 0;            // cycle the delivery began
};

/// What the CPU is doing. NMIs are taken only in `running` (and when unblocked).
enum class RunState : std::uint8_t {
  running,     // ordinary code (idle loop, user code, guest): RIP moves on
  delivering,  // delivering an event, until the entry point is reached
  in_os,       // running an OS entry point (handler code)
  returning,   // executing ERETS / ERETU / IRET
  transition,  // VM entry or exit in progress (vmx layer)
};
std::string_view run_state_name(RunState s);

/// The OS, as the CPU sees it. The kernel model implements this.
class OsEntry {
 public:
  /// The CPU has delivered `d` and runs the first instruction of the entry point,
  /// or, when entry_code() is not 0, the first instruction after that code.
  virtual void on_delivery(Cpu& cpu, const Delivery& d) = 0;
  /// The cycles of the OS's entry code for `d`, a fixed-length stub that runs
  /// before its handling can see anything (Linux's NMI entry: registers saved,
  /// stack switched). The CPU folds them into the delivery's event, so
  /// on_delivery comes that much later and run_state() stays `delivering` until
  /// then; with NMIs blocked nothing else can happen on the CPU meanwhile.
  virtual Cycle entry_code(const Delivery& /*d*/) const { return 0; }
  /// A return instruction completed and the CPU goes on with the code it
  /// interrupted: ordinary code (`RunState::running`) or OS code that had NMIs
  /// unblocked (`RunState::in_os`, e.g. KVM after the ERETS of its frame). Not
  /// called while an NMI taken back-to-back at the return is being handled: the
  /// CPU calls it when that one returns in turn.
  virtual void on_resume(Cpu& /*cpu*/, RunState /*resumed*/) {}
  /// The CPU took the maskable interrupt `vector` from its InterruptSource
  /// (docs/hardware.md "Maskable interrupts"): RFLAGS.IF is 0 now and the OS's
  /// handler for the vector runs. The default takes nothing further.
  virtual void on_interrupt(Cpu& /*cpu*/, std::uint8_t /*vector*/) {}

 protected:
  ~OsEntry() = default;
};

/// VMX non-root operation, as the CPU sees it. The vmx layer implements this.
class VmxHooks {
 public:
  /// Pin-based "NMI exiting": an NMI causes a VM exit.
  virtual bool nmi_exiting() const = 0;
  /// Pin-based "virtual NMIs": guest NMI blocking is virtual, so it does not hold
  /// back physical NMIs.
  virtual bool virtual_nmis() const = 0;
  /// Take an NMI-induced VM exit. The CPU has already taken the latch (cleared the
  /// pending NMI and its bitmap, passed here) and counted the delivery; the hook
  /// writes the exit fields, switches to the host and schedules the rest.
  virtual void nmi_vm_exit(Cpu& cpu, std::uint16_t source_bitmap) = 0;
  /// At an instruction boundary of the guest where the CPU would look at its NMI
  /// latch: true when the vmx layer holds events back there (blocking by STI or
  /// MOV SS from VM entry) or took a VM exit that comes first (NMI-window
  /// exiting, which takes priority over NMIs). The CPU then leaves its latch alone.
  virtual bool at_boundary(Cpu& /*cpu*/) { return false; }

 protected:
  ~VmxHooks() = default;
};

/// Architectural state that VM entry and exit save and load.
struct ArchState {
  std::uint8_t cpl = 0;
  std::uint8_t csl = 0;
  std::uint64_t rip = 0;
  std::uint64_t rsp = 0;
  std::uint64_t rflags = arch::kRflagsFixed1;
  std::uint16_t cs = arch::kKernelCs;
  std::uint16_t ss = arch::kKernelSs;
  std::uint64_t cr4 = 0;
  std::array<std::uint64_t, 4> fred_rsp{};
  std::array<std::uint64_t, 4> fred_ssp{};  // [0] is IA32_PL0_SSP
  FredStklvls stklvls;
  FredConfig config;
  std::uint64_t star = 0;
  bool nmi_blocked = false;
  /// The HLT activity state (a VM entry may load it): RIP stays at the
  /// instruction after HLT until an event is delivered.
  bool halted = false;
};

/// Per-CPU counters for the result (docs/format.md "Result JSON").
struct CpuStats {
  std::uint64_t nmi_received = 0;   // NMIs that reached the CPU
  std::uint64_t nmi_coalesced = 0;  // merged into one already pending
  std::uint64_t nmi_delivered = 0;  // FRED/IDT deliveries and NMI-induced VM exits
  std::uint64_t vm_exits_nmi = 0;
  std::uint64_t dispatch_cycles = 0;   // delivery to the return that ends the NMI
  std::uint64_t faults = 0;            // #GP/#UD raised by the model
  std::uint64_t events_delivered = 0;  // all events, NMIs included
  // Instruction shadows (docs/cpu.md "Instruction shadows"); all 0 on a CPU
  // that never opened one.
  std::uint64_t shadows = 0;              // shadows opened
  std::uint64_t nmi_deferred_shadow = 0;  // latched NMIs a shadow held to its end
  std::uint64_t nmi_at_shadow_rip = 0;    // NMIs taken with RIP = the RIP after the
                                          // shadowing instruction (kvm-unit-tests'
                                          // nmi_hlt_counter)
};

class Cpu final : public EventTarget {
 public:
  struct Config {
    CpuId id = 0;
    CpuFeatures features;
    /// The symbolic RIP of the idle loop the CPU starts in (ring 0).
    std::uint64_t idle_rip = 0xFFFFFFFF81000000ull;
    std::uint64_t idle_rsp = 0xFFFFC90000004000ull;
  };

  Cpu(const Config& config, SimContext ctx);
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  CpuId id() const { return id_; }
  const CpuFeatures& features() const { return features_; }

  // --- Connections --------------------------------------------------------
  void set_os_entry(OsEntry* os) { os_ = os; }
  OsEntry* os_entry() const { return os_; }
  /// Non-null while the CPU is in VMX non-root operation.
  void set_vmx(VmxHooks* hooks) { vmx_ = hooks; }
  VmxHooks* vmx() const { return vmx_; }
  bool non_root() const { return vmx_ != nullptr; }
  /// Adds a device that owns an MSR range (at most 4).
  void attach_msr_device(MsrDevice& device);
  /// The controller behind the INTR input (the local APIC).
  void attach_interrupt_source(InterruptSource& source) { intr_ = &source; }

  // --- The maskable-interrupt input (docs/hardware.md "Maskable interrupts") ---------
  /// The interrupt source has a request: the CPU takes it at once when it can
  /// (see can_take_interrupt), else when that becomes true.
  void interrupt_requested();
  /// The ordinary code executes CLI (false) or STI (true): RFLAGS.IF of the
  /// code the CPU runs between events. Inside an event handler it applies when
  /// the CPU returns to that code.
  void set_interrupt_flag(bool enabled);
  bool interrupt_flag() const { return code_if_; }
  /// RFLAGS.IF = 1, the CPU runs its ordinary code (no event being delivered,
  /// handled or returned from, no NMI blocking, not in VMX non-root operation):
  /// SDM Vol. 3A "Interrupt Handling" (maskable interrupts wait for IF and for
  /// the end of an NMI handler).
  bool can_take_interrupt() const;
  /// HLT in the ordinary code: RIP stops until an event is delivered.
  void hlt();

  // --- The NMI input (docs/hardware.md §2 "NMI-source reporting")
  // -------------------------------------
  /// An NMI reaches the CPU carrying an NMI-source vector. Any value is accepted:
  /// 1..15 set that bit, anything else bit 0.
  void raise_nmi(std::uint32_t source_vector);
  /// raise_nmi() `count` times in a row, as identical messages that arrive
  /// together do: the ones that find an NMI already waiting behind blocking only
  /// merge into it, and are counted without the rest of the path.
  void raise_nmis(std::uint32_t source_vector, std::uint64_t count);
  bool nmi_pending() const { return nmi_pending_; }
  std::uint16_t nmi_source_bitmap() const { return bitmap_; }
  bool nmi_blocked() const { return nmi_blocked_; }
  /// NMI-source reporting is active: enumerated and CR4.FRED = 1 (docs/hardware.md §2 "NMI-source
  /// reporting"). In VMX non-root operation the host's CR4 counts: the bitmap is the physical
  /// CPU's, reported in the exit qualification (docs/hardware.md §4 "VMX").
  bool nmi_source_active() const {
    return features_.nmi_source && ((non_root() ? root_cr4_ : cr4_) & arch::kCr4Fred) != 0;
  }

  // --- Instructions (called by the OS model at the current cycle) ----------
  /// ERETS / ERETU / IRET: check and pop the frame at RSP; the return completes
  /// after its cost, then a pending unblocked NMI is delivered back-to-back.
  /// `after` is the OS code that runs before the instruction (an exit path of
  /// known length): the checks happen now, the return completes `after` + its
  /// cost from now, and the CPU is "returning" meanwhile. It saves the OS model
  /// an event per return; nothing else can run on the CPU in between.
  Fault erets(Cycle after = 0);
  Fault eretu(Cycle after = 0);
  Fault iret(Cycle after = 0);
  MsrRead rdmsr(std::uint32_t index);
  Fault wrmsr(std::uint32_t index, std::uint64_t value);
  /// MOV to CR4. Setting CR4.FRED without FRED enumerated #GPs.
  Fault write_cr4(std::uint64_t value);
  /// Delivers an event now through FRED or the IDT of the current context,
  /// bypassing the NMI latch: exceptions, external interrupts, and events a VMM
  /// injects at VM entry (an NMI so delivered blocks NMIs but is not counted as a
  /// latched NMI). #GP when the CPU is not executing code.
  Fault deliver_event(const EventInfo& event);
  /// Software builds a FRED frame on the current stack (KVM after an NMI exit,
  /// docs/hardware.md §4 "VMX"): pushes it 64-byte aligned below RSP. The OS then runs its
  /// entry and returns with ERETS like after a hardware delivery.
  void push_software_frame(const FredFrame& frame);
  /// The frame KVM pushes for the host's NMI entry after an NMI VM exit
  /// (docs/hardware.md §4 "VMX"): this CPU's RIP, CS with its stack level, RSP and SS, and
  /// `rflags`. With `fred` SS also names the event (NMI, vector 2, 64-bit) and the
  /// frame carries `event_data` (the exit qualification); without it is the IDT
  /// frame: the bare SS selector and no event data.
  FredFrame software_nmi_frame(std::uint64_t rflags, bool fred, std::uint64_t event_data) const;
  /// The frame at the current RSP (what ERETS/ERETU/IRET would pop); null if none.
  const FredFrame* frame_at_rsp() const;
  FredFrame* frame_at_rsp();

  // --- Context switches the platform performs -----------------------------
  /// Runs ordinary code in ring 3 (scenario "user" events) or back in ring 0.
  /// Takes effect now when the CPU runs ordinary code, else at the next resume.
  void set_user_mode(bool user);
  ArchState save_state() const;
  void load_state(const ArchState& state);
  /// For the vmx layer: a VM entry or exit is in progress (no NMI taken).
  void begin_transition();
  /// The transition is over: the CPU runs ordinary code (the guest after an
  /// entry) and takes a pending NMI if it can. `resumed` = RunState::in_os: the
  /// guest goes on in the OS code a VM exit interrupted (its NMI handler, say).
  void end_transition(RunState resumed = RunState::running);
  /// What the CPU was executing when its last transition began (the guest's
  /// ordinary code or OS code, at a VM exit).
  RunState state_before_transition() const { return before_transition_; }
  /// The CPU runs OS code (the host after a VM exit) until a return.
  void enter_os() { state_ = RunState::in_os; }
  /// For the vmx layer: the VM entry that ends an NMI-induced exit completed
  /// (closes the NMI's dispatch time, records nmi_return via "vmentry").
  void complete_nmi_vm_entry();
  void set_nmi_blocked(bool blocked) { nmi_blocked_ = blocked; }
  /// For the vmx layer: look again at the NMI latch (and the vmx layer's
  /// boundary) now, e.g. when a blocking of events ends.
  void recheck_events() { try_deliver(); }
  /// In the HLT activity state (ArchState::halted).
  bool halted() const { return halted_; }

  // --- Instruction shadows (docs/cpu.md "Instruction shadows") ------------------
  /// The ordinary code executes STI (with IF = 0) or MOV SS now: the shadow lasts
  /// the next instruction (TimingParam::shadow_insn cycles). While it is
  /// open an NMI that becomes deliverable stays latched (when `holds_nmi`) and is
  /// taken at the boundary that closes it. Opens nothing, and says so, when the
  /// CPU is not running ordinary code or a shadow is already open (SDM Vol. 3A:
  /// of consecutive SS loads only the first is guaranteed to inhibit events).
  bool open_shadow(Shadow kind, bool holds_nmi);
  Shadow shadow() const { return shadow_; }

  // --- State ---------------------------------------------------------------
  RunState run_state() const { return state_; }
  std::uint8_t cpl() const { return cpl_; }
  std::uint8_t csl() const { return csl_; }
  /// RIP now: while running ordinary code it moves on with time.
  std::uint64_t rip() const;
  std::uint64_t rsp() const { return rsp_; }
  std::uint64_t rflags() const { return rflags_; }
  std::uint16_t cs() const { return cs_; }
  std::uint16_t ss() const { return ss_; }
  std::uint64_t cr4() const { return cr4_; }
  bool fred_enabled() const { return (cr4_ & arch::kCr4Fred) != 0; }
  FredConfig fred_config() const { return config_; }
  FredStklvls fred_stklvls() const { return stklvls_; }
  std::uint64_t fred_rsp(unsigned level) const { return fred_rsp_[level & 3]; }
  /// The IDT NMI stack (the TSS IST entry Linux gives vector 2).
  void set_idt_nmi_stack(std::uint64_t rsp) { idt_nmi_stack_ = rsp; }
  /// PMU: counters overflowed (sets IA32_PERF_GLOBAL_STATUS bits). The platform
  /// asserts LVTPC separately.
  void pmu_overflow(std::uint64_t counter_mask) { perf_global_status_ |= counter_mask; }
  std::uint64_t perf_global_status() const { return perf_global_status_; }
  const CpuStats& stats() const { return stats_; }
  Fault last_fault() const { return last_fault_; }
  SimContext& context() { return ctx_; }
  Cycle now() const { return ctx_.now(); }

  // EventTarget
  void on_event(std::uint32_t kind, std::uint64_t arg) override;
  std::string_view event_name(std::uint32_t kind) const override;
  CpuId event_cpu() const override { return id_; }

 private:
  enum EventKind : std::uint32_t { kEntryReached, kReturnDone, kShadowEnd };
  enum class ReturnVia : std::uint8_t { erets, eretu, iret };
  // A pushed frame's bookkeeping; the frame itself is in frames_ (one cache line).
  struct SlotInfo {
    std::uint64_t address = 0;
    bool nmi = false;       // pushed by an NMI delivery
    bool software = false;  // built by software (KVM)
    RunState interrupted = RunState::running;
  };
  static constexpr std::uint8_t kMaxDepth = 8;  // frames kept
  // The spare slot a return in flight moves to when a push would reuse its own.
  static constexpr std::uint8_t kSpareSlot = kMaxDepth;

  void try_deliver();
  void try_take_interrupt();
  void hold_in_shadow();
  void close_shadow() { shadow_ = Shadow::none; }
  void deliver_nmi();
  void fred_deliver(const EventInfo& ev, DeliveryPath path);
  void idt_deliver(const EventInfo& ev);
  void start_entry(Cycle cost);  // of the delivery in entry_
  Fault fault(Fault f, std::string_view what);
  Fault start_return(ReturnVia via, bool unblock_nmi, std::uint8_t new_csl, std::uint8_t new_cpl,
                     Cycle after);
  void complete_return();
  void push_frame(std::uint64_t address, const FredFrame& frame, bool nmi, bool software);
  // Trace records of the NMI path; called only when the tracer is enabled.
  void trace_deliver(const Delivery& d) const;
  void trace_receive(std::uint32_t source_vector, bool coalesced) const;
  void trace_return(bool nmi_unblocked) const;
  MsrDevice* device_for(std::uint32_t index) const;

  // The data members are laid out by when the NMI path uses them (docs/benchmarks.md
  // item 17): a broadcast to thousands of CPUs finds every CPU's object out of the
  // first-level cache at each of its steps (arrival and delivery, the entry
  // point, the return instruction, the return's end), so each step should read
  // as few cache lines of it as it can. The first four lines hold everything
  // the native NMI path reads but the delivery record and the frame; what only
  // VMX, MSR access, instruction shadows or ring 3 need comes last.

  // Line 0, with the vtable pointer: identity and links.
  CpuId id_;
  CpuFeatures features_;
  SimContext ctx_;
  OsEntry* os_ = nullptr;
  VmxHooks* vmx_ = nullptr;
  InterruptSource* intr_ = nullptr;

  // Line 1: run state, the NMI latch (docs/hardware.md §2 "NMI-source
  // reporting"), the return in flight, and the registers every step reads.
  RunState state_ = RunState::running;
  RunState before_transition_ = RunState::running;
  bool nmi_pending_ = false;
  bool nmi_blocked_ = false;
  std::uint16_t bitmap_ = 0;
  bool halted_ = false;          // HLT activity state: RIP does not move
  bool intr_requested_ = false;  // the source may have a request the CPU has not taken
  bool code_if_ = true;          // RFLAGS.IF of the ordinary code (CLI/STI)
  bool want_user_ = false;
  std::uint8_t cpl_ = 0;
  std::uint8_t csl_ = 0;
  std::uint8_t depth_ = 0;  // frames pushed and not yet popped
  // Return in flight: the popped slot (its index) and what the instruction decided.
  std::uint8_t returning_ = 0;
  ReturnVia return_via_ = ReturnVia::erets;
  bool return_unblocks_ = false;
  std::uint8_t return_csl_ = 0;
  std::uint8_t return_cpl_ = 0;
  // The NMI being handled, and the NMI-induced VM exit being handled (from the
  // exit to the VM entry): open flags here, their starts below, for dispatch_cycles.
  bool nmi_open_ = false;
  bool vmexit_open_ = false;
  // Instruction shadow: open from open_shadow() to the kShadowEnd event whose
  // arg is shadow_seq_ (a shadow closed early leaves a stale event behind).
  Shadow shadow_ = Shadow::none;
  bool shadow_used_ = false;  // a shadow was ever opened: check RIPs at delivery
  bool shadow_holds_nmi_ = false;
  bool shadow_held_ = false;  // the latched NMI was counted as held by this shadow
  std::uint16_t cs_ = arch::kKernelCs;
  std::uint16_t ss_ = arch::kKernelSs;
  Fault last_fault_ = Fault::none;
  std::uint64_t cr4_ = 0;
  std::uint64_t rip_ = 0;  // while running: RIP at resumed_at_
  Cycle resumed_at_ = 0;
  Cycle nmi_started_ = 0;

  // Line 2: the rest of what a FRED delivery reads.
  std::uint64_t rsp_ = 0;
  std::uint64_t rflags_ = arch::kRflagsFixed1 | arch::kRflagsIf;
  FredStklvls stklvls_;
  FredConfig config_;
  std::array<std::uint64_t, 4> fred_rsp_{};

  // Line 3: the counters (the ones the NMI path counts come first).
  CpuStats stats_;
  std::uint64_t root_cr4_ = 0;  // CR4 of VMX root operation: NMI-source follows the host
  Cycle vmexit_started_ = 0;
  // Ring-0 and ring-3 ordinary contexts the CPU runs between events.
  std::uint64_t kernel_rip_;
  std::uint64_t kernel_rsp_;
  std::uint64_t star_ = 0;
  std::uint64_t idt_nmi_stack_ = 0xFFFFFE0000010000ull;

  // Two lines: the delivery whose entry point is being reached (or was last).
  alignas(64) Delivery entry_;

  // Frames pushed and not yet popped, innermost last, and the spare slot: the
  // bookkeeping of four slots shares a line, and each frame has a line.
  alignas(64) std::array<SlotInfo, kMaxDepth + 1> slots_{};
  alignas(64) std::array<FredFrame, kMaxDepth + 1> frames_{};

  // Cold: MSR devices, shadow stacks, PMU, the shadow's details.
  std::array<MsrDevice*, 4> devices_{};
  std::array<std::uint64_t, 4> fred_ssp_{};
  std::uint64_t perf_global_status_ = 0;
  std::uint64_t shadow_rip_ = 0;  // RIP after the shadowing instruction
  Cycle shadow_until_ = 0;
  std::uint64_t shadow_seq_ = 0;
};

}  // namespace fredsim::cpu
