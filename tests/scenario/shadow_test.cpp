// Instruction-shadow events (docs/scenarios.md "Instruction shadows"): the `sti`
// and `mov_ss` keys, their errors, the result counters, and the kvm-unit-tests
// "nmi-after-sti" translation (scenarios/kut-apic-nmi-after-sti.toml) checked on
// the counters the test itself reads.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/sim/trace.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

// --- Keys -------------------------------------------------------------------------

TEST(ShadowEvent, StiTakesCpuRepetitionAndBlocksNmi) {
  auto s = load_ok(std::string(kHead) +
                   "[[event]]\nat = 10\ntype = \"sti\"\ncpu = 2\nevery = 8\ncount = 5\n"
                   "blocks_nmi = false\n");
  ASSERT_EQ(s.events.size(), 1u);
  const EventSpec& e = s.events[0];
  EXPECT_EQ(e.type, EventType::sti);
  EXPECT_EQ(to_string(e.type), "sti");
  EXPECT_EQ(e.cpu, 2u);
  EXPECT_EQ(e.at, 10u);
  EXPECT_EQ(e.every, 8u);
  EXPECT_EQ(e.count, 5u);
  EXPECT_FALSE(e.blocks_nmi);
}

TEST(ShadowEvent, StiBlocksNmisByDefaultAndMovSsParses) {
  auto s = load_ok(std::string(kHead) + "[[event]]\nat = 1\ntype = \"sti\"\ncpu = 1\n" +
                   "[[event]]\nat = 2\ntype = \"mov_ss\"\ncpu = 3\n");
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_TRUE(s.events[0].blocks_nmi);
  EXPECT_EQ(s.events[1].type, EventType::mov_ss);
  EXPECT_EQ(to_string(s.events[1].type), "mov_ss");
  EXPECT_EQ(s.events[1].cpu, 3u);
}

TEST(ShadowEvent, MissingCpuIsAnErrorAtTheTable) {
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"sti\"\n"),
            "t.toml:4:1: error: missing required key 'cpu' in [[event]] of type \"sti\"");
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"mov_ss\"\n"),
            "t.toml:4:1: error: missing required key 'cpu' in [[event]] of type \"mov_ss\"");
}

TEST(ShadowEvent, CpuOutOfRangeIsAnErrorAtTheValue) {
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"sti\"\ncpu = 4\n"),
            "t.toml:7:7: error: event.cpu = 4 is not a CPU of this system (cpus = 4: 0..3)");
}

TEST(ShadowEvent, BlocksNmiMustBeABoolean) {
  EXPECT_EQ(load_error(std::string(kHead) +
                       "[[event]]\nat = 1\ntype = \"sti\"\ncpu = 1\nblocks_nmi = 1\n"),
            "t.toml:8:14: error: event.blocks_nmi must be true or false, not an integer");
}

TEST(ShadowEvent, MovSsTakesNoBlocksNmi) {
  // A MOV SS shadow always blocks NMIs (SDM Vol. 3C, blocking by MOV SS).
  EXPECT_EQ(load_error(std::string(kHead) +
                       "[[event]]\nat = 1\ntype = \"mov_ss\"\ncpu = 1\nblocks_nmi = false\n"),
            "t.toml:8:1: error: unknown key 'blocks_nmi' in [[event]] of type \"mov_ss\" "
            "(allowed: at, type, every, count, cpu, after, delay)");
}

TEST(ShadowEvent, OtherKeysOfOtherTypesAreRefused) {
  EXPECT_EQ(
      load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"sti\"\ncpu = 1\ndest = 2\n"),
      "t.toml:8:1: error: unknown key 'dest' in [[event]] of type \"sti\" (allowed: at, "
      "type, every, count, cpu, after, delay, blocks_nmi)");
  EXPECT_EQ(load_error(std::string(kHead) +
                       "[[event]]\nat = 1\ntype = \"ipi\"\ndest = 1\nblocks_nmi = true\n"),
            "t.toml:8:1: error: unknown key 'blocks_nmi' in [[event]] of type \"ipi\" (allowed: "
            "at, type, every, count, from, dest, mode, vector, work, after, delay, vm)");
}

TEST(ShadowEvent, TheShadowLengthIsATimingParameter) {
  auto s = load_ok(std::string(kHead) + "[timing]\nshadow_insn = 12\n");
  ASSERT_EQ(s.timing.size(), 1u);
  EXPECT_EQ(s.timing[0].param, TimingParam::shadow_insn);
  EXPECT_EQ(s.timing[0].cycles, 12u);
}

// --- Runs -------------------------------------------------------------------------

// One STI on CPU 1 whose shadow (10,000 cycles here) covers the arrival of one
// NMI sent at cycle 1000, whatever the IPI latency of the profile.
constexpr std::string_view kLongShadow = R"(name = "shadow"
[system]
cpus = 2
[timing]
shadow_insn = 10_000
[[handler]]
name = "h"
[[event]]
at = 500
type = "sti"
cpu = 1
[[event]]
at = 1000
type = "ipi"
dest = 1
work = "h"
[[expect]]
handler = "h"
calls = 1
handled = 1
)";

ScenarioResult run_ok(std::string_view text, const std::vector<Override>& o = {}) {
  auto spec = load_scenario_string(text, "t.toml", o);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  if (!spec.ok()) return {};
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  return std::move(r).value();
}

