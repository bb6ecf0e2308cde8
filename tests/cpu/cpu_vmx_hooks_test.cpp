// The CPU side of VMX non-root operation (VmxHooks) and of KVM's software frame
// (docs/hardware.md §4 "VMX"): NMI exiting takes the latch and hands the bitmap over; the
// host's ERETS of a software-built frame unblocks NMIs.
#include <gtest/gtest.h>

#include <vector>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

class FakeVmx final : public VmxHooks {
 public:
  bool exiting = true;
  bool virt = false;
  std::vector<std::uint16_t> exits;
  bool nmi_exiting() const override { return exiting; }
  bool virtual_nmis() const override { return virt; }
  void nmi_vm_exit(Cpu& /*cpu*/, std::uint16_t bitmap) override { exits.push_back(bitmap); }
};

class Vmx : public ::testing::Test {
 protected:
  Harness h;
  Cpu& c = *h.cpu;
  FakeVmx vmx;
  ArchState host;
  void SetUp() override {
    h.program_linux_fred();
    host = c.save_state();
    // VM entry: hooks first, then the guest's state (CR4.FRED = 0 in the guest).
    c.begin_transition();
    c.set_vmx(&vmx);
    ArchState guest = host;
    guest.cr4 = 0;
    guest.rip = 0x1000;
    c.load_state(guest);
    c.end_transition();
  }
};

TEST_F(Vmx, NmiExitingHandsTheBitmapOver) {
  EXPECT_TRUE(c.nmi_source_active());  // the host's CR4 counts
  c.raise_nmi(5);
  ASSERT_EQ(vmx.exits.size(), 1u);
  EXPECT_EQ(vmx.exits[0], 0x20);
  EXPECT_EQ(c.nmi_source_bitmap(), 0);
  EXPECT_FALSE(c.nmi_pending());
  EXPECT_EQ(c.run_state(), RunState::transition);
  EXPECT_EQ(c.stats().nmi_delivered, 1u);
  EXPECT_EQ(c.stats().vm_exits_nmi, 1u);
  EXPECT_TRUE(h.os.seen.empty());  // no guest delivery
  // NMIs during the exit latch and accumulate.
  c.raise_nmi(7);
  c.raise_nmi(7);
  EXPECT_EQ(c.nmi_source_bitmap(), 0x80);
  EXPECT_EQ(vmx.exits.size(), 1u);
}

TEST_F(Vmx, GuestBlockingHoldsNmisWithoutVirtualNmis) {
  c.set_nmi_blocked(true);
  c.raise_nmi(3);
  EXPECT_TRUE(vmx.exits.empty());
  EXPECT_TRUE(c.nmi_pending());
}

TEST_F(Vmx, VirtualNmisDoNotHoldPhysicalNmis) {
  vmx.virt = true;
  c.set_nmi_blocked(true);  // virtual-NMI blocking of the guest
  c.raise_nmi(3);
  ASSERT_EQ(vmx.exits.size(), 1u);
  EXPECT_EQ(vmx.exits[0], 0x8);
}

TEST_F(Vmx, KvmSoftwareFrameAndVmEntryCloseTheNmi) {
  h.run_to(2000);
  c.raise_nmi(4);  // exit at 2000
  ASSERT_EQ(vmx.exits.size(), 1u);
  // The vmx layer: leave non-root, load the host, NMIs blocked, run KVM.
  c.set_vmx(nullptr);
  c.load_state(host);
  c.set_nmi_blocked(true);
  c.enter_os();
  h.run_to(3000);
  const std::uint64_t rsp = c.rsp();
  FredFrame f;
  f.rip = 0xFFFFFFFFA0001234ull;
  f.cs = FredCs{}.set_selector(kKernelCs);
  f.rflags = 0x2;
  f.rsp = rsp;
  f.ss = FredSs{}
             .set_selector(kKernelSs)
             .set_nmi(true)
             .set_vector(2)
             .set_type(EventType::nmi)
             .set_long_mode(true);
  f.event_data = vmx.exits[0];
  c.push_software_frame(f);
  EXPECT_EQ(c.rsp(), (rsp & ~std::uint64_t{63}) - 64);
  ASSERT_NE(c.frame_at_rsp(), nullptr);
  EXPECT_EQ(*c.frame_at_rsp(), f);
  ASSERT_EQ(c.erets(), Fault::none);
  h.run_idle();
  EXPECT_FALSE(c.nmi_blocked());
  EXPECT_EQ(c.run_state(), RunState::in_os);  // back in KVM
  EXPECT_EQ(c.rsp(), rsp);
  EXPECT_EQ(c.stats().dispatch_cycles, 0u);  // the NMI ends at the VM entry
  h.run_to(4000);
  c.complete_nmi_vm_entry();
  EXPECT_EQ(c.stats().dispatch_cycles, 2000u);
  const auto ret = h.sink.of("nmi_return");
  ASSERT_FALSE(ret.empty());
  EXPECT_EQ(ret.back().at("via"), "vmentry");
  EXPECT_EQ(ret.back().cycle, 4000u);
}

// A frame pushed while a return is in flight (only a library caller can push
// then) lands where the popped one was; the return still restores the popped one.
TEST_F(Vmx, APushDuringAReturnKeepsTheReturnsFrame) {
  c.set_vmx(nullptr);
  c.load_state(host);
  c.enter_os();
  h.run_to(1000);
  // KVM's software NMI frame (the builder the kernel model uses), at two RIPs.
  auto frame = [&](std::uint64_t rip) {
    FredFrame f = c.software_nmi_frame(cpu::arch::kRflagsFixed1, true, 0);
    f.rip = rip;
    return f;
  };
  c.push_software_frame(frame(0xFFFFFFFFA0001000ull));
  ASSERT_EQ(c.erets(), Fault::none);
  ASSERT_EQ(c.run_state(), RunState::returning);
  c.push_software_frame(frame(0xFFFFFFFFA0002000ull));
  ASSERT_NE(c.frame_at_rsp(), nullptr);
  EXPECT_EQ(c.frame_at_rsp()->rip, 0xFFFFFFFFA0002000ull);
  h.run_idle();
  EXPECT_EQ(c.rip(), 0xFFFFFFFFA0001000ull);  // the popped frame's, not the new one's
  EXPECT_EQ(c.run_state(), RunState::in_os);
}

TEST_F(Vmx, WithoutNmiExitingTheGuestTakesTheNmi) {
  vmx.exiting = false;
  c.raise_nmi(4);
  EXPECT_TRUE(vmx.exits.empty());
  h.run_idle();
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.path, DeliveryPath::idt);  // the guest's CR4.FRED is 0
  EXPECT_EQ(h.os.seen[0].d.event.event_data, 0u);
}

}  // namespace
}  // namespace fredsim::cpu
