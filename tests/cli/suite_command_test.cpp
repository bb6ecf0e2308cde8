// `fredsim suite` in-process: the report on stdout, targets from the command line
// and the environment, TAP and JUnit, -j, timeouts and the exit status.
#include "suite_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "cli_util.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "suite/suite_fixture.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;
using namespace fredsim::suite;
using namespace fredsim::suite::test;

using Outcome = test::CliOutcome;

Outcome cli(std::vector<std::string> args, const ScenarioRunner& runner) {
  return test::run_cli(std::move(args), runner);
}

Outcome fake_cli(std::vector<std::string> args) {
  return cli(std::move(args), FakeRunner{});
}
Outcome real_cli(std::vector<std::string> args) {
  return cli(std::move(args), SystemRunner{});
}

// A cfg of kvm-unit-tests itself (in its format: guest binaries, $MAX_SMP, QEMU
// options, """ values, repeated check lines, a bash disabled_if) reads without an
// error, and every test SKIPs with the reason.
TEST(SuiteFile, KvmUnitTestsCfgParsesAndSkips) {
  const std::string cfg = test::source_dir() + "/tests/scenario/data/kvm-unit-tests-x86.cfg";
  auto suite = load_suite_file(cfg, TargetSet::builtin());
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  ASSERT_EQ(suite->tests.size(), 6u);
  EXPECT_EQ(suite->tests[1].smp, "$MAX_SMP");
  EXPECT_EQ(suite->tests[3].checks.size(), 2u);
  EXPECT_EQ(suite->tests[4].params_for("qemu")[0],
            "-cpu max,+vmx -append \"-exit_monitor_test -ept_access* -vmx_smp*\"\n-m 2048");

  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "SKIP apic-x2 (apic.flat is a guest binary, not a scenario)\n"
            "SKIP smp-max (smptest.flat is a guest binary, not a scenario)\n"
            "SKIP cmpxchg-32 (arch = i386: fredsim models x86_64)\n"
            "SKIP pmu-counters (pmu.flat is a guest binary, not a scenario)\n"
            "SKIP nested-long (in group nodefault: select it with -g or by name)\n"
            "SKIP tcg-only (disabled_if [[ \"$TARGET\" != qemu ]])\n");
  // Selected by its group, the nodefault test is looked at, and skipped for its file.
  auto g = fake_cli({"suite", cfg, "-g", "vmx"});
  EXPECT_EQ(g.out, "SKIP nested-long (vmx.flat is a guest binary, not a scenario)\n");
  // arch and accel are reported: with -v, and in the JUnit properties.
  auto v = fake_cli({"suite", cfg, "-v", "pmu-counters"});
  EXPECT_EQ(v.out,
            "# accel=kvm check=/proc/sys/kernel/nmi_watchdog=0 "
            "check=/sys/module/kvm/parameters/ignore_msrs=N\n"
            "SKIP pmu-counters (pmu.flat is a guest binary, not a scenario)\n");
}

// --- Running tests ---------------------------------------------------------------------

TEST(SuiteRun, PassFailSkipLines) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  d.scenario("fails.toml", kFails);
  const std::string cfg = d.cfg(
      "[first]\nfile = holds.toml\n"
      "[second]\nfile = fails.toml\n"
      "[third]\nfile = holds.toml\ndisabled_if = TARGET == fred-nmisrc\n"
      "[fourth]\nfile = apic.flat\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "");
  // Each failed expectation is named with its actual value; held ones are not.
  EXPECT_EQ(r.out,
            "PASS first\n"
            "FAIL second (handler perf: calls == 3, actual 0; stat unknown: >= 1, actual 0)\n"
            "SKIP third (disabled_if TARGET == fred-nmisrc)\n"
            "SKIP fourth (apic.flat is a guest binary, not a scenario)\n");
}

// Console, trace, counter and panic expectations fail with their actual values,
// the trace counted in the suite's run as in `fredsim run`.
TEST(SuiteRun, EveryExpectationKindFailsWithItsActualValue) {
  SuiteDir d;
  d.scenario("kinds.toml",
             "name = \"kinds\"\n[system]\ncpus = 2\n[[event]]\nat = 0\ntype = \"selftest\"\n"
             "[[expect]]\nconsole = 'testcases passed'\ncount = 2\n"
             "[[expect]]\ntrace = \"nmi_receive\"\nwhere = { cpu = 1 }\ncount = 0\n"
             "[[expect]]\ncounter = \"nmi_delivered\"\nequals = 0\n"
             "[[expect]]\npanic = true\n");
  const std::string cfg = d.cfg("[kinds]\nfile = kinds.toml\n");
  auto r = real_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out,
            "FAIL kinds (console \"testcases passed\": lines == 2, actual 1; trace nmi_receive "
            "where cpu = 1: records == 0, actual 1; counter nmi_delivered: == 0, actual 2; "
            "panic: == true, actual false)\n");
}

