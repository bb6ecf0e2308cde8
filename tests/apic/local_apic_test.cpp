#include "fredsim/apic/local_apic.hpp"

#include <gtest/gtest.h>

#include "apic/apic_fixture.hpp"

namespace fredsim::apic {
namespace {

using cpu::Fault;
using testing::ApicTest;
using testing::NmiSeen;

using LocalApicTest = ApicTest;

// ---- Identification and views ---------------------------------------------------------

TEST_F(LocalApicTest, IdAndVersionInBothViews) {
  build(4, ApicMode::xapic, {7, 1, 2, 3});
  EXPECT_EQ(apic(0).mmio_read(APIC_ID), 7u << 24);
  EXPECT_EQ(apic(0).mmio_read(APIC_LVR), 0x0006'0015u) << "max LVT 6, integrated version";
  ASSERT_EQ(apic(0).enable_x2apic(), Fault::none);
  EXPECT_EQ(apic(0).read_msr(X2APIC_ID_MSR).value, 7u);
  EXPECT_EQ(apic(0).read_msr(X2APIC_LVR_MSR).value, 0x0006'0015u);
}

TEST_F(LocalApicTest, ApicBaseReportsModeAndBsp) {
  build(2, ApicMode::xapic);
  const auto base0 = apic(0).read_msr(MSR_IA32_APICBASE);
  ASSERT_TRUE(base0.ok()) << "IA32_APIC_BASE is readable in xAPIC mode";
  EXPECT_EQ(base0.value, APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE | MSR_IA32_APICBASE_BSP);
  EXPECT_EQ(apic(1).read_msr(MSR_IA32_APICBASE).value,
            APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE);
  ASSERT_EQ(apic(1).write_msr(MSR_IA32_APICBASE, apic(1).apic_base() | X2APIC_ENABLE), Fault::none);
  EXPECT_EQ(apic(1).mode(), ApicMode::x2apic);
  EXPECT_TRUE(apic(1).claims_msr(MSR_IA32_APICBASE));
  EXPECT_TRUE(apic(1).claims_msr(0x800));
  EXPECT_TRUE(apic(1).claims_msr(0x8FF));
  EXPECT_FALSE(apic(1).claims_msr(0x900));
  EXPECT_FALSE(apic(1).claims_msr(0x7FF));
}

TEST_F(LocalApicTest, MsrAccessInXapicModeGPs) {
  build(2, ApicMode::xapic);
  EXPECT_EQ(apic(0).read_msr(X2APIC_ID_MSR).fault, Fault::gp);
  EXPECT_EQ(apic(0).read_msr(X2APIC_LVTPC_MSR).fault, Fault::gp);
  EXPECT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(1, 4).raw()), Fault::gp);
  EXPECT_EQ(apic(0).write_msr(X2APIC_LVTPC_MSR, LvtEntry::nmi(7).raw()), Fault::gp);
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 0u) << "a faulting ICR write sends nothing";
  EXPECT_EQ(apic(0).lvt(Lvt::perfmon), LvtEntry::reset()) << "a faulting write changes nothing";
}

TEST_F(LocalApicTest, NonExistentX2apicMsrsGP) {
  build(1);
  for (std::uint32_t msr : {0x800u, 0x801u, 0x804u, 0x809u /*APR*/, 0x80Cu /*RRR*/, 0x80Eu /*DFR*/,
                            0x829u, 0x831u /*ICR2*/, 0x83Au, 0x83Du, 0x840u, 0x8FFu}) {
    EXPECT_EQ(apic(0).read_msr(msr).fault, Fault::gp) << std::hex << msr;
    EXPECT_EQ(apic(0).write_msr(msr, 0), Fault::gp) << std::hex << msr;
  }
  // Write-only registers do not read; read-only ones do not write.
  EXPECT_EQ(apic(0).read_msr(x2apic_msr(APIC_EOI)).fault, Fault::gp);
  EXPECT_EQ(apic(0).read_msr(X2APIC_SELF_IPI_MSR).fault, Fault::gp);
  for (std::uint32_t msr :
       {X2APIC_ID_MSR, X2APIC_LVR_MSR, x2apic_msr(APIC_PROCPRI), x2apic_msr(APIC_LDR),
        x2apic_msr(APIC_ISR), x2apic_msr(APIC_IRR + 0x70), x2apic_msr(APIC_TMCCT)}) {
    EXPECT_EQ(apic(0).write_msr(msr, 0), Fault::gp) << std::hex << msr;
    EXPECT_TRUE(apic(0).read_msr(msr).ok()) << std::hex << msr;
  }
}

TEST_F(LocalApicTest, X2apicReservedBitsGPAndChangeNothing) {
  build(2);
  auto& a = apic(0);
  const std::uint64_t nmi_to_1 = IcrValue::nmi(1, 4).raw();
  EXPECT_EQ(a.write_msr(X2APIC_ICR_MSR, nmi_to_1 | APIC_ICR_BUSY), Fault::gp) << "bit 12";
  EXPECT_EQ(a.write_msr(X2APIC_ICR_MSR, nmi_to_1 | (1u << 13)), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_ICR_MSR, nmi_to_1 | (1u << 16)), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_ICR_MSR, nmi_to_1 | (1u << 20)), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_LVTPC_MSR, LvtEntry::nmi(7).raw() | (1u << 17)), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_LVTPC_MSR, std::uint64_t{1} << 32), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_LVTT_MSR, APIC_DM_NMI), Fault::gp) << "timer has no mode field";
  EXPECT_EQ(a.write_msr(X2APIC_ESR_MSR, 1), Fault::gp) << "only 0 may be written to ESR";
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_EOI), 1), Fault::gp);
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_TASKPRI), 0x100), Fault::gp);
  EXPECT_EQ(a.write_msr(X2APIC_SELF_IPI_MSR, 0x100 | 0x40), Fault::gp);
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 0u);
  EXPECT_EQ(a.counters().ipis_sent, 0u);
  EXPECT_EQ(a.lvt(Lvt::perfmon), LvtEntry::reset());
  // Read-only bits of an LVT (delivery status) are not reserved: no #GP.
  EXPECT_EQ(a.write_msr(X2APIC_LVTPC_MSR, LvtEntry::nmi(7).raw() | APIC_SEND_PENDING), Fault::none);
  EXPECT_EQ(a.lvt(Lvt::perfmon), LvtEntry::nmi(7));
}

