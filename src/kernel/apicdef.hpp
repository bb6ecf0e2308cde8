#pragma once
// The local APIC names Linux's senders use (apicdef.h); the values are the APIC
// layer's (docs/hardware.md §3 "Local APIC"), plus Linux's own NMI_VECTOR request. ICR
// values are built with apic::IcrValue; the asserts keep Linux's bit patterns and
// IcrValue's fields the same encoding.
#include <cstdint>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/icr.hpp"

namespace fredsim::kernel::apicdef {

using apic::APIC_DM_NMI;
using apic::APIC_LVT1;
using apic::APIC_LVT_MASKED;
using apic::APIC_LVTPC;

static_assert(apic::IcrValue{}.with_delivery_mode(apic::DeliveryMode::nmi).raw() == APIC_DM_NMI);
static_assert(apic::IcrValue{}.with_shorthand(apic::Shorthand::all_excluding_self).raw() ==
              apic::APIC_DEST_ALLBUT);

/// Linux's NMI_VECTOR: a request for "vector 2", which the NMI-source encoder
/// turns into bare NMI mode (docs/hardware.md §3 "Local APIC").
inline constexpr std::uint32_t NMI_VECTOR = 0x02;

/// arch/x86/include/asm/irq_vectors.h: the vector of stop_other_cpus' IRQ.
inline constexpr std::uint8_t REBOOT_VECTOR = 0xf8;

}  // namespace fredsim::kernel::apicdef
