#include "cli.hpp"
#include "fredsim/scenario/system_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_util.hpp"
#include "fredsim/scenario/runner.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;

using nlohmann::json;

constexpr std::string_view kPassing = R"(name = "cli"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
[[expect]]
stat = "unknown"
equals = 0
)";

constexpr std::string_view kFailing = R"(name = "cli-fail"
[[handler]]
name = "perf"
[[expect]]
handler = "perf"
calls = 1
)";

/// A runner that emits a few trace records and counts one perf call on CPU 1,
/// twice as many calls when polling.
class FakeRunner final : public ScenarioRunner {
 public:
  Result<ScenarioResult> run(const ScenarioSpec& spec, RunOptions& options) const override {
    Tracer tracer;
    for (TraceSink* s : options.trace_sinks)
      tracer.add_sink(*s);
    tracer.emit(100, 1, "nmi_deliver", {{"path", TraceValue::str("fred")}});
    tracer.emit(120, 1, "handler_call",
                {{"handler", TraceValue::str("perf")},
                 {"type", TraceValue::str("local")},
                 {"returned", TraceValue::dec(1)},
                 {"cycles", TraceValue::dec(2000)}});
    tracer.emit(2200, 1, "nmi_return", {{"via", TraceValue::str("erets")}});
    ScenarioResult r = empty_result(spec);
    std::uint64_t calls = spec.system.nmi_source ? 1 : 2;
    if (!r.handlers.empty()) {
      r.handlers[0].calls = calls;
      r.handlers[0].per_cpu[spec.system.cpus - 1].calls = calls;
    }
    r.end_cycle = 2200;
    r.dispatch_samples.add(2100);
    return r;
  }
  Result<std::unique_ptr<ScenarioSession>> start(const ScenarioSpec& spec,
                                                 RunOptions& options) const override {
    return real_.start(spec, options);
  }

 private:
  SystemRunner real_;
};

using Outcome = test::CliOutcome;

Outcome cli(std::vector<std::string> args, std::string input = "") {
  return test::run_cli(std::move(args), FakeRunner{}, std::move(input));
}

TEST(Cli, RunPassingScenarioExitsZero) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("PASS  stat unknown: == 0"), std::string::npos) << r.out;
}

TEST(Cli, RunFailingExpectationExitsOne) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("f.toml", kFailing), "--set", "handler.0.vector=9"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;  // FakeRunner counts 1 call: holds
  auto r2 = cli({"run", dir.write("f.toml", kFailing), "--set", "system.nmi_source=false"});
  EXPECT_EQ(r2.code, 1) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("FAIL  handler perf: calls == 1  (actual: 2)"), std::string::npos)
      << r2.out;
}

TEST(Cli, MissingFileIsBadInput) {
  auto r = cli({"run", "/nonexistent/x.toml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "/nonexistent/x.toml: error: cannot open: No such file or directory\n");
  EXPECT_EQ(r.out, "");
}

TEST(Cli, BadKeyIsBadInputWithPosition) {
  test::TempDir dir;
  std::string path = dir.write("k.toml", "name = \"x\"\n[system]\ncpu = 2\n");
  auto r = cli({"run", path});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, path +
                       ":3:1: error: unknown key 'cpu' in [system] (allowed: cpus, delivery, "
                       "nmi_source, apic, kernel, timing, seed, end, frequency_mhz)\n");
}

TEST(Cli, TomlErrorIsBadInput) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("s.toml", "name = = 1\n")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("s.toml:1:"), std::string::npos) << r.err;
}

