// A scenario handler under a name the kernel registers for its own sender (PMI,
// nmi_selftest, smp_stop, arch_bt, kgdb, mce) with another model crashed run,
// compare, step and suite (issue 13 item 1). It is refused where the name is,
// exit 2; the same name with the same model configures the kernel's handler.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "cli.hpp"
#include "cli_util.hpp"
#include "fredsim/scenario/system_runner.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;

using Outcome = test::CliOutcome;
using test::run_cli;

struct Pair {
  const char* name;   // the kernel's handler name
  const char* event;  // the event whose sender registers it
  const char* model;  // its model
  const char* extra;  // the event's other keys
  int vector;         // the NMI-source vector its sender uses
};
constexpr Pair kPairs[] = {
    {"mce", "mce", "mce", "", 6},
    {"PMI", "pmi", "pmi", "cpu = 1\n", 7},
    {"arch_bt", "backtrace", "backtrace", "", 4},
    {"smp_stop", "stop", "stop", "", 3},
    {"kgdb", "kgdb", "kgdb", "", 5},
    {"nmi_selftest", "selftest", "selftest", "", 1},
};

std::string scenario(const Pair& p, const char* model) {
  return std::string(
             "name = \"clash\"\n"
             "[system]\n"
             "cpus = 4\n"
             "[[handler]]\n"
             "name = \"") +
         p.name + "\"\nmodel = \"" + model + "\"\n[[event]]\nat = 0\ntype = \"" + p.event + "\"\n" +
         p.extra;
}

std::string expected_error(const std::string& path, const Pair& p) {
  return path + ":5:8: error: handler name '" + p.name +
         "' is reserved: the kernel registers its own " + p.model + " handler under it for " +
         p.model + " events; rename this device handler, or give it model = \"" + p.model +
         "\" to configure the kernel's\n";
}

TEST(ReservedHandlerNames, RunCompareAndStepRefuseAnotherModel) {
  test::TempDir dir;
  for (const Pair& p : kPairs) {
    const std::string path = dir.write(std::string(p.name) + ".toml", scenario(p, "device"));
    for (const char* cmd : {"run", "compare", "step"}) {
      auto r = run_cli({cmd, path}, "continue\nquit\n");
      EXPECT_EQ(r.code, 2) << cmd << " " << p.name << "\n" << r.out << r.err;
      EXPECT_EQ(r.err, expected_error(path, p)) << cmd;
    }
  }
}

TEST(ReservedHandlerNames, SuiteReportsTheErrorAndWritesItsJunitFile) {
  test::TempDir dir;
  std::string cfg;
  for (const Pair& p : kPairs) {
    dir.write(std::string(p.name) + ".toml", scenario(p, "device"));
    cfg += std::string("[") + p.event + "]\nfile = " + p.name + ".toml\n";
  }
  const std::string suite = dir.write("unittests.cfg", cfg);
  const std::string junit = dir.path("report.xml");
  auto r = run_cli({"suite", suite, "--junit", junit});
  EXPECT_NE(r.code, 0) << r.out << r.err;
  const std::string xml = test::read_file(junit);
  EXPECT_NE(xml.find("</testsuite"), std::string::npos) << xml;
  for (const Pair& p : kPairs) {
    EXPECT_NE(r.out.find(std::string("FAIL ") + p.event), std::string::npos) << r.out << r.err;
    EXPECT_NE(xml.find(std::string("handler name &apos;") + p.name + "&apos; is reserved"),
              std::string::npos)
        << xml;
  }
}

TEST(ReservedHandlerNames, TheSameModelConfiguresTheKernelsHandler) {
  test::TempDir dir;
  for (const Pair& p : kPairs) {
    const std::string path = dir.write(std::string(p.name) + ".toml", scenario(p, p.model) +
                                                                          "[[expect]]\n"
                                                                          "stat = \"lost\"\n"
                                                                          "equals = 0\n"
                                                                          "[[expect]]\n"
                                                                          "stat = \"unknown\"\n"
                                                                          "equals = 0\n");
    auto r = run_cli(
        {"run", path, "--json", "-", "--set", "handler.0.vector=" + std::to_string(p.vector)});
    EXPECT_EQ(r.code, 0) << p.name << "\n" << r.out << r.err;
    // One handler in the result: the scenario's, which the sender used.
    EXPECT_NE(r.out.find(std::string("\"name\":\"") + p.name + "\""), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  }
}

TEST(ReservedHandlerNames, ASelftestHandlerOfTheScenarioPassesTheTest) {
  test::TempDir dir;
  const std::string path = dir.write("selftest.toml", R"(name = "selftest"
[system]
cpus = 4
[[handler]]
name = "nmi_selftest"
vector = 1
first = true
model = "selftest"
[[event]]
at = 0
type = "selftest"
[[expect]]
handler = "nmi_selftest"
handled = 4
)");
  auto r = run_cli({"run", path});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Good, all   2 testcases passed! |"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fredsim::cli
