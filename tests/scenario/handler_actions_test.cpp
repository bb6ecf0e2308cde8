// [[handler.action]] and an event's `after`/`delay`: docs/scenarios.md "Handler
// actions and rendezvous". The loader's reading and errors, then the runs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::load_error;
using test::load_ok;

// --- loading -----------------------------------------------------------------------

constexpr std::string_view kActionHead = R"(name = "x"
[system]
cpus = 4
[[handler]]
name = "h"
[[handler.action]]
)";

TEST(HandlerActionLoad, ReadsEveryKey) {
  auto s = load_ok(std::string(kActionHead) + R"(on_call = 3
every = 4
cpu = 2
send = { dest = [3, 1], mode = "fixed", vector = 0x44, count = 7, work = ["h", "g"] }
[[handler.action]]
send = { dest = "self" }
[[handler]]
name = "g"
)");
  ASSERT_EQ(s.handlers.size(), 2u);
  ASSERT_EQ(s.handlers[0].actions.size(), 2u);
  const HandlerActionSpec& a = s.handlers[0].actions[0];
  EXPECT_EQ(a.on_call, 3u);
  EXPECT_EQ(a.every, 4u);
  EXPECT_EQ(a.cpu, CpuId{2});
  EXPECT_EQ(a.dest.kind, Destination::Kind::cpus);
  EXPECT_EQ(a.dest.cpus, (std::vector<CpuId>{1, 3}));
  EXPECT_EQ(a.mode, apic::DeliveryMode::fixed);
  EXPECT_EQ(a.vector, 0x44u);
  EXPECT_EQ(a.count, 7u);
  EXPECT_EQ(a.work, (std::vector<std::string>{"h", "g"})) << "work may name a later handler";
  EXPECT_EQ(a.loc.line, 6u);
  const HandlerActionSpec& b = s.handlers[0].actions[1];
  EXPECT_EQ(b.on_call, 0u) << "every call";
  EXPECT_EQ(b.every, 0u);
  EXPECT_FALSE(b.cpu);
  EXPECT_EQ(b.dest.kind, Destination::Kind::self);
  EXPECT_EQ(b.mode, apic::DeliveryMode::nmi);
  EXPECT_EQ(b.vector, 0u);
  EXPECT_EQ(b.count, 1u);
  EXPECT_TRUE(b.work.empty());
  EXPECT_TRUE(s.handlers[1].actions.empty());
}

TEST(HandlerActionLoad, SetReachesTheKeysOfActionsAndRendezvous) {
  const std::string text = std::string(kActionHead) + R"(send = { dest = 0 }
[[event]]
after = { handler = "h", calls = 2 }
type = "ipi"
dest = 1
)";
  auto s = load_ok(
      text, {Override{"handler.0.action.0.send.count=9"}, Override{"handler.0.action.0.on_call=4"},
             Override{"event.0.after.calls=5"}, Override{"event.0.delay=70"}});
  ASSERT_EQ(s.handlers[0].actions.size(), 1u);
  EXPECT_EQ(s.handlers[0].actions[0].count, 9u);
  EXPECT_EQ(s.handlers[0].actions[0].on_call, 4u);
  ASSERT_TRUE(s.events[0].after);
  EXPECT_EQ(s.events[0].after->calls, 5u);
  EXPECT_EQ(s.events[0].after->delay, 70u);
  EXPECT_EQ(load_error(text, {Override{"handler.0.action.0.send.count=0"}}),
            "error: --set handler.0.action.0.send.count=0: handler.action.send.count = 0 is out "
            "of range (1..1024)");
}

