// Expectations on counters, console, panic and trace (docs/scenarios.md
// "Expectations on counters, console, panic and trace"), and handler
// expectations on the kernel's own handlers.
#include <gtest/gtest.h>

#include <array>
#include <regex>
#include <sstream>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_counts.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

std::vector<Override> sets(std::initializer_list<const char*> l) {
  std::vector<Override> out;
  for (const char* s : l)
    out.push_back(Override{s});
  return out;
}

std::vector<std::string> texts(const ScenarioSpec& spec) {
  std::vector<std::string> out;
  for (const auto& e : spec.expects)
    out.push_back(expectation_text(e));
  return out;
}

std::string summary_of(const ScenarioResult& r) {
  std::ostringstream out;
  write_summary(out, r);
  return out.str();
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// --- counter ---------------------------------------------------------------------

constexpr std::string_view kCounters = R"(name = "c"
[system]
cpus = 4
[[expect]]
counter = "nmi_received"
cpu = 0
equals = 2
[[expect]]
counter = "nmi_coalesced"
at_least = 1
at_most = 3
[[expect]]
counter = "dispatch_cycles"
equals = 700
[[expect]]
counter = "swallow"
cpu = 2
equals = 0
[[expect]]
counter = "lost"
equals = 0
)";

TEST(ExpectCounter, Texts) {
  EXPECT_EQ(texts(load_ok(kCounters)), (std::vector<std::string>{
                                           "counter nmi_received on cpu 0: == 2",
                                           "counter nmi_coalesced: >= 1",
                                           "counter nmi_coalesced: <= 3",
                                           "counter dispatch_cycles: == 700",
                                           "counter swallow on cpu 2: == 0",
                                           "counter lost: == 0",
                                       }));
}

TEST(ExpectCounter, ReadsEachCounterPerCpuOrSummed) {
  ScenarioSpec spec = load_ok(kCounters);
  ScenarioResult r = empty_result(spec);
  r.cpus[0].nmi_received = 2;
  r.cpus[1].nmi_received = 5;  // not CPU 0's
  r.cpus[1].nmi_coalesced = 2;
  r.cpus[3].nmi_coalesced = 2;  // 4 in all: above at_most
  r.cpus[0].dispatch_cycles = 300;
  r.cpus[2].dispatch_cycles = 400;
  r.cpus[1].stats.swallow = 9;  // not CPU 2's
  r.cpus[3].lost = 1;
  apply_expectations(spec, r);
  std::vector<bool> passed;
  std::vector<std::uint64_t> actual;
  for (const auto& e : r.expectations) {
    passed.push_back(e.passed);
    actual.push_back(e.actual);
  }
  EXPECT_EQ(passed, (std::vector<bool>{true, true, false, true, true, false}));
  EXPECT_EQ(actual, (std::vector<std::uint64_t>{2, 4, 4, 700, 0, 1}));
  EXPECT_FALSE(r.passed);
  const std::string s = summary_of(r);
  EXPECT_TRUE(has(s, "  FAIL  counter nmi_coalesced: <= 3  (actual: 4)\n")) << s;
  EXPECT_TRUE(has(s, "  FAIL  counter lost: == 0  (actual: 1)\n")) << s;
  EXPECT_TRUE(has(s, "  PASS  counter nmi_received on cpu 0: == 2\n")) << s;
  const std::string j = to_json(r);
  EXPECT_TRUE(has(j, R"({"text":"counter lost: == 0","passed":false,"actual":1,"expected":0})"))
      << j;
}

