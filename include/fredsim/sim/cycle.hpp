#pragma once
// Simulated time: a 64-bit count of core cycles (docs/architecture.md "Time and determinism").
#include <cstdint>
#include <limits>

namespace fredsim {

using Cycle = std::uint64_t;

/// A cycle that never comes: "no event scheduled".
inline constexpr Cycle kNever = std::numeric_limits<Cycle>::max();

/// The end of simulated time, 2^50 cycles (6.5 days at 2 GHz): no event is
/// scheduled past it (EventQueue stops the run instead), so with at most 4096
/// CPUs every sum of cycles over CPUs stays below 2^63 (docs/scenarios.md
/// "Limits").
inline constexpr Cycle kMaxCycle = Cycle{1} << 50;

/// Identifies one logical CPU (and its local APIC) in a System.
using CpuId = std::uint32_t;

/// "Not tied to one CPU", for trace records and events of the platform.
inline constexpr CpuId kNoCpu = std::numeric_limits<CpuId>::max();

}  // namespace fredsim
