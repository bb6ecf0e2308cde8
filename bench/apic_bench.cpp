// Host cost of the APIC layer: ns per IPI for a unicast NMI (ICR write + the
// arrival event), ns per destination for broadcasts of 8..4096 CPUs, and heap
// allocations per message once the event queue has reached its working size
// (must be 0).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "alloc_counter.hpp"
#include "fredsim/apic.hpp"
#include "fredsim/sim/context.hpp"

namespace {

using namespace fredsim;
using namespace fredsim::apic;

struct CountingSink final : NmiSink {
  std::uint64_t nmis = 0;
  std::uint64_t vector_sum = 0;
  void assert_nmi(std::uint32_t v) override {
    ++nmis;
    vector_sum += v;
  }
};

struct NullTraceSink final : TraceSink {
  std::uint64_t records = 0;
  void record(const TraceRecord&) override { ++records; }
};

struct Bench {
  EventQueue queue;
  TimingProfile timing;
  Tracer tracer;
  SimContext ctx{queue, timing, tracer};
  std::unique_ptr<Interconnect> bus;
  std::vector<CountingSink> sinks;

  explicit Bench(std::uint32_t cpus, ApicMode mode = ApicMode::x2apic) : sinks(cpus) {
    InterconnectConfig cfg;
    cfg.cpus = cpus;
    cfg.mode = mode;
    bus = std::move(Interconnect::create(ctx, cfg)).value();
    for (std::uint32_t i = 0; i < cpus; ++i)
      bus->bind_nmi_sink(i, sinks[i]);
  }
  std::uint64_t nmis() const {
    std::uint64_t n = 0;
    for (const auto& s : sinks)
      n += s.nmis;
    return n;
  }
};

void report(benchmark::State& state, const Bench& b, std::uint64_t messages, std::uint64_t allocs) {
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
  state.counters["ns_per_msg"] = benchmark::Counter(
      static_cast<double>(messages), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_msg"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(messages));
  state.counters["sim_cycles"] = benchmark::Counter(static_cast<double>(b.queue.now()));
}

// One NMI IPI, x2APIC: WRMSR 0x830, then the arrival event runs.
void BM_UnicastNmiX2apic(benchmark::State& state) {
  Bench b(2);
  const std::uint64_t icr = IcrValue::nmi(1, 4).raw();
  (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);  // warm-up: queue storage
  b.queue.run_to_idle();
  const std::uint64_t before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);
    b.queue.step();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - before;
  if (b.nmis() != static_cast<std::uint64_t>(state.iterations()) + 1) {
    state.SkipWithError("lost an NMI");
  }
  report(state, b, static_cast<std::uint64_t>(state.iterations()), allocs);
}
BENCHMARK(BM_UnicastNmiX2apic);

// The same through the xAPIC MMIO view (ICR2 once, then low-word writes).
void BM_UnicastNmiXapic(benchmark::State& state) {
  Bench b(2, ApicMode::xapic);
  const IcrValue icr = IcrValue::nmi(1, 4);
  b.bus->apic(0).mmio_write(APIC_ICR2, icr.xapic_high());
  b.bus->apic(0).mmio_write(APIC_ICR, icr.low());
  b.queue.run_to_idle();
  const std::uint64_t before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    b.bus->apic(0).mmio_write(APIC_ICR, icr.low());
    b.queue.step();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - before;
  report(state, b, static_cast<std::uint64_t>(state.iterations()), allocs);
}
BENCHMARK(BM_UnicastNmiXapic);

// All-but-self NMI broadcast from CPU 0 to N-1 CPUs, run to the last arrival.
void broadcast(benchmark::State& state, bool traced) {
  const auto cpus = static_cast<std::uint32_t>(state.range(0));
  Bench b(cpus);
  NullTraceSink null_sink;
  if (traced) b.tracer.add_sink(null_sink);
  const std::uint64_t icr = IcrValue::nmi(0, 4).with_shorthand(Shorthand::all_excluding_self).raw();
  (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);  // warm-up: queue storage
  b.queue.run_to_idle();
  const std::uint64_t before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);
    b.queue.run_to_idle();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - before;
  const std::uint64_t messages = static_cast<std::uint64_t>(state.iterations()) * (cpus - 1);
  if (b.nmis() != messages + (cpus - 1)) state.SkipWithError("lost an NMI");
  report(state, b, messages, allocs);
}
void BM_BroadcastNmi(benchmark::State& state) {
  broadcast(state, false);
}
void BM_BroadcastNmiTraced(benchmark::State& state) {
  broadcast(state, true);
}
BENCHMARK(BM_BroadcastNmi)->RangeMultiplier(8)->Range(8, 4096);
BENCHMARK(BM_BroadcastNmiTraced)->Arg(8)->Arg(4096);

// x2APIC logical cluster send to 16 members: the cluster lookup path.
void BM_LogicalClusterNmi(benchmark::State& state) {
  Bench b(4096);
  const std::uint64_t icr =
      IcrValue::nmi((7u << 16) | 0xFFFF, 4).with_dest_mode(DestMode::logical).raw();
  (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);
  b.queue.run_to_idle();
  const std::uint64_t before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    (void)b.bus->apic(0).write_msr(X2APIC_ICR_MSR, icr);
    b.queue.run_to_idle();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - before;
  report(state, b, static_cast<std::uint64_t>(state.iterations()) * 16, allocs);
}
BENCHMARK(BM_LogicalClusterNmi);

// A PMI through LVTPC in NMI mode, with the perf handler's unmasking rewrite.
void BM_LvtpcPmi(benchmark::State& state) {
  Bench b(1);
  auto& a = b.bus->apic(0);
  (void)a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7);
  a.assert_lvt(Lvt::perfmon);
  b.queue.run_to_idle();
  const std::uint64_t before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    (void)a.write_msr(X2APIC_LVTPC_MSR, APIC_DM_NMI | 7);
    a.assert_lvt(Lvt::perfmon);
    b.queue.step();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - before;
  report(state, b, static_cast<std::uint64_t>(state.iterations()), allocs);
}
BENCHMARK(BM_LvtpcPmi);

}  // namespace

BENCHMARK_MAIN();