TEST_F(LocalApicTest, XapicIgnoresReservedBits) {
  build(1, ApicMode::xapic);
  auto& a = apic(0);
  for (const auto& info : kLvtInfo) {
    a.mmio_write(info.offset, 0xFFFF'FFFFu);
    EXPECT_EQ(a.mmio_read(info.offset), info.writable) << info.name;
  }
  a.mmio_write(APIC_TASKPRI, 0xFFFF'FFFFu);
  EXPECT_EQ(a.mmio_read(APIC_TASKPRI), 0xFFu);
  a.mmio_write(APIC_LDR, 0xFFFF'FFFFu);
  EXPECT_EQ(a.mmio_read(APIC_LDR), 0xFF00'0000u);
  a.mmio_write(APIC_DFR, 0);
  EXPECT_EQ(a.mmio_read(APIC_DFR), APIC_DFR_CLUSTER);
  a.mmio_write(APIC_ID, 0x0500'0000u);
  EXPECT_EQ(a.mmio_read(APIC_ID), 0u) << "IDs are fixed at configuration";
  EXPECT_EQ(a.esr_pending(), 0u) << "reserved bits are not errors";
}

TEST_F(LocalApicTest, MmioAndMsrViewsAgree) {
  build(1, ApicMode::xapic, {0x23});
  auto& a = apic(0);
  // Program through MMIO as Linux does in xAPIC mode...
  a.mmio_write(APIC_TASKPRI, 0x20);
  a.mmio_write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xFF);
  a.mmio_write(APIC_LVTPC, APIC_DM_NMI | 7);
  a.mmio_write(APIC_LVT0, APIC_DM_EXTINT | APIC_LVT_MASKED);
  a.mmio_write(APIC_LVT1, APIC_DM_NMI);
  a.mmio_write(APIC_LVTTHMR, APIC_DM_NMI | 9);
  a.mmio_write(APIC_LVTCMCI, APIC_DM_NMI | 6);
  a.mmio_write(APIC_LVTT, 0xEC | APIC_LVT_TIMER_PERIODIC);
  a.mmio_write(APIC_LVTERR, 0xFE);
  a.mmio_write(APIC_TMICT, 12345);
  a.mmio_write(APIC_TDCR, 0xB);
  std::uint32_t mmio[kApicRegisterSpaceEnd / kApicRegisterStride] = {};
  const std::uint32_t shared[] = {APIC_TASKPRI, APIC_PROCPRI, APIC_SPIV,    APIC_LVTPC, APIC_LVT0,
                                  APIC_LVT1,    APIC_LVTTHMR, APIC_LVTCMCI, APIC_LVTT,  APIC_LVTERR,
                                  APIC_TMICT,   APIC_TDCR,    APIC_LVR,     APIC_ESR};
  for (std::uint32_t off : shared)
    mmio[off / kApicRegisterStride] = a.mmio_read(off);
  // ...then read the same registers through the MSRs.
  ASSERT_EQ(a.enable_x2apic(), Fault::none);
  for (std::uint32_t off : shared) {
    const auto r = a.read_msr(x2apic_msr(off));
    ASSERT_TRUE(r.ok()) << std::hex << off;
    EXPECT_EQ(r.value, mmio[off / kApicRegisterStride]) << std::hex << off;
  }
  EXPECT_EQ(a.read_msr(X2APIC_LVTPC_MSR).value, APIC_DM_NMI | 7u);
  EXPECT_EQ(a.lvt(Lvt::thermal).vector(), 9);
  // The ID: 8 bits at 31:24 in xAPIC, the whole 32-bit register in x2APIC.
  EXPECT_EQ(a.read_msr(X2APIC_ID_MSR).value, 0x23u);
  // x2APIC LDR is derived from the ID: cluster 0x23 >> 4 = 2, member bit 3.
  EXPECT_EQ(a.read_msr(x2apic_msr(APIC_LDR)).value, 0x0002'0008u);
  // And MSR writes show in the typed view.
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 5), Fault::none);
  EXPECT_EQ(a.lvt(Lvt::perfmon), LvtEntry::nmi(5));
}

TEST_F(LocalApicTest, MmioOutsideXapicModeIsIgnored) {
  build(1);
  apic(0).mmio_write(APIC_LVTPC, APIC_DM_NMI | 7);
  EXPECT_EQ(apic(0).mmio_read(APIC_LVTPC), 0u);
  EXPECT_EQ(apic(0).lvt(Lvt::perfmon), LvtEntry::reset());
  EXPECT_EQ(apic(0).counters().mmio_ignored, 2u);
}

// ---- Mode switching ---------------------------------------------------------------------

TEST_F(LocalApicTest, ModeTransitions) {
  build(1, ApicMode::xapic);
  auto& a = apic(0);
  const std::uint64_t base = a.apic_base();
  EXPECT_EQ(a.write_apic_base((base & ~MSR_IA32_APICBASE_ENABLE) | X2APIC_ENABLE), Fault::gp)
      << "EXTD without EN is invalid";
  EXPECT_EQ(a.write_apic_base(base | 1), Fault::gp) << "reserved bit 0";
  ASSERT_EQ(a.enable_x2apic(), Fault::none);
  EXPECT_EQ(a.mode(), ApicMode::x2apic);
  EXPECT_EQ(a.write_apic_base(base), Fault::gp) << "x2APIC -> xAPIC is illegal";
  EXPECT_EQ(a.mode(), ApicMode::x2apic);
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, LvtEntry::nmi(7).raw()), Fault::none);
  ASSERT_EQ(a.write_apic_base(base & ~MSR_IA32_APICBASE_ENABLE), Fault::none);
  EXPECT_EQ(a.mode(), ApicMode::disabled);
  EXPECT_EQ(a.lvt(Lvt::perfmon), LvtEntry::reset()) << "disabling resets the registers";
  EXPECT_EQ(a.enable_x2apic(), Fault::gp) << "disabled -> x2APIC is illegal";
  ASSERT_EQ(a.write_apic_base(base), Fault::none);
  EXPECT_EQ(a.mode(), ApicMode::xapic);
  EXPECT_FALSE(a.software_enabled()) << "SVR is back to its reset value";
}

// ---- ESR ---------------------------------------------------------------------------------

TEST_F(LocalApicTest, IllegalVectorSetsEsrAndSendsNothing) {
  build(2, ApicMode::xapic);
  auto& a = apic(0);
  a.mmio_write(APIC_ICR2, 1u << 24);
  a.mmio_write(APIC_ICR, APIC_DM_FIXED | 15);
  EXPECT_EQ(a.counters().ipis_rejected, 1u);
  EXPECT_EQ(a.counters().ipis_sent, 0u);
  EXPECT_EQ(a.mmio_read(APIC_ESR), 0u) << "errors show only after an ESR write";
  a.mmio_write(APIC_ESR, 0);
  EXPECT_EQ(a.mmio_read(APIC_ESR), APIC_ESR_SENDILL);
  a.mmio_write(APIC_ESR, 0);
  EXPECT_EQ(a.mmio_read(APIC_ESR), 0u) << "a second write clears it";
  // Vector 16 is the first legal one; NMI mode ignores the rule (vector = source).
  a.mmio_write(APIC_ICR, APIC_DM_FIXED | 16);
  a.mmio_write(APIC_ICR, APIC_DM_NMI | 2);
  a.mmio_write(APIC_ESR, 0);
  EXPECT_EQ(a.mmio_read(APIC_ESR), 0u);
  EXPECT_EQ(a.counters().ipis_sent, 2u);
  queue.run_to_idle();
  EXPECT_EQ(sinks[1].nmis, (std::vector<NmiSeen>{{kIpiLatency, 2}}));
  ASSERT_EQ(sinks[1].messages.size(), 1u);
  EXPECT_EQ(sinks[1].messages[0].vector, 16);
}

TEST_F(LocalApicTest, SelfIpiIllegalVectorInX2apic) {
  build(1);
  auto& a = apic(0);
  ASSERT_EQ(a.write_msr(X2APIC_SELF_IPI_MSR, 5), Fault::none);
  ASSERT_EQ(a.write_msr(X2APIC_ESR_MSR, 0), Fault::none);
  EXPECT_EQ(a.read_msr(X2APIC_ESR_MSR).value, APIC_ESR_SENDILL);
  ASSERT_EQ(a.write_msr(X2APIC_SELF_IPI_MSR, 0x40), Fault::none);
  queue.run_to_idle();
  ASSERT_EQ(sinks[0].messages.size(), 1u);
  EXPECT_EQ(sinks[0].messages[0].mode, DeliveryMode::fixed);
  EXPECT_EQ(sinks[0].messages[0].vector, 0x40);
}

TEST_F(LocalApicTest, IllegalRegisterAddressInXapic) {
  build(1, ApicMode::xapic);
  auto& a = apic(0);
  a.mmio_write(APIC_LVTERR, 0xFE);    // unmasked: errors are signalled
  EXPECT_EQ(a.mmio_read(0x040), 0u);  // reserved offset
  a.mmio_write(APIC_ESR, 0);
  EXPECT_EQ(a.mmio_read(APIC_ESR), APIC_ESR_ILLREGA);
  a.mmio_write(APIC_SELF_IPI, 0x40);  // x2APIC only
  a.mmio_write(APIC_ICR + 4, 0);      // not on a 16-byte boundary
  a.mmio_write(0x400, 0);             // past the register space
  a.mmio_write(APIC_ESR, 0);
  EXPECT_EQ(a.mmio_read(APIC_ESR), APIC_ESR_ILLREGA);
  EXPECT_EQ(a.counters().errors, 4u);
  EXPECT_EQ(a.counters().error_interrupts, 4u);
  EXPECT_EQ(a.counters().ipis_sent, 0u);
}

// ---- LVT NMIs ------------------------------------------------------------------------------

TEST_F(LocalApicTest, LvtpcNmiArrivesAfterLvtDelivery) {
  build(2);
  queue.run_until(500);
  ASSERT_EQ(apic(1).write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  EXPECT_EQ(apic(1).assert_lvt(Lvt::perfmon), LvtOutcome::nmi_scheduled);
  queue.run_until(500 + kLvtDelivery - 1);
  EXPECT_TRUE(sinks[1].nmis.empty()) << "not at t-1";
  queue.run_until(500 + kLvtDelivery);
  EXPECT_EQ(sinks[1].nmis, (std::vector<NmiSeen>{{500 + kLvtDelivery, 7}})) << "yes at t";
  EXPECT_TRUE(sinks[0].nmis.empty());
  EXPECT_EQ(apic(1).counters().lvt_nmi[index_of(Lvt::perfmon)], 1u);
}

TEST_F(LocalApicTest, PmiMasksLvtpcUntilTheHandlerRewritesIt) {
  build(1);
  auto& a = apic(0);
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::nmi_scheduled);
  EXPECT_TRUE(a.lvt(Lvt::perfmon).masked())
      << "a PMI masks LVTPC (docs/hardware.md §3, Local APIC)";
  EXPECT_EQ(a.read_msr(X2APIC_LVTPC_MSR).value, APIC_DM_NMI | APIC_LVT_MASKED | 7u);
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::masked_dropped);
  queue.run_to_idle();
  EXPECT_EQ(sinks[0].nmis.size(), 1u);
  EXPECT_EQ(a.counters().lvt_masked[index_of(Lvt::perfmon)], 1u);
  // perf's handler: apic_write(APIC_LVTPC, APIC_DM_NMI | vector) unmasks.
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::nmi_scheduled);
  queue.run_to_idle();
  ASSERT_EQ(sinks[0].nmis.size(), 2u);
  EXPECT_EQ(sinks[0].nmis[1].vector, 7u);
  EXPECT_EQ(a.counters().lvt_asserted[index_of(Lvt::perfmon)], 3u);
}

