// One clock (issue 19): system.frequency_mhz converts every cycle count to time,
// and timing.core_mhz is only another name for it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.hpp"

namespace fredsim::cli {
namespace {

using nlohmann::json;

// One perf call on CPU 1 that handles one item: 1200 + 1500 cycles of work.
constexpr std::string_view kOneCall = R"(name = "clock"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
check_cycles = 1200
handle_cycles = 1500
[[event]]
at = 1000
type = "ipi"
from = 0
dest = 1
vector = 7
work = ["perf"]
)";

/// The delta_ns of every handler_call record of the JSONL trace.
std::vector<std::uint64_t> jsonl_deltas(const std::string& jsonl) {
  std::vector<std::uint64_t> out;
  std::istringstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line);
    if (j["event"] == "handler_call") out.push_back(j["delta_ns"].get<std::uint64_t>());
  }
  return out;
}

/// The delta_ns of every nmi_handler line of the ftrace output.
std::vector<std::uint64_t> ftrace_deltas(const std::string& text) {
  std::vector<std::uint64_t> out;
  static const std::regex re("delta_ns: ([0-9]+)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back(std::stoull((*it)[1].str()));
  return out;
}

struct Traces {
  test::CliOutcome outcome;
  json result;
  std::vector<std::uint64_t> jsonl, ftrace;
};

Traces run_with(const std::vector<std::string>& sets) {
  test::TempDir dir;
  std::vector<std::string> args{
      "run",         dir.write("c.toml", kOneCall), "--json",   dir.path("r.json"), "--trace=jsonl",
      "--trace-out", dir.path("t.jsonl"),           "--ftrace", dir.path("f.txt"),  "-q"};
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  Traces t{test::run_cli(args), {}, {}, {}};
  if (t.outcome.code != 0) return t;
  t.result = json::parse(test::read_file(dir.path("r.json")));
  t.jsonl = jsonl_deltas(test::read_file(dir.path("t.jsonl")));
  t.ftrace = ftrace_deltas(test::read_file(dir.path("f.txt")));
  return t;
}

TEST(Clock, TheTracesAndTheResultShareTheDefaultClock) {
  Traces t = run_with({});
  ASSERT_EQ(t.outcome.code, 0) << t.outcome.err;
  EXPECT_EQ(t.result["config"]["frequency_mhz"], 2000);
  ASSERT_FALSE(t.jsonl.empty());
  EXPECT_EQ(t.jsonl, t.ftrace);
}

// The issue's case: timing.core_mhz once made the kernel's delta_ns twice the
// ftrace one. As a name of the one clock it moves both, and the result says so.
TEST(Clock, CoreMhzIsTheOneClockUnderAnotherName) {
  Traces base = run_with({});
  Traces t = run_with({"timing.core_mhz=1000"});
  ASSERT_EQ(t.outcome.code, 0) << t.outcome.err;
  EXPECT_EQ(t.result["config"]["frequency_mhz"], 1000);
  ASSERT_FALSE(t.jsonl.empty());
  EXPECT_EQ(t.jsonl, t.ftrace);
  ASSERT_EQ(t.jsonl.size(), base.jsonl.size());
  for (std::size_t i = 0; i < t.jsonl.size(); ++i)
    EXPECT_EQ(t.jsonl[i], base.jsonl[i] * 2) << i;  // half the clock, twice the time

  Traces f = run_with({"system.frequency_mhz=1000"});
  ASSERT_EQ(f.outcome.code, 0) << f.outcome.err;
  EXPECT_EQ(f.jsonl, t.jsonl);
  EXPECT_EQ(f.result["config"], t.result["config"]);
}

TEST(Clock, TwoDifferentClocksAreRefusedNamingTheOneToUse) {
  test::TempDir dir;
  const std::string file =
      dir.write("c.toml", std::string(kOneCall) + "[timing]\ncore_mhz = 1000\n");
  auto r = test::run_cli({"run", file, "--set", "system.frequency_mhz=3000", "-q"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, file +
                       ":17:12: error: timing.core_mhz = 1000 disagrees with "
                       "system.frequency_mhz = 3000: a run has one clock; set "
                       "system.frequency_mhz only\n");
  // The same value twice is one clock.
  EXPECT_EQ(test::run_cli({"run", file, "--set", "system.frequency_mhz=1000", "-q"}).code, 0);
}

TEST(Clock, SummaryAndCompareShowTimeBesideCycles) {
  test::TempDir dir;
  const std::string file = dir.write("c.toml", kOneCall);
  auto r = test::run_cli({"run", file, "--set", "system.frequency_mhz=1000"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("timing default, 1000 MHz\n"), std::string::npos) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.out, m, std::regex("ended at cycle ([0-9]+) \\(([0-9]+)\\.([0-9]{3}) us\\)")))
      << r.out;
  const std::uint64_t end = std::stoull(m[1].str());
  EXPECT_EQ(std::stoull(m[2].str()), end / 1000);
  EXPECT_EQ(std::stoull(m[3].str()), end % 1000);

  auto c = test::run_cli({"compare", file, "--set", "system.frequency_mhz=1000"});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_NE(c.out.find("2 CPUs, fred, 1000 MHz;"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("end time, us"), std::string::npos) << c.out;
}

}  // namespace
}  // namespace fredsim::cli
