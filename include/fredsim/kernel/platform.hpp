#pragma once
// The platform a Kernel runs on: the per-platform operations the kernel model
// uses, behind an interface the kernel layer owns. The host kernel runs on the
// machine itself (MachinePlatform); a guest kernel runs on a VM's vCPUs, whose
// APIC, PMU and I/O ports KVM emulates.
//
// What every platform shares stays on machine::Machine and the kernel reaches it
// directly: the clock (now, the event queue), the timing profile and the
// tracer. Only what differs between a host and a VM goes through here.
//
// CPU numbers are the platform's own: 0..cpu_count()-1 (vCPU numbers for a VM).
// cpu(i) is the cpu::Cpu that runs CPU i (for a vCPU, the host CPU running it
// in VMX non-root operation), so its id() is the host's number.
#include <cstdint>

#include "fredsim/apic/icr.hpp"
#include "fredsim/cpu/arch.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/machine/machine.hpp"

namespace fredsim::kernel {

/// Who owns host perf counters besides the host's own events: KVM's perf
/// events of a vPMU. The host perf handler (perf_event_nmi_handler ->
/// perf_event_overflow) hands it the overflowed counters it read; the owner
/// takes those that are its own (kvm_perf_overflow).
class PerfOverflowSink {
 public:
  virtual void perf_overflow(CpuId host_cpu, std::uint64_t counters) = 0;

 protected:
  ~PerfOverflowSink() = default;
};

class Platform {
 public:
  virtual ~Platform() = default;

  virtual std::uint32_t cpu_count() const = 0;
  /// The CPU model that runs the platform's CPU `id`.
  virtual cpu::Cpu& cpu(CpuId id) = 0;
  /// Whether CPUID of CPU `id` enumerates NMI-source, as the kernel on it sees
  /// it: the CPU's own on the host; for a vCPU, what KVM exposes (a VM's
  /// `nmi_source`), whatever the host CPU has. Read once, when the kernel is made.
  virtual bool enumerates_nmi_source(CpuId id) { return cpu(id).features().nmi_source; }

  /// A local APIC register write of `cpu` by its xAPIC offset, the way software
  /// does it (x2APIC WRMSR or xAPIC MMIO store).
  virtual void apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) = 0;
  /// A local APIC register read of `cpu` by its xAPIC offset.
  virtual std::uint64_t apic_read(CpuId cpu, std::uint32_t offset) = 0;
  /// An IPI: `icr` written to the ICR of `cpu` in the platform's APIC mode.
  virtual void write_icr(CpuId cpu, apic::IcrValue icr) = 0;
  /// write_icr(cpu, icr) `count` times in a row at one cycle, nothing between
  /// (a handler that sends the same IPI ten times). Default: one by one.
  virtual void write_icr_repeated(CpuId cpu, apic::IcrValue icr, std::uint32_t count) {
    for (; count != 0; --count)
      write_icr(cpu, icr);
  }

  /// IA32_PERF_GLOBAL_STATUS of `cpu` as its perf handler reads it (RDMSR
  /// 0x38e): the CPU's own; a vCPU's is KVM's emulated one (pmu->global_status).
  virtual std::uint64_t perf_global_status(CpuId id) {
    return cpu(id).rdmsr(cpu::arch::kMsrPerfGlobalStatus).value;
  }
  /// The perf handler clears `mask` in it (WRMSR to IA32_PERF_GLOBAL_OVF_CTRL).
  virtual void perf_global_ack(CpuId id, std::uint64_t mask) {
    (void)cpu(id).wrmsr(cpu::arch::kMsrPerfGlobalOvfCtrl, mask);
  }
  /// PMU counters of `cpu` overflow (LVTPC is asserted).
  virtual void pmu_overflow(CpuId cpu, std::uint64_t counter_mask) = 0;
  /// A platform NMI on LINT1 of `cpu`, with the port 0x61 reason it latches.
  virtual void external_nmi(CpuId cpu, machine::NmiReason reason) = 0;

  /// Legacy I/O: port 0x61, the NMI reason.
  virtual std::uint8_t port_in(std::uint16_t port) = 0;
  virtual void port_out(std::uint16_t port, std::uint8_t value) = 0;
  virtual std::uint8_t nmi_reason() const = 0;
};

/// The host: the machine's own CPUs, APICs, PMU and ports.
class MachinePlatform final : public Platform {
 public:
  explicit MachinePlatform(machine::Machine& machine) : machine_(machine) {}

  std::uint32_t cpu_count() const override { return machine_.cpu_count(); }
  cpu::Cpu& cpu(CpuId id) override { return machine_.cpu(id); }
  void apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) override {
    machine_.apic_write(cpu, offset, value);
  }
  std::uint64_t apic_read(CpuId cpu, std::uint32_t offset) override {
    return machine_.apic_read(cpu, offset);
  }
  void write_icr(CpuId cpu, apic::IcrValue icr) override { machine_.write_icr(cpu, icr); }
  void write_icr_repeated(CpuId cpu, apic::IcrValue icr, std::uint32_t count) override {
    machine_.write_icr(cpu, icr, count);
  }
  void pmu_overflow(CpuId cpu, std::uint64_t counter_mask) override {
    machine_.pmu_overflow(cpu, counter_mask);
  }
  void external_nmi(CpuId cpu, machine::NmiReason reason) override {
    machine_.external_nmi(cpu, reason);
  }
  std::uint8_t port_in(std::uint16_t port) override { return machine_.port_in(port); }
  void port_out(std::uint16_t port, std::uint8_t value) override { machine_.port_out(port, value); }
  std::uint8_t nmi_reason() const override { return machine_.nmi_reason(); }

 private:
  machine::Machine& machine_;
};

}  // namespace fredsim::kernel
