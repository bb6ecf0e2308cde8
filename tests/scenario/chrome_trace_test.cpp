// Chrome traces checked against the Trace Event Format's rules (the format's
// document "Trace Event Format", Google, as read by ui.perfetto.dev and
// chrome://tracing): the members each phase requires, B/E balanced per thread,
// slices properly nested per thread, every flow's start and end inside a slice
// on their thread at their timestamp (an unbound flow event is dropped by both
// viewers), counters numeric.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"

namespace fredsim::scenario {
namespace {

using nlohmann::json;

std::string source_dir() {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  return root ? root : ".";
}

// `max_cycles`: the kvm-unit-tests loops run 100,000 iterations (a trace of a
// GB); their first two million cycles show every pattern, and a cut run's trace
// must follow the rules as well.
json chrome_trace_of(const ScenarioSpec& spec, std::optional<Cycle> max_cycles = {}) {
  std::ostringstream out;
  {
    ChromeTraceSink sink(out, trace_sink_context(spec));
    RunOptions options;
    options.limits.max_cycles = max_cycles;
    options.trace_sinks.push_back(&sink);
    auto r = SystemRunner{}.run(spec, options);
    EXPECT_TRUE(r.ok());
    if (r.ok()) sink.end_at(r->end_cycle);
    sink.finish();
  }
  return json::parse(out.str());
}

json chrome_trace_of(const std::string& name, std::optional<Cycle> max_cycles = {}) {
  auto spec = load_scenario_file(source_dir() + "/scenarios/" + name);
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  return chrome_trace_of(*spec, max_cycles);
}

json chrome_trace_of_text(std::string_view text) {
  auto spec = load_scenario_string(text, "test.toml");
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  return chrome_trace_of(*spec);
}

struct Span {
  double begin, end;
  std::string name;
};

// Slack for timestamps printed as decimals of microseconds.
constexpr double kEps = 1e-6;

/// Every rule; returns the slices per thread for further checks.
std::map<long long, std::vector<Span>> check_format(const json& doc) {
  std::map<long long, std::vector<Span>> slices;
  EXPECT_TRUE(doc.contains("traceEvents") && doc["traceEvents"].is_array());
  if (!doc.contains("traceEvents")) return slices;
  std::map<long long, std::vector<std::pair<std::string, double>>> open;  // per tid
  struct FlowEnd {
    long long tid;
    double ts;
  };
  std::map<long long, std::vector<FlowEnd>> starts, ends;
  for (const auto& e : doc["traceEvents"]) {
    // Every event: name, ph, pid, tid; ts in microseconds (metadata too here).
    for (const char* key : {"name", "ph", "ts", "pid", "tid"}) {
      EXPECT_TRUE(e.contains(key)) << key << " missing in " << e.dump();
      if (!e.contains(key)) return slices;
    }
    EXPECT_TRUE(e["name"].is_string() && e["ts"].is_number() && e["pid"].is_number_integer() &&
                e["tid"].is_number_integer())
        << e.dump();
    const std::string ph = e["ph"];
    const long long tid = e["tid"];
    const double ts = e["ts"];
    if (ph == "M") {
      // Metadata: a process's or thread's name, or a thread's sort index.
      if (e["name"] == "thread_sort_index") {
        EXPECT_TRUE(e.contains("args") && e["args"]["sort_index"].is_number_integer()) << e.dump();
      } else {
        EXPECT_TRUE(e["name"] == "process_name" || e["name"] == "thread_name") << e.dump();
        EXPECT_TRUE(e.contains("args") && e["args"]["name"].is_string()) << e.dump();
      }
    } else if (ph == "B") {
      open[tid].emplace_back(e["name"], ts);
    } else if (ph == "E") {
      EXPECT_FALSE(open[tid].empty()) << "E without B on tid " << tid << ": " << e.dump();
      if (open[tid].empty()) continue;
      EXPECT_EQ(open[tid].back().first, e["name"].get<std::string>()) << e.dump();
      EXPECT_LE(open[tid].back().second, ts) << e.dump();
      slices[tid].push_back({open[tid].back().second, ts, open[tid].back().first});
      open[tid].pop_back();
    } else if (ph == "X") {
      EXPECT_TRUE(e.contains("dur") && e["dur"].is_number() && e["dur"].get<double>() >= 0)
          << e.dump();
      slices[tid].push_back({ts, ts + e.value("dur", 0.0), e["name"]});
    } else if (ph == "i") {
      EXPECT_TRUE(e.contains("s") && (e["s"] == "t" || e["s"] == "p" || e["s"] == "g")) << e.dump();
    } else if (ph == "C") {
      EXPECT_TRUE(e.contains("args") && e["args"].is_object() && !e["args"].empty()) << e.dump();
      for (const auto& [k, v] : e["args"].items())
        EXPECT_TRUE(v.is_number()) << "counter " << k << " not numeric: " << e.dump();
    } else if (ph == "s" || ph == "f") {
      EXPECT_TRUE(e.contains("id") && e.contains("cat")) << e.dump();
      if (ph == "f") {
        EXPECT_EQ(e.value("bp", ""), "e") << "f binds to its enclosing slice";
      }
      (ph == "s" ? starts : ends)[e["id"].get<long long>()].push_back({tid, ts});
    } else {
      ADD_FAILURE() << "phase " << ph << " not written by fredsim: " << e.dump();
    }
  }
  for (const auto& [tid, stack] : open)
    EXPECT_TRUE(stack.empty()) << "unclosed slice on " << tid;
  // Slices on one thread nest: each starts and ends inside the one below it.
  for (auto& [tid, list] : slices) {
    std::vector<Span> sorted = list;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Span& a, const Span& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
    });
    std::vector<Span> stack;
    for (const Span& s : sorted) {
      while (!stack.empty() && stack.back().end <= s.begin + kEps &&
             !(stack.back().end >= s.end - kEps && stack.back().begin <= s.begin + kEps &&
               s.end - s.begin <= kEps))
        stack.pop_back();
      if (!stack.empty()) {
        EXPECT_LE(s.end, stack.back().end + kEps)
            << "tid " << tid << ": " << s.name << " [" << s.begin << ", " << s.end
            << "] straddles the end of " << stack.back().name << " [" << stack.back().begin << ", "
            << stack.back().end << "]";
      }
      stack.push_back(s);
    }
  }
  // Flows: ids unique, one start and one end each, both inside a slice on their
  // thread at their timestamp: the start in an ICR write, the end in an NMI.
  auto inside = [&](const FlowEnd& f, std::string_view prefix) {
    for (const Span& s : slices[f.tid]) {
      if (s.name.starts_with(prefix) && s.begin - kEps <= f.ts && f.ts <= s.end + kEps) return true;
    }
    return false;
  };
  EXPECT_EQ(starts.size(), ends.size());
  for (const auto& [id, list] : starts) {
    EXPECT_EQ(list.size(), 1u) << "flow id " << id << " reused";
    EXPECT_EQ(ends[id].size(), 1u) << "flow " << id << " has no single end";
    if (ends[id].size() != 1) continue;
    EXPECT_TRUE(inside(list[0], "ICR write"))
        << "flow " << id << " starts outside an ICR-write slice on tid " << list[0].tid << " at "
        << list[0].ts;
    EXPECT_TRUE(inside(ends[id][0], "NMI")) << "flow " << id << " ends outside an NMI slice on tid "
                                            << ends[id][0].tid << " at " << ends[id][0].ts;
  }
  return slices;
}

