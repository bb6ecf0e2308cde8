// RDMSR/WRMSR, MOV CR4 and CPUID enumeration (docs/hardware.md §1 "FRED event delivery"
// "Enumeration and control").
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using test::Harness;

constexpr std::uint32_t kRsp0 = 0x1CC, kRsp1 = 0x1CD, kRsp2 = 0x1CE, kRsp3 = 0x1CF;
constexpr std::uint32_t kStklvls = 0x1D0, kSsp1 = 0x1D1, kSsp3 = 0x1D3, kConfig = 0x1D4;
constexpr std::uint32_t kPl0Ssp = 0x6A4, kStar = 0xC0000081;
constexpr std::uint32_t kGlobalStatus = 0x38E, kGlobalOvfCtrl = 0x390;

TEST(CpuMsr, FredRspRoundTrip) {
  Harness h;
  Cpu& c = *h.cpu;
  const std::uint32_t idx[] = {kRsp0, kRsp1, kRsp2, kRsp3};
  const std::uint64_t val[] = {test::kRsp0, test::kRsp1, test::kRsp2, 0x00007FFFFFFFFFC0ull};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.wrmsr(idx[i], val[i]), Fault::none);
  }
  for (int i = 0; i < 4; ++i) {
    const MsrRead r = c.rdmsr(idx[i]);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.value, val[i]);
    EXPECT_EQ(c.fred_rsp(static_cast<unsigned>(i)), val[i]);
  }
  EXPECT_EQ(c.stats().faults, 0u);
}

TEST(CpuMsr, FredRspMisalignedGp) {
  for (std::uint64_t bad :
       {0xFFFFFE0000021008ull, 0xFFFFFE0000021020ull, 0xFFFFFE000002103Full, 0x1ull}) {
    Harness h;
    Cpu& c = *h.cpu;
    ASSERT_EQ(c.wrmsr(kRsp2, test::kRsp2), Fault::none);
    EXPECT_EQ(c.wrmsr(kRsp2, bad), Fault::gp) << std::hex << bad;
    EXPECT_EQ(c.fred_rsp(2), test::kRsp2);  // unchanged
    EXPECT_EQ(c.stats().faults, 1u);
    EXPECT_EQ(c.last_fault(), Fault::gp);
    ASSERT_EQ(h.sink.of("fault").size(), 1u);
    EXPECT_EQ(h.sink.of("fault")[0].at("fault"), "#GP");
  }
}

TEST(CpuMsr, FredRspNonCanonicalGp) {
  Harness h;
  Cpu& c = *h.cpu;
  // Aligned, but bits 63:47 not all equal.
  EXPECT_EQ(c.wrmsr(kRsp0, 0x0000800000000000ull), Fault::gp);
  EXPECT_EQ(c.wrmsr(kRsp1, 0xFFFF7FFFFFFFFFC0ull), Fault::gp);
  EXPECT_EQ(c.wrmsr(kRsp3, 0x8000000000000000ull), Fault::gp);
  EXPECT_EQ(c.stats().faults, 3u);
  // Boundaries that are canonical.
  EXPECT_EQ(c.wrmsr(kRsp0, 0xFFFF800000000000ull), Fault::none);
  EXPECT_EQ(c.wrmsr(kRsp1, 0x00007FFFFFFFFFC0ull), Fault::none);
}

TEST(CpuMsr, StklvlsRoundTrip) {
  Harness h;
  EXPECT_EQ(h.cpu->wrmsr(kStklvls, test::kLinuxStklvls), Fault::none);
  EXPECT_EQ(h.cpu->rdmsr(kStklvls).value, test::kLinuxStklvls);
  EXPECT_EQ(h.cpu->fred_stklvls().level(2), 2);
}

