#include "fredsim/kernel/kernel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <utility>

#include "fredsim/cpu/arch.hpp"
#include "kernel/apicdef.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

using cpu::Cpu;
using cpu::Delivery;
using cpu::DeliveryPath;
using cpu::EventType;
using cpu::FredCs;
using cpu::FredFrame;
using cpu::FredSs;
using cpu::RunState;

namespace {

// Linux's FRED setup (docs/hardware.md §1 "Linux's settings").
constexpr std::uint64_t kFredEntryPage = 0xFFFFFFFF81200000ull;
constexpr unsigned kFredRedZoneLines = 1;
constexpr std::uint64_t kTaskStackTop = 0xFFFFC90000008000ull;  // RSP0 (per-task stack)
constexpr std::uint64_t kExceptionStacks = 0xFFFFFE0000000000ull;
constexpr std::uint64_t kExceptionStackStride = 0x10000;  // per CPU, 64 KiB apart
constexpr unsigned kDbLevel = 1, kNmiLevel = 2, kMcLevel = 2, kDfLevel = 3;
constexpr std::uint16_t kUser32Cs = 0x23;  // IA32_STAR[63:48]

}  // namespace

// --- NmiContext -----------------------------------------------------------------

Cycle NmiContext::now() const {
  return kernel_.machine_.now();
}
void NmiContext::charge(TimingParam p) {
  charged_ += kernel_.machine_.timing().get(p);
}
machine::Machine& NmiContext::machine() {
  return kernel_.machine_;
}
cpu::Cpu& NmiContext::cpu_model() {
  return kernel_.cpus_[cpu_]->cpu;
}
std::uint32_t NmiContext::take_work() {
  return kernel_.registry_.take_work(handler_, cpu_);
}
std::uint32_t NmiContext::pending_work() const {
  return kernel_.registry_.pending_work(handler_, cpu_);
}

// --- Kernel -----------------------------------------------------------------------

Kernel::Kernel(machine::Machine& machine, const KernelConfig& config)
    : Kernel(machine, nullptr, std::make_unique<MachinePlatform>(machine), config) {}

Kernel::Kernel(machine::Machine& machine, Platform& platform, const KernelConfig& config)
    : Kernel(machine, &platform, nullptr, config) {}

Kernel::Kernel(machine::Machine& machine, Platform* platform, std::unique_ptr<Platform> owned,
               const KernelConfig& config)
    : machine_(machine),
      owned_platform_(std::move(owned)),
      platform_(platform != nullptr ? *platform : *owned_platform_),
      cpu_count_(platform_.cpu_count()),
      config_(config),
      console_(machine, kRateSites),
      registry_(cpu_count_, console_),
      selftest_(*this) {
  std::fill(std::begin(roles_), std::end(roles_), kNoHandler);
  cpus_.reserve(cpu_count_);
  for (CpuId i = 0; i < cpu_count_; ++i) {
    cpu::Cpu& model = platform_.cpu(i);
    cpus_.push_back(std::make_unique<CpuCtx>(*this, i, model));
    cpus_.back()->nmi_source_cpuid = platform_.enumerates_nmi_source(i);
    if (model.id() >= local_of_host_.size()) local_of_host_.resize(model.id() + 1, kNoCpu);
    local_of_host_[model.id()] = i;
  }
  samples_.reserve();
}

Kernel::CpuCtx& Kernel::ctx_of(const cpu::Cpu& cpu) {
  return *cpus_[local_of_host_[cpu.id()]];
}

Kernel::~Kernel() {
  for (auto& c : cpus_) {
    if (c->cpu.os_entry() == this) c->cpu.set_os_entry(nullptr);
  }
}

std::uint64_t Kernel::cycles_to_ns(Cycle c) const {
  const std::uint64_t mhz =
      std::max<std::uint64_t>(1, machine_.timing().get(TimingParam::core_mhz));
  return c * 1000 / mhz;
}

bool Kernel::reaches_longest_ns(Cycle c) const {
  // cycles_to_ns(c) >= nmi_longest_ns without its division (one per handler
  // call otherwise): floor(x / mhz) >= n exactly when x >= n * mhz, and when
  // n * mhz does not fit, no x does.
  const std::uint64_t mhz =
      std::max<std::uint64_t>(1, machine_.timing().get(TimingParam::core_mhz));
  std::uint64_t least = 0;
  if (__builtin_mul_overflow(config_.nmi_longest_ns, mhz, &least)) return false;
  return c * 1000 >= least;
}