int count(const json& doc, std::string_view ph, std::string_view name = "") {
  int n = 0;
  for (const auto& e : doc["traceEvents"])
    n += e["ph"] == ph && (name.empty() || e["name"] == name);
  return n;
}

TEST(ChromeTrace, DemoFollowsTheTraceEventFormat) {
  json doc = chrome_trace_of("demo.toml");
  check_format(doc);
  std::set<long long> tracks;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks.insert(e["tid"].get<long long>());
  }
  EXPECT_EQ(count(doc, "s"), 7) << "one arrow per backtrace IPI destination";
  EXPECT_EQ(count(doc, "X", "ICR write"), 7) << "one slice per ICR write";
  EXPECT_EQ(count(doc, "B", "NMI"), 27) << "7 backtrace NMIs and 20 PMIs";
  EXPECT_EQ(count(doc, "X") - 7, 27) << "bitmap dispatch: one handler call per NMI";
  EXPECT_EQ(tracks.size(), 8u) << "one track per CPU";
}

TEST(ChromeTrace, EveryScenarioFollowsTheTraceEventFormat) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/scenarios")) {
    if (entry.path().extension() != ".toml") continue;
    SCOPED_TRACE(entry.path().filename().string());
    check_format(chrome_trace_of(entry.path().filename().string(), 2'000'000));
    ++n;
  }
  EXPECT_GE(n, 10);
}

TEST(ChromeTrace, GuestExitsNestTheHostDispatch) {
  json doc = chrome_trace_of("guest-nmi-exit.toml");
  auto slices = check_format(doc);
  EXPECT_EQ(count(doc, "B", "NMI (VM exit)"), 5);
  // The guest runs from its VM entry to each exit, and again after each entry:
  // 6 stretches, the last one to the end of the run.
  EXPECT_EQ(count(doc, "B", "guest"), 6);
  double last_end = 0;
  for (const Span& s : slices[2])
    if (s.name == "guest") last_end = std::max(last_end, s.end);
  EXPECT_DOUBLE_EQ(last_end, 2'000'000 / 2000.0) << "to system.end";
}