TEST(HandlerActionLoad, ActsOnTheCallsItNames) {
  HandlerActionSpec every_call;
  EXPECT_TRUE(every_call.acts_on(0, 1));
  EXPECT_TRUE(every_call.acts_on(3, 99));
  HandlerActionSpec one;
  one.on_call = 2;
  EXPECT_FALSE(one.acts_on(0, 1));
  EXPECT_TRUE(one.acts_on(0, 2));
  EXPECT_FALSE(one.acts_on(0, 4));
  HandlerActionSpec odd;
  odd.on_call = 1;
  odd.every = 2;
  odd.cpu = 1;
  EXPECT_TRUE(odd.acts_on(1, 1));
  EXPECT_FALSE(odd.acts_on(1, 2));
  EXPECT_TRUE(odd.acts_on(1, 3));
  EXPECT_TRUE(odd.acts_on(1, 99'999));
  EXPECT_FALSE(odd.acts_on(0, 1)) << "another CPU";
  HandlerActionSpec late;
  late.on_call = 5;
  late.every = 3;
  EXPECT_FALSE(late.acts_on(0, 2)) << "before on_call, even on its period";
  EXPECT_TRUE(late.acts_on(0, 5));
  EXPECT_TRUE(late.acts_on(0, 8));
  EXPECT_FALSE(late.acts_on(0, 9));
}

std::string action_error(std::string_view action) {
  return load_error(std::string(kActionHead) + std::string(action));
}

TEST(HandlerActionLoad, BadValuesAreLocatedErrors) {
  EXPECT_EQ(action_error("on_call = 0\nsend = { dest = 0 }\n"),
            "t.toml:7:11: error: handler.action.on_call = 0 is out of range (at least 1)");
  EXPECT_EQ(action_error("on_call = 1\nevery = 0\nsend = { dest = 0 }\n"),
            "t.toml:8:9: error: handler.action.every = 0 is out of range (at least 1)");
  EXPECT_EQ(action_error("every = 2\nsend = { dest = 0 }\n"),
            "t.toml:7:9: error: handler.action.every needs on_call = N (the first call it acts "
            "on)");
  EXPECT_EQ(action_error("cpu = 4\nsend = { dest = 0 }\n"),
            "t.toml:7:7: error: handler.action.cpu = 4 is not a CPU of this system (cpus = 4: "
            "0..3)");
  EXPECT_EQ(action_error("on_call = 1\n"),
            "t.toml:6:1: error: missing required key 'send' in [[handler.action]] of handler 'h' "
            "(the ICR writes the handler makes)");
  EXPECT_EQ(action_error("send = 3\n"),
            "t.toml:7:8: error: handler.action.send must be a table { dest = ..., mode = ..., "
            "vector = ..., count = ... }, not an integer");
  EXPECT_EQ(action_error("oncall = 1\nsend = { dest = 0 }\n"),
            "t.toml:7:1: error: unknown key 'oncall' in [[handler.action]] (allowed: on_call, "
            "every, cpu, send)");
}

TEST(HandlerActionLoad, BadSendsAreLocatedErrorsAsInAnIpiEvent) {
  EXPECT_EQ(action_error("send = { mode = \"nmi\" }\n"),
            "t.toml:7:8: error: missing required key 'dest' in handler.action.send");
  EXPECT_EQ(action_error("send = { dest = \"others\" }\n"),
            "t.toml:7:17: error: handler.action.send.dest = \"others\" is not one of \"self\" | "
            "\"all\" | \"all-but-self\", a CPU number or a list of CPU numbers");
  EXPECT_EQ(action_error("send = { dest = 9 }\n"),
            "t.toml:7:17: error: handler.action.send.dest = 9 is not a CPU of this system (cpus "
            "= 4: 0..3)");
  EXPECT_EQ(action_error("send = { dest = [1, 1] }\n"),
            "t.toml:7:21: error: handler.action.send.dest lists CPU 1 twice");
  EXPECT_NE(action_error("send = { dest = 0, mode = \"lowest\" }\n")
                .find("t.toml:7:27: error: handler.action.send.mode = \"lowest\" is not one of "),
            std::string::npos);
  EXPECT_EQ(action_error("send = { dest = 0, vector = 256 }\n"),
            "t.toml:7:29: error: handler.action.send.vector = 256 is out of range (0..255)");
  EXPECT_EQ(action_error("send = { dest = 0, count = 0 }\n"),
            "t.toml:7:28: error: handler.action.send.count = 0 is out of range (1..1024)");
  EXPECT_EQ(action_error("send = { dest = 0, count = 1025 }\n"),
            "t.toml:7:28: error: handler.action.send.count = 1025 is out of range (1..1024)");
  EXPECT_EQ(action_error("send = { dest = 0, work = \"nope\" }\n"),
            "t.toml:7:27: error: handler.action.send.work names no handler 'nope' (declared: h)");
  EXPECT_EQ(action_error("send = { dest = 0, from = 1 }\n"),
            "t.toml:7:20: error: unknown key 'from' in handler.action.send (allowed: dest, mode, "
            "vector, count, work)");
}

TEST(HandlerActionLoad, ActionMustBeAnArrayOfAtMost64Tables) {
  EXPECT_EQ(load_error("name = \"x\"\n[[handler]]\nname = \"h\"\naction = 3\n"),
            "t.toml:4:10: error: 'handler.action' must be an array of tables "
            "([[handler.action]]), not an integer");
  std::string many = "name = \"x\"\n[[handler]]\nname = \"h\"\n";
  for (int i = 0; i < 65; ++i)
    many += "[[handler.action]]\nsend = { dest = \"self\" }\n";
  EXPECT_EQ(load_error(many),
            "t.toml:132:1: error: handler 'h' has more than 64 [[handler.action]] tables");
  many.resize(many.size() - std::string("[[handler.action]]\nsend = { dest = \"self\" }\n").size());
  EXPECT_EQ(load_error(many), "");
}

constexpr std::string_view kAfterHead = R"(name = "x"
[system]
cpus = 4
[[handler]]
name = "h"
[[event]]
type = "ipi"
dest = 1
)";

std::string after_error(std::string_view keys) {
  return load_error(std::string(kAfterHead) + std::string(keys));
}

TEST(RendezvousLoad, ReadsAfterAndDelay) {
  auto s = load_ok(std::string(kAfterHead) + R"(after = { handler = "h", calls = 2, cpu = 3 }
delay = 150
count = 5
[[event]]
after = { handler = "arch_bt", calls = 1 }
type = "stop"
[[event]]
at = 10
type = "ipi"
dest = 2
)");
  ASSERT_EQ(s.events.size(), 3u);
  // Sorted by `at`, ties in file order: the two rendezvous (at 0) first.
  const EventSpec& a = s.events[0];
  ASSERT_TRUE(a.after);
  EXPECT_EQ(a.after->handler, "h");
  EXPECT_EQ(a.after->calls, 2u);
  EXPECT_EQ(a.after->cpu, CpuId{3});
  EXPECT_EQ(a.after->delay, 150u);
  EXPECT_EQ(a.count, 5u) << "count without every";
  EXPECT_EQ(a.every, 0u);
  const EventSpec& b = s.events[1];
  ASSERT_TRUE(b.after) << "a handler the kernel registers itself";
  EXPECT_EQ(b.after->handler, "arch_bt");
  EXPECT_FALSE(b.after->cpu);
  EXPECT_EQ(b.after->delay, 0u);
  EXPECT_EQ(b.count, 1u);
  EXPECT_FALSE(s.events[2].after);
}

TEST(RendezvousLoad, BadValuesAreLocatedErrors) {
  EXPECT_EQ(after_error("at = 5\nafter = { handler = \"h\", calls = 1 }\n"),
            "t.toml:10:9: error: event.after and event.at are exclusive: an event happens at a "
            "cycle or after a handler's calls, not both");
  EXPECT_EQ(after_error("after = { handler = \"nope\", calls = 1 }\n"),
            "t.toml:9:21: error: event.after.handler names no handler 'nope' (declared: h; or "
            "one the kernel registers: PMI, nmi_selftest, smp_stop, arch_bt, kgdb, mce)");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 0 }\n"),
            "t.toml:9:34: error: event.after.calls = 0 is out of range (at least 1)");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 1, cpu = 4 }\n"),
            "t.toml:9:43: error: event.after.cpu = 4 is not a CPU of this system (cpus = 4: "
            "0..3)");
  EXPECT_EQ(after_error("after = { handler = \"h\" }\n"),
            "t.toml:9:9: error: missing required key 'calls' in event.after");
  EXPECT_EQ(after_error("after = { calls = 2 }\n"),
            "t.toml:9:9: error: missing required key 'handler' in event.after");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 1, cycles = 3 }\n"),
            "t.toml:9:37: error: unknown key 'cycles' in event.after (allowed: handler, calls, "
            "cpu)");
  EXPECT_EQ(after_error("after = \"h\"\n"),
            "t.toml:9:9: error: event.after must be a table { handler = NAME, calls = N, cpu = C "
            "}, not a string");
  EXPECT_EQ(after_error("after = { handler = 3, calls = 1 }\n"),
            "t.toml:9:21: error: event.after.handler must be a string, not an integer");
  EXPECT_EQ(after_error("at = 0\ndelay = 10\n"),
            "t.toml:10:9: error: event.delay needs after = { handler = NAME, calls = N } (the "
            "delay counts from the call that meets it)");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 1 }\ndelay = -1\n"),
            "t.toml:10:9: error: event.delay = -1 is out of range (at least 0)");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 1 }\nevery = 5\ncount = 2\n"),
            "t.toml:10:9: error: event.every does not go with after: occurrence k of an event "
            "with after fires when the handler's count reaches k * calls, so `calls` is its "
            "period");
  EXPECT_EQ(after_error("after = { handler = \"h\", calls = 1 }\ncount = 0\n"),
            "t.toml:10:9: error: event.count = 0 is out of range (at least 1)");
  EXPECT_EQ(after_error("delay = 10\n"),
            "t.toml:9:9: error: event.delay needs after = { handler = NAME, calls = N } (the "
            "delay counts from the call that meets it)");
  EXPECT_EQ(after_error(""), "t.toml:6:1: error: missing required key 'at' in [[event]]");
}

