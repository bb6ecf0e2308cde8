// The command line on input that has no end, no bound or no meaning: files that
// are not files, times and costs past the simulator's range, overlapping
// intervals, values too long to quote, memory running out (docs/scenarios.md
// "Limits"). Each case used to hang, wrap, crash or pass silently.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.hpp"
#include "cli_util.hpp"
#include "exit_codes.hpp"
#include "fredsim/scenario/system_runner.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;

using Outcome = test::CliOutcome;
using test::run_cli;

constexpr std::string_view kHolds = R"(name = "holds"
[[handler]]
name = "perf"
[[expect]]
handler = "perf"
calls = 0
)";

TEST(CliLimits, AFifoOrADeviceIsRefusedNotRead) {
  test::TempDir dir;
  const std::string fifo = dir.path("s.toml");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto r = run_cli({"run", fifo});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, fifo + ": error: is a FIFO, not a regular file\n");
  auto z = run_cli({"run", "/dev/zero"});
  EXPECT_EQ(z.code, 2);
  EXPECT_EQ(z.err, "/dev/zero: error: is a character device, not a regular file\n");
  auto s = run_cli({"step", "/dev/zero"});
  EXPECT_EQ(s.code, 2);
  EXPECT_EQ(s.err, "/dev/zero: error: is a character device, not a regular file\n");
}

TEST(CliLimits, SuiteCfgTargetsAndScenarioFilesMustBeRegular) {
  test::TempDir dir;
  const std::string fifo = dir.path("u.cfg");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto c = run_cli({"suite", fifo});
  EXPECT_EQ(c.code, 2);
  EXPECT_EQ(c.err, fifo + ": error: is a FIFO, not a regular file\n");
  dir.write("holds.toml", kHolds);
  const std::string cfg = dir.write("ok.cfg", "[t]\nfile = holds.toml\n");
  auto t = run_cli({"suite", cfg, "--targets", "/dev/zero"});
  EXPECT_EQ(t.code, 2);
  EXPECT_EQ(t.err, "/dev/zero: error: is a character device, not a regular file\n");
  // A test whose scenario is a FIFO fails to start; the others run.
  const std::string sfifo = dir.path("f.toml");
  ASSERT_EQ(::mkfifo(sfifo.c_str(), 0600), 0);
  const std::string cfg2 = dir.write("two.cfg", "[f]\nfile = f.toml\n[t]\nfile = holds.toml\n");
  auto f = run_cli({"suite", cfg2});
  EXPECT_EQ(f.code, 1);
  EXPECT_EQ(f.out, "FAIL f (" + sfifo + ": error: is a FIFO, not a regular file)\nPASS t\n");
}

TEST(CliLimits, CfgWithNulOrInvalidUtf8IsRefusedAtItsLine) {
  using namespace std::string_literals;
  test::TempDir dir;
  dir.write("holds.toml", kHolds);
  const std::string nul = dir.write("nul.cfg", "[t]\nfile = ho\0lds.toml\n"s);
  auto n = run_cli({"suite", nul});
  EXPECT_EQ(n.code, 2);
  EXPECT_EQ(n.err, nul + ":2: error: a NUL byte at column 10: the file must be UTF-8 text\n");
  const std::string bad = dir.write("bad.cfg", "# caf\xc3\xa9\n[t\xff]\nfile = holds.toml\n");
  auto b = run_cli({"suite", bad});
  EXPECT_EQ(b.code, 2);
  EXPECT_EQ(
      b.err,
      bad + ":2: error: invalid UTF-8 (byte 0xff) at column 3: the file must be UTF-8 text\n");
  const std::string cfg = dir.write("ok.cfg", "[t]\nfile = holds.toml\n");
  const std::string targets = dir.write("x.targets", "[x]\nset = system.cpus=2\xc0\x80\n");
  auto t = run_cli({"suite", cfg, "--targets", targets});
  EXPECT_EQ(t.code, 2);
  EXPECT_EQ(t.err, targets +
                       ":2: error: invalid UTF-8 (byte 0xc0) at column 20: the file must be UTF-8 "
                       "text\n");
}

TEST(CliLimits, HugeCostsAndTimesAreRefusedNotWrapped) {
  test::TempDir dir;
  // check_cycles = 2^63-1 used to run, with an end cycle of 1817 and handler
  // cycles of 16.
  const std::string cost = dir.write("cost.toml", R"(name = "cost"
[[handler]]
name = "h"
check_cycles = 9223372036854775807
[[event]]
at = 0
type = "external"
work = "h"
)");
  auto c = run_cli({"run", cost});
  EXPECT_EQ(c.code, 2);
  EXPECT_EQ(c.err, cost +
                       ":4:16: error: handler.check_cycles = 9223372036854775807 is out of range "
                       "(at most 2147483648 (2^31))\n");
  // every = 1, count = 2^63-1 used to load and never end.
  const std::string storm = dir.write("storm.toml", R"(name = "storm"
[[event]]
at = 0
type = "pmi"
cpu = 0
every = 1
count = 9223372036854775807
)");
  auto s = run_cli({"run", storm});
  EXPECT_EQ(s.code, 2);
  EXPECT_EQ(s.err.rfind(storm + ":7:9: error: event repeats past cycle 2^50", 0), 0u) << s.err;
}

