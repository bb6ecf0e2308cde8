#include "fredsim/vmx/fields.hpp"

#include <algorithm>
#include <array>

namespace fredsim::vmx {

namespace {

using namespace field;

// Sorted by encoding: field_slot() searches it.
constexpr std::array kFields{
    FieldInfo{kGuestCsSelector, "guest_cs_selector"},
    FieldInfo{kGuestSsSelector, "guest_ss_selector"},
    FieldInfo{kHostCsSelector, "host_cs_selector"},
    FieldInfo{kHostSsSelector, "host_ss_selector"},
    FieldInfo{kSecondaryExitControls, "secondary_exit_controls"},
    FieldInfo{kInjectedEventData, "injected_event_data"},
    FieldInfo{kOriginalEventData, "original_event_data"},
    FieldInfo{kGuestFredConfig, "guest_fred_config"},
    FieldInfo{kGuestFredRsp1, "guest_fred_rsp1"},
    FieldInfo{kGuestFredRsp2, "guest_fred_rsp2"},
    FieldInfo{kGuestFredRsp3, "guest_fred_rsp3"},
    FieldInfo{kGuestFredStklvls, "guest_fred_stklvls"},
    FieldInfo{kGuestFredSsp1, "guest_fred_ssp1"},
    FieldInfo{kGuestFredSsp2, "guest_fred_ssp2"},
    FieldInfo{kGuestFredSsp3, "guest_fred_ssp3"},
    FieldInfo{kHostFredConfig, "host_fred_config"},
    FieldInfo{kHostFredRsp1, "host_fred_rsp1"},
    FieldInfo{kHostFredRsp2, "host_fred_rsp2"},
    FieldInfo{kHostFredRsp3, "host_fred_rsp3"},
    FieldInfo{kHostFredStklvls, "host_fred_stklvls"},
    FieldInfo{kHostFredSsp1, "host_fred_ssp1"},
    FieldInfo{kHostFredSsp2, "host_fred_ssp2"},
    FieldInfo{kHostFredSsp3, "host_fred_ssp3"},
    FieldInfo{kPinControls, "pin_controls"},
    FieldInfo{kPrimaryProcControls, "primary_proc_controls"},
    FieldInfo{kPrimaryExitControls, "primary_exit_controls"},
    FieldInfo{kEntryControls, "entry_controls"},
    FieldInfo{kEntryIntrInfo, "entry_intr_info"},
    FieldInfo{kEntryExceptionErrorCode, "entry_exception_error_code"},
    FieldInfo{kEntryInstructionLength, "entry_instruction_length"},
    FieldInfo{kVmInstructionError, "vm_instruction_error"},
    FieldInfo{kExitReason, "exit_reason"},
    FieldInfo{kExitIntrInfo, "exit_intr_info"},
    FieldInfo{kExitIntrErrorCode, "exit_intr_error_code"},
    FieldInfo{kIdtVectoringInfo, "idt_vectoring_info"},
    FieldInfo{kIdtVectoringErrorCode, "idt_vectoring_error_code"},
    FieldInfo{kExitInstructionLength, "exit_instruction_length"},
    FieldInfo{kGuestCsAccessRights, "guest_cs_access_rights"},
    FieldInfo{kGuestSsAccessRights, "guest_ss_access_rights"},
    FieldInfo{kGuestInterruptibility, "guest_interruptibility"},
    FieldInfo{kGuestActivityState, "guest_activity_state"},
    FieldInfo{kExitQualification, "exit_qualification"},
    FieldInfo{kGuestCr4, "guest_cr4"},
    FieldInfo{kGuestRsp, "guest_rsp"},
    FieldInfo{kGuestRip, "guest_rip"},
    FieldInfo{kGuestRflags, "guest_rflags"},
    FieldInfo{kHostCr4, "host_cr4"},
    FieldInfo{kHostRsp, "host_rsp"},
    FieldInfo{kHostRip, "host_rip"},
};

constexpr bool sorted_and_well_formed() {
  for (std::size_t i = 0; i < kFields.size(); ++i) {
    const FieldEncoding e{kFields[i].encoding};
    if (!e.well_formed() || e.high()) return false;
    if (i > 0 && kFields[i - 1].encoding >= kFields[i].encoding) return false;
  }
  return true;
}
static_assert(sorted_and_well_formed(), "field table must be sorted full encodings");

// A full encoding uses bits 1-11 (index, type) and 13-14 (width); bit 0 (access
// type), bit 12 and bit 15 are 0 (SDM Vol. 3C, "Component encoding").
constexpr std::uint32_t kFullBits = 0x6FFE;
constexpr std::size_t kDense = 1u << 13;

constexpr std::size_t dense_index(std::uint32_t full) {
  return ((full >> 1) & 0x7FF) | (((full >> 13) & 3u) << 11);
}

// The slot of every full encoding, by dense_index (0xFF: none): a VM exit reads
// and writes dozens of fields, so the lookup is one load, not a search.
constexpr std::array<std::uint8_t, kDense> make_slots() {
  std::array<std::uint8_t, kDense> slots{};
  for (auto& s : slots)
    s = 0xFF;
  for (std::size_t i = 0; i < kFields.size(); ++i)
    slots[dense_index(kFields[i].encoding)] = static_cast<std::uint8_t>(i);
  return slots;
}
static_assert(kFields.size() < 0xFF, "slots fit in a byte");
constexpr std::array<std::uint8_t, kDense> kSlots = make_slots();

}  // namespace

std::span<const FieldInfo> known_fields() {
  return kFields;
}

std::optional<std::size_t> field_slot(std::uint32_t full_encoding) {
  if ((full_encoding & ~kFullBits) != 0) return std::nullopt;
  const std::uint8_t slot = kSlots[dense_index(full_encoding)];
  if (slot == 0xFF) return std::nullopt;
  return slot;
}

std::string_view field_name(std::uint32_t encoding) {
  const FieldEncoding e{encoding};
  if (!e.well_formed()) return {};
  const auto slot = field_slot(e.full());
  return slot ? kFields[*slot].name : std::string_view{};
}

}  // namespace fredsim::vmx
