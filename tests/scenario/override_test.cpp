// --set KEY=VALUE overrides, applied to the TOML tree before validation.
#include <gtest/gtest.h>

#include "fredsim/scenario/loader.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::load_error;
using test::load_ok;

constexpr std::string_view kBase = R"(name = "base"
[system]
cpus = 8
delivery = "fred"
[timing]
vm_exit = 1000
[[handler]]
name = "perf"
vector = 7
[[handler]]
name = "bt"
vector = 4
)";

std::vector<Override> sets(std::initializer_list<const char*> l) {
  std::vector<Override> out;
  for (const char* s : l)
    out.push_back(Override{s});
  return out;
}

TEST(Override, Boolean) {
  ScenarioSpec s = load_ok(kBase, sets({"system.nmi_source=false"}));
  EXPECT_FALSE(s.system.nmi_source);
  EXPECT_EQ(s.system.keys.loc_of("nmi_source", {}).set_arg, "system.nmi_source=false");
}

TEST(Override, IntegersWithUnderscores) {
  EXPECT_EQ(load_ok(kBase, sets({"system.cpus=64"})).system.cpus, 64u);
  EXPECT_EQ(load_ok(kBase, sets({"system.cpus=1_024"})).system.cpus, 1024u);
  EXPECT_EQ(load_ok(kBase, sets({"system.end=2_000_000"})).system.end, 2'000'000u);
}

TEST(Override, TimingParameterReplacesAndAdds) {
  ScenarioSpec s = load_ok(kBase, sets({"timing.vm_exit=900", "timing.erets=70"}));
  ASSERT_EQ(s.timing.size(), 2u);
  EXPECT_EQ(s.timing[0].param, TimingParam::erets);
  EXPECT_EQ(s.timing[1].param, TimingParam::vm_exit);
  EXPECT_EQ(s.timing[1].cycles, 900u);
  EXPECT_EQ(s.timing[1].loc.set_arg, "timing.vm_exit=900");
}

TEST(Override, BareAndQuotedStrings) {
  ScenarioSpec a = load_ok(kBase, sets({"system.delivery=idt", "system.nmi_source=false"}));
  EXPECT_EQ(a.system.delivery, Delivery::idt);
  ScenarioSpec b = load_ok(kBase, sets({"system.apic=\"xapic\""}));
  EXPECT_EQ(b.system.apic, apic::ApicMode::xapic);
  ScenarioSpec c = load_ok(kBase, sets({"system.kernel='v5'"}));
  EXPECT_EQ(c.system.kernel, kernel::Revision::v5);
}

TEST(Override, TopLevelName) {
  EXPECT_EQ(load_ok(kBase, sets({"name=other"})).name, "other");
  EXPECT_EQ(load_ok(kBase, sets({"name=\"two words\""})).name, "two words");
  EXPECT_EQ(load_ok(kBase, sets({"name=two words"})).name, "two words");
}

TEST(Override, CreatesAMissingTable) {
  ScenarioSpec s =
      load_ok("name = \"x\"\n", sets({"system.cpus=4", "kernel.panic_on_io_nmi=true"}));
  EXPECT_EQ(s.system.cpus, 4u);
  EXPECT_TRUE(s.kernel.panic_on_io_nmi);
}

TEST(Override, IndexIntoArrayOfTables) {
  ScenarioSpec s = load_ok(kBase, sets({"handler.1.vector=3", "handler.0.first=true"}));
  EXPECT_EQ(s.handlers[1].vector, 3u);
  EXPECT_TRUE(s.handlers[0].first);
}

TEST(Override, LaterOverrideWins) {
  EXPECT_EQ(load_ok(kBase, sets({"system.cpus=2", "system.cpus=3"})).system.cpus, 3u);
}