TEST(SuiteRun, PrematureFailureHasTheLoadersMessage) {
  SuiteDir d;
  const std::string bad = d.scenario("bad.toml", "name = \"bad\"\n[system]\ncpu = 2\n");
  d.scenario("holds.toml", holds("holds"));
  d.scenario("refused.toml", holds("refused"));
  const std::string cfg = d.cfg(
      "[bad-key]\nfile = bad.toml\n"
      "[missing]\nfile = nothere.toml\n"
      "[bad-arg]\nfile = holds.toml\ntest_args = nokey\n"
      "[bad-value]\nfile = holds.toml\ntest_args = system.cpus=0\n"
      "[refused]\nfile = refused.toml\n"
      "[other-file]\nfile = notes.txt\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_EQ(ls.size(), 6u) << r.out;
  EXPECT_EQ(ls[0], "FAIL bad-key (" + bad +
                       ":3:1: error: unknown key 'cpu' in [system] (allowed: cpus, delivery, "
                       "nmi_source, apic, kernel, timing, seed, end, frequency_mhz))");
  EXPECT_EQ(ls[1], "FAIL missing (" + d.path("nothere.toml") +
                       ": error: cannot open: No such file or directory)");
  EXPECT_EQ(ls[2], "FAIL bad-arg (error: --set nokey: expected KEY=VALUE (e.g. system.cpus=64))");
  EXPECT_EQ(ls[3],
            "FAIL bad-value (error: --set system.cpus=0: system.cpus = 0 is out of range "
            "(1..4096))");
  // (The [system] table comes from the target's first override, so the runner's
  // error names that argument.)
  EXPECT_EQ(ls[4], "FAIL refused (error: --set system.delivery=fred: the runner refuses it)");
  EXPECT_EQ(ls[5],
            "SKIP other-file (notes.txt is not a scenario (fredsim runs .toml scenario "
            "files))");
}

TEST(SuiteRun, DisabledTestSkipsWithItsConditionUnderThatTargetOnly) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\ndisabled_if = DELIVERY == idt || NMI_SOURCE == false\n"
      "disabled_reason = needs NMI-source\n");
  for (const char* target : {"idt", "fred"}) {
    auto r = fake_cli({"suite", cfg, "--target", target});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out,
              "SKIP t (disabled_if DELIVERY == idt || NMI_SOURCE == false: needs "
              "NMI-source)\n");
  }
  EXPECT_EQ(fake_cli({"suite", cfg, "--target", "fred-nmisrc"}).out, "PASS t\n");
}

