// The loader's errors: each a located message (FILE:LINE:COLUMN: error: ...).
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

using test::load_error;
using test::load_ok;

using test::kHead;

// --- errors ------------------------------------------------------------------------

TEST(LoaderError, TomlSyntaxErrorCarriesItsPosition) {
  std::string e = load_error("name = \"x\"\n[system]\ncpus = \n");
  EXPECT_EQ(e.rfind("t.toml:3:", 0), 0u) << e;
  EXPECT_NE(e.find(": error: "), std::string::npos) << e;
}

TEST(LoaderError, UnterminatedStringIsAnError) {
  std::string e = load_error("name = \"x\n");
  EXPECT_EQ(e.rfind("t.toml:1:", 0), 0u) << e;
}

TEST(LoaderError, MissingName) {
  EXPECT_EQ(load_error("[system]\ncpus = 2\n"),
            "t.toml:1:1: error: missing required key 'name' (the scenario's name)");
  EXPECT_EQ(load_error(""), "t.toml:1:1: error: missing required key 'name' (the scenario's name)");
}

TEST(LoaderError, NameMustBeAString) {
  EXPECT_EQ(load_error("name = 3\n"), "t.toml:1:8: error: name must be a string, not an integer");
  EXPECT_EQ(load_error("name = \"\"\n"), "t.toml:1:8: error: name must not be empty");
}

TEST(LoaderError, UnknownTopLevelKey) {
  EXPECT_EQ(load_error("name = \"x\"\nnmae = 1\n"),
            "t.toml:2:1: error: unknown key 'nmae' at the top level (allowed: name, description, "
            "system, timing, kernel, vm, handler, event, expect)");
}

TEST(LoaderError, UnknownSystemKeyListsTheAllowedOnes) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpu = 4\n"),
            "t.toml:3:1: error: unknown key 'cpu' in [system] (allowed: cpus, delivery, "
            "nmi_source, apic, kernel, timing, seed, end, frequency_mhz)");
}

TEST(LoaderError, CpusOutOfRange) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = 0\n"),
            "t.toml:3:8: error: system.cpus = 0 is out of range (1..4096)");
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = 5000\n"),
            "t.toml:3:8: error: system.cpus = 5000 is out of range (1..4096)");
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = -1\n"),
            "t.toml:3:8: error: system.cpus = -1 is out of range (1..4096)");
}

TEST(LoaderError, WrongTypes) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = \"8\"\n"),
            "t.toml:3:8: error: system.cpus must be an integer, not a string");
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = 8.0\n"),
            "t.toml:3:8: error: system.cpus must be an integer, not a float");
  EXPECT_EQ(load_error("name = \"x\"\n[system]\nnmi_source = 1\n"),
            "t.toml:3:14: error: system.nmi_source must be true or false, not an integer");
  EXPECT_EQ(load_error("name = \"x\"\nsystem = 5\n"),
            "t.toml:2:10: error: 'system' must be a table ([system]), not an integer");
  EXPECT_EQ(load_error("name = \"x\"\n[handler]\nname = \"h\"\n"),
            "t.toml:2:1: error: 'handler' must be an array of tables ([[handler]]), not a table");
}

TEST(LoaderError, BadEnumValueListsTheChoices) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ndelivery = \"fredd\"\n"),
            "t.toml:3:12: error: system.delivery = \"fredd\" is not one of \"fred\" | \"idt\"");
  EXPECT_EQ(load_error("name = \"x\"\n[[handler]]\nname = \"h\"\nmodel = \"perf\"\n"),
            "t.toml:4:9: error: handler.model = \"perf\" is not one of \"device\" | \"pmi\" | "
            "\"selftest\" | \"stop\" | \"backtrace\" | \"kgdb\" | \"mce\" | \"ghes\"");
}