TEST(OverrideError, Syntax) {
  EXPECT_EQ(load_error(kBase, sets({"system.cpus"})),
            "error: --set system.cpus: expected KEY=VALUE (e.g. system.cpus=64)");
  EXPECT_EQ(load_error(kBase, sets({"=3"})), "error: --set =3: missing KEY before '='");
  EXPECT_EQ(load_error(kBase, sets({"system.cpus="})),
            "error: --set system.cpus=: missing VALUE after '='");
  EXPECT_EQ(load_error(kBase, sets({"system..cpus=1"})),
            "error: --set system..cpus=1: KEY must be a dotted path of names (e.g. system.cpus)");
  EXPECT_EQ(load_error(kBase, sets({"sys tem.cpus=1"})),
            "error: --set sys tem.cpus=1: 'sys tem' is not a key name (letters, digits, _ and -)");
  EXPECT_TRUE(check_override_syntax("a.b=1").ok());
  EXPECT_FALSE(check_override_syntax("a.b").ok());
}

TEST(OverrideError, BadPath) {
  EXPECT_EQ(load_error(kBase, sets({"nosuch.key=1"})),
            "error: --set nosuch.key=1: unknown key 'nosuch' at the top level (allowed: name, "
            "description, system, timing, kernel, vm, handler, event, expect)");
  EXPECT_EQ(load_error(kBase, sets({"system.cpux=1"})),
            "error: --set system.cpux=1: unknown key 'cpux' in [system] (allowed: cpus, delivery, "
            "nmi_source, apic, kernel, timing, seed, end, frequency_mhz)");
  EXPECT_EQ(load_error(kBase, sets({"name.first=1"})),
            "error: --set name.first=1: 'name' is a string, not a table");
  EXPECT_EQ(load_error(kBase, sets({"system=3"})),
            "error: --set system=3: 'system' is a table; set a key inside it (system.KEY=VALUE)");
  EXPECT_EQ(load_error(kBase, sets({"handler.vector=3"})),
            "error: --set handler.vector=3: 'handler' is an array of tables: give an index and a "
            "key (handler.0.KEY)");
  EXPECT_EQ(load_error(kBase, sets({"handler.x.vector=3"})),
            "error: --set handler.x.vector=3: 'handler' is an array of tables: 'x' is not an "
            "index (handler.0.KEY)");
  EXPECT_EQ(load_error(kBase, sets({"handler.2.vector=3"})),
            "error: --set handler.2.vector=3: 'handler' has 2 entries, so index 2 is out of range");
  EXPECT_EQ(
      load_error(kBase, sets({"timing.vm_exitt=3"}))
          .rfind("error: --set timing.vm_exitt=3: unknown timing parameter 'vm_exitt' in [timing] "
                 "(allowed: ",
                 0),
      0u);
}

TEST(OverrideError, BadValue) {
  EXPECT_EQ(load_error(kBase, sets({"system.cpus=abc"})),
            "error: --set system.cpus=abc: system.cpus must be an integer, not a string");
  EXPECT_EQ(load_error(kBase, sets({"system.cpus=0"})),
            "error: --set system.cpus=0: system.cpus = 0 is out of range (1..4096)");
  EXPECT_EQ(load_error(kBase, sets({"system.nmi_source=yes"})),
            "error: --set system.nmi_source=yes: system.nmi_source must be true or false, not a "
            "string");
  EXPECT_EQ(load_error(kBase, sets({"system.delivery=fredd"})),
            "error: --set system.delivery=fredd: system.delivery = \"fredd\" is not one of "
            "\"fred\" | \"idt\"");
  std::string e = load_error(kBase, sets({"name=\"unterminated"}));
  EXPECT_EQ(e.rfind("error: --set name=\"unterminated: '\"unterminated' is not a TOML value: ", 0),
            0u)
      << e;
}

TEST(OverrideError, InconsistencyInTheFileIsReportedAtTheFile) {
  // The override is fine on its own; the file's nmi_source = true then conflicts.
  EXPECT_EQ(
      load_error("name = \"x\"\n[system]\nnmi_source = true\n", sets({"system.delivery=idt"})),
      "t.toml:3:14: error: nmi_source = true needs delivery = \"fred\" (NMI-source reports "
      "the bitmap as FRED event data; IDT delivery has none)");
  EXPECT_EQ(
      load_error("name = \"x\"\n[system]\ndelivery = \"idt\"\n", sets({"system.nmi_source=true"})),
      "error: --set system.nmi_source=true: nmi_source = true needs delivery = \"fred\" "
      "(NMI-source reports the bitmap as FRED event data; IDT delivery has none)");
}