TEST(SuiteRun, OverridesApplyTargetThenSmpThenArgsThenParams) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\nsmp = 3\ntest_args = system.seed=5 'name=a b'\n"
      "idt_params = system.seed=6\nfred_params = system.seed=7\n");
  auto r = fake_cli({"suite", cfg, "--target", "idt", "-v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "fredsim run " + d.path("holds.toml") +
                       " --set system.delivery=idt --set system.nmi_source=false --set "
                       "system.cpus=3 --set system.seed=5 --set 'name=a b' --set system.seed=6\n"
                       "PASS t\n");
  // The command is the same run: fredsim run with those arguments passes too.
  auto line = lines_of(r.out)[0];
  auto words = split_words(line);
  ASSERT_TRUE(words);
  words->erase(words->begin());  // "fredsim"
  auto again = fake_cli(*words);
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST(SuiteRun, SmpSetsTheCpuCount) {
  // The expectation names CPU 2, which exists only with 3 CPUs or more: the loader
  // refuses it otherwise, so smp is seen to reach system.cpus.
  SuiteDir d;
  d.scenario("cpu2.toml",
             "name = \"cpu2\"\n[system]\ncpus = 1\n[[expect]]\nstat = \"normal\"\ncpu = 2\n"
             "equals = 0\n");
  const std::string cfg = d.cfg(
      "[two]\nfile = cpu2.toml\nsmp = 2\n[three]\nfile = cpu2.toml\nsmp = 03\n"
      "[max]\nfile = cpu2.toml\nsmp = $MAX_SMP\n"
      "[shell]\nfile = cpu2.toml\nsmp = $((MAX_SMP / 2))\n");
  auto r = real_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_EQ(ls.size(), 4u) << r.out;
  EXPECT_TRUE(ls[0].starts_with("FAIL two (")) << ls[0];
  EXPECT_NE(ls[0].find("cpu = 2"), std::string::npos) << ls[0];
  EXPECT_EQ(ls[1], "PASS three");
  EXPECT_EQ(ls[2], "PASS max");  // 4096 CPUs
  EXPECT_EQ(ls[3], "FAIL shell (smp = $((MAX_SMP / 2)): fredsim reads a number or $MAX_SMP)");
}

TEST(SuiteRun, GroupsAndNames) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[a]\nfile = holds.toml\ngroups = perf\n"
      "[b]\nfile = holds.toml\ngroups = smp perf\n"
      "[c]\nfile = holds.toml\ngroups = manual nodefault\n"
      "[d]\nfile = holds.toml\n");
  EXPECT_EQ(fake_cli({"suite", cfg}).out,
            "PASS a\nPASS b\nSKIP c (in group nodefault: select it with -g or by name)\nPASS d\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "c"}).out, "PASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "perf"}).out, "PASS a\nPASS b\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "smp,manual"}).out, "PASS b\nPASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "smp", "-g", "nodefault"}).out, "PASS b\nPASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "none"}).out, "");
  EXPECT_EQ(fake_cli({"suite", cfg, "d", "a"}).out, "PASS a\nPASS d\n");  // cfg order
  auto unknown = fake_cli({"suite", cfg, "a", "zz"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_EQ(unknown.err, "error: " + cfg + ": no test named 'zz'\n");
  EXPECT_EQ(unknown.out, "");
}

TEST(SuiteRun, TimeoutFailsTheTestAndStopsIt) {
  SuiteDir d;
  d.scenario("endless.toml", holds("endless"));
  const std::string cfg = d.cfg("[forever]\nfile = endless.toml\ntimeout = 0.2\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = fake_cli({"suite", cfg});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL forever (timeout after 0.2s)\n");
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(SuiteRun, TimeoutOnTheSimulator) {
  // Far too long to finish: a thousand backtraces to 4095 CPUs. (Slow to run, not
  // to build: a repeating event holds one queue entry, its next occurrence.)
  SuiteDir d;
  d.scenario("long.toml",
             "name = \"long\"\n[system]\ncpus = 4096\n[[handler]]\nname = \"arch_bt\"\n"
             "vector = 4\nmodel = \"backtrace\"\n[[event]]\nat = 0\ntype = \"backtrace\"\n"
             "every = 1_000_000\ncount = 1_000\n");
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[long]\nfile = long.toml\ntimeout = 0.3s\n"
      "[quick]\nfile = holds.toml\ntimeout = 60\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = real_cli({"suite", cfg, "-j", "2"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL long (timeout after 0.3s)\nPASS quick\n");
}

TEST(SuiteRun, EnvTimeoutIsTheDefault) {
  SuiteDir d;
  d.scenario("endless.toml", holds("endless"));
  const std::string cfg = d.cfg(
      "[default]\nfile = endless.toml\n"
      "[own]\nfile = endless.toml\ntimeout = 0.1\n"
      "[none]\nfile = endless.toml\ntimeout = 0\n");
  SuiteCommand cmd;
  cmd.file = cfg;
  cmd.env_timeout = "0.15s";
  std::ostringstream out, err;
  EXPECT_EQ(suite_command(cmd, FakeRunner{}, out, err), 1);
  // timeout = 0 disables it, as for timeout(1): FakeRunner's run() then returns.
  EXPECT_EQ(out.str(),
            "FAIL default (timeout after 0.15s)\nFAIL own (timeout after 0.1s)\nPASS none\n");
  cmd.env_timeout = "later";
  std::ostringstream out2, err2;
  EXPECT_EQ(suite_command(cmd, FakeRunner{}, out2, err2), 2);
  EXPECT_EQ(err2.str(),
            "error: FREDSIM_TIMEOUT=later: not a duration (seconds, or N with s, m, h, d; 0 = no "
            "limit)\n");
}

// --- Targets on the command line -------------------------------------------------------

/// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SuiteTargets, FlagThenEnvironmentThenDefault) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg("[t]\nfile = holds.toml\n");
  auto target_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"suite", cfg, "-v"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = fake_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return lines_of(r.out).empty() ? std::string() : lines_of(r.out)[0];
  };
  const std::string prefix = "fredsim run " + d.path("holds.toml");
  {
    ScopedEnv env("FREDSIM_TARGET", nullptr);
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=true");
    EXPECT_EQ(target_of({"--target", "idt"}),
              prefix + " --set system.delivery=idt --set system.nmi_source=false");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "fred");
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=false");
    EXPECT_EQ(target_of({"--target", "idt"}),
              prefix + " --set system.delivery=idt --set system.nmi_source=false");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "");  // empty: as if unset
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=true");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "nope");
    auto r = fake_cli({"suite", cfg});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err,
              "error: FREDSIM_TARGET=nope: unknown target 'nope' (targets: idt, fred, "
              "fred-nmisrc)\n");
    auto f = fake_cli({"suite", cfg, "--target", "nope"});
    EXPECT_EQ(f.code, 2);
    EXPECT_EQ(f.err, "error: unknown target 'nope' (targets: idt, fred, fred-nmisrc)\n");
  }
  EXPECT_EQ(resolve_target_name(std::nullopt, std::nullopt), "fred-nmisrc");
  EXPECT_EQ(resolve_target_name(std::nullopt, std::string("idt")), "idt");
  EXPECT_EQ(resolve_target_name(std::string("fred"), std::string("idt")), "fred");
  EXPECT_EQ(resolve_target_name(std::nullopt, std::string()), "fred-nmisrc");
}

