// Schedule+pop cost per event of the event queue, and heap allocations per event
// once the queue has reached its working size (issue: foundation).
#include <benchmark/benchmark.h>

#include "alloc_counter.hpp"
#include "fredsim/sim/event_queue.hpp"

namespace {

struct Sink final : fredsim::EventTarget {
  std::uint64_t sum = 0;
  void on_event(std::uint32_t kind, std::uint64_t arg) override { sum += kind + arg; }
  std::string_view event_name(std::uint32_t) const override { return "sink"; }
};

// A steady population of `depth` pending events: each pop schedules one more,
// at a pseudo-random distance, as a simulation in steady state does.
void BM_ScheduleAndPop(benchmark::State& state) {
  const auto depth = static_cast<std::uint64_t>(state.range(0));
  fredsim::EventQueue q;
  Sink sink;
  std::uint64_t x = 88172645463325252ull;
  auto next_delay = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % 1000;
  };
  for (std::uint64_t i = 0; i < depth; ++i)
    q.schedule_in(next_delay(), sink, 1, i);
  const std::uint64_t allocs_before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    q.run_one();
    q.schedule_in(next_delay(), sink, 1, 0);
  }
  const std::uint64_t allocs = fredsim::bench::allocation_count() - allocs_before;
  benchmark::DoNotOptimize(sink.sum);
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_event"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(state.iterations()));
  state.counters["sim_cycles"] = benchmark::Counter(static_cast<double>(q.now()));
}
BENCHMARK(BM_ScheduleAndPop)->Arg(16)->Arg(1024)->Arg(65536);

void BM_ScheduleCancel(benchmark::State& state) {
  fredsim::EventQueue q;
  Sink sink;
  for (auto _ : state) {
    auto id = q.schedule_in(10, sink, 1, 0);
    benchmark::DoNotOptimize(q.cancel(id));
    q.step();  // drops the stale entry
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ScheduleCancel);

}  // namespace

BENCHMARK_MAIN();