bool Kernel::nmi_source_enabled(CpuId cpu) const {
  const CpuCtx& c = *cpus_[cpu];
  return c.nmi_source_cpuid && c.cpu.fred_enabled();
}

void Kernel::boot() {
  for (CpuId i = 0; i < cpu_count_; ++i)
    boot_cpu(i);
}

void Kernel::boot_cpu(CpuId i) {
  using namespace cpu::arch;
  {
    Cpu& c = cpus_[i]->cpu;
    c.set_os_entry(this);
    if (config_.use_fred && c.features().fred) {
      // Linux's FRED setup: entry page, one-line red zone, IRQs at level 0;
      // #DB level 1, NMI and #MC level 2, #DF level 3; RSP1..3 those stacks.
      const std::uint64_t stacks = kExceptionStacks + i * kExceptionStackStride;
      c.wrmsr(kMsrFredConfig, cpu::FredConfig::make(kFredEntryPage, kFredRedZoneLines, 0).encode());
      cpu::FredStklvls lv;
      lv.set_level(kDbVector, kDbLevel)
          .set_level(kNmiVector, kNmiLevel)
          .set_level(kMcVector, kMcLevel)
          .set_level(kDfVector, kDfLevel);
      c.wrmsr(kMsrFredStklvls, lv.encode());
      c.wrmsr(kMsrFredRsp0, kTaskStackTop);
      c.wrmsr(kMsrFredRsp0 + 1, stacks + 0x4000);  // #DB stack
      c.wrmsr(kMsrFredRsp0 + 2, stacks + 0x8000);  // NMI stack
      c.wrmsr(kMsrFredRsp0 + 3, stacks + 0xC000);  // #DF stack
      c.wrmsr(kMsrStar, (std::uint64_t{kUser32Cs} << 48) | (std::uint64_t{kKernelCs} << 32));
      c.write_cr4(c.cr4() | kCr4Fred);
    } else {
      c.set_idt_nmi_stack(kExceptionStacks + i * kExceptionStackStride + 0x8000);
    }
    // Perf programs LVTPC in NMI mode, with the PMI source vector when
    // NMI-source is on; only the BSP takes LINT1 NMIs (setup_local_APIC).
    const std::uint32_t pmi_vector = nmi_source_enabled(i) ? nmis::VECTOR_PMI : 0;
    platform_.apic_write(i, apicdef::APIC_LVTPC, apicdef::APIC_DM_NMI | pmi_vector);
    platform_.apic_write(
        i, apicdef::APIC_LVT1,
        i == 0 ? apicdef::APIC_DM_NMI : (apicdef::APIC_DM_NMI | apicdef::APIC_LVT_MASKED));
  }
}

// --- Registration -----------------------------------------------------------------

Result<HandlerId> Kernel::register_nmi_handler(NmiType type, NmiHandlerFn fn, unsigned flags,
                                               std::string_view name, unsigned vector) {
  return register_action(type, std::move(fn), flags, name, vector, HandlerModel::custom);
}

Result<HandlerId> Kernel::register_action(NmiType type, NmiHandlerFn fn, unsigned flags,
                                          std::string_view name, unsigned vector,
                                          HandlerModel model) {
  // v5's vector rule depends on whether the boot CPU has NMI-source on.
  const bool nmi_source = cpu_count_ > 0 && nmi_source_enabled(0);
  return registry_.add(type, std::move(fn), flags, name, vector, model,
                       {config_.revision, nmi_source, config_.source_vectors});
}

Result<HandlerId> Kernel::register_model(NmiType type, HandlerModel model, unsigned flags,
                                         std::string_view name, unsigned vector, Cycle check_cycles,
                                         Cycle handle_cycles) {
  // The callable needs the id; register a placeholder first, then set it.
  auto r = register_action(
      type, [](NmiType, const PtRegs&, NmiContext&) { return NMI_DONE; }, flags, name, vector,
      model);
  if (!r.ok()) return r;
  NmiAction& a = registry_.action(*r);
  a.fn = make_model(*r, model, check_cycles, handle_cycles);
  if (model != HandlerModel::custom && model != HandlerModel::device &&
      model != HandlerModel::ghes) {
    if (roles_[static_cast<int>(model)] == kNoHandler || type == NmiType::local) {
      roles_[static_cast<int>(model)] = *r;
    }
  }
  return r;
}

