#pragma once
// The local APIC register offsets and values Linux's code names (apicdef.h), as
// the kernel model's senders use them (reference/hardware.md §3).
#include <cstdint>

namespace fredsim::kernel::apicdef {

inline constexpr std::uint32_t APIC_ICR = 0x300;
inline constexpr std::uint32_t APIC_ICR2 = 0x310;
inline constexpr std::uint32_t APIC_LVTPC = 0x340;
inline constexpr std::uint32_t APIC_LVT0 = 0x350;
inline constexpr std::uint32_t APIC_LVT1 = 0x360;

inline constexpr std::uint32_t APIC_VECTOR_MASK = 0xFF;
inline constexpr std::uint32_t APIC_DM_FIXED = 0x000;
inline constexpr std::uint32_t APIC_DM_NMI = 0x400;
inline constexpr std::uint32_t APIC_DM_MASK = 0x700;
inline constexpr std::uint32_t APIC_DEST_LOGICAL = 0x800;
inline constexpr std::uint32_t APIC_DEST_SELF = 0x40000;
inline constexpr std::uint32_t APIC_DEST_ALLINC = 0x80000;
inline constexpr std::uint32_t APIC_DEST_ALLBUT = 0xC0000;
inline constexpr std::uint32_t APIC_LVT_MASKED = 1u << 16;

/// Linux's NMI_VECTOR: a request for "vector 2", which the encoder turns into
/// bare NMI mode (reference/hardware.md §3).
inline constexpr std::uint32_t NMI_VECTOR = 0x02;

}  // namespace fredsim::kernel::apicdef
