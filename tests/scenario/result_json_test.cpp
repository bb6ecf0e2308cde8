#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using nlohmann::json;

ScenarioResult filled() {
  ScenarioSpec spec = test::load_ok(R"(name = "backtrace-all"
[system]
cpus = 2
[[handler]]
name = "perf"
vector = 7
[[handler]]
name = "ecc"
type = "serr"
[[expect]]
handler = "perf"
cpu = 1
calls = 1
)");
  ScenarioResult r = empty_result(spec);
  r.end_cycle = 123456;
  CpuResult& c = r.cpus[1];
  c.nmi_received = 3;
  c.nmi_coalesced = 1;
  c.nmi_delivered = 2;
  c.vm_exits_nmi = 1;
  c.dispatch_cycles = 5400;
  c.stats = {2, 1, 1, 1};
  c.lost = 1;
  r.handlers[0].calls = 1;
  r.handlers[0].handled = 1;
  r.handlers[0].cycles = 1900;
  r.handlers[0].per_cpu[1] = {1, 1};
  r.console.push_back({1000, 1, "Uhhuh. NMI received for unknown reason 00 on CPU 1."});
  r.console.push_back({1001, kNoCpu, "platform line"});
  r.panic = PanicRecord{2000, 1, "Kernel panic - not syncing: NMI: Not continuing"};
  r.dispatch_samples.add(2000);
  r.dispatch_samples.add(3400);
  apply_expectations(spec, r);
  return r;
}

TEST(ResultJson, HasEveryContractFieldWithItsType) {
  json j = json::parse(to_json(filled()));
  EXPECT_EQ(j["scenario"], "backtrace-all");
  const json& cfg = j["config"];
  EXPECT_EQ(cfg["cpus"], 2);
  EXPECT_EQ(cfg["delivery"], "fred");
  EXPECT_EQ(cfg["nmi_source"], true);
  EXPECT_EQ(cfg["apic"], "x2apic");
  EXPECT_EQ(cfg["kernel"], "v7");
  EXPECT_TRUE(j["end_cycle"].is_number_unsigned());
  EXPECT_EQ(j["end_cycle"], 123456);

  ASSERT_TRUE(j["cpus"].is_array());
  ASSERT_EQ(j["cpus"].size(), 2u);
  const json& c = j["cpus"][1];
  EXPECT_EQ(c["id"], 1);
  EXPECT_EQ(c["nmi_received"], 3);
  EXPECT_EQ(c["nmi_coalesced"], 1);
  EXPECT_EQ(c["nmi_delivered"], 2);
  EXPECT_EQ(c["vm_exits_nmi"], 1);
  EXPECT_EQ(c["dispatch_cycles"], 5400);
  EXPECT_EQ(c["stats"], (json{{"normal", 2}, {"unknown", 1}, {"external", 1}, {"swallow", 1}}));
  EXPECT_EQ(c["lost"], 1);
  for (const char* k : {"id", "nmi_received", "nmi_coalesced", "nmi_delivered", "vm_exits_nmi",
                        "dispatch_cycles", "lost"}) {
    EXPECT_TRUE(j["cpus"][0][k].is_number_integer()) << k;
  }

  ASSERT_EQ(j["handlers"].size(), 2u);
  const json& h = j["handlers"][0];
  EXPECT_EQ(h["name"], "perf");
  EXPECT_EQ(h["type"], "local");
  EXPECT_EQ(h["vector"], 7);
  EXPECT_EQ(h["calls"], 1);
  EXPECT_EQ(h["handled"], 1);
  EXPECT_EQ(h["cycles"], 1900);
  EXPECT_EQ(h["per_cpu"], json::parse(R"([{"cpu":1,"calls":1,"handled":1}])"));
  EXPECT_EQ(j["handlers"][1]["type"], "serr");
  EXPECT_TRUE(j["handlers"][1]["per_cpu"].empty());

  ASSERT_EQ(j["expectations"].size(), 1u);
  EXPECT_EQ(j["expectations"][0]["text"], "handler perf on cpu 1: calls == 1");
  EXPECT_EQ(j["expectations"][0]["passed"], true);
  EXPECT_EQ(j["expectations"][0]["actual"], 1);
  EXPECT_EQ(j["passed"], true);

  EXPECT_EQ(j["console"][0]["text"], "Uhhuh. NMI received for unknown reason 00 on CPU 1.");
  EXPECT_EQ(j["console"][0]["cpu"], 1);
  EXPECT_TRUE(j["console"][1]["cpu"].is_null());
  EXPECT_EQ(j["panic"]["message"], "Kernel panic - not syncing: NMI: Not continuing");
  EXPECT_EQ(j["dispatch"]["count"], 2);
  EXPECT_EQ(j["dispatch"]["mean"], 2700.0);
}

