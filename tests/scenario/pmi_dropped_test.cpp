// PMIs dropped at a masked LVTPC (docs/apic.md "PMIs at a masked LVTPC"): the
// local APIC masks LVTPC when it delivers a PMI (SDM Vol. 3B "Handling
// Performance Counter Interrupts") and Linux's perf handler unmasks it by
// rewriting LVTPC (arch/x86/events/intel/core.c intel_pmu_handle_irq); a PMI
// raised in between is dropped. The result counts them per CPU (`pmi_dropped`),
// the trace has a record for each, and the summary a line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/sim/trace.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

std::string scenario(unsigned every, std::string_view expects = "") {
  return fmt::format(R"(name = "pmi"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
model = "pmi"
[[event]]
at = 1_000
type = "pmi"
cpu = 0
every = {}
count = 20
{})",
                     every, expects);
}

struct Records final : TraceSink {
  std::vector<std::pair<CpuId, std::uint64_t>> dropped;  // cpu, lvtpc
  void record(const TraceRecord& r) override {
    if (r.event != "pmi_dropped") return;
    const TraceField* f = r.find("lvtpc");
    ASSERT_NE(f, nullptr);
    dropped.emplace_back(r.cpu, f->value.u);
  }
};

ScenarioResult run_ok(const std::string& text, TraceSink* sink = nullptr) {
  auto spec = load_scenario_string(text, "t.toml", {});
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  if (!spec.ok()) return {};
  RunOptions options;
  if (sink != nullptr) options.trace_sinks.push_back(sink);
  auto r = SystemRunner{}.run(*spec, options);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  apply_expectations(*spec, *r);
  return std::move(r).value();
}

// PMIs every 100 cycles overrun perf's handler: some find LVTPC still masked by
// the PMI before them (intel_pmu_handle_irq has not rewritten it yet).
TEST(PmiDropped, PmisOverrunningIntelPmuHandleIrqAreDroppedAndCounted) {
  Records rec;
  const ScenarioResult r = run_ok(scenario(100), &rec);
  ASSERT_EQ(r.cpus.size(), 2u);
  EXPECT_GT(r.cpus[0].pmi_dropped, 0u);
  // Every overflow either reached CPU 0's NMI input or was dropped at LVTPC.
  EXPECT_EQ(r.cpus[0].nmi_received + r.cpus[0].pmi_dropped, 20u);
  EXPECT_EQ(r.cpus[1].pmi_dropped, 0u);
  // One trace record per dropped PMI, on its CPU, showing LVTPC masked (bit 16).
  ASSERT_EQ(rec.dropped.size(), r.cpus[0].pmi_dropped);
  for (const auto& [cpu, lvtpc] : rec.dropped) {
    EXPECT_EQ(cpu, 0u);
    EXPECT_NE(lvtpc & (1u << 16), 0u);
  }
  // The samples survive: the overflow status keeps their bits for the next call.
  EXPECT_EQ(r.cpus[0].lost, 0u);
}

TEST(PmiDropped, TheResultJsonAndTheSummaryShowThemOnlyWhereThereAreAny) {
  const ScenarioResult r = run_ok(scenario(100));
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["cpus"][0]["pmi_dropped"].get<std::uint64_t>(), r.cpus[0].pmi_dropped);
  EXPECT_FALSE(j["cpus"][1].contains("pmi_dropped"));
  std::ostringstream s;
  write_summary(s, r);
  EXPECT_NE(s.str().find(fmt::format("PMIs dropped at a masked LVTPC: {} (cpu 0: {})\n",
                                     r.cpus[0].pmi_dropped, r.cpus[0].pmi_dropped)),
            std::string::npos)
      << s.str();

  // Spaced out, every PMI is handled before the next: nothing is dropped, and
  // neither the JSON nor the summary mention it.
  const ScenarioResult calm = run_ok(scenario(100'000));
  EXPECT_EQ(calm.cpus[0].pmi_dropped, 0u);
  EXPECT_EQ(calm.cpus[0].nmi_received, 20u);
  const auto jc = nlohmann::json::parse(to_json(calm));
  EXPECT_FALSE(jc["cpus"][0].contains("pmi_dropped"));
  std::ostringstream sc;
  write_summary(sc, calm);
  EXPECT_EQ(sc.str().find("PMIs dropped"), std::string::npos);
}

TEST(PmiDropped, CounterAndTraceExpectationsReadThem) {
  const ScenarioResult r = run_ok(scenario(100));
  const std::uint64_t n = r.cpus[0].pmi_dropped;
  ASSERT_GT(n, 0u);
  const ScenarioResult ok = run_ok(scenario(
      100, fmt::format("[[expect]]\ncounter = \"pmi_dropped\"\ncpu = 0\nequals = {}\n"
                       "[[expect]]\ntrace = \"pmi_dropped\"\nwhere = {{ cpu = 0 }}\ncount = {}\n",
                       n, n)));
  ASSERT_EQ(ok.expectations.size(), 2u);
  EXPECT_TRUE(ok.passed);
  // A wrong count fails and shows the measured one.
  const ScenarioResult bad = run_ok(scenario(
      100, fmt::format("[[expect]]\ncounter = \"pmi_dropped\"\ncpu = 0\nequals = {}\n", n + 1)));
  EXPECT_FALSE(bad.passed);
  ASSERT_EQ(bad.expectations.size(), 1u);
  EXPECT_EQ(bad.expectations[0].actual, n);
  const ScenarioResult bad_trace = run_ok(
      scenario(100, "[[expect]]\ntrace = \"pmi_dropped\"\nwhere = { cpu = 1 }\ncount = 1\n"));
  EXPECT_FALSE(bad_trace.passed);
  EXPECT_EQ(bad_trace.expectations[0].actual, 0u);
}

TEST(PmiDropped, ATraceExpectationOnAnUnknownFieldOfTheRecordIsAnError) {
  const std::string e = test::load_error(
      scenario(100, "[[expect]]\ntrace = \"pmi_dropped\"\nwhere = { vector = 7 }\n"));
  EXPECT_NE(e.find("lvtpc"), std::string::npos) << e;
}

}  // namespace
}  // namespace fredsim::scenario