TEST(LoaderError, XapicAddressesAtMost255Cpus) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = 256\napic = \"xapic\"\n"),
            "t.toml:4:8: error: apic = \"xapic\" addresses at most 255 CPUs, but cpus = 256 (use "
            "apic = \"x2apic\")");
  load_ok("name = \"x\"\n[system]\ncpus = 255\napic = \"xapic\"\n");
}

TEST(LoaderError, NmiSourceNeedsFred) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ndelivery = \"idt\"\nnmi_source = true\n"),
            "t.toml:4:14: error: nmi_source = true needs delivery = \"fred\" (NMI-source reports "
            "the bitmap as FRED event data; IDT delivery has none)");
}

TEST(LoaderError, UnknownTimingProfileAndParameter) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ntiming = \"fast\"\n"),
            "t.toml:3:10: error: system.timing: unknown timing profile 'fast' (known: default, "
            "skylake-sp, icelake, kvm-mediated-pmu)");
  std::string e = load_error("name = \"x\"\n[timing]\nvm_exitt = 5\n");
  EXPECT_EQ(e.rfind("t.toml:3:1: error: unknown timing parameter 'vm_exitt' in [timing] (allowed: "
                    "fred_delivery, idt_delivery, ",
                    0),
            0u)
      << e;
  EXPECT_EQ(load_error("name = \"x\"\n[timing]\nvm_exit = -5\n"),
            "t.toml:3:11: error: timing.vm_exit = -5 is out of range (at least 0)");
}

TEST(LoaderError, UnknownKernelKey) {
  EXPECT_EQ(load_error("name = \"x\"\n[kernel]\npanic = true\n"),
            "t.toml:3:1: error: unknown key 'panic' in [kernel] (allowed: unknown_nmi_panic, "
            "panic_on_unrecovered_nmi, panic_on_io_nmi, ignore_nmis, nmi_longest_ns, "
            "source_vectors)");
  EXPECT_EQ(load_error("name = \"x\"\n[kernel]\nsource_vectors = 17\n"),
            "t.toml:3:18: error: kernel.source_vectors = 17 is out of range (8..16)");
}

TEST(LoaderError, HandlerErrors) {
  std::string h = std::string(kHead) + "[[handler]]\nname = \"a\"\n";
  EXPECT_EQ(load_error(std::string(kHead) + "[[handler]]\nvector = 1\n"),
            "t.toml:4:1: error: missing required key 'name' in [[handler]]");
  EXPECT_EQ(load_error(h + "[[handler]]\nname = \"a\"\n"),
            "t.toml:7:8: error: duplicate handler name 'a' (first declared at t.toml:4:1)");
  EXPECT_EQ(load_error(h + "vector = 256\n"),
            "t.toml:6:10: error: handler.vector = 256 is out of range (0..255)");
  EXPECT_EQ(load_error(h + "type = \"nmi\"\n"),
            "t.toml:6:8: error: handler.type = \"nmi\" is not one of \"local\" | \"unknown\" | "
            "\"serr\" | \"io_check\"");
  EXPECT_EQ(load_error(h + "colour = 1\n"),
            "t.toml:6:1: error: unknown key 'colour' in [[handler]] (allowed: name, vm, type, "
            "vector, first, model, check_cycles, handle_cycles, action)");
}

TEST(LoaderError, EventRequiredKeys) {
  std::string ev = std::string(kHead) + "[[event]]\n";
  EXPECT_EQ(load_error(ev + "at = 1\n"),
            "t.toml:4:1: error: missing required key 'type' in [[event]]");
  EXPECT_EQ(load_error(ev + "type = \"pmi\"\ncpu = 1\n"),
            "t.toml:4:1: error: missing required key 'at' in [[event]]");
  EXPECT_EQ(load_error(ev + "at = 1\ntype = \"ipi\"\n"),
            "t.toml:4:1: error: missing required key 'dest' in [[event]] of type \"ipi\"");
  EXPECT_EQ(load_error(ev + "at = 1\ntype = \"pmi\"\n"),
            "t.toml:4:1: error: missing required key 'cpu' in [[event]] of type \"pmi\"");
  EXPECT_EQ(load_error(ev + "at = 1\ntype = \"nmi\"\n"),
            "t.toml:6:8: error: event.type = \"nmi\" is not one of \"ipi\" | \"pmi\" | "
            "\"external\" | \"guest\" | \"user\" | \"backtrace\" | \"stop\" | \"selftest\" | "
            "\"kgdb\" | \"mce\" | \"sti\" | \"mov_ss\" | \"irqs_off\" | \"kvm_nmi\"");
}

