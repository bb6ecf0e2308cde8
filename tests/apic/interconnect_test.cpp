#include "fredsim/apic/interconnect.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apic/apic_fixture.hpp"

namespace fredsim::apic {
namespace {

using cpu::Fault;
using testing::ApicTest;
using testing::NmiSeen;

using InterconnectTest = ApicTest;

/// CPUs whose sink saw at least one NMI, in CPU order.
std::vector<CpuId> nmi_receivers(const std::deque<testing::RecordingSink>& sinks) {
  std::vector<CpuId> out;
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    if (!sinks[i].nmis.empty()) out.push_back(static_cast<CpuId>(i));
  }
  return out;
}

// ---- Configuration ----------------------------------------------------------------------

TEST_F(InterconnectTest, XapicRefusesMoreThan255Cpus) {
  InterconnectConfig cfg;
  cfg.cpus = 256;
  cfg.mode = ApicMode::xapic;
  const auto r = Interconnect::create(ctx, cfg);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("255"), std::string::npos) << r.error().message;
  cfg.cpus = 255;
  EXPECT_TRUE(Interconnect::create(ctx, cfg).ok());
  cfg.cpus = 4096;
  cfg.mode = ApicMode::x2apic;
  EXPECT_TRUE(Interconnect::create(ctx, cfg).ok());
}

TEST_F(InterconnectTest, RefusesBadConfigurations) {
  InterconnectConfig cfg;
  cfg.cpus = 0;
  EXPECT_FALSE(Interconnect::create(ctx, cfg).ok());
  cfg.cpus = 3;
  cfg.apic_ids = {1, 2};
  EXPECT_FALSE(Interconnect::create(ctx, cfg).ok()) << "wrong number of IDs";
  cfg.apic_ids = {1, 2, 1};
  const auto dup = Interconnect::create(ctx, cfg);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message.find("two CPUs"), std::string::npos);
  cfg.apic_ids = {1, 2, X2APIC_BROADCAST_ID};
  EXPECT_FALSE(Interconnect::create(ctx, cfg).ok()) << "the broadcast ID";
  cfg.mode = ApicMode::xapic;
  cfg.apic_ids = {1, 2, APIC_BROADCAST_ID};
  EXPECT_FALSE(Interconnect::create(ctx, cfg).ok());
  cfg.mode = ApicMode::disabled;
  cfg.apic_ids.clear();
  EXPECT_FALSE(Interconnect::create(ctx, cfg).ok());
}

TEST_F(InterconnectTest, DefaultApicIdIsCpuIndex) {
  build(8);
  for (CpuId c = 0; c < 8; ++c) {
    EXPECT_EQ(apic(c).apic_id(), c);
    EXPECT_EQ(bus->cpu_of_apic_id(c), c);
  }
  EXPECT_EQ(bus->cpu_of_apic_id(8), kNoCpu);
}

// ---- Unicast and timing ---------------------------------------------------------------

TEST_F(InterconnectTest, X2apicNmiCarriesVectorAndArrivesAfterLatency) {
  build(8);
  queue.run_until(100);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(3, 4).raw()), Fault::none);
  queue.run_until(100 + kIpiLatency - 1);
  EXPECT_TRUE(sinks[3].nmis.empty()) << "not at t-1";
  queue.run_until(100 + kIpiLatency);
  EXPECT_EQ(sinks[3].nmis, (std::vector<NmiSeen>{{100 + kIpiLatency, 4}})) << "yes at t";
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{3}));
  EXPECT_EQ(apic(3).counters().received[index_of(DeliveryMode::nmi)], 1u);
  EXPECT_EQ(bus->counters().messages_posted, 1u);
  EXPECT_EQ(apic(0).read_msr(X2APIC_ICR_MSR).value, IcrValue::nmi(3, 4).raw());
}

TEST_F(InterconnectTest, XapicIcrSendsOnLowWordWrite) {
  build(8, ApicMode::xapic);
  apic(1).mmio_write(APIC_ICR2, 5u << 24);
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 0u) << "ICR2 alone sends nothing";
  apic(1).mmio_write(APIC_ICR, APIC_DM_NMI | 7);
  EXPECT_EQ(apic(1).mmio_read(APIC_ICR) & APIC_ICR_BUSY, 0u) << "delivery status idle";
  queue.run_to_idle();
  EXPECT_EQ(sinks[5].nmis, (std::vector<NmiSeen>{{kIpiLatency, 7}}));
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{5}));
  // A second low-word write resends to the same ICR2 destination.
  apic(1).mmio_write(APIC_ICR, APIC_DM_NMI | 3);
  queue.run_to_idle();
  ASSERT_EQ(sinks[5].nmis.size(), 2u);
  EXPECT_EQ(sinks[5].nmis[1].vector, 3u);
}