TEST(Cli, BadSetIsBadInputWithoutLine) {
  test::TempDir dir;
  std::string path = dir.write("p.toml", kPassing);
  auto r = cli({"run", path, "--set", "system.cpus=0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: --set system.cpus=0: system.cpus = 0 is out of range (1..4096)\n");
  auto r2 = cli({"run", path, "--set", "nokey"});
  EXPECT_EQ(r2.code, 2);
  EXPECT_EQ(r2.err, "error: --set nokey: expected KEY=VALUE (e.g. system.cpus=64)\n");
}

TEST(Cli, BadUsageExitsTwo) {
  EXPECT_EQ(cli({}).code, 2);
  EXPECT_EQ(cli({"frobnicate"}).code, 2);
  EXPECT_EQ(cli({"run"}).code, 2);
  EXPECT_EQ(cli({"run", "a.toml", "--no-such-flag"}).code, 2);
  EXPECT_EQ(cli({"run", "a.toml", "--trace=xml"}).code, 2);
  EXPECT_EQ(cli({"run", "a.toml", "--trace-out", "x"}).code, 2);  // needs --trace
  EXPECT_EQ(cli({"run", "a.toml", "b.toml"}).code, 2);
  EXPECT_EQ(cli({"compare"}).code, 2);
}

TEST(Cli, HelpExitsZero) {
  auto r = cli({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("run"), std::string::npos);
  auto r2 = cli({"run", "--help"});
  EXPECT_EQ(r2.code, 0);
  EXPECT_NE(r2.out.find("--set KEY=VALUE"), std::string::npos) << r2.out;
}

TEST(Cli, JsonDashWritesOnlyJsonToStdout) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", "-"});
  EXPECT_EQ(r.code, 0);
  json j = json::parse(r.out);  // throws (fails the test) on anything but one JSON document
  EXPECT_EQ(j["scenario"], "cli");
  EXPECT_EQ(j["passed"], true);
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  EXPECT_NE(r.err.find("PASS  stat unknown"), std::string::npos);  // the summary moved to stderr
  auto q = cli({"run", dir.write("p.toml", kPassing), "--json", "-", "--quiet"});
  EXPECT_EQ(q.err, "");
}

TEST(Cli, JsonToFile) {
  test::TempDir dir;
  std::string out = dir.path("r.json");
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", out, "-q"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(json::parse(test::read_file(out))["cpus"].size(), 2u);
}

TEST(Cli, UnwritableOutputIsBadInput) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", "/nonexistent/dir/r.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("error: cannot open /nonexistent/dir/r.json for writing", 0), 0u) << r.err;
}

TEST(Cli, JsonAndTraceBothOnStdoutIsBadUsage) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", "-", "--trace=jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "error: only one of --json, --trace, --chrome-trace and --ftrace can write to stdout; "
            "give the others a file\n");
  EXPECT_EQ(cli({"run", "p.toml", "--json", "-", "--chrome-trace", "-"}).code, 2);
  EXPECT_EQ(cli({"run", "p.toml", "--trace=text", "--trace-out", "-", "--ftrace", "-"}).code, 2);
}

TEST(Cli, ChromeTraceToStdoutMovesTheSummary) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--chrome-trace", "-"});
  EXPECT_EQ(r.code, 0);
  // Two metadata records (process and CPU track names), then B, X, E and the
  // NMIs-in-flight counter as the NMI starts and ends.
  EXPECT_EQ(json::parse(r.out)["traceEvents"].size(), 7u);
  EXPECT_NE(r.err.find("PASS"), std::string::npos);
}

