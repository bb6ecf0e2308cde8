#include "fredsim/scenario/loader.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

TEST(Loader, MinimalFileTakesEveryDefault) {
  ScenarioSpec s = load_ok("name = \"min\"\n");
  EXPECT_EQ(s.name, "min");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.source_name, "t.toml");
  EXPECT_EQ(s.system.cpus, 1u);
  EXPECT_EQ(s.system.delivery, Delivery::fred);
  EXPECT_TRUE(s.system.nmi_source);
  EXPECT_EQ(s.system.apic, apic::ApicMode::x2apic);
  EXPECT_EQ(s.system.kernel, kernel::Revision::v7);
  EXPECT_EQ(s.system.timing, "default");
  EXPECT_EQ(s.system.seed, 1u);
  EXPECT_FALSE(s.system.end.has_value());
  EXPECT_EQ(s.system.frequency_mhz, 2000u);
  EXPECT_FALSE(s.kernel.unknown_nmi_panic);
  EXPECT_FALSE(s.kernel.panic_on_unrecovered_nmi);
  EXPECT_FALSE(s.kernel.panic_on_io_nmi);
  EXPECT_EQ(s.kernel.ignore_nmis, 0u);
  EXPECT_EQ(s.kernel.nmi_longest_ns, 1'000'000u);
  EXPECT_TRUE(s.timing.empty());
  EXPECT_TRUE(s.handlers.empty());
  EXPECT_TRUE(s.events.empty());
  EXPECT_TRUE(s.expects.empty());
}

TEST(Loader, IdtDeliveryDefaultsNmiSourceOff) {
  ScenarioSpec s = load_ok("name = \"x\"\n[system]\ndelivery = \"idt\"\n");
  EXPECT_EQ(s.system.delivery, Delivery::idt);
  EXPECT_FALSE(s.system.nmi_source);
}

constexpr std::string_view kFull = R"(name = "full"
description = "every key"

[system]
cpus = 16
delivery = "fred"
nmi_source = true
apic = "xapic"
kernel = "v5"
timing = "default"
seed = 42
end = 1_000_000
frequency_mhz = 3000

[timing]
vm_exit = 1200
ipi_latency = 900

[kernel]
unknown_nmi_panic = true
panic_on_unrecovered_nmi = true
panic_on_io_nmi = true
ignore_nmis = 1
nmi_longest_ns = 500_000

[[handler]]
name = "perf"
type = "local"
vector = 7
first = true
model = "pmi"
check_cycles = 400
handle_cycles = 1500

[[handler]]
name = "hp"
type = "io_check"

[[event]]
at = 1000
type = "ipi"
from = 2
dest = [5, 1]
mode = "fixed"
vector = 200
work = ["perf", "hp"]

[[event]]
at = 2000
type = "pmi"
cpu = 3
counters = 2
every = 500
count = 4

[[event]]
at = 3000
type = "external"
cpu = 4
reason = "iochk"
work = "hp"

[[event]]
at = 0
type = "guest"
cpu = 2
until = 500_000
nmi_exiting = false

[[event]]
at = 10
type = "user"
cpu = 1
until = 20

[[event]]
at = 4000
type = "backtrace"
from = 1
dest = "all"

[[expect]]
handler = "perf"
cpu = 3
calls = 1
handled = 2

[[expect]]
stat = "lost"
at_least = 1
at_most = 3
)";

