#pragma once
// One CPU's local APIC (docs/hardware.md §3 "Local APIC"): ID, version, TPR/PPR, EOI, LDR/DFR, SVR,
// ESR, the ICR, the LVT entries and SELF_IPI, through the xAPIC MMIO view
// (mmio_read/mmio_write) and the x2APIC MSR view (cpu::MsrDevice, 0x800..0x8FF and
// IA32_APIC_BASE 0x1B, which switches the mode).
//
// Bad register values never throw: in x2APIC mode they #GP as hardware does
// (Fault::gp, nothing changes); in xAPIC mode reserved bits are ignored and an
// access to a register that does not exist sets ESR "illegal register address".
// Send errors (illegal vector) set ESR and send nothing.
//
// Modelled but simplified: the APIC ID is fixed at configuration (writes to the
// xAPIC ID register are ignored), ICR delivery status always reads idle (the
// interconnect accepts a message at once), fixed interrupts wait in the IRR
// and move to the ISR when the CPU takes them (TMR reads 0, PPR reads TPR;
// docs/hardware.md "Maskable interrupts"), the timer does not count.
#include <array>
#include <cstdint>
#include <string_view>

#include "fredsim/apic/apic_mode.hpp"
#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/delivery_mode.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/lvt.hpp"
#include "fredsim/apic/nmi_sink.hpp"
#include "fredsim/apic/vector_bits.hpp"
#include "fredsim/cpu/fault.hpp"
#include "fredsim/cpu/interrupt_source.hpp"
#include "fredsim/cpu/msr_device.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/event_queue.hpp"

namespace fredsim::apic {

class Interconnect;

/// What assert_lvt() did with the event.
enum class LvtOutcome : std::uint8_t {
  nmi_scheduled,   // NMI mode: the sink gets assert_nmi after lvt_delivery cycles
  counted,         // another delivery mode (fixed, SMI, INIT, ExtINT): counted only
  masked_dropped,  // the entry is masked
  illegal_vector,  // fixed mode with vector 0..15: ESR "receive illegal vector"
  apic_disabled,   // the APIC is hardware-disabled and the LVT has no pin to bypass it
};

struct LocalApicCounters {
  std::uint64_t ipis_sent = 0;      // ICR / SELF_IPI writes that sent a message
  std::uint64_t ipis_rejected = 0;  // writes that sent nothing (illegal vector, bad mode)
  std::array<std::uint64_t, kDeliveryModeCount> received{};  // accepted messages by mode
  std::uint64_t received_dropped = 0;   // arrived at a disabled APIC, or fixed while
                                        // software-disabled
  std::uint64_t nmis_raised = 0;        // NMIs passed to the CPU (IPIs and LVTs)
  std::uint64_t nmis_without_sink = 0;  // NMIs that found no sink bound (lost)
  std::array<std::uint64_t, kLvtCount> lvt_asserted{};  // assert_lvt calls
  std::array<std::uint64_t, kLvtCount> lvt_masked{};    // dropped: entry masked
  std::array<std::uint64_t, kLvtCount> lvt_nmi{};       // delivered as NMIs
  std::array<std::uint64_t, kLvtCount> lvt_counted{};   // other modes, counted only
  std::uint64_t lvt_dropped_disabled = 0;  // asserted while the APIC is hardware-disabled
  std::uint64_t eoi_writes = 0;
  std::uint64_t errors = 0;            // error conditions recorded in ESR
  std::uint64_t error_interrupts = 0;  // of those, signalled through an unmasked LVT error
  std::uint64_t mmio_ignored = 0;      // MMIO accesses while not in xAPIC mode
};

class LocalApic final : public EventTarget, public cpu::MsrDevice, public cpu::InterruptSource {
 public:
  /// Event kinds on this target.
  enum EventKind : std::uint32_t {
    kIpiArrive = 0,  // arg: an ICR of mode and vector only (pack_message)
    kLvtNmi = 1,     // arg: LVT index << 32 | source vector
  };

