#include "fredsim/cpu/cpu.hpp"

#include <algorithm>
#include <cassert>

namespace fredsim::cpu {

using namespace arch;

// --- CpuFeatures -------------------------------------------------------------

std::uint32_t CpuFeatures::cpuid_7_1_eax() const {
  return (fred ? 1u << kCpuidFredBit : 0u) | (lkgs ? 1u << kCpuidLkgsBit : 0u) |
         (wrmsrns ? 1u << kCpuidWrmsrnsBit : 0u) | (nmi_source ? 1u << kCpuidNmiSourceBit : 0u);
}

CpuFeatures CpuFeatures::from_cpuid_7_1_eax(std::uint32_t eax) {
  return {(eax >> kCpuidFredBit & 1u) != 0, (eax >> kCpuidLkgsBit & 1u) != 0,
          (eax >> kCpuidWrmsrnsBit & 1u) != 0, (eax >> kCpuidNmiSourceBit & 1u) != 0};
}

Status CpuFeatures::check() const {
  // docs/hardware.md §1 "FRED event delivery": FRED depends on LKGS; NMI_SOURCE depends on FRED.
  if (fred && !lkgs) return Error{"CPUID: FRED (bit 17) enumerated without LKGS (bit 18)"};
  if (nmi_source && !fred) {
    return Error{
        "CPUID: NMI_SOURCE (bit 20) enumerated without FRED (bit 17): NMI-source reporting "
        "needs FRED, so turn nmi_source off with fred (or start from CpuFeatures::legacy())"};
  }
  return {};
}

std::string_view delivery_path_name(DeliveryPath p) {
  switch (p) {
    case DeliveryPath::fred:
      return "fred";
    case DeliveryPath::idt:
      return "idt";
    case DeliveryPath::vmexit:
      return "vmexit";
  }
  return "?";
}

std::string_view run_state_name(RunState s) {
  switch (s) {
    case RunState::running:
      return "running";
    case RunState::delivering:
      return "delivering";
    case RunState::in_os:
      return "in_os";
    case RunState::returning:
      return "returning";
    case RunState::transition:
      return "transition";
  }
  return "?";
}

std::string_view shadow_name(Shadow s) {
  switch (s) {
    case Shadow::none:
      return "none";
    case Shadow::sti:
      return "sti";
    case Shadow::mov_ss:
      return "mov_ss";
  }
  return "?";
}

// --- Cpu -----------------------------------------------------------------------

Cpu::Cpu(const Config& config, SimContext ctx)
    : id_(config.id),
      features_(config.features),
      ctx_(ctx),
      rip_(config.idle_rip),
      rsp_(config.idle_rsp),
      kernel_rip_(config.idle_rip),
      kernel_rsp_(config.idle_rsp) {}

void Cpu::attach_msr_device(MsrDevice& device) {
  for (auto& d : devices_) {
    if (d == nullptr) {
      d = &device;
      return;
    }
  }
  assert(false && "at most four MSR devices per CPU");
}

MsrDevice* Cpu::device_for(std::uint32_t index) const {
  for (MsrDevice* d : devices_) {
    if (d != nullptr && d->claims_msr(index)) return d;
  }
  return nullptr;
}

namespace {
std::uint64_t advance_rip(std::uint64_t rip, Cycle ran) {
  if (rip < kKernelTextBegin || rip >= kKernelTextEnd) return rip + ran;
  // A kernel RIP wraps around inside the kernel text (the same value as
  // rip + ran until it would leave it). A stretch that ran never ends where it
  // began, even after a whole multiple of the text size: one byte further on.
  constexpr std::uint64_t kSize = kKernelTextEnd - kKernelTextBegin;
  const std::uint64_t from = rip - kKernelTextBegin;
  // The usual stretch stays inside the text: the same value as below, without
  // its two divisions.
  if (ran < kSize - from) return rip + ran;
  std::uint64_t to = (from + ran % kSize) % kSize;
  if (ran != 0 && to == from) to = (to + 1) % kSize;
  return kKernelTextBegin + to;
}
}  // namespace

std::uint64_t Cpu::rip() const {
  // Ordinary code moves on: a symbolic RIP that advances with the cycles it ran,
  // so only an NMI taken at the very cycle of a return sees the same RIP again.
  return state_ == RunState::running && !halted_ ? advance_rip(rip_, ctx_.now() - resumed_at_)
                                                 : rip_;
}

Fault Cpu::fault(Fault f, std::string_view what) {
  ++stats_.faults;
  last_fault_ = f;
  if (ctx_.tracer.enabled()) {
    ctx_.tracer.emit(ctx_.now(), id_, "fault",
                     {{"fault", TraceValue::str(fault_name(f))}, {"what", TraceValue::str(what)}});
  }
  return f;
}

// --- The NMI latch (docs/hardware.md §2 "NMI-source reporting")
// -------------------------------------------

void Cpu::raise_nmi(std::uint32_t source_vector) {
  ++stats_.nmi_received;
  const bool coalesced = nmi_pending_;
  if (coalesced) ++stats_.nmi_coalesced;
  nmi_pending_ = true;
  // Sources accumulate while the NMI waits; without NMI-source nothing is kept,
  // so a coalesced NMI loses its identity.
  if (nmi_source_active()) bitmap_ |= nmi_source_bit(source_vector);
  if (ctx_.tracer.enabled()) trace_receive(source_vector, coalesced);
  try_deliver();
}

void Cpu::raise_nmis(std::uint32_t source_vector, std::uint64_t count) {
  for (; count != 0; --count) {
    // An NMI waits and blocking holds it (nothing can change that within this
    // cycle's run of messages): raise_nmi() would count each further one as
    // received and coalesced, OR in the same source bit and find try_deliver()
    // returning at the blocking test. Traced, each still gets its record.
    if (nmi_pending_ && nmi_blocked_ && !non_root() && !ctx_.tracer.enabled()) {
      stats_.nmi_received += count;
      stats_.nmi_coalesced += count;
      if (nmi_source_active()) bitmap_ |= nmi_source_bit(source_vector);
      return;
    }
    raise_nmi(source_vector);
  }
}

// Out of line and cold, as the other trace emitters of the NMI path: the
// record built on the stack made every caller save registers and set up a
// frame, tracer or not.
[[gnu::cold, gnu::noinline]] void Cpu::trace_receive(std::uint32_t source_vector,
                                                     bool coalesced) const {
  ctx_.tracer.emit(ctx_.now(), id_, "nmi_receive",
                   {{"vector", TraceValue::dec(source_vector)},
                    {"pending_bitmap", TraceValue::hex(bitmap_)},
                    {"coalesced", TraceValue::boolean(coalesced)}});
}

void Cpu::try_deliver() {
  if (state_ != RunState::running && state_ != RunState::in_os) return;
  // One flag test for CPUs that never get a maskable interrupt.
  if (intr_requested_ && !nmi_pending_) try_take_interrupt();
  // VMX non-root: blocking from VM entry, or an NMI-window exit first.
  if (non_root() && vmx_->at_boundary(*this)) return;
  if (!nmi_pending_) return;
  if (non_root() && vmx_->nmi_exiting()) {
    // With virtual NMIs the guest's blocking is virtual and holds back nothing.
    if (nmi_blocked_ && !vmx_->virtual_nmis()) return;
  } else if (nmi_blocked_) {
    return;
  }
  // An open instruction shadow holds the NMI to the boundary that closes it
  // (docs/cpu.md "Instruction shadows"). One flag test for CPUs without shadows.
  // It covers cycles [open, shadow_until_): an NMI that arrives at the closing
  // cycle, before the closing event has run, is not held.
  if (shadow_ != Shadow::none && shadow_holds_nmi_ && ctx_.now() < shadow_until_) {
    hold_in_shadow();
    return;
  }
  deliver_nmi();
}

// --- Maskable interrupts (docs/hardware.md "Maskable interrupts") ------------------

void Cpu::interrupt_requested() {
  intr_requested_ = true;
  try_deliver();
}

void Cpu::set_interrupt_flag(bool enabled) {
  code_if_ = enabled;
  if (state_ == RunState::running && depth_ == 0) {
    rflags_ = enabled ? (rflags_ | kRflagsIf) : (rflags_ & ~kRflagsIf);
    if (enabled) try_deliver();
  }
}

bool Cpu::can_take_interrupt() const {
  return state_ == RunState::running && depth_ == 0 && !nmi_blocked_ && !non_root() &&
         (rflags_ & kRflagsIf) != 0 && shadow_ == Shadow::none;
}

void Cpu::hlt() {
  if (state_ != RunState::running) return;
  rip_ = rip();
  halted_ = true;
}

void Cpu::try_take_interrupt() {
  if (intr_ == nullptr || !can_take_interrupt()) return;
  const int v = intr_->pending_interrupt();
  if (v < 0) {
    intr_requested_ = false;
    return;
  }
  const auto vector = static_cast<std::uint8_t>(v);
  // SDM Vol. 3A ch. 11 "Interrupt Acceptance for Fixed Interrupts": the CPU
  // acknowledges, the vector moves from IRR to ISR; the gate (or FRED) clears IF.
  intr_->acknowledge_interrupt(vector);
  intr_requested_ = intr_->pending_interrupt() >= 0;
  rip_ = rip();
  halted_ = false;
  resumed_at_ = ctx_.now();
  rflags_ &= ~kRflagsIf;
  code_if_ = false;
  ++stats_.events_delivered;
  if (ctx_.tracer.enabled()) {
    ctx_.tracer.emit(ctx_.now(), id_, "irq_take", {{"vector", TraceValue::dec(vector)}});
  }
  if (os_ != nullptr) os_->on_interrupt(*this, vector);
}

// --- Instruction shadows (docs/cpu.md "Instruction shadows") ----------------------

bool Cpu::open_shadow(Shadow kind, bool holds_nmi) {
  // SDM Vol. 3A "Masking Exceptions and Interrupts When Switching Stacks": of a
  // sequence of SS loads only the first is guaranteed to inhibit events; the
  // model lets no shadowing instruction inside a shadow open another. Nor does
  // one open while the ordinary code is not executing (the CPU delivers, runs
  // an OS entry, returns or switches VMX context): its instruction stream is
  // not the one running.
  const bool opens = kind != Shadow::none && state_ == RunState::running && shadow_ == Shadow::none;
  // No trace record: a loop of STIs would flood the trace; `nmi_deferred`
  // shows the shadows that mattered.
  if (opens) {
    shadow_ = kind;
    // SDM Vol. 3C "Format of Interruptibility State": blocking by MOV SS blocks
    // NMIs on that boundary; for STI the processor decides (Shadow's comment).
    shadow_holds_nmi_ = holds_nmi || kind == Shadow::mov_ss;
    shadow_held_ = false;
    shadow_used_ = true;
    shadow_rip_ = rip();
    shadow_until_ = ctx_.now() + ctx_.cost(TimingParam::shadow_insn);
    ++shadow_seq_;
    ++stats_.shadows;
    ctx_.queue.schedule_in(ctx_.cost(TimingParam::shadow_insn), *this, kShadowEnd, shadow_seq_);
  }
  return opens;
}

void Cpu::hold_in_shadow() {
  if (shadow_held_) return;  // counted once per latched NMI
  shadow_held_ = true;
  ++stats_.nmi_deferred_shadow;
  if (ctx_.tracer.enabled()) {
    ctx_.tracer.emit(ctx_.now(), id_, "nmi_deferred",
                     {{"shadow", TraceValue::str(shadow_name(shadow_))},
                      {"rip", TraceValue::hex(shadow_rip_)},
                      {"until", TraceValue::dec(shadow_until_)}});
  }
}

void Cpu::deliver_nmi() {
  // kvm-unit-tests x86/apic.c "nmi-after-sti" counts NMIs whose saved RIP is
  // the instruction right after STI; so does the model, for the last shadow.
  if (shadow_used_ && rip() == shadow_rip_) ++stats_.nmi_at_shadow_rip;
  const std::uint16_t bitmap = bitmap_;
  bitmap_ = 0;
  nmi_pending_ = false;
  ++stats_.nmi_delivered;
  if (non_root() && vmx_->nmi_exiting()) {
    ++stats_.vm_exits_nmi;
    // Its own slot: a host NMI taken back-to-back after KVM's ERETS is handled
    // (and timed) inside this exit's window.
    vmexit_open_ = true;
    vmexit_started_ = ctx_.now();
    rip_ = rip();  // freeze the guest RIP at the exit: save_state() must see it
    before_transition_ = state_;
    state_ = RunState::transition;
    vmx_->nmi_vm_exit(*this, bitmap);
    return;
  }
  nmi_open_ = true;
  nmi_started_ = ctx_.now();
  if (fred_enabled()) {
    // docs/hardware.md §1 "Event data": the NMI-source bitmap, 0 without NMI-source.
    fred_deliver(EventInfo::nmi(bitmap), DeliveryPath::fred);
  } else {
    idt_deliver(EventInfo::nmi(0));
  }
}

// --- Delivery ----------------------------------------------------------------------

Fault Cpu::deliver_event(const EventInfo& event) {
  if (state_ != RunState::running && state_ != RunState::in_os) {
    return fault(Fault::gp, "event delivery while the CPU is not executing code");
  }
  if (fred_enabled()) {
    fred_deliver(event, DeliveryPath::fred);
  } else {
    idt_deliver(event);
  }
  return Fault::none;
}

// Inlined into deliver_nmi, whose event is a constant but for its event data:
// the level's switch, the software-initiated test and the SS slot's fields fold
// away there.
[[gnu::always_inline]] inline void Cpu::fred_deliver(const EventInfo& ev, DeliveryPath path) {
  // An event delivered ends the interrupted code's shadow: the return does not
  // bring it back (FRED's ERETS could, through SS bit 16; not modelled).
  if (shadow_ != Shadow::none) close_shadow();
  // docs/hardware.md §1 "Delivery", steps 1 to 6.
  const bool from_user = cpl_ == 3;
  const std::uint8_t old_csl = from_user ? 0 : csl_;

  // Step 2: the event's stack level.
  std::uint8_t level = 0;
  const bool double_fault = ev.type == EventType::hardware_exception && ev.vector == kDfVector;
  if (!from_user || ev.nested || double_fault) {
    switch (ev.type) {
      case EventType::external_interrupt:
        level = config_.interrupt_stack_level();
        break;
      case EventType::nmi:
      case EventType::hardware_exception:
      case EventType::privileged_software_exception:
      case EventType::software_exception:
        level = stklvls_.level(ev.vector);
        break;
      default:
        level = 0;
        break;  // INT n and other events (SYSCALL, SYSENTER)
    }
  }
  // Step 3: the level never drops on delivery.
  const std::uint8_t new_csl = std::max(level, old_csl);
  // Step 4: a fresh stack when coming from ring 3 or when the level rises, else
  // below the red zone of the current one, 64-byte aligned.
  std::uint64_t top;
  if (from_user || new_csl > old_csl) {
    top = fred_rsp_[new_csl];
  } else {
    top = (rsp_ - config_.red_zone_bytes()) & ~(kFredStackAlign - 1);
  }
  const std::uint64_t new_rsp = top - kFredFrameSize;

  const bool software_initiated = ev.type == EventType::software_interrupt ||
                                  ev.type == EventType::privileged_software_exception ||
                                  ev.type == EventType::software_exception ||
                                  ev.type == EventType::other;
  // The frame is built once, where the entry point will read it (the Delivery
  // record); the stack slot gets a copy. `ev` may be the last delivery's event
  // (entry_.event): it is read here and overwritten only below.
  Delivery& d = entry_;
  FredFrame& f = d.frame;
  f.error_code = ev.error_code;
  f.rip = rip();
  f.cs = FredCs{}.set_selector(cs_).set_stack_level(from_user ? 0 : csl_);
  f.rflags = rflags_;
  f.rsp = rsp_;
  f.ss = FredSs{}
             .set_selector(ss_)
             .set_software_initiated(software_initiated)
             .set_nmi(ev.type == EventType::nmi)
             .set_vector(ev.vector)
             .set_type(ev.type)
             .set_long_mode(true)
             .set_nested(ev.nested)
             .set_instruction_length(software_initiated ? ev.instruction_length : 0);
  f.event_data = ev.event_data;
  f.reserved = 0;

  // Step 5: the new context (an event wakes the HLT state).
  halted_ = false;
  push_frame(new_rsp, f, ev.type == EventType::nmi, false);
  rsp_ = new_rsp;
  rflags_ = kRflagsFixed1;
  cpl_ = 0;
  csl_ = new_csl;
  if (from_user) {
    // As SYSCALL loads them: RPL forced to 0 to match CPL 0.
    const auto kernel_cs = static_cast<std::uint16_t>((star_ >> kStarKernelShift) & 0xFFFF);
    cs_ = static_cast<std::uint16_t>(kernel_cs & ~kSelectorRplMask);
    ss_ = static_cast<std::uint16_t>((kernel_cs + 8) & ~kSelectorRplMask);
    // SWAPGS happens here; GS is not modelled.
  }
  rip_ = config_.entry_page() + (from_user ? 0 : kRing0EntryOffset);
  // Step 6.
  if (ev.type == EventType::nmi) nmi_blocked_ = true;
  ++stats_.events_delivered;

  d.event = ev;
  d.path = path;
  d.frame_rsp = new_rsp;
  d.csl = new_csl;
  d.from_cpl = from_user ? 3 : 0;
  d.started = ctx_.now();
  d.software = false;
  if (ctx_.tracer.enabled()) trace_deliver(d);
  start_entry(ctx_.cost(TimingParam::fred_delivery));
}

void Cpu::idt_deliver(const EventInfo& ev) {
  if (shadow_ != Shadow::none) close_shadow();  // as in fred_deliver
  // docs/hardware.md §1 "IDT delivery": vector 2 through its IST stack, no event data.
  const bool from_user = cpl_ == 3;
  FredFrame f;  // the same five slots an IDT frame has; no event data
  f.error_code = ev.error_code;
  f.rip = rip();
  f.cs = FredCs{}.set_selector(cs_);
  f.rflags = rflags_;
  f.rsp = rsp_;
  f.ss = FredSs{}.set_selector(ss_);
  const std::uint64_t top = ev.type == EventType::nmi ? idt_nmi_stack_ : rsp_ & ~std::uint64_t{15};
  const std::uint64_t new_rsp = top - kFredFrameSize;
  halted_ = false;  // an event wakes the HLT state
  push_frame(new_rsp, f, ev.type == EventType::nmi, false);
  rsp_ = new_rsp;
  rflags_ &= ~(kRflagsIf | kRflagsTf);  // an interrupt gate clears IF and TF
  cpl_ = 0;
  if (from_user) {
    cs_ = kKernelCs;
    ss_ = 0;
  }
  rip_ = config_.entry_page() + ev.vector * 16;  // symbolic: the vector's stub
  if (ev.type == EventType::nmi) nmi_blocked_ = true;
  ++stats_.events_delivered;

  Delivery& d = entry_;  // as in fred_deliver
  d.event = ev;
  d.event.event_data = 0;
  d.path = DeliveryPath::idt;
  d.frame = f;
  d.frame_rsp = new_rsp;
  d.csl = csl_;
  d.from_cpl = from_user ? 3 : 0;
  d.started = ctx_.now();
  d.software = false;
  if (ctx_.tracer.enabled()) trace_deliver(d);
  start_entry(ctx_.cost(TimingParam::idt_delivery));
}

[[gnu::cold, gnu::noinline]] void Cpu::trace_deliver(const Delivery& d) const {
  const char* event = d.event.type == EventType::nmi ? "nmi_deliver" : "event_deliver";
  if (d.path == DeliveryPath::fred) {
    const TraceField frame[] = {
        {"error_code", TraceValue::hex(d.frame.error_code)},
        {"rip", TraceValue::hex(d.frame.rip)},
        {"cs", TraceValue::hex(d.frame.cs.encode())},
        {"rflags", TraceValue::hex(d.frame.rflags)},
        {"rsp", TraceValue::hex(d.frame.rsp)},
        {"ss", TraceValue::hex(d.frame.ss.encode())},
        {"event_data", TraceValue::hex(d.frame.event_data)},
        {"reserved", TraceValue::hex(d.frame.reserved)},
    };
    ctx_.tracer.emit(ctx_.now(), id_, event,
                     {{"path", TraceValue::str("fred")},
                      {"vector", TraceValue::dec(d.event.vector)},
                      {"event_data", TraceValue::hex(d.event.event_data)},
                      {"frame", TraceValue::object(frame)},
                      {"new_rsp", TraceValue::hex(d.frame_rsp)},
                      {"csl", TraceValue::dec(d.csl)}});
  } else {
    ctx_.tracer.emit(ctx_.now(), id_, event,
                     {{"path", TraceValue::str(delivery_path_name(d.path))},
                      {"vector", TraceValue::dec(d.event.vector)},
                      {"event_data", TraceValue::hex(0)},
                      {"new_rsp", TraceValue::hex(d.frame_rsp)}});
  }
}

void Cpu::start_entry(Cycle cost) {
  state_ = RunState::delivering;
  ctx_.queue.schedule_next_in(cost + (os_ != nullptr ? os_->entry_code(entry_) : 0), *this,
                              kEntryReached);
}

void Cpu::push_software_frame(const FredFrame& frame) {
  const std::uint64_t new_rsp = ((rsp_ & ~(kFredStackAlign - 1)) - kFredFrameSize);
  push_frame(new_rsp, frame, frame.ss.nmi(), true);
  rsp_ = new_rsp;
}

FredFrame Cpu::software_nmi_frame(std::uint64_t rflags, bool fred, std::uint64_t event_data) const {
  FredFrame f;
  f.rip = rip();
  f.cs = FredCs{}.set_selector(cs_).set_stack_level(csl_);
  f.rflags = rflags;
  f.rsp = rsp_;
  f.ss = FredSs{}.set_selector(ss_);
  if (fred) {
    f.ss.set_nmi(true).set_vector(arch::kNmiVector).set_type(EventType::nmi).set_long_mode(true);
    f.event_data = event_data;
  }
  return f;
}

void Cpu::push_frame(std::uint64_t address, const FredFrame& frame, bool nmi, bool software) {
  assert(depth_ < kMaxDepth && "event nesting deeper than the model keeps");
  if (depth_ == kMaxDepth) return;
  // A return in flight reads its popped slot when it completes: a push meanwhile
  // (only a library caller could make one) must not overwrite it.
  if (state_ == RunState::returning && returning_ == depth_) {
    slots_[kSpareSlot] = slots_[depth_];
    frames_[kSpareSlot] = frames_[depth_];
    returning_ = kSpareSlot;
  }
  SlotInfo& slot = slots_[depth_];
  frames_[depth_++] = frame;
  slot.address = address;
  slot.nmi = nmi;
  slot.software = software;
  slot.interrupted = state_;
}

const FredFrame* Cpu::frame_at_rsp() const {
  if (depth_ == 0 || slots_[depth_ - 1].address != rsp_) return nullptr;
  return &frames_[depth_ - 1];
}

FredFrame* Cpu::frame_at_rsp() {
  if (depth_ == 0 || slots_[depth_ - 1].address != rsp_) return nullptr;
  return &frames_[depth_ - 1];
}

// --- Return instructions (docs/hardware.md §1 "Return") ------------------------------

Fault Cpu::erets(Cycle after) {
  if (!fred_enabled() || cpl_ != 0) return fault(Fault::ud, "ERETS needs CR4.FRED=1 and CPL 0");
  if (state_ != RunState::in_os) return fault(Fault::ud, "ERETS outside OS code");
  const FredFrame* f = frame_at_rsp();
  if (f == nullptr) return fault(Fault::gp, "ERETS: no frame at RSP");
  if ((f->cs.encode() & FredCs::kEretsCheckMask) != 0) {
    return fault(Fault::gp, "ERETS: CS slot bits 63:19 not 0");
  }
  if (f->cs.selector() != cs_) return fault(Fault::gp, "ERETS: CS selector differs");
  if ((f->rflags & kEretsRflagsMask) != kRflagsFixed1) {
    return fault(Fault::gp, "ERETS: reserved RFLAGS bits");
  }
  if ((f->ss.encode() & FredSs::kEretsCheckMask) != 0) {
    return fault(Fault::gp, "ERETS: SS slot bits 31:19 not 0");
  }
  if (f->ss.selector() != ss_) return fault(Fault::gp, "ERETS: SS selector differs");
  // Restoring STI blocking (SS bit 16: a shadow after the return, docs/cpu.md
  // "Instruction shadows") and single-step after return (bit 17 with TF) are
  // not modelled: Linux's NMI frames never set them.
  const std::uint8_t new_csl = std::min(csl_, f->cs.stack_level());
  return start_return(ReturnVia::erets, f->ss.nmi(), new_csl, 0, after);
}

Fault Cpu::eretu(Cycle after) {
  if (!fred_enabled() || cpl_ != 0) return fault(Fault::ud, "ERETU needs CR4.FRED=1 and CPL 0");
  if (state_ != RunState::in_os) return fault(Fault::ud, "ERETU outside OS code");
  if (csl_ != 0) return fault(Fault::gp, "ERETU with CSL not 0");
  const FredFrame* f = frame_at_rsp();
  if (f == nullptr) return fault(Fault::gp, "ERETU: no frame at RSP");
  if ((f->rflags & kEretuRflagsMask) != kRflagsFixed1) {
    return fault(Fault::gp, "ERETU: reserved RFLAGS bits");
  }
  if ((f->cs.selector() & kSelectorRplMask) != 3) return fault(Fault::gp, "ERETU: CS RPL not 3");
  if ((f->ss.selector() & kSelectorRplMask) != 3) return fault(Fault::gp, "ERETU: SS RPL not 3");
  return start_return(ReturnVia::eretu, f->ss.nmi(), 0, 3, after);
}

Fault Cpu::iret(Cycle after) {
  if (state_ != RunState::in_os) return fault(Fault::ud, "IRET outside OS code");
  const FredFrame* f = frame_at_rsp();
  if (f == nullptr) return fault(Fault::gp, "IRET: no frame at RSP");
  // IRET unblocks NMIs whatever the frame says (docs/hardware.md §1 "IDT delivery").
  return start_return(ReturnVia::iret, true, csl_,
                      static_cast<std::uint8_t>(f->cs.selector() & kSelectorRplMask), after);
}

Fault Cpu::start_return(ReturnVia via, bool unblock_nmi, std::uint8_t new_csl, std::uint8_t new_cpl,
                        Cycle after) {
  // The slot stays where it is (push_frame moves it aside if need be).
  returning_ = --depth_;
  return_via_ = via;
  return_unblocks_ = unblock_nmi;
  return_csl_ = new_csl;
  return_cpl_ = new_cpl;
  state_ = RunState::returning;
  const TimingParam cost = via == ReturnVia::erets   ? TimingParam::erets
                           : via == ReturnVia::eretu ? TimingParam::eretu
                                                     : TimingParam::iret;
  ctx_.queue.schedule_next_in(after + ctx_.cost(cost), *this, kReturnDone);
  return Fault::none;
}

void Cpu::complete_return() {
  const SlotInfo& slot = slots_[returning_];
  const FredFrame& f = frames_[returning_];
  rip_ = f.rip;
  cs_ = f.cs.selector();
  rflags_ = f.rflags;
  rsp_ = f.rsp;
  ss_ = f.ss.selector();
  csl_ = return_csl_;
  cpl_ = return_cpl_;
  if (return_via_ == ReturnVia::eretu) {
    // SWAPGS back to the user's GS; not modelled.
  }
  const bool was_blocked = nmi_blocked_;
  if (return_unblocks_) nmi_blocked_ = false;

  if (ctx_.tracer.enabled()) trace_return(was_blocked && !nmi_blocked_);
  // The NMI's handling ends with the return that pops its frame; after an
  // NMI-induced VM exit it ends at the VM entry instead.
  if (slot.nmi && !slot.software && nmi_open_) {
    stats_.dispatch_cycles += ctx_.now() - nmi_started_;
    nmi_open_ = false;
  }

  state_ = slot.interrupted;
  if (state_ == RunState::running) {
    resumed_at_ = ctx_.now();
    if (depth_ == 0) {
      // A user-mode switch that came while the event ran (a no-op, and no
      // call, when the frame returned to the mode the ordinary code wants).
      if (want_user_ != (cpl_ == 3)) set_user_mode(want_user_);
      // A CLI/STI of the ordinary code that came while the event ran.
      rflags_ = code_if_ ? (rflags_ | kRflagsIf) : (rflags_ & ~kRflagsIf);
    }
  }
  // An NMI that waited is taken at this very instruction boundary, with the RIP
  // just popped: back-to-back (docs/linux.md "default_do_nmi" step 1).
  try_deliver();
  if ((state_ == RunState::running || state_ == RunState::in_os) && os_ != nullptr) {
    os_->on_resume(*this, state_);
  }
}

[[gnu::cold, gnu::noinline]] void Cpu::trace_return(bool nmi_unblocked) const {
  static constexpr std::string_view kVia[] = {"erets", "eretu", "iret"};
  ctx_.tracer.emit(ctx_.now(), id_, slots_[returning_].nmi ? "nmi_return" : "event_return",
                   {{"via", TraceValue::str(kVia[static_cast<int>(return_via_)])},
                    {"nmi_unblocked", TraceValue::boolean(nmi_unblocked)}});
}

void Cpu::complete_nmi_vm_entry() {
  if (vmexit_open_) {
    stats_.dispatch_cycles += ctx_.now() - vmexit_started_;
    vmexit_open_ = false;
  }
  if (ctx_.tracer.enabled()) {
    ctx_.tracer.emit(
        ctx_.now(), id_, "nmi_return",
        {{"via", TraceValue::str("vmentry")}, {"nmi_unblocked", TraceValue::boolean(false)}});
  }
}

// --- Context switches ------------------------------------------------------------

void Cpu::set_user_mode(bool user) {
  want_user_ = user;
  if (state_ != RunState::running || depth_ != 0 || non_root()) return;
  if (user != (cpl_ == 3)) close_shadow();  // another instruction stream
  if (user && cpl_ != 3) {
    kernel_rip_ = rip();
    kernel_rsp_ = rsp_;
    cpl_ = 3;
    cs_ = kUserCs;
    ss_ = kUserSs;
    rip_ = 0x401000;  // symbolic user text
    rsp_ = 0x7FFFFFFFE000ull;
    resumed_at_ = ctx_.now();
  } else if (!user && cpl_ == 3) {
    cpl_ = 0;
    cs_ = kKernelCs;
    ss_ = kKernelSs;
    rip_ = kernel_rip_;
    rsp_ = kernel_rsp_;
    resumed_at_ = ctx_.now();
  }
}

ArchState Cpu::save_state() const {
  ArchState s;
  s.cpl = cpl_;
  s.csl = csl_;
  s.rip = rip();
  s.rsp = rsp_;
  s.rflags = rflags_;
  s.cs = cs_;
  s.ss = ss_;
  s.cr4 = cr4_;
  s.fred_rsp = fred_rsp_;
  s.fred_ssp = fred_ssp_;
  s.stklvls = stklvls_;
  s.config = config_;
  s.star = star_;
  s.nmi_blocked = nmi_blocked_;
  s.halted = halted_;
  return s;
}

void Cpu::load_state(const ArchState& s) {
  cpl_ = s.cpl;
  csl_ = s.csl;
  rip_ = s.rip;
  rsp_ = s.rsp;
  rflags_ = s.rflags;
  cs_ = s.cs;
  ss_ = s.ss;
  cr4_ = s.cr4;
  if (!non_root()) root_cr4_ = cr4_;
  fred_rsp_ = s.fred_rsp;
  fred_ssp_ = s.fred_ssp;
  stklvls_ = s.stklvls;
  config_ = s.config;
  star_ = s.star;
  nmi_blocked_ = s.nmi_blocked;
  halted_ = s.halted;
  resumed_at_ = ctx_.now();
}

void Cpu::begin_transition() {
  rip_ = rip();  // ordinary code stops here; the RIP must not jump back
  // The guest's shadow would go to the VMCS interruptibility state; the model
  // drops it (docs/cpu.md "Instruction shadows").
  close_shadow();
  before_transition_ = state_;
  state_ = RunState::transition;
}

void Cpu::end_transition(RunState resumed) {
  state_ = resumed;
  resumed_at_ = ctx_.now();
  try_deliver();
}

// --- MSRs and CR4 ---------------------------------------------------------------

MsrRead Cpu::rdmsr(std::uint32_t index) {
  if (MsrDevice* d = device_for(index)) {
    MsrRead r = d->read_msr(index);
    if (!r.ok()) fault(r.fault, "RDMSR of a device register");
    return r;
  }
  const bool fred_msr = (index >= kMsrFredRsp0 && index <= kMsrFredConfig);
  if (fred_msr && !features_.fred) return {fault(Fault::gp, "RDMSR of a FRED MSR without FRED"), 0};
  if (index >= kMsrFredRsp0 && index <= kMsrFredRsp3)
    return {Fault::none, fred_rsp_[index - kMsrFredRsp0]};
  if (index == kMsrFredStklvls) return {Fault::none, stklvls_.encode()};
  if (index >= kMsrFredSsp1 && index <= kMsrFredSsp3) {
    return {Fault::none, fred_ssp_[index - kMsrFredSsp1 + 1]};
  }
  if (index == kMsrFredConfig) return {Fault::none, config_.encode()};
  if (index == kMsrPl0Ssp) return {Fault::none, fred_ssp_[0]};
  if (index == kMsrStar) return {Fault::none, star_};
  if (index == kMsrPerfGlobalStatus) return {Fault::none, perf_global_status_};
  if (index == kMsrPerfGlobalOvfCtrl) return {Fault::none, 0};
  return {fault(Fault::gp, "RDMSR of an MSR the model does not have"), 0};
}

Fault Cpu::wrmsr(std::uint32_t index, std::uint64_t value) {
  if (MsrDevice* d = device_for(index)) {
    const Fault f = d->write_msr(index, value);
    return f == Fault::none ? f : fault(f, "WRMSR of a device register");
  }
  const bool fred_msr = (index >= kMsrFredRsp0 && index <= kMsrFredConfig);
  if (fred_msr && !features_.fred) return fault(Fault::gp, "WRMSR of a FRED MSR without FRED");
  if (index >= kMsrFredRsp0 && index <= kMsrFredRsp3) {
    if (!is_canonical(value)) return fault(Fault::gp, "WRMSR IA32_FRED_RSPn: not canonical");
    if ((value & (kFredStackAlign - 1)) != 0) {
      return fault(Fault::gp, "WRMSR IA32_FRED_RSPn: not 64-byte aligned");
    }
    fred_rsp_[index - kMsrFredRsp0] = value;
    return Fault::none;
  }
  if (index == kMsrFredStklvls) {
    stklvls_ = FredStklvls(value);
    return Fault::none;
  }
  if ((index >= kMsrFredSsp1 && index <= kMsrFredSsp3) || index == kMsrPl0Ssp) {
    // Shadow-stack pointers: canonical and 8-byte aligned (assumption: bits 2:0
    // reserved, as for the other SSP MSRs).
    if (!is_canonical(value)) return fault(Fault::gp, "WRMSR SSP: not canonical");
    if ((value & 0x7) != 0) return fault(Fault::gp, "WRMSR SSP: bits 2:0 not 0");
    fred_ssp_[index == kMsrPl0Ssp ? 0 : index - kMsrFredSsp1 + 1] = value;
    return Fault::none;
  }
  if (index == kMsrFredConfig) {
    if ((value & kConfigReservedMask) != 0) {
      return fault(Fault::gp, "WRMSR IA32_FRED_CONFIG: reserved bits 2, 4, 5 or 11");
    }
    if (!is_canonical(value & kConfigEntryPage.mask())) {
      return fault(Fault::gp, "WRMSR IA32_FRED_CONFIG: entry page not canonical");
    }
    config_ = FredConfig(value);
    return Fault::none;
  }
  if (index == kMsrStar) {
    star_ = value;
    return Fault::none;
  }
  if (index == kMsrPerfGlobalStatus) return fault(Fault::gp, "WRMSR of read-only GLOBAL_STATUS");
  if (index == kMsrPerfGlobalOvfCtrl) {
    perf_global_status_ &= ~value;
    return Fault::none;
  }
  return fault(Fault::gp, "WRMSR of an MSR the model does not have");
}

Fault Cpu::write_cr4(std::uint64_t value) {
  if ((value & kCr4Fred) != 0 && !features_.fred) {
    return fault(Fault::gp, "MOV CR4: FRED not enumerated");
  }
  cr4_ = value;
  if (!non_root()) root_cr4_ = cr4_;
  return Fault::none;
}

// --- Events -------------------------------------------------------------------

void Cpu::on_event(std::uint32_t kind, std::uint64_t arg) {
  switch (kind) {
    case kEntryReached:
      state_ = RunState::in_os;
      if (os_ != nullptr) os_->on_delivery(*this, entry_);
      // An NMI latched during the delivery of an event that does not block NMIs
      // (docs/hardware.md §1 "Delivery" step 6) is taken at the entry's first
      // instruction boundary, not held until the next return.
      try_deliver();
      break;
    case kReturnDone:
      complete_return();
      break;
    case kShadowEnd:
      // The boundary after the shadowed instruction: a held NMI is taken here.
      if (arg != shadow_seq_ || shadow_ == Shadow::none) break;  // closed early
      close_shadow();
      try_deliver();
      break;
    default:
      assert(false && "unknown CPU event");
  }
}

std::string_view Cpu::event_name(std::uint32_t kind) const {
  switch (kind) {
    case kEntryReached:
      return "cpu_entry";
    case kReturnDone:
      return "cpu_return";
    case kShadowEnd:
      return "cpu_shadow_end";
  }
  return "cpu_?";
}

}  // namespace fredsim::cpu