bool Kernel::unregister_nmi_handler(NmiType type, std::string_view name) {
  // in_nmi() is the calling CPU's state: code runs in NMI context only inside
  // a handler call (or its observer), on the CPU that took the NMI. Another CPU
  // being in an NMI meanwhile does not count.
  return registry_.remove(type, name, nmi_code_cpu_);
}

// --- Ground truth ---------------------------------------------------------------

std::uint64_t Kernel::lost_work(CpuId cpu) const {
  std::uint64_t lost = registry_.pending_on(cpu);
  if (reason_owner_ == cpu && platform_.nmi_reason() != 0) ++lost;
  return lost;
}

const KernelCpuState& Kernel::cpu_state(CpuId cpu) const {
  return cpus_[cpu]->st;
}

// --- Entry ------------------------------------------------------------------------

namespace {
// What the FRED NMI entry takes: type NMI, vector 2 (anything else is a bad event).
bool is_nmi_entry(const Delivery& d) {
  return d.event.type == EventType::nmi && d.event.vector == cpu::arch::kNmiVector;
}
}  // namespace

void Kernel::on_delivery(Cpu& cpu, const Delivery& d) {
  CpuCtx& c = ctx_of(cpu);
  if (halted_) return;  // the machine has stopped
  if (!is_nmi_entry(d)) {
    // The FRED NMI entry takes type NMI, vector 2 only; this model's OS has no
    // other entries, so anything else is a bad event it returns from at once.
    console_.printk(c.id, fmt::format("FRED: bad event type {} vector {}",
                                      static_cast<int>(d.event.type), d.event.vector));
    c.note_delivery(d);
    c.software = false;
    return_from_nmi(c);
    return;
  }
  begin_nmi(c, d, true);
}

Cycle Kernel::entry_code(const Delivery& d) const {
  return is_nmi_entry(d) ? machine_.timing().get(TimingParam::nmi_entry) : 0;
}

void Kernel::begin_nmi(CpuCtx& c, const Delivery& d, bool entry_ran) {
  c.note_delivery(d);
  c.software = d.software;
  c.regs = PtRegs{};
  c.regs.ip = d.frame.rip;
  c.regs.sp = d.frame.rsp;
  c.regs.flags = d.frame.rflags;
  c.regs.cs = d.frame.cs.selector();
  c.regs.ss = d.frame.ss.selector();
  c.regs.cpl = d.from_cpl;
  c.regs.fred = d.path == DeliveryPath::fred;
  c.regs.event_data = c.regs.fred ? d.frame.event_data : 0;
  c.st.in_dispatch = true;
  if (c.started == 0 || !d.software) c.started = d.started;
  if (entry_ran) {
    on_cpu_event(c, kStart);
  } else {
    machine_.queue().schedule_in(machine_.timing().get(TimingParam::nmi_entry), c, kStart);
  }
}

void Kernel::on_resume(Cpu& cpu, RunState resumed) {
  CpuCtx& c = ctx_of(cpu);
  // A CPU stop_this_cpu() halted took an NMI (a disabled APIC still accepts
  // them) and returned into its HLT loop: it halts again.
  if (c.st.halted && resumed == RunState::running) cpu.hlt();
  if (resumed == RunState::running && c.process_then && !c.st.halted && !halted_) {
    auto fn = std::move(c.process_then);
    c.process_then = nullptr;
    fn();
  }
  if (resumed == RunState::in_os && c.kvm_then) {
    auto then = std::move(c.kvm_then);
    c.kvm_then = nullptr;
    then();
  }
}

void Kernel::in_process_context(CpuId cpu, std::function<void()> fn) {
  CpuCtx& c = *cpus_[cpu];
  if (c.st.halted || halted_) return;
  if (c.cpu.run_state() == RunState::running && !c.st.in_dispatch) {
    c.process_then = nullptr;
    fn();
    return;
  }
  c.process_then = std::move(fn);
}

