#include "fredsim/machine/machine.hpp"

#include <cassert>
#include <string>

#include "fredsim/apic.hpp"
#include "fredsim/vmx/vmx_cpu.hpp"

namespace fredsim::machine {

namespace {
/// Binds a local APIC's NMI output to its CPU's NMI input (docs/architecture.md "Conventions": the
/// APIC declares the interface, the latch lives in the CPU).
class CpuNmiLine final : public apic::NmiSink {
 public:
  explicit CpuNmiLine(cpu::Cpu& cpu) : cpu_(cpu) {}
  void assert_nmi(std::uint32_t source_vector) override { cpu_.raise_nmi(source_vector); }
  void assert_nmis(std::uint32_t source_vector, std::uint64_t count) override {
    cpu_.raise_nmis(source_vector, count);
  }
  // A fixed interrupt waits in the APIC's IRR: the CPU's INTR input sees a request.
  void accept_message(apic::DeliveryMode mode, std::uint8_t /*vector*/) override {
    if (mode == apic::DeliveryMode::fixed || mode == apic::DeliveryMode::lowest_priority) {
      cpu_.interrupt_requested();
    }
  }

 private:
  cpu::Cpu& cpu_;
};
}  // namespace

struct Machine::Impl {
  std::unique_ptr<apic::Interconnect> apic;
  std::vector<CpuNmiLine> lines;
  std::vector<std::unique_ptr<vmx::VmxCpu>> vmx;  // made on first use
};

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config) {
  if (config.cpus < 1 || config.cpus > kMaxCpus) {
    return Error{"a machine has 1.." + std::to_string(kMaxCpus) + " CPUs, not " +
                 std::to_string(config.cpus)};
  }
  if (config.apic == apic::ApicMode::disabled) {
    return Error{"a machine's APICs start in xapic or x2apic mode, not disabled"};
  }
  if (config.apic == apic::ApicMode::xapic && config.cpus > apic::kXapicMaxCpus) {
    return Error{"xAPIC addresses at most " + std::to_string(apic::kXapicMaxCpus) +
                 " CPUs (8-bit APIC IDs); use x2apic for " + std::to_string(config.cpus)};
  }
  if (Status s = config.features.check(); !s.ok()) return s.error();
  return std::unique_ptr<Machine>(new Machine(config));
}

Machine::Machine(const MachineConfig& config)
    : config_(config),
      queue_(std::max<std::size_t>(256, config.cpus * 4)),
      timing_(config.timing),
      ctx_{queue_, timing_, tracer_},
      impl_(std::make_unique<Impl>()) {
  cpus_.reserve(config.cpus);
  for (CpuId i = 0; i < config.cpus; ++i) {
    cpu::Cpu::Config cc;
    cc.id = i;
    cc.features = config.features;
    cpus_.push_back(std::make_unique<cpu::Cpu>(cc, ctx_));
  }
  apic::InterconnectConfig ic;
  ic.cpus = config.cpus;
  ic.mode = config.apic;
  auto bus = apic::Interconnect::create(ctx_, ic);
  assert(bus.ok() && "create() checked the configuration");
  impl_->apic = std::move(*bus);
  impl_->lines.reserve(config.cpus);
  for (CpuId i = 0; i < config.cpus; ++i) {
    impl_->lines.emplace_back(*cpus_[i]);
    impl_->apic->bind_nmi_sink(i, impl_->lines.back());
    cpus_[i]->attach_msr_device(impl_->apic->apic(i));
    cpus_[i]->attach_interrupt_source(impl_->apic->apic(i));
  }
  impl_->vmx.resize(config.cpus);
}

Machine::~Machine() = default;

vmx::VmxCpu& Machine::vmx(CpuId id) {
  auto& v = impl_->vmx[id];
  if (!v) v = std::make_unique<vmx::VmxCpu>(*cpus_[id], vmx::VmxCpu::Config{});
  return *v;
}

bool Machine::has_vmx(CpuId id) const {
  return impl_->vmx[id] != nullptr;
}

apic::LocalApic& Machine::apic(CpuId id) {
  return impl_->apic->apic(id);
}
apic::Interconnect& Machine::interconnect() {
  return *impl_->apic;
}