TEST_F(LocalApicTest, Lint1NmiArrivesAsSourceVector2) {
  build(1, ApicMode::xapic);
  auto& a = apic(0);
  a.mmio_write(APIC_LVT1, APIC_DM_NMI);  // Linux: vector field 0
  EXPECT_EQ(a.assert_lvt(Lvt::lint1), LvtOutcome::nmi_scheduled);
  a.mmio_write(APIC_LVT1, APIC_DM_NMI | 0x55);  // the vector field does not matter
  EXPECT_EQ(a.assert_lvt(Lvt::lint1), LvtOutcome::nmi_scheduled);
  EXPECT_FALSE(a.lvt(Lvt::lint1).masked()) << "only LVTPC masks itself";
  queue.run_to_idle();
  EXPECT_EQ(sinks[0].nmis, (std::vector<NmiSeen>{{kLvtDelivery, kExternalNmiSourceVector},
                                                 {kLvtDelivery, kExternalNmiSourceVector}}));
}

TEST_F(LocalApicTest, ThermalCmciAndLint0CarryTheirVector) {
  build(1);
  auto& a = apic(0);
  ASSERT_EQ(a.write_msr(X2APIC_LVTTHMR_MSR, APIC_DM_NMI | 9), Fault::none);
  ASSERT_EQ(a.write_msr(X2APIC_LVTCMCI_MSR, APIC_DM_NMI | 6), Fault::none);
  ASSERT_EQ(a.write_msr(X2APIC_LVT0_MSR, APIC_DM_NMI | 5), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::thermal), LvtOutcome::nmi_scheduled);
  queue.run_until(10);
  EXPECT_EQ(a.assert_lvt(Lvt::cmci), LvtOutcome::nmi_scheduled);
  queue.run_until(20);
  EXPECT_EQ(a.assert_lvt(Lvt::lint0), LvtOutcome::nmi_scheduled);
  queue.run_to_idle();
  EXPECT_EQ(sinks[0].nmis, (std::vector<NmiSeen>{
                               {kLvtDelivery, 9}, {10 + kLvtDelivery, 6}, {20 + kLvtDelivery, 5}}));
  EXPECT_FALSE(a.lvt(Lvt::thermal).masked());
}