TEST(OverrideError, IntegerBeyond64BitsIsOutOfTheKeysRange) {
  // It used to become the string "99999999999999999999" ("must be an integer,
  // not a string").
  EXPECT_EQ(load_error(kBase, sets({"system.cpus=99999999999999999999"})),
            "error: --set system.cpus=99999999999999999999: system.cpus = 99999999999999999999 "
            "is out of range (1..4096; beyond 64 bits)");
  EXPECT_EQ(load_error(kBase, sets({"system.seed=1_000_000_000_000_000_000_000"})),
            "error: --set system.seed=1_000_000_000_000_000_000_000: system.seed = "
            "1_000_000_000_000_000_000_000 is out of range (at least 0; beyond 64 bits)");
  EXPECT_EQ(load_error(kBase, sets({"system.end=-99999999999999999999"})),
            "error: --set system.end=-99999999999999999999: system.end = -99999999999999999999 "
            "is out of range (at least 0; beyond 64 bits)");
  EXPECT_EQ(load_error(kBase, sets({"timing.vm_exit=99999999999999999999"})),
            "error: --set timing.vm_exit=99999999999999999999: timing.vm_exit = "
            "99999999999999999999 is out of range (at most 2147483648 (2^31); beyond 64 bits)");
  // Where the largest 64-bit integer is in range, the value still is not taken.
  EXPECT_EQ(load_error(kBase, sets({"kernel.nmi_longest_ns=9223372036854775808"})),
            "error: --set kernel.nmi_longest_ns=9223372036854775808: kernel.nmi_longest_ns = "
            "9223372036854775808 is out of range (at least 0; beyond 64 bits)");
  EXPECT_EQ(load_error(std::string(kBase) + "[[event]]\nat = 0\ntype = \"pmi\"\ncpu = 1\n",
                       sets({"event.0.cpu=99999999999999999999"})),
            "error: --set event.0.cpu=99999999999999999999: event.cpu = 99999999999999999999 is "
            "not a CPU of this system (cpus = 8: 0..7)");
  // 2^63-1 itself is an integer, checked as one.
  EXPECT_EQ(load_error(kBase, sets({"system.cpus=9223372036854775807"})),
            "error: --set system.cpus=9223372036854775807: system.cpus = 9223372036854775807 is "
            "out of range (1..4096)");
  // Not decimal digits: still a bare string.
  EXPECT_EQ(load_ok(kBase, sets({"name=1x"})).name, "1x");
}

TEST(OverrideError, KeyDepthIsBounded) {
  EXPECT_EQ(load_error(kBase, sets({"a.b.c.d.e.f.g.h.i=1"})),
            "error: --set a.b.c.d.e.f.g.h.i=1: KEY has more than 8 parts (e.g. event.2.at)");
  // As deep as an argument is long used to nest that many tables.
  std::string deep;
  for (int i = 0; i < 60'000; ++i)
    deep += "a.";
  deep += "a=1";
  std::string quoted;
  for (int i = 0; i < 32; ++i)
    quoted += "a.";
  EXPECT_EQ(
      load_error(kBase, sets({deep.c_str()})),
      "error: --set " + quoted + "... (120003 bytes): KEY has more than 8 parts (e.g. event.2.at)");
}

TEST(OverrideError, LongArgumentsAreClipped) {
  const std::string value(1'000'000, 'v');
  const std::string arg = "system.delivery=" + value;
  const std::string e = load_error(kBase, sets({arg.c_str()}));
  EXPECT_EQ(e, "error: --set system.delivery=" + std::string(48, 'v') +
                   "... (1000016 bytes): system.delivery = \"" + std::string(64, 'v') +
                   "... (1000000 bytes)\" is not one of \"fred\" | \"idt\"");
}

}  // namespace
}  // namespace fredsim::scenario