TEST(ExpectCounter, EveryCounterOfTheTableIsANameAndReadsItsField) {
  CpuResult c;
  c.nmi_received = 1;
  c.nmi_coalesced = 2;
  c.nmi_delivered = 3;
  c.vm_exits_nmi = 4;
  c.dispatch_cycles = 5;
  c.stats.normal = 6;
  c.stats.unknown = 7;
  c.stats.external = 8;
  c.stats.swallow = 9;
  c.lost = 10;
  c.vm_exits_nmi_window = 11;
  c.vm_exits_from_hlt = 12;
  c.vm_entry_failures = 13;
  c.shadow = ShadowCounts{14, 15, 16};
  c.pmi_dropped = 17;
  std::vector<std::string> names;
  std::vector<std::uint64_t> values;
  for (const CpuCounter& k : cpu_counters()) {
    names.emplace_back(k.name);
    values.push_back(k.get(c));
    EXPECT_EQ(find_cpu_counter(k.name), &k);
    // Each loads as a counter expectation.
    EXPECT_EQ(load_error(std::string(kHead) + "[[expect]]\ncounter = \"" + std::string(k.name) +
                         "\"\nequals = 0\n"),
              "");
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "nmi_received", "nmi_coalesced", "nmi_delivered", "vm_exits_nmi",
                       "dispatch_cycles", "normal", "unknown", "external", "swallow", "lost",
                       "vm_exits_nmi_window", "vm_exits_from_hlt", "vm_entry_failures", "shadows",
                       "nmi_deferred_shadow", "nmi_at_shadow_rip", "pmi_dropped"}));
  EXPECT_EQ(values, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                                16, 17}));
  EXPECT_EQ(find_cpu_counter("faults"), nullptr);
}

TEST(ExpectCounter, ResultJsonWritesTheTableInItsOrder) {
  ScenarioSpec spec = load_ok("name = \"j\"\n");
  ScenarioResult r = empty_result(spec);
  r.cpus[0].nmi_received = 3;
  r.cpus[0].stats.swallow = 2;
  r.cpus[0].lost = 1;
  EXPECT_TRUE(has(to_json(r),
                  R"("cpus":[{"id":0,"nmi_received":3,"nmi_coalesced":0,"nmi_delivered":0,)"
                  R"("vm_exits_nmi":0,"dispatch_cycles":0,"stats":{"normal":0,"unknown":0,)"
                  R"("external":0,"swallow":2},"lost":1}])"))
      << to_json(r);
}

TEST(ExpectCounter, OverridesReplaceAndAddValues) {
  ScenarioSpec spec = load_ok(kCounters, sets({"expect.0.equals=3", "expect.4.at_most=1"}));
  ASSERT_EQ(spec.expects.size(), 7u);
  EXPECT_EQ(expectation_text(spec.expects[0]), "counter nmi_received on cpu 0: == 3");
  EXPECT_EQ(expectation_text(spec.expects[6]), "counter lost: <= 1");
  EXPECT_EQ(spec.expects[6].loc.set_arg, "expect.4.at_most=1");
  EXPECT_EQ(load_error(kCounters, sets({"expect.0.counter=faults"})),
            "error: --set expect.0.counter=faults: expect.counter = \"faults\" is not a per-CPU "
            "counter of the result (one of \"nmi_received\" | \"nmi_coalesced\" | "
            "\"nmi_delivered\" | \"vm_exits_nmi\" | \"dispatch_cycles\" | \"normal\" | "
            "\"unknown\" | \"external\" | \"swallow\" | \"lost\" | \"vm_exits_nmi_window\" | "
            "\"vm_exits_from_hlt\" | \"vm_entry_failures\" | \"shadows\" | "
            "\"nmi_deferred_shadow\" | \"nmi_at_shadow_rip\" | \"pmi_dropped\")");
}

TEST(ExpectCounter, Errors) {
  const std::string h = std::string(kHead) + "[[expect]]\n";
  EXPECT_EQ(load_error(h + "counter = \"faults\"\nequals = 1\n"),
            "t.toml:5:11: error: expect.counter = \"faults\" is not a per-CPU counter of the "
            "result (one of \"nmi_received\" | \"nmi_coalesced\" | \"nmi_delivered\" | "
            "\"vm_exits_nmi\" | \"dispatch_cycles\" | \"normal\" | \"unknown\" | \"external\" | "
            "\"swallow\" | \"lost\" | \"vm_exits_nmi_window\" | \"vm_exits_from_hlt\" | "
            "\"vm_entry_failures\" | \"shadows\" | \"nmi_deferred_shadow\" | "
            "\"nmi_at_shadow_rip\" | \"pmi_dropped\")");
  EXPECT_EQ(load_error(h + "counter = \"lost\"\n"),
            "t.toml:4:1: error: [[expect]] for a counter needs equals = N, at_least = N or "
            "at_most = N");
  EXPECT_EQ(load_error(h + "counter = \"lost\"\ncount = 1\n"),
            "t.toml:6:9: error: expect.count goes with console and trace; a counter expectation "
            "takes equals, at_least or at_most");
  EXPECT_EQ(load_error(h + "counter = \"lost\"\ncalls = 1\n"),
            "t.toml:6:9: error: expect.calls goes with handler; a counter expectation takes "
            "equals, at_least or at_most");
  EXPECT_EQ(load_error(h + "counter = 3\nequals = 1\n"),
            "t.toml:5:11: error: expect.counter must be a string, not an integer");
  EXPECT_EQ(load_error(h + "counter = \"lost\"\nstat = \"lost\"\nequals = 1\n"),
            "t.toml:4:1: error: [[expect]] takes one of 'handler', 'stat', 'counter', "
            "'console', 'panic', 'trace': not both 'stat' and 'counter'");
  EXPECT_EQ(load_error(h + "counter = \"lost\"\ncpu = 4\nequals = 1\n"),
            "t.toml:6:7: error: expect.cpu = 4 is not a CPU of this system (cpus = 4: 0..3)");
}