TEST(SuiteTargets, TargetsFileOnTheCommandLine) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string targets = d.cfg(
      "# more machines\n[idt-xapic]\ndescription = IDT on an xAPIC machine\n"
      "set = system.delivery=idt system.nmi_source=false\nset = system.apic=xapic\n",
      "my.targets");
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\nidt-xapic_params = system.seed=3\n"
      "[u]\nfile = holds.toml\ndisabled_if = DELIVERY == idt\n");
  auto r = fake_cli({"suite", cfg, "--targets", targets, "--target", "idt-xapic", "-v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "fredsim run " + d.path("holds.toml") +
                       " --set system.delivery=idt --set system.nmi_source=false --set "
                       "system.apic=xapic --set system.seed=3\nPASS t\n"
                       "SKIP u (disabled_if DELIVERY == idt)\n");
  // Without the targets file the cfg's idt-xapic_params is an unknown target.
  auto without = fake_cli({"suite", cfg});
  EXPECT_EQ(without.code, 2);
  EXPECT_NE(without.err.find(":3: error: 'idt-xapic_params': unknown target 'idt-xapic'"),
            std::string::npos)
      << without.err;
  auto bad = fake_cli({"suite", cfg, "--targets", d.cfg("[x]\nset = nokey\n", "bad.targets")});
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, d.path("bad.targets") +
                         ":2: error: set nokey: expected KEY=VALUE (e.g. system.cpus=64)\n");
}

// --- Reports ---------------------------------------------------------------------------

