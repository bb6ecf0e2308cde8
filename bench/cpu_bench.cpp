// Host cost of one NMI round trip through the CPU model: raise_nmi -> delivery ->
// the OS entry returns at once (ERETS / IRET) -> return completes. Reports
// simulated cycles and heap allocations per NMI beside host time.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "alloc_counter.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/event_queue.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/sim/trace.hpp"

namespace {

using fredsim::cpu::Cpu;
using fredsim::cpu::CpuFeatures;
using fredsim::cpu::Delivery;
using fredsim::cpu::DeliveryPath;
using fredsim::cpu::Fault;

// Returns from every delivery straight away, as a handler-less OS would.
class ReturningOs final : public fredsim::cpu::OsEntry {
 public:
  std::uint64_t deliveries = 0;
  std::uint64_t event_data = 0;
  void on_delivery(Cpu& cpu, const Delivery& d) override {
    ++deliveries;
    event_data += d.event.event_data;
    const Fault f = d.path == DeliveryPath::idt ? cpu.iret() : cpu.erets();
    benchmark::DoNotOptimize(f);
  }
};

void program_linux_fred(Cpu& c) {
  // docs/hardware.md §1 "Linux's settings".
  (void)c.wrmsr(0x1CC, 0xFFFFC90000010000ull);
  (void)c.wrmsr(0x1CD, 0xFFFFFE0000011000ull);
  (void)c.wrmsr(0x1CE, 0xFFFFFE0000021000ull);
  (void)c.wrmsr(0x1CF, 0xFFFFFE0000031000ull);
  (void)c.wrmsr(0x1D0, 0x0000002000030024ull);
  (void)c.wrmsr(0x1D4, 0xFFFFFFFF81A00040ull);
  (void)c.wrmsr(0xC0000081, 0x0023001000000000ull);
  (void)c.write_cr4(c.cr4() | fredsim::cpu::arch::kCr4Fred);
}

void run_round_trips(benchmark::State& state, bool fred, bool traced) {
  fredsim::EventQueue queue;
  fredsim::TimingProfile timing;
  fredsim::Tracer tracer;
  class NullSink final : public fredsim::TraceSink {
   public:
    std::uint64_t n = 0;
    void record(const fredsim::TraceRecord&) override { ++n; }
  } sink;
  if (traced) tracer.add_sink(sink);
  Cpu::Config cfg;
  cfg.features = fred ? CpuFeatures{} : CpuFeatures::legacy();
  Cpu cpu(cfg, fredsim::SimContext{queue, timing, tracer});
  ReturningOs os;
  cpu.set_os_entry(&os);
  if (fred) program_linux_fred(cpu);
  // Warm up: the queue reaches its working size.
  cpu.raise_nmi(1);
  queue.run_to_idle();

  std::uint32_t vector = 0;
  const std::uint64_t cycles_before = queue.now();
  const std::uint64_t allocs_before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    cpu.raise_nmi(vector);
    vector = (vector + 1) & 15;
    queue.run_to_idle();
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - allocs_before;
  const auto n = static_cast<double>(state.iterations());
  benchmark::DoNotOptimize(os.event_data);
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_nmi"] = benchmark::Counter(static_cast<double>(allocs) / n);
  state.counters["sim_cycles_per_nmi"] =
      benchmark::Counter(static_cast<double>(queue.now() - cycles_before) / n);
  if (os.deliveries != static_cast<std::uint64_t>(state.iterations()) + 1 ||
      cpu.stats().faults != 0) {
    state.SkipWithError("NMI round trip did not complete");
  }
}

void BM_FredNmiEretsRoundTrip(benchmark::State& state) {
  run_round_trips(state, true, false);
}
BENCHMARK(BM_FredNmiEretsRoundTrip);

void BM_FredNmiEretsRoundTripTraced(benchmark::State& state) {
  run_round_trips(state, true, true);
}
BENCHMARK(BM_FredNmiEretsRoundTripTraced);

void BM_IdtNmiIretRoundTrip(benchmark::State& state) {
  run_round_trips(state, false, false);
}
BENCHMARK(BM_IdtNmiIretRoundTrip);

}  // namespace

BENCHMARK_MAIN();