TEST(ResultJson, FieldOrderFollowsTheContract) {
  std::string s = to_json(filled());
  // Top-level keys: ',"key":' (or '{"key":' for the first); "cpus" is also in config.
  auto pos = [&](const char* k) {
    auto p = s.find(std::string(",\"") + k + "\":");
    return p == std::string::npos ? s.find(std::string("{\"") + k + "\":") : p;
  };
  EXPECT_LT(pos("scenario"), pos("config"));
  EXPECT_LT(pos("config"), pos("end_cycle"));
  EXPECT_LT(pos("end_cycle"), pos("cpus"));
  EXPECT_LT(pos("cpus"), pos("handlers"));
  EXPECT_LT(pos("handlers"), pos("expectations"));
  EXPECT_LT(pos("expectations"), pos("passed"));
  EXPECT_EQ(s.find('\n'), std::string::npos);
}

TEST(ResultJson, NoPanicIsNull) {
  ScenarioResult r = filled();
  r.panic.reset();
  EXPECT_TRUE(json::parse(to_json(r))["panic"].is_null());
}

TEST(ResultJson, InvalidUtf8IsReplacedNotThrown) {
  ScenarioResult r = filled();
  r.console.push_back({1, 0, "bad \xff byte"});
  json j = json::parse(to_json(r));
  EXPECT_EQ(j["console"].size(), 3u);
}

TEST(ResultJson, CompareHasBitmapAndPolling) {
  ScenarioResult b = filled();
  ScenarioResult p = filled();
  p.config.nmi_source = false;
  json j = json::parse(compare_json(b, p));
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j["bitmap"]["config"]["nmi_source"], true);
  EXPECT_EQ(j["polling"]["config"]["nmi_source"], false);
  EXPECT_EQ(j["bitmap"], json::parse(to_json(b)));
}

TEST(Summary, ShowsTablesExpectationsAndConsole) {
  ScenarioResult r = filled();
  r.expectations[0].passed = false;
  r.expectations[0].actual = 0;
  r.passed = false;
  std::ostringstream out;
  write_summary(out, r);
  std::string s = out.str();
  EXPECT_NE(s.find("scenario backtrace-all: 2 CPUs, fred, nmi_source on"), std::string::npos) << s;
  EXPECT_NE(s.find("FAIL  handler perf on cpu 1: calls == 1  (actual: 0)"), std::string::npos) << s;
  EXPECT_NE(s.find("Uhhuh. NMI received for unknown reason 00 on CPU 1."), std::string::npos);
  EXPECT_NE(s.find("PANIC at cycle 2000 on cpu 1"), std::string::npos);
  EXPECT_NE(s.find("(1 CPU without NMI activity not shown)"), std::string::npos) << s;
  EXPECT_NE(s.find("FAILED: 0 of 1 expectations hold"), std::string::npos) << s;
  EXPECT_NE(s.find("perf "), std::string::npos);
}

TEST(Summary, CompareTableHasRatios) {
  ScenarioResult b = filled();
  ScenarioResult p = filled();
  p.handlers[0].calls = 4;
  std::ostringstream out;
  write_compare(out, b, p);
  std::string s = out.str();
  EXPECT_NE(s.find("calls perf"), std::string::npos) << s;
  EXPECT_NE(s.find("4.00"), std::string::npos) << s;
  EXPECT_NE(s.find("dispatch cycles per NMI, p99"), std::string::npos) << s;
  EXPECT_NE(s.find("lost work items"), std::string::npos) << s;
}