TEST(RendezvousLoad, IntervalsDoNotTakeAfter) {
  const std::string e = load_error(R"(name = "x"
[system]
cpus = 2
[[handler]]
name = "h"
[[event]]
type = "user"
cpu = 1
after = { handler = "h", calls = 1 }
)");
  EXPECT_EQ(e.rfind("t.toml:9:1: error: unknown key 'after' in [[event]] of type \"user\"", 0), 0u)
      << e;
}

// --- runs --------------------------------------------------------------------------

/// The trace records of a run, kept as (cycle, cpu, event, text).
struct Rec {
  Cycle cycle;
  CpuId cpu;
  std::string event;
  std::string text;
};
class Records final : public TraceSink {
 public:
  void record(const TraceRecord& r) override {
    all.push_back({r.cycle, r.cpu, std::string(r.event), format_trace_text(r)});
  }
  std::vector<Rec> of(std::string_view event, std::string_view containing = "") const {
    std::vector<Rec> out;
    for (const Rec& r : all) {
      if (r.event == event && r.text.find(containing) != std::string::npos) out.push_back(r);
    }
    return out;
  }
  std::vector<Rec> all;
};

struct RunOut {
  ScenarioResult result;
  Records trace;
};

void run_text(std::string_view text, RunOut& out) {
  auto spec = load_scenario_string(text, "t.toml");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  RunOptions options;
  options.trace_sinks.push_back(&out.trace);
  auto r = SystemRunner{}.run(*spec, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  out.result = std::move(*r);
}

const HandlerResult& handler_of(const ScenarioResult& r, std::string_view name) {
  for (const auto& h : r.handlers) {
    if (h.name == name) return h;
  }
  ADD_FAILURE() << "no handler " << name;
  return r.handlers.front();
}

// One CPU sends itself an NMI; its handler, on its first call, sends `count`
// more to its own CPU (with work, so each is claimed).
std::string self_nmi(int count) {
  return R"(name = "self"
[system]
cpus = 1
[timing]
icr_write = 7
ipi_latency = 500
[[handler]]
name = "h"
check_cycles = 300
handle_cycles = 1000
[[handler.action]]
on_call = 1
send = { dest = "self", work = "h", count = )" +
         std::to_string(count) + R"( }
[[event]]
at = 100
type = "ipi"
dest = "self"
work = "h"
)";
}