TEST_F(InterconnectTest, ArrivalIsAQueueEventOfTheDestinationCpu) {
  build(4);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(2, 1).raw()), Fault::none);
  const auto info = queue.step();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->cpu, 2u);
  EXPECT_EQ(info->name, "ipi_arrive");
  EXPECT_EQ(info->cycle, kIpiLatency);
}

TEST_F(InterconnectTest, PerDestinationLatencyGrowsWithIndex) {
  timing.set(TimingParam::ipi_per_destination, 10);
  build(4);
  queue.run_until(7);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLBUT | APIC_DM_NMI | 4), Fault::none);
  queue.run_to_idle();
  EXPECT_TRUE(sinks[0].nmis.empty());
  EXPECT_EQ(sinks[1].nmis, (std::vector<NmiSeen>{{7 + kIpiLatency, 4}}));
  EXPECT_EQ(sinks[2].nmis, (std::vector<NmiSeen>{{7 + kIpiLatency + 10, 4}}));
  EXPECT_EQ(sinks[3].nmis, (std::vector<NmiSeen>{{7 + kIpiLatency + 20, 4}}));
}

// ---- Shorthands and destination modes ---------------------------------------------------

TEST_F(InterconnectTest, Shorthands) {
  build(6);
  ASSERT_EQ(apic(2).write_msr(X2APIC_ICR_MSR, APIC_DEST_SELF | APIC_DM_NMI | 1), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{2}));
  EXPECT_EQ(sinks[2].nmis[0].vector, 1u);

  build(6);
  ASSERT_EQ(apic(2).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLINC | APIC_DM_NMI | 3), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{0, 1, 2, 3, 4, 5}));

  build(6);
  // The destination field is ignored with a shorthand.
  ASSERT_EQ(
      apic(2).write_msr(X2APIC_ICR_MSR,
                        IcrValue::nmi(2, 4).with_shorthand(Shorthand::all_excluding_self).raw()),
      Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{0, 1, 3, 4, 5}));
  for (CpuId c : {0u, 1u, 3u, 4u, 5u})
    EXPECT_EQ(sinks[c].nmis[0].vector, 4u);
}

TEST_F(InterconnectTest, PhysicalBroadcastIds) {
  build(5, ApicMode::xapic);
  apic(1).mmio_write(APIC_ICR2, APIC_BROADCAST_ID << 24);
  apic(1).mmio_write(APIC_ICR, APIC_DM_NMI | 6);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{0, 1, 2, 3, 4})) << "sender included";

  build(5);
  ASSERT_EQ(apic(1).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(X2APIC_BROADCAST_ID, 6).raw()),
            Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{0, 1, 2, 3, 4}));

  // In x2APIC mode 0xFF is an ordinary APIC ID: here it names no CPU.
  build(5);
  ASSERT_EQ(apic(1).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(APIC_BROADCAST_ID, 6).raw()),
            Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 0u);
  EXPECT_EQ(bus->counters().dropped_no_destination, 1u);
}

TEST_F(InterconnectTest, NoSuchCpuIsDroppedAndCounted) {
  build(8);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(99, 4).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 0u);
  EXPECT_EQ(bus->counters().dropped_no_destination, 1u);
  EXPECT_EQ(bus->counters().messages_posted, 0u);
  EXPECT_EQ(apic(0).counters().ipis_sent, 1u) << "the write itself did send";
}

TEST_F(InterconnectTest, ExplicitApicIds) {
  build(4, ApicMode::x2apic, {10, 20, 30, 40});
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(30, 4).raw()), Fault::none);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(2, 4).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{2}));
  EXPECT_EQ(bus->counters().dropped_no_destination, 1u) << "APIC ID 2 is not CPU 2";
  EXPECT_EQ(bus->cpu_of_apic_id(40), 3u);
  EXPECT_EQ(bus->cpu_of_apic_id(41), kNoCpu);
}

TEST_F(InterconnectTest, X2apicLogicalClusterMode) {
  build(40);
  const auto logical = [](std::uint32_t cluster, std::uint32_t members) {
    return IcrValue::nmi((cluster << 16) | members, 4).with_dest_mode(DestMode::logical);
  };
  // Cluster 1, members 0 and 2: x2APIC IDs 16 and 18.
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, logical(1, 0b101).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{16, 18}));

  build(40);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, logical(0, 0x8001).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{0, 15}));

  // Cluster 2 has members 0..7 (IDs 32..39) only; members 8..15 name nobody.
  build(40);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, logical(2, 0xFF00).raw()), Fault::none);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, logical(2, 0x0180).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{39}));
  EXPECT_EQ(bus->counters().dropped_no_destination, 1u);
}