  /// Only an Interconnect creates local APICs.
  class Key {
    friend class Interconnect;
    Key() = default;
  };
  LocalApic(Key, Interconnect& bus, SimContext ctx, CpuId cpu, std::uint32_t apic_id, ApicMode mode,
            bool software_enabled);
  LocalApic(const LocalApic&) = delete;
  LocalApic& operator=(const LocalApic&) = delete;

  CpuId cpu() const { return cpu_; }
  std::uint32_t apic_id() const { return apic_id_; }
  ApicMode mode() const { return mode_; }
  bool software_enabled() const { return (svr_ & APIC_SPIV_APIC_ENABLED) != 0; }

  /// The CPU end; nullptr unbinds. NMIs with no sink are counted and lost.
  void bind_nmi_sink(NmiSink* sink) { sink_ = sink; }
  NmiSink* nmi_sink() const { return sink_; }

  // ---- xAPIC view: 32-bit accesses at 16-byte aligned offsets of the APIC page ----
  /// Reads a register. Outside xAPIC mode: 0, counted in mmio_ignored.
  std::uint32_t mmio_read(std::uint32_t offset);
  /// Writes a register; a write to APIC_ICR sends (the caller charges
  /// icr_write_cost()). Outside xAPIC mode: ignored, counted in mmio_ignored.
  void mmio_write(std::uint32_t offset, std::uint32_t value);

  // ---- Fixed interrupts (cpu::InterruptSource; docs/hardware.md "Maskable interrupts") ----
  /// The highest IRR vector whose priority class is above the processor
  /// priority (TPR and the highest ISR vector), or -1 (SDM Vol. 3A ch. 11
  /// "Interrupt Acceptance for Fixed Interrupts", "Processor Priority Register").
  int pending_interrupt() const override;
  /// INTA: the vector's IRR bit moves to the ISR.
  void acknowledge_interrupt(std::uint8_t vector) override;
  bool irr_bit(std::uint8_t vector) const { return has_vector(irr_, vector); }
  bool isr_bit(std::uint8_t vector) const { return has_vector(isr_, vector); }

  // ---- x2APIC view (cpu::MsrDevice): 0x800..0x8FF and IA32_APIC_BASE --------------
  bool claims_msr(std::uint32_t index) const override;
  /// #GP outside x2APIC mode (for 0x800..0x8FF), for registers that do not exist in
  /// x2APIC mode and for write-only ones (EOI, SELF_IPI).
  cpu::MsrRead read_msr(std::uint32_t index) override;
  /// A write to ICR (0x830) or SELF_IPI (0x83F) sends; the caller charges
  /// icr_write_cost(). #GP for reserved bits, read-only registers and as read_msr.
  cpu::Fault write_msr(std::uint32_t index, std::uint64_t value) override;
  /// write_msr(ICR MSR 0x830, value) without the MSR decode, for a platform
  /// whose CPUs reach the x2APIC ICR only through this APIC. Nothing changes
  /// when it faults (#GP outside x2APIC mode or for a reserved bit), so the
  /// caller may then make the write through the CPU to have the fault recorded.
  cpu::Fault write_x2apic_icr(std::uint64_t value);
  /// write_x2apic_icr(value) `count` times in a row (count >= 1): the same
  /// checks, one fault for all when it faults (then nothing was sent).
  cpu::Fault write_x2apic_icr(std::uint64_t value, std::uint32_t count);

  /// IA32_APIC_BASE (SDM 11.12.5): xAPIC -> x2APIC and any -> disabled are allowed;
  /// x2APIC -> xAPIC, disabled -> x2APIC and EXTD without EN #GP.
  std::uint64_t apic_base() const { return apic_base_; }
  cpu::Fault write_apic_base(std::uint64_t value);
  /// Shorthand for write_apic_base(EN | EXTD): xAPIC -> x2APIC.
  cpu::Fault enable_x2apic() {
    return write_apic_base(apic_base_ | MSR_IA32_APICBASE_ENABLE | X2APIC_ENABLE);
  }

  /// What the sender is charged for an ICR or SELF_IPI write (TimingParam::icr_write).
  Cycle icr_write_cost() const { return ctx_.cost(TimingParam::icr_write); }

