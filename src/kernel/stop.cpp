// Stopping the other CPUs as Linux's native_stop_other_cpus() does
// (arch/x86/kernel/smp.c as mainline has had it since v6.5, read at a 2025
// tree: the REBOOT_VECTOR IRQ first, the NMI only for CPUs that did not stop), and stop_this_cpu()
// (arch/x86/kernel/process.c) on the CPUs it stops. docs/linux.md "Senders and
// their handlers", docs/kernel.md "Stopping the other CPUs".
#include <fmt/format.h>

#include "fredsim/kernel/kernel.hpp"
#include "kernel/apicdef.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

namespace {
// arch/x86/include/asm/irq_vectors.h: REBOOT_VECTOR.
constexpr std::uint8_t kRebootVector = apicdef::REBOOT_VECTOR;
// native_stop_other_cpus' two waits, each a loop of udelay(1) polls of
// cpus_stop_mask: USEC_PER_SEC for the IRQ, USEC_PER_MSEC * 10 for the NMI.
constexpr std::uint64_t kIrqWaitUs = 1'000'000;
constexpr std::uint64_t kNmiWaitUs = 10'000;
}  // namespace

Cycle Kernel::us_to_cycles(std::uint64_t us) const {
  return us * std::max<std::uint64_t>(1, machine_.timing().get(TimingParam::core_mhz));
}

StopPhase Kernel::stop_phase() const {
  return stop_ ? stop_->phase : StopPhase::none;
}

void Kernel::trace_stop(CpuId cpu, std::string_view phase, std::uint32_t cpus) {
  if (!machine_.tracer().enabled()) return;
  trace(cpu, "smp_stop", {{"phase", TraceValue::str(phase)}, {"cpus", TraceValue::dec(cpus)}});
}

void Kernel::stop_other_cpus(CpuId from) {
  // Only the first CPU to get here stops the others (the cmpxchg on
  // stopping_cpu); a later call returns at once.
  if (stopping_cpu_ != kNoCpu) return;
  stopping_cpu_ = from;
  if (!stop_) stop_.reset(new StopCtx(*this));
  StopCtx& s = *stop_;
  s.from = from;
  // cpus_stop_mask = the online CPUs but this one (a CPU a stop halted is
  // offline; only the first stop runs, so every other CPU is online here).
  s.mask.assign(cpu_count_, false);
  s.remaining = 0;
  for (CpuId c = 0; c < cpu_count_; ++c) {
    if (c != from && !cpus_[c]->st.halted) {
      s.mask[c] = true;
      ++s.remaining;
    }
  }
  if (s.remaining == 0) {
    finish_stop();
    return;
  }
  // 1) apic_send_IPI_allbutself(REBOOT_VECTOR): a fixed-mode IPI.
  s.phase = StopPhase::irq;
  trace_stop(from, "irq", s.remaining);
  // The platform's ICR: the host's APIC, or KVM's emulated one for a guest.
  platform_.write_icr(from, prepare_icr(from, apic::Shorthand::all_excluding_self,
                                        apic::DeliveryMode::fixed, kRebootVector, 0));
  start_stop_wait(kIrqWaitUs);
}

void Kernel::start_stop_wait(std::uint64_t us) {
  StopCtx& s = *stop_;
  s.wait_started = machine_.now();
  ++s.generation;
  s.wait_end = machine_.queue().schedule_in(us_to_cycles(us), s, StopCtx::kWaitEnd, s.generation);
}

void Kernel::on_stop_event(std::uint32_t kind, std::uint64_t arg) {
  StopCtx& s = *stop_;
  if (kind == StopCtx::kReachedHlt) {
    stop_mask_clear(static_cast<CpuId>(arg));
    return;
  }
  if (arg != s.generation) return;  // an earlier wait's event
  if (s.phase == StopPhase::irq) {
    if (s.remaining == 0) {
      finish_stop();
      return;
    }
    // 3) The IRQ wait ran out: the NMI for the CPUs still in the mask
    // (register_stop_handler, the message, one NMI IPI per CPU).
    s.phase = StopPhase::nmi;
    const HandlerId h = ensure_role(HandlerModel::stop);
    console_.printk(s.from, "Shutting down cpus with NMI");
    trace_stop(s.from, "nmi", s.remaining);
    for (CpuId c = 0; c < cpu_count_; ++c) {
      if (!s.mask[c]) continue;
      registry_.add_work(h, c);
      // __apic_send_IPI(cpu, ...): one ICR write per CPU. The NMI-source series
      // gives it the SMP_STOP source vector, as the handler's registration does.
      const CpuId one[] = {c};
      send_nmi_ipi(s.from, one, nmis::VECTOR_SMP_STOP);
    }
    start_stop_wait(kNmiWaitUs);
    return;
  }
  if (s.phase == StopPhase::nmi) finish_stop();
}

