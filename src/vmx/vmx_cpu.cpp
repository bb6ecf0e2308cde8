#include "fredsim/vmx/vmx_cpu.hpp"

#include <cassert>
#include <span>
#include <utility>

namespace fredsim::vmx {

namespace {

using cpu::ArchState;
using cpu::EventType;
using cpu::RunState;
namespace arch = cpu::arch;

// Segment access rights (SDM Vol. 3C "Guest Register State"): DPL in bits 6:5,
// present in bit 7. CPL is the DPL of SS after VM entry.
constexpr BitField kAccessRightsDpl{5, 2};
constexpr BitField kAccessRightsPresent{7, 1};
// IA32_FRED_CONFIG bits 1:0 hold the current stack level (docs/hardware.md §1 "FRED event
// delivery").
constexpr std::uint64_t kConfigCsl = arch::kConfigCsl.mask();
// RFLAGS after a VM exit: every bit cleared except bit 1 (SDM Vol. 3C "Loading
// Host RIP, RSP, RFLAGS, and SSP").
constexpr std::uint64_t kHostRflagsAfterExit = arch::kRflagsFixed1;

constexpr std::uint64_t fred_config_with_csl(const ArchState& s) {
  return (s.config.encode() & ~kConfigCsl) | (s.csl & kConfigCsl);
}

// The FRED MSR fields of one side, in VMCS order: CONFIG, RSP1..3, STKLVLS, SSP1..3.
struct FredFields {
  std::uint32_t config, rsp1, stklvls, ssp1;
};
constexpr FredFields kGuestFred{field::kGuestFredConfig, field::kGuestFredRsp1,
                                field::kGuestFredStklvls, field::kGuestFredSsp1};
constexpr FredFields kHostFred{field::kHostFredConfig, field::kHostFredRsp1,
                               field::kHostFredStklvls, field::kHostFredSsp1};
constexpr std::uint32_t kFieldStep = 2;  // consecutive 64-bit fields (docs/hardware.md §4 "VMX")
constexpr unsigned kFredLevels = 4;      // RSP/SSP 1..3 are in the VMCS, 0 is not

/// The FRED state of the VMCS fields (CONFIG with the CSL, STKLVLS, RSP1..3,
/// SSP1..3): loaded at VM entry (guest) or VM exit (host) when the controls say so.
void copy_fred_state(const cpu::ArchState& fields, cpu::ArchState& s) {
  s.config = fields.config;
  s.csl = fields.csl;
  s.stklvls = fields.stklvls;
  for (unsigned l = 1; l < kFredLevels; ++l) {
    s.fred_rsp[l] = fields.fred_rsp[l];
    s.fred_ssp[l] = fields.fred_ssp[l];
  }
}

// The fields are template arguments: each encoding is a constant, so its slot
// in the VMCS table is worked out at compile time, not at every VM exit.
template <FredFields f>
void write_fred(Vmcs& v, const ArchState& s) {
  v.set_exit_field(f.config, fred_config_with_csl(s));
  v.set_exit_field(f.stklvls, s.stklvls.encode());
  for (unsigned l = 1; l < kFredLevels; ++l) {
    v.set_exit_field(f.rsp1 + (l - 1) * kFieldStep, s.fred_rsp[l]);
    v.set_exit_field(f.ssp1 + (l - 1) * kFieldStep, s.fred_ssp[l]);
  }
}

template <FredFields f>
void read_fred(const Vmcs& v, ArchState& s) {
  const std::uint64_t config = v.get(f.config);
  s.config = cpu::FredConfig(config);
  s.csl = static_cast<std::uint8_t>(config & kConfigCsl);
  s.stklvls = cpu::FredStklvls(v.get(f.stklvls));
  for (unsigned l = 1; l < kFredLevels; ++l) {
    s.fred_rsp[l] = v.get(f.rsp1 + (l - 1) * kFieldStep);
    s.fred_ssp[l] = v.get(f.ssp1 + (l - 1) * kFieldStep);
  }
}

void write_msrs(MsrArea& m, const ArchState& s) {
  m.fred_rsp0 = s.fred_rsp[0];
  m.pl0_ssp = s.fred_ssp[0];
  m.star = s.star;
}

void read_msrs(const MsrArea& m, ArchState& s) {
  s.fred_rsp[0] = m.fred_rsp0;
  s.fred_ssp[0] = m.pl0_ssp;
  s.star = m.star;
}

}  // namespace

std::string_view vmx_mode_name(VmxMode m) {
  switch (m) {
    case VmxMode::root:
      return "root";
    case VmxMode::entering:
      return "entering";
    case VmxMode::guest:
      return "guest";
    case VmxMode::exiting:
      return "exiting";
  }
  return "?";
}

VmxCpu::VmxCpu(cpu::Cpu& cpu, const Config& config)
    : cpu_(cpu),
      guest_os_(config.guest_os),
      handler_(config.exit_handler),
      capture_host_(config.capture_host_state) {}

// --- Setup helpers -----------------------------------------------------------------

void VmxCpu::write_guest_state(const ArchState& s) {
  Vmcs& v = vmcs_;
  v.set_exit_field(field::kGuestRip, s.rip);
  v.set_exit_field(field::kGuestRsp, s.rsp);
  v.set_exit_field(field::kGuestRflags, s.rflags);
  v.set_exit_field(field::kGuestCr4, s.cr4);
  v.set_exit_field(field::kGuestCsSelector, s.cs);
  v.set_exit_field(field::kGuestSsSelector, s.ss);
  const std::uint64_t ar = kAccessRightsPresent.set(kAccessRightsDpl.set(0, s.cpl), 1);
  v.set_exit_field(field::kGuestCsAccessRights, ar);
  v.set_exit_field(field::kGuestSsAccessRights, ar);
  write_fred<kGuestFred>(v, s);
  write_msrs(guest_msrs_, s);
  v.set_exit_field(field::kGuestInterruptibility,
                   Interruptibility::decode(v.get(field::kGuestInterruptibility))
                       .set_blocking_by_nmi(s.nmi_blocked)
                       .encode());
  v.set_exit_field(
      field::kGuestActivityState,
      static_cast<std::uint32_t>(s.halted ? ActivityState::hlt : ActivityState::active));
  if ((s.cr4 & arch::kCr4Fred) != 0) {
    v.set_exit_field(
        field::kEntryControls,
        EntryControls::decode(v.get(field::kEntryControls)).set_load_guest_fred(true).encode());
    v.set_exit_field(field::kPrimaryExitControls,
                     PrimaryExitControls::decode(v.get(field::kPrimaryExitControls))
                         .set_activate_secondary(true)
                         .encode());
    v.set_exit_field(field::kSecondaryExitControls,
                     SecondaryExitControls::decode(v.get(field::kSecondaryExitControls))
                         .set_save_guest_fred(true)
                         .set_load_host_fred(true)
                         .encode());
  }
}

ArchState VmxCpu::guest_state() const {
  ArchState s;
  const Vmcs& v = vmcs_;
  s.rip = v.get(field::kGuestRip);
  s.rsp = v.get(field::kGuestRsp);
  s.rflags = v.get(field::kGuestRflags);
  s.cr4 = v.get(field::kGuestCr4);
  s.cs = static_cast<std::uint16_t>(v.get(field::kGuestCsSelector));
  s.ss = static_cast<std::uint16_t>(v.get(field::kGuestSsSelector));
  s.cpl = static_cast<std::uint8_t>(kAccessRightsDpl.get(v.get(field::kGuestSsAccessRights)));
  read_fred<kGuestFred>(v, s);
  read_msrs(guest_msrs_, s);
  s.nmi_blocked = Interruptibility::decode(v.get(field::kGuestInterruptibility)).blocking_by_nmi();
  s.halted = v.get(field::kGuestActivityState) == static_cast<std::uint32_t>(ActivityState::hlt);
  return s;
}

void VmxCpu::write_host_state(const ArchState& s) {
  Vmcs& v = vmcs_;
  v.set_exit_field(field::kHostRip, s.rip);
  v.set_exit_field(field::kHostRsp, s.rsp);
  v.set_exit_field(field::kHostCr4, s.cr4);
  v.set_exit_field(field::kHostCsSelector, s.cs);
  v.set_exit_field(field::kHostSsSelector, s.ss);
  write_fred<kHostFred>(v, s);
  write_msrs(host_msrs_, s);
}

ArchState VmxCpu::host_state() const {
  ArchState s;
  const Vmcs& v = vmcs_;
  s.cpl = 0;
  s.rip = v.get(field::kHostRip);
  s.rsp = v.get(field::kHostRsp);
  s.rflags = kHostRflagsAfterExit;
  s.cr4 = v.get(field::kHostCr4);
  s.cs = static_cast<std::uint16_t>(v.get(field::kHostCsSelector));
  s.ss = static_cast<std::uint16_t>(v.get(field::kHostSsSelector));
  read_fred<kHostFred>(v, s);
  read_msrs(host_msrs_, s);
  return s;
}

void VmxCpu::inject_nmi(std::uint64_t event_data) {
  // Control fields: VMWRITE cannot fail on them.
  [[maybe_unused]] const VmxResult a =
      vmcs_.vmwrite(field::kEntryIntrInfo, IntrInfo::nmi().encode());
  [[maybe_unused]] const VmxResult b = vmcs_.vmwrite(field::kInjectedEventData, event_data);
  assert(a.ok() && b.ok());
}

// --- VM entry ------------------------------------------------------------------------

VmxResult VmxCpu::vm_enter(Cycle vmm_cycles) {
  return enter(Instruction::vmlaunch, vmm_cycles);
}
VmxResult VmxCpu::vm_resume(Cycle vmm_cycles) {
  return enter(Instruction::vmresume, vmm_cycles);
}

VmInstructionError VmxCpu::check_controls() const {
  // SDM Vol. 3C "Checks on VM-Execution Control Fields": "If the 'NMI exiting'
  // VM-execution control is 0, the 'virtual NMIs' VM-execution control must be 0."
  const PinControls pin = PinControls::decode(vmcs_.get(field::kPinControls));
  if (pin.virtual_nmis() && !pin.nmi_exiting()) {
    return VmInstructionError::entry_invalid_control_fields;
  }
  // Same section: "If the 'virtual NMIs' VM-execution control is 0, the
  // 'NMI-window exiting' VM-execution control must be 0."
  const ProcControls proc = ProcControls::decode(vmcs_.get(field::kPrimaryProcControls));
  if (proc.nmi_window_exiting() && !pin.virtual_nmis()) {
    return VmInstructionError::entry_invalid_control_fields;
  }
  // "Checks on VM-Entry Control Fields", event injection.
  const IntrInfo inj = IntrInfo::decode(vmcs_.get(field::kEntryIntrInfo));
  if (inj.valid()) {
    if ((inj.encode() & IntrInfo::kEntryReservedMask) != 0 || inj.type() == EventType::reserved) {
      return VmInstructionError::entry_invalid_control_fields;
    }
    if (inj.type() == EventType::nmi && inj.vector() != arch::kNmiVector) {
      return VmInstructionError::entry_invalid_control_fields;
    }
    if (inj.error_code_valid() && inj.type() != EventType::hardware_exception) {
      return VmInstructionError::entry_invalid_control_fields;
    }
  }
  return VmInstructionError::none;
}

std::string_view VmxCpu::check_guest_state() const {
  // SDM Vol. 3C "Checks on Guest Non-Register State", the activity-state and
  // interruptibility-state checks, in the manual's order. "" = all pass.
  const IntrInfo inj = IntrInfo::decode(vmcs_.get(field::kEntryIntrInfo));
  const Interruptibility intr = Interruptibility::decode(vmcs_.get(field::kGuestInterruptibility));
  const PinControls pin = PinControls::decode(vmcs_.get(field::kPinControls));
  const std::uint64_t activity = vmcs_.get(field::kGuestActivityState);
  const bool shadow = intr.blocking_by_sti() || intr.blocking_by_mov_ss();
  const bool inject_nmi = inj.valid() && inj.type() == EventType::nmi;

  // Activity state: a value the processor supports (IA32_VMX_MISC: HLT only).
  if (activity > static_cast<std::uint32_t>(ActivityState::hlt)) {
    return "activity state not supported (the model has active and HLT)";
  }
  const bool hlt = activity == static_cast<std::uint32_t>(ActivityState::hlt);
  if (hlt && kAccessRightsDpl.get(vmcs_.get(field::kGuestSsAccessRights)) != 0) {
    return "activity state HLT with SS.DPL not 0";
  }
  if (hlt && shadow) return "activity state HLT with blocking by STI or MOV SS";
  if (hlt && inj.valid()) {
    // HLT may be entered with an external interrupt, an NMI, #DB, #MC or a
    // pending MTF exit (other event, vector 0) injected, nothing else.
    const EventType t = inj.type();
    const bool allowed =
        t == EventType::external_interrupt || t == EventType::nmi ||
        (t == EventType::hardware_exception && (inj.vector() == 1 || inj.vector() == 18)) ||
        (t == EventType::other && inj.vector() == 0);
    if (!allowed) return "event injection the HLT activity state does not allow";
  }
  // Interruptibility state.
  if ((intr.encode() & Interruptibility::kReservedMask) != 0) {
    return "interruptibility state: reserved bits 31:4 not 0";
  }
  if (intr.blocking_by_sti() && intr.blocking_by_mov_ss()) {
    return "interruptibility state: blocking by STI and by MOV SS both set";
  }
  if (intr.blocking_by_sti() && (vmcs_.get(field::kGuestRflags) & arch::kRflagsIf) == 0) {
    return "interruptibility state: blocking by STI with RFLAGS.IF = 0";
  }
  if (inj.valid() && inj.type() == EventType::external_interrupt && shadow) {
    return "injecting an external interrupt with blocking by STI or MOV SS";
  }
  if (inject_nmi && intr.blocking_by_mov_ss()) return "injecting an NMI with blocking by MOV SS";
  // (A processor "may" also refuse an NMI injected with blocking by STI; the
  // model's does not.)
  if (intr.blocking_by_smi()) return "interruptibility state: blocking by SMI outside SMM";
  // Without virtual NMIs there is no such requirement (the SDM says so in a note).
  if (pin.virtual_nmis() && inject_nmi && intr.blocking_by_nmi()) {
    return "injecting an NMI with virtual-NMI blocking";
  }
  return {};
}

VmxResult VmxCpu::enter(Instruction insn, Cycle vmm_cycles) {
  const RunState rs = cpu_.run_state();
  if (mode_ != VmxMode::root || cpu_.non_root() ||
      (rs != RunState::running && rs != RunState::in_os)) {
    return VmxResult::faulted(cpu::Fault::ud);  // not executing host code
  }
  if (cpu_.cpl() != 0) return VmxResult::faulted(cpu::Fault::gp);

  VmInstructionError err = VmInstructionError::none;
  if (insn == Instruction::vmlaunch && vmcs_.launched()) {
    err = VmInstructionError::vmlaunch_non_clear_vmcs;
  } else if (insn == Instruction::vmresume && !vmcs_.launched()) {
    err = VmInstructionError::vmresume_non_launched_vmcs;
  } else {
    err = check_controls();
  }
  SimContext& ctx = cpu_.context();
  if (err != VmInstructionError::none) {
    ++stats_.failed_entries;
    entry_failure_ = vm_instruction_error_text(err);
    if (ctx.tracer.enabled()) {
      ctx.tracer.emit(ctx.now(), cpu_.id(), "vm_entry_fail",
                      {{"error", TraceValue::dec(static_cast<std::uint32_t>(err))},
                       {"what", TraceValue::str(vm_instruction_error_text(err))}});
    }
    return vmcs_.fail_valid(err);
  }
  if (const std::string_view bad = check_guest_state(); !bad.empty()) {
    // A VM-entry failure: reported as a VM exit with bit 31 set; the processor
    // stays with the host, which goes on after the instruction.
    ++stats_.failed_entries;
    entry_failure_ = bad;
    vmcs_.set_exit_field(field::kExitReason,
                         ExitReason::of(BasicExitReason::invalid_guest_state, true).encode());
    vmcs_.set_exit_field(field::kExitQualification, 0);
    if (ctx.tracer.enabled()) {
      ctx.tracer.emit(ctx.now(), cpu_.id(), "vm_entry_fail",
                      {{"reason", TraceValue::dec(vmcs_.get(field::kExitReason))},
                       {"what", TraceValue::str(bad)}});
    }
    return {VmxStatus::entry_failure, VmInstructionError::none, cpu::Fault::none, 0};
  }

  if (insn == Instruction::vmlaunch) vmcs_.set_launched(true);
  // The CPU's state now: the host's, when the entry captures it, and the base
  // of the guest's (the parts the controls do not load keep their values).
  ArchState g = cpu_.save_state();
  if (capture_host_) write_host_state(g);
  host_os_ = cpu_.os_entry();
  active_pin_ = PinControls::decode(vmcs_.get(field::kPinControls));
  active_proc_ = ProcControls::decode(vmcs_.get(field::kPrimaryProcControls));
  entering_with_ = insn;

  // Load the guest.
  const ArchState fields = guest_state();
  g.rip = fields.rip;
  g.rsp = fields.rsp;
  g.rflags = fields.rflags;
  g.cr4 = fields.cr4;
  g.cs = fields.cs;
  g.ss = fields.ss;
  g.cpl = fields.cpl;
  g.nmi_blocked = fields.nmi_blocked;
  // SDM Vol. 3C "Activity State" (Special Features of VM Entry): HLT after a
  // non-vectoring entry; a vectoring one delivers its event and runs on, active.
  const bool vectoring = IntrInfo::decode(vmcs_.get(field::kEntryIntrInfo)).valid();
  g.halted = fields.halted && !vectoring;
  if (EntryControls::decode(vmcs_.get(field::kEntryControls)).load_guest_fred()) {
    copy_fred_state(fields, g);
  }
  read_msrs(guest_msrs_, g);

  cpu_.begin_transition();
  cpu_.set_vmx(this);  // before load_state: the host's CR4 stays the root CR4
  cpu_.load_state(g);
  cpu_.set_os_entry(guest_os_);
  mode_ = VmxMode::entering;
  ctx.queue.schedule_in(vmm_cycles + ctx.cost(TimingParam::vm_entry), *this, kEntryDone);
  return VmxResult::success();
}

void VmxCpu::complete_entry() {
  mode_ = VmxMode::guest;
  ++stats_.entries;
  SimContext& ctx = cpu_.context();
  if (ends_nmi_exit_) {
    ends_nmi_exit_ = false;
    cpu_.complete_nmi_vm_entry();
  }
  const IntrInfo inj = IntrInfo::decode(vmcs_.get(field::kEntryIntrInfo));
  if (ctx.tracer.enabled()) {
    ctx.tracer.emit(
        ctx.now(), cpu_.id(), "vm_entry",
        {{"instruction",
          TraceValue::str(entering_with_ == Instruction::vmlaunch ? "vmlaunch" : "vmresume")},
         {"injected", TraceValue::hex(inj.valid() ? inj.encode() : 0)},
         {"guest_rip", TraceValue::hex(cpu_.rip())}});
  }
  if (!inj.valid()) {
    // A non-vectoring entry loads blocking by STI / MOV SS, which lasts one
    // instruction: one cycle of the guest's symbolic RIP (SDM Vol. 3C
    // "Interruptibility State" under "Special Features of VM Entry"). Meanwhile
    // at_boundary() holds NMIs and NMI-window exits back.
    const Interruptibility intr =
        Interruptibility::decode(vmcs_.get(field::kGuestInterruptibility));
    if (intr.blocking_by_sti() || intr.blocking_by_mov_ss()) {
      entry_blocking_ = true;
      ctx.queue.schedule_in(1, *this, kBlockingEnds);
    }
    // A pending NMI, an open NMI window or a kick may exit right away. The guest
    // goes on with what the last exit interrupted: its ordinary code, or its OS
    // code (a guest kernel's NMI handler).
    cpu_.end_transition(std::exchange(guest_in_os_, false) ? RunState::in_os : RunState::running);
    if (mode_ == VmxMode::guest && handler_ != nullptr) handler_->on_vm_entry(*this);
    return;
  }

  cpu::EventInfo ev;
  ev.type = inj.type();
  ev.vector = inj.vector();
  ev.error_code = inj.error_code_valid() ? vmcs_.get(field::kEntryExceptionErrorCode) : 0;
  ev.event_data = vmcs_.get(field::kInjectedEventData);
  ev.instruction_length = static_cast<std::uint8_t>(vmcs_.get(field::kEntryInstructionLength));
  ev.nested = inj.nested();

  // A physical NMI already pending that causes an exit: the model takes the exit
  // before the injected delivery and reports the event in the IDT-vectoring
  // information, as for an exit during event delivery (hardware takes it at the
  // first instruction of the handler instead; the CPU model does not look at the
  // latch when an entry point is reached). KVM re-injects it either way.
  const bool exit_first =
      cpu_.nmi_pending() && nmi_exiting() && (!cpu_.nmi_blocked() || virtual_nmis());
  if (exit_first) {
    vectoring_ = inj;
    vectoring_data_ = ev.event_data;
    ++stats_.exits_during_injection;
    cpu_.end_transition();
    assert(mode_ == VmxMode::exiting);
    return;
  }
  // Otherwise the injected event goes first; the latch waits for the next
  // instruction boundary the CPU model checks (an injected NMI blocks NMIs).
  const bool blocked = cpu_.nmi_blocked();
  // A kick waits for the delivery's end (the entry point's first boundary).
  const bool kick = std::exchange(kick_pending_, false);
  const bool insn = std::exchange(insn_exit_.pending, false);
  cpu_.set_nmi_blocked(true);
  cpu_.end_transition(std::exchange(guest_in_os_, false) ? RunState::in_os : RunState::running);
  cpu_.set_nmi_blocked(blocked);
  ++stats_.injected_events;
  [[maybe_unused]] const cpu::Fault f = cpu_.deliver_event(ev);
  assert(f == cpu::Fault::none);
  kick_pending_ = kick;
  insn_exit_.pending = insn;
  if (handler_ != nullptr) handler_->on_vm_entry(*this);
}

void VmxCpu::kick() {
  if (mode_ == VmxMode::guest) {
    kick_pending_ = true;
    cpu_.recheck_events();  // at once when the guest is at a boundary
  } else if (mode_ == VmxMode::entering) {
    kick_pending_ = true;  // taken when the entry completes
  }
}

void VmxCpu::instruction_exit(BasicExitReason reason, std::uint64_t qualification,
                              TimingParam cost) {
  if (mode_ != VmxMode::guest && mode_ != VmxMode::entering) return;
  insn_exit_ = InsnExit{true, reason, qualification, cost};
  if (mode_ == VmxMode::guest) cpu_.recheck_events();
}

// --- The NMI-induced VM exit (docs/hardware.md §4 "VMX")
// ------------------------------------------

bool VmxCpu::load_host_fred() const {
  // The secondary controls count only when the primary exit controls activate them.
  return PrimaryExitControls::decode(vmcs_.get(field::kPrimaryExitControls)).activate_secondary() &&
         SecondaryExitControls::decode(vmcs_.get(field::kSecondaryExitControls)).load_host_fred();
}

ArchState VmxCpu::save_guest_state() {
  ArchState s = cpu_.save_state();
  Vmcs& v = vmcs_;
  v.set_exit_field(field::kGuestRip, s.rip);
  v.set_exit_field(field::kGuestRsp, s.rsp);
  v.set_exit_field(field::kGuestRflags, s.rflags);
  v.set_exit_field(field::kGuestCr4, s.cr4);
  v.set_exit_field(field::kGuestCsSelector, s.cs);
  v.set_exit_field(field::kGuestSsSelector, s.ss);
  v.set_exit_field(field::kGuestSsAccessRights,
                   kAccessRightsDpl.set(v.get(field::kGuestSsAccessRights), s.cpl));
  const bool save_fred =
      PrimaryExitControls::decode(v.get(field::kPrimaryExitControls)).activate_secondary() &&
      SecondaryExitControls::decode(v.get(field::kSecondaryExitControls)).save_guest_fred();
  if (save_fred) write_fred<kGuestFred>(v, s);
  write_msrs(guest_msrs_, s);
  // Blocking by NMI: with virtual NMIs, the CPU's NMI blocking in the guest is
  // the virtual-NMI blocking, saved as it is (an NMI-induced exit neither sets
  // nor clears it: SDM Vol. 3C "Saving Non-Register State"); without, an NMI
  // exit happens only unblocked (0). Blocking by STI / MOV SS is 0: exits wait
  // until the entry's blocking is over.
  v.set_exit_field(field::kGuestInterruptibility,
                   Interruptibility::decode(v.get(field::kGuestInterruptibility))
                       .set_blocking_by_nmi(s.nmi_blocked)
                       .set_blocking_by_sti(false)
                       .set_blocking_by_mov_ss(false)
                       .encode());
  // The activity state: an exit from HLT saves HLT; the processor is active
  // only after the exit (SDM Vol. 3C "Saving Non-Register State").
  v.set_exit_field(
      field::kGuestActivityState,
      static_cast<std::uint32_t>(s.halted ? ActivityState::hlt : ActivityState::active));
  return s;
}

ArchState VmxCpu::build_host_state(ArchState h) const {
  const ArchState fields = host_state();
  h.cpl = 0;
  h.rip = fields.rip;
  h.rsp = fields.rsp;
  h.rflags = fields.rflags;
  h.cr4 = fields.cr4;
  h.cs = fields.cs;
  h.ss = fields.ss;
  if (load_host_fred()) {
    copy_fred_state(fields, h);
  }
  read_msrs(host_msrs_, h);
  return h;
}

void VmxCpu::nmi_vm_exit(cpu::Cpu& cpu, std::uint16_t source_bitmap) {
  assert(&cpu == &cpu_ && mode_ == VmxMode::guest);
  (void)cpu;
  // Exit information (docs/hardware.md §4 "VMX"); the qualification is 0 when
  // NMI-source is not active: the CPU kept no bitmap.
  exit_to_host(ExitReason::of(BasicExitReason::exception_or_nmi), IntrInfo::nmi(), source_bitmap,
               true);
}

bool VmxCpu::at_boundary(cpu::Cpu& cpu) {
  if (mode_ != VmxMode::guest) return false;
  if (entry_blocking_) return true;  // blocking by STI / MOV SS from the entry
  if (insn_exit_.pending) {
    // The guest's intercepted instruction: the exit comes from the instruction
    // itself (its RIP is saved as is; KVM skips the instruction on emulation).
    insn_exit_.pending = false;
    cpu_.begin_transition();
    exit_to_host(ExitReason::of(insn_exit_.reason), IntrInfo{}, insn_exit_.qualification, false,
                 insn_exit_.cost);
    return true;
  }
  // SDM Vol. 3C "NMI-Window Exiting" (VMX non-root operation): with the control
  // set, a VM exit before any instruction when there is no virtual-NMI blocking
  // and no blocking by MOV SS (nor, on the model's processor, by STI: the SDM
  // lets a processor hold the exit back then). It takes priority over NMIs and
  // wakes the HLT state. The guest's NMI blocking is virtual-NMI blocking here:
  // the control needs "virtual NMIs". Only at a boundary of ordinary guest code.
  if (active_proc_.nmi_window_exiting() && !cpu.nmi_blocked() &&
      cpu.run_state() == RunState::running) {
    cpu_.begin_transition();  // the guest stops here; its RIP is saved as is
    exit_to_host(ExitReason::of(BasicExitReason::nmi_window), IntrInfo{}, 0, false,
                 TimingParam::vm_exit_nmi_window);
    return true;
  }
  // SDM Vol. 3C "Interrupt-Window Exiting": with the control set, a VM exit
  // before any instruction with RFLAGS.IF = 1 and no blocking by STI or MOV SS
  // (the entry's blocking is held above). After the NMI window in priority
  // (an NMI outranks a maskable interrupt). Only at a boundary of ordinary
  // guest code, which is the only code the model's guest takes interrupts in.
  if (active_proc_.interrupt_window_exiting() && (cpu.rflags() & cpu::arch::kRflagsIf) != 0 &&
      cpu.run_state() == RunState::running) {
    cpu_.begin_transition();
    exit_to_host(ExitReason::of(BasicExitReason::interrupt_window), IntrInfo{}, 0, false,
                 TimingParam::vm_exit_interrupt_window);
    return true;
  }
  if (kick_pending_) {
    // The kick's external interrupt, acknowledged on exit ("acknowledge
    // interrupt on exit", which KVM sets): the exit interruption information
    // holds its vector, the host's RESCHEDULE_VECTOR (smp_send_reschedule).
    constexpr std::uint8_t kRescheduleVector = 0xFD;
    cpu_.begin_transition();
    exit_to_host(ExitReason::of(BasicExitReason::external_interrupt),
                 IntrInfo{}
                     .set_vector(kRescheduleVector)
                     .set_type(cpu::EventType::external_interrupt)
                     .set_valid(true),
                 0, false, TimingParam::vm_exit_external_interrupt);
    return true;
  }
  return false;
}

void VmxCpu::exit_to_host(ExitReason reason, IntrInfo intr_info, std::uint64_t qualification,
                          bool nmi, TimingParam cost) {
  SimContext& ctx = cpu_.context();
  kick_pending_ = false;  // any exit serves a kick
  guest_in_os_ = cpu_.state_before_transition() == RunState::in_os;
  exit_ = ExitInfo{};
  exit_.reason = reason;
  exit_.qualification = qualification;
  exit_.intr_info = intr_info;
  exit_.idt_vectoring = vectoring_;
  exit_.original_event_data = vectoring_.valid() ? vectoring_data_ : 0;
  exit_.exited_at = ctx.now();
  vectoring_ = IntrInfo{};
  vectoring_data_ = 0;
  Vmcs& v = vmcs_;
  v.set_exit_field(field::kExitReason, exit_.reason.encode());
  v.set_exit_field(field::kExitQualification, exit_.qualification);
  v.set_exit_field(field::kExitIntrInfo, exit_.intr_info.encode());
  v.set_exit_field(field::kExitIntrErrorCode, 0);
  v.set_exit_field(field::kIdtVectoringInfo, exit_.idt_vectoring.encode());
  v.set_exit_field(field::kIdtVectoringErrorCode, 0);
  v.set_exit_field(field::kOriginalEventData, exit_.original_event_data);
  v.set_exit_field(field::kExitInstructionLength, 0);

  const bool from_hlt = cpu_.halted();
  // One save of the CPU's state: what the VMCS gets as the guest's, and the
  // base of the host's (the parts the exit does not load keep their values).
  ArchState h = save_guest_state();
  exit_.guest_interruptibility = Interruptibility::decode(v.get(field::kGuestInterruptibility));
  exit_.guest_activity = static_cast<ActivityState>(v.get(field::kGuestActivityState));
  exit_.guest_rip = v.get(field::kGuestRip);
  // Every VM exit clears the valid bit of the VM-entry interruption information
  // (SDM Vol. 3C "Updating Non-Register State").
  v.set_exit_field(field::kEntryIntrInfo,
                   IntrInfo::decode(v.get(field::kEntryIntrInfo)).set_valid(false).encode());

  // The host, with NMIs blocked after an NMI-induced exit (docs/hardware.md §4
  // "VMX"); other exits leave them as the host had them at VMRESUME: unblocked.
  cpu_.set_vmx(nullptr);
  h = build_host_state(h);
  h.nmi_blocked = nmi;
  h.halted = false;
  cpu_.load_state(h);
  cpu_.set_os_entry(host_os_);
  mode_ = VmxMode::exiting;
  entry_blocking_ = false;
  ends_nmi_exit_ = nmi;
  ++stats_.exits;
  ++stats_.exits_by_reason[exit_.reason.basic()];
  if (from_hlt) ++stats_.exits_from_hlt;

  if (ctx.tracer.enabled()) {
    if (nmi) {
      // The fields of docs/vmx.md; `activity` only when the exit woke the HLT state.
      const TraceField base[] = {{"reason", TraceValue::dec(exit_.reason.encode())},
                                 {"name", TraceValue::str(exit_reason_name(exit_.reason.basic()))},
                                 {"exit_qualification", TraceValue::hex(exit_.qualification)},
                                 {"intr_info", TraceValue::hex(exit_.intr_info.encode())},
                                 {"activity", TraceValue::str("hlt")}};
      ctx.tracer.emit(TraceRecord{ctx.now(), cpu_.id(), "vm_exit",
                                  std::span<const TraceField>(base, from_hlt ? 5 : 4)});
      ctx.tracer.emit(
          ctx.now(), cpu_.id(), "nmi_deliver",
          {{"path", TraceValue::str(cpu::delivery_path_name(cpu::DeliveryPath::vmexit))},
           {"vector", TraceValue::dec(arch::kNmiVector)},
           {"event_data", TraceValue::hex(qualification)}});
    } else {
      ctx.tracer.emit(ctx.now(), cpu_.id(), "vm_exit",
                      {{"reason", TraceValue::dec(exit_.reason.encode())},
                       {"name", TraceValue::str(exit_reason_name(exit_.reason.basic()))},
                       {"exit_qualification", TraceValue::hex(exit_.qualification)},
                       {"intr_info", TraceValue::hex(exit_.intr_info.encode())},
                       {"guest_rip", TraceValue::hex(exit_.guest_rip)},
                       {"activity", TraceValue::str(from_hlt ? "hlt" : "active")}});
    }
  }
  ctx.queue.schedule_in(ctx.cost(cost), *this, kExitDone);
}

// --- Events --------------------------------------------------------------------------

void VmxCpu::on_event(std::uint32_t kind, std::uint64_t /*arg*/) {
  switch (kind) {
    case kEntryDone:
      complete_entry();
      break;
    case kExitDone:
      mode_ = VmxMode::root;
      cpu_.enter_os();
      if (handler_ != nullptr) handler_->on_vm_exit(*this, exit_);
      break;
    case kBlockingEnds:
      // The guest's first instruction ran: held NMIs or an NMI-window exit now.
      if (!entry_blocking_) break;  // an exit came first
      entry_blocking_ = false;
      if (mode_ == VmxMode::guest) cpu_.recheck_events();
      break;
    default:
      assert(false && "unknown VMX event");
  }
}

std::string_view VmxCpu::event_name(std::uint32_t kind) const {
  switch (kind) {
    case kEntryDone:
      return "vmx_entry";
    case kExitDone:
      return "vmx_exit";
    case kBlockingEnds:
      return "vmx_blocking_ends";
  }
  return "vmx_?";
}

}  // namespace fredsim::vmx