TEST_F(InterconnectTest, XapicLogicalFlatAndCluster) {
  build(6, ApicMode::xapic);
  // Flat model (the reset DFR): one bit per APIC.
  apic(1).mmio_write(APIC_LDR, 0x02u << 24);
  apic(2).mmio_write(APIC_LDR, 0x04u << 24);
  apic(3).mmio_write(APIC_LDR, 0x08u << 24);
  apic(0).mmio_write(APIC_ICR2, 0x06u << 24);
  apic(0).mmio_write(APIC_ICR, APIC_DEST_LOGICAL | APIC_DM_NMI | 1);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{1, 2}));

  // Cluster model: high nibble cluster, low nibble members.
  build(6, ApicMode::xapic);
  for (CpuId c : {3u, 4u, 5u})
    apic(c).mmio_write(APIC_DFR, APIC_DFR_CLUSTER);
  apic(3).mmio_write(APIC_LDR, 0x21u << 24);
  apic(4).mmio_write(APIC_LDR, 0x22u << 24);
  apic(5).mmio_write(APIC_LDR, 0x31u << 24);
  apic(0).mmio_write(APIC_ICR2, 0x23u << 24);
  apic(0).mmio_write(APIC_ICR, APIC_DEST_LOGICAL | APIC_DM_NMI | 1);
  apic(0).mmio_write(APIC_ICR2, 0x13u << 24);  // cluster 1 is empty
  apic(0).mmio_write(APIC_ICR, APIC_DEST_LOGICAL | APIC_DM_NMI | 1);
  queue.run_to_idle();
  EXPECT_EQ(nmi_receivers(sinks), (std::vector<CpuId>{3, 4}));
  EXPECT_EQ(bus->counters().dropped_no_destination, 1u);
}

// ---- Delivery modes ----------------------------------------------------------------------

TEST_F(InterconnectTest, NonNmiModesAreAcceptedAndCountedOnly) {
  build(2);
  auto send = [&](std::uint64_t icr) {
    ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, icr | (std::uint64_t{1} << 32)), Fault::none);
  };
  send(APIC_DM_FIXED | 0x40);
  send(APIC_DM_SMI);
  send(APIC_DM_INIT | APIC_INT_ASSERT);
  send(APIC_DM_STARTUP | 0x9A);
  send(APIC_DM_EXTINT);        // not an IPI mode: rejected
  send(APIC_DM_REMRD | 0x40);  // obsolete: rejected
  queue.run_to_idle();
  const auto& c = apic(1).counters();
  EXPECT_TRUE(sinks[1].nmis.empty());
  EXPECT_EQ(c.received[index_of(DeliveryMode::fixed)], 1u);
  EXPECT_EQ(c.received[index_of(DeliveryMode::smi)], 1u);
  EXPECT_EQ(c.received[index_of(DeliveryMode::init)], 1u);
  EXPECT_EQ(c.received[index_of(DeliveryMode::startup)], 1u);
  EXPECT_EQ(c.received[index_of(DeliveryMode::nmi)], 0u);
  EXPECT_EQ(apic(0).counters().ipis_rejected, 2u);
  ASSERT_EQ(sinks[1].messages.size(), 4u);
  EXPECT_EQ(sinks[1].messages[3].mode, DeliveryMode::startup);
  EXPECT_EQ(sinks[1].messages[3].vector, 0x9A);
}

TEST_F(InterconnectTest, SoftwareDisabledReceiverTakesNmiButDropsFixed) {
  build(2, ApicMode::x2apic, {}, /*software_enabled=*/false);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(1, 5).raw()), Fault::none);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, (std::uint64_t{1} << 32) | 0x40), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(sinks[1].nmis, (std::vector<NmiSeen>{{kIpiLatency, 5}}));
  EXPECT_TRUE(sinks[1].messages.empty());
  EXPECT_EQ(apic(1).counters().received_dropped, 1u);
}

TEST_F(InterconnectTest, HardwareDisabledReceiverDropsEverything) {
  build(2);
  ASSERT_EQ(apic(1).write_apic_base(0), Fault::none);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(1, 5).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_TRUE(sinks[1].nmis.empty());
  EXPECT_EQ(apic(1).counters().received_dropped, 1u);
}

TEST_F(InterconnectTest, LowestPriorityGoesToOneDestination) {
  build(4);
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLBUT | APIC_DM_LOWEST | 0x40),
            Fault::none);
  queue.run_to_idle();
  std::size_t got = 0;
  for (const auto& s : sinks)
    got += s.messages.size();
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(sinks[1].messages.size(), 1u);
}

// ---- Scale ----------------------------------------------------------------------------