void Kernel::vcpu_entered(CpuId cpu) {
  CpuCtx& c = *cpus_[cpu];
  if (c.deferred == CpuCtx::kNoEvent) return;
  on_cpu_event(c, std::exchange(c.deferred, CpuCtx::kNoEvent));
}

void Kernel::on_cpu_event(CpuCtx& c, std::uint32_t kind) {
  if (halted_ || panicked_on(c.id)) return;
  if (config_.in_vm && (!c.cpu.non_root() || c.cpu.run_state() == RunState::transition)) {
    // The vCPU is out of the guest (a VM exit the host handles, or an entry
    // still in progress): the guest's code does not run, so what falls due
    // now waits for the next VM entry (vcpu_entered()). A CPU's kernel work is
    // one chain of events, so at most one waits.
    assert(c.deferred == CpuCtx::kNoEvent);
    c.deferred = kind;
    return;
  }
  switch (kind) {
    case kStart:
      if (c.path == DeliveryPath::idt) {
        // The IDT entry's latch (docs/linux.md "Entry").
        if (c.st.idt_state != IdtNmiState::not_running) {
          c.st.idt_state = IdtNmiState::latched;
          return_from_nmi(c);
          return;
        }
        c.st.idt_state = IdtNmiState::executing;
        if (ignore_nmis_ > 0) {
          c.st.idt_state = IdtNmiState::not_running;
          return_from_nmi(c, machine_.timing().get(TimingParam::nmi_exit));
          return;
        }
      }
      start_default_do_nmi(c);
      break;
    case kHandlerDone:
      call_next_handler(c);
      break;
    case kReasonRead:
      after_reason_read(c);
      break;
    case kPathDone:
      // pci_serr_error / io_check_error ran under nmi_reason_lock; the unknown
      // path runs after default_do_nmi dropped it.
      if (c.type != NmiType::unknown) unlock_reason(c);
      finish_do_nmi(c, c.type == NmiType::unknown ? "unknown" : "external");
      break;
    case kIochkWaitDone:
      iochk_wait_done(c);
      break;
    case kKvmEntry: {
      // KVM calls the host's NMI entry with a frame it built (docs/hardware.md §4 "VMX").
      Cpu& cpu = c.cpu;
      const bool fred = cpu.fred_enabled();
      const FredFrame f =
          cpu.software_nmi_frame(cpu::arch::kRflagsFixed1, fred, c.kvm_qualification);
      cpu.push_software_frame(f);
      Delivery d;
      d.path = fred ? DeliveryPath::fred : DeliveryPath::idt;
      d.event = cpu::EventInfo::nmi(fred ? c.kvm_qualification : 0);
      d.frame = f;
      d.frame_rsp = cpu.rsp();
      d.csl = cpu.csl();
      d.from_cpl = 0;
      d.started = c.started;
      d.software = true;
      begin_nmi(c, d, false);
      break;
    }
    default:
      assert(false && "unknown kernel event");
  }
}

void Kernel::kvm_handle_nmi_exit(CpuId cpu, std::uint64_t exit_qualification, Cycle exit_started,
                                 Cycle entry_cycles, std::function<void()> then) {
  CpuCtx& c = *cpus_[cpu];
  c.kvm_qualification = exit_qualification;
  c.kvm_then = std::move(then);
  c.started = exit_started;
  c.extra_return_cycles = entry_cycles;
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::kvm_nmi_exit), c, kKvmEntry);
}

// --- default_do_nmi (docs/linux.md "default_do_nmi") ---------------------

void Kernel::start_default_do_nmi(CpuCtx& c) {
  // 1. Back-to-back: the same RIP as the last NMI means this one was latched
  // while the previous was handled.
  c.b2b = c.regs.ip == c.st.last_nmi_rip;
  if (!c.b2b) c.st.swallow = false;
  c.st.last_nmi_rip = c.regs.ip;
  c.handled_total = 0;
  // 3. The LOCAL handlers.
  begin_handle(c, NmiType::local);
}