void Kernel::finish_stop() {
  StopCtx& s = *stop_;
  // The stopper disables its own local APIC (disable_local_APIC) and clears the mask.
  const std::uint32_t left = s.remaining;
  s.phase = StopPhase::done;
  trace_stop(s.from, "done", left);
  disable_local_apic(s.from);
  std::fill(s.mask.begin(), s.mask.end(), false);
  s.remaining = 0;
  if (panicked()) halt_machine();
}

void Kernel::nmi_panic(CpuId cpu, std::string message) {
  // kernel/panic.c: nmi_panic() on a second CPU spins in nmi_panic_self_stop()
  // inside its NMI (nothing more runs there); the first prints the panic line
  // and panic() stops the others with smp_send_stop() ->
  // native_stop_other_cpus(0), still inside the NMI.
  if (console_.panicked()) return;
  const std::string line = message;
  console_.record_panic(cpu, std::move(message));
  if (machine_.tracer().enabled()) trace(cpu, "panic", {{"message", TraceValue::str(line)}});
  panic_message_ = line;
  stop_other_cpus(cpu);
  // A stop another CPU began and finished already: nothing is left to wait for
  // (one still running halts the machine when it finishes).
  if (stop_phase() == StopPhase::done) halt_machine();
}

void Kernel::halt_machine() {
  if (halted_) return;
  // panic()'s last line; then the panicking CPU loops forever.
  console_.printk(console_.panic()->cpu,
                  fmt::format("---[ end Kernel panic - not syncing: {} ]---", panic_message_));
  halted_ = true;
}

void Kernel::stop_mask_clear(CpuId cpu) {
  if (!stop_ || cpu >= stop_->mask.size() || !stop_->mask[cpu]) return;
  StopCtx& s = *stop_;
  s.mask[cpu] = false;
  if (--s.remaining != 0) return;
  if (s.phase != StopPhase::irq && s.phase != StopPhase::nmi) return;
  // The stopper's loop sees the empty mask at its next udelay(1) poll.
  const Cycle poll = us_to_cycles(1);
  const Cycle waited = machine_.now() - s.wait_started;
  const Cycle at = s.wait_started + (waited + poll - 1) / poll * poll;
  // The timeout is not needed any more (cancel is linear in the queue, once per wait).
  machine_.queue().cancel(s.wait_end);
  ++s.generation;
  machine_.queue().schedule(at, s, StopCtx::kMaskEmpty, s.generation);
}

void Kernel::disable_local_apic(CpuId cpu) {
  // disable_local_APIC(): clear APIC_SPIV's enable bit. A software-disabled
  // APIC masks every LVT and accepts no fixed interrupt, but NMIs still arrive
  // (SDM Vol. 3A ch. 11 "Local APIC State After It Has Been Software Disabled").
  const std::uint64_t svr = platform_.apic_read(cpu, apic::APIC_SPIV);
  platform_.apic_write(cpu, apic::APIC_SPIV, svr & ~std::uint64_t{apic::APIC_SPIV_APIC_ENABLED});
}

void Kernel::stop_this_cpu(CpuId cpu, std::string_view via) {
  // stop_this_cpu(): interrupts off, offline, local APIC disabled, then the HLT
  // loop; the stopper's mask bit clears once it is there.
  CpuCtx& c = *cpus_[cpu];
  c.st.halted = true;
  platform_.cpu(cpu).set_interrupt_flag(false);
  disable_local_apic(cpu);
  if (machine_.tracer().enabled()) {
    trace(cpu, "cpu_stop", {{"via", TraceValue::str(via)}});
  }
}

void Kernel::on_interrupt(cpu::Cpu& cpu, std::uint8_t vector) {
  // The kernel's CPU number (a guest's vCPU runs on host CPU cpu.id()).
  const CpuId id = ctx_of(cpu).id;
  // The kernel's only maskable-interrupt handler is sysvec_reboot; any other
  // vector is ended (EOI) and the interrupted code goes on with IF back on.
  platform_.apic_write(id, apic::APIC_EOI, 0);
  if (vector != kRebootVector) {
    cpu.set_interrupt_flag(true);
    return;
  }
  // sysvec_reboot: EOI, disable virtualization, stop_this_cpu(), whoever sent
  // the vector; the CPU is in its HLT loop after stop_irq cycles, when the
  // stopper's mask bit (if a stop runs) clears.
  stop_this_cpu(id, "irq");
  cpu.hlt();
  if (stop_) {
    machine_.queue().schedule_in(machine_.timing().get(TimingParam::stop_irq), *stop_,
                                 StopCtx::kReachedHlt, id);
  }
}

}  // namespace fredsim::kernel