TEST_F(InterconnectTest, Broadcast4096Cpus) {
  build(4096);
  ASSERT_EQ(apic(5).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLBUT | APIC_DM_NMI | 3), Fault::none);
  queue.run_to_idle();
  std::size_t receivers = 0;
  for (CpuId c = 0; c < 4096; ++c) {
    if (c == 5) {
      EXPECT_TRUE(sinks[c].nmis.empty());
      continue;
    }
    ASSERT_EQ(sinks[c].nmis, (std::vector<NmiSeen>{{kIpiLatency, 3}})) << "cpu " << c;
    ++receivers;
  }
  EXPECT_EQ(receivers, 4095u);

  ASSERT_EQ(apic(4095).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLINC | APIC_DM_NMI | 7), Fault::none);
  const std::size_t capacity = queue.capacity();
  queue.run_to_idle();
  EXPECT_EQ(total_nmis(), 4095u + 4096u);
  // Physical unicast to the last x2APIC ID of the system.
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(4095, 9).raw()), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(sinks[4095].nmis.back().vector, 9u);
  EXPECT_EQ(queue.capacity(), capacity) << "the queue did not grow for a repeated broadcast";
}

// ---- Trace -----------------------------------------------------------------------------

class CapturingSink final : public TraceSink {
 public:
  struct Rec {
    Cycle cycle;
    CpuId cpu;
    std::string event;
    std::uint64_t icr;
    TraceValue::Kind icr_kind;
    std::vector<CpuId> dest;
  };
  void record(const TraceRecord& r) override {
    Rec rec{r.cycle, r.cpu, std::string(r.event), 0, TraceValue::Kind::u64, {}};
    if (const auto* f = r.find("icr")) {
      rec.icr = f->value.u;
      rec.icr_kind = f->value.kind;
    }
    if (const auto* f = r.find("dest")) rec.dest.assign(f->value.cpus.begin(), f->value.cpus.end());
    recs.push_back(std::move(rec));
  }
  std::vector<Rec> recs;
};

TEST_F(InterconnectTest, IpiSendTraceRecord) {
  CapturingSink cap;
  MemoryTraceSink text;
  tracer.add_sink(cap);
  tracer.add_sink(text);
  build(4);
  queue.run_until(250);
  ASSERT_EQ(apic(1).write_msr(X2APIC_ICR_MSR, APIC_DEST_ALLBUT | APIC_DM_NMI | 4), Fault::none);
  ASSERT_EQ(apic(2).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(77, 1).raw()), Fault::none);
  ASSERT_EQ(cap.recs.size(), 2u);
  EXPECT_EQ(cap.recs[0].cycle, 250u);
  EXPECT_EQ(cap.recs[0].cpu, 1u);
  EXPECT_EQ(cap.recs[0].event, "ipi_send");
  EXPECT_EQ(cap.recs[0].icr_kind, TraceValue::Kind::hex);
  EXPECT_EQ(cap.recs[0].icr, 0xC0404u);
  EXPECT_EQ(cap.recs[0].dest, (std::vector<CpuId>{0, 2, 3}));
  EXPECT_TRUE(cap.recs[1].dest.empty()) << "a send to nobody is still traced";
  EXPECT_EQ(text.lines()[0], "cycle=250 cpu=1 ipi_send icr=0xc0404 dest=[0,2,3]");
  EXPECT_EQ(format_trace_json(TraceRecord{250, 2, "x", {}}),
            "{\"cycle\":250,\"cpu\":2,\"event\":\"x\"}");
  // Arrivals and rejected writes do not trace ipi_send.
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, (std::uint64_t{3} << 32) | 5), Fault::none);
  queue.run_to_idle();
  EXPECT_EQ(cap.recs.size(), 2u);
}

TEST_F(InterconnectTest, XapicTraceUsesThe64BitForm) {
  MemoryTraceSink text;
  tracer.add_sink(text);
  build(4, ApicMode::xapic);
  apic(0).mmio_write(APIC_ICR2, 3u << 24);
  apic(0).mmio_write(APIC_ICR, APIC_DM_NMI | 4);
  ASSERT_EQ(text.lines().size(), 1u);
  EXPECT_EQ(text.lines()[0], "cycle=0 cpu=0 ipi_send icr=0x300000404 dest=[3]");
}

TEST_F(InterconnectTest, NoTraceWithoutSink) {
  build(2);
  EXPECT_FALSE(tracer.enabled());
  ASSERT_EQ(apic(0).write_msr(X2APIC_ICR_MSR, IcrValue::nmi(1, 4).raw()), Fault::none);
  EXPECT_EQ(bus->last_destinations().size(), 1u);
}

}  // namespace
}  // namespace fredsim::apic