void Kernel::begin_handle(CpuCtx& c, NmiType type) {
  // nmi_handle (docs/linux.md "nmi_handle").
  c.type = type;
  c.next = 0;
  c.sum = 0;
  c.emergency = false;
  if (const NmiHandlerFn& em = registry_.emergency_handler(type)) {
    // 1. An emergency handler runs alone: no filter, no trace, no duration check.
    NmiContext ctx(*this, c.id, kNoHandler);
    const CpuId outer = std::exchange(nmi_code_cpu_, c.id);
    c.sum = em(type, c.regs, ctx);
    nmi_code_cpu_ = outer;
    c.emergency = true;
    c.walk.clear();
    c.walk_changes = CpuCtx::kNoChanges;
    machine_.queue().schedule_in(ctx.charged(), c, kHandlerDone);
    return;
  }
  // 2. The source filter (v7): precise only for LOCAL with NMI-source on.
  c.filter = false;
  c.bitmap = ~std::uint64_t{0};
  if (type == NmiType::local && nmi_source_enabled(c.id) && c.regs.fred) {
    const std::uint64_t data = c.regs.event_data;
    if (data == 0 && config_.revision == Revision::v5) {
      // v5's nmi_handle: a bitmap of 0 means no source information; every
      // handler runs, without a warning (v6 added the WARN_ON_ONCE).
    } else if (data == 0) {
      console_.warn_once(
          kWarnZeroEventData,
          fmt::format("NMI-source: NMI with event data 0 on CPU {}; polling every handler", c.id));
    } else if ((data & cpu::arch::kNmiSourceUnknownBit) == 0) {
      c.filter = true;
      c.bitmap = data;
    }
  }
  if (c.walk_type != type || c.walk_changes != registry_.list_changes()) {
    const auto& list = registry_.handler_list(type);
    c.walk.assign(list.begin(), list.end());
    c.walk_type = type;
    c.walk_changes = registry_.list_changes();
  }
  // With the copy current, the registry's table of positions is too (it is
  // rebuilt with the list, which has not changed).
  c.by_positions = c.filter && registry_.vector_positions(type, c.bitmap, c.positions);
  c.registrations = registry_.registrations();
  call_next_handler(c);
}

void Kernel::call_next_handler(CpuCtx& c) {
  // 3. Walk the whole list in order; skip handlers whose source bit is clear,
  // and those unregistered since the walk began.
  while (c.next < c.walk.size() && !c.emergency) {
    if (c.by_positions) {
      // The handlers the filter below would skip, passed at once: their vectors
      // are the ones the walk began with while nothing has been registered
      // since (a registration may change a vector: then each is looked at).
      if (registry_.registrations() == c.registrations) {
        const std::uint64_t rest = c.next < 64 ? c.positions >> c.next : 0;
        if (rest == 0) {
          c.next = c.walk.size();  // none left that the filter lets through
          continue;
        }
        c.next += static_cast<std::size_t>(std::countr_zero(rest));
      } else {
        c.by_positions = false;
      }
    }
    const HandlerId id = c.walk[c.next++];
    NmiAction& a = registry_.action(id);
    if (!a.registered) continue;
    if (c.filter && (a.vector >= 64 || ((c.bitmap >> a.vector) & 1u) == 0)) continue;

    NmiContext ctx(*this, c.id, id);
    ctx.charge(TimingParam::handler_call);
    // The handler (and its observer) run in NMI context on this CPU.
    const CpuId outer = std::exchange(nmi_code_cpu_, c.id);
    const int ret = a.fn(c.type, c.regs, ctx);
    Cycle cost = ctx.charged();
    if (a.observer != nullptr) {
      // What the handler does besides its model (a test's ICR writes, a
      // rendezvous), at this call's cycle: before its trace record, which
      // Linux's nmi_handler tracepoint writes when the handler has returned.
      cost +=
          a.observer->on_call(HandlerCall{id, c.id, a.per_cpu[c.id].calls + 1, a.total.calls + 1});
    }
    nmi_code_cpu_ = outer;
    c.sum += ret;
    ++a.total.calls;
    a.total.handled += static_cast<std::uint64_t>(ret);
    a.total.cycles += cost;
    HandlerStats& pc = a.per_cpu[c.id];
    ++pc.calls;
    pc.handled += static_cast<std::uint64_t>(ret);
    pc.cycles += cost;

    if (machine_.tracer().enabled()) {
      const std::uint64_t delta_ns = cycles_to_ns(cost);
      // v5 added the raw bitmap (0 when not LOCAL or the feature is off); v6/v7
      // dropped it (docs/linux.md "Trace and messages").
      const std::uint64_t raw =
          (c.type == NmiType::local && nmi_source_enabled(c.id)) ? c.regs.event_data : 0;
      const TraceField fields[] = {
          {"handler", TraceValue::str(a.name)},    {"type", TraceValue::str(nmi_type_name(c.type))},
          {"returned", TraceValue::sdec(ret)},     {"cycles", TraceValue::dec(cost)},
          {"delta_ns", TraceValue::dec(delta_ns)}, {"source_bitmap", TraceValue::hex(raw)}};
      const std::size_t n = config_.revision == Revision::v5 ? 6 : 5;
      trace(c.id, "handler_call", std::span<const TraceField>(fields, n));
    }
    // 4. The duration check (arch/x86/kernel/nmi.c nmi_check_duration): it
    // returns early only below nmi_longest_ns or below the handler's longest
    // call so far, so a call as long as that maximum reports again.
    if (cost >= a.max_duration && reaches_longest_ns(cost)) {
      a.max_duration = cost;
      const std::uint64_t delta_ns = cycles_to_ns(cost);
      if (console_.ratelimit(kRateDuration)) {
        console_.printk(
            c.id, fmt::format("INFO: NMI handler ({}) took too long to run: {}.{:03} msecs", a.name,
                              delta_ns / 1'000'000, (delta_ns / 1000) % 1000));
      }
    }
    if (ctx.halt_) {
      // stop_this_cpu(): the CPU never returns from the handler; it is in its
      // HLT loop, and off the stopper's mask, when the call's cost has run.
      stop_this_cpu(c.id, "nmi");
      if (stop_) machine_.queue().schedule_in(cost, *stop_, StopCtx::kReachedHlt, c.id);
      return;
    }
    // The next call (or the end of the walk) comes `cost` later. When no other
    // event falls in between, the queue moves time there and the walk goes on
    // without an event of its own: the same order, one event fewer.
    if (panicked_on(c.id)) return;  // panic() does not return; no later call happens
    if (machine_.queue().try_advance(machine_.now() + cost)) continue;
    machine_.queue().schedule_next_in(cost, c, kHandlerDone);
    return;
  }
  handle_done(c);
}

