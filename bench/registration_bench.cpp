// Handler registration: N handlers, half of them FIRST, with names the kernel
// looks up on each registration. Registration is O(1) amortised per handler
// (a name index; FIRST handlers appended and ordered when the list is read), so
// the whole is O(N); the Complexity fit shows it.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "fredsim/system/system.hpp"

namespace {

using namespace fredsim;
using namespace fredsim::kernel;

std::unique_ptr<system::System> make() {
  system::SystemConfig c;
  c.machine.cpus = 2;
  auto s = system::System::create(c);
  return s.ok() ? std::move(*s) : nullptr;
}

void register_n(benchmark::State& state) {
  const auto n = static_cast<int>(state.range(0));
  std::vector<std::string> names;
  names.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    names.push_back("dev" + std::to_string(i));
  for (auto _ : state) {
    state.PauseTiming();
    auto sys = make();
    state.ResumeTiming();
    Kernel& k = sys->kernel();
    for (int i = 0; i < n; ++i) {
      auto r =
          k.register_model(NmiType::local, HandlerModel::device, i % 2 ? NMI_FLAG_FIRST : 0u,
                           names[static_cast<std::size_t>(i)], 1 + static_cast<unsigned>(i) % 7);
      benchmark::DoNotOptimize(r);
    }
    // Reading the list once builds the call order: part of the cost.
    benchmark::DoNotOptimize(k.registry().handler_list(NmiType::local).size());
    benchmark::DoNotOptimize(k.registry().find_handler(names.back()));
    state.PauseTiming();
    sys.reset();
    state.ResumeTiming();
  }
  state.SetComplexityN(n);
}
BENCHMARK(register_n)
    ->RangeMultiplier(4)
    ->Range(1 << 10, 1 << 18)
    ->Complexity(benchmark::oN)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