TEST_F(LocalApicTest, MaskedLvtIsDroppedAndCounted) {
  build(1);
  auto& a = apic(0);
  EXPECT_EQ(a.assert_lvt(Lvt::lint1), LvtOutcome::masked_dropped) << "reset state: masked";
  ASSERT_EQ(a.write_msr(X2APIC_LVTTHMR_MSR, APIC_DM_NMI | APIC_LVT_MASKED | 9), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::thermal), LvtOutcome::masked_dropped);
  EXPECT_EQ(a.assert_lvt(Lvt::thermal), LvtOutcome::masked_dropped);
  queue.run_to_idle();
  EXPECT_TRUE(sinks[0].nmis.empty());
  EXPECT_EQ(a.counters().lvt_masked[index_of(Lvt::lint1)], 1u);
  EXPECT_EQ(a.counters().lvt_masked[index_of(Lvt::thermal)], 2u);
  EXPECT_EQ(a.counters().nmis_raised, 0u);
}

TEST_F(LocalApicTest, FixedModeLvtsAreCountedAndIllegalVectorsLogged) {
  build(1);
  auto& a = apic(0);
  ASSERT_EQ(a.write_msr(X2APIC_LVTT_MSR, 0xEC), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::timer), LvtOutcome::counted);
  ASSERT_EQ(a.write_msr(X2APIC_LVTERR_MSR, 3), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::error), LvtOutcome::illegal_vector);
  ASSERT_EQ(a.write_msr(X2APIC_ESR_MSR, 0), Fault::none);
  EXPECT_EQ(a.esr(), APIC_ESR_RECVILL);
  queue.run_to_idle();
  EXPECT_TRUE(sinks[0].nmis.empty());
  EXPECT_EQ(a.counters().lvt_counted[index_of(Lvt::timer)], 1u);
}