TEST(CpuMsr, ConfigRoundTripAndReservedBits) {
  Harness h;
  Cpu& c = *h.cpu;
  EXPECT_EQ(c.wrmsr(kConfig, test::kLinuxConfig), Fault::none);
  EXPECT_EQ(c.rdmsr(kConfig).value, test::kLinuxConfig);
  EXPECT_EQ(c.fred_config().entry_page(), test::kEntryPage);
  EXPECT_EQ(c.fred_config().red_zone_bytes(), 64u);
  // Defined bits: 1:0, 3, 8:6, 10:9, 63:12. Each of 2, 4, 5, 11 alone #GPs.
  for (unsigned bit : {2u, 4u, 5u, 11u}) {
    EXPECT_EQ(c.wrmsr(kConfig, test::kLinuxConfig | (std::uint64_t{1} << bit)), Fault::gp) << bit;
  }
  EXPECT_EQ(c.rdmsr(kConfig).value, test::kLinuxConfig);  // unchanged
  EXPECT_EQ(c.stats().faults, 4u);
  // Every defined field set at once is accepted.
  const std::uint64_t all_defined = test::kEntryPage | 0x3 | 0x8 | 0x1C0 | 0x600;
  EXPECT_EQ(c.wrmsr(kConfig, all_defined), Fault::none);
  EXPECT_EQ(c.rdmsr(kConfig).value, all_defined);
}

TEST(CpuMsr, ConfigNonCanonicalEntryPageGp) {
  Harness h;
  EXPECT_EQ(h.cpu->wrmsr(kConfig, 0x0000800000000000ull), Fault::gp);
  EXPECT_EQ(h.cpu->wrmsr(kConfig, 0x00007FFFFFFFF000ull), Fault::none);
}

TEST(CpuMsr, ShadowStackPointers) {
  Harness h;
  Cpu& c = *h.cpu;
  EXPECT_EQ(c.wrmsr(kSsp1, 0xFFFFFE0000040FF8ull), Fault::none);
  EXPECT_EQ(c.wrmsr(kSsp3, 0xFFFFFE0000060FF8ull), Fault::none);
  EXPECT_EQ(c.wrmsr(kPl0Ssp, 0xFFFFFE0000070FF8ull), Fault::none);
  EXPECT_EQ(c.rdmsr(kSsp1).value, 0xFFFFFE0000040FF8ull);
  EXPECT_EQ(c.rdmsr(kSsp3).value, 0xFFFFFE0000060FF8ull);
  EXPECT_EQ(c.rdmsr(kPl0Ssp).value, 0xFFFFFE0000070FF8ull);
  EXPECT_EQ(c.wrmsr(kSsp1, 0x0000800000000000ull), Fault::gp);
}

TEST(CpuMsr, FredMsrsWithoutFredGp) {
  Harness h(CpuFeatures::legacy());
  Cpu& c = *h.cpu;
  std::uint64_t faults = 0;
  for (std::uint32_t idx = 0x1CC; idx <= 0x1D4; ++idx) {
    EXPECT_EQ(c.rdmsr(idx).fault, Fault::gp) << std::hex << idx;
    EXPECT_EQ(c.rdmsr(idx).value, 0u);
    faults += 2;
    EXPECT_EQ(c.wrmsr(idx, 0), Fault::gp) << std::hex << idx;
    ++faults;
  }
  EXPECT_EQ(c.stats().faults, faults);
  // STAR exists without FRED.
  EXPECT_EQ(c.wrmsr(kStar, test::kLinuxStar), Fault::none);
}

TEST(CpuMsr, UnknownMsrGp) {
  Harness h;
  Cpu& c = *h.cpu;
  for (std::uint32_t idx : {0x1CBu, 0x1D5u, 0x0u, 0xC0000080u, 0xFFFFFFFFu}) {
    EXPECT_EQ(c.rdmsr(idx).fault, Fault::gp) << std::hex << idx;
    EXPECT_EQ(c.wrmsr(idx, 1), Fault::gp) << std::hex << idx;
  }
  EXPECT_EQ(c.stats().faults, 10u);
  EXPECT_EQ(h.sink.of("fault").size(), 10u);
}