/// A VM of two vCPUs on host CPUs 1 and 3: vCPU 1 took 5 injected NMIs, 2
/// of them through NMI-window exits, and lost one work item.
VmResult guest_vm(std::uint64_t calls) {
  VmResult vm;
  vm.name = "vm0";
  VcpuResult a;
  a.id = 0;
  a.host_cpu = 1;
  VcpuResult b;
  b.id = 1;
  b.host_cpu = 3;
  b.nmi_injected = 5;
  b.nmi_window_exits = 2;
  b.nmi_delivered = 5;
  b.stats = {4, 1, 0, 0};
  b.lost = 1;
  b.dispatch_cycles = 10350;
  b.exit_cycles = 7750;
  vm.vcpus = {a, b};
  HandlerResult h;
  h.name = "g_bt";
  h.vector = 4;
  h.calls = calls;
  h.handled = 4;
  h.cycles = 2000;
  vm.handlers = {h};
  vm.console.push_back({3000, 1, "NMI backtrace for cpu 1"});
  return vm;
}

TEST(Summary, AVmsSectionShowsItsVcpusHandlersAndConsole) {
  ScenarioResult r = filled();
  r.vms.push_back(guest_vm(4));
  std::ostringstream out;
  write_summary(out, r);
  const std::string s = out.str();
  EXPECT_NE(s.find("\nvm vm0: 2 vCPUs\n"
                   "   vcpu host_cpu  injected window_exits delivered dispatch_cycles exit_cycles "
                   "  normal  unknown external  swallow   lost\n"
                   "      0        1         0            0         0               0           0 "
                   "       0        0        0        0      0\n"
                   "      1        3         5            2         5           10350        7750 "
                   "       4        1        0        0      1\n"
                   "\n"
                   "  handler              type      vector    calls  handled       cycles\n"
                   "  g_bt                 local          4        4        4         2000\n"
                   "\n"
                   "  console of vm0:\n"
                   "    [        3000] vcpu 1   NMI backtrace for cpu 1\n"),
            std::string::npos)
      << s;
  // After the host's tables, before its console.
  EXPECT_LT(s.find("dispatch cycles per NMI"), s.find("vm vm0"));
  EXPECT_LT(s.find("vm vm0"), s.find("\nconsole:\n"));
  // Mid-run the last column is `pending`, as the host's.
  std::ostringstream mid;
  write_summary(mid, r, RunState::running);
  EXPECT_NE(mid.str().find("external  swallow  pending\n      0        1"), std::string::npos)
      << mid.str();
}

TEST(Summary, WithoutVmsNoVmSection) {
  std::ostringstream out;
  write_summary(out, filled());
  EXPECT_EQ(out.str().find("vm "), std::string::npos);
  EXPECT_EQ(out.str().find("vcpu"), std::string::npos);
}

TEST(Summary, CompareTableHasEachVmsRows) {
  ScenarioResult b = filled();
  ScenarioResult p = filled();
  b.vms.push_back(guest_vm(4));
  p.vms.push_back(guest_vm(8));
  std::ostringstream out;
  write_compare(out, b, p);
  const std::string s = out.str();
  EXPECT_NE(s.find("  vm0 calls g_bt                                    4              8       "
                   "2.00\n"
                   "  vm0 cycles g_bt                                2000           2000       "
                   "1.00\n"
                   "  vm0 NMIs injected                                 5              5       "
                   "1.00\n"
                   "  vm0 NMI-window exits                              2              2       "
                   "1.00\n"
                   "  vm0 NMIs delivered                                5              5       "
                   "1.00\n"
                   "  vm0 guest dispatch cycles                     10350          10350       "
                   "1.00\n"
                   "  vm0 host cycles in VM exits                    7750           7750       "
                   "1.00\n"
                   "  vm0 lost work items                               1              1       "
                   "1.00\n"
                   "  vm0 unknown NMIs                                  1              1       "
                   "1.00\n"
                   "  end cycle"),
            std::string::npos)
      << s;
}

}  // namespace
}  // namespace fredsim::scenario
