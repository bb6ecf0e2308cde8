#include <gtest/gtest.h>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

constexpr std::string_view kScenario = R"(name = "e"
[system]
cpus = 4
[[handler]]
name = "perf"
vector = 7
model = "pmi"
[[handler]]
name = "bt"
vector = 4
[[expect]]
handler = "perf"
cpu = 3
calls = 1
handled = 2
[[expect]]
handler = "bt"
calls = 3
[[expect]]
stat = "unknown"
equals = 0
[[expect]]
stat = "normal"
cpu = 1
at_least = 2
at_most = 4
[[expect]]
stat = "lost"
equals = 1
)";

ScenarioResult sample(const ScenarioSpec& spec) {
  ScenarioResult r = empty_result(spec);
  HandlerResult& perf = r.handlers[0];
  perf.calls = 5;
  perf.handled = 2;
  perf.per_cpu[3] = {1, 2};
  perf.per_cpu[0] = {4, 0};
  r.handlers[1].calls = 3;
  r.cpus[1].stats.normal = 5;
  r.cpus[2].lost = 1;
  return r;
}

TEST(Expect, TextsReadAsTheContractShows) {
  ScenarioSpec spec = test::load_ok(kScenario);
  ASSERT_EQ(spec.expects.size(), 7u);
  std::vector<std::string> texts;
  for (const auto& e : spec.expects)
    texts.push_back(expectation_text(e));
  EXPECT_EQ(texts, (std::vector<std::string>{
                       "handler perf on cpu 3: calls == 1",
                       "handler perf on cpu 3: handled == 2",
                       "handler bt: calls == 3",
                       "stat unknown: == 0",
                       "stat normal on cpu 1: >= 2",
                       "stat normal on cpu 1: <= 4",
                       "stat lost: == 1",
                   }));
}

TEST(Expect, EvaluatesPerCpuTotalsAndStats) {
  ScenarioSpec spec = test::load_ok(kScenario);
  ScenarioResult r = sample(spec);
  apply_expectations(spec, r);
  ASSERT_EQ(r.expectations.size(), 7u);
  std::vector<bool> passed;
  std::vector<std::uint64_t> actual;
  for (const auto& e : r.expectations) {
    passed.push_back(e.passed);
    actual.push_back(e.actual);
  }
  EXPECT_EQ(passed, (std::vector<bool>{true, true, true, true, true, false, true}));
  EXPECT_EQ(actual, (std::vector<std::uint64_t>{1, 2, 3, 0, 5, 5, 1}));
  EXPECT_EQ(r.expectations[5].expected, 4u);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.expectations[0].loc.line, 14u);
}

TEST(Expect, AllHoldMeansPassed) {
  ScenarioSpec spec = test::load_ok(kScenario);
  ScenarioResult r = sample(spec);
  r.cpus[1].stats.normal = 3;
  apply_expectations(spec, r);
  EXPECT_TRUE(r.passed);
}

TEST(Expect, CpuBeyondPerCpuCountsIsZero) {
  ScenarioSpec spec = test::load_ok(kScenario);
  ScenarioResult r = sample(spec);
  r.handlers[0].per_cpu.clear();
  auto results = evaluate_expectations(spec.expects, r);
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].actual, 0u);
}

TEST(Expect, NoExpectationsPass) {
  ScenarioSpec spec = test::load_ok("name = \"n\"\n");
  ScenarioResult r = empty_result(spec);
  apply_expectations(spec, r);
  EXPECT_TRUE(r.passed);
  EXPECT_TRUE(r.expectations.empty());
}

}  // namespace
}  // namespace fredsim::scenario