TEST(Loader, ReadsEveryKey) {
  ScenarioSpec s = load_ok(kFull);
  EXPECT_EQ(s.description, "every key");
  EXPECT_EQ(s.system.cpus, 16u);
  EXPECT_EQ(s.system.apic, apic::ApicMode::xapic);
  EXPECT_EQ(s.system.kernel, kernel::Revision::v5);
  EXPECT_EQ(s.system.seed, 42u);
  ASSERT_TRUE(s.system.end.has_value());
  EXPECT_EQ(*s.system.end, 1'000'000u);
  EXPECT_EQ(s.system.frequency_mhz, 3000u);
  EXPECT_EQ(s.system.loc.line, 4u);
  EXPECT_EQ(s.system.keys.loc_of("cpus", s.system.loc).line, 5u);

  ASSERT_EQ(s.timing.size(), 2u);
  // Ordered by parameter name (toml++ tables are sorted maps).
  EXPECT_EQ(s.timing[0].param, TimingParam::ipi_latency);
  EXPECT_EQ(s.timing[0].cycles, 900u);
  EXPECT_EQ(s.timing[0].loc.line, 17u);
  EXPECT_EQ(s.timing[1].param, TimingParam::vm_exit);
  EXPECT_EQ(s.timing[1].cycles, 1200u);

  EXPECT_TRUE(s.kernel.unknown_nmi_panic);
  EXPECT_TRUE(s.kernel.panic_on_unrecovered_nmi);
  EXPECT_TRUE(s.kernel.panic_on_io_nmi);
  EXPECT_EQ(s.kernel.ignore_nmis, 1u);
  EXPECT_EQ(s.kernel.nmi_longest_ns, 500'000u);

  ASSERT_EQ(s.handlers.size(), 2u);
  const HandlerSpec& perf = s.handlers[0];
  EXPECT_EQ(perf.name, "perf");
  EXPECT_EQ(perf.type, kernel::NmiType::local);
  EXPECT_EQ(perf.vector, 7u);
  EXPECT_TRUE(perf.first);
  EXPECT_EQ(perf.model, kernel::HandlerModel::pmi);
  EXPECT_EQ(perf.check_cycles, 400u);
  EXPECT_EQ(perf.handle_cycles, 1500u);
  EXPECT_EQ(perf.loc.line, 26u);
  const HandlerSpec& hp = s.handlers[1];
  EXPECT_EQ(hp.type, kernel::NmiType::io_check);
  EXPECT_EQ(hp.vector, 0u);
  EXPECT_FALSE(hp.first);
  EXPECT_EQ(hp.model, kernel::HandlerModel::device);
  EXPECT_FALSE(hp.check_cycles.has_value());
  EXPECT_FALSE(hp.handle_cycles.has_value());

  // Sorted by cycle: guest(0), user(10), ipi(1000), pmi(2000), external(3000), backtrace(4000).
  ASSERT_EQ(s.events.size(), 6u);
  const EventSpec& guest = s.events[0];
  EXPECT_EQ(guest.type, EventType::guest);
  EXPECT_EQ(guest.cpu, 2u);
  EXPECT_EQ(guest.until, 500'000u);
  EXPECT_FALSE(guest.nmi_exiting);
  EXPECT_EQ(guest.file_index, 3u);
  const EventSpec& user = s.events[1];
  EXPECT_EQ(user.type, EventType::user);
  EXPECT_EQ(user.until, 20u);
  const EventSpec& ipi = s.events[2];
  EXPECT_EQ(ipi.type, EventType::ipi);
  EXPECT_EQ(ipi.at, 1000u);
  EXPECT_EQ(ipi.from, 2u);
  EXPECT_EQ(ipi.dest.kind, Destination::Kind::cpus);
  EXPECT_EQ(ipi.dest.cpus, (std::vector<CpuId>{1, 5}));
  EXPECT_EQ(ipi.mode, apic::DeliveryMode::fixed);
  EXPECT_EQ(ipi.vector, 200u);
  EXPECT_EQ(ipi.work, (std::vector<std::string>{"perf", "hp"}));
  EXPECT_EQ(ipi.loc.line, 39u);
  const EventSpec& pmi = s.events[3];
  EXPECT_EQ(pmi.cpu, 3u);
  EXPECT_EQ(pmi.counters, 2u);
  EXPECT_EQ(pmi.every, 500u);
  EXPECT_EQ(pmi.count, 4u);
  EXPECT_EQ(pmi.last_occurrence(), 3500u);
  const EventSpec& ext = s.events[4];
  EXPECT_EQ(ext.reason, machine::NmiReason::iochk);
  EXPECT_EQ(ext.work, (std::vector<std::string>{"hp"}));
  const EventSpec& bt = s.events[5];
  EXPECT_EQ(bt.type, EventType::backtrace);
  EXPECT_EQ(bt.from, 1u);
  EXPECT_EQ(bt.dest.kind, Destination::Kind::all);

  // One ExpectSpec per checked quantity.
  ASSERT_EQ(s.expects.size(), 4u);
  EXPECT_EQ(s.expects[0].kind, ExpectSpec::Kind::handler_calls);
  EXPECT_EQ(s.expects[0].handler, "perf");
  EXPECT_EQ(s.expects[0].cpu, 3u);
  EXPECT_EQ(s.expects[0].value, 1u);
  EXPECT_EQ(s.expects[1].kind, ExpectSpec::Kind::handler_handled);
  EXPECT_EQ(s.expects[1].value, 2u);
  EXPECT_EQ(s.expects[2].kind, ExpectSpec::Kind::stat);
  EXPECT_EQ(s.expects[2].stat, StatKind::lost);
  EXPECT_EQ(s.expects[2].cmp, Comparison::at_least);
  EXPECT_FALSE(s.expects[2].cpu.has_value());
  EXPECT_EQ(s.expects[3].cmp, Comparison::at_most);
  EXPECT_EQ(s.expects[3].value, 3u);
}

TEST(Loader, EventDefaults) {
  ScenarioSpec s = load_ok(R"(name = "d"
[system]
cpus = 4
[[event]]
at = 5
type = "ipi"
dest = "self"
[[event]]
at = 6
type = "guest"
cpu = 1
[[event]]
at = 7
type = "pmi"
cpu = 2
[[event]]
at = 8
type = "stop"
[[event]]
at = 9
type = "external"
)");
  ASSERT_EQ(s.events.size(), 5u);
  EXPECT_EQ(s.events[0].mode, apic::DeliveryMode::nmi);
  EXPECT_EQ(s.events[0].from, 0u);
  EXPECT_EQ(s.events[0].vector, 0u);
  EXPECT_EQ(s.events[0].dest.kind, Destination::Kind::self);
  EXPECT_TRUE(s.events[0].work.empty());
  EXPECT_EQ(s.events[0].count, 1u);
  EXPECT_EQ(s.events[0].every, 0u);
  EXPECT_TRUE(s.events[1].nmi_exiting);
  EXPECT_FALSE(s.events[1].until.has_value());
  EXPECT_EQ(s.events[2].counters, 1u);
  EXPECT_EQ(s.events[3].dest.kind, Destination::Kind::all_but_self);
  EXPECT_EQ(s.events[4].cpu, 0u);
  EXPECT_EQ(s.events[4].reason, machine::NmiReason::none);
}

TEST(Loader, DestinationForms) {
  ScenarioSpec s = load_ok(R"(name = "d"
[system]
cpus = 8
[[event]]
at = 1
type = "ipi"
dest = "all"
[[event]]
at = 2
type = "ipi"
dest = "all-but-self"
[[event]]
at = 3
type = "ipi"
dest = 7
[[event]]
at = 4
type = "ipi"
dest = [6, 0, 3]
)");
  ASSERT_EQ(s.events.size(), 4u);
  EXPECT_EQ(s.events[0].dest.kind, Destination::Kind::all);
  EXPECT_EQ(s.events[1].dest.kind, Destination::Kind::all_but_self);
  EXPECT_EQ(s.events[2].dest.cpus, (std::vector<CpuId>{7}));
  EXPECT_EQ(s.events[3].dest.cpus, (std::vector<CpuId>{0, 3, 6}));
  EXPECT_EQ(to_string(s.events[3].dest), "[0, 3, 6]");
  EXPECT_EQ(to_string(s.events[2].dest), "7");
  EXPECT_EQ(to_string(s.events[1].dest), "all-but-self");
}

TEST(Loader, EventsSortByCycleAndTiesKeepFileOrder) {
  std::string text = "name = \"sort\"\n[system]\ncpus = 2\n";
  const int ats[] = {300, 100, 300, 100, 0, 300};
  for (int at : ats) {
    text += "[[event]]\ntype = \"pmi\"\ncpu = 1\nat = " + std::to_string(at) + "\n";
  }
  ScenarioSpec s = load_ok(text);
  ASSERT_EQ(s.events.size(), 6u);
  std::vector<std::size_t> order;
  for (const auto& e : s.events)
    order.push_back(e.file_index);
  EXPECT_EQ(order, (std::vector<std::size_t>{4, 1, 3, 0, 2, 5}));
  for (std::size_t i = 1; i < s.events.size(); ++i) {
    EXPECT_LE(s.events[i - 1].at, s.events[i].at);
  }
}

TEST(Loader, HandlersMayFollowTheEventsThatNameThem) {
  ScenarioSpec s = load_ok(R"(name = "late"
[system]
cpus = 2
[[event]]
at = 1
type = "ipi"
dest = 1
work = "late"
[[handler]]
name = "late"
)");
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].work.front(), "late");
}

