// The Chrome trace of the demo scenario against the Trace Event Format: a
// traceEvents array; every event with name, ph, ts (microseconds), pid, tid;
// begin/end slices matched per track; flow starts and finishes paired by id.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"

namespace fredsim::scenario {
namespace {

using nlohmann::json;

std::string scenario_path(const char* name) {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  return std::string(root ? root : ".") + "/scenarios/" + name;
}

json chrome_trace_of(const char* name) {
  auto spec = load_scenario_file(scenario_path(name));
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  std::ostringstream out;
  {
    ChromeTraceSink sink(out, spec->system.frequency_mhz);
    RunOptions options;
    options.trace_sinks.push_back(&sink);
    auto r = SystemRunner{}.run(*spec, options);
    EXPECT_TRUE(r.ok());
    sink.finish();
  }
  return json::parse(out.str());
}

void check_format(const json& doc) {
  ASSERT_TRUE(doc.contains("traceEvents"));
  ASSERT_TRUE(doc["traceEvents"].is_array());
  std::map<long long, std::vector<std::string>> open;  // per tid
  std::map<long long, int> flow_starts, flow_ends;
  std::set<std::string> phases;
  for (const auto& e : doc["traceEvents"]) {
    for (const char* key : {"name", "ph", "ts", "pid", "tid"}) {
      ASSERT_TRUE(e.contains(key)) << key << " missing in " << e.dump();
    }
    ASSERT_TRUE(e["ts"].is_number()) << e.dump();
    const std::string ph = e["ph"];
    phases.insert(ph);
    const long long tid = e["tid"];
    if (ph == "B") open[tid].push_back(e["name"]);
    if (ph == "E") {
      ASSERT_FALSE(open[tid].empty()) << "E without B on tid " << tid;
      EXPECT_EQ(open[tid].back(), e["name"].get<std::string>());
      open[tid].pop_back();
    }
    if (ph == "X") {
      EXPECT_TRUE(e.contains("dur") && e["dur"].is_number()) << e.dump();
    }
    if (ph == "s") ++flow_starts[e["id"]];
    if (ph == "f") ++flow_ends[e["id"]];
  }
  for (const auto& [tid, stack] : open) {
    EXPECT_TRUE(stack.empty()) << "unclosed slice on " << tid;
  }
  EXPECT_EQ(flow_starts, flow_ends) << "every flow start has its finish";
  for (const auto& [id, n] : flow_starts) {
    EXPECT_EQ(n, 1) << "flow id " << id << " reused";
  }
}

TEST(ChromeTrace, DemoFollowsTheTraceEventFormat) {
  json doc = chrome_trace_of("demo.toml");
  check_format(doc);
  int flows = 0, handlers = 0, nmis = 0;
  std::set<long long> tracks;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "s") ++flows;
    if (e["ph"] == "X") ++handlers;
    if (e["ph"] == "B") ++nmis;
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks.insert(e["tid"].get<long long>());
  }
  EXPECT_EQ(flows, 7) << "one arrow per backtrace IPI destination";
  EXPECT_EQ(nmis, 27) << "7 backtrace NMIs and 20 PMIs";
  EXPECT_EQ(handlers, 27) << "bitmap dispatch: one handler call per NMI";
  EXPECT_EQ(tracks.size(), 8u) << "one track per CPU";
}

TEST(ChromeTrace, GuestExitsNestTheHostDispatch) {
  json doc = chrome_trace_of("guest-nmi-exit.toml");
  check_format(doc);
  int exits = 0;
  for (const auto& e : doc["traceEvents"])
    exits += e["ph"] == "B" && e["name"] == "NMI (VM exit)";
  EXPECT_EQ(exits, 5);
}

TEST(ChromeTrace, HaltedCpusSlicesAreClosedAtTheEnd) {
  json doc = chrome_trace_of("stop-1024.toml");
  check_format(doc);
}

}  // namespace
}  // namespace fredsim::scenario