TEST(LoaderError, EventKeysDependOnTheType) {
  std::string ev = std::string(kHead) + "[[event]]\nat = 1\ntype = \"ipi\"\ndest = 1\n";
  EXPECT_EQ(load_error(ev + "counters = 2\n"),
            "t.toml:8:1: error: unknown key 'counters' in [[event]] of type \"ipi\" (allowed: at, "
            "type, every, count, from, dest, mode, vector, work, after, delay, vm)");
  std::string g = std::string(kHead) + "[[event]]\nat = 1\ntype = \"guest\"\ncpu = 1\n";
  EXPECT_EQ(load_error(g + "every = 5\n"),
            "t.toml:8:1: error: unknown key 'every' in [[event]] of type \"guest\" (allowed: at, "
            "type, cpu, until, nmi_exiting, virtual_nmis, nmi_window_exiting, "
            "blocking, activity, inject)");
}

TEST(LoaderError, CpuNumbersMustExist) {
  std::string ev = std::string(kHead) + "[[event]]\nat = 1\n";
  EXPECT_EQ(load_error(ev + "type = \"pmi\"\ncpu = 4\n"),
            "t.toml:7:7: error: event.cpu = 4 is not a CPU of this system (cpus = 4: 0..3)");
  EXPECT_EQ(load_error(ev + "type = \"ipi\"\nfrom = 9\ndest = 1\n"),
            "t.toml:7:8: error: event.from = 9 is not a CPU of this system (cpus = 4: 0..3)");
  EXPECT_EQ(load_error(ev + "type = \"ipi\"\ndest = [1, 4]\n"),
            "t.toml:7:12: error: event.dest = 4 is not a CPU of this system (cpus = 4: 0..3)");
  EXPECT_EQ(load_error(ev + "type = \"ipi\"\ndest = [1, 1]\n"),
            "t.toml:7:12: error: event.dest lists CPU 1 twice");
  EXPECT_EQ(load_error(ev + "type = \"ipi\"\ndest = []\n"),
            "t.toml:7:8: error: event.dest must list at least one CPU");
  EXPECT_EQ(load_error(ev + "type = \"ipi\"\ndest = \"others\"\n"),
            "t.toml:7:8: error: event.dest = \"others\" is not one of \"self\" | \"all\" | "
            "\"all-but-self\", a CPU number or a list of CPU numbers");
  EXPECT_EQ(
      load_error(std::string(kHead) + "[[expect]]\nstat = \"normal\"\ncpu = 10\nequals = 0\n"),
      "t.toml:6:7: error: expect.cpu = 10 is not a CPU of this system (cpus = 4: 0..3)");
}

TEST(LoaderError, WorkMustNameAHandler) {
  std::string ev = std::string(kHead) +
                   "[[handler]]\nname = \"bt\"\n[[event]]\nat = 1\ntype = \"ipi\"\ndest = 1\n";
  EXPECT_EQ(load_error(ev + "work = \"perf\"\n"),
            "t.toml:10:8: error: event.work names no handler 'perf' (declared: bt)");
  EXPECT_EQ(load_error(ev + "work = [\"bt\", \"x\"]\n"),
            "t.toml:10:15: error: event.work names no handler 'x' (declared: bt)");
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 1\ntype = \"ipi\"\ndest = 1\n"
                                            "work = \"bt\"\n"),
            "t.toml:8:8: error: event.work names no handler 'bt' (no handler is declared)");
}