TEST(SuiteReport, TapStructure) {
  MixedSuite m;
  auto r = fake_cli({"suite", m.cfg(), "-t"});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_GE(ls.size(), 2u);
  EXPECT_EQ(ls[0], "TAP version 13");
  EXPECT_EQ(ls[1], "1..9");
  // Every test line: "ok N - name", "not ok N - name" or "ok N - name # SKIP why",
  // numbered 1..9 in cfg order; each "not ok" is followed by a YAML block.
  std::vector<std::string> results;
  for (std::size_t i = 2; i < ls.size(); ++i) {
    const std::string& l = ls[i];
    if (l.starts_with("ok ") || l.starts_with("not ok ")) {
      results.push_back(l);
      const bool not_ok = l.starts_with("not ok ");
      const std::string want_prefix =
          (not_ok ? "not ok " : "ok ") + std::to_string(results.size()) + " - ";
      EXPECT_TRUE(l.starts_with(want_prefix)) << l;
      if (not_ok) {
        ASSERT_LT(i + 1, ls.size());
        EXPECT_EQ(ls[i + 1], "  ---") << l;
        std::size_t j = i + 2;
        while (j < ls.size() && ls[j] != "  ...")
          EXPECT_TRUE(ls[j++].starts_with("  ")) << ls[j - 1];
        EXPECT_LT(j, ls.size()) << "unterminated YAML block after " << l;
        i = j;
      }
    } else {
      ADD_FAILURE() << "unexpected TAP line: " << l;
    }
  }
  EXPECT_EQ(results,
            (std::vector<std::string>{
                "ok 1 - slow-one",
                "not ok 2 - fails-one",
                "ok 3 - skipped-one # SKIP disabled_if TARGET == fred-nmisrc: \"quotes\" & "
                "<brackets> 'too'",
                "ok 4 - slow-two",
                "ok 5 - a&b<c>",
                "not ok 6 - premature",
                "ok 7 - guest # SKIP x.flat is a guest binary, not a scenario",
                "not ok 8 - forever",
                "ok 9 - hash\\#name",
            }));
  EXPECT_NE(r.out.find("not ok 2 - fails-one\n  ---\n  message: 'handler perf: calls == 3, "
                       "actual 0; stat unknown: >= 1, actual 0'\n  severity: fail\n  type: "
                       "expectation\n  command: 'fredsim run "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  message: 'timeout after 0.1s'\n  severity: fail\n  type: timeout\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("  type: premature\n"), std::string::npos);
  // -v adds the commands and settings as TAP comments.
  auto v = fake_cli({"suite", m.cfg(), "-t", "-v", "slow-one"});
  EXPECT_EQ(v.out, "TAP version 13\n1..1\n# fredsim run " + m.path("slow-60.toml") +
                       " --set system.delivery=fred --set system.nmi_source=true  # arch=x86_64 "
                       "accel=kvm\nok 1 - slow-one\n");
  EXPECT_EQ(fake_cli({"suite", m.cfg(), "-t", "-g", "none"}).out, "TAP version 13\n1..0\n");
}

TEST(SuiteReport, JunitStructure) {
  MixedSuite m;
  const std::string xml_path = m.path("report.xml");
  auto r = fake_cli({"suite", m.cfg(), "--junit", xml_path});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines_of(r.out).size(), 9u);  // the plain report is still on stdout
  const std::string xml = test::read_file(xml_path);
  auto doc = XmlReader(xml).document();
  ASSERT_TRUE(doc) << xml;
  EXPECT_EQ(doc->name, "testsuites");
  EXPECT_EQ(doc->attrs["tests"], "9");
  EXPECT_EQ(doc->attrs["failures"], "3");
  EXPECT_EQ(doc->attrs["skipped"], "2");
  ASSERT_EQ(doc->children.size(), 1u);
  const XmlElement& s = doc->children[0];
  EXPECT_EQ(s.name, "testsuite");
  EXPECT_EQ(s.attrs.at("name"), "unittests.cfg");
  EXPECT_EQ(s.attrs.at("tests"), "9");
  EXPECT_EQ(s.attrs.at("failures"), "3");
  EXPECT_EQ(s.attrs.at("errors"), "0");
  EXPECT_EQ(s.attrs.at("skipped"), "2");
  EXPECT_EQ(s.attrs.count("time"), 0u);  // deterministic: no times
  auto cases = s.all("testcase");
  ASSERT_EQ(cases.size(), 9u);
  std::size_t failures = 0, skipped = 0;
  for (const XmlElement* c : cases) {
    EXPECT_EQ(c->attrs.at("classname"), "unittests.fred-nmisrc");
    EXPECT_EQ(c->attrs.count("time"), 0u);
    failures += c->all("failure").size();
    skipped += c->all("skipped").size();
  }
  EXPECT_EQ(failures, 3u);
  EXPECT_EQ(skipped, 2u);
  // Names and messages come back as they were, escapes undone.
  EXPECT_EQ(cases[4]->attrs.at("name"), "a&b<c>");
  EXPECT_EQ(cases[2]->all("skipped")[0]->attrs.at("message"),
            "disabled_if TARGET == fred-nmisrc: \"quotes\" & <brackets> 'too'");
  EXPECT_EQ(cases[1]->all("failure")[0]->attrs.at("type"), "expectation");
  EXPECT_EQ(cases[1]->all("failure")[0]->attrs.at("message"),
            "handler perf: calls == 3, actual 0; stat unknown: >= 1, actual 0");
  EXPECT_EQ(cases[5]->all("failure")[0]->attrs.at("type"), "premature");
  EXPECT_EQ(cases[7]->all("failure")[0]->attrs.at("type"), "timeout");
  EXPECT_EQ(cases[0]->all("system-out")[0]->text,
            "fredsim run " + m.path("slow-60.toml") +
                " --set system.delivery=fred --set system.nmi_source=true");
  // arch and accel are reported as properties.
  std::map<std::string, std::string> props;
  for (const XmlElement* p : cases[0]->all("properties")[0]->all("property"))
    props[p->attrs.at("name")] = p->attrs.at("value");
  EXPECT_EQ(
      props,
      (std::map<std::string, std::string>{
          {"file", "slow-60.toml"}, {"groups", "slow"}, {"arch", "x86_64"}, {"accel", "kvm"}}));
  // The testsuite's properties name the target.
  auto sp = s.all("properties");
  ASSERT_EQ(sp.size(), 1u);
  EXPECT_EQ(sp[0]->all("property")[0]->attrs.at("value"), "fred-nmisrc");
}

