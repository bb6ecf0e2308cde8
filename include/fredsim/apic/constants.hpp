#pragma once
// Local APIC constants: register offsets, x2APIC MSR numbers, ICR and LVT fields,
// ESR bits. Values from docs/hardware.md §3 "Local APIC" where it states them; the rest
// (ID/version/SVR/LDR/DFR/ESR layouts, IA32_APIC_BASE) from the Intel SDM vol. 3
// ch. 11 (Advanced Programmable Interrupt Controller). Names follow Linux's
// arch/x86/include/asm/apicdef.h where Linux has one.
#include <cstdint>

#include "fredsim/sim/bit_field.hpp"

namespace fredsim::apic {

// ---- xAPIC MMIO register offsets (within the 4 KiB APIC page) -------------------
inline constexpr std::uint32_t APIC_ID = 0x020;
inline constexpr std::uint32_t APIC_LVR = 0x030;      // version
inline constexpr std::uint32_t APIC_TASKPRI = 0x080;  // TPR
inline constexpr std::uint32_t APIC_ARBPRI = 0x090;   // APR (xAPIC only)
inline constexpr std::uint32_t APIC_PROCPRI = 0x0A0;  // PPR
inline constexpr std::uint32_t APIC_EOI = 0x0B0;
inline constexpr std::uint32_t APIC_RRR = 0x0C0;  // remote read (xAPIC only)
inline constexpr std::uint32_t APIC_LDR = 0x0D0;
inline constexpr std::uint32_t APIC_DFR = 0x0E0;  // xAPIC only
inline constexpr std::uint32_t APIC_SPIV = 0x0F0;
inline constexpr std::uint32_t APIC_ISR = 0x100;  // 8 registers, 0x100..0x170
inline constexpr std::uint32_t APIC_TMR = 0x180;  // 0x180..0x1F0
inline constexpr std::uint32_t APIC_IRR = 0x200;  // 0x200..0x270
inline constexpr std::uint32_t APIC_ISR_TMR_IRR_END = 0x280;
inline constexpr std::uint32_t APIC_ESR = 0x280;
inline constexpr std::uint32_t APIC_LVTCMCI = 0x2F0;  // docs/hardware.md §3 "Local APIC"
inline constexpr std::uint32_t APIC_ICR =
    0x300;  // docs/hardware.md §3 "Local APIC": low word; a write sends
inline constexpr std::uint32_t APIC_ICR2 =
    0x310;  // docs/hardware.md §3 "Local APIC": high word (xAPIC only)
inline constexpr std::uint32_t APIC_LVTT = 0x320;      // timer
inline constexpr std::uint32_t APIC_LVTTHMR = 0x330;   // thermal
inline constexpr std::uint32_t APIC_LVTPC = 0x340;     // performance monitoring
inline constexpr std::uint32_t APIC_LVT0 = 0x350;      // LINT0
inline constexpr std::uint32_t APIC_LVT1 = 0x360;      // LINT1
inline constexpr std::uint32_t APIC_LVTERR = 0x370;    // error
inline constexpr std::uint32_t APIC_TMICT = 0x380;     // timer initial count
inline constexpr std::uint32_t APIC_TMCCT = 0x390;     // timer current count
inline constexpr std::uint32_t APIC_TDCR = 0x3E0;      // timer divide configuration
inline constexpr std::uint32_t APIC_SELF_IPI = 0x3F0;  // x2APIC only (MSR 0x83F)
/// Registers sit on 16-byte boundaries; the page holds offsets 0x000..0x3F0.
inline constexpr std::uint32_t kApicRegisterStride = 0x10;
inline constexpr std::uint32_t kApicRegisterSpaceEnd = 0x400;

// ---- x2APIC MSRs: 0x800 + (offset >> 4) (docs/hardware.md §3 "Local APIC")
// -------------------------
inline constexpr std::uint32_t APIC_BASE_MSR = 0x800;
inline constexpr std::uint32_t kX2apicMsrFirst = 0x800;
inline constexpr std::uint32_t kX2apicMsrLast = 0x8FF;
inline constexpr unsigned kX2apicMsrShift = 4;
constexpr std::uint32_t x2apic_msr(std::uint32_t offset) {
  return APIC_BASE_MSR + (offset >> kX2apicMsrShift);
}
constexpr std::uint32_t x2apic_offset(std::uint32_t msr) {
  return (msr - APIC_BASE_MSR) << kX2apicMsrShift;
}
inline constexpr std::uint32_t X2APIC_ID_MSR = x2apic_msr(APIC_ID);              // 0x802
inline constexpr std::uint32_t X2APIC_LVR_MSR = x2apic_msr(APIC_LVR);            // 0x803
inline constexpr std::uint32_t X2APIC_ESR_MSR = x2apic_msr(APIC_ESR);            // 0x828
inline constexpr std::uint32_t X2APIC_LVTCMCI_MSR = x2apic_msr(APIC_LVTCMCI);    // 0x82F
inline constexpr std::uint32_t X2APIC_ICR_MSR = x2apic_msr(APIC_ICR);            // 0x830
inline constexpr std::uint32_t X2APIC_LVTT_MSR = x2apic_msr(APIC_LVTT);          // 0x832
inline constexpr std::uint32_t X2APIC_LVTTHMR_MSR = x2apic_msr(APIC_LVTTHMR);    // 0x833
inline constexpr std::uint32_t X2APIC_LVTPC_MSR = x2apic_msr(APIC_LVTPC);        // 0x834
inline constexpr std::uint32_t X2APIC_LVT0_MSR = x2apic_msr(APIC_LVT0);          // 0x835
inline constexpr std::uint32_t X2APIC_LVT1_MSR = x2apic_msr(APIC_LVT1);          // 0x836
inline constexpr std::uint32_t X2APIC_LVTERR_MSR = x2apic_msr(APIC_LVTERR);      // 0x837
inline constexpr std::uint32_t X2APIC_SELF_IPI_MSR = x2apic_msr(APIC_SELF_IPI);  // 0x83F
static_assert(X2APIC_ICR_MSR == 0x830 && X2APIC_SELF_IPI_MSR == 0x83F,
              "docs/hardware.md §3 (Local APIC)");
static_assert(X2APIC_LVTCMCI_MSR == 0x82F && X2APIC_LVTERR_MSR == 0x837,
              "docs/hardware.md §3 (Local APIC)");

// ---- IA32_APIC_BASE (SDM 11.4.4, 11.12.1) ----------------------------------------
inline constexpr std::uint32_t MSR_IA32_APICBASE = 0x1B;
inline constexpr std::uint64_t MSR_IA32_APICBASE_BSP = 1u << 8;
inline constexpr std::uint64_t X2APIC_ENABLE = 1u << 10;  // EXTD
inline constexpr std::uint64_t MSR_IA32_APICBASE_ENABLE = 1u << 11;
inline constexpr std::uint64_t MSR_IA32_APICBASE_BASE = 0x000F'FFFF'FFFF'F000ull;  // 51:12
inline constexpr std::uint64_t APIC_DEFAULT_PHYS_BASE = 0xFEE0'0000ull;
inline constexpr std::uint64_t kApicBaseWritable =
    MSR_IA32_APICBASE_BSP | X2APIC_ENABLE | MSR_IA32_APICBASE_ENABLE | MSR_IA32_APICBASE_BASE;

// ---- ID, version, LDR, DFR, SVR, TPR, EOI (SDM 11.4.6, 11.4.8, 11.6.2, 11.9, 11.12) -----
inline constexpr BitField kXapicIdField{24, 8};                    // xAPIC ID register bits 31:24
inline constexpr std::uint32_t APIC_BROADCAST_ID = 0xFF;           // xAPIC destination
inline constexpr std::uint32_t X2APIC_BROADCAST_ID = 0xFFFF'FFFF;  // x2APIC destination
/// A system in xAPIC mode addresses at most 255 APICs (IDs 0..0xFE; 0xFF broadcasts).
inline constexpr std::uint32_t kXapicMaxCpus = 255;

inline constexpr BitField kLvrVersion{0, 8};
inline constexpr BitField kLvrMaxLvt{16, 8};
inline constexpr std::uint32_t APIC_VERSION_INTEGRATED = 0x15;  // integrated APIC (0x1X)

inline constexpr BitField kLdrXapicLogicalId{24, 8};  // APIC_LDR_MASK
inline constexpr std::uint32_t APIC_LDR_MASK = 0xFFu << 24;
inline constexpr BitField kDfrModel{28, 4};
inline constexpr std::uint32_t APIC_DFR_CLUSTER = 0x0FFF'FFFF;
inline constexpr std::uint32_t APIC_DFR_FLAT = 0xFFFF'FFFF;
inline constexpr std::uint32_t kDfrModelFlat = 0xF;
inline constexpr std::uint32_t kDfrModelCluster = 0x0;
inline constexpr std::uint32_t kDfrReservedOnes = 0x0FFF'FFFF;  // bits 27:0 read as 1s
// xAPIC cluster model: high nibble of the 8-bit logical ID is the cluster, low the members.
inline constexpr BitField kXapicClusterId{4, 4};
inline constexpr BitField kXapicClusterMembers{0, 4};
inline constexpr std::uint32_t kXapicBroadcastCluster = 0xF;
// x2APIC logical ID (SDM 11.12.10): cluster = x2APIC ID >> 4 in bits 31:16, member bit
// (x2APIC ID & 0xF) in bits 15:0. The ICR destination has the same layout.
inline constexpr BitField kX2apicLogicalCluster{16, 16};
inline constexpr BitField kX2apicLogicalMembers{0, 16};
inline constexpr unsigned kX2apicClusterShift = 4;  // x2APIC ID bits of the member index
inline constexpr std::uint32_t kX2apicMemberIndexMask = 0xF;

inline constexpr std::uint32_t APIC_SPIV_VECTOR_MASK = 0xFF;
inline constexpr std::uint32_t APIC_SPIV_APIC_ENABLED = 1u << 8;
inline constexpr std::uint32_t APIC_SPIV_FOCUS_DISABLED = 1u << 9;
inline constexpr std::uint32_t APIC_SPIV_DIRECTED_EOI = 1u << 12;
inline constexpr std::uint32_t kSpivReset = 0xFF;  // vector 0xFF, software-disabled
inline constexpr std::uint32_t kSpivWritable = APIC_SPIV_VECTOR_MASK | APIC_SPIV_APIC_ENABLED |
                                               APIC_SPIV_FOCUS_DISABLED | APIC_SPIV_DIRECTED_EOI;
inline constexpr std::uint32_t APIC_TPRI_MASK = 0xFF;
inline constexpr std::uint32_t APIC_TDR_DIV_MASK = 0xB;  // TDCR bits 0, 1, 3
inline constexpr std::uint32_t APIC_SELF_IPI_VECTOR_MASK = 0xFF;

// ---- ICR (docs/hardware.md §3 "Local APIC")
// ---------------------------------------------------------
inline constexpr BitField kIcrVector{0, 8};
inline constexpr BitField kIcrDeliveryMode{8, 3};
inline constexpr BitField kIcrDestMode{11, 1};
inline constexpr BitField kIcrDeliveryStatus{12, 1};  // xAPIC only, read-only
inline constexpr BitField kIcrLevel{14, 1};
inline constexpr BitField kIcrTrigger{15, 1};
inline constexpr BitField kIcrShorthand{18, 2};
inline constexpr BitField kIcrX2apicDest{32, 32};  // x2APIC: bits 63:32
inline constexpr BitField kIcr2XapicDest{24, 8};   // xAPIC ICR2 bits 31:24
inline constexpr unsigned kIcrHighShift = 32;      // ICR2 is the high half of the 64-bit form

inline constexpr std::uint32_t APIC_VECTOR_MASK = 0xFF;
inline constexpr std::uint32_t APIC_DM_FIXED = 0x000;
inline constexpr std::uint32_t APIC_DM_LOWEST = 0x100;
inline constexpr std::uint32_t APIC_DM_SMI = 0x200;
inline constexpr std::uint32_t APIC_DM_REMRD = 0x300;
inline constexpr std::uint32_t APIC_DM_NMI = 0x400;
inline constexpr std::uint32_t APIC_DM_INIT = 0x500;
inline constexpr std::uint32_t APIC_DM_STARTUP = 0x600;
inline constexpr std::uint32_t APIC_DM_EXTINT = 0x700;
inline constexpr std::uint32_t APIC_DM_MASK = 0x700;
inline constexpr std::uint32_t APIC_DEST_PHYSICAL = 0x000;
inline constexpr std::uint32_t APIC_DEST_LOGICAL = 0x800;
inline constexpr std::uint32_t APIC_ICR_BUSY = 0x1000;  // delivery status: send pending
inline constexpr std::uint32_t APIC_INT_ASSERT = 0x4000;
inline constexpr std::uint32_t APIC_INT_LEVELTRIG = 0x8000;
inline constexpr std::uint32_t APIC_DEST_NOSHORT = 0x00000;
inline constexpr std::uint32_t APIC_DEST_SELF = 0x40000;
inline constexpr std::uint32_t APIC_DEST_ALLINC = 0x80000;
inline constexpr std::uint32_t APIC_DEST_ALLBUT = 0xC0000;
inline constexpr std::uint32_t APIC_SHORT_MASK = 0xC0000;
static_assert(kIcrDeliveryMode.mask() == APIC_DM_MASK && kIcrShorthand.mask() == APIC_SHORT_MASK);
static_assert(kIcrDestMode.mask() == APIC_DEST_LOGICAL && kIcrLevel.mask() == APIC_INT_ASSERT);

/// Bits of the low word an xAPIC ICR write stores (the rest are reserved, ignored).
inline constexpr std::uint32_t kIcrLowWritable =
    static_cast<std::uint32_t>(kIcrVector.mask() | kIcrDeliveryMode.mask() | kIcrDestMode.mask() |
                               kIcrLevel.mask() | kIcrTrigger.mask() | kIcrShorthand.mask());
/// Bits of the 64-bit x2APIC ICR a WRMSR may set; any other bit #GPs (SDM 11.12.1.3,
/// bit 12 delivery status is reserved in x2APIC mode).
inline constexpr std::uint64_t kIcrX2apicWritable = kIcrLowWritable | kIcrX2apicDest.mask();

/// Vectors 0..15 are illegal for fixed (and lowest-priority) interrupts (SDM 11.5.2).
inline constexpr std::uint32_t kFirstLegalVector = 16;

// ---- LVT (docs/hardware.md §3 "Local APIC")
// ------------------------------------------------------
inline constexpr BitField kLvtVector{0, 8};
inline constexpr BitField kLvtDeliveryMode{8, 3};  // not on timer and error
inline constexpr BitField kLvtDeliveryStatus{12, 1};
inline constexpr BitField kLvtPolarity{13, 1};   // LINT0/1 only
inline constexpr BitField kLvtRemoteIrr{14, 1};  // LINT0/1 only, read-only
inline constexpr BitField kLvtTrigger{15, 1};    // LINT0/1 only
inline constexpr BitField kLvtMask{16, 1};
inline constexpr BitField kLvtTimerMode{17, 2};  // timer only
inline constexpr std::uint32_t APIC_SEND_PENDING = 1u << 12;
inline constexpr std::uint32_t APIC_INPUT_POLARITY = 1u << 13;
inline constexpr std::uint32_t APIC_LVT_REMOTE_IRR = 1u << 14;
inline constexpr std::uint32_t APIC_LVT_LEVEL_TRIGGER = 1u << 15;
inline constexpr std::uint32_t APIC_LVT_MASKED = 1u << 16;
inline constexpr std::uint32_t APIC_LVT_TIMER_ONESHOT = 0u << 17;
inline constexpr std::uint32_t APIC_LVT_TIMER_PERIODIC = 1u << 17;
inline constexpr std::uint32_t APIC_LVT_TIMER_TSCDEADLINE = 2u << 17;
static_assert(kLvtMask.mask() == APIC_LVT_MASKED);
/// Reset value of every LVT entry: masked, all else 0 (SDM 11.4.7.1).
inline constexpr std::uint32_t kLvtReset = APIC_LVT_MASKED;
/// Number of LVT entries (CMCI, timer, thermal, perfmon, LINT0, LINT1, error).
inline constexpr std::uint32_t kLvtCount = 7;

/// Source vector with which an external NMI (LVT LINT1 in NMI mode) reaches the CPU
/// (docs/hardware.md §2 "NMI-source reporting": bit 2 is set by external NMIs).
inline constexpr std::uint32_t kExternalNmiSourceVector = 2;

// ---- ESR (SDM 11.5.3) -------------------------------------------------------------
inline constexpr std::uint32_t APIC_ESR_SEND_CS = 0x01;  // P6/Pentium only
inline constexpr std::uint32_t APIC_ESR_RECV_CS = 0x02;
inline constexpr std::uint32_t APIC_ESR_SEND_ACC = 0x04;
inline constexpr std::uint32_t APIC_ESR_RECV_ACC = 0x08;
inline constexpr std::uint32_t APIC_ESR_REDIRECTABLE_IPI = 0x10;
inline constexpr std::uint32_t APIC_ESR_SENDILL = 0x20;  // send illegal vector
inline constexpr std::uint32_t APIC_ESR_RECVILL = 0x40;  // receive illegal vector
inline constexpr std::uint32_t APIC_ESR_ILLREGA = 0x80;  // illegal register address

}  // namespace fredsim::apic