TEST(CpuMsr, StarRoundTrip) {
  Harness h;
  EXPECT_EQ(h.cpu->wrmsr(kStar, 0xFFFFFFFFFFFFFFFFull), Fault::none);
  EXPECT_EQ(h.cpu->rdmsr(kStar).value, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(h.cpu->wrmsr(kStar, test::kLinuxStar), Fault::none);
  EXPECT_EQ(h.cpu->rdmsr(kStar).value, test::kLinuxStar);
}

TEST(CpuMsr, PerfGlobalStatusReadOnlyAndOvfCtrlClears) {
  Harness h;
  Cpu& c = *h.cpu;
  c.pmu_overflow(0b1011);
  EXPECT_EQ(c.rdmsr(kGlobalStatus).value, 0b1011u);
  EXPECT_EQ(c.wrmsr(kGlobalStatus, 0), Fault::gp);
  EXPECT_EQ(c.perf_global_status(), 0b1011u);
  EXPECT_EQ(c.wrmsr(kGlobalOvfCtrl, 0b0010), Fault::none);
  EXPECT_EQ(c.rdmsr(kGlobalStatus).value, 0b1001u);
  c.pmu_overflow(0b0100);
  EXPECT_EQ(c.perf_global_status(), 0b1101u);
  EXPECT_EQ(c.wrmsr(kGlobalOvfCtrl, ~std::uint64_t{0}), Fault::none);
  EXPECT_EQ(c.perf_global_status(), 0u);
}

// An MSR device claiming a range takes precedence; its faults are counted.
class FakeDevice final : public MsrDevice {
 public:
  std::uint64_t value = 0;
  bool claims_msr(std::uint32_t index) const override { return index >= 0x800 && index <= 0x8FF; }
  MsrRead read_msr(std::uint32_t index) override {
    if (index == 0x8FF) return {Fault::gp, 0};
    return {Fault::none, value};
  }
  Fault write_msr(std::uint32_t index, std::uint64_t v) override {
    if (index == 0x8FF) return Fault::gp;
    value = v;
    return Fault::none;
  }
};

TEST(CpuMsr, DeviceRange) {
  Harness h;
  FakeDevice dev;
  h.cpu->attach_msr_device(dev);
  EXPECT_EQ(h.cpu->wrmsr(0x830, 0x4000F), Fault::none);
  EXPECT_EQ(dev.value, 0x4000Fu);
  EXPECT_EQ(h.cpu->rdmsr(0x830).value, 0x4000Fu);
  EXPECT_EQ(h.cpu->wrmsr(0x8FF, 1), Fault::gp);
  EXPECT_EQ(h.cpu->rdmsr(0x8FF).fault, Fault::gp);
  EXPECT_EQ(h.cpu->stats().faults, 2u);
  EXPECT_EQ(h.cpu->rdmsr(0x900).fault, Fault::gp);  // outside the range: unknown
}

TEST(CpuCr4, FredWithoutFeatureGp) {
  Harness h(CpuFeatures::legacy());
  EXPECT_EQ(h.cpu->write_cr4(test::kCr4Fred), Fault::gp);
  EXPECT_EQ(h.cpu->cr4(), 0u);
  EXPECT_FALSE(h.cpu->fred_enabled());
  EXPECT_EQ(h.cpu->stats().faults, 1u);
  // Other CR4 bits are fine without FRED.
  EXPECT_EQ(h.cpu->write_cr4(0x20), Fault::none);
  EXPECT_EQ(h.cpu->cr4(), 0x20u);
}

TEST(CpuCr4, FredEnablesAndNmiSourceFollows) {
  Harness h;
  EXPECT_FALSE(h.cpu->nmi_source_active());
  EXPECT_EQ(h.cpu->write_cr4(test::kCr4Fred | 0x20), Fault::none);
  EXPECT_TRUE(h.cpu->fred_enabled());
  EXPECT_TRUE(h.cpu->nmi_source_active());
  EXPECT_EQ(h.cpu->write_cr4(0x20), Fault::none);
  EXPECT_FALSE(h.cpu->nmi_source_active());

  CpuFeatures no_src;
  no_src.nmi_source = false;
  Harness g(no_src);
  EXPECT_EQ(g.cpu->write_cr4(test::kCr4Fred), Fault::none);
  EXPECT_TRUE(g.cpu->fred_enabled());
  EXPECT_FALSE(g.cpu->nmi_source_active());
}

// --- CPUID.(EAX=7,ECX=1):EAX -------------------------------------------------------

TEST(CpuFeatures, CpuidBits17To20) {
  CpuFeatures all;
  EXPECT_EQ(all.cpuid_7_1_eax(), 0x1E0000u);  // bits 17, 18, 19, 20
  CpuFeatures f{true, false, false, false};
  EXPECT_EQ(f.cpuid_7_1_eax(), 0x20000u);
  EXPECT_EQ((CpuFeatures{false, true, false, false}.cpuid_7_1_eax()), 0x40000u);
  EXPECT_EQ((CpuFeatures{false, false, true, false}.cpuid_7_1_eax()), 0x80000u);
  EXPECT_EQ((CpuFeatures{false, false, false, true}.cpuid_7_1_eax()), 0x100000u);
  EXPECT_EQ(CpuFeatures::legacy().cpuid_7_1_eax(), 0xC0000u);
}

TEST(CpuFeatures, FromCpuidRoundTripAllCombinations) {
  for (std::uint32_t m = 0; m < 16; ++m) {
    const std::uint32_t eax = m << 17;
    const CpuFeatures f = CpuFeatures::from_cpuid_7_1_eax(eax | 0xFFE1FFFFu);  // other bits set
    EXPECT_EQ(f.fred, (m & 1) != 0);
    EXPECT_EQ(f.lkgs, (m & 2) != 0);
    EXPECT_EQ(f.wrmsrns, (m & 4) != 0);
    EXPECT_EQ(f.nmi_source, (m & 8) != 0);
    EXPECT_EQ(f.cpuid_7_1_eax(), eax);
  }
}

TEST(CpuFeatures, CheckDependencies) {
  EXPECT_TRUE(CpuFeatures{}.check().ok());
  EXPECT_TRUE(CpuFeatures::legacy().check().ok());
  EXPECT_TRUE((CpuFeatures{true, true, false, false}.check().ok()));
  EXPECT_TRUE((CpuFeatures{false, false, false, false}.check().ok()));
  // FRED needs LKGS.
  const Status no_lkgs = CpuFeatures{true, false, true, true}.check();
  ASSERT_FALSE(no_lkgs.ok());
  EXPECT_NE(no_lkgs.error().message.find("LKGS"), std::string::npos);
  // NMI_SOURCE needs FRED.
  const Status no_fred = CpuFeatures{false, true, true, true}.check();
  ASSERT_FALSE(no_fred.ok());
  EXPECT_NE(no_fred.error().message.find("NMI_SOURCE"), std::string::npos);
  // The message says what to do: turning fred off alone keeps nmi_source on.
  EXPECT_NE(no_fred.error().message.find("turn nmi_source off with fred"), std::string::npos);
}

}  // namespace
}  // namespace fredsim::cpu

namespace fredsim::cpu {
namespace {

TEST(FaultValues, NamesAndMsrRead) {
  EXPECT_EQ(fault_name(Fault::none), "none");
  EXPECT_EQ(fault_name(Fault::gp), "#GP");
  EXPECT_EQ(fault_name(Fault::ud), "#UD");
  EXPECT_TRUE(MsrRead{}.ok());
  EXPECT_FALSE((MsrRead{Fault::gp, 0}.ok()));
}

TEST(CpuNames, PathsAndStates) {
  EXPECT_EQ(delivery_path_name(DeliveryPath::fred), "fred");
  EXPECT_EQ(delivery_path_name(DeliveryPath::idt), "idt");
  EXPECT_EQ(delivery_path_name(DeliveryPath::vmexit), "vmexit");
  EXPECT_EQ(run_state_name(RunState::running), "running");
  EXPECT_EQ(run_state_name(RunState::in_os), "in_os");
}

}  // namespace
}  // namespace fredsim::cpu
