// SystemRunner: how it feeds a scenario's events to the simulator.
#include "fredsim/scenario/system_runner.hpp"

#include <gtest/gtest.h>

#include "fredsim/scenario/loader.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

TEST(SystemRunner, AStormOfABillionNmisHoldsOneQueueEntryAtATime) {
  // Occurrences are scheduled one by one as they fire, so a repeat count far
  // beyond memory runs (up to `end`) in constant space.
  auto spec = load_scenario_string(R"(name = "huge-storm"
[system]
cpus = 2
end = 1_000_000
[[handler]]
name = "perf"
vector = 7
model = "pmi"
[[event]]
at = 1000
type = "pmi"
cpu = 1
every = 100_000
count = 1_000_000_000
)",
                                   "huge");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto sys = build_system(*spec);
  ASSERT_TRUE(sys.ok()) << sys.error().message;
  EXPECT_LE((*sys)->machine().queue().size(), 2u);
  (*sys)->run_until(1'000'000);
  EXPECT_EQ((*sys)->machine().cpu(1).stats().nmi_received, 10u);
  EXPECT_EQ((*sys)
                ->kernel()
                .registry()
                .handler((*sys)->kernel().registry().find_handler("perf"))
                .total.calls,
            10u);
  EXPECT_LE((*sys)->machine().queue().size(), 2u) << "the next occurrence only";
}

TEST(SystemRunner, SameCycleEventsRunInFileOrderAcrossRepeats) {
  // Two periodic IPIs that meet at cycle 2000 and 4000: file order decides, the
  // first one's NMI arrives first (its vector is the first bitmap bit seen).
  auto spec = load_scenario_string(R"(name = "ties"
[system]
cpus = 2
[[handler]]
name = "a"
vector = 5
[[handler]]
name = "b"
vector = 6
[[event]]
at = 2000
type = "ipi"
dest = 1
vector = 6
work = "b"
every = 2000
count = 2
[[event]]
at = 0
type = "ipi"
dest = 1
vector = 5
work = "a"
every = 2000
count = 3
)",
                                   "ties");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  MemoryTraceSink trace;
  RunOptions options;
  options.trace_sinks.push_back(&trace);
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok());
  std::vector<std::string> sends;
  for (const auto& l : trace.lines()) {
    if (l.find("ipi_send") != std::string::npos) sends.push_back(l.substr(0, l.find(" dest")));
  }
  ASSERT_EQ(sends.size(), 5u);
  // At 2000 and 4000 the file's first event (vector 6) writes the ICR first.
  EXPECT_NE(sends[1].find("cycle=2000"), std::string::npos);
  EXPECT_NE(sends[1].find("icr=0x100000406"), std::string::npos) << sends[1];
  EXPECT_NE(sends[2].find("icr=0x100000405"), std::string::npos) << sends[2];
  EXPECT_NE(sends[3].find("icr=0x100000406"), std::string::npos) << sends[3];
  EXPECT_NE(sends[4].find("icr=0x100000405"), std::string::npos) << sends[4];
}

TEST(SystemRunner, AnIpiEventGivesItsWorkToEveryCpuOfItsDestinationAtEveryOccurrence) {
  // The work CPUs of an "ipi" event are worked out once, at setup: each
  // occurrence must still give one item to each CPU the destination names
  // (all-but-self leaves the sender out, all includes it, self is the
  // sender, a list is its CPUs), and an event without work gives none.
  auto spec = load_scenario_string(R"(name = "work-dests"
[system]
cpus = 4
[[handler]]
name = "dev"
vector = 5
model = "device"
[[event]]
at = 0
type = "ipi"
from = 1
dest = "all-but-self"
vector = 5
work = "dev"
every = 10_000
count = 3
[[event]]
at = 3_000
type = "ipi"
from = 0
dest = [1, 3]
vector = 5
work = "dev"
[[event]]
at = 5_000
type = "ipi"
from = 2
dest = "all"
vector = 5
work = "dev"
[[event]]
at = 7_000
type = "ipi"
from = 3
dest = "self"
vector = 5
work = "dev"
every = 10_000
count = 2
[[event]]
at = 9_000
type = "ipi"
from = 0
dest = 2
vector = 5
)",
                                   "work-dests");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto sys = build_system(*spec);
  ASSERT_TRUE(sys.ok()) << sys.error().message;
  (*sys)->run_until(100'000);
  const kernel::HandlerRegistry& reg = (*sys)->kernel().registry();
  const auto& dev = reg.handler(reg.find_handler("dev"));
  // CPU 0: 3 (all-but-self) + 1 (all); CPU 1, the first sender: 1 (the
  // list) + 1 (all); CPU 2: 3 + 1; CPU 3: 3 + 1 (the list) + 1 + 2 (self).
  const std::uint64_t expected[] = {4, 2, 4, 7};
  for (CpuId c = 0; c < 4; ++c)
    EXPECT_EQ(dev.per_cpu[c].handled, expected[c]) << "cpu " << c;
  // The work-less IPI to CPU 2 found nothing to claim: an unknown NMI there.
  EXPECT_EQ((*sys)->kernel().cpu_state(2).stats.unknown, 1u);
}

}  // namespace
}  // namespace fredsim::scenario

namespace fredsim::scenario {
namespace {

TEST(SystemRunnerTime, ReachingTheEndOfTimeIsAnErrorNotAResult) {
  auto spec = load_scenario_string(
      test::read_file(test::source_dir() + "/tests/scenario/data/end-of-time.toml"), "e.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  SystemRunner runner;
  RunOptions options;
  auto r = runner.run(*spec, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("e.toml: error: simulated time ran out at cycle ", 0), 0u)
      << r.error().message;
  // A session stops there too, done, with the same error.
  auto s = runner.start(*spec, options);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE((*s)->status().ok());
  (*s)->run_to(kNever - 1);
  EXPECT_TRUE((*s)->done());
  ASSERT_FALSE((*s)->status().ok());
  EXPECT_EQ((*s)->status().error().message, r.error().message);
  EXPECT_LE((*s)->now(), kMaxCycle);
}

TEST(SystemRunner, ASessionWithoutLinesRunsAsOneWithThem) {
  // session_lines = false (the suite's timed runs): run_to() returns nothing, and
  // the result is the one a session that prints every record reaches.
  auto spec = load_scenario_string(R"(name = "pmis"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
model = "pmi"
[[event]]
at = 1000
type = "pmi"
cpu = 1
every = 10_000
count = 20
)",
                                   "pmis");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  SystemRunner runner;
  RunOptions with_lines;
  RunOptions without;
  without.session_lines = false;
  auto a = runner.start(*spec, with_lines);
  auto b = runner.start(*spec, without);
  ASSERT_TRUE(a.ok() && b.ok());
  std::size_t lines = 0;
  while (!(*a)->done())
    lines += (*a)->run_to((*a)->now() + 50'000).size();
  while (!(*b)->done())
    EXPECT_TRUE((*b)->run_to((*b)->now() + 50'000).empty());
  EXPECT_GT(lines, 20u);
  const ScenarioResult ra = (*a)->result();
  const ScenarioResult rb = (*b)->result();
  EXPECT_EQ(ra.end_cycle, rb.end_cycle);
  ASSERT_EQ(ra.handlers.size(), rb.handlers.size());
  EXPECT_EQ(rb.handlers[0].calls, 20u);
  EXPECT_EQ(ra.handlers[0].calls, rb.handlers[0].calls);
  EXPECT_EQ(ra.cpus[1].nmi_delivered, rb.cpus[1].nmi_delivered);
}

}  // namespace
}  // namespace fredsim::scenario
