// Machine::create: the configurations a machine refuses, in the machine's terms;
// and Machine::write_icr's x2APIC path.
#include <gtest/gtest.h>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/interconnect.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/machine/machine.hpp"

namespace fredsim {
namespace {

std::string refusal(std::uint32_t cpus, apic::ApicMode mode) {
  machine::MachineConfig c;
  c.cpus = cpus;
  c.apic = mode;
  auto m = machine::Machine::create(c);
  return m.ok() ? std::string() : m.error().message;
}

TEST(MachineConfig, CpuCountIsOneToMaxCpus) {
  EXPECT_EQ(refusal(0, apic::ApicMode::x2apic), "a machine has 1..4096 CPUs, not 0");
  EXPECT_EQ(refusal(machine::kMaxCpus + 1, apic::ApicMode::x2apic),
            "a machine has 1..4096 CPUs, not 4097");
  EXPECT_EQ(refusal(1, apic::ApicMode::x2apic), "");
}

TEST(MachineConfig, ApicsStartEnabled) {
  EXPECT_EQ(refusal(2, apic::ApicMode::disabled),
            "a machine's APICs start in xapic or x2apic mode, not disabled");
}

TEST(MachineConfig, XapicAddressesAtMost255Cpus) {
  EXPECT_EQ(refusal(apic::kXapicMaxCpus, apic::ApicMode::xapic), "");
  EXPECT_EQ(refusal(apic::kXapicMaxCpus + 1, apic::ApicMode::xapic),
            "xAPIC addresses at most 255 CPUs (8-bit APIC IDs); use x2apic for 256");
}

auto x2apic_machine(std::uint32_t cpus) {
  machine::MachineConfig c;
  c.cpus = cpus;
  c.apic = apic::ApicMode::x2apic;
  return machine::Machine::create(c);
}

TEST(MachineIcr, AnX2apicIcrWriteSendsOrFaultsAsItsWrmsrDoes) {
  // Machine::write_icr goes straight to the APIC in x2APIC mode; what the
  // WRMSR of MSR 0x830 does must not change: a valid ICR sends, one with a
  // reserved bit (bit 12, delivery status, SDM 11.12.1.3) or written while the
  // APIC is not in x2APIC mode is the CPU's #GP and sends nothing.
  auto created = x2apic_machine(2);
  ASSERT_TRUE(created.ok());
  machine::Machine& m = *created.value();
  const auto nmi = apic::IcrValue{}.with_delivery_mode(apic::DeliveryMode::nmi).with_destination(1);
  m.write_icr(0, nmi);
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 0u);
  m.write_icr(0, apic::IcrValue(nmi.raw() | (std::uint64_t{1} << 12)));
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 1u);
  EXPECT_EQ(m.cpu(0).last_fault(), cpu::Fault::gp);
  ASSERT_EQ(m.apic(0).write_apic_base(0), cpu::Fault::none);  // x2APIC -> disabled
  m.write_icr(0, nmi);
  EXPECT_EQ(m.interconnect().counters().sends, 1u);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
}

TEST(MachineIcr, AnX2apicRegisterWriteActsOrFaultsAsItsWrmsrDoes) {
  // Machine::apic_write (the kernel's EOI, LVT and TPR writes) goes straight
  // to the APIC in x2APIC mode as well: a TPR write sets it, an EOI counts,
  // an EOI with a value other than 0 or a write to a read-only register (the
  // version) is the CPU's #GP (SDM 11.12.1.3) and changes nothing.
  auto created = x2apic_machine(1);
  ASSERT_TRUE(created.ok());
  machine::Machine& m = *created.value();
  m.apic_write(0, apic::APIC_TASKPRI, 0x20);
  EXPECT_EQ(m.apic_read(0, apic::APIC_TASKPRI), 0x20u);
  EXPECT_EQ(m.cpu(0).stats().faults, 0u);
  const std::uint64_t eois = m.apic(0).counters().eoi_writes;
  m.apic_write(0, apic::APIC_EOI, 1);
  EXPECT_EQ(m.cpu(0).stats().faults, 1u);
  EXPECT_EQ(m.cpu(0).last_fault(), cpu::Fault::gp);
  EXPECT_EQ(m.apic(0).counters().eoi_writes, eois);
  m.apic_write(0, apic::APIC_LVR, 0);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
  m.apic_write(0, apic::APIC_EOI, 0);
  EXPECT_EQ(m.apic(0).counters().eoi_writes, eois + 1);
  EXPECT_EQ(m.cpu(0).stats().faults, 2u);
}

}  // namespace
}  // namespace fredsim