TEST(HandlerActionRun, ASelfNmiFromAHandlerLatchesAndIsTakenAtTheReturn) {
  RunOut run;
  run_text(self_nmi(1), run);
  const auto& h = handler_of(run.result, "h");
  EXPECT_EQ(h.calls, 2u);
  EXPECT_EQ(h.handled, 2u);
  const CpuResult& c = run.result.cpus[0];
  EXPECT_EQ(c.nmi_received, 2u);
  EXPECT_EQ(c.nmi_coalesced, 0u);
  EXPECT_EQ(c.nmi_delivered, 2u);
  const auto calls = run.trace.of("handler_call");
  const auto sends = run.trace.of("ipi_send");
  const auto receives = run.trace.of("nmi_receive");
  const auto delivers = run.trace.of("nmi_deliver");
  const auto returns = run.trace.of("nmi_return");
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_EQ(sends.size(), 2u);
  ASSERT_EQ(receives.size(), 2u);
  ASSERT_EQ(delivers.size(), 2u);
  ASSERT_EQ(returns.size(), 2u);
  // The handler's write happens at its first call's cycle, inside it ...
  EXPECT_EQ(sends[1].cycle, calls[0].cycle);
  // ... the NMI arrives while NMIs are blocked (before the first return) and
  // waits, then is delivered at that return.
  EXPECT_LT(receives[1].cycle, returns[0].cycle);
  EXPECT_GT(receives[1].cycle, delivers[0].cycle);
  EXPECT_EQ(delivers[1].cycle, returns[0].cycle);
  // The write costs the call icr_write: 20 (handler_call) + 300 + 1000 + 7.
  EXPECT_NE(calls[0].text.find("cycles=1327"), std::string::npos) << calls[0].text;
  EXPECT_NE(calls[1].text.find("cycles=1320"), std::string::npos) << calls[1].text;
}