void Kernel::handle_done(CpuCtx& c) {
  const int handled = c.sum;
  switch (c.type) {
    case NmiType::local:
      c.st.stats.normal += static_cast<std::uint64_t>(handled);
      c.handled_total = handled;
      if (handled > 0) {
        // Several events handled at once: the next NMI may be their second half.
        if (handled > 1) c.st.swallow = true;
        finish_do_nmi(c, "handled");
        return;
      }
      // 4. The NMI reason, from port 0x61 (any CPU may take platform NMIs),
      // under nmi_reason_lock.
      lock_reason_and_read(c);
      return;
    case NmiType::serr:
    case NmiType::io_check: {
      const bool serr = c.type == NmiType::serr;
      c.handled_total = handled;
      if (handled == 0) {
        // pci_serr_error / io_check_error print with plain pr_emerg: no ratelimit.
        console_.printk(
            c.id, serr ? fmt::format("NMI: PCI system error (SERR) for reason {:02x} on CPU {}.",
                                     c.reason, c.id)
                       : fmt::format("NMI: IOCK error (debug interrupt?) for reason {:02x} on "
                                     "CPU {}.",
                                     c.reason, c.id));
        if (serr ? config_.panic_on_unrecovered_nmi : config_.panic_on_io_nmi) {
          // nmi_panic -> panic(): it does not return; nothing after it runs on
          // this CPU (no "Dazed" line, no port 0x61 write, no stats.external).
          nmi_panic(c.id, serr ? "NMI: Not continuing" : "NMI IOCK error: Not continuing");
          return;
        }
        if (!serr) {
          // io_check_error (arch/x86/kernel/nmi.c): no "Dazed" line. It writes
          // NMI_REASON_CLEAR_IOCHK (the control bits kept), which clears the
          // status and holds the line off, waits about 2 s still inside the NMI
          // (iochk_wait(): NMIs stay blocked, so those that arrive meanwhile
          // latch and coalesce), then writes the bit clear again to re-enable it.
          const std::uint8_t control = c.reason & machine::port61::kControlMask;
          platform_.port_out(machine::port61::kPort,
                             static_cast<std::uint8_t>(control | machine::port61::kIochkDisable));
          machine_.queue().schedule_in(iochk_wait(), c, kIochkWaitDone);
          return;
        }
        console_.printk(c.id, "Dazed and confused, but trying to continue");
        // pci_serr_error: clear and disable the SERR line (NMI_REASON_CLEAR_SERR
        // with the control bits kept); nothing re-enables it.
        platform_.port_out(machine::port61::kPort,
                           static_cast<std::uint8_t>((c.reason & machine::port61::kControlMask) |
                                                     machine::port61::kSerrDisable));
      }
      c.st.stats.external += 1;
      machine_.queue().schedule_in(
          handled ? 0
                  : machine_.timing().get(serr ? TimingParam::serr_path : TimingParam::iochk_path),
          c, kPathDone);
      return;
    }
    case NmiType::unknown:
      if (handled > 0) {
        c.st.stats.unknown += static_cast<std::uint64_t>(handled);
        c.handled_total = handled;
        finish_do_nmi(c, "unknown");
        return;
      }
      c.st.stats.unknown += 1;
      // unknown_nmi_error: "Uhhuh", the v7 bitmap line and "Dazed" are three
      // pr_emerg_ratelimited call sites, each with its own ratelimit state.
      if (console_.ratelimit(kRateUnknown)) {
        console_.printk(
            c.id, fmt::format("Uhhuh. NMI received for unknown reason {:02x} on CPU {}.", c.reason,
                              c.id));
      }
      if (nmi_source_enabled(c.id) && console_.ratelimit(kRateUnknownBitmap)) {
        console_.printk(c.id, fmt::format("NMI-source bitmap is {:#x}", c.regs.event_data));
      }
      if (config_.unknown_nmi_panic || config_.panic_on_unrecovered_nmi) {
        // unknown_nmi_error's nmi_panic does not return: no "Dazed" line.
        nmi_panic(c.id, "NMI: Not continuing");
        return;
      }
      if (console_.ratelimit(kRateUnknownDazed)) {
        console_.printk(c.id, "Dazed and confused, but trying to continue");
      }
      machine_.queue().schedule_in(machine_.timing().get(TimingParam::unknown_path), c, kPathDone);
      return;
  }
}