TEST_F(LocalApicTest, SoftwareDisabledApicKeepsLvtsMasked) {
  build(1, ApicMode::x2apic, {}, /*software_enabled=*/false);
  auto& a = apic(0);
  EXPECT_FALSE(a.software_enabled());
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  EXPECT_TRUE(a.lvt(Lvt::perfmon).masked()) << "SDM 11.4.7.2";
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::masked_dropped);
  ASSERT_EQ(a.write_msr(x2apic_msr(APIC_SPIV), APIC_SPIV_APIC_ENABLED | 0xFF), Fault::none);
  ASSERT_EQ(a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::nmi_scheduled);
  // Clearing the enable bit masks every entry again.
  ASSERT_EQ(a.write_msr(X2APIC_LVT1_MSR, APIC_DM_NMI), Fault::none);
  ASSERT_EQ(a.write_msr(x2apic_msr(APIC_SPIV), 0xFF), Fault::none);
  EXPECT_TRUE(a.lvt(Lvt::lint1).masked());
}

TEST_F(LocalApicTest, HardwareDisabledApicPassesLint1AsTheNmiPin) {
  build(1, ApicMode::xapic);
  auto& a = apic(0);
  ASSERT_EQ(a.write_apic_base(a.apic_base() & ~MSR_IA32_APICBASE_ENABLE), Fault::none);
  EXPECT_EQ(a.assert_lvt(Lvt::lint1), LvtOutcome::nmi_scheduled);
  EXPECT_EQ(a.assert_lvt(Lvt::perfmon), LvtOutcome::apic_disabled);
  queue.run_to_idle();
  EXPECT_EQ(sinks[0].nmis, (std::vector<NmiSeen>{{kLvtDelivery, kExternalNmiSourceVector}}));
  EXPECT_EQ(a.counters().lvt_dropped_disabled, 1u);
}

