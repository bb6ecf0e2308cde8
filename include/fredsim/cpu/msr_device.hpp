#pragma once
// An MSR range that a device outside the core owns, such as the x2APIC registers
// 0x800..0x8FF. The CPU declares this interface so that devices in higher layers
// plug into its RDMSR/WRMSR without the CPU knowing them.
#include <cstdint>

#include "fredsim/cpu/fault.hpp"

namespace fredsim::cpu {

class MsrDevice {
 public:
  virtual bool claims_msr(std::uint32_t index) const = 0;
  virtual MsrRead read_msr(std::uint32_t index) = 0;
  virtual Fault write_msr(std::uint32_t index, std::uint64_t value) = 0;

 protected:
  ~MsrDevice() = default;
};

}  // namespace fredsim::cpu