TEST(Loader, ExampleScenariosLoad) {
  for (const char* name : {"demo.toml", "selftest.toml", "serr.toml"}) {
    auto r = load_scenario_file(test::source_dir() + "/scenarios/" + name);
    EXPECT_TRUE(r.ok()) << name << ": " << r.error().message;
  }
}

// --- Limits (docs/scenarios.md "Limits") ------------------------------------------------

TEST(LoaderLimits, CostsAreAtMostTwoToThe31) {
  const std::string h = "name = \"x\"\n[[handler]]\nname = \"a\"\n";
  // 2^63-1 used to load and wrap the simulator's sums.
  EXPECT_EQ(load_error(h + "check_cycles = 9223372036854775807\n"),
            "t.toml:4:16: error: handler.check_cycles = 9223372036854775807 is out of range (at "
            "most 2147483648 (2^31))");
  EXPECT_EQ(load_error(h + "handle_cycles = 2147483649\n"),
            "t.toml:4:17: error: handler.handle_cycles = 2147483649 is out of range (at most "
            "2147483648 (2^31))");
  EXPECT_EQ(load_error("name = \"x\"\n[timing]\nvm_exit = 2147483649\n"),
            "t.toml:3:11: error: timing.vm_exit = 2147483649 is out of range (at most 2147483648 "
            "(2^31))");
  ScenarioSpec s = load_ok(h +
                           "check_cycles = 2147483648\nhandle_cycles = 0\n[timing]\n"
                           "vm_exit = 2147483648\n");
  EXPECT_EQ(*s.handlers[0].check_cycles, kMaxCost);
  EXPECT_EQ(s.timing[0].cycles, kMaxCost);
  // core_mhz is the clock: the range of system.frequency_mhz.
  EXPECT_EQ(load_error("name = \"x\"\n[timing]\ncore_mhz = 0\n"),
            "t.toml:3:12: error: timing.core_mhz = 0 is out of range (1..1000000)");
  EXPECT_EQ(load_error("name = \"x\"\n[timing]\ncore_mhz = 9223372036854775807\n"),
            "t.toml:3:12: error: timing.core_mhz = 9223372036854775807 is out of range "
            "(1..1000000)");
  // ... and is that clock: it sets system.frequency_mhz, never a second clock.
  const ScenarioSpec c = load_ok("name = \"x\"\n[timing]\ncore_mhz = 1000000\n");
  EXPECT_EQ(c.system.frequency_mhz, 1'000'000u);
  EXPECT_TRUE(c.timing.empty());
  EXPECT_EQ(load_ok("name = \"x\"\n[system]\nfrequency_mhz = 500\n[timing]\ncore_mhz = 500\n")
                .system.frequency_mhz,
            500u);
  EXPECT_EQ(load_error("name = \"x\"\n[system]\nfrequency_mhz = 500\n[timing]\ncore_mhz = 400\n"),
            "t.toml:5:12: error: timing.core_mhz = 400 disagrees with system.frequency_mhz = 500: "
            "a run has one clock; set system.frequency_mhz only");
}