TEST_F(LocalApicTest, NmiWithoutSinkIsCountedNotCrashed) {
  build(1);
  apic(0).bind_nmi_sink(nullptr);
  ASSERT_EQ(apic(0).write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  apic(0).assert_lvt(Lvt::perfmon);
  queue.run_to_idle();
  EXPECT_EQ(apic(0).counters().nmis_raised, 1u);
  EXPECT_EQ(apic(0).counters().nmis_without_sink, 1u);
  EXPECT_TRUE(sinks[0].nmis.empty());
}

TEST_F(LocalApicTest, EoiAndTprAndTimerRegisters) {
  build(1);
  auto& a = apic(0);
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_EOI), 0), Fault::none);
  EXPECT_EQ(a.counters().eoi_writes, 1u);
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_TASKPRI), 0x30), Fault::none);
  EXPECT_EQ(a.read_msr(x2apic_msr(APIC_PROCPRI)).value, 0x30u);
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_TMICT), 0xFFFF'FFFF), Fault::none);
  EXPECT_EQ(a.read_msr(x2apic_msr(APIC_TMICT)).value, 0xFFFF'FFFFu);
  EXPECT_EQ(a.write_msr(x2apic_msr(APIC_TDCR), 0x4), Fault::gp);
}

TEST_F(LocalApicTest, EventNamesAndCpu) {
  build(3);
  ASSERT_EQ(apic(2).write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7), Fault::none);
  apic(2).assert_lvt(Lvt::perfmon);
  const auto info = queue.step();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->cpu, 2u);
  EXPECT_EQ(info->name, "lvt_nmi");
  EXPECT_EQ(info->cycle, kLvtDelivery);
}

TEST_F(LocalApicTest, IcrWriteCostIsTheTimingParameter) {
  build(1);
  timing.set(TimingParam::icr_write, 321);
  EXPECT_EQ(apic(0).icr_write_cost(), 321u);
}

}  // namespace
}  // namespace fredsim::apic