TEST(SuiteReport, JunitToStdoutMovesTheReport) {
  MixedSuite m;
  auto r = fake_cli({"suite", m.cfg(), "--junit", "-"});
  EXPECT_EQ(r.code, 1);
  auto doc = XmlReader(r.out).document();
  ASSERT_TRUE(doc) << r.out;
  EXPECT_EQ(doc->attrs["tests"], "9");
  EXPECT_EQ(lines_of(r.err).size(), 9u);
  EXPECT_TRUE(r.err.starts_with("PASS slow-one\n"));
  auto both = fake_cli({"suite", m.cfg(), "--junit", "-", "-t"});
  EXPECT_EQ(both.code, 2);
  EXPECT_EQ(both.err, "error: -t and --junit - both write to stdout; give --junit a file\n");
  auto unwritable = fake_cli({"suite", m.cfg(), "--junit", "/nonexistent/dir/r.xml"});
  EXPECT_EQ(unwritable.code, 2);
  EXPECT_TRUE(unwritable.err.starts_with("error: cannot open /nonexistent/dir/r.xml for writing"));
  EXPECT_EQ(unwritable.out, "");  // nothing ran
}

// -j N reports exactly what -j 1 does, whichever test finishes first.
TEST(SuiteReport, ParallelReportIsTheSerialOne) {
  MixedSuite m;
  for (std::vector<std::string> format :
       {std::vector<std::string>{}, std::vector<std::string>{"-t"}, std::vector<std::string>{"-v"},
        std::vector<std::string>{"--junit", "-"}}) {
    std::vector<std::string> one{"suite", m.cfg(), "-j", "1"};
    one.insert(one.end(), format.begin(), format.end());
    auto serial = fake_cli(one);
    for (const char* jobs : {"2", "4", "16"}) {
      std::vector<std::string> many{"suite", m.cfg(), "-j", jobs};
      many.insert(many.end(), format.begin(), format.end());
      auto parallel = fake_cli(many);
      EXPECT_EQ(parallel.code, serial.code);
      EXPECT_EQ(parallel.out, serial.out) << "-j " << jobs;
      EXPECT_EQ(parallel.err, serial.err) << "-j " << jobs;
    }
  }
}

// --- The command -----------------------------------------------------------------------

TEST(SuiteCommand, ExitStatus) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  d.scenario("fails.toml", kFails);
  const std::string pass = d.cfg("[a]\nfile = holds.toml\n[b]\nfile = x.flat\n", "pass.cfg");
  const std::string fail = d.cfg("[a]\nfile = holds.toml\n[b]\nfile = fails.toml\n", "fail.cfg");
  EXPECT_EQ(fake_cli({"suite", pass}).code, 0);  // a SKIP is not a failure
  EXPECT_EQ(fake_cli({"suite", fail}).code, 1);
  // Bad input: the cfg, with its line.
  const std::string bad = d.cfg("[a]\nfile = holds.toml\nbogus = 1\n", "bad.cfg");
  auto b = fake_cli({"suite", bad});
  EXPECT_EQ(b.code, 2);
  EXPECT_TRUE(b.err.starts_with(bad + ":3: error: unknown key 'bogus' in [a]")) << b.err;
  EXPECT_EQ(b.out, "");
  auto missing = fake_cli({"suite", d.path("none.cfg")});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, d.path("none.cfg") + ": error: cannot open: No such file or directory\n");
  // Bad usage.
  EXPECT_EQ(fake_cli({"suite"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "-j", "0"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "-j", "x"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "--bogus"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "--targets", d.path("none.targets")}).code, 2);
}