// --- console ---------------------------------------------------------------------

constexpr std::string_view kConsole = R"(name = "k"
[system]
cpus = 4
[[expect]]
console = 'NMI backtrace for cpu [0-9]+'
count = 2
[[expect]]
console = 'NMI backtrace for cpu [0-9]+'
cpu = 1
at_most = 0
[[expect]]
console = '^Good'
[[expect]]
console = 'Kernel panic'
at_least = 1
)";

ScenarioResult console_result(const ScenarioSpec& spec) {
  ScenarioResult r = empty_result(spec);
  r.console.push_back({10, 1, "NMI backtrace for cpu 1"});
  r.console.push_back({20, 2, "NMI backtrace for cpu 2"});
  r.console.push_back({30, 2, "NMI backtrace for cpu x"});  // no digit: no match
  r.console.push_back({40, kNoCpu, "Good, all 2 testcases passed!"});
  r.console.push_back({50, 0, "not Good at the start"});
  return r;
}

TEST(ExpectConsole, TextsAndDefaultAtLeastOne) {
  ScenarioSpec spec = load_ok(kConsole);
  EXPECT_EQ(texts(spec), (std::vector<std::string>{
                             "console \"NMI backtrace for cpu [0-9]+\": lines == 2",
                             "console \"NMI backtrace for cpu [0-9]+\" on cpu 1: lines <= 0",
                             "console \"^Good\": lines >= 1",
                             "console \"Kernel panic\": lines >= 1",
                         }));
  EXPECT_EQ(spec.expects[2].loc.line, 11u);  // the table's line when no count is given
}

