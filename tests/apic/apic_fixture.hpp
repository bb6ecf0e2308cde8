#pragma once
// Shared testbench for the apic tests: a System's clock, timing and tracer, an
// Interconnect, and a recording NmiSink per CPU (source -> device -> sink).
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "fredsim/apic.hpp"
#include "fredsim/sim/context.hpp"

namespace fredsim::apic::testing {

struct NmiSeen {
  Cycle cycle;
  std::uint32_t vector;
  friend bool operator==(const NmiSeen&, const NmiSeen&) = default;
};

struct MessageSeen {
  Cycle cycle;
  DeliveryMode mode;
  std::uint8_t vector;
  friend bool operator==(const MessageSeen&, const MessageSeen&) = default;
};

class RecordingSink final : public NmiSink {
 public:
  explicit RecordingSink(const EventQueue& q) : q_(q) {}
  void assert_nmi(std::uint32_t source_vector) override {
    nmis.push_back({q_.now(), source_vector});
  }
  void accept_message(DeliveryMode mode, std::uint8_t vector) override {
    messages.push_back({q_.now(), mode, vector});
  }
  std::vector<NmiSeen> nmis;
  std::vector<MessageSeen> messages;

 private:
  const EventQueue& q_;
};

class ApicTest : public ::testing::Test {
 protected:
  // Distinct, non-default figures so that a test notices a wrong parameter.
  static constexpr Cycle kIpiLatency = 1000;
  static constexpr Cycle kPerDest = 0;
  static constexpr Cycle kLvtDelivery = 40;

  ApicTest() {
    timing.set(TimingParam::ipi_latency, kIpiLatency);
    timing.set(TimingParam::ipi_per_destination, kPerDest);
    timing.set(TimingParam::lvt_delivery, kLvtDelivery);
  }

  void build(std::uint32_t cpus, ApicMode mode = ApicMode::x2apic,
             std::vector<std::uint32_t> ids = {}, bool software_enabled = true) {
    InterconnectConfig cfg;
    cfg.cpus = cpus;
    cfg.mode = mode;
    cfg.apic_ids = std::move(ids);
    cfg.software_enabled = software_enabled;
    auto r = Interconnect::create(ctx, cfg);
    ASSERT_TRUE(r.ok()) << r.error().message;
    bus = std::move(r).value();
    sinks.clear();
    for (std::uint32_t i = 0; i < cpus; ++i) {
      sinks.emplace_back(queue);
      bus->bind_nmi_sink(i, sinks.back());
    }
  }

  LocalApic& apic(CpuId cpu) { return bus->apic(cpu); }

  /// Total NMIs seen by all sinks.
  std::size_t total_nmis() const {
    std::size_t n = 0;
    for (const auto& s : sinks)
      n += s.nmis.size();
    return n;
  }

  EventQueue queue;
  TimingProfile timing;
  Tracer tracer;
  SimContext ctx{queue, timing, tracer};
  std::unique_ptr<Interconnect> bus;
  std::deque<RecordingSink> sinks;  // stable addresses: bound to the APICs
};

}  // namespace fredsim::apic::testing