TEST(ShadowRun, TheShadowHoldsTheNmiAndTheResultCountsIt) {
  const ScenarioResult r = run_ok(kLongShadow);
  ASSERT_EQ(r.cpus.size(), 2u);
  ASSERT_TRUE(r.cpus[1].shadow.has_value());
  EXPECT_EQ(r.cpus[1].shadow->shadows, 1u);
  EXPECT_EQ(r.cpus[1].shadow->nmi_deferred_shadow, 1u);
  EXPECT_EQ(r.cpus[1].shadow->nmi_at_shadow_rip, 0u);
  ASSERT_TRUE(r.cpus[0].shadow.has_value()) << "every CPU reports once shadows are used";
  EXPECT_EQ(r.cpus[0].shadow->shadows, 0u);
  EXPECT_TRUE(r.passed) << "the held NMI is still taken and handled";

  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["cpus"][1]["shadows"], 1);
  EXPECT_EQ(j["cpus"][1]["nmi_deferred_shadow"], 1);
  EXPECT_EQ(j["cpus"][1]["nmi_at_shadow_rip"], 0);
}

TEST(ShadowRun, AnStiThatDoesNotBlockNmisHoldsNothing) {
  const ScenarioResult r = run_ok(kLongShadow, {Override{"event.0.blocks_nmi=false"}});
  ASSERT_TRUE(r.cpus[1].shadow.has_value());
  EXPECT_EQ(r.cpus[1].shadow->shadows, 1u);
  EXPECT_EQ(r.cpus[1].shadow->nmi_deferred_shadow, 0u);
}

TEST(ShadowRun, ScenariosWithoutShadowsReportNoShadowCounters) {
  const ScenarioResult r = run_ok(std::string(kHead) +
                                  "[[handler]]\nname = \"h\"\n"
                                  "[[event]]\nat = 1000\ntype = \"ipi\"\ndest = 1\nwork = \"h\"\n");
  ASSERT_EQ(r.cpus.size(), 4u);
  for (const auto& c : r.cpus)
    EXPECT_FALSE(c.shadow.has_value());
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_FALSE(j["cpus"][1].contains("nmi_deferred_shadow"));
  EXPECT_FALSE(j["cpus"][1].contains("shadows"));
}

// --- The kvm-unit-tests translation -------------------------------------------------

ScenarioResult run_file(const std::string& name, const std::vector<Override>& o = {}) {
  auto spec = load_scenario_file(test::source_dir() + "/scenarios/" + name, o);
  EXPECT_TRUE(spec.ok()) << spec.error().message;
  if (!spec.ok()) return {};
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  return std::move(r).value();
}

TEST(KutApicNmiAfterSti, NoNmiIsTakenRightAfterSti) {
  // report(nmi_hlt_counter == 0, "nmi-after-sti"); and the window was hit: 8 of
  // the 64 NMIs arrive on an STI's own cycle (period 6,001 = 1 mod 8, by hand).
  const ScenarioResult r = run_file("kut-apic-nmi-after-sti.toml");
  ASSERT_EQ(r.cpus.size(), 2u);
  ASSERT_TRUE(r.cpus[1].shadow.has_value());
  EXPECT_EQ(r.cpus[1].shadow->nmi_at_shadow_rip, 0u);
  EXPECT_EQ(r.cpus[1].shadow->nmi_deferred_shadow, 8u);
  EXPECT_EQ(r.cpus[1].nmi_delivered, 64u);
  EXPECT_TRUE(r.passed);
}

TEST(KutApicNmiAfterSti, AProcessorThatTakesNmisAfterStiFailsIt) {
  // The same run with the STI shadow not blocking NMIs: the 8 NMIs are taken on
  // the boundary right after STI, the test's failure.
  const ScenarioResult r =
      run_file("kut-apic-nmi-after-sti.toml", {Override{"event.0.blocks_nmi=false"}});
  ASSERT_TRUE(r.cpus[1].shadow.has_value());
  EXPECT_EQ(r.cpus[1].shadow->nmi_at_shadow_rip, 8u);
  EXPECT_EQ(r.cpus[1].shadow->nmi_deferred_shadow, 0u);
}

/// The cycle of a text trace line ("cycle=N cpu=...").
std::string cycle_of(const std::string& line) {
  return line.substr(0, line.find(' '));
}

TEST(KutEventinjNmi, TheNestedNmiIsTakenAtTheFirstOnesReturnAndTheShadowHoldsNothing) {
  // test_count == 2: both handlers ran; the second NMI, sent while the first was
  // handled, was held by NMI blocking and taken at the return's own cycle (the
  // instruction boundary after ERETS/IRET), never before it. sti_nop_cli()
  // afterwards finds nothing pending.
  auto spec = load_scenario_file(test::source_dir() + "/scenarios/kut-eventinj-nmi.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  MemoryTraceSink trace;
  RunOptions options;
  options.trace_sinks.push_back(&trace);
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->passed);
  std::vector<std::string> delivers;
  std::vector<std::string> returns;
  for (const auto& l : trace.lines()) {
    if (l.find(" nmi_deliver ") != std::string::npos) delivers.push_back(l);
    if (l.find(" nmi_return ") != std::string::npos) returns.push_back(l);
  }
  ASSERT_EQ(delivers.size(), 2u);
  ASSERT_EQ(returns.size(), 2u);
  EXPECT_EQ(cycle_of(delivers[1]), cycle_of(returns[0])) << delivers[1];
  ASSERT_TRUE(r->cpus[0].shadow.has_value());
  EXPECT_EQ(r->cpus[0].shadow->shadows, 1u);
  EXPECT_EQ(r->cpus[0].shadow->nmi_deferred_shadow, 0u);
  EXPECT_EQ(r->cpus[0].nmi_coalesced, 0u);
}

}  // namespace
}  // namespace fredsim::scenario
