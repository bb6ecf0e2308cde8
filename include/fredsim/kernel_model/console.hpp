#pragma once
// What the kernel model prints and how it stops: console lines and the panic record.
#include <string>

#include "fredsim/sim/cycle.hpp"

namespace fredsim::kernel {

/// A line of the kernel's console log.
struct ConsoleLine {
  Cycle cycle = 0;
  CpuId cpu = kNoCpu;
  std::string text;
};

/// A panic: the machine stops with this record.
struct PanicRecord {
  Cycle cycle = 0;
  CpuId cpu = kNoCpu;
  std::string message;
};

}  // namespace fredsim::kernel