TEST(ChromeTrace, EachVcpuHasATrackBelowItsHostCpuWithTheGuestsNmisAndCalls) {
  // vm-backtrace: vCPU 0 (host CPU 1) sends the guest's backtrace NMIs to
  // vCPUs 1 and 2 (host CPUs 2 and 3).
  json doc = chrome_trace_of("vm-backtrace.toml");
  auto slices = check_format(doc);
  std::map<long long, std::string> names;
  std::map<long long, long long> sort;
  std::map<long long, std::vector<std::string>> instants;
  for (const auto& e : doc["traceEvents"]) {
    const long long tid = e["tid"];
    if (e["ph"] == "M" && e["name"] == "thread_name") names[tid] = e["args"]["name"];
    if (e["ph"] == "M" && e["name"] == "thread_sort_index") sort[tid] = e["args"]["sort_index"];
    if (e["ph"] == "i") instants[tid].push_back(e["name"]);
  }
  for (const long long v : {1, 2}) {
    SCOPED_TRACE(v);
    const long long tid = 1'000'000 + v;
    const long long host = v + 1;
    EXPECT_EQ(names[tid], "vm0 vCPU " + std::to_string(v));
    EXPECT_EQ(sort[host], 100 * host);
    EXPECT_EQ(sort[tid], 100 * host + 1) << "right below its host CPU's track";
    std::vector<Span> nmi, call;
    for (const Span& s : slices[tid]) {
      if (s.name == "NMI") nmi.push_back(s);
      if (s.name == "arch_bt") call.push_back(s);
    }
    ASSERT_EQ(nmi.size(), 1u) << "the injected NMI";
    ASSERT_EQ(call.size(), 1u) << "the guest's handler call";
    EXPECT_GT(call[0].begin, nmi[0].begin);
    EXPECT_LT(call[0].end, nmi[0].end);
    EXPECT_EQ(std::count(instants[tid].begin(), instants[tid].end(), "nmi_inject"), 1);
    EXPECT_EQ(std::count(instants[tid].begin(), instants[tid].end(), "nmi_outcome"), 1);
    // The host CPU's track: the guest's code runs around the NMI; no NMI or
    // handler slice of the host.
    int guest = 0;
    for (const Span& s : slices[host]) {
      EXPECT_EQ(s.name, "guest") << "on CPU " << host;
      guest += s.name == "guest";
      if (s.name == "guest" && s.begin <= nmi[0].begin && nmi[0].end <= s.end) guest += 100;
    }
    EXPECT_GE(guest, 100) << "a guest stretch of the host CPU holds the vCPU's NMI";
    EXPECT_EQ(std::count(instants[host].begin(), instants[host].end(), "vm_exit"), 1)
        << "the kick's external-interrupt exit";
  }
  EXPECT_EQ(sort.count(0), 0u) << "host CPU 0 runs nothing: no track";
  EXPECT_EQ(count(doc, "X", "arch_bt"), 2);
}

TEST(ChromeTrace, AGuestsNmiIpiDrawsAnArrowFromItsIcrWriteToTheNmiKvmInjects) {
  // vCPU 0 writes two NMI IPIs to vCPU 1, the second after KVM injected the
  // first's NMI (so it is the next NMI's), then stops the others (a fixed
  // IPI: an ICR write without an arrow).
  json doc = chrome_trace_of_text(
      "name = \"t\"\n[system]\ncpus = 4\n[[vm]]\nname = \"vm0\"\ncpus = [1, 2, 3]\n"
      "[[handler]]\nvm = \"vm0\"\nname = \"g\"\nmodel = \"backtrace\"\nvector = 4\n"
      "[[event]]\nvm = \"vm0\"\nat = 10000\ntype = \"ipi\"\nfrom = 0\ndest = 1\nvector = 4\n"
      "work = \"g\"\n"
      "[[event]]\nvm = \"vm0\"\nat = 10001\ntype = \"ipi\"\nfrom = 0\ndest = 1\nvector = 4\n"
      "work = \"g\"\n"
      "[[event]]\nvm = \"vm0\"\nat = 400000\ntype = \"stop\"\nfrom = 0\n");
  auto slices = check_format(doc);
  constexpr long long kSender = 1'000'000, kTarget = 1'000'001;
  std::vector<Span> writes, nmis;
  for (const Span& sl : slices[kSender]) {
    if (sl.name == "ICR write") writes.push_back(sl);
  }
  for (const Span& sl : slices[kTarget]) {
    if (sl.name == "NMI") nmis.push_back(sl);
  }
  ASSERT_EQ(writes.size(), 3u) << "two NMI IPIs and the REBOOT_VECTOR, on the sender's vCPU track";
  ASSERT_EQ(nmis.size(), 2u);
  std::sort(nmis.begin(), nmis.end(),
            [](const Span& x, const Span& y) { return x.begin < y.begin; });
  std::map<long long, std::pair<json, json>> flows;  // id: its s and its f
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] == "s") flows[e["id"]].first = e;
    if (e["ph"] == "f") flows[e["id"]].second = e;
  }
  ASSERT_EQ(flows.size(), 2u) << "one arrow per NMI IPI destination, none for the fixed IPI";
  int n = 0;
  for (const auto& [id, sf] : flows) {
    SCOPED_TRACE(id);
    EXPECT_EQ(sf.first["tid"].get<long long>(), kSender);
    EXPECT_EQ(sf.second["tid"].get<long long>(), kTarget);
    const double f = sf.second["ts"];
    // In flow order: the first write's arrow ends in the first NMI, the
    // second's (sent after that NMI was injected) in the next one.
    EXPECT_GT(f, nmis[n].begin);
    EXPECT_LT(f, nmis[n].end);
    const double s = sf.first["ts"];
    EXPECT_GT(s, writes[n].begin);
    EXPECT_LT(s, writes[n].end);
    EXPECT_LT(s, nmis[n].begin) << "the write comes before the NMI it brings";
    ++n;
  }
}

