#pragma once
// VMCS field encodings on the NMI path (docs/hardware.md §4 "VMX") and the
// structure of an encoding, from which width and read-only-ness are derived the
// way hardware does it (Intel SDM Vol. 3C, Appendix B "Field Encoding in VMCS"):
//
//   bit 0      access type: 0 full, 1 high (the upper 32 bits; 64-bit fields only)
//   bits 9:1   index
//   bits 11:10 type: 0 control, 1 VM-exit information (read-only data), 2 guest
//              state, 3 host state
//   bit 12     reserved, 0
//   bits 14:13 width: 0 16-bit, 1 64-bit, 2 32-bit, 3 natural width
//   bits 31:15 reserved, 0
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "fredsim/cpu/fred_frame.hpp"

namespace fredsim::vmx {

using fredsim::BitField;

enum class FieldWidth : std::uint8_t { w16 = 0, w64 = 1, w32 = 2, natural = 3 };
enum class FieldType : std::uint8_t { control = 0, exit_info = 1, guest = 2, host = 3 };

/// An encoding, decoded. `high` is the 64-bit fields' "upper half" access.
struct FieldEncoding {
  static constexpr BitField kAccessHigh{0, 1};
  static constexpr BitField kIndex{1, 9};
  static constexpr BitField kType{10, 2};
  static constexpr BitField kReserved12{12, 1};
  static constexpr BitField kWidth{13, 2};
  static constexpr std::uint64_t kReservedMask = kReserved12.mask() | ~std::uint64_t{0x7FFF};

  std::uint32_t raw = 0;