Cycle Kernel::iochk_wait() const {
  // io_check_error's loop counts down from 20000 and tests after a
  // pre-decrement, so its udelay(100) runs 19,999 times.
  constexpr Cycle kIochkDelays = 19'999;
  return kIochkDelays * machine_.timing().get(TimingParam::iochk_udelay);
}

void Kernel::iochk_wait_done(CpuCtx& c) {
  // The end of io_check_error: the second port 0x61 write re-enables the IOCHK
  // line; default_do_nmi then counts the NMI as external.
  const std::uint8_t control = c.reason & machine::port61::kControlMask;
  platform_.port_out(machine::port61::kPort,
                     static_cast<std::uint8_t>(control & ~machine::port61::kIochkDisable));
  c.st.stats.external += 1;
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::iochk_path), c, kPathDone);
}

// default_do_nmi's nmi_reason_lock (arch/x86/kernel/nmi.c, the form it has
// from Linux 4.5 through the 6.x kernels the NMI-source series applies to): on
// x86_64 every CPU may read the reason (no BSP-only test); it spins on
// raw_spin_trylock until it holds the lock, which it keeps across the port 0x61
// read and pci_serr_error / io_check_error, and drops before the
// swallow / unknown_nmi_error step. A CPU spinning here does nothing else (its
// NMI is blocked); the crash-IPI callback the loop also runs is not modelled.
void Kernel::lock_reason_and_read(CpuCtx& c) {
  if (reason_lock_holder_ != kNoCpu) {
    c.spinning_on_reason_lock = true;
    ++reason_lock_spinners_;
    return;
  }
  reason_lock_holder_ = c.id;
  machine_.queue().schedule_next_in(machine_.timing().get(TimingParam::port_read), c, kReasonRead);
}