TEST(LoaderLimits, TimesEndAtTwoToThe50) {
  EXPECT_EQ(kMaxCycle, Cycle{1} << 50);
  const std::string pmi = std::string(kHead) + "[[event]]\ntype = \"pmi\"\ncpu = 1\n";
  // An event at 2^63-1 used to load and end past the documented range.
  EXPECT_EQ(load_error(pmi + "at = 9223372036854775807\n"),
            "t.toml:7:6: error: event.at = 9223372036854775807 is out of range (at most "
            "1125899906842624 (2^50, the end of simulated time))");
  EXPECT_EQ(load_error(pmi + "at = 1125899906842625\n"),
            "t.toml:7:6: error: event.at = 1125899906842625 is out of range (at most "
            "1125899906842624 (2^50, the end of simulated time))");
  EXPECT_EQ(load_ok(pmi + "at = 1125899906842624\n").events[0].at, kMaxCycle);
  EXPECT_EQ(load_error("name = \"x\"\n[system]\nend = 1125899906842625\n"),
            "t.toml:3:7: error: system.end = 1125899906842625 is out of range (at most "
            "1125899906842624 (2^50, the end of simulated time))");
  const std::string user = std::string(kHead) + "[[event]]\nat = 0\ntype = \"user\"\ncpu = 1\n";
  EXPECT_EQ(load_error(user + "until = 1125899906842625\n"),
            "t.toml:8:9: error: event.until = 1125899906842625 is out of range (at most "
            "1125899906842624 (2^50, the end of simulated time))");
}

