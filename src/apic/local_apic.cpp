#include "fredsim/apic/local_apic.hpp"

#include <algorithm>
#include <cassert>

#include "fredsim/apic/interconnect.hpp"

namespace fredsim::apic {
namespace {

using cpu::Fault;
using cpu::MsrRead;

constexpr std::uint64_t kLow32 = 0xFFFF'FFFFull;

constexpr bool in_isr_tmr_irr(std::uint32_t offset) {
  return offset >= APIC_ISR && offset < APIC_ISR_TMR_IRR_END;
}

// Version register: integrated APIC, highest LVT index = kLvtCount - 1 (SDM 11.4.8).
constexpr std::uint32_t kVersionValue = static_cast<std::uint32_t>(
    kLvrMaxLvt.set(kLvrVersion.set(0, APIC_VERSION_INTEGRATED), kLvtCount - 1));

constexpr std::uint64_t base_for(ApicMode mode, bool bsp) {
  std::uint64_t v = APIC_DEFAULT_PHYS_BASE | (bsp ? MSR_IA32_APICBASE_BSP : 0);
  if (mode != ApicMode::disabled) v |= MSR_IA32_APICBASE_ENABLE;
  if (mode == ApicMode::x2apic) v |= X2APIC_ENABLE;
  return v;
}

constexpr MsrRead value(std::uint64_t v) {
  return MsrRead{Fault::none, v};
}
constexpr MsrRead gp() {
  return MsrRead{Fault::gp, 0};
}

}  // namespace

LocalApic::LocalApic(Key, Interconnect& bus, SimContext ctx, CpuId cpu, std::uint32_t apic_id,
                     ApicMode mode, bool software_enabled)
    : bus_(bus),
      ctx_(ctx),
      cpu_(cpu),
      apic_id_(apic_id),
      mode_(mode),
      apic_base_(base_for(mode, cpu == 0)) {
  reset_registers();
  if (software_enabled) svr_ |= APIC_SPIV_APIC_ENABLED;
}

void LocalApic::reset_registers() {
  // SDM 11.4.7.1: state after reset / after the APIC is hardware-disabled. The ID
  // is kept (the model fixes it at configuration).
  icr_ = IcrValue{};
  lvt_.fill(LvtEntry::reset());
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = APIC_DFR_FLAT;
  svr_ = kSpivReset;
  esr_ = 0;
  esr_pending_ = 0;
  tmict_ = 0;
  tdcr_ = 0;
  irr_ = {};
  isr_ = {};
}

std::uint32_t LocalApic::ldr() const {
  if (mode_ != ApicMode::x2apic) return ldr_;
  // SDM 11.12.10.2: derived from the x2APIC ID, read-only.
  const std::uint64_t cluster = apic_id_ >> kX2apicClusterShift;
  const std::uint64_t member = std::uint64_t{1} << (apic_id_ & kX2apicMemberIndexMask);
  return static_cast<std::uint32_t>(
      kX2apicLogicalMembers.set(kX2apicLogicalCluster.set(0, cluster), member));
}

bool LocalApic::matches_logical(std::uint32_t destination, ApicMode sender_mode) const {
  if (mode_ != sender_mode) return false;
  if (mode_ == ApicMode::x2apic) {
    const std::uint32_t mine = ldr();
    return kX2apicLogicalCluster.get(destination) == kX2apicLogicalCluster.get(mine) &&
           (kX2apicLogicalMembers.get(destination) & kX2apicLogicalMembers.get(mine)) != 0;
  }
  if (mode_ != ApicMode::xapic) return false;
  const auto dest = static_cast<std::uint32_t>(destination & APIC_BROADCAST_ID);
  const auto logical_id = static_cast<std::uint32_t>(kLdrXapicLogicalId.get(ldr_));
  if (kDfrModel.get(dfr_) == kDfrModelFlat) return (dest & logical_id) != 0;
  // Cluster model (SDM 11.6.2.2): cluster 0xF addresses every cluster.
  const auto dest_cluster = kXapicClusterId.get(dest);
  return (dest_cluster == kXapicBroadcastCluster ||
          dest_cluster == kXapicClusterId.get(logical_id)) &&
         (kXapicClusterMembers.get(dest) & kXapicClusterMembers.get(logical_id)) != 0;
}

// ---- Register file -----------------------------------------------------------------

MsrRead LocalApic::read_register(std::uint32_t offset, bool x2) {
  if (const auto which = lvt_at_offset(offset)) return value(lvt_[index_of(*which)].raw());
  if (in_isr_tmr_irr(offset)) {
    // Eight 32-bit registers each, 16 bytes apart; the TMR stays 0 (edge-triggered IPIs only).
    const std::uint32_t index = (offset & 0x7F) >> 4;
    const VectorBits* bits = offset < APIC_TMR ? &isr_ : offset >= APIC_IRR ? &irr_ : nullptr;
    if (bits == nullptr) return value(0);
    return value(((*bits)[index / 2] >> (32 * (index % 2))) & kLow32);
  }
  switch (offset) {
    case APIC_ID:
      return value(x2 ? apic_id_ : kXapicIdField.set(0, apic_id_));
    case APIC_LVR:
      return value(kVersionValue);
    case APIC_TASKPRI:
      return value(tpr_);
    case APIC_PROCPRI:
      return value(tpr_);  // nothing in service: PPR = TPR (SDM 11.8.3.1)
    case APIC_ARBPRI:
    case APIC_RRR:
      return x2 ? gp() : value(0);
    case APIC_EOI:
      return x2 ? gp() : value(0);  // write-only
    case APIC_LDR:
      return value(ldr());
    case APIC_DFR:
      return x2 ? gp() : value(dfr_);
    case APIC_SPIV:
      return value(svr_);
    case APIC_ESR:
      return value(esr_);
    case APIC_ICR:
      return value(x2 ? icr_.raw() : icr_.low());
    case APIC_ICR2:
      return x2 ? gp() : value(icr_.xapic_high());
    case APIC_TMICT:
      return value(tmict_);
    case APIC_TMCCT:
      return value(0);  // the timer does not count
    case APIC_TDCR:
      return value(tdcr_);
    case APIC_SELF_IPI:
      return gp();  // x2APIC write-only; no such xAPIC register
    default:
      return gp();
  }
}

// The single write, the path of every IPI, is the one below with its count a
// constant (flatten: the count's additions and test fold away).
[[gnu::flatten]] Fault LocalApic::write_x2apic_icr(std::uint64_t value) {
  return write_x2apic_icr(value, 1);
}

Fault LocalApic::write_x2apic_icr(std::uint64_t value, std::uint32_t count) {
  // write_register's x2APIC ICR write, without its register decode: the
  // platform's ICR writes (Machine::write_icr) come here straight.
  if (mode_ != ApicMode::x2apic || (value & ~kIcrX2apicWritable) != 0) return Fault::gp;
  icr_ = IcrValue(value);
  send(icr_, count);
  return Fault::none;
}

Fault LocalApic::write_register(std::uint32_t offset, std::uint64_t value, bool x2) {
  // The ICR first: the register an IPI storm writes (the LVT, ISR/TMR/IRR and
  // other tests below never match its offset).
  if (offset == APIC_ICR) {
    if (x2) return write_x2apic_icr(value);  // write_msr checked the mode
    // The low-word write keeps ICR2's destination and sends (docs/hardware.md §3 "Local APIC").
    icr_ = IcrValue(value & kLow32 & kIcrLowWritable).with_destination(icr_.destination());
    send(icr_);
    return Fault::none;
  }
  // x2APIC: every register but the ICR is 32 bits wide; the upper half is reserved.
  if (x2 && (value >> 32) != 0) return Fault::gp;
  const auto v32 = static_cast<std::uint32_t>(value & kLow32);
  // Then the EOI, which ends every interrupt, ahead of the LVT search.
  if (offset == APIC_EOI) {
    if (x2 && v32 != 0) return Fault::gp;  // SDM 11.12.1.3
    ++counters_.eoi_writes;
    // SDM Vol. 3A ch. 11 "End-of-Interrupt (EOI)": the highest ISR bit clears;
    // a request that waited behind it may now be dispatched.
    if (const int v = highest_vector(isr_); v >= 0) {
      clear_vector(isr_, static_cast<std::uint8_t>(v));
      if (const int next = pending_interrupt(); next >= 0 && sink_ != nullptr) {
        sink_->accept_message(DeliveryMode::fixed, static_cast<std::uint8_t>(next));
      }
    }
    return Fault::none;
  }
  if (const auto which = lvt_at_offset(offset)) return write_lvt(*which, value, x2);
  if (in_isr_tmr_irr(offset)) return x2 ? Fault::gp : Fault::none;  // read-only
  switch (offset) {
    case APIC_ID:  // read-only in x2APIC; the model keeps xAPIC IDs fixed as well
    case APIC_LVR:
    case APIC_PROCPRI:
    case APIC_TMCCT:
      return x2 ? Fault::gp : Fault::none;
    case APIC_ARBPRI:
    case APIC_RRR:
      return x2 ? Fault::gp : Fault::none;
    case APIC_TASKPRI:
      if (x2 && (v32 & ~APIC_TPRI_MASK) != 0) return Fault::gp;
      tpr_ = v32 & APIC_TPRI_MASK;
      return Fault::none;
    case APIC_LDR:
      if (x2) return Fault::gp;  // derived from the ID
      ldr_ = v32 & APIC_LDR_MASK;
      return Fault::none;
    case APIC_DFR:
      if (x2) return Fault::gp;  // no DFR in x2APIC mode
      dfr_ = static_cast<std::uint32_t>(kDfrModel.set(kDfrReservedOnes, kDfrModel.get(v32)));
      return Fault::none;
    case APIC_SPIV:
      if (x2 && (v32 & ~kSpivWritable) != 0) return Fault::gp;
      write_svr(v32 & kSpivWritable);
      return Fault::none;
    case APIC_ESR:
      if (x2 && v32 != 0) return Fault::gp;  // SDM 11.12.1.3: only 0 may be written
      latch_esr();
      return Fault::none;
    case APIC_ICR2:
      if (x2) return Fault::gp;  // one 64-bit ICR in x2APIC mode
      icr_ = IcrValue::from_xapic(icr_.low(), v32);
      return Fault::none;
    case APIC_TMICT:
      tmict_ = v32;
      return Fault::none;
    case APIC_TDCR:
      if (x2 && (v32 & ~APIC_TDR_DIV_MASK) != 0) return Fault::gp;
      tdcr_ = v32 & APIC_TDR_DIV_MASK;
      return Fault::none;
    case APIC_SELF_IPI: {
      if (!x2) return Fault::gp;  // x2APIC only
      if ((v32 & ~APIC_SELF_IPI_VECTOR_MASK) != 0) return Fault::gp;
      const auto vector = static_cast<std::uint8_t>(v32);
      send(IcrValue{}.with_vector(vector).with_shorthand(Shorthand::self));
      return Fault::none;
    }
    default:
      return Fault::gp;
  }
}

Fault LocalApic::write_lvt(Lvt which, std::uint64_t value, bool x2) {
  const LvtInfo& info = lvt_info(which);
  const auto v32 = static_cast<std::uint32_t>(value);
  if (x2 && (v32 & ~(info.writable | info.read_only)) != 0) return Fault::gp;
  LvtEntry& entry = lvt_[index_of(which)];
  std::uint32_t raw = (v32 & info.writable) | (entry.raw() & info.read_only);
  // SDM 11.4.7.2: while software-disabled, the mask bits are set and stay set.
  if (!software_enabled()) raw |= APIC_LVT_MASKED;
  entry = LvtEntry(raw);
  return Fault::none;
}

void LocalApic::write_svr(std::uint32_t value) {
  svr_ = value;
  if (!software_enabled()) {
    for (auto& e : lvt_)
      e = e.with_masked(true);
  }
}

void LocalApic::latch_esr() {
  // SDM 11.5.3: a write clears the logged errors and makes visible those detected
  // since the previous write.
  esr_ = esr_pending_;
  esr_pending_ = 0;
}

void LocalApic::record_error(std::uint32_t esr_bits) {
  esr_pending_ |= esr_bits;
  ++counters_.errors;
  // The error LVT is fixed-mode only: its interrupt is counted.
  if (!lvt_[index_of(Lvt::error)].masked() && software_enabled()) ++counters_.error_interrupts;
}

std::uint32_t LocalApic::mmio_read(std::uint32_t offset) {
  if (mode_ != ApicMode::xapic) {
    ++counters_.mmio_ignored;
    return 0;
  }
  if (offset % kApicRegisterStride != 0 || offset >= kApicRegisterSpaceEnd) {
    record_error(APIC_ESR_ILLREGA);
    return 0;
  }
  const MsrRead r = read_register(offset, false);
  if (!r.ok()) {
    record_error(APIC_ESR_ILLREGA);
    return 0;
  }
  return static_cast<std::uint32_t>(r.value);
}

void LocalApic::mmio_write(std::uint32_t offset, std::uint32_t value) {
  if (mode_ != ApicMode::xapic) {
    ++counters_.mmio_ignored;
    return;
  }
  if (offset % kApicRegisterStride != 0 || offset >= kApicRegisterSpaceEnd ||
      write_register(offset, value, false) != Fault::none) {
    record_error(APIC_ESR_ILLREGA);
  }
}

bool LocalApic::claims_msr(std::uint32_t index) const {
  return index == MSR_IA32_APICBASE || (index >= kX2apicMsrFirst && index <= kX2apicMsrLast);
}

MsrRead LocalApic::read_msr(std::uint32_t index) {
  if (index == MSR_IA32_APICBASE) return value(apic_base_);
  if (mode_ != ApicMode::x2apic || !claims_msr(index)) return gp();
  return read_register(x2apic_offset(index), true);
}

Fault LocalApic::write_msr(std::uint32_t index, std::uint64_t value) {
  if (index == MSR_IA32_APICBASE) return write_apic_base(value);
  if (mode_ != ApicMode::x2apic || !claims_msr(index)) return Fault::gp;
  return write_register(x2apic_offset(index), value, true);
}

Fault LocalApic::write_apic_base(std::uint64_t value) {
  if ((value & ~kApicBaseWritable) != 0) return Fault::gp;
  const bool en = (value & MSR_IA32_APICBASE_ENABLE) != 0;
  const bool extd = (value & X2APIC_ENABLE) != 0;
  if (extd && !en) return Fault::gp;  // invalid state
  const ApicMode next = !en ? ApicMode::disabled : extd ? ApicMode::x2apic : ApicMode::xapic;
  // SDM 11.12.5: x2APIC -> xAPIC and disabled -> x2APIC are illegal transitions.
  if (mode_ == ApicMode::x2apic && next == ApicMode::xapic) return Fault::gp;
  if (mode_ == ApicMode::disabled && next == ApicMode::x2apic) return Fault::gp;
  if (next == ApicMode::disabled && mode_ != ApicMode::disabled) reset_registers();
  mode_ = next;
  apic_base_ = value;
  return Fault::none;
}

// ---- Sending and receiving -----------------------------------------------------------

void LocalApic::send(IcrValue icr, std::uint32_t count) {
  const DeliveryMode mode = icr.delivery_mode();
  if ((mode == DeliveryMode::fixed || mode == DeliveryMode::lowest_priority) &&
      icr.vector() < kFirstLegalVector) {
    // SDM 11.5.3: nothing is sent; each write is an error of its own.
    for (std::uint32_t i = 0; i < count; ++i)
      record_error(APIC_ESR_SENDILL);
    counters_.ipis_rejected += count;
    return;
  }
  if (mode == DeliveryMode::remote_read || mode == DeliveryMode::extint) {
    counters_.ipis_rejected += count;  // not valid IPI delivery modes on current APICs
    return;
  }
  counters_.ipis_sent += count;
  if (count == 1) {
    bus_.send(cpu_, icr);
  } else {
    bus_.send(cpu_, icr, count);
  }
}

void LocalApic::raise_nmi(std::uint32_t source_vector, std::uint64_t count) {
  counters_.nmis_raised += count;
  if (sink_ == nullptr) {
    counters_.nmis_without_sink += count;
    return;
  }
  if (count == 1) {
    sink_->assert_nmi(source_vector);
  } else {
    sink_->assert_nmis(source_vector, count);
  }
}

// Inlined into run_event, the path of every message.
[[gnu::always_inline]] inline void LocalApic::receive(DeliveryMode mode, std::uint8_t vector) {
  if (mode_ == ApicMode::disabled) {
    ++counters_.received_dropped;
    return;
  }
  // SDM 11.4.7.2: a software-disabled APIC still accepts NMI, SMI, INIT and SIPI.
  if ((mode == DeliveryMode::fixed || mode == DeliveryMode::lowest_priority) &&
      !software_enabled()) {
    ++counters_.received_dropped;
    return;
  }
  ++counters_.received[index_of(mode)];
  if (mode == DeliveryMode::nmi) {
    raise_nmi(vector);
    return;
  }
  if (mode == DeliveryMode::fixed || mode == DeliveryMode::lowest_priority) {
    // SDM Vol. 3A ch. 11 "Interrupt Acceptance for Fixed Interrupts": the
    // request sets its IRR bit (a second one for a set bit is merged) and waits
    // there until the CPU takes it. The sender rejected vectors 0..15.
    set_vector(irr_, vector);
  }
  if (sink_ != nullptr) {
    sink_->accept_message(mode, vector);
  }
}

void LocalApic::receive(DeliveryMode mode, std::uint8_t vector, std::uint64_t count) {
  // `count` NMI messages, one after another at one cycle: each is counted and
  // raised as receive() does it, and the CPU takes them together. Other modes
  // one by one (a fixed interrupt may be taken between two).
  if (mode != DeliveryMode::nmi) {
    for (; count != 0; --count)
      receive(mode, vector);
    return;
  }
  if (mode_ == ApicMode::disabled) {
    counters_.received_dropped += count;
    return;
  }
  counters_.received[index_of(mode)] += count;
  raise_nmi(vector, count);
}

int LocalApic::pending_interrupt() const {
  const int v = highest_vector(irr_);
  if (v < 0) return -1;
  // The processor priority: the higher of the TPR and the class of the highest
  // ISR vector; only a higher class is dispatched.
  const int in_service = highest_vector(isr_);
  const std::uint32_t ppr = std::max<std::uint32_t>(
      tpr_ & 0xF0, in_service < 0 ? 0 : static_cast<std::uint32_t>(in_service) & 0xF0);
  return (static_cast<std::uint32_t>(v) & 0xF0) > ppr ? v : -1;
}

void LocalApic::acknowledge_interrupt(std::uint8_t vector) {
  clear_vector(irr_, vector);
  set_vector(isr_, vector);
}

LvtOutcome LocalApic::assert_lvt(Lvt which) {
  const std::size_t i = index_of(which);
  ++counters_.lvt_asserted[i];
  if (mode_ == ApicMode::disabled) {
    // SDM 11.4.3: with the APIC hardware-disabled, LINT1 is the processor's NMI pin.
    if (which == Lvt::lint1) {
      ctx_.queue.schedule_in(ctx_.cost(TimingParam::lvt_delivery), *this, kLvtNmi,
                             (std::uint64_t{i} << 32) | kExternalNmiSourceVector);
      return LvtOutcome::nmi_scheduled;
    }
    ++counters_.lvt_dropped_disabled;
    return LvtOutcome::apic_disabled;
  }
  LvtEntry& entry = lvt_[i];
  if (entry.masked()) {
    ++counters_.lvt_masked[i];
    // SDM Vol. 3B "Handling Performance Counter Interrupts": delivering a PMI
    // sets LVTPC's mask bit, and it stays set until software rewrites LVTPC
    // (Linux's perf handler does, arch/x86/events/intel/core.c
    // intel_pmu_handle_irq). A PMI raised meanwhile goes nowhere.
    if (which == Lvt::perfmon && ctx_.tracer.enabled()) {
      ctx_.tracer.emit(ctx_.now(), cpu_, "pmi_dropped", {{"lvtpc", TraceValue::hex(entry.raw())}});
    }
    return LvtOutcome::masked_dropped;
  }
  const LvtEntry fired = entry;
  // docs/hardware.md §3 "Local APIC": a PMI masks LVTPC; the perf handler rewrites it to unmask.
  if (which == Lvt::perfmon) entry = entry.with_masked(true);
  const DeliveryMode mode =
      lvt_info(which).has_delivery_mode ? fired.delivery_mode() : DeliveryMode::fixed;
  if (mode == DeliveryMode::nmi) {
    // docs/hardware.md §2 "NMI-source reporting": LINT1 is the external NMI, source vector 2; the
    // others carry their vector field (§2: LVTPC confirmed, thermal/CMCI/LINT0 modelled as able).
    const std::uint32_t source =
        which == Lvt::lint1 ? kExternalNmiSourceVector : std::uint32_t{fired.vector()};
    ctx_.queue.schedule_in(ctx_.cost(TimingParam::lvt_delivery), *this, kLvtNmi,
                           (std::uint64_t{i} << 32) | source);
    return LvtOutcome::nmi_scheduled;
  }
  if (mode == DeliveryMode::fixed && fired.vector() < kFirstLegalVector) {
    record_error(APIC_ESR_RECVILL);
    return LvtOutcome::illegal_vector;
  }
  ++counters_.lvt_counted[i];
  return LvtOutcome::counted;
}

void LocalApic::on_event(std::uint32_t kind, std::uint64_t arg) {
  // This APIC's next event, when it is the queue's next and due now (the ten
  // identical NMI messages of one cycle in kvm-unit-tests' "pending nmi"),
  // runs here as well: the same event in the same place of the order, without
  // a trip through the run loop (EventQueue::take_next_of; never under step()).
  // An entry's identical events (post() repeats: the ten NMI messages of one
  // ICR written ten times) come together, and run together.
  std::uint64_t count = 1;
  do {
    if (count == 1) [[likely]] {
      run_event(kind, arg);
    } else {
      run_events(kind, arg, count);
    }
  } while ((count = ctx_.queue.take_entry_of(*this, kind, arg)) != 0);
}

// Out of line: rare, and kept off the path of single messages.
[[gnu::noinline]] void LocalApic::run_events(std::uint32_t kind, std::uint64_t arg,
                                             std::uint64_t count) {
  if (kind == kIpiArrive) {
    const IcrValue message(arg);
    receive(message.delivery_mode(), message.vector(), count);
    return;
  }
  for (; count != 0; --count)
    run_event(kind, arg);
}

void LocalApic::run_event(std::uint32_t kind, std::uint64_t arg) {
  switch (kind) {
    case kIpiArrive: {
      const IcrValue message(arg);
      receive(message.delivery_mode(), message.vector());
      return;
    }
    case kLvtNmi: {
      const auto i = static_cast<std::size_t>(arg >> 32);
      assert(i < kLvtCount);
      ++counters_.lvt_nmi[i];
      raise_nmi(static_cast<std::uint32_t>(arg & kLow32));
      return;
    }
    default:
      assert(false && "unknown LocalApic event kind");
  }
}

std::string_view LocalApic::event_name(std::uint32_t kind) const {
  switch (kind) {
    case kIpiArrive:
      return "ipi_arrive";
    case kLvtNmi:
      return "lvt_nmi";
    default:
      return "apic?";
  }
}

}  // namespace fredsim::apic