TEST(LoaderError, IntervalsAndRepeats) {
  std::string g = std::string(kHead) + "[[event]]\nat = 100\ntype = \"guest\"\ncpu = 1\n";
  EXPECT_EQ(load_error(g + "until = 100\n"),
            "t.toml:8:9: error: event.until = 100 must come after at = 100");
  std::string p = std::string(kHead) + "[[event]]\nat = 100\ntype = \"pmi\"\ncpu = 1\n";
  EXPECT_EQ(load_error(p + "every = 10\n"),
            "t.toml:8:9: error: event.every needs count = N (the number of occurrences)");
  EXPECT_EQ(load_error(p + "count = 3\n"),
            "t.toml:8:9: error: event.count > 1 needs every = CYCLES (the period)");
  EXPECT_EQ(load_error(p + "count = 0\n"),
            "t.toml:8:9: error: event.count = 0 is out of range (at least 1)");
  EXPECT_EQ(load_error(p + "every = 0\ncount = 2\n"),
            "t.toml:8:9: error: event.every = 0 is out of range (at least 1)");
  EXPECT_EQ(load_error(p + "every = 4611686018427387904\ncount = 3\n"),
            "t.toml:9:9: error: event repeats past cycle 2^63-1 (at = 100, every = "
            "4611686018427387904, count = 3)");
  load_ok(p + "count = 1\n");
}

TEST(LoaderError, GuestNmiSourceIsRefused) {
  // KVM never reflects a host NMI into a guest: the key that did is refused, in
  // the file and by --set, with or without the host's NMI-source, on any event.
  const std::string msg =
      "error: event.guest_nmi_source is refused: a host NMI is the host's (an NMI-induced VM "
      "exit the host kernel handles, never injected into the guest); to give a guest's own NMIs "
      "their sources, declare the guest as a [[vm]] with nmi_source = true";
  const std::string g =
      "name = \"x\"\n[system]\ncpus = 2\n[[event]]\nat = 0\n"
      "type = \"guest\"\ncpu = 1\n";
  EXPECT_EQ(load_error(g + "guest_nmi_source = true\n"), "t.toml:8:20: " + msg);
  EXPECT_EQ(load_error(g + "guest_nmi_source = false\n"), "t.toml:8:20: " + msg);
  EXPECT_EQ(load_error(g, {Override{"event.0.guest_nmi_source=true"}}),
            "error: --set event.0.guest_nmi_source=true: " + msg.substr(7));
  EXPECT_EQ(load_error(std::string(kHead) + "[[event]]\nat = 0\ntype = \"pmi\"\ncpu = 1\n"
                                            "guest_nmi_source = true\n"),
            "t.toml:8:20: " + msg);
  load_ok(g);
}

TEST(LoaderError, ExpectErrors) {
  std::string h = std::string(kHead) + "[[handler]]\nname = \"bt\"\n[[expect]]\n";
  EXPECT_EQ(load_error(h + "handler = \"perf\"\ncalls = 1\n"),
            "t.toml:7:11: error: expect.handler names no handler 'perf' (declared: bt; registered "
            "by the kernel: PMI, nmi_selftest, smp_stop, arch_bt, kgdb, mce)");
  EXPECT_EQ(load_error(h + "handler = \"bt\"\n"),
            "t.toml:6:1: error: [[expect]] for a handler needs calls = N or handled = N");
  EXPECT_EQ(load_error(h + "handler = \"bt\"\nequals = 1\n"),
            "t.toml:8:10: error: expect.equals goes with stat and counter; a handler expectation "
            "takes calls = N and handled = N");
  EXPECT_EQ(load_error(h + "stat = \"normal\"\n"),
            "t.toml:6:1: error: [[expect]] for a stat needs equals = N, at_least = N or at_most = "
            "N");
  EXPECT_EQ(load_error(h + "stat = \"normal\"\ncalls = 1\n"),
            "t.toml:8:9: error: expect.calls goes with handler; a stat expectation takes equals, "
            "at_least or at_most");
  EXPECT_EQ(load_error(h + "stat = \"normal\"\nhandler = \"bt\"\nequals = 1\n"),
            "t.toml:6:1: error: [[expect]] takes one of 'handler', 'stat', 'counter', 'console', "
            "'panic', 'trace': not both 'handler' and 'stat'");
  EXPECT_EQ(load_error(h + "equals = 1\n"),
            "t.toml:6:1: error: [[expect]] needs handler = NAME (with calls/handled), stat = KIND "
            "or counter = NAME (with equals/at_least/at_most), console = REGEX or trace = EVENT "
            "(with count/at_least/at_most), or panic = true|false");
  EXPECT_EQ(load_error(h + "stat = \"lots\"\nequals = 1\n"),
            "t.toml:7:8: error: expect.stat = \"lots\" is not one of \"normal\" | \"unknown\" | "
            "\"external\" | \"swallow\" | \"lost\"");
}

