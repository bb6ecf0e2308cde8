#pragma once
// A VMCS: the fields of docs/hardware.md §4 "VMX" in a fixed table indexed by
// their encodings (no allocation after construction), with VMREAD and VMWRITE as
// the instructions behave (SDM Vol. 3C "VMREAD", "VMWRITE"): widths and
// read-only-ness come from the encoding, failures are VMfailValid values with
// the error number stored in field 0x4400.
#include <array>
#include <cassert>
#include <cstdint>

#include "fredsim/vmx/fields.hpp"
#include "fredsim/vmx/vm_instruction_error.hpp"

namespace fredsim::vmx {

class Vmcs {
 public:
  static constexpr std::size_t kFieldCapacity = 64;

  Vmcs();

  /// VMREAD: the field, zero-extended; a "high" encoding reads bits 63:32 of a
  /// 64-bit field. Unknown or malformed encoding: VMfailValid, error 12.
  VmxResult vmread(std::uint32_t encoding);
  /// VMWRITE: truncated to the field's width; a "high" encoding writes bits
  /// 63:32. Unknown encoding: error 12; read-only field (type 1, VM-exit
  /// information): error 13. (A CPU with IA32_VMX_MISC bit 29 lets VMWRITE
  /// write those; the model's does not.)
  VmxResult vmwrite(std::uint32_t encoding, std::uint64_t value);

  /// The processor's own reads and writes (VM entry, VM exit): no access checks.
  /// The encoding must be one of known_fields() (asserted).
  /// Inline, with the field table in fields.hpp: a constant encoding's slot and
  /// width are found at compile time.
  std::uint64_t get(std::uint32_t encoding) const { return values_[slot_of(encoding)]; }
  void set_exit_field(std::uint32_t encoding, std::uint64_t value) {
    values_[slot_of(encoding)] = value & width_mask(FieldEncoding{encoding}.width());
  }
  /// VMfailValid: stores the error number in field 0x4400 and returns the result.
  VmxResult fail_valid(VmInstructionError e);

  /// The VMCS launch state (VMCLEAR makes it "clear", VMLAUNCH "launched").
  bool launched() const { return launched_; }
  void set_launched(bool v) { launched_ = v; }
  /// VMCLEAR: launch state "clear". Field values stay (the model keeps them in
  /// its table rather than in memory).
  void clear() { launched_ = false; }

 private:
  static constexpr std::size_t slot_of(std::uint32_t encoding) {
    const auto slot = field_slot(encoding);
    assert(slot && "the processor touches only fields the model has");
    return slot.value_or(0);
  }

  std::array<std::uint64_t, kFieldCapacity> values_{};
  bool launched_ = false;
};

}  // namespace fredsim::vmx
