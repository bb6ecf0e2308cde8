// A 1,000,000-NMI mixed run on 8 CPUs, without a trace sink and with each kind
// of sink, to give the cost of tracing (issue "Benchmarks" 2).
//
// The run is a scenario (through the scenario loader and SystemRunner, as
// `fredsim run` does): perf PMIs on every CPU, backtrace IPIs from CPU 0, NMIs
// without a source for GHES, and platform NMIs with SERR on CPU 0, with seven
// LOCAL handlers and an SERR handler registered.
#include <benchmark/benchmark.h>

#include <fmt/format.h>
#include <chrono>
#include <csignal>

#include <ostream>
#include <streambuf>
#include <string>

#include "alloc_counter.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
#include "fredsim/sim/trace.hpp"

namespace {

using namespace fredsim;
using namespace fredsim::scenario;

constexpr std::uint64_t kNmis = 1'000'000;
constexpr std::uint32_t kCpus = 8;

// Periodic events whose counts add up to kNmis exactly; every NMI lands on an
// idle CPU (the kinds are thousands of cycles apart), so none coalesce.
std::string mixed_scenario() {
  constexpr std::uint64_t kPeriod = 100'000;
  // 80% PMIs (8 CPUs), 14% backtrace NMIs (7 destinations), 4% unsourced (for
  // GHES), 2% external: per 100 NMIs, 80 + 14 + 4 + 2.
  constexpr std::uint64_t kGroups = kNmis / 100;
  std::string s = R"(name = "mixed-1m"
[system]
cpus = 8
[[handler]]
name = "perf"
vector = 7
model = "pmi"
[[handler]]
name = "ghes"
model = "ghes"
[[handler]]
name = "arch_bt"
vector = 4
model = "backtrace"
[[handler]]
name = "nic"
vector = 8
[[handler]]
name = "mce"
vector = 6
model = "mce"
[[handler]]
name = "kgdb"
vector = 5
model = "kgdb"
[[handler]]
name = "smp_stop"
vector = 3
model = "stop"
first = true
[[handler]]
name = "ecc"
type = "serr"
)";
  // Each group spans 10 periods: 10 PMIs per CPU, 2 backtraces, 4 plain NMIs, 2
  // external NMIs.
  const std::uint64_t every = 10 * kPeriod;
  for (std::uint32_t cpu = 0; cpu < kCpus; ++cpu) {
    for (std::uint64_t k = 0; k < 10; ++k) {
      s += fmt::format("[[event]]\nat = {}\ntype = \"pmi\"\ncpu = {}\nevery = {}\ncount = {}\n",
                       kPeriod * k + 1000 * cpu + 500, cpu, every, kGroups);
    }
  }
  for (std::uint64_t k : {3, 8}) {
    s += fmt::format(
        "[[event]]\nat = {}\ntype = \"ipi\"\nfrom = 0\ndest = [1, 2, 3, 4, 5, 6, 7]\nvector = "
        "4\nwork = \"arch_bt\"\nevery = {}\ncount = {}\n",
        kPeriod * k + 40'000, every, kGroups);
  }
  for (std::uint64_t k : {1, 4, 6, 9}) {
    s += fmt::format(
        "[[event]]\nat = {}\ntype = \"ipi\"\nfrom = 0\ndest = {}\nvector = 0\nwork = "
        "\"ghes\"\nevery = {}\ncount = {}\n",
        kPeriod * k + 60'000, 1 + k % 7, every, kGroups);
  }
  for (std::uint64_t k : {2, 7}) {
    s += fmt::format(
        "[[event]]\nat = {}\ntype = \"external\"\ncpu = 0\nreason = \"serr\"\nevery = {}\ncount "
        "= {}\n",
        kPeriod * k + 70'000, every, kGroups);
  }
  return s;
}

/// An ostream that drops what it is given, after it has been formatted.
class NullBuffer final : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

std::uint64_t nmis_received(const ScenarioResult& r) {
  std::uint64_t n = 0;
  for (const auto& c : r.cpus)
    n += c.nmi_received;
  return n;
}

/// NMIs per host second and host ns per NMI, over every iteration's run.
void report_nmis(benchmark::State& state, std::uint64_t received) {
  const double runs = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(received) * state.iterations());
  state.counters["nmis"] = static_cast<double>(received);
  state.counters["ns_per_nmi"] =
      benchmark::Counter(static_cast<double>(received) * runs,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

enum class Sink { none, counting, text, jsonl, chrome };

void mixed_run(benchmark::State& state, Sink kind, bool limited = false) {
  auto spec = load_scenario_string(mixed_scenario(), "mixed-1m");
  if (!spec) {
    state.SkipWithError(spec.error().message.c_str());
    return;
  }
  SystemRunner runner;
  NullBuffer null_buffer;
  std::ostream null_out(&null_buffer);
  std::uint64_t received = 0, cycles = 0, records = 0;
  for (auto _ : state) {
    class Counting final : public TraceSink {
     public:
      std::uint64_t n = 0;
      void record(const TraceRecord&) override { ++n; }
    } counting;
    TextTraceSink text(null_out);
    JsonlTraceSink jsonl(null_out);
    ChromeTraceSink chrome(null_out, trace_sink_context(*spec));
    RunOptions options;
    // What `fredsim run` always has: the signal flag (checked before each event)
    // and a far --max-wall deadline (checked every 4096 events).
    static const volatile std::sig_atomic_t clear_flag = 0;
    if (limited) {
      options.limits.interrupt = &clear_flag;
      options.limits.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    switch (kind) {
      case Sink::none:
        break;
      case Sink::counting:
        options.trace_sinks.push_back(&counting);
        break;
      case Sink::text:
        options.trace_sinks.push_back(&text);
        break;
      case Sink::jsonl:
        options.trace_sinks.push_back(&jsonl);
        break;
      case Sink::chrome:
        options.trace_sinks.push_back(&chrome);
        break;
    }
    auto r = runner.run(*spec, options);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      return;
    }
    received = nmis_received(*r);
    cycles = r->end_cycle;
    records = counting.n;
  }
  const double runs = static_cast<double>(state.iterations());
  report_nmis(state, received);
  state.counters["sim_cycles_per_s"] =
      benchmark::Counter(static_cast<double>(cycles) * runs, benchmark::Counter::kIsRate);
  if (kind == Sink::counting)
    state.counters["records_per_nmi"] =
        static_cast<double>(records) / static_cast<double>(received);
}

void BM_Mixed1M_NoSink(benchmark::State& s) {
  mixed_run(s, Sink::none);
}
void BM_Mixed1M_NoSinkLimited(benchmark::State& s) {
  mixed_run(s, Sink::none, true);
}
void BM_Mixed1M_CountingSink(benchmark::State& s) {
  mixed_run(s, Sink::counting);
}
void BM_Mixed1M_TextSink(benchmark::State& s) {
  mixed_run(s, Sink::text);
}
void BM_Mixed1M_JsonlSink(benchmark::State& s) {
  mixed_run(s, Sink::jsonl);
}
void BM_Mixed1M_ChromeSink(benchmark::State& s) {
  mixed_run(s, Sink::chrome);
}
// The storm of bench/storm-2m.toml through SystemRunner, with what `fredsim run`
// always has (the signal flag and a far deadline): the library's side of the
// CLI target (scripts/bench.sh times the command on the same file).
void BM_Storm2M_Library(benchmark::State& state) {
  auto spec = load_scenario_file(FREDSIM_BENCH_DIR "/storm-2m.toml");
  if (!spec) {
    state.SkipWithError(spec.error().message.c_str());
    return;
  }
  SystemRunner runner;
  std::uint64_t received = 0;
  std::uint64_t allocs = 0;
  for (auto _ : state) {
    RunOptions options;
    static const volatile std::sig_atomic_t clear_flag = 0;
    options.limits.interrupt = &clear_flag;
    options.limits.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
    const std::uint64_t before = bench::allocation_count();
    auto r = runner.run(*spec, options);
    allocs = bench::allocation_count() - before;
    if (!r || !r->passed) {
      state.SkipWithError(r ? "the storm's expectations failed" : r.error().message.c_str());
      return;
    }
    received = nmis_received(*r);
  }
  report_nmis(state, received);
  // Setup and the result allocate; the NMIs must not (a few hundred in all).
  state.counters["allocs_per_nmi"] = static_cast<double>(allocs) / static_cast<double>(received);
}
BENCHMARK(BM_Storm2M_Library)->Unit(benchmark::kMillisecond)->Iterations(3);

BENCHMARK(BM_Mixed1M_NoSink)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Mixed1M_NoSinkLimited)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Mixed1M_CountingSink)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_Mixed1M_TextSink)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Mixed1M_JsonlSink)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Mixed1M_ChromeSink)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
