// Host speed of the whole NMI path, and simulated dispatch cost, with bitmap
// dispatch (FRED + NMI-source) against polling (issues: kernel model, benchmarks).
//
// Each NMI: an ICR write on CPU 0 -> interconnect -> latch on CPU 1 -> FRED
// delivery -> default_do_nmi -> handlers -> ERETS.
#include <benchmark/benchmark.h>

#include <string>

#include "alloc_counter.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/system/system.hpp"

namespace {

using namespace fredsim;
using namespace fredsim::kernel;

std::unique_ptr<system::System> make(std::uint32_t cpus, bool source, bool fred = true) {
  system::SystemConfig c;
  c.machine.cpus = cpus;
  c.machine.features.fred = fred;
  c.machine.features.nmi_source = fred && source;
  c.machine.apic = apic::ApicMode::x2apic;
  auto s = system::System::create(c);
  return s.ok() ? std::move(*s) : nullptr;
}

// `handlers` device handlers with vectors 1..15 (skipping 2) cycling; the NMI
// targets the first one.
std::vector<HandlerId> register_devices(Kernel& k, int handlers) {
  std::vector<HandlerId> ids;
  unsigned v = 1;
  for (int i = 0; i < handlers; ++i) {
    ids.push_back(*k.register_model(NmiType::local, HandlerModel::device, 0,
                                    std::string("dev").append(std::to_string(i)), v));
    v = v == 15 ? 1 : v + 1;
    if (v == 2) v = 3;
  }
  return ids;
}

void end_to_end(benchmark::State& state, bool source, bool fred) {
  const int handlers = static_cast<int>(state.range(0));
  auto sys = make(2, source, fred);
  Kernel& k = sys->kernel();
  auto ids = register_devices(k, handlers);
  const CpuId dest[] = {1};
  const unsigned vector = k.registry().handler(ids[0]).vector;
  // Warm up: the first NMIs size the queues.
  for (int i = 0; i < 64; ++i) {
    k.registry().add_work(ids[0], 1);
    k.send_nmi_ipi(0, dest, vector);
    sys->run_to_idle();
  }
  const Cycle start_cycle = sys->now();
  const std::uint64_t start_calls = k.registry().handler(ids[0]).total.calls;
  std::uint64_t calls_before = 0;
  for (HandlerId h : ids)
    calls_before += k.registry().handler(h).total.calls;
  const std::uint64_t allocs_before = fredsim::bench::allocation_count();
  for (auto _ : state) {
    k.registry().add_work(ids[0], 1);
    k.send_nmi_ipi(0, dest, vector);
    sys->run_to_idle();
  }
  const double n = static_cast<double>(state.iterations());
  const std::uint64_t allocs = fredsim::bench::allocation_count() - allocs_before;
  std::uint64_t calls_after = 0;
  for (HandlerId h : ids)
    calls_after += k.registry().handler(h).total.calls;
  const auto& cpu1 = sys->machine().cpu(1).stats();
  state.SetItemsProcessed(state.iterations());
  state.counters["nmis_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsRate);
  state.counters["sim_cycles_per_s"] = benchmark::Counter(
      static_cast<double>(sys->now() - start_cycle), benchmark::Counter::kIsRate);
  state.counters["dispatch_cycles_per_nmi"] =
      static_cast<double>(cpu1.dispatch_cycles) / static_cast<double>(cpu1.nmi_delivered);
  state.counters["handler_calls_per_nmi"] = static_cast<double>(calls_after - calls_before) / n;
  state.counters["allocs_per_nmi"] = static_cast<double>(allocs) / n;
  benchmark::DoNotOptimize(start_calls);
}

void BM_EndToEnd_Bitmap(benchmark::State& s) {
  end_to_end(s, true, true);
}
void BM_EndToEnd_PollingFred(benchmark::State& s) {
  end_to_end(s, false, true);
}
void BM_EndToEnd_PollingIdt(benchmark::State& s) {
  end_to_end(s, false, false);
}
// The physical floor of dispatch: the same NMI with only the handler that has
// work registered, so nothing but that handler is called or walked past. Bitmap
// dispatch with N handlers should stay within 2x of it (docs/benchmarks.md).
void BM_DispatchFloor(benchmark::State& s) {
  end_to_end(s, true, true);
}
BENCHMARK(BM_DispatchFloor)->Arg(1);
BENCHMARK(BM_EndToEnd_Bitmap)->Arg(1)->Arg(4)->Arg(8)->Arg(16)->Arg(64);
BENCHMARK(BM_EndToEnd_PollingFred)->Arg(1)->Arg(4)->Arg(8)->Arg(16)->Arg(64);
BENCHMARK(BM_EndToEnd_PollingIdt)->Arg(8);

// Stop-other-CPUs style broadcast: one ICR write, an NMI on every other CPU.
void BM_BroadcastNmi(benchmark::State& state) {
  const auto cpus = static_cast<std::uint32_t>(state.range(0));
  auto sys = make(cpus, true);
  Kernel& k = sys->kernel();
  // A device handler: the backtrace model prints, and printing allocates.
  HandlerId bt =
      *k.register_model(NmiType::local, HandlerModel::device, 0, "stop", nmis::VECTOR_SMP_STOP);
  auto send = [&] {
    for (CpuId c = 1; c < cpus; ++c)
      k.registry().add_work(bt, c);
    k.send_nmi_ipi_shorthand(0, apic::Shorthand::all_excluding_self, nmis::VECTOR_SMP_STOP);
    sys->run_to_idle();
  };
  send();
  const std::uint64_t allocs_before = fredsim::bench::allocation_count();
  const Cycle start_cycle = sys->now();
  for (auto _ : state)
    send();
  const double dests = static_cast<double>(state.iterations()) * (cpus - 1);
  state.SetItemsProcessed(static_cast<std::int64_t>(dests));
  state.counters["sim_cycles_per_s"] = benchmark::Counter(
      static_cast<double>(sys->now() - start_cycle), benchmark::Counter::kIsRate);
  // The machine's cycles times its CPUs: how much CPU time one host second models.
  state.counters["sim_cpu_cycles_per_s"] = benchmark::Counter(
      static_cast<double>(sys->now() - start_cycle) * cpus, benchmark::Counter::kIsRate);
  state.counters["ns_per_destination"] =
      benchmark::Counter(dests, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs_per_destination"] =
      static_cast<double>(fredsim::bench::allocation_count() - allocs_before) / dests;
}
BENCHMARK(BM_BroadcastNmi)->RangeMultiplier(8)->Range(8, 4096)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
