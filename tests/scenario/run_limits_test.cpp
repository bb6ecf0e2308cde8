// RunLimits: the stop hook of SystemRunner (interrupt flag, --max-cycles,
// --max-wall) and how a run cut short reads in the result.
#include <gtest/gtest.h>
#include <algorithm>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/sim/trace.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using nlohmann::json;

constexpr std::string_view kStorm = R"(name = "storm"
[system]
cpus = 2
[[handler]]
name = "nic"
vector = 9
[[event]]
at = 0
type = "ipi"
from = 0
dest = 1
vector = 9
work = "nic"
every = 100
count = 1_000_000
[[expect]]
stat = "unknown"
equals = 0
)";

/// Every trace record as text, for comparing two runs.
class TextSink final : public TraceSink {
 public:
  void record(const TraceRecord& r) override { text += format_trace_text(r) + "\n"; }
  std::string text;
};

Result<ScenarioResult> run(const ScenarioSpec& spec, const RunLimits& limits,
                           std::string* trace = nullptr) {
  SystemRunner runner;
  TextSink sink;
  RunOptions options;
  options.limits = limits;
  if (trace) options.trace_sinks.push_back(&sink);
  auto r = runner.run(spec, options);
  if (trace) *trace = sink.text;
  return r;
}

TEST(RunLimits, TheLimitedLoopRunsEveryScenarioAsThePlainOne) {
  // An interrupt flag that stays clear and a far limit: the same events in the
  // same order as without limits, so the same result and trace, byte for byte.
  const volatile std::sig_atomic_t clear = 0;
  RunLimits limits;
  limits.interrupt = &clear;
  limits.max_cycles = kNever - 1;
  limits.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  int scenarios = 0;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(test::source_dir()) / "scenarios")) {
    if (e.path().extension() != ".toml") continue;
    auto spec = load_scenario_file(e.path().string());
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    // The 100,000-iteration loops (the kvm-unit-tests translations) at 1,000: the
    // comparison is of the loop, its traces are whole strings.
    for (EventSpec& ev : spec->events)
      ev.count = std::min<std::uint64_t>(ev.count, 1000);
    std::string plain_trace, limited_trace;
    auto plain = run(*spec, RunLimits{}, &plain_trace);
    auto limited = run(*spec, limits, &limited_trace);
    ASSERT_TRUE(plain.ok() && limited.ok()) << e.path();
    EXPECT_EQ(limited->stopped, StopReason::none) << e.path();
    EXPECT_EQ(to_json(*plain), to_json(*limited)) << e.path();
    EXPECT_EQ(plain_trace, limited_trace) << e.path();
    ++scenarios;
  }
  EXPECT_GE(scenarios, 5);
}

TEST(RunLimits, MaxCyclesStopsAtThatCycle) {
  auto spec = test::load_ok(kStorm);
  RunLimits limits;
  limits.max_cycles = 50'000;
  auto r = run(spec, limits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stopped, StopReason::max_cycles);
  EXPECT_EQ(r->end_cycle, 50'000u);
  EXPECT_GT(r->cpus[1].nmi_received, 0u);
  EXPECT_LE(r->cpus[1].nmi_received, 501u);  // one IPI every 100 cycles from 0
  apply_expectations(spec, *r);
  EXPECT_TRUE(r->expectations.at(0).passed);  // no unknown NMI so far...
  EXPECT_FALSE(r->passed);                    // ...but a cut run never passes
  json j = json::parse(to_json(*r));
  EXPECT_EQ(j["stopped"], "max_cycles");
  EXPECT_FALSE(j.contains("interrupted"));
  EXPECT_EQ(j["passed"], false);
}

TEST(RunLimits, MaxCyclesPastTheEndIsAWholeRun) {
  auto spec = test::load_ok(R"(name = "short"
[system]
cpus = 2
end = 10_000
[[handler]]
name = "nic"
vector = 9
[[event]]
at = 100
type = "ipi"
dest = 1
vector = 9
work = "nic"
)");
  RunLimits limits;
  limits.max_cycles = 1'000'000;
  auto r = run(spec, limits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stopped, StopReason::none);
  EXPECT_EQ(r->end_cycle, 10'000u);  // as the plain run: the clock goes to `end`
  apply_expectations(spec, *r);
  EXPECT_TRUE(r->passed);
  EXPECT_FALSE(json::parse(to_json(*r)).contains("stopped"));
}

TEST(RunLimits, AnInterruptStopsBeforeTheNextEvent) {
  auto spec = test::load_ok(kStorm);
  const volatile std::sig_atomic_t raised = SIGINT;
  RunLimits limits;
  limits.interrupt = &raised;
  auto r = run(spec, limits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stopped, StopReason::interrupted);
  EXPECT_EQ(r->cpus[1].nmi_received, 0u);  // not one event ran
  json j = json::parse(to_json(*r));
  EXPECT_EQ(j["stopped"], "interrupted");
  EXPECT_EQ(j["interrupted"], true);
}

TEST(RunLimits, APassedDeadlineStopsTheRun) {
  auto spec = test::load_ok(kStorm);
  RunLimits limits;
  limits.deadline = std::chrono::steady_clock::now();
  auto r = run(spec, limits);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stopped, StopReason::max_wall);
  std::ostringstream summary;
  apply_expectations(spec, *r);
  write_summary(summary, *r);
  EXPECT_NE(summary.str().find("STOPPED at cycle 0: --max-wall reached"), std::string::npos)
      << summary.str();
  EXPECT_NE(summary.str().find("INCOMPLETE: 1 of 1 expectations hold on the partial run"),
            std::string::npos)
      << summary.str();
}

TEST(RunLimits, AnInterruptStopsASessionRunTo) {
  auto spec = test::load_ok(kStorm);
  volatile std::sig_atomic_t flag = 0;
  RunOptions options;
  options.limits.interrupt = &flag;
  SystemRunner runner;
  auto session = runner.start(spec, options);
  ASSERT_TRUE(session.ok());
  (*session)->run_to(1'000);
  EXPECT_EQ((*session)->now(), 1'000u);
  flag = SIGINT;
  (*session)->run_to(1'000'000);
  EXPECT_EQ((*session)->now(), 1'000u);  // stopped before its next event
}

}  // namespace
}  // namespace fredsim::scenario
