#pragma once
// The local APIC names Linux's senders use (apicdef.h); the values are the APIC
// layer's (reference/hardware.md §3), plus Linux's own NMI_VECTOR request.
#include <cstdint>

#include "fredsim/apic/constants.hpp"

namespace fredsim::kernel::apicdef {

using apic::APIC_DEST_ALLBUT;
using apic::APIC_DM_NMI;
using apic::APIC_ICR;
using apic::APIC_LVT1;
using apic::APIC_LVT_MASKED;
using apic::APIC_LVTPC;
using apic::APIC_VECTOR_MASK;

/// Linux's NMI_VECTOR: a request for "vector 2", which the NMI-source encoder
/// turns into bare NMI mode (reference/hardware.md §3).
inline constexpr std::uint32_t NMI_VECTOR = 0x02;

}  // namespace fredsim::kernel::apicdef