void Kernel::unlock_reason(CpuCtx& c) {
  // Only the holder comes here (run_fuzz once found a second end of one SERR
  // path: a guest entered inside the NMI; VM entries now wait for process
  // context, Kvm::request_guest).
  assert(reason_lock_holder_ == c.id);
  (void)c;
  reason_lock_holder_ = kNoCpu;
  if (reason_lock_spinners_ == 0) return;
  // The spinners' next trylock: one of them gets it at this cycle (the lowest
  // CPU number, where Linux leaves it to whichever tries first); the others
  // keep spinning.
  for (auto& w : cpus_) {
    if (!w->spinning_on_reason_lock) continue;
    w->spinning_on_reason_lock = false;
    --reason_lock_spinners_;
    lock_reason_and_read(*w);
    return;
  }
}

void Kernel::after_reason_read(CpuCtx& c) {
  c.reason = platform_.port_in(machine::port61::kPort);
  if (c.reason & machine::port61::kReasonMask) {
    // SERR wins over IOCHK; nmi_reason_lock stays held through its path.
    begin_handle(c, (c.reason & machine::port61::kSerr) ? NmiType::serr : NmiType::io_check);
    return;
  }
  unlock_reason(c);
  // 5. No reason: the second half of a multi-event NMI, or unknown.
  if (c.b2b && c.st.swallow) {
    c.st.stats.swallow += 1;
    finish_do_nmi(c, "swallow");
    return;
  }
  begin_handle(c, NmiType::unknown);
}

void Kernel::finish_do_nmi(CpuCtx& c, std::string_view outcome) {
  if (machine_.tracer().enabled()) {
    trace(c.id, "nmi_outcome",
          {{"handled", TraceValue::sdec(c.handled_total)}, {"outcome", TraceValue::str(outcome)}});
  }
  if (c.path == DeliveryPath::idt) {
    if (c.st.idt_state == IdtNmiState::latched) {
      // An NMI came in while this one ran: run default_do_nmi once more.
      c.st.idt_state = IdtNmiState::executing;
      start_default_do_nmi(c);
      return;
    }
    c.st.idt_state = IdtNmiState::not_running;
  }
  if (panicked_on(c.id)) return;
  // The exit code, then the return instruction: one event, the return's end.
  return_from_nmi(c, machine_.timing().get(TimingParam::nmi_exit));
}

void Kernel::return_from_nmi(CpuCtx& c, Cycle exit_code) {
  Cpu& cpu = c.cpu;
  c.st.in_dispatch = false;
  cpu::Fault f;
  Cycle ret_cost;
  if (c.path == DeliveryPath::idt) {
    f = cpu.iret(exit_code);
    ret_cost = exit_code + machine_.timing().get(TimingParam::iret);
  } else if (c.from_cpl == 3) {
    f = cpu.eretu(exit_code);
    ret_cost = exit_code + machine_.timing().get(TimingParam::eretu);
  } else {
    f = cpu.erets(exit_code);
    ret_cost = exit_code + machine_.timing().get(TimingParam::erets);
  }
  if (f != cpu::Fault::none) {
    console_.printk(c.id, fmt::format("NMI return faulted: {}", cpu::fault_name(f)));
    return;
  }
  if (record_samples_ && c.event_type == EventType::nmi) {
    samples_.add(machine_.now() + ret_cost + (c.software ? c.extra_return_cycles : 0) - c.started);
  }
  c.started = 0;
  c.extra_return_cycles = 0;
}

void Kernel::trace(CpuId cpu, std::string_view event, std::span<const TraceField> fields) const {
  if (!config_.in_vm) {
    machine_.tracer().emit(TraceRecord{machine_.now(), cpu, event, fields});
    return;
  }
  // A guest's record: the host CPU the vCPU runs on, then which VM and vCPU
  // (docs/format.md "Trace records": guest records).
  constexpr std::size_t kMaxFields = 8;
  assert(fields.size() + 2 <= kMaxFields);
  TraceField all[kMaxFields];
  all[0] = {"vm", TraceValue::str(config_.vm_name)};
  all[1] = {"vcpu", TraceValue::dec(cpu)};
  const std::size_t n = std::min(fields.size(), kMaxFields - 2);
  std::copy_n(fields.begin(), n, all + 2);
  machine_.tracer().emit(TraceRecord{machine_.now(), platform_.cpu(cpu).id(), event,
                                     std::span<const TraceField>(all, n + 2)});
}

}  // namespace fredsim::kernel
