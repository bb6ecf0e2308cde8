#include "fredsim/vmx/vmcs.hpp"

#include <gtest/gtest.h>

namespace fredsim::vmx {
namespace {

TEST(Vmcs, WriteThenReadTruncatesToTheWidth) {
  Vmcs v;
  ASSERT_TRUE(v.vmwrite(field::kGuestCsSelector, 0x12345678).ok());
  EXPECT_EQ(v.vmread(field::kGuestCsSelector).value, 0x5678u);
  ASSERT_TRUE(v.vmwrite(field::kPinControls, 0xFFFFFFFF00000028ull).ok());
  EXPECT_EQ(v.vmread(field::kPinControls).value, 0x28u);
  ASSERT_TRUE(v.vmwrite(field::kGuestRip, 0xFFFFFFFF81234567ull).ok());
  EXPECT_EQ(v.vmread(field::kGuestRip).value, 0xFFFFFFFF81234567ull);
}

TEST(Vmcs, HighAccessOfA64BitField) {
  Vmcs v;
  ASSERT_TRUE(v.vmwrite(field::kInjectedEventData, 0x1111222233334444ull).ok());
  EXPECT_EQ(v.vmread(field::kInjectedEventData + 1).value, 0x11112222u);
  ASSERT_TRUE(v.vmwrite(field::kInjectedEventData + 1, 0xAAAABBBBCCCCDDDDull).ok());
  EXPECT_EQ(v.vmread(field::kInjectedEventData).value, 0xCCCCDDDD33334444ull);
}

TEST(Vmcs, VmwriteToReadOnlyFieldFailsWithError13) {
  Vmcs v;
  for (std::uint32_t f :
       {field::kExitReason, field::kExitQualification, field::kExitIntrInfo,
        field::kIdtVectoringInfo, field::kOriginalEventData, field::kVmInstructionError}) {
    const VmxResult r = v.vmwrite(f, 1);
    EXPECT_EQ(r.status, VmxStatus::fail_valid) << std::hex << f;
    EXPECT_EQ(r.error, VmInstructionError::vmwrite_read_only_component);
    EXPECT_EQ(v.vmread(field::kVmInstructionError).value, 13u);
  }
  EXPECT_EQ(v.vmread(field::kExitReason).value, 0u) << "the failed write changed nothing";
}

TEST(Vmcs, UnknownOrMalformedFieldFailsWithError12) {
  Vmcs v;
  for (std::uint32_t f : {0x4828u /* SMBASE: not in the model */, 0x5000u | field::kPinControls,
                          field::kPinControls + 1 /* high on 32-bit */, 0xFFFFFFFFu}) {
    const VmxResult w = v.vmwrite(f, 1);
    EXPECT_EQ(w.status, VmxStatus::fail_valid) << std::hex << f;
    EXPECT_EQ(w.error, VmInstructionError::unsupported_vmcs_component);
    EXPECT_EQ(v.vmread(field::kVmInstructionError).value, 12u);
    const VmxResult r = v.vmread(f);
    EXPECT_EQ(r.error, VmInstructionError::unsupported_vmcs_component);
  }
}

TEST(Vmcs, ProcessorWritesReadOnlyFields) {
  Vmcs v;
  v.set_exit_field(field::kExitQualification, 0x8004);
  EXPECT_EQ(v.vmread(field::kExitQualification).value, 0x8004u);
  EXPECT_EQ(v.get(field::kExitQualification), 0x8004u);
}

TEST(Vmcs, ErrorNumbersAreTheSdmOnes) {
  EXPECT_EQ(static_cast<int>(VmInstructionError::vmlaunch_non_clear_vmcs), 4);
  EXPECT_EQ(static_cast<int>(VmInstructionError::vmresume_non_launched_vmcs), 5);
  EXPECT_EQ(static_cast<int>(VmInstructionError::entry_invalid_control_fields), 7);
  EXPECT_EQ(static_cast<int>(VmInstructionError::unsupported_vmcs_component), 12);
  EXPECT_EQ(static_cast<int>(VmInstructionError::vmwrite_read_only_component), 13);
  EXPECT_EQ(vm_instruction_error_text(VmInstructionError::entry_invalid_control_fields),
            "VM entry with invalid control field(s)");
}

}  // namespace
}  // namespace fredsim::vmx