TEST(LoaderLimits, TheLastRepeatEndsByTwoToThe50) {
  const std::string pmi =
      std::string(kHead) + "[[event]]\ntype = \"pmi\"\ncpu = 1\n";  // at on line 7
  // every = 1, count = 2^63-1 used to load and never end.
  EXPECT_EQ(load_error(pmi + "at = 0\nevery = 1\ncount = 9223372036854775807\n"),
            "t.toml:9:9: error: event repeats past cycle 2^50, the end of simulated time (at = "
            "0, every = 1, count = 9223372036854775807: the last occurrence would be at cycle "
            "9223372036854775806)");
  // Past 64 bits: the checked product does not wrap into a small cycle.
  EXPECT_EQ(load_error(pmi + "at = 5\nevery = 9223372036854775807\ncount = 9223372036854775807\n"),
            "t.toml:9:9: error: event repeats past cycle 2^63-1 (at = 5, every = "
            "9223372036854775807, count = 9223372036854775807)");
  // The last occurrence exactly at 2^50 is in time; one cycle later is not.
  ScenarioSpec s = load_ok(pmi + "at = 1024\nevery = 1024\ncount = 1099511627776\n");
  EXPECT_EQ(s.events[0].last_occurrence(), kMaxCycle);
  EXPECT_EQ(load_error(pmi + "at = 1025\nevery = 1024\ncount = 1099511627776\n"),
            "t.toml:9:9: error: event repeats past cycle 2^50, the end of simulated time (at = "
            "1025, every = 1024, count = 1099511627776: the last occurrence would be at cycle "
            "1125899906842625)");
  // A huge period with one occurrence is no repeat at all.
  EXPECT_EQ(load_ok(pmi + "at = 7\nevery = 9223372036854775807\ncount = 1\n").events[0].at, 7u);
}

// --- Overlapping intervals -----------------------------------------------------------------

std::string interval(std::string_view type, int cpu, std::uint64_t at,
                     std::optional<std::uint64_t> until = {}) {
  std::string out = "[[event]]\ntype = \"" + std::string(type) +
                    "\"\ncpu = " + std::to_string(cpu) + "\nat = " + std::to_string(at) + "\n";
  if (until) out += "until = " + std::to_string(*until) + "\n";
  return out;
}