void Machine::apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) {
  if (config_.apic == apic::ApicMode::x2apic) {
    // As write_icr: the WRMSR goes straight to the CPU's APIC (its only MSR
    // device, which claims every x2APIC MSR), and through Cpu::wrmsr only when
    // it faults (a faulting APIC write changes nothing), so that the CPU
    // records the fault as for any WRMSR. The kernel's EOI of every interrupt
    // comes this way.
    const std::uint32_t msr = apic::x2apic_msr(offset);
    if (impl_->apic->apic(cpu).write_msr(msr, value) == cpu::Fault::none) return;
    cpus_[cpu]->wrmsr(msr, value);
    return;
  }
  apic::LocalApic& a = impl_->apic->apic(cpu);
  if (offset == apic::APIC_ICR) {
    // ICR2 first; the store to the low word sends.
    a.mmio_write(apic::APIC_ICR2, static_cast<std::uint32_t>(value >> apic::kIcrHighShift));
  }
  a.mmio_write(offset, static_cast<std::uint32_t>(value));
}

std::uint64_t Machine::apic_read(CpuId cpu, std::uint32_t offset) {
  if (config_.apic == apic::ApicMode::x2apic)
    return cpus_[cpu]->rdmsr(apic::x2apic_msr(offset)).value;
  apic::LocalApic& a = impl_->apic->apic(cpu);
  std::uint64_t v = a.mmio_read(offset);
  if (offset == apic::APIC_ICR)
    v |= std::uint64_t{a.mmio_read(apic::APIC_ICR2)} << apic::kIcrHighShift;
  return v;
}

void Machine::write_icr(CpuId cpu, apic::IcrValue icr) {
  // x2APIC: the WRMSR of MSR 0x830 goes to the CPU's only MSR device, its
  // APIC (the constructor attaches nothing else); straight there, and through
  // Cpu::wrmsr only when it faults, which changed nothing, so that the CPU
  // records the fault as for any WRMSR.
  if (config_.apic == apic::ApicMode::x2apic &&
      impl_->apic->apic(cpu).write_x2apic_icr(icr.raw()) == cpu::Fault::none) {
    return;
  }
  // apic_write's xAPIC form is the register pair: ICR2 in the high half.
  const std::uint64_t value =
      config_.apic == apic::ApicMode::x2apic
          ? icr.raw()
          : (std::uint64_t{icr.xapic_high()} << apic::kIcrHighShift) | icr.low();
  apic_write(cpu, apic::APIC_ICR, value);
}

void Machine::write_icr(CpuId cpu, apic::IcrValue icr, std::uint32_t count) {
  if (count == 0) return;
  // x2APIC: as write_icr, all at once when the writes do not fault (a faulting
  // one changes nothing, so each of them faults alike: then one by one).
  if (config_.apic == apic::ApicMode::x2apic &&
      impl_->apic->apic(cpu).write_x2apic_icr(icr.raw(), count) == cpu::Fault::none) {
    return;
  }
  for (; count != 0; --count)
    write_icr(cpu, icr);
}

void Machine::pmu_overflow(CpuId cpu, std::uint64_t counter_mask) {
  cpus_[cpu]->pmu_overflow(counter_mask);
  impl_->apic->apic(cpu).assert_lvt(apic::Lvt::perfmon);
}

void Machine::external_nmi(CpuId cpu, NmiReason reason) {
  // Port 0x61's bits 2 and 3 gate their lines (NMI_REASON_CLEAR_SERR and
  // NMI_REASON_CLEAR_IOCHK in Linux's arch/x86/include/asm/mach_traps.h): while
  // a line's bit is set, that line latches no status and raises no NMI.
  if (reason == NmiReason::serr) {
    if (port61_ & port61::kSerrDisable) return;
    port61_ |= port61::kSerr;
  }
  if (reason == NmiReason::iochk) {
    if (port61_ & port61::kIochkDisable) return;
    port61_ |= port61::kIochk;
  }
  impl_->apic->apic(cpu).assert_lvt(apic::Lvt::lint1);
}

void Machine::thermal_event(CpuId cpu) {
  impl_->apic->apic(cpu).assert_lvt(apic::Lvt::thermal);
}
void Machine::cmci_event(CpuId cpu) {
  impl_->apic->apic(cpu).assert_lvt(apic::Lvt::cmci);
}

std::uint8_t Machine::port_in(std::uint16_t port) {
  return port == port61::kPort ? port61_ : 0xFF;
}

void Machine::port_out(std::uint16_t port, std::uint8_t value) {
  if (port != port61::kPort) return;
  // Writing a disable bit clears the latched reason of that line.
  if (value & port61::kSerrDisable) port61_ &= static_cast<std::uint8_t>(~port61::kSerr);
  if (value & port61::kIochkDisable) port61_ &= static_cast<std::uint8_t>(~port61::kIochk);
  port61_ = static_cast<std::uint8_t>((port61_ & port61::kReasonMask) | (value & 0x0F));
}

}  // namespace fredsim::machine