TEST(SuiteCommand, HelpNamesEveryOption) {
  auto r = fake_cli({"suite", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* opt :
       {"FILE", "TEST", "--target", "--targets", "-g,--group", "-j,--jobs", "-v,--verbose",
        "-t,--tap", "--junit", "FREDSIM_TARGET", "FREDSIM_TIMEOUT"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  EXPECT_NE(fake_cli({"--help"}).out.find("suite"), std::string::npos);
}

TEST(SuiteCommand, SameInputSameBytes) {
  MixedSuite m;
  auto a = fake_cli({"suite", m.cfg(), "--junit", "-", "-j", "3"});
  auto b = fake_cli({"suite", m.cfg(), "--junit", "-", "-j", "3"});
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.err, b.err);
}

// On the simulator, several Systems at once give what one at a time gives: a
// check that SystemRunner is safe to call from -j's threads.
TEST(RepositorySuite, ParallelOnTheSimulatorIsSerial) {
  const std::string cfg = test::source_dir() + "/scenarios/unittests.cfg";
  // Every test but the 100,000-iteration loops (group long): they add seconds,
  // not paths the comparison needs.
  suite::TargetSet targets = suite::TargetSet::builtin();
  auto loaded = suite::load_suite_file(cfg, targets);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::vector<std::string> names;
  for (const auto& t : loaded->tests) {
    if (std::find(t.groups.begin(), t.groups.end(), "long") == t.groups.end()) {
      names.push_back(t.name);
    }
  }
  ASSERT_GT(names.size(), 10u);
  for (const char* target : {"idt", "fred", "fred-nmisrc"}) {
    std::vector<std::string> args = {"suite", cfg, "--target", target, "-t", "-v"};
    args.insert(args.end(), names.begin(), names.end());
    std::vector<std::string> args_j = args;
    args_j.insert(args_j.end(), {"-j", "4"});
    auto serial = real_cli(args);
    auto parallel = real_cli(args_j);
    EXPECT_EQ(serial.code, 0) << target << "\n" << serial.out << serial.err;
    EXPECT_EQ(parallel.out, serial.out) << target;
    EXPECT_EQ(parallel.code, serial.code) << target;
  }
}

TEST(SuiteRun, TheTimeoutCoversLoading) {
  // A scenario whose reading alone takes far longer than its test's timeout
  // (tens of MB of TOML string), and that then runs in no time: the test times
  // out. (Its clock used to start after the scenario was loaded.)
  SuiteDir d;
  d.scenario("slow-to-read.toml",
             "name = \"x\"\ndescription = \"" + std::string(20'000'000, 'd') + "\"\n" +
                 std::string(holds("x")).substr(std::string_view("name = \"x\"\n").size()));
  const std::string cfg = d.cfg("[slow]\nfile = slow-to-read.toml\ntimeout = 0.001\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL slow (timeout after 0.001s)\n");
}

}  // namespace
}  // namespace fredsim::cli