TEST(LoaderIntervals, OverlapOnOneCpuIsAnErrorAtTheSecond) {
  const std::string head(kHead);  // lines 1-3; each interval then takes 4 or 5 lines
  // Two guests on CPU 2: the second starts before the first ends.
  EXPECT_EQ(load_error(head + interval("guest", 2, 0, 1000) + interval("guest", 2, 500, 900)),
            "t.toml:12:6: error: [[event]] of type \"guest\" on CPU 2 (cycles 500..900) overlaps "
            "the \"guest\" interval at t.toml:4:1 (cycles 0..1000): cycles 500..900 would be in "
            "both, and a CPU is in one guest or user interval at a time");
  // The error is at the interval that starts later, whichever comes first in the file.
  EXPECT_EQ(load_error(head + interval("user", 1, 300, 900) + interval("guest", 1, 100, 400)),
            "t.toml:7:6: error: [[event]] of type \"user\" on CPU 1 (cycles 300..900) overlaps "
            "the \"guest\" interval at t.toml:9:1 (cycles 100..400): cycles 300..400 would be in "
            "both, and a CPU is in one guest or user interval at a time");
  // Open-ended: to the end of the run.
  EXPECT_EQ(load_error(head + interval("user", 0, 10) + interval("user", 0, 5000, 6000)),
            "t.toml:11:6: error: [[event]] of type \"user\" on CPU 0 (cycles 5000..6000) overlaps "
            "the \"user\" interval at t.toml:4:1 (cycles 10 to the end of the run): cycles "
            "5000..6000 would be in both, and a CPU is in one guest or user interval at a time");
  // Same start: the later in the file is the second.
  EXPECT_NE(load_error(head + interval("guest", 3, 50) + interval("guest", 3, 50))
                .find("t.toml:11:6: error: [[event]] of type \"guest\" on CPU 3"),
            std::string::npos);
  // An interval inside a long one that an unrelated one follows: still found.
  EXPECT_NE(load_error(head + interval("user", 1, 0, 10000) + interval("user", 1, 100, 200) +
                       interval("user", 1, 300, 400))
                .find("t.toml:12:6: error: [[event]] of type \"user\" on CPU 1 (cycles "
                      "100..200)"),
            std::string::npos);
}

TEST(LoaderIntervals, DisjointOrTouchingInFileOrderLoad) {
  const std::string head(kHead);
  // Other CPUs, one after another, and back to back in file order.
  ScenarioSpec s = load_ok(head + interval("guest", 1, 0, 1000) + interval("guest", 2, 0, 1000) +
                           interval("user", 1, 1000, 2000) + interval("guest", 1, 2500));
  EXPECT_EQ(s.events.size(), 4u);
  // Back to back the other way round: at cycle 1000 the start would run first.
  EXPECT_EQ(load_error(head + interval("user", 1, 1000, 2000) + interval("guest", 1, 0, 1000)),
            "t.toml:7:6: error: [[event]] of type \"user\" on CPU 1 starts at cycle 1000, where "
            "the \"guest\" interval at t.toml:9:1 (cycles 0..1000) ends, but comes before it in "
            "the file, so it would start first: put it after that one");
  // One that starts after the run's end never starts.
  load_ok("name = \"x\"\n[system]\ncpus = 2\nend = 100\n" + interval("user", 1, 0) +
          interval("user", 1, 200));
}

// --- Input that is not text, or not a file --------------------------------------------------

TEST(LoaderInput, NulAndInvalidUtf8AreLocatedErrors) {
  using namespace std::string_literals;
  EXPECT_EQ(load_error("name = \"x\"\ndescription = \"a\0b\"\n"s),
            "t.toml:2:17: error: a NUL byte: a scenario is UTF-8 text");
  EXPECT_EQ(load_error("name = \"x\"\n# \0\n"s),
            "t.toml:2:3: error: a NUL byte: a scenario is UTF-8 text");
  // Overlong, surrogate, past U+10FFFF, cut short.
  for (std::string bad :
       {"\xff"s, "\xc0\xaf"s, "\xed\xa0\x80"s, "\xf4\x90\x80\x80"s, "\xe2\x82"s}) {
    const std::string text = "name = \"x\"\ndescription = \"ab" + bad + "\"\n";
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(bad[0]));
    EXPECT_EQ(load_error(text), "t.toml:2:18: error: invalid UTF-8 (byte " + std::string(byte) +
                                    "): a scenario is UTF-8 text");
  }
  // In a comment too, where a parser might not look.
  EXPECT_EQ(load_error("name = \"x\" # \xe2\x82\n"),
            "t.toml:1:14: error: invalid UTF-8 (byte 0xe2): a scenario is UTF-8 text");
}