  // ---- Local interrupt sources ----------------------------------------------------
  /// A local source fires: PMU overflow (perfmon), LINT0/LINT1 pins, thermal, CMCI,
  /// timer, error. NMI mode: the sink gets assert_nmi(vector field) after
  /// lvt_delivery cycles; LINT1 arrives as source vector 2 (docs/hardware.md §2 "NMI-source
  /// reporting"). A PMI sets LVTPC's mask bit (docs/hardware.md §3 "Local APIC"); the handler
  /// unmasks it by rewriting it.
  LvtOutcome assert_lvt(Lvt which);

  // ---- Typed inspection -----------------------------------------------------------
  LvtEntry lvt(Lvt which) const { return lvt_[index_of(which)]; }
  IcrValue icr() const { return icr_; }
  /// ESR as software reads it: the errors latched by the last ESR write.
  std::uint32_t esr() const { return esr_; }
  /// Errors detected since the last ESR write (not yet visible to software).
  std::uint32_t esr_pending() const { return esr_pending_; }
  /// The logical destination register as the current mode defines it.
  std::uint32_t ldr() const;
  std::uint32_t dfr() const { return dfr_; }
  std::uint32_t svr() const { return svr_; }
  std::uint32_t tpr() const { return tpr_; }
  const LocalApicCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = {}; }

  // ---- EventTarget ----------------------------------------------------------------
  void on_event(std::uint32_t kind, std::uint64_t arg) override;
  std::string_view event_name(std::uint32_t kind) const override;
  CpuId event_cpu() const override { return cpu_; }

  /// Whether this APIC, as a receiver, matches a logical destination sent by an
  /// APIC in `sender_mode` (SDM 11.6.2.2 flat/cluster, 11.12.10 x2APIC cluster).
  bool matches_logical(std::uint32_t destination, ApicMode sender_mode) const;

  static constexpr std::uint64_t pack_message(DeliveryMode mode, std::uint8_t vector) {
    return IcrValue{}.with_delivery_mode(mode).with_vector(vector).raw();
  }

 private:
  /// One event of this APIC (on_event runs it, and the next ones due now).
  void run_event(std::uint32_t kind, std::uint64_t arg);
  /// run_event() `count` times over, for identical events that come together.
  void run_events(std::uint32_t kind, std::uint64_t arg, std::uint64_t count);
  friend class Interconnect;

  cpu::MsrRead read_register(std::uint32_t offset, bool x2);
  cpu::Fault write_register(std::uint32_t offset, std::uint64_t value, bool x2);
  cpu::Fault write_lvt(Lvt which, std::uint64_t value, bool x2);
  void write_svr(std::uint32_t value);
  void latch_esr();
  void record_error(std::uint32_t esr_bits);
  void send(IcrValue icr, std::uint32_t count = 1);
  /// Passes `count` NMIs (identical, at one cycle) to the CPU.
  void raise_nmi(std::uint32_t source_vector, std::uint64_t count = 1);
  void receive(DeliveryMode mode, std::uint8_t vector);
  /// receive() `count` times over, for identical messages that arrive together.
  void receive(DeliveryMode mode, std::uint8_t vector, std::uint64_t count);
  void reset_registers();

  Interconnect& bus_;
  SimContext ctx_;
  NmiSink* sink_ = nullptr;
  CpuId cpu_;
  std::uint32_t apic_id_;
  ApicMode mode_;
  std::uint64_t apic_base_;
  IcrValue icr_;
  std::array<LvtEntry, kLvtCount> lvt_;
  std::uint32_t tpr_ = 0;
  std::uint32_t ldr_ = 0;  // xAPIC; x2APIC derives it from the ID
  std::uint32_t dfr_ = APIC_DFR_FLAT;
  std::uint32_t svr_ = kSpivReset;
  std::uint32_t esr_ = 0;
  std::uint32_t esr_pending_ = 0;
  std::uint32_t tmict_ = 0;
  VectorBits irr_{};  // fixed interrupts accepted, not yet taken
  VectorBits isr_{};  // taken, not yet ended by an EOI
  std::uint32_t tdcr_ = 0;
  LocalApicCounters counters_;
};

}  // namespace fredsim::apic