TEST(ChromeTrace, WithoutVmsNoSortIndex) {
  json doc = chrome_trace_of("demo.toml");
  EXPECT_EQ(count(doc, "M", "thread_sort_index"), 0) << "tracks sort by CPU number";
}

TEST(ChromeTrace, CountersFollowThePendingBitmapAndTheNmisInFlight) {
  json doc = chrome_trace_of("demo.toml");
  // CPU 1 gets one backtrace IPI (source vector 4): sent, latched with bit 4
  // pending, taken (bitmap cleared, handling), returned.
  std::vector<json> bitmap, flight;
  for (const auto& e : doc["traceEvents"]) {
    if (e["ph"] != "C") continue;
    if (e["name"] == "CPU 1 pending NMI sources") bitmap.push_back(e["args"]);
    if (e["name"] == "CPU 1 NMIs in flight") flight.push_back(e["args"]);
  }
  ASSERT_GE(bitmap.size(), 2u);
  EXPECT_EQ(bitmap[0]["bitmap"], 0x10);
  EXPECT_EQ(bitmap[1]["bitmap"], 0);
  ASSERT_GE(flight.size(), 4u);
  EXPECT_EQ(flight[0], (json{{"sent", 1}, {"latched", 0}, {"handling", 0}}));
  EXPECT_EQ(flight[1], (json{{"sent", 0}, {"latched", 1}, {"handling", 0}}));
  EXPECT_EQ(flight[2], (json{{"sent", 0}, {"latched", 0}, {"handling", 1}}));
  EXPECT_EQ(flight[3], (json{{"sent", 0}, {"latched", 0}, {"handling", 0}}));
}

TEST(ChromeTrace, UserCodeIsASliceAroundTheNmis) {
  json doc = chrome_trace_of_text(R"(name = "user"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
[[event]]
at = 1000
type = "user"
cpu = 1
until = 100000
[[event]]
at = 20000
type = "pmi"
cpu = 1
)");
  auto slices = check_format(doc);
  std::vector<Span> user, nmi;
  for (const Span& s : slices[1]) {
    if (s.name == "user") user.push_back(s);
    if (s.name == "NMI") nmi.push_back(s);
  }
  ASSERT_EQ(nmi.size(), 1u);
  EXPECT_GE(nmi[0].begin, 10.0) << "the PMI at cycle 20000, 10 us at 2000 MHz";
  ASSERT_EQ(user.size(), 2u) << "before the PMI's NMI and after its return";
  EXPECT_DOUBLE_EQ(user[0].begin, 0.5);
  EXPECT_DOUBLE_EQ(user[0].end, nmi[0].begin);
  EXPECT_DOUBLE_EQ(user[1].begin, nmi[0].end);
  EXPECT_DOUBLE_EQ(user[1].end, 50.0);
  EXPECT_TRUE(slices[0].empty()) << "CPU 0 idles: no slice";
}

TEST(ChromeTrace, HandlerActionWritesSitInsideTheirCall) {
  // kvm-unit-tests "multiple nmi": the handler sends NMIs to its own CPU.
  json doc = chrome_trace_of("kut-apic-multiple-nmi.toml", 2'000'000);
  check_format(doc);
  EXPECT_GT(count(doc, "s"), 0);
}

TEST(ChromeTrace, HaltedCpusSlicesAreClosedAtTheEnd) {
  json doc = chrome_trace_of("stop-1024.toml");
  check_format(doc);
}

}  // namespace
}  // namespace fredsim::scenario
