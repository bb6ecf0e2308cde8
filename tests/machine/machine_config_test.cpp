// Machine::create: the configurations a machine refuses, in the machine's terms.
#include <gtest/gtest.h>

#include "fredsim/apic/constants.hpp"
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

}  // namespace
}  // namespace fredsim
