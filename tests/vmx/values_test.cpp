// The typed register values: controls, IntrInfo, Interruptibility, ExitReason.
#include <gtest/gtest.h>

#include "fredsim/vmx/controls.hpp"
#include "fredsim/vmx/exit_reason.hpp"
#include "fredsim/vmx/interruptibility.hpp"
#include "fredsim/vmx/intr_info.hpp"

namespace fredsim::vmx {
namespace {

TEST(PinControls, Bits) {
  EXPECT_EQ(PinControls{}.set_external_interrupt_exiting(true).encode(), 1u << 0);
  EXPECT_EQ(PinControls{}.set_nmi_exiting(true).encode(), 1u << 3);
  EXPECT_EQ(PinControls{}.set_virtual_nmis(true).encode(), 1u << 5);
  const PinControls p = PinControls::decode(0x28);
  EXPECT_TRUE(p.nmi_exiting());
  EXPECT_TRUE(p.virtual_nmis());
  EXPECT_FALSE(p.external_interrupt_exiting());
}

TEST(Controls, FredBits) {
  EXPECT_EQ(EntryControls{}.set_load_guest_fred(true).encode(), 1u << 23);
  EXPECT_EQ(SecondaryExitControls{}.set_save_guest_fred(true).encode(), 1u);
  EXPECT_EQ(SecondaryExitControls{}.set_load_host_fred(true).encode(), 2u);
  EXPECT_EQ(PrimaryExitControls{}.set_activate_secondary(true).encode(), 1u << 31);
}

TEST(IntrInfo, NmiLayout) {
  EXPECT_EQ(IntrInfo::nmi().encode(), 0x80000202u);
  const IntrInfo i = IntrInfo::decode(0x80003B0E);  // #GP, error code, nested, IRET unblock
  EXPECT_EQ(i.vector(), 14);
  EXPECT_EQ(i.type(), cpu::EventType::hardware_exception);
  EXPECT_TRUE(i.error_code_valid());
  EXPECT_TRUE(i.nmi_unblocking_iret());
  EXPECT_TRUE(i.nested());
  EXPECT_TRUE(i.valid());
  EXPECT_EQ(IntrInfo{}
                .set_vector(14)
                .set_type(cpu::EventType::hardware_exception)
                .set_error_code_valid(true)
                .set_nmi_unblocking_iret(true)
                .set_nested(true)
                .set_valid(true),
            i);
  EXPECT_EQ(IntrInfo::kEntryReservedMask, 0x7FFFD000u);
}

TEST(Interruptibility, BlockingByNmiIsBit3) {
  EXPECT_EQ(Interruptibility{}.set_blocking_by_nmi(true).encode(), 8u);
  EXPECT_TRUE(Interruptibility::decode(0xF).blocking_by_sti());
  EXPECT_TRUE(Interruptibility::decode(0xF).blocking_by_mov_ss());
  EXPECT_TRUE(Interruptibility::decode(0xF).blocking_by_smi());
  EXPECT_FALSE(Interruptibility::decode(0x7).blocking_by_nmi());
}

TEST(ExitReason, BasicAndEntryFailure) {
  EXPECT_EQ(ExitReason::of(BasicExitReason::exception_or_nmi).encode(), 0u);
  const ExitReason f = ExitReason::of(BasicExitReason::invalid_guest_state, true);
  EXPECT_EQ(f.encode(), 0x80000021u);
  EXPECT_EQ(f.basic(), 33);
  EXPECT_TRUE(f.entry_failure());
}

}  // namespace
}  // namespace fredsim::vmx