TEST(HandlerActionRun, SeveralSelfNmisCoalesceIntoOne) {
  RunOut run;
  run_text(self_nmi(10), run);
  const auto& h = handler_of(run.result, "h");
  EXPECT_EQ(h.calls, 2u) << "the ten NMIs run the handler once more, not ten times";
  EXPECT_EQ(h.handled, 11u) << "the second call finds the ten work items";
  const CpuResult& c = run.result.cpus[0];
  EXPECT_EQ(c.nmi_received, 11u);
  EXPECT_EQ(c.nmi_coalesced, 9u);
  EXPECT_EQ(c.nmi_delivered, 2u);
  EXPECT_EQ(c.lost, 0u);
  const auto calls = run.trace.of("handler_call");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[0].text.find("cycles=1390"), std::string::npos) << calls[0].text;
}

TEST(HandlerActionRun, OnCallCpuAndEverySelectTheCalls) {
  // Six NMIs to both CPUs; handler h acts on CPU 1's calls 2 and 5 (on_call 2,
  // every 3) with a fixed IPI 0x41 to CPU 0, and on every call of either CPU
  // with a fixed IPI 0x42 to CPU 2 (fixed IPIs: no more handler calls).
  RunOut run;
  run_text(R"(name = "select"
[system]
cpus = 3
[[handler]]
name = "h"
[[handler.action]]
on_call = 2
every = 3
cpu = 1
send = { dest = 0, mode = "fixed", vector = 0x41 }
[[handler.action]]
send = { dest = 2, mode = "fixed", vector = 0x42, count = 2 }
[[event]]
at = 0
type = "ipi"
dest = [0, 1]
every = 100_000
count = 6
)",
           run);
  EXPECT_EQ(handler_of(run.result, "h").calls, 12u);
  const auto calls1 = run.trace.of("handler_call");
  std::vector<Cycle> on_cpu1;
  for (const Rec& r : calls1) {
    if (r.cpu == 1) on_cpu1.push_back(r.cycle);
  }
  ASSERT_EQ(on_cpu1.size(), 6u);
  const auto first = run.trace.of("ipi_send", "icr=0x41 ");
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].cpu, 1u);
  EXPECT_EQ(first[0].cycle, on_cpu1[1]);
  EXPECT_EQ(first[1].cycle, on_cpu1[4]);
  const auto second = run.trace.of("ipi_send", "icr=0x200000042 ");
  EXPECT_EQ(second.size(), 24u) << "two writes on each of the 12 calls";
}

TEST(RendezvousRun, OccurrenceKFiresDelayAfterTheCallThatMakesKTimesCalls) {
  // CPU 1's handler h runs at each of 7 NMIs; the rendezvous event (an NMI with
  // vector 9 to CPU 0, handler g) counts h's calls on CPU 1 by threes: its
  // occurrences 1 and 2 follow calls 3 and 6, `delay` later; call 7 makes none.
  RunOut run;
  run_text(R"(name = "rendezvous"
[system]
cpus = 2
[[handler]]
name = "h"
vector = 5
[[handler]]
name = "g"
vector = 9
[[event]]
at = 1000
type = "ipi"
dest = 1
vector = 5
every = 50_000
count = 7
[[event]]
after = { handler = "h", calls = 3, cpu = 1 }
delay = 333
count = 4
type = "ipi"
dest = 0
vector = 9
)",
           run);
  std::vector<Cycle> h_calls;
  for (const Rec& r : run.trace.of("handler_call", "handler=h "))
    h_calls.push_back(r.cycle);
  ASSERT_EQ(h_calls.size(), 7u);
  const auto sends = run.trace.of("ipi_send", "icr=0x409");
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].cycle, h_calls[2] + 333);
  EXPECT_EQ(sends[1].cycle, h_calls[5] + 333);
  EXPECT_EQ(handler_of(run.result, "g").calls, 2u);
}