TEST(CliLimits, SetIntegerBeyond64BitsIsOutOfRange) {
  test::TempDir dir;
  const std::string f = dir.write("h.toml", kHolds);
  auto r = run_cli({"run", f, "--set", "system.cpus=99999999999999999999"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "error: --set system.cpus=99999999999999999999: system.cpus = 99999999999999999999 is "
            "out of range (1..4096; beyond 64 bits)\n");
}

TEST(CliLimits, ErrorsQuoteAtMost64BytesOfAValue) {
  test::TempDir dir;
  const std::string f = dir.write("h.toml", kHolds);
  const std::string value(1'000'000, 'v');
  auto r = run_cli({"run", f, "--set", "system.delivery=" + value});
  EXPECT_EQ(r.code, 2);
  EXPECT_LT(r.err.size(), 300u);
  EXPECT_NE(r.err.find("... (1000000 bytes)\" is not one of \"fred\" | \"idt\""), std::string::npos)
      << r.err.substr(0, 300);
}

TEST(CliLimits, OverlappingIntervalsAreRefused) {
  test::TempDir dir;
  // It used to run, print "VM entry failed" and count the second guest's NMIs in
  // the first one's dispatch.
  const std::string f = dir.write("o.toml", R"(name = "overlap"
[system]
cpus = 2
[[event]]
at = 0
type = "guest"
cpu = 1
until = 1_000_000
[[event]]
at = 500_000
type = "guest"
cpu = 1
)");
  auto r = run_cli({"run", f});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, f +
                       ":10:6: error: [[event]] of type \"guest\" on CPU 1 (cycles 500000 to the "
                       "end of the run) overlaps the \"guest\" interval at " +
                       f +
                       ":4:1 (cycles 0..1000000): cycles 500000..1000000 would be in both, and a "
                       "CPU is in one guest or user interval at a time\n");
  EXPECT_EQ(r.out, "");
}

/// A run that reaches the end of simulated time: the handler's cost takes the
/// NMI's dispatch past 2^50.
const std::string kEndOfTime =
    test::read_file(test::source_dir() + "/tests/scenario/data/end-of-time.toml");

TEST(CliLimits, ARunThatReachesTheEndOfTimeStopsWithAnError) {
  test::TempDir dir;
  const std::string f = dir.write("e.toml", kEndOfTime);
  const std::string json = dir.path("e.json");
  auto r = run_cli({"run", f, "--json", json});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind(f + ": error: simulated time ran out at cycle ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(", past cycle 1125899906842624 (2^50, the end of simulated time); the run "
                       "stops there\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(test::read_file(json), "") << "no result for a run cut off";
  // A cheaper handler ends in time.
  auto ok = run_cli({"run", f, "--set", "handler.0.check_cycles=1_000"});
  EXPECT_EQ(ok.code, 0) << ok.err;
}

TEST(CliLimits, StepSaysOnceThatTheRunReachedTheEndOfTime) {
  test::TempDir dir;
  const std::string f = dir.write("e.toml", kEndOfTime);
  auto r = run_cli({"step", f}, "continue\nstep\nquit\n");
  const std::string said = ": error: simulated time ran out at cycle ";
  const auto first = r.out.find(said);
  ASSERT_NE(first, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(said, first + 1), std::string::npos) << "said once:\n" << r.out;
  // Before the run reaches it, nothing is said.
  auto early = run_cli({"step", f}, "quit\n");
  EXPECT_EQ(early.out.find(said), std::string::npos) << early.out;
}

TEST(CliLimits, ASuiteTestThatReachesTheEndOfTimeFails) {
  test::TempDir dir;
  dir.write("e.toml", kEndOfTime);
  // Untimed (ScenarioRunner::run) and timed (a session in chunks): the same error.
  const std::string cfg =
      dir.write("u.cfg", "[plain]\nfile = e.toml\n[timed]\nfile = e.toml\ntimeout = 60\n");
  // (Under fred: the built-in default target turns NMI-source on, and the
  // source filter would leave the handler out.)
  auto r = run_cli({"suite", cfg, "--target", "fred"});
  EXPECT_EQ(r.code, 1);
  std::istringstream lines(r.out);
  std::string plain, timed;
  std::getline(lines, plain);
  std::getline(lines, timed);
  EXPECT_EQ(plain.rfind("FAIL plain (" + dir.path("e.toml") + ": error: simulated time ran out", 0),
            0u)
      << r.out;
  EXPECT_EQ(timed.rfind("FAIL timed (" + dir.path("e.toml") + ": error: simulated time ran out", 0),
            0u)
      << r.out;
}

/// The process's address space now, from /proc/self/status (VmSize, in kB).
std::uint64_t address_space_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  std::uint64_t kb = 0;
  while (in >> key) {
    if (key == "VmSize:") {
      in >> kb;
      return kb * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

// AddressSanitizer's allocator ends the process itself when memory runs out
// (unless told otherwise), so there is no std::bad_alloc to see.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

TEST(CliLimitsDeathTest, OutOfMemoryIsItsOwnErrorAndStatus) {
  if (kAsan) GTEST_SKIP() << "AddressSanitizer handles out of memory itself";
  // (The default death test style forks: the child writes nothing to the disk,
  // and leaves through std::exit, so the parent's TempDir removes the file.)
  test::TempDir dir;
  // 40 MB read whole, then a string of 40 MB built from it: about 100 MB more
  // than the process has, past the limit below.
  const std::string f = dir.write(
      "big.toml", "name = \"big\"\ndescription = \"" + std::string(40'000'000, 'd') + "\"\n");
  auto run_with_little_memory = [&] {
    const std::uint64_t limit = address_space_bytes() + (60u << 20);
    const rlimit rl{limit, limit};
    ::setrlimit(RLIMIT_AS, &rl);
    SystemRunner runner;
    std::istringstream in;
    std::ostringstream out;
    std::exit(cli_main({"fredsim", "run", f}, runner, in, out, std::cerr));
  };
  EXPECT_EXIT(run_with_little_memory(), ::testing::ExitedWithCode(kExitNoMemory),
              "^error: out of memory while (reading|loading) .*big\\.toml\n$");
}

}  // namespace
}  // namespace fredsim::cli