TEST(ExpectConsole, CountsMatchingLinesOnACpuOrAll) {
  ScenarioSpec spec = load_ok(kConsole);
  ScenarioResult r = console_result(spec);
  apply_expectations(spec, r);
  std::vector<bool> passed;
  std::vector<std::uint64_t> actual;
  for (const auto& e : r.expectations) {
    passed.push_back(e.passed);
    actual.push_back(e.actual);
  }
  EXPECT_EQ(passed, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(actual, (std::vector<std::uint64_t>{2, 1, 1, 0}));
  const std::string s = summary_of(r);
  EXPECT_TRUE(has(s,
                  "  FAIL  console \"NMI backtrace for cpu [0-9]+\" on cpu 1: lines <= 0  "
                  "(actual: 1)\n"))
      << s;
  EXPECT_TRUE(has(s, "  FAIL  console \"Kernel panic\": lines >= 1  (actual: 0)\n")) << s;
  EXPECT_TRUE(has(to_json(r), R"("actual":0,"expected":1})"));
}

TEST(ExpectConsole, OverridesReplaceTheCount) {
  ScenarioSpec spec = load_ok(kConsole, sets({"expect.0.count=3", "expect.2.at_most=0"}));
  ASSERT_EQ(spec.expects.size(), 4u);  // expect.2: at_most replaces the default
  EXPECT_EQ(expectation_text(spec.expects[0]),
            "console \"NMI backtrace for cpu [0-9]+\": lines == 3");
  EXPECT_EQ(expectation_text(spec.expects[2]), "console \"^Good\": lines <= 0");
  EXPECT_EQ(spec.expects[0].loc.set_arg, "expect.0.count=3");
  ScenarioResult r = console_result(spec);
  apply_expectations(spec, r);
  EXPECT_FALSE(r.expectations[0].passed);
  EXPECT_EQ(r.expectations[0].actual, 2u);
  EXPECT_FALSE(r.expectations[2].passed);
}

TEST(ExpectConsole, Errors) {
  const std::string h = std::string(kHead) + "[[expect]]\n";
  EXPECT_EQ(load_error(h + "console = 'a(b'\n"),
            "t.toml:5:11: error: expect.console = \"a(b\" is not a regular expression "
            "(ECMAScript): " +
                std::string(std::regex_error(std::regex_constants::error_paren).what()));
  EXPECT_TRUE(has(load_error(h + "console = '[z-a]'\n"), "t.toml:5:11: error: expect.console"));
  EXPECT_EQ(load_error(h + "console = '" + std::string(1025, 'a') + "'\n"),
            "t.toml:5:11: error: expect.console is 1025 characters long; a pattern has at most "
            "1024");
  EXPECT_EQ(load_error(h + "console = 'x'\nequals = 1\n"),
            "t.toml:6:10: error: expect.equals goes with stat and counter; a console expectation "
            "takes count, at_least or at_most");
  EXPECT_EQ(load_error(h + "console = 'x'\ncount = -1\n"),
            "t.toml:6:9: error: expect.count = -1 is out of range (at least 0)");
  EXPECT_EQ(load_error(h + "console = 'x'\nwhere = { cpu = 1 }\n"),
            "t.toml:6:9: error: expect.where goes with trace; a console expectation takes count, "
            "at_least or at_most");
}

// --- panic -----------------------------------------------------------------------

TEST(ExpectPanic, HoldsOrFailsWithTheActualTruth) {
  ScenarioSpec spec = load_ok(std::string(kHead) +
                              "[[expect]]\npanic = false\n[[expect]]\n"
                              "panic = true\n");
  EXPECT_EQ(texts(spec), (std::vector<std::string>{"panic: == false", "panic: == true"}));
  EXPECT_EQ(spec.expects[1].loc.line, 7u);
  ScenarioResult calm = empty_result(spec);
  apply_expectations(spec, calm);
  EXPECT_TRUE(calm.expectations[0].passed);
  EXPECT_FALSE(calm.expectations[1].passed);
  EXPECT_TRUE(has(summary_of(calm), "  FAIL  panic: == true  (actual: false)\n"));

  ScenarioResult panicked = empty_result(spec);
  panicked.panic = PanicRecord{100, 0, "NMI: Not continuing"};
  apply_expectations(spec, panicked);
  EXPECT_FALSE(panicked.expectations[0].passed);
  EXPECT_TRUE(panicked.expectations[1].passed);
  EXPECT_EQ(panicked.expectations[0].actual, 1u);
  EXPECT_EQ(panicked.expectations[0].expected, 0u);
  EXPECT_TRUE(has(summary_of(panicked), "  FAIL  panic: == false  (actual: true)\n"));
  EXPECT_TRUE(has(to_json(panicked),
                  R"({"text":"panic: == false","passed":false,"actual":1,"expected":0})"));
}

TEST(ExpectPanic, AnUnknownNmiPanicIsSeenInARealRun) {
  // unknown_nmi_panic: an NMI no handler claims panics the kernel.
  auto spec = load_scenario_string(std::string(kHead) +
                                       "[kernel]\nunknown_nmi_panic = true\n[[event]]\nat = 0\n"
                                       "type = \"ipi\"\ndest = 1\n[[expect]]\npanic = false\n",
                                   "p.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(*spec, *r);
  ASSERT_TRUE(r->panic.has_value());
  EXPECT_FALSE(r->passed);
  EXPECT_EQ(r->expectations[0].actual, 1u);
}

TEST(ExpectPanic, Errors) {
  const std::string h = std::string(kHead) + "[[expect]]\n";
  EXPECT_EQ(load_error(h + "panic = 1\n"),
            "t.toml:5:9: error: expect.panic must be true or false, not an integer");
  EXPECT_EQ(load_error(h + "panic = true\ncpu = 1\n"),
            "t.toml:6:7: error: expect.cpu goes with handler, stat, counter and console; a panic "
            "expectation takes only panic = true or false");
  EXPECT_EQ(load_error(h + "panic = true\nat_least = 1\n"),
            "t.toml:6:12: error: expect.at_least goes with stat, counter, console and trace; a "
            "panic expectation takes only panic = true or false");
}

// --- trace -----------------------------------------------------------------------

// The selftest on 4 CPUs: 3 remote test NMIs, then 1 to CPU 0 itself.
constexpr std::string_view kTrace = R"(name = "t"
[system]
cpus = 4
[[event]]
at = 0
type = "selftest"
from = 0
[[expect]]
trace = "handler_call"
where = { handler = "nmi_selftest", returned = 1 }
count = 4
[[expect]]
trace = "handler_call"
where = { cpu = 2, handler = "nmi_selftest" }
count = 1
[[expect]]
trace = "nmi_receive"
where = { coalesced = false, cpu = 3 }
at_least = 2
[[expect]]
trace = "ipi_send"
where = { icr = "0x401", dest = [0] }
[[expect]]
trace = "nmi_outcome"
where = { outcome = "unknown" }
count = 0
[[expect]]
trace = "nmi_deliver"
where = { path = "idt" }
count = 0
[[expect]]
trace = "panic"
)";

TEST(ExpectTrace, TextsInFileOrder) {
  EXPECT_EQ(texts(load_ok(kTrace)),
            (std::vector<std::string>{
                "trace handler_call where handler = \"nmi_selftest\", returned = 1: records == 4",
                "trace handler_call where cpu = 2, handler = \"nmi_selftest\": records == 1",
                "trace nmi_receive where coalesced = false, cpu = 3: records >= 2",
                "trace ipi_send where icr = 0x401, dest = [0]: records >= 1",
                "trace nmi_outcome where outcome = \"unknown\": records == 0",
                "trace nmi_deliver where path = \"idt\": records == 0",
                "trace panic: records >= 1",
            }));
}

TEST(ExpectTrace, ARunCountsRecordsWithoutATraceBeingAskedFor) {
  auto spec = load_scenario_string(kTrace, "t.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  RunOptions options;  // no sink of the caller's
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(*spec, *r);
  std::vector<bool> passed;
  std::vector<std::uint64_t> actual;
  for (const auto& e : r->expectations) {
    passed.push_back(e.passed);
    actual.push_back(e.actual);
  }
  EXPECT_EQ(actual, (std::vector<std::uint64_t>{4, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(passed, (std::vector<bool>{true, true, false, true, true, true, false}));
  const std::string s = summary_of(*r);
  EXPECT_TRUE(has(s,
                  "  FAIL  trace nmi_receive where coalesced = false, cpu = 3: records >= 2  "
                  "(actual: 1)\n"))
      << s;
  EXPECT_TRUE(has(s, "  FAIL  trace panic: records >= 1  (actual: 0)\n")) << s;
}

TEST(ExpectTrace, CountsMatchWhatTheTraceShows) {
  // The same run with a trace asked for: each count is the number of records
  // of the text trace with those fields.
  auto spec = load_scenario_string(kTrace, "t.toml");
  ASSERT_TRUE(spec.ok());
  MemoryTraceSink trace;
  RunOptions options;
  options.trace_sinks.push_back(&trace);
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok());
  std::uint64_t calls = 0, on_cpu2 = 0;
  for (const auto& l : trace.lines()) {
    if (!has(l, " handler_call handler=nmi_selftest ")) continue;
    if (has(l, " returned=1 ")) ++calls;
    if (has(l, " cpu=2 ")) ++on_cpu2;
  }
  ASSERT_EQ(r->trace_counts.size(), 7u);
  EXPECT_EQ(r->trace_counts[0], calls);
  EXPECT_EQ(r->trace_counts[1], on_cpu2);
}

TEST(ExpectTrace, HexStringsMatchHexFieldsByValue) {
  ScenarioSpec spec = load_ok(std::string(kHead) +
                              "[[expect]]\ntrace = \"vm_exit\"\nwhere = { exit_qualification = "
                              "\"0x10\", cpu = 1 }\n");
  ASSERT_EQ(spec.expects.size(), 1u);
  const ExpectSpec& e = spec.expects[0];
  const TraceField f16[] = {{"reason", TraceValue::dec(0)},
                            {"exit_qualification", TraceValue::hex(0x10)}};
  const TraceField f8[] = {{"reason", TraceValue::dec(0)},
                           {"exit_qualification", TraceValue::hex(0x8)}};
  EXPECT_TRUE(trace_matches(e, TraceRecord{5, 1, "vm_exit", f16}));
  EXPECT_FALSE(trace_matches(e, TraceRecord{5, 1, "vm_exit", f8}));
  EXPECT_FALSE(trace_matches(e, TraceRecord{5, 2, "vm_exit", f16}));       // another CPU
  EXPECT_FALSE(trace_matches(e, TraceRecord{5, kNoCpu, "vm_exit", f16}));  // no CPU
  EXPECT_FALSE(trace_matches(e, TraceRecord{5, 1, "vm_entry", f16}));      // another type
  EXPECT_EQ(expectation_text(e),
            "trace vm_exit where exit_qualification = 0x10, cpu = 1: records >= 1");
}

TEST(ExpectTrace, ListsMatchInAnyOrderAndBooleansByValue) {
  ScenarioSpec spec = load_ok(std::string(kHead) +
                              "[[expect]]\ntrace = \"ipi_send\"\nwhere = { dest = [3, 1] }\n"
                              "[[expect]]\ntrace = \"nmi_receive\"\nwhere = { coalesced = true, "
                              "pending_bitmap = \"0x82\" }\n");
  ASSERT_EQ(spec.expects.size(), 2u);
  const CpuId d13[] = {1, 3};
  const CpuId d123[] = {1, 2, 3};
  const CpuId d3[] = {3};
  auto send = [](std::span<const CpuId> d) {
    return std::array<TraceField, 2>{TraceField{"icr", TraceValue::hex(0x402)},
                                     TraceField{"dest", TraceValue::cpu_list(d)}};
  };
  const auto s13 = send(d13), s123 = send(d123), s3 = send(d3);
  EXPECT_TRUE(trace_matches(spec.expects[0], TraceRecord{0, 0, "ipi_send", s13}));
  EXPECT_FALSE(trace_matches(spec.expects[0], TraceRecord{0, 0, "ipi_send", s123}));
  EXPECT_FALSE(trace_matches(spec.expects[0], TraceRecord{0, 0, "ipi_send", s3}));
  const TraceField yes[] = {{"vector", TraceValue::dec(7)},
                            {"pending_bitmap", TraceValue::hex(0x82)},
                            {"coalesced", TraceValue::boolean(true)}};
  const TraceField no[] = {{"vector", TraceValue::dec(7)},
                           {"pending_bitmap", TraceValue::hex(0x82)},
                           {"coalesced", TraceValue::boolean(false)}};
  EXPECT_TRUE(trace_matches(spec.expects[1], TraceRecord{0, 2, "nmi_receive", yes}));
  EXPECT_FALSE(trace_matches(spec.expects[1], TraceRecord{0, 2, "nmi_receive", no}));
}

TEST(ExpectTrace, WithoutTraceExpectationsNothingIsCounted) {
  auto spec = load_scenario_string(std::string(kHead) +
                                       "[[event]]\nat = 0\ntype = \"selftest\"\n[[expect]]\n"
                                       "counter = \"nmi_received\"\nequals = 4\n",
                                   "n.toml");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(TraceCountSink(spec->expects).active());
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->trace_counts.empty());
  apply_expectations(*spec, *r);
  EXPECT_TRUE(r->passed);
}

TEST(ExpectTrace, ASessionCountsToo) {
  auto spec = load_scenario_string(kTrace, "t.toml");
  ASSERT_TRUE(spec.ok());
  RunOptions options;
  auto session = SystemRunner{}.start(*spec, options);
  ASSERT_TRUE(session.ok());
  (*session)->run_to(kMaxCycle);
  ScenarioResult r = (*session)->result();
  ASSERT_EQ(r.trace_counts.size(), 7u);
  EXPECT_EQ(r.trace_counts[0], 4u);
}

TEST(ExpectTrace, OverridesReplaceCountAndWhere) {
  ScenarioSpec spec = load_ok(kTrace, sets({"expect.1.count=0", "expect.1.where.cpu=3"}));
  EXPECT_EQ(expectation_text(spec.expects[1]),
            "trace handler_call where cpu = 3, handler = \"nmi_selftest\": records == 0");
  // A field the file did not give comes after those it did.
  EXPECT_EQ(
      expectation_text(load_ok(kTrace, sets({"expect.0.where.cpu=1"})).expects[0]),
      "trace handler_call where handler = \"nmi_selftest\", returned = 1, cpu = 1: records == "
      "4");
  RunOptions options;
  auto r = SystemRunner{}.run(spec, options);
  ASSERT_TRUE(r.ok());
  apply_expectations(spec, *r);
  EXPECT_FALSE(r->expectations[1].passed);
  EXPECT_EQ(r->expectations[1].actual, 1u);
}

TEST(ExpectTrace, Errors) {
  const std::string h = std::string(kHead) + "[[expect]]\n";
  std::string events;
  for (const auto& e : trace_event_fields())
    events += (events.empty() ? "\"" : " | \"") + std::string(e.event) + "\"";
  EXPECT_EQ(load_error(h + "trace = \"vm_exits\"\n"),
            "t.toml:5:9: error: expect.trace = \"vm_exits\" is not a trace record type (one of " +
                events + ")");
  EXPECT_TRUE(has(events, "\"ipi_send\" | \"nmi_receive\" | \"nmi_deliver\""));
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\nwhere = { qualification = 1 }\n"),
            "t.toml:6:11: error: expect.where.qualification: vm_exit records have no field "
            "'qualification' (fields: cpu, reason, name, exit_qualification, intr_info, "
            "guest_rip, activity)");
  EXPECT_EQ(load_error(h + "trace = \"nmi_deliver\"\nwhere = { frame = 1 }\n"),
            "t.toml:6:11: error: expect.where.frame: nmi_deliver records have no field 'frame' "
            "(fields: cpu, path, vector, event_data, new_rsp, csl)");
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\nwhere = 3\n"),
            "t.toml:6:9: error: expect.where must be a table ({ field = value, ... }), not an "
            "integer");
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\nwhere = { reason = 1.5 }\n"),
            "t.toml:6:20: error: expect.where.reason must be an integer, a \"0x..\" hex string, a "
            "string, true or false, or a list of integers, not a float");
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\nwhere = { cpu = 4 }\n"),
            "t.toml:6:17: error: expect.where.cpu = 4 is not a CPU of this system (cpus = 4: "
            "0..3)");
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\ncpu = 1\n"),
            "t.toml:6:7: error: expect.cpu goes with handler, stat, counter and console; a trace "
            "expectation names the record's CPU in where = { cpu = N }");
  EXPECT_EQ(load_error(h + "trace = \"vm_exit\"\nequals = 1\n"),
            "t.toml:6:10: error: expect.equals goes with stat and counter; a trace expectation "
            "takes where = { field = value, ... } and count, at_least or at_most");
  EXPECT_EQ(load_error(h + "trace = \"ipi_send\"\nwhere = { dest = [1, -1] }\n"),
            "t.toml:6:22: error: expect.where.dest = -1 is out of range (at least 0)");
}