TEST(Cli, TraceJsonlToStdout) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--trace=jsonl", "-q"});
  EXPECT_EQ(r.code, 0);
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json j = json::parse(line);
    EXPECT_TRUE(j.contains("cycle") && j.contains("cpu") && j.contains("event")) << line;
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(Cli, TraceTextToFileAndChromeAndFtrace) {
  test::TempDir dir;
  std::string trace = dir.path("t.txt"), chrome = dir.path("c.json"), ftrace = dir.path("f.txt");
  auto r = cli({"run", dir.write("p.toml", kPassing), "--trace=text", "--trace-out", trace,
                "--chrome-trace", chrome, "--ftrace", ftrace, "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(test::read_file(trace).find("cycle=120 cpu=1 handler_call handler=perf"),
            std::string::npos)
      << test::read_file(trace);
  json c = json::parse(test::read_file(chrome));
  // Metadata, the NMI's B, its counter (handling 1), the handler's X, E, the
  // counter back to 0.
  ASSERT_EQ(c["traceEvents"].size(), 7u);
  EXPECT_EQ(c["traceEvents"][0]["ph"], "M");
  EXPECT_EQ(c["traceEvents"][1]["ph"], "M");
  EXPECT_EQ(c["traceEvents"][1]["args"]["name"], "CPU 1");
  EXPECT_EQ(c["traceEvents"][2]["ph"], "B");
  EXPECT_EQ(c["traceEvents"][3]["ph"], "C");
  EXPECT_EQ(c["traceEvents"][4]["ph"], "X");
  EXPECT_EQ(c["traceEvents"][4]["name"], "perf");
  EXPECT_EQ(c["traceEvents"][4]["dur"], 1.0);  // 2000 cycles at 2000 MHz
  EXPECT_EQ(c["traceEvents"][5]["ph"], "E");
  EXPECT_EQ(c["traceEvents"][6]["ph"], "C");
  std::string f = test::read_file(ftrace);
  // Emitted when the call returns: cycle 2120 at 2 GHz = 1060 ns.
  EXPECT_NE(f.find("[001] d.Z1.     0.000001: nmi_handler: perf() delta_ns: 1000 handled: 1\n"),
            std::string::npos)
      << f;
  EXPECT_EQ(f.find("source_bitmap"), std::string::npos);
}

TEST(Cli, FtraceV5AddsTheSourceBitmap) {
  test::TempDir dir;
  std::string ftrace = dir.path("f.txt");
  auto r = cli({"run", dir.write("p.toml", kPassing), "--set", "system.kernel=v5", "--ftrace",
                ftrace, "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(test::read_file(ftrace).find("handled: 1 source_bitmap: 0x0"), std::string::npos);
}

TEST(Cli, RepeatedSetOptions) {
  test::TempDir dir;
  auto r = cli({"run", dir.write("p.toml", kPassing), "--set", "system.cpus=3", "--set",
                "name=renamed", "--json", "-"});
  EXPECT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["scenario"], "renamed");
  EXPECT_EQ(j["config"]["cpus"], 3);
}

TEST(Cli, CompareJsonHasBothRuns) {
  test::TempDir dir;
  auto r = cli({"compare", dir.write("f.toml", kFailing), "--json", "-"});
  EXPECT_EQ(r.code, 0) << r.err;  // the bitmap run holds
  json j = json::parse(r.out);
  EXPECT_EQ(j["bitmap"]["config"]["nmi_source"], true);
  EXPECT_EQ(j["polling"]["config"]["nmi_source"], false);
  EXPECT_EQ(j["bitmap"]["handlers"][0]["calls"], 1);
  EXPECT_EQ(j["polling"]["handlers"][0]["calls"], 2);
  EXPECT_NE(r.err.find("calls perf"), std::string::npos) << r.err;
}

TEST(Cli, CompareTableOnStdout) {
  test::TempDir dir;
  auto r = cli({"compare", dir.write("f.toml", kFailing)});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("2.00"), std::string::npos) << r.out;
}

TEST(Cli, StepReadsCommands) {
  test::TempDir dir;
  auto r = cli({"step", dir.write("p.toml", kPassing)},
               "help\nstep\nbreak 100\nprint cpu 0\nbogus\nquit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(fredsim 0, done)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s, step [N]"), std::string::npos);
  EXPECT_NE(r.out.find("breakpoint 1: cycle 100"), std::string::npos);
  EXPECT_NE(r.out.find("unknown command 'bogus'"), std::string::npos);
  EXPECT_NE(r.out.find("PASS  stat unknown: == 0"), std::string::npos);
}

// The stepper on the real simulator, scripted through stdin.
TEST(Cli, StepThroughTheSwallowScenario) {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  const std::string file = std::string(root ? root : ".") + "/scenarios/swallow.toml";
  auto r = cli({"step", file},
               "break handler nic\ncontinue\nprint cpu 1\nprint stats\n"
               "break cpu 1\ncontinue\nuntil 6000\nprint apic 1\nprint vmcs 1\n"
               "print nothing\ndelete\ncontinue\nquit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  // The first call of nic: 1,500 cycles of IPI latency, FRED delivery, entry code.
  EXPECT_NE(r.out.find("breakpoint 1, handler nic: stopped at cycle 1780\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cycle=1780 cpu=1 handler_call handler=nic type=local returned=2"),
            std::string::npos);
  // At that point CPU 1 is in its NMI handler, NMIs blocked, the second NMI pending.
  EXPECT_NE(r.out.find("cpu 1: in_os cpl=0 csl=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nmi: pending=true bitmap=0x0200 blocked=true"), std::string::npos);
  // default_do_nmi adds to `normal` when the handler list is done, not yet.
  EXPECT_NE(r.out.find("cpu 1: normal=0 unknown=0 external=0 swallow=0"), std::string::npos);
  EXPECT_NE(r.out.find("breakpoint 2, cpu 1: stopped at cycle "), std::string::npos);
  EXPECT_NE(r.out.find("apic 1: mode=x2apic"), std::string::npos);
  EXPECT_NE(r.out.find("vmcs 1: no guest has run on CPU 1"), std::string::npos);
  EXPECT_NE(r.out.find("cannot print 'nothing'"), std::string::npos);
  EXPECT_NE(r.out.find("no events left"), std::string::npos);
  EXPECT_NE(r.out.find("PASS  stat swallow on cpu 1: == 1"), std::string::npos);
}

// --- Output files, write errors, limits (issue 13) -------------------------------------

TEST(Cli, WriteErrorsAreReportedWithTheirReason) {
  test::TempDir dir;
  const std::string p = dir.write("p.toml", kPassing);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", p, "--json", "/dev/full", "-q"},
           {"run", p, "--trace=text", "--trace-out", "/dev/full", "-q"},
           {"run", p, "--chrome-trace", "/dev/full", "-q"},
           {"run", p, "--ftrace", "/dev/full", "-q"},
           {"compare", p, "--json", "/dev/full", "-q"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.code, 2) << args[2];
    EXPECT_EQ(r.err, "error: cannot write /dev/full: No space left on device\n") << args[2];
  }
}