TEST(RendezvousRun, WithoutCpuItCountsEveryCpusCallsAndDelayZeroKeepsFileOrder) {
  // h runs once on CPU 1, then once on CPU 2: its second call in all (on CPU 2)
  // meets both rendezvous, which fire at that very cycle in file order (vector
  // 7, then 6), though their file positions are in reverse of their vectors'.
  RunOut run;
  run_text(R"(name = "total"
[system]
cpus = 3
[[handler]]
name = "h"
vector = 5
[[event]]
after = { handler = "h", calls = 2 }
type = "ipi"
dest = 0
vector = 7
[[event]]
at = 1000
type = "ipi"
dest = [1]
vector = 5
[[event]]
at = 90_000
type = "ipi"
dest = 2
vector = 5
[[event]]
after = { handler = "h", calls = 2 }
type = "ipi"
dest = 0
vector = 6
)",
           run);
  const auto h_calls = run.trace.of("handler_call", "handler=h ");
  ASSERT_EQ(h_calls.size(), 2u);
  EXPECT_EQ(h_calls[1].cpu, 2u);
  const auto sends = run.trace.of("ipi_send");
  ASSERT_EQ(sends.size(), 4u);
  EXPECT_EQ(sends[2].cycle, h_calls[1].cycle);
  EXPECT_NE(sends[2].text.find("icr=0x407"), std::string::npos) << sends[2].text;
  EXPECT_EQ(sends[3].cycle, h_calls[1].cycle);
  EXPECT_NE(sends[3].text.find("icr=0x406"), std::string::npos) << sends[3].text;
}

TEST(RendezvousRun, AKernelHandlerIsWatchedFromItsRegistration) {
  // PMI is registered by the kernel at the first pmi event; the rendezvous on
  // its second call sends CPU 0 an NMI with vector 9.
  RunOut run;
  run_text(R"(name = "kernel-handler"
[system]
cpus = 2
[[handler]]
name = "g"
vector = 9
[[event]]
at = 1000
type = "pmi"
cpu = 1
every = 40_000
count = 3
[[event]]
after = { handler = "PMI", calls = 2 }
delay = 10
type = "ipi"
dest = 0
vector = 9
)",
           run);
  const auto pmi_calls = run.trace.of("handler_call", "handler=PMI ");
  ASSERT_EQ(pmi_calls.size(), 3u);
  const auto sends = run.trace.of("ipi_send", "icr=0x409");
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].cycle, pmi_calls[1].cycle + 10);
  EXPECT_EQ(handler_of(run.result, "g").calls, 1u);
}

TEST(RendezvousRun, ALockstepLoopRunsItsIterations) {
  // "Send, wait until the handler has run once, send again": a first event at
  // cycle 0 and 999 more by rendezvous; each NMI runs h once.
  RunOut run;
  run_text(R"(name = "loop"
[system]
cpus = 2
[[handler]]
name = "h"
[[event]]
at = 0
type = "ipi"
from = 1
dest = 0
work = "h"
[[event]]
after = { handler = "h", calls = 1, cpu = 0 }
delay = 100
count = 999
type = "ipi"
from = 1
dest = 0
work = "h"
)",
           run);
  EXPECT_EQ(handler_of(run.result, "h").calls, 1000u);
  EXPECT_EQ(handler_of(run.result, "h").handled, 1000u);
  EXPECT_EQ(run.result.cpus[0].nmi_coalesced, 0u);
}

// Rendezvous with the same `after`, count and delay are met by the same calls:
// the driver queues the first and runs the others right after it when nothing
// comes between them in the order. These runs check that the order is the one
// a rendezvous of its own gives (the same scenario with a count that keeps the
// events apart, as it never runs out here) and the file order.

