#pragma once
// The hardware of one simulated machine: CPUs, their local APICs, the APIC
// interconnect, VMX per CPU, the PMU overflow and the legacy NMI reason port.
// It owns the clock (event queue), the timing profile and the trace sinks.
//
// An OS model plugs in through cpu::OsEntry (and vmx::VmExitHandler); the kernel
// model is one such OS, and a user can bring their own.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "fredsim/apic/apic_mode.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/machine/limits.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::apic {
class LocalApic;
class Interconnect;
}  // namespace fredsim::apic
namespace fredsim::vmx {
class VmxCpu;
}  // namespace fredsim::vmx

namespace fredsim::machine {

/// Port 0x61 (NMI status and control), docs/linux.md "default_do_nmi".
namespace port61 {
inline constexpr std::uint16_t kPort = 0x61;
inline constexpr std::uint8_t kSerr = 1u << 7;          // PCI SERR# asserted
inline constexpr std::uint8_t kIochk = 1u << 6;         // I/O channel check
inline constexpr std::uint8_t kSerrDisable = 1u << 2;   // write: clear and disable SERR
inline constexpr std::uint8_t kIochkDisable = 1u << 3;  // write: clear and disable IOCHK
inline constexpr std::uint8_t kReasonMask = kSerr | kIochk;
inline constexpr std::uint8_t kControlMask = 0x0F;  // NMI_REASON_CLEAR_MASK: kept on writes
}  // namespace port61

enum class NmiReason : std::uint8_t { none, serr, iochk };

struct MachineConfig {
  std::uint32_t cpus = 1;  // 1..kMaxCpus
  cpu::CpuFeatures features;
  /// The mode every APIC starts in: xapic or x2apic (a disabled APIC cannot take
  /// the NMIs the machine sends).
  apic::ApicMode apic = apic::ApicMode::x2apic;
  TimingProfile timing;
};

class Machine {
 public:
  /// Checks the configuration (CPU count, APIC mode, xAPIC limit of
  /// apic::kXapicMaxCpus CPUs, CPUID
  /// dependencies) and builds the machine.
  static Result<std::unique_ptr<Machine>> create(const MachineConfig& config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // --- Time ------------------------------------------------------------------
  SimContext& context() { return ctx_; }
  EventQueue& queue() { return queue_; }
  TimingProfile& timing() { return timing_; }
  Tracer& tracer() { return tracer_; }
  Cycle now() const { return queue_.now(); }

  // --- Parts -----------------------------------------------------------------
  std::uint32_t cpu_count() const { return static_cast<std::uint32_t>(cpus_.size()); }
  cpu::Cpu& cpu(CpuId id) { return *cpus_[id]; }
  apic::LocalApic& apic(CpuId id);
  apic::Interconnect& interconnect();
  /// VMX of a CPU (its VMCS), made on first use.
  vmx::VmxCpu& vmx(CpuId id);
  bool has_vmx(CpuId id) const;
  apic::ApicMode apic_mode() const { return config_.apic; }
  const MachineConfig& config() const { return config_; }

  // --- Register access the way software does it -------------------------------
  /// Writes a local APIC register of `cpu` by its xAPIC offset: in x2APIC mode a
  /// WRMSR to 0x800 + offset/16 through the CPU; in xAPIC mode an MMIO store
  /// (the ICR's high half first, then the low half, which sends).
  void apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value);
  std::uint64_t apic_read(CpuId cpu, std::uint32_t offset);
  /// Sends an IPI: writes `icr` to the ICR of `cpu` in the machine's APIC mode.
  void write_icr(CpuId cpu, apic::IcrValue icr);
  /// write_icr(cpu, icr) `count` times in a row at one cycle (a sender's loop
  /// of identical writes): the same messages, counters and faults.
  void write_icr(CpuId cpu, apic::IcrValue icr, std::uint32_t count);

  // --- Platform events -------------------------------------------------------
  /// PMU counters of `cpu` overflow: sets their global-status bits and asserts
  /// LVTPC (an NMI when LVTPC is programmed in NMI mode).
  void pmu_overflow(CpuId cpu, std::uint64_t counter_mask);
  /// A platform NMI on LINT1 of `cpu`, with the port 0x61 reason it latches.
  void external_nmi(CpuId cpu, NmiReason reason);
  /// Thermal / CMCI LVT assertions.
  void thermal_event(CpuId cpu);
  void cmci_event(CpuId cpu);

  // --- Legacy I/O ------------------------------------------------------------
  std::uint8_t port_in(std::uint16_t port);
  void port_out(std::uint16_t port, std::uint8_t value);
  std::uint8_t nmi_reason() const { return port61_ & port61::kReasonMask; }

 private:
  explicit Machine(const MachineConfig& config);
  struct Impl;

  MachineConfig config_;
  EventQueue queue_;
  TimingProfile timing_;
  Tracer tracer_;
  SimContext ctx_;
  std::vector<std::unique_ptr<cpu::Cpu>> cpus_;
  std::unique_ptr<Impl> impl_;
  std::uint8_t port61_ = 0;
};

}  // namespace fredsim::machine
