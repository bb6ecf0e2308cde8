#include "fredsim/machine/machine.hpp"

#include <cassert>
#include <string>

#include "fredsim/vmx/vmx_cpu.hpp"
#include "machine/apic_shim.hpp"

namespace fredsim {

struct Machine::Impl {
  std::unique_ptr<ApicShim> apic;
  std::vector<std::unique_ptr<vmx::VmxCpu>> vmx;  // made on first use
};

Result<std::unique_ptr<Machine>> Machine::create(const MachineConfig& config) {
  if (config.cpus < 1 || config.cpus > 4096) {
    return Error{"system.cpus must be 1..4096, not " + std::to_string(config.cpus)};
  }
  if (config.apic == ApicMode::xapic && config.cpus > 255) {
    return Error{"xAPIC addresses at most 255 CPUs (8-bit APIC IDs); use x2apic for " +
                 std::to_string(config.cpus)};
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
  impl_->apic = std::make_unique<ApicShim>(*this);
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

void Machine::apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) {
  impl_->apic->write(cpu, offset, value);
}

std::uint64_t Machine::apic_read(CpuId cpu, std::uint32_t offset) {
  return impl_->apic->read(cpu, offset);
}

void Machine::pmu_overflow(CpuId cpu, std::uint64_t counter_mask) {
  cpus_[cpu]->pmu_overflow(counter_mask);
  impl_->apic->assert_lvt(cpu, ApicShim::kLvtPc);
}

void Machine::external_nmi(CpuId cpu, NmiReason reason) {
  if (reason == NmiReason::serr) port61_ |= port61::kSerr;
  if (reason == NmiReason::iochk) port61_ |= port61::kIochk;
  impl_->apic->assert_lvt(cpu, ApicShim::kLvt1);
}

void Machine::thermal_event(CpuId cpu) {
  impl_->apic->assert_lvt(cpu, ApicShim::kLvtThermal);
}
void Machine::cmci_event(CpuId cpu) {
  impl_->apic->assert_lvt(cpu, ApicShim::kLvtCmci);
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

}  // namespace fredsim