  constexpr bool high() const { return kAccessHigh.get(raw) != 0; }
  constexpr std::uint16_t index() const { return static_cast<std::uint16_t>(kIndex.get(raw)); }
  constexpr FieldType type() const { return static_cast<FieldType>(kType.get(raw)); }
  constexpr FieldWidth width() const { return static_cast<FieldWidth>(kWidth.get(raw)); }
  /// Type 1 ("VM-exit information") is read-only data.
  constexpr bool read_only() const { return type() == FieldType::exit_info; }
  /// The encoding of the full field (access-type bit cleared).
  constexpr std::uint32_t full() const {
    return static_cast<std::uint32_t>(kAccessHigh.set(raw, 0));
  }
  /// Reserved bits are 0 and "high" is used on a 64-bit field only.
  constexpr bool well_formed() const {
    return (raw & kReservedMask) == 0 && (!high() || width() == FieldWidth::w64);
  }
};

/// The bits a field of this width holds (VMWRITE drops the rest, VMREAD
/// zero-extends). Natural width is 64 bits on a CPU in 64-bit mode.
constexpr std::uint64_t width_mask(FieldWidth w) {
  switch (w) {
    case FieldWidth::w16:
      return 0xFFFF;
    case FieldWidth::w32:
      return 0xFFFFFFFF;
    case FieldWidth::w64:
    case FieldWidth::natural:
      return ~std::uint64_t{0};
  }
  return 0;
}

/// Named encodings (SDM Vol. 3C Appendix B; the FRED ones from docs/hardware.md §4 "VMX").
namespace field {
// 16-bit guest and host state: selectors.
inline constexpr std::uint32_t kGuestCsSelector = 0x0802;
inline constexpr std::uint32_t kGuestSsSelector = 0x0804;
inline constexpr std::uint32_t kHostCsSelector = 0x0C02;
inline constexpr std::uint32_t kHostSsSelector = 0x0C04;

// 64-bit control fields.
inline constexpr std::uint32_t kSecondaryExitControls = 0x2044;
inline constexpr std::uint32_t kInjectedEventData = 0x2052;  // FRED: event data of an injection
// 64-bit read-only data.
inline constexpr std::uint32_t kOriginalEventData = 0x2404;  // FRED: event data of IDT-vectoring
// 64-bit guest state: FRED MSRs (docs/hardware.md §4 "VMX": 0x281A..0x2828 step 2).
inline constexpr std::uint32_t kGuestFredConfig = 0x281A;
inline constexpr std::uint32_t kGuestFredRsp1 = 0x281C;
inline constexpr std::uint32_t kGuestFredRsp2 = 0x281E;
inline constexpr std::uint32_t kGuestFredRsp3 = 0x2820;
inline constexpr std::uint32_t kGuestFredStklvls = 0x2822;
inline constexpr std::uint32_t kGuestFredSsp1 = 0x2824;
inline constexpr std::uint32_t kGuestFredSsp2 = 0x2826;
inline constexpr std::uint32_t kGuestFredSsp3 = 0x2828;
// 64-bit host state: FRED MSRs (0x2C08..0x2C16 step 2).
inline constexpr std::uint32_t kHostFredConfig = 0x2C08;
inline constexpr std::uint32_t kHostFredRsp1 = 0x2C0A;
inline constexpr std::uint32_t kHostFredRsp2 = 0x2C0C;
inline constexpr std::uint32_t kHostFredRsp3 = 0x2C0E;
inline constexpr std::uint32_t kHostFredStklvls = 0x2C10;
inline constexpr std::uint32_t kHostFredSsp1 = 0x2C12;
inline constexpr std::uint32_t kHostFredSsp2 = 0x2C14;
inline constexpr std::uint32_t kHostFredSsp3 = 0x2C16;

// 32-bit control fields.
inline constexpr std::uint32_t kPinControls = 0x4000;
inline constexpr std::uint32_t kPrimaryProcControls = 0x4002;
inline constexpr std::uint32_t kPrimaryExitControls = 0x400C;
inline constexpr std::uint32_t kEntryControls = 0x4012;
inline constexpr std::uint32_t kEntryIntrInfo = 0x4016;
inline constexpr std::uint32_t kEntryExceptionErrorCode = 0x4018;
inline constexpr std::uint32_t kEntryInstructionLength = 0x401A;
// 32-bit read-only data.
inline constexpr std::uint32_t kVmInstructionError = 0x4400;
inline constexpr std::uint32_t kExitReason = 0x4402;
inline constexpr std::uint32_t kExitIntrInfo = 0x4404;
inline constexpr std::uint32_t kExitIntrErrorCode = 0x4406;
inline constexpr std::uint32_t kIdtVectoringInfo = 0x4408;
inline constexpr std::uint32_t kIdtVectoringErrorCode = 0x440A;
inline constexpr std::uint32_t kExitInstructionLength = 0x440C;
// 32-bit guest state.
inline constexpr std::uint32_t kGuestCsAccessRights = 0x4816;
inline constexpr std::uint32_t kGuestSsAccessRights = 0x4818;
inline constexpr std::uint32_t kGuestInterruptibility = 0x4824;
inline constexpr std::uint32_t kGuestActivityState = 0x4826;

// Natural-width fields.
inline constexpr std::uint32_t kExitQualification = 0x6400;  // read-only
inline constexpr std::uint32_t kGuestCr4 = 0x6804;
inline constexpr std::uint32_t kGuestRsp = 0x681C;
inline constexpr std::uint32_t kGuestRip = 0x681E;
inline constexpr std::uint32_t kGuestRflags = 0x6820;
inline constexpr std::uint32_t kHostCr4 = 0x6C04;
inline constexpr std::uint32_t kHostRsp = 0x6C14;
inline constexpr std::uint32_t kHostRip = 0x6C16;
}  // namespace field

/// One field the model's VMCS has.
struct FieldInfo {
  std::uint32_t encoding;
  std::string_view name;
};

// The table of fields, in the header so that a VMCS access with a constant
// encoding (every one the processor makes at a VM entry or exit) finds its slot
// at compile time.
namespace detail {
using namespace field;

// Sorted by encoding (checked below).
inline constexpr std::array kFields{
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
inline constexpr std::uint32_t kFullBits = 0x6FFE;
inline constexpr std::size_t kDense = 1u << 13;

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
inline constexpr std::array<std::uint8_t, kDense> kSlots = make_slots();

}  // namespace detail

/// Every field the model's VMCS has, sorted by encoding.
inline std::span<const FieldInfo> known_fields() {
  return detail::kFields;
}
/// The slot of a full-field encoding in known_fields(), or nothing.
constexpr std::optional<std::size_t> field_slot(std::uint32_t full_encoding) {
  if ((full_encoding & ~detail::kFullBits) != 0) return std::nullopt;
  const std::uint8_t slot = detail::kSlots[detail::dense_index(full_encoding)];
  if (slot == 0xFF) return std::nullopt;
  return slot;
}
/// The field's name ("exit_reason"), or "" when the model does not have it.
std::string_view field_name(std::uint32_t encoding);

}  // namespace fredsim::vmx