// --- handlers the kernel registers ----------------------------------------------

TEST(ExpectHandler, TheKernelsOwnHandlersNeedNoDeclaration) {
  auto spec = load_scenario_string(std::string(kHead) +
                                       "[[event]]\nat = 0\ntype = \"selftest\"\n[[expect]]\n"
                                       "handler = \"nmi_selftest\"\ncalls = 4\nhandled = 4\n"
                                       "[[expect]]\nhandler = \"smp_stop\"\ncalls = 1\n",
                                   "h.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok());
  apply_expectations(*spec, *r);
  ASSERT_EQ(r->expectations.size(), 3u);
  EXPECT_TRUE(r->expectations[0].passed);
  EXPECT_TRUE(r->expectations[1].passed);
  // smp_stop never ran: it counts 0.
  EXPECT_FALSE(r->expectations[2].passed);
  EXPECT_EQ(r->expectations[2].actual, 0u);
  EXPECT_TRUE(has(summary_of(*r), "  FAIL  handler smp_stop: calls == 1  (actual: 0)\n"));
}

TEST(ExpectHandler, AnUnknownNameListsDeclaredAndKernelHandlers) {
  EXPECT_EQ(load_error(std::string(kHead) + "[[handler]]\nname = \"bt\"\n[[expect]]\n"
                                            "handler = \"nmi_selftst\"\ncalls = 1\n"),
            "t.toml:7:11: error: expect.handler names no handler 'nmi_selftst' (declared: bt; "
            "registered by the kernel: PMI, nmi_selftest, smp_stop, arch_bt, kgdb, mce)");
}

}  // namespace
}  // namespace fredsim::scenario