TEST(Cli, AWriteErrorLeavesTheOtherOutputsAsTheyWere) {
  test::TempDir dir;
  const std::string json_out = dir.write("r.json", "old result\n");
  auto r = cli(
      {"run", dir.write("p.toml", kPassing), "--json", json_out, "--ftrace", "/dev/full", "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(test::read_file(json_out), "old result\n");  // all or nothing
  for (const auto& e : std::filesystem::directory_iterator(dir.path(".")))
    EXPECT_EQ(e.path().filename().string().find(".fredsim-"), std::string::npos) << e.path();
}

TEST(Cli, ARefusedRunKeepsAnEarlierGoodFile) {
  test::TempDir dir;
  const std::string json_out = dir.write("r.json", "old result\n");
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", json_out, "--chrome-trace",
                "/nonexistent/dir/c.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "error: cannot open /nonexistent/dir/c.json for writing: No such file or "
            "directory\n");
  EXPECT_EQ(test::read_file(json_out), "old result\n");
}

TEST(Cli, OneFileForTwoOutputsIsRefused) {
  test::TempDir dir;
  const std::string p = dir.write("p.toml", kPassing);
  const std::string a = dir.write("a.json", "old\n");
  // Another spelling, and a hard link: the same file either way.
  std::filesystem::create_hard_link(a, dir.path("b.json"));
  for (const std::string& other : {dir.path("./a.json"), dir.path("b.json")}) {
    auto r = cli({"run", p, "--json", a, "--chrome-trace", other, "-q"});
    EXPECT_EQ(r.code, 2) << other;
    EXPECT_EQ(r.err, "error: --json " + a + " and --chrome-trace " + other +
                         " are one file; give each output its own\n");
    EXPECT_EQ(test::read_file(a), "old\n");
  }
  // A new file named twice.
  auto r = cli({"run", p, "--ftrace", dir.path("n.txt"), "--trace=text", "--trace-out",
                dir.path("n.txt"), "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.path("n.txt")));
  // /dev/null keeps nothing: two outputs may share it.
  EXPECT_EQ(cli({"run", p, "--json", "/dev/null", "--ftrace", "/dev/null", "-q"}).code, 0);
}

TEST(Cli, AnOutputOnAnInputIsRefused) {
  test::TempDir dir;
  const std::string p = dir.write("p.toml", kPassing);
  auto r = cli({"run", p, "--json", dir.path("./p.toml")});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "error: --json " + dir.path("./p.toml") + " is the scenario file " + p +
                       "; an output must not overwrite an input\n");
  EXPECT_EQ(test::read_file(p), kPassing);
  EXPECT_EQ(cli({"compare", p, "--json", p}).code, 2);
  EXPECT_EQ(test::read_file(p), kPassing);
}

TEST(Cli, AnOutputReplacesTheOldFileWhole) {
  test::TempDir dir;
  const std::string out = dir.write("r.json", std::string(100'000, 'x'));
  auto r = cli({"run", dir.write("p.toml", kPassing), "--json", out, "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(test::read_file(out))["scenario"], "cli");
}

TEST(Cli, SuiteJunitIsWrittenWholeOrReported) {
  test::TempDir dir;
  dir.write("p.toml", kPassing);
  const std::string cfg = dir.write("unittests.cfg", "[p]\nfile = p.toml\n");
  auto full = cli({"suite", cfg, "--junit", "/dev/full"});
  EXPECT_EQ(full.code, 2);
  EXPECT_EQ(full.err, "error: cannot write /dev/full: No space left on device\n");
  auto onto_cfg = cli({"suite", cfg, "--junit", dir.path("./unittests.cfg")});
  EXPECT_EQ(onto_cfg.code, 2);
  EXPECT_NE(onto_cfg.err.find("is the suite file"), std::string::npos) << onto_cfg.err;
  EXPECT_EQ(test::read_file(cfg), "[p]\nfile = p.toml\n");
  const std::string junit = dir.write("j.xml", "old\n");
  auto ok = cli({"suite", cfg, "--junit", junit});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(test::read_file(junit).find("<testcase name=\"p\""), std::string::npos);
}

/// The command on the real simulator.
Outcome cli_real(std::vector<std::string> args) {
  return test::run_cli(std::move(args), SystemRunner{});
}

TEST(Cli, MaxCyclesCutsTheRunShortWithStatusThree) {
  const std::string storm = test::source_dir() + "/scenarios/storm.toml";
  auto r = cli_real({"run", storm, "--max-cycles", "10000", "--json", "-", "-q"});
  EXPECT_EQ(r.code, 3) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["stopped"], "max_cycles");
  EXPECT_EQ(j["end_cycle"], 10000);
  EXPECT_EQ(j["passed"], false);
  // Far enough: the whole run, as without the flag.
  auto whole = cli_real({"run", storm, "--max-cycles", "1000000000", "--json", "-", "-q"});
  EXPECT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(whole.out, cli_real({"run", storm, "--json", "-", "-q"}).out);
  auto c = cli_real({"compare", storm, "--max-cycles", "10000", "--json", "-", "-q"});
  EXPECT_EQ(c.code, 3);
  EXPECT_EQ(json::parse(c.out)["polling"]["stopped"], "max_cycles");
  EXPECT_EQ(cli({"run", storm, "--max-wall", "0"}).code, 2);
  EXPECT_EQ(cli({"run", storm, "--max-cycles", "lots"}).code, 2);
}

TEST(Cli, UnknownSubcommandOrOptionIsNamed) {
  auto r = cli({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("error: unknown subcommand 'frobnicate' (subcommands: run, compare, step, "
                        "sweep, suite",
                        0),
            0u)
      << r.err;
  auto o = cli({"--frobnicate"});
  EXPECT_EQ(o.code, 2);
  EXPECT_EQ(o.err.rfind("error: unknown option '--frobnicate'", 0), 0u) << o.err;
}

TEST(Cli, VersionPrintsTheProjectVersion) {
  auto r = cli({"--version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("fredsim ", 0), 0u) << r.out;
  // MAJOR.MINOR.PATCH, from CMake's project(VERSION).
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '.'), 2) << r.out;
  EXPECT_NE(r.out.find_first_of("0123456789"), std::string::npos);
}

TEST(Cli, StepRefusesBreakpointsThatCannotHit) {
  test::TempDir dir;
  auto r = cli({"step", dir.write("p.toml", kPassing)},
               "break handler nope\nbreak cpu 99\nbreak cpu x\nbreak handler perf\n"
               "break handler arch_bt\nbreak cpu 1\nquit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("break handler: no handler 'nope' (handlers: perf, "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("break cpu: CPU 99 is out of range: the system has 2 CPUs (0..1)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("break cpu: 'x' is not a CPU number"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breakpoint 1: handler perf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breakpoint 2: handler arch_bt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breakpoint 3: cpu 1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("breakpoint 4"), std::string::npos) << r.out;
}

TEST(Cli, SweepRefusesAMixWithoutAPoint) {
  test::TempDir dir;
  auto r =
      cli({"sweep", "--mixes", "two", "--handlers", "1", "--out", dir.path("s"), "--plot", "none"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("error: sweep: --mixes two needs at least ", 0), 0u) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path("s")));
}

TEST(Cli, StepBadFileIsBadInput) {
  EXPECT_EQ(cli({"step", "/nonexistent.toml"}).code, 2);
}

TEST(Cli, FtraceWritesEachVmsLinesBesideTheHosts) {
  // vm-backtrace: the guest's two arch_bt calls; the host calls nothing.
  test::TempDir dir;
  const std::string scenario = test::source_dir() + "/scenarios/vm-backtrace.toml";
  std::string ftrace = dir.path("f.txt");
  auto r = cli_real({"run", scenario, "--ftrace", ftrace, "-q"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(test::read_file(ftrace), "");
  const std::string guest = test::read_file(ftrace + ".vm0");
  EXPECT_NE(guest.find("[001] d.Z1.     0.000053: nmi_handler: arch_bt() delta_ns: 25025 "
                       "handled: 1\n"),
            std::string::npos)
      << guest;
  EXPECT_NE(guest.find("[002] d.Z1.     0.000054: nmi_handler: arch_bt()"), std::string::npos);
  // On stdout: the host's lines only, and no file.
  auto o = cli_real({"run", scenario, "--ftrace", "-", "-q"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "");
  EXPECT_FALSE(std::filesystem::exists("-.vm0"));
}

}  // namespace
}  // namespace fredsim::cli
