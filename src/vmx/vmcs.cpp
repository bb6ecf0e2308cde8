#include "fredsim/vmx/vmcs.hpp"

#include <cassert>

namespace fredsim::vmx {

static_assert(Vmcs::kFieldCapacity >= 48, "room for known_fields()");

std::string_view vm_instruction_error_text(VmInstructionError e) {
  switch (e) {
    case VmInstructionError::none:
      return "no error";
    case VmInstructionError::vmlaunch_non_clear_vmcs:
      return "VMLAUNCH with non-clear VMCS";
    case VmInstructionError::vmresume_non_launched_vmcs:
      return "VMRESUME with non-launched VMCS";
    case VmInstructionError::entry_invalid_control_fields:
      return "VM entry with invalid control field(s)";
    case VmInstructionError::entry_invalid_host_state:
      return "VM entry with invalid host-state field(s)";
    case VmInstructionError::unsupported_vmcs_component:
      return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case VmInstructionError::vmwrite_read_only_component:
      return "VMWRITE to read-only VMCS component";
  }
  return "?";
}

Vmcs::Vmcs() {
  assert(known_fields().size() <= kFieldCapacity);
}

VmxResult Vmcs::fail_valid(VmInstructionError e) {
  set_exit_field(field::kVmInstructionError, static_cast<std::uint32_t>(e));
  return VmxResult::fail_valid(e);
}

VmxResult Vmcs::vmread(std::uint32_t encoding) {
  const FieldEncoding e{encoding};
  const auto slot = e.well_formed() ? field_slot(e.full()) : std::nullopt;
  if (!slot) return fail_valid(VmInstructionError::unsupported_vmcs_component);
  const std::uint64_t v = values_[*slot];
  return VmxResult::success(e.high() ? v >> 32 : v);
}

VmxResult Vmcs::vmwrite(std::uint32_t encoding, std::uint64_t value) {
  const FieldEncoding e{encoding};
  const auto slot = e.well_formed() ? field_slot(e.full()) : std::nullopt;
  if (!slot) return fail_valid(VmInstructionError::unsupported_vmcs_component);
  if (e.read_only()) return fail_valid(VmInstructionError::vmwrite_read_only_component);
  std::uint64_t& f = values_[*slot];
  if (e.high()) {
    constexpr std::uint64_t kLow = 0xFFFFFFFF;
    f = (f & kLow) | ((value & kLow) << 32);
  } else {
    f = value & width_mask(e.width());
  }
  return VmxResult::success();
}

}  // namespace fredsim::vmx
