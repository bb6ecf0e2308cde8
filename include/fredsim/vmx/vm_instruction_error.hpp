#pragma once
// Outcomes of the VMX instructions (VMREAD, VMWRITE, VMLAUNCH, VMRESUME) as values.
// SDM Vol. 3C Section 31.2 "Conventions": VMsucceed, VMfailInvalid (no current
// VMCS), VMfailValid (the error number is stored in the VM-instruction error
// field 0x4400). Error numbers: SDM Vol. 3C Section 31.4, Table 31-1
// "VM-Instruction Error Numbers".
#include <cstdint>
#include <string_view>

#include "fredsim/cpu/fault.hpp"

namespace fredsim::vmx {

enum class VmInstructionError : std::uint32_t {
  none = 0,
  vmlaunch_non_clear_vmcs = 4,
  vmresume_non_launched_vmcs = 5,
  entry_invalid_control_fields = 7,
  entry_invalid_host_state = 8,
  unsupported_vmcs_component = 12,  // VMREAD/VMWRITE from/to unsupported VMCS component
  vmwrite_read_only_component = 13,
};

std::string_view vm_instruction_error_text(VmInstructionError e);

enum class VmxStatus : std::uint8_t {
  succeed,
  fail_invalid,  // no current VMCS
  fail_valid,    // error number in field 0x4400
  fault,         // the instruction raised a fault instead (e.g. #UD outside VMX root)
  /// VM entry failed its guest-state checks: a VM exit with the "VM-entry
  /// failure" bit and basic reason 33 in 0x4402; the host goes on after the
  /// instruction.
  entry_failure,
};

/// What a VMX instruction did; `value` is VMREAD's result.
struct VmxResult {
  VmxStatus status = VmxStatus::succeed;
  VmInstructionError error = VmInstructionError::none;
  cpu::Fault fault = cpu::Fault::none;
  std::uint64_t value = 0;

  bool ok() const { return status == VmxStatus::succeed; }
  static VmxResult success(std::uint64_t v = 0) {
    return {VmxStatus::succeed, VmInstructionError::none, cpu::Fault::none, v};
  }
  static VmxResult fail_valid(VmInstructionError e) {
    return {VmxStatus::fail_valid, e, cpu::Fault::none, 0};
  }
  static VmxResult faulted(cpu::Fault f) {
    return {VmxStatus::fault, VmInstructionError::none, f, 0};
  }
};

}  // namespace fredsim::vmx