namespace fredsim::cli {
namespace {

// --shard K/N runs tests K, K+N, ... of the selection; --merge of every shard's
// record reports as the whole run: stdout, stderr, JUnit and exit status.
TEST(SuiteShard, MergedRecordsAreTheWholeRun) {
  MixedSuite m;
  for (const auto& format : {std::vector<std::string>{}, std::vector<std::string>{"-t"},
                             std::vector<std::string>{"-t", "-v"}}) {
    auto args = [&](std::vector<std::string> a) {
      a.insert(a.begin() + 2, format.begin(), format.end());
      return a;
    };
    auto whole = fake_cli(args({"suite", m.cfg(), "--junit", m.path("whole.xml")}));
    ASSERT_EQ(whole.code, 1) << whole.err;  // the suite has failures
    std::vector<std::string> merge = args({"suite", m.cfg(), "--junit", m.path("merged.xml")});
    merge.push_back("--merge");
    for (const char* k : {"2", "3", "1"}) {
      const std::string rec = m.path(std::string("rec") + k + ".json");
      auto s = fake_cli(args(
          {"suite", m.cfg(), "--shard", std::string(k) + "/3", "--shard-out", rec, "-j", "2"}));
      EXPECT_LE(s.code, 1) << s.err;
      merge.push_back(rec);
    }
    auto merged = fake_cli(merge);
    EXPECT_EQ(merged.code, whole.code);
    EXPECT_EQ(merged.out, whole.out);
    EXPECT_EQ(merged.err, whole.err);
    EXPECT_EQ(test::read_file(m.path("merged.xml")), test::read_file(m.path("whole.xml")));
  }
  // A shard reports its own tests: 9 selected, shard 1/3 has the 1st, 4th and 7th.
  auto one = fake_cli({"suite", m.cfg(), "-t", "--shard", "1/3"});
  EXPECT_EQ(one.out.substr(0, one.out.find("ok 1 -")), "TAP version 13\n1..3\n");
  EXPECT_NE(one.out.find("ok 1 - slow-one\n"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("ok 2 - slow-two\n"), std::string::npos) << one.out;
  EXPECT_NE(one.out.find("ok 3 - guest # SKIP"), std::string::npos) << one.out;
  auto plain = fake_cli({"suite", m.cfg(), "--shard", "2/3"});
  EXPECT_EQ(plain.out,
            "FAIL fails-one (handler perf: calls == 3, actual 0; stat unknown: >= 1, actual 0)\n"
            "PASS a&b<c>\nFAIL forever (timeout after 0.1s)\n")
      << plain.out;
}

TEST(SuiteShard, MergeRefusesRecordsOfAnotherRun) {
  MixedSuite m;
  const std::string r1 = m.path("r1.json"), r2 = m.path("r2.json"), r3 = m.path("r3.json");
  for (auto [k, rec] : {std::pair{"1/3", r1}, std::pair{"2/3", r2}, std::pair{"3/3", r3}})
    fake_cli({"suite", m.cfg(), "--shard", k, "--shard-out", rec});
  const std::string idt = m.path("idt.json");
  fake_cli({"suite", m.cfg(), "--target", "idt", "--shard", "2/3", "--shard-out", idt});
  const std::string two = m.path("two.json");
  fake_cli({"suite", m.cfg(), "--shard", "2/2", "--shard-out", two});

  auto refused = [&](std::vector<std::string> recs, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"suite", m.cfg()};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back("--merge");
    a.insert(a.end(), recs.begin(), recs.end());
    auto r = fake_cli(a);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.out, "");
    return r.err;
  };
  EXPECT_EQ(refused({r1, r2}), "error: suite --merge: missing shard 3/3 (given 2 of 3)\n");
  EXPECT_EQ(refused({r1, r2, r2, r3}),
            "error: suite --merge: " + r2 + ": shard 2/3 is given twice (also " + r2 + ")\n");
  EXPECT_EQ(refused({r1, idt, r3}), "error: suite --merge: " + idt +
                                        ": ran under target 'idt', this command's target is "
                                        "'fred-nmisrc'\n");
  EXPECT_EQ(refused({r1, two, r3}), "error: suite --merge: " + two + ": is shard 2/2 but " + r1 +
                                        " is one of 3: merge the shards of one split\n");
  EXPECT_EQ(refused({r1, r2, r3}, {"-g", "slow"}),
            "error: suite --merge: " + r1 +
                ": ran a selection of 9 tests, this command selects 1 (they differ at test 2: "
                "'fails-one' there, none here): give the same suite file, TESTs and -g\n");
  EXPECT_EQ(refused({m.cfg()}),
            "error: suite --merge: " + m.cfg() +
                ": not a suite shard record (no \"format\": \"fredsim-suite-shard-1\"; written "
                "by suite --shard-out)\n");
  // --shard-out needs --shard; --merge runs nothing, so it takes no --shard.
  auto lone = fake_cli({"suite", m.cfg(), "--shard-out", m.path("x.json")});
  EXPECT_EQ(lone.code, 2);
  EXPECT_EQ(lone.err, "error: --shard-out records a shard: give --shard K/N too\n");
  EXPECT_FALSE(std::filesystem::exists(m.path("x.json")));
  EXPECT_EQ(fake_cli({"suite", m.cfg(), "--shard", "1/2", "--merge", r1}).code, 2);
}

}  // namespace
}  // namespace fredsim::cli
