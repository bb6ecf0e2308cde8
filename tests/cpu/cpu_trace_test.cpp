// Trace records of the CPU (docs/format.md "Trace records"): nmi_receive,
// nmi_deliver with the pushed frame, nmi_return, fault.
#include <gtest/gtest.h>

#include "cpu_harness.hpp"

namespace fredsim::cpu {
namespace {

using namespace test;

TEST(CpuTrace, NmiDeliverCarriesTheFrame) {
  Harness h;
  h.program_linux_fred();
  h.run_to(700);
  const std::uint64_t rip = h.cpu->rip();
  h.cpu->raise_nmi(3);
  h.run_idle();
  const auto del = h.sink.of("nmi_deliver");
  ASSERT_EQ(del.size(), 1u);
  const auto& r = del[0];
  EXPECT_EQ(r.cycle, 700u);
  EXPECT_EQ(r.cpu, 0u);
  EXPECT_EQ(r.at("path"), "fred");
  EXPECT_EQ(r.at("event_data"), "0x8");
  EXPECT_EQ(r.at("frame"), "object");
  EXPECT_EQ(r.at("frame.error_code"), "0x0");
  EXPECT_EQ(r.at("frame.rip"), hex(rip));
  EXPECT_EQ(r.at("frame.cs"), "0x10");
  EXPECT_EQ(r.at("frame.rflags"), "0x202");
  EXPECT_EQ(r.at("frame.rsp"), hex(kIdleRsp));
  EXPECT_EQ(r.at("frame.ss"), "0x202000200040018");
  EXPECT_EQ(r.at("frame.event_data"), "0x8");
  EXPECT_EQ(r.at("frame.reserved"), "0x0");
  EXPECT_EQ(r.at("new_rsp"), hex(kRsp2 - 64));
  EXPECT_EQ(r.at("csl"), "2");
}

TEST(CpuTrace, NmiReceiveFields) {
  Harness h;
  h.program_linux_fred();
  h.cpu->raise_nmi(9);
  h.cpu->raise_nmi(300);
  h.cpu->raise_nmi(4);
  const auto rec = h.sink.of("nmi_receive");
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0].at("vector"), "9");
  EXPECT_EQ(rec[0].at("pending_bitmap"), "0x200");  // recorded after the OR
  EXPECT_EQ(rec[0].at("coalesced"), "false");
  EXPECT_EQ(rec[1].at("vector"), "300");
  EXPECT_EQ(rec[1].at("pending_bitmap"), "0x1");
  EXPECT_EQ(rec[1].at("coalesced"), "false");
  EXPECT_EQ(rec[2].at("pending_bitmap"), "0x11");
  EXPECT_EQ(rec[2].at("coalesced"), "true");
}

TEST(CpuTrace, NmiReturnViaErets) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  h.cpu->raise_nmi(1);
  h.run_idle();
  const auto ret = h.sink.of("nmi_return");
  ASSERT_EQ(ret.size(), 1u);
  EXPECT_EQ(ret[0].cycle, kFredCost + kEretsCost);
  EXPECT_EQ(ret[0].at("via"), "erets");
  EXPECT_EQ(ret[0].at("nmi_unblocked"), "true");
}

TEST(CpuTrace, OrderOfRecordsForOneNmi) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  h.cpu->raise_nmi(1);
  h.run_idle();
  std::vector<std::string> events;
  for (const auto& r : h.sink.recs)
    events.push_back(r.event);
  EXPECT_EQ(events, (std::vector<std::string>{"nmi_receive", "nmi_deliver", "nmi_return"}));
}

TEST(CpuTrace, NonNmiEventsAreNotNmiRecords) {
  Harness h;
  h.program_linux_fred();
  h.os.auto_return = true;
  ASSERT_EQ(h.cpu->deliver_event({EventType::hardware_exception, 14, 0, 0x5000, 0, false}),
            Fault::none);
  h.run_idle();
  EXPECT_TRUE(h.sink.of("nmi_deliver").empty());
  EXPECT_TRUE(h.sink.of("nmi_return").empty());
  EXPECT_TRUE(h.sink.of("nmi_receive").empty());
}

TEST(CpuTrace, FaultRecord) {
  Harness h;
  h.run_to(42);
  EXPECT_EQ(h.cpu->wrmsr(0x1CC, 0x8), Fault::gp);
  const auto f = h.sink.of("fault");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].cycle, 42u);
  EXPECT_EQ(f[0].at("fault"), "#GP");
  EXPECT_TRUE(f[0].has("what"));
}

TEST(CpuTrace, NoSinkNoRecordsAndSameBehaviour) {
  Harness h;
  h.tracer.clear();
  h.program_linux_fred();
  h.os.auto_return = true;
  h.cpu->raise_nmi(5);
  h.run_idle();
  EXPECT_TRUE(h.sink.recs.empty());
  ASSERT_EQ(h.os.seen.size(), 1u);
  EXPECT_EQ(h.os.seen[0].d.frame.event_data, 0x20u);
}

}  // namespace
}  // namespace fredsim::cpu