TEST(LoaderError, MissingAndUnreadableFiles) {
  auto r = load_scenario_file("/nonexistent/dir/x.toml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/nonexistent/dir/x.toml: error: cannot open: No such file or directory");
  test::TempDir dir;
  auto d = load_scenario_file(dir.path(""));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
}

TEST(LoaderError, FileErrorsNameTheFile) {
  test::TempDir dir;
  std::string path = dir.write("bad.toml", "name = \"x\"\n[system]\ncpus = 0\n");
  auto r = load_scenario_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, path + ":3:8: error: system.cpus = 0 is out of range (1..4096)");
}

// Regressions found by fuzz/loader_fuzz in toml++ 3.3 (see src/scenario/toml.hpp).
TEST(LoaderError, TomlTableHeaderOfBracketsIsAnErrorNotAnAbort) {
  EXPECT_EQ(load_error("[[[\n"),
            "t.toml:1:3: error: TOML syntax error in key: expected bare key starting character or "
            "string delimiter, saw '['");
}

TEST(LoaderError, NonAsciiCharacterOutsideStringsIsAnError) {
  EXPECT_EQ(load_error("name = \"x\" \xc5\xbc\n"),
            "t.toml:1:12: error: TOML syntax error in key-value pair: expected a comment or "
            "whitespace, saw '\xc5\xbc'");
  // Non-ASCII text in strings and comments is fine, including where toml++ looks
  // for whitespace (after a line-ending backslash in a multi-line string).
  ScenarioSpec s =
      load_ok("name = \"caf\xc3\xa9\" # \xc5\xbc\ndescription = \"\"\"a \\\n \xc5\xbc\"\"\"\n");
  EXPECT_EQ(s.name, "caf\xc3\xa9");
  EXPECT_EQ(s.description, "a \xc5\xbc");
}

TEST(LoaderError, SpecErrorAtFormsTheContractMessage) {
  ScenarioSpec s = load_ok(std::string(kHead) + "[[handler]]\nname = \"a\"\n");
  EXPECT_EQ(s.error_at(s.handlers[0].loc, "inconsistent").message,
            "t.toml:4:1: error: inconsistent");
  SourceLoc set;
  set.set_arg = "system.cpus=3";
  EXPECT_EQ(s.error_at(set, "bad").message, "error: --set system.cpus=3: bad");
}

TEST(LoaderError, GarbageNeverThrows) {
  const char* inputs[] = {"\x00\x01\x02",
                          "[[[",
                          "a = [[[[[[[[[[[[[[[[[[[[[[[[[[",
                          "name = \"x\"\n[[event]]\n[[event]]\nat = 9223372036854775807\n",
                          "\xef\xbb\xbfname = \"bom\"\n",
                          "name = '''\n",
                          "= 1"};
  for (const char* in : inputs) {
    auto r = load_scenario_string(std::string_view(in, std::strlen(in) + (in[0] == 0 ? 3 : 0)),
                                  "g.toml");
    (void)r;
  }
  SUCCEED();
}

}  // namespace
}  // namespace fredsim::scenario
