#pragma once
// The size bounds of a simulated machine.
#include <cstdint>

namespace fredsim::machine {

/// The most CPUs a machine has: the simulator's own bound (x2APIC IDs would allow
/// more), which keeps per-CPU tables and every sum over CPUs small.
inline constexpr std::uint32_t kMaxCpus = 4096;

}  // namespace fredsim::machine
