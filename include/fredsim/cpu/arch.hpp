#pragma once
// Architectural constants of FRED and NMI-source: docs/hardware.md §1 "FRED event
// delivery" and §2 "NMI-source reporting". Every number the CPU model uses is named here, once.
#include <cstdint>

#include "fredsim/sim/bit_field.hpp"

namespace fredsim::cpu::arch {

// --- docs/hardware.md §1 "Enumeration and control": CPUID.(EAX=7,ECX=1):EAX bits.
inline constexpr unsigned kCpuidFredBit = 17;
inline constexpr unsigned kCpuidLkgsBit = 18;
inline constexpr unsigned kCpuidWrmsrnsBit = 19;
inline constexpr unsigned kCpuidNmiSourceBit = 20;

// The kernel text a kernel RIP stays in: Linux's image starts at
// __START_KERNEL_map + 16 MiB and the image mapping ends at 1 GiB (KASLR's
// KERNEL_IMAGE_SIZE).
inline constexpr std::uint64_t kKernelTextBegin = 0xFFFFFFFF81000000ull;
inline constexpr std::uint64_t kKernelTextEnd = 0xFFFFFFFFC0000000ull;

inline constexpr unsigned kCr4FredBit = 32;
inline constexpr std::uint64_t kCr4Fred = std::uint64_t{1} << kCr4FredBit;

// --- MSRs (docs/hardware.md §1 "FRED event delivery").
inline constexpr std::uint32_t kMsrStar = 0xC0000081;  // IA32_STAR
inline constexpr std::uint32_t kMsrFredRsp0 = 0x1CC;   // ..0x1CF: RSP0..RSP3
inline constexpr std::uint32_t kMsrFredRsp3 = 0x1CF;
inline constexpr std::uint32_t kMsrFredStklvls = 0x1D0;
inline constexpr std::uint32_t kMsrFredSsp1 = 0x1D1;  // ..0x1D3: SSP1..SSP3
inline constexpr std::uint32_t kMsrFredSsp3 = 0x1D3;
inline constexpr std::uint32_t kMsrFredConfig = 0x1D4;
inline constexpr std::uint32_t kMsrPl0Ssp = 0x6A4;  // IA32_PL0_SSP, FRED's SSP0
// The PMU's global overflow status and its clear register (architectural PMU v2+).
inline constexpr std::uint32_t kMsrPerfGlobalStatus = 0x38E;
inline constexpr std::uint32_t kMsrPerfGlobalOvfCtrl = 0x390;

// IA32_FRED_CONFIG fields (docs/hardware.md §1 "FRED event delivery").
inline constexpr BitField kConfigCsl{0, 2};
inline constexpr BitField kConfigShadowStackSpace{3, 1};
inline constexpr BitField kConfigRedZone{6, 3};  // in 64-byte units
inline constexpr BitField kConfigIntLevel{9, 2};
inline constexpr BitField kConfigEntryPage{12, 52};  // the page's address, kept in place
// Bits 2, 4, 5 and 11 are reserved.
inline constexpr std::uint64_t kConfigReservedMask = (1u << 2) | (1u << 4) | (1u << 5) | (1u << 11);
static_assert((kConfigReservedMask ^ kConfigCsl.mask() ^ kConfigShadowStackSpace.mask() ^
               kConfigRedZone.mask() ^ kConfigIntLevel.mask() ^ kConfigEntryPage.mask()) ==
                  ~std::uint64_t{0},
              "the fields and the reserved bits tile the MSR");

inline constexpr std::uint64_t kFredStackAlign = 64;  // RSPn 64-byte aligned, frame size
inline constexpr std::uint64_t kFredFrameSize = 64;
inline constexpr std::uint64_t kRing0EntryOffset = 256;  // entry page + 256 from ring 0

// --- Event types, shared with the VMX interruption-type field (docs/hardware.md §1 "FRED event
// delivery").
inline constexpr std::uint8_t kTypeExternalInterrupt = 0;
inline constexpr std::uint8_t kTypeNmi = 2;
inline constexpr std::uint8_t kTypeHardwareException = 3;
inline constexpr std::uint8_t kTypeSoftwareInterrupt = 4;
inline constexpr std::uint8_t kTypePrivilegedSoftwareException = 5;
inline constexpr std::uint8_t kTypeSoftwareException = 6;
inline constexpr std::uint8_t kTypeOther = 7;

inline constexpr std::uint8_t kNmiVector = 2;
inline constexpr std::uint8_t kDbVector = 1;
inline constexpr std::uint8_t kDfVector = 8;
inline constexpr std::uint8_t kGpVector = 13;
inline constexpr std::uint8_t kPfVector = 14;
inline constexpr std::uint8_t kNmVector = 7;
inline constexpr std::uint8_t kMcVector = 18;

// --- RFLAGS.
inline constexpr std::uint64_t kRflagsFixed1 = 0x2;  // bit 1 always reads 1
inline constexpr std::uint64_t kRflagsTf = 1u << 8;
inline constexpr std::uint64_t kRflagsIf = 1u << 9;
// ERETS: (RFLAGS & mask) must equal 2 (docs/hardware.md §1 "Return").
inline constexpr std::uint64_t kEretsRflagsMask = 0xFFFFFFFFFFC2802Aull;
inline constexpr std::uint64_t kEretuRflagsMask = 0xFFFFFFFFFFC2B02Aull;

// --- Selectors (Linux's GDT layout). User CS/SS come from IA32_STAR[47:32]:
// SYSRET-style, SS = STAR[63:48] + 8 with RPL 3, CS = STAR[63:48] + 16 with RPL 3.
inline constexpr std::uint16_t kKernelCs = 0x10;
inline constexpr std::uint16_t kKernelSs = 0x18;
inline constexpr std::uint16_t kUserCs = 0x33;
inline constexpr std::uint16_t kUserSs = 0x2B;
inline constexpr std::uint16_t kSelectorRplMask = 0x3;
inline constexpr unsigned kStarKernelShift = 32;  // IA32_STAR[47:32]: kernel CS; SS = CS + 8

// --- NMI-source (docs/hardware.md §2 "NMI-source reporting").
inline constexpr unsigned kNmiSourceBits = 16;
inline constexpr std::uint16_t kNmiSourceUnknownBit = 1u << 0;   // vector 0 or >= 16
inline constexpr std::uint16_t kNmiSourceExternalBit = 1u << 2;  // LINT1 / chipset NMIs
inline constexpr std::uint32_t kNmiSourceExternalVector = 2;

/// The bitmap bit an NMI with this source vector sets: vector v in 1..15 sets
/// bit v; 0 or >= 16 sets bit 0, "source unknown" (docs/hardware.md §2 "NMI-source reporting").
constexpr std::uint16_t nmi_source_bit(std::uint32_t vector) {
  return (vector >= 1 && vector < kNmiSourceBits) ? static_cast<std::uint16_t>(1u << vector)
                                                  : kNmiSourceUnknownBit;
}

/// Canonical for 48-bit linear addresses: bits 63:47 all equal.
constexpr bool is_canonical(std::uint64_t a) {
  const std::uint64_t top = a >> 47;
  return top == 0 || top == 0x1FFFF;
}

}  // namespace fredsim::cpu::arch
