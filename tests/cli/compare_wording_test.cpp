// `fredsim compare`: what its header says when the scenario has no bitmap run,
// and which expectations failed when it exits 1 (issue 19).
#include <gtest/gtest.h>

#include <string>

#include "cli_util.hpp"

namespace fredsim::cli {
namespace {

// One perf call on CPU 1 that handles one item; `calls` is the expectation.
std::string scenario(int calls) {
  return R"(name = "cmp"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
[[event]]
at = 1000
type = "ipi"
from = 0
dest = 1
vector = 7
work = ["perf"]
[[expect]]
stat = "unknown"
equals = 0
[[expect]]
handler = "perf"
calls = )" +
         std::to_string(calls) + "\n";
}

TEST(CompareWording, WithNmiSourceOffBothColumnsPollAndTheHeaderSaysSo) {
  test::TempDir dir;
  const std::string file = dir.write("c.toml", scenario(1));
  auto on = test::run_cli({"compare", file});
  ASSERT_EQ(on.code, 0) << on.err;
  EXPECT_NE(on.out.find("bitmap = nmi_source on, polling = off"), std::string::npos) << on.out;
  EXPECT_EQ(on.err, "");

  auto off = test::run_cli({"compare", file, "--set", "system.nmi_source=false"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_EQ(off.out.find("bitmap = nmi_source on"), std::string::npos) << off.out;
  EXPECT_EQ(off.out.find("poll/bmp"), std::string::npos) << off.out;
  EXPECT_NE(off.out.find("the scenario has nmi_source off, so both columns poll"),
            std::string::npos)
      << off.out;
  EXPECT_NE(off.out.find("as written        polling      ratio\n"), std::string::npos) << off.out;
  EXPECT_NE(off.err.find("both runs poll and compare runs the same configuration twice"),
            std::string::npos)
      << off.err;

  // IDT has no NMI-source at all: the same words.
  auto idt = test::run_cli({"compare", file, "--set", "system.delivery=idt"});
  ASSERT_EQ(idt.code, 0) << idt.err;
  EXPECT_NE(idt.out.find("both columns poll"), std::string::npos) << idt.out;
}

TEST(CompareWording, AnExitOfOneNamesTheExpectationsThatFailed) {
  test::TempDir dir;
  auto pass = test::run_cli({"compare", dir.write("p.toml", scenario(1))});
  ASSERT_EQ(pass.code, 0) << pass.err;
  EXPECT_EQ(pass.out.find("FAIL"), std::string::npos) << pass.out;

  auto fail = test::run_cli({"compare", dir.write("f.toml", scenario(5))});
  ASSERT_EQ(fail.code, 1) << fail.err;
  EXPECT_NE(fail.out.find("\nexpectations of the bitmap run that fail (1 of 2):\n"
                          "  FAIL  handler perf: calls == 5  (actual: 1)\n"),
            std::string::npos)
      << fail.out;
  EXPECT_EQ(fail.out.find("PASS"), std::string::npos) << fail.out;

  // With --json - the table, and so the failures, go to stderr.
  auto json = test::run_cli({"compare", dir.path("f.toml"), "--json", "-"});
  ASSERT_EQ(json.code, 1);
  EXPECT_NE(json.err.find("FAIL  handler perf: calls == 5  (actual: 1)"), std::string::npos)
      << json.err;
}

}  // namespace
}  // namespace fredsim::cli