std::vector<std::string> send_texts(const RunOut& run) {
  std::vector<std::string> out;
  for (const auto& r : run.trace.of("ipi_send"))
    out.push_back(std::to_string(r.cycle) + " " + r.text);
  return out;
}

// Three events at the cycle a call on CPU 1 meets two rendezvous (file
// positions 0 and 2), and an event of file position 1 at `middle`.
std::string met_together(std::string_view middle, int second_count) {
  return std::string(R"(name = "together"
[system]
cpus = 3
[[handler]]
name = "h"
vector = 5
[[event]]
after = { handler = "h", calls = 1, cpu = 1 }
delay = 100
count = 1
type = "ipi"
dest = 0
mode = "fixed"
vector = 0x40
[[event]]
at = )") +
         std::string(middle) +
         R"(
type = "ipi"
dest = 2
mode = "fixed"
vector = 0x41
[[event]]
after = { handler = "h", calls = 1, cpu = 1 }
delay = 100
count = )" +
         std::to_string(second_count) +
         R"(
type = "ipi"
dest = 0
mode = "fixed"
vector = 0x42
[[event]]
at = 1000
type = "ipi"
dest = 1
vector = 5
)";
}

TEST(RendezvousRun, EventsMetTogetherRunInFileOrderWithAnEventBetweenThem) {
  RunOut probe;
  run_text(met_together("10_000_000", 1), probe);
  const auto calls = probe.trace.of("handler_call", "handler=h ");
  ASSERT_EQ(calls.size(), 1u);
  const Cycle met = calls[0].cycle + 100;
  // The event of file position 1 at the very cycle the two rendezvous fire:
  // it runs between them.
  RunOut together, apart;
  run_text(met_together(std::to_string(met), 1), together);
  run_text(met_together(std::to_string(met), 2), apart);
  const auto sends = together.trace.of("ipi_send");
  ASSERT_EQ(sends.size(), 4u);
  for (std::size_t i = 1; i < 4; ++i)
    EXPECT_EQ(sends[i].cycle, met) << sends[i].text;
  EXPECT_NE(sends[1].text.find("icr=0x40 "), std::string::npos) << sends[1].text;
  EXPECT_NE(sends[2].text.find("041 dest=[2]"), std::string::npos) << sends[2].text;
  EXPECT_NE(sends[3].text.find("icr=0x42 "), std::string::npos) << sends[3].text;
  EXPECT_EQ(send_texts(together), send_texts(apart));
}

TEST(RendezvousRun, EventsMetTwiceAtOneCycleRunInTheOrderOfTheirMeetings) {
  // An NMI to CPUs 1 and 2 runs h on both at one cycle: two calls, each
  // meeting both rendezvous (any CPU's calls), so each event has two
  // occurrences due at one cycle under one reserved number. They run in the
  // order of the schedules, each event's in file order: 0x50, 0x50, 0x51, 0x51.
  auto text = [](int second_count) {
    return R"(name = "twice"
[system]
cpus = 3
[[handler]]
name = "h"
vector = 5
[[event]]
after = { handler = "h", calls = 1 }
delay = 100
count = 2
type = "ipi"
dest = 0
mode = "fixed"
vector = 0x50
[[event]]
after = { handler = "h", calls = 1 }
delay = 100
count = )" +
           std::to_string(second_count) +
           R"(
type = "ipi"
dest = 0
mode = "fixed"
vector = 0x51
[[event]]
at = 1000
type = "ipi"
dest = [1, 2]
vector = 5
)";
  };
  RunOut together, apart;
  run_text(text(2), together);
  run_text(text(3), apart);
  const auto calls = together.trace.of("handler_call", "handler=h ");
  ASSERT_EQ(calls.size(), 2u);
  ASSERT_EQ(calls[0].cycle, calls[1].cycle) << "both CPUs call h at one cycle";
  const auto sends = together.trace.of("ipi_send", "icr=0x5");
  ASSERT_EQ(sends.size(), 4u);
  const char* want[] = {"icr=0x50 ", "icr=0x50 ", "icr=0x51 ", "icr=0x51 "};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sends[i].cycle, calls[0].cycle + 100);
    EXPECT_NE(sends[i].text.find(want[i]), std::string::npos) << i << ": " << sends[i].text;
  }
  EXPECT_EQ(send_texts(together), send_texts(apart));
}

}  // namespace
}  // namespace fredsim::scenario