TEST(LoaderInput, KeysOfMoreThan16PartsAreRefusedBeforeParsing) {
  // A key of a million parts (2 MB) used to overflow the stack (SIGSEGV).
  std::string deep = "name = \"x\"\n# a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\n" +
                     std::string("s = \"\"\"\na.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r\n\"\"\"\n");
  for (int i = 0; i < 1'000'000; ++i)
    deep += "a.";
  deep += "a = 1\n";
  EXPECT_EQ(load_error(deep),
            "t.toml:6:1: error: a key or table name of more than 16 parts (a scenario's have at "
            "most 3: event.2.at)");
  // The same in a table name, and with quoted parts.
  EXPECT_EQ(load_error("name = \"x\"\n[ \"a\".b.'c'.d.e.f.g.h.i.j.k.l.m.n.o.p.q ]\n"),
            "t.toml:2:3: error: a key or table name of more than 16 parts (a scenario's have at "
            "most 3: event.2.at)");
  // 16 parts are only an unknown key; dots in strings, comments and numbers count for nothing.
  EXPECT_EQ(load_error("name = \"x\"\na.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p = 1\n"),
            "t.toml:2:1: error: unknown key 'a' at the top level (allowed: name, description, "
            "system, timing, kernel, vm, handler, event, expect)");
  load_ok(
      "name = \"x\" # a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s\ndescription = "
      "'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s'\n");
}

TEST(LoaderInput, OnlyRegularFilesOfAtMost64MiB) {
  test::TempDir dir;
  const std::string fifo = dir.path("fifo.toml");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO for reading used to block until a writer came.
  auto f = load_scenario_file(fifo);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, fifo + ": error: is a FIFO, not a regular file");
  // /dev/zero used to be read until memory ran out.
  auto z = load_scenario_file("/dev/zero");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().message, "/dev/zero: error: is a character device, not a regular file");
  auto d = load_scenario_file(dir.path(""));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message.find("error: is a directory, not a regular file"),
            d.error().message.size() - std::strlen("error: is a directory, not a regular file"));
  // A sparse file one byte over the cap: refused without reading it.
  const std::string big = dir.write("big.toml", "name = \"x\"\n");
  std::filesystem::resize_file(big, (std::uintmax_t{64} << 20) + 1);
  auto b = load_scenario_file(big);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, big + ": error: file too large (more than 64 MiB)");
}

// --- What an error quotes ---------------------------------------------------------------------

TEST(LoaderEcho, QuotedValuesAreClipped) {
  const std::string huge(10'000'000, 'x');
  const std::string e = load_error("name = \"x\"\n[system]\ndelivery = \"" + huge + "\"\n");
  EXPECT_EQ(e, "t.toml:3:12: error: system.delivery = \"" + std::string(64, 'x') +
                   "... (10000000 bytes)\" is not one of \"fred\" | \"idt\"");
  const std::string k = load_error("name = \"x\"\n[system]\n" + huge + " = 1\n");
  EXPECT_EQ(k.rfind("t.toml:3:1: error: unknown key '" + std::string(64, 'x') +
                        "... (10000000 bytes)' in [system]",
                    0),
            0u)
      << k.substr(0, 200);
  // Never half a UTF-8 character, and a control character stays off the line.
  // (Byte 64 is the second byte of a 'ż': the quote stops before it.)
  const std::string z =
      load_error("name = \"x\"\n[system]\ndelivery = \"a\\n" + std::string(61, 'x') +
                 "\xc5\xbc\xc5\xbc" + std::string(40, 'y') + "\"\n");
  EXPECT_NE(z.find("\"a?" + std::string(61, 'x') + "... (107 bytes)\""), std::string::npos) << z;
  // A handler list is cut after eight names.
  std::string many = std::string(kHead);
  for (int i = 0; i < 20; ++i)
    many += "[[handler]]\nname = \"h" + std::to_string(i) + "\"\n";
  EXPECT_EQ(load_error(many + "[[expect]]\nhandler = \"nope\"\ncalls = 1\n"),
            "t.toml:45:11: error: expect.handler names no handler 'nope' (declared: h0, h1, h2, "
            "h3, h4, h5, h6, h7, ... (20 in all); registered by the kernel: PMI, nmi_selftest, "
            "smp_stop, arch_bt, kgdb, mce)");
}

}  // namespace
}  // namespace fredsim::scenario
