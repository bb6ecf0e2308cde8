#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/system_runner.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fredsim/scenario/runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

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

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome cli(std::vector<std::string> args, std::string input = "") {
  args.insert(args.begin(), "fredsim");
  FakeRunner runner;
  std::istringstream in(input);
  std::ostringstream out, err;
  int code = cli_main(args, runner, in, out, err);
  return {code, out.str(), err.str()};
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
  // Two metadata records (process and CPU track names), then B, X, E.
  EXPECT_EQ(json::parse(r.out)["traceEvents"].size(), 5u);
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
  ASSERT_EQ(c["traceEvents"].size(), 5u);
  EXPECT_EQ(c["traceEvents"][0]["ph"], "M");
  EXPECT_EQ(c["traceEvents"][1]["ph"], "M");
  EXPECT_EQ(c["traceEvents"][1]["args"]["name"], "CPU 1");
  EXPECT_EQ(c["traceEvents"][2]["ph"], "B");
  EXPECT_EQ(c["traceEvents"][3]["ph"], "X");
  EXPECT_EQ(c["traceEvents"][3]["name"], "perf");
  EXPECT_EQ(c["traceEvents"][3]["dur"], 1.0);  // 2000 cycles at 2000 MHz
  EXPECT_EQ(c["traceEvents"][4]["ph"], "E");
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
  EXPECT_NE(r.out.find("breakpoint: handler nic (cycle 1780)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cycle=1780 cpu=1 handler_call handler=nic type=local returned=2"),
            std::string::npos);
  // At that point CPU 1 is in its NMI handler, NMIs blocked, the second NMI pending.
  EXPECT_NE(r.out.find("cpu 1: in_os cpl=0 csl=2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nmi: pending=true bitmap=0x0200 blocked=true"), std::string::npos);
  // default_do_nmi adds to `normal` when the handler list is done, not yet.
  EXPECT_NE(r.out.find("cpu 1: normal=0 unknown=0 external=0 swallow=0"), std::string::npos);
  EXPECT_NE(r.out.find("breakpoint: cpu 1"), std::string::npos);
  EXPECT_NE(r.out.find("apic 1: mode=x2apic"), std::string::npos);
  EXPECT_NE(r.out.find("vmcs 1: no guest has run on CPU 1"), std::string::npos);
  EXPECT_NE(r.out.find("cannot print 'nothing'"), std::string::npos);
  EXPECT_NE(r.out.find("no events left"), std::string::npos);
  EXPECT_NE(r.out.find("PASS  stat swallow on cpu 1: == 1"), std::string::npos);
}

TEST(Cli, StepBadFileIsBadInput) {
  EXPECT_EQ(cli({"step", "/nonexistent.toml"}).code, 2);
}

}  // namespace
}  // namespace fredsim::scenario
