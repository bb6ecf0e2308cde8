#pragma once
// Simulated time: a 64-bit count of core cycles (DESIGN.md "Time").
#include <cstdint>
#include <limits>

namespace fredsim {

using Cycle = std::uint64_t;

/// A cycle that never comes: "no event scheduled".
inline constexpr Cycle kNever = std::numeric_limits<Cycle>::max();

/// Identifies one logical CPU (and its local APIC) in a System.
using CpuId = std::uint32_t;

/// "Not tied to one CPU", for trace records and events of the platform.
inline constexpr CpuId kNoCpu = std::numeric_limits<CpuId>::max();

}  // namespace fredsim
