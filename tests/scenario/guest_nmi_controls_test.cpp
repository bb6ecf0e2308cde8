// The guest event's NMI controls (docs/scenarios.md "Guest NMI controls"): the
// keys, their errors, and what a run with them shows (console, result fields).
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>
#include "fredsim/scenario/loader.hpp"

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

std::string guest(const std::string& keys) {
  return std::string(kHead) + "[[event]]\nat = 0\ntype = \"guest\"\ncpu = 1\n" + keys;
}

// --- keys --------------------------------------------------------------------

TEST(GuestNmiKeys, DefaultsAreTheOldGuest) {
  const ScenarioSpec s = load_ok(guest(""));
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].guest, kernel::GuestControls{});
  EXPECT_FALSE(s.events[0].guest.virtual_nmis.has_value()) << "no key: KVM's choice";
  EXPECT_FALSE(s.events[0].guest.hlt);
  EXPECT_FALSE(s.events[0].guest.inject_nmi_vector.has_value());
}

TEST(GuestNmiKeys, EveryKeyIsRead) {
  const ScenarioSpec s = load_ok(
      guest("virtual_nmis = true\nnmi_window_exiting = true\nblocking = [\"mov_ss\", \"nmi\"]\n"
            "activity = \"hlt\"\ninject = { type = \"nmi\", vector = 7 }\n"));
  const kernel::GuestControls& g = s.events[0].guest;
  EXPECT_EQ(g.virtual_nmis, std::optional<bool>(true));
  EXPECT_TRUE(g.nmi_window_exiting);
  EXPECT_TRUE(g.blocking_by_mov_ss);
  EXPECT_TRUE(g.blocking_by_nmi);
  EXPECT_FALSE(g.blocking_by_sti);
  EXPECT_TRUE(g.hlt);
  ASSERT_TRUE(g.inject_nmi_vector.has_value());
  EXPECT_EQ(*g.inject_nmi_vector, 7u) << "any vector loads; VM entry judges it";
}

TEST(GuestNmiKeys, InjectVectorDefaultsTo2AndActivityActiveIsFalse) {
  const ScenarioSpec s =
      load_ok(guest("inject = { type = \"nmi\" }\nactivity = \"active\"\n"
                    "blocking = [\"sti\"]\n"));
  EXPECT_EQ(s.events[0].guest.inject_nmi_vector, std::optional<std::uint8_t>(2));
  EXPECT_FALSE(s.events[0].guest.hlt);
  EXPECT_TRUE(s.events[0].guest.blocking_by_sti);
}

TEST(GuestNmiKeys, InconsistentControlsLoad) {
  // The SDM's consistency rules are VM entry's to apply, at run time.
  EXPECT_EQ(load_error(guest("nmi_exiting = false\nvirtual_nmis = true\n"
                             "nmi_window_exiting = true\nblocking = [\"sti\", \"mov_ss\"]\n")),
            "");
}

// --- errors ------------------------------------------------------------------

TEST(GuestNmiKeys, WrongTypesAndValuesAreLocatedErrors) {
  EXPECT_EQ(load_error(guest("virtual_nmis = 1\n")),
            "t.toml:8:16: error: event.virtual_nmis must be true or false, not an integer");
  EXPECT_EQ(load_error(guest("blocking = \"sti\"\n")),
            "t.toml:8:12: error: event.blocking must be a list of \"nmi\" | \"sti\" | \"mov_ss\" "
            "(none: []), not a string");
  EXPECT_EQ(load_error(guest("blocking = [\"sti\", \"cli\"]\n")),
            "t.toml:8:20: error: event.blocking = \"cli\" is not one of \"nmi\" | \"sti\" | "
            "\"mov_ss\"");
  EXPECT_EQ(load_error(guest("blocking = [\"sti\", \"sti\"]\n")),
            "t.toml:8:20: error: event.blocking lists \"sti\" twice");
  EXPECT_EQ(load_error(guest("activity = \"halt\"\n")),
            "t.toml:8:12: error: event.activity = \"halt\" is not one of \"active\" | \"hlt\"");
  EXPECT_EQ(load_error(guest("inject = \"nmi\"\n")),
            "t.toml:8:10: error: event.inject must be a table { type = \"nmi\", vector = 2 }, not "
            "a string");
  EXPECT_EQ(load_error(guest("inject = { type = \"smi\" }\n")),
            "t.toml:8:19: error: event.inject.type = \"smi\" is not one of \"nmi\"");
  EXPECT_EQ(load_error(guest("inject = { vector = 2 }\n")),
            "t.toml:8:10: error: missing required key 'type' in event.inject");
  EXPECT_EQ(
      load_error(guest("inject = { type = \"nmi\", vec = 2 }\n"))
          .rfind("t.toml:8:26: error: unknown key 'vec' in event.inject (allowed: type, vector)",
                 0),
      0u)
      << load_error(guest("inject = { type = \"nmi\", vec = 2 }\n"));
  EXPECT_NE(load_error(guest("inject = { type = \"nmi\", vector = 256 }\n"))
                .find("event.inject.vector = 256"),
            std::string::npos);
}

TEST(GuestNmiKeys, OnlyGuestEventsTakeThem) {
  const std::string e = load_error(std::string(kHead) +
                                   "[[event]]\nat = 0\ntype = \"user\"\ncpu = 1\n"
                                   "activity = \"hlt\"\n");
  EXPECT_EQ(e.rfind("t.toml:8:1: error: unknown key 'activity' in [[event]] of type \"user\"", 0),
            0u)
      << e;
}

// --- runs --------------------------------------------------------------------

ScenarioResult run(const std::string& text) {
  auto spec = load_scenario_string(text, "t.toml");
  EXPECT_TRUE(spec.ok()) << (spec.ok() ? "" : spec.error().message);
  RunOptions options;
  auto r = SystemRunner{}.run(*spec, options);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : ScenarioResult{};
}

bool console_has(const ScenarioResult& r, const std::string& text) {
  for (const auto& l : r.console) {
    if (l.text.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(GuestNmiRun, InvalidControlsPrintTheRealVmInstructionError) {
  const ScenarioResult r = run(guest("nmi_exiting = false\nvirtual_nmis = true\n"));
  EXPECT_TRUE(console_has(r,
                          "KVM: VM entry on CPU 1 failed: VM-instruction error 7 (VM entry "
                          "with invalid control field(s))"));
  EXPECT_FALSE(console_has(r, "error 0"));
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 1u);
  EXPECT_EQ(r.cpus[0].vm_entry_failures, 0u);
}

TEST(GuestNmiRun, GuestStateFailurePrintsTheExitReason) {
  const ScenarioResult r =
      run(guest("virtual_nmis = true\nblocking = [\"nmi\"]\n"
                "inject = { type = \"nmi\" }\n"));
  EXPECT_TRUE(console_has(r,
                          "KVM: VM entry on CPU 1 failed: VM-entry failure, exit reason "
                          "0x80000021 (invalid guest state: injecting an NMI with virtual-NMI "
                          "blocking)"));
  EXPECT_FALSE(console_has(r, "error 0"));
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 1u);
}

TEST(GuestNmiRun, AnInjectedNmiWithAVectorOtherThan2FailsTheEntry) {
  const ScenarioResult r = run(guest("inject = { type = \"nmi\", vector = 0 }\n"));
  EXPECT_TRUE(console_has(r, "VM-instruction error 7"));
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 1u);
  const ScenarioResult ok = run(guest("inject = { type = \"nmi\", vector = 2 }\n"));
  EXPECT_EQ(ok.cpus[1].vm_entry_failures, 0u);
  EXPECT_TRUE(ok.console.empty());
}

TEST(GuestNmiRun, NmiWindowExitThenKvmInjectsTheNmiItHeld) {
  const ScenarioResult r = run(guest("virtual_nmis = true\nnmi_window_exiting = true\n"));
  EXPECT_EQ(r.cpus[1].vm_exits_nmi_window, 1u) << "KVM cleared the control after the exit";
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 0u);
  EXPECT_EQ(r.cpus[1].vm_exits_nmi, 0u);
}

TEST(GuestNmiRun, AnNmiWakesAHaltedGuestThroughAnExit) {
  const ScenarioResult r = run(guest("activity = \"hlt\"\n") +
                               "[[event]]\nat = 5000\ntype = \"ipi\"\nfrom = 0\ndest = 1\n");
  EXPECT_EQ(r.cpus[1].vm_exits_nmi, 1u);
  EXPECT_EQ(r.cpus[1].vm_exits_from_hlt, 1u);
}

TEST(GuestNmiRun, ResultJsonHasTheVmxFieldsOnlyWhenNotZero) {
  const ScenarioResult r = run(guest("virtual_nmis = true\nnmi_window_exiting = true\n"));
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["cpus"][1]["vm_exits_nmi_window"], 1);
  EXPECT_FALSE(j["cpus"][1].contains("vm_entry_failures"));
  EXPECT_FALSE(j["cpus"][1].contains("vm_exits_from_hlt"));
  EXPECT_FALSE(j["cpus"][0].contains("vm_exits_nmi_window"));
  const auto plain = nlohmann::json::parse(to_json(run(std::string(kHead))));
  for (const auto& c : plain["cpus"])
    EXPECT_FALSE(c.contains("vm_exits_nmi_window"));
}

// KVM's default pin controls (arch/x86/kvm/vmx/vmx.c setup_vmcs_config,
// vmx_pin_based_exec_ctrl): "virtual NMIs" is on whenever the CPU has it and
// enable_vnmi is left at its default. A guest without the key runs with it, so
// "NMI-window exiting", which needs it, enters; `virtual_nmis = false` is the
// old guest, whose entry with the window control fails.
TEST(GuestNmiKeys, AnExplicitFalseIsKept) {
  const ScenarioSpec s = load_ok(guest("virtual_nmis = false\n"));
  EXPECT_EQ(s.events[0].guest.virtual_nmis, std::optional<bool>(false));
}

TEST(GuestNmiRun, VmxPinBasedExecCtrlSetsVirtualNmisByDefault) {
  const ScenarioResult r = run(guest("nmi_window_exiting = true\n"));
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 0u);
  EXPECT_EQ(r.cpus[1].vm_exits_nmi_window, 1u);
  const ScenarioResult off = run(guest("virtual_nmis = false\nnmi_window_exiting = true\n"));
  EXPECT_EQ(off.cpus[1].vm_entry_failures, 1u);
  EXPECT_TRUE(console_has(off, "VM-instruction error 7"));
}

TEST(GuestNmiRun, WithoutNmiExitingTheDefaultLeavesVirtualNmisOff) {
  // "virtual NMIs" needs "NMI exiting" (SDM Vol. 3C "Checks on VMX Controls"):
  // the default follows nmi_exiting, so this entry does not fail.
  const ScenarioResult r = run(guest("nmi_exiting = false\n"));
  EXPECT_EQ(r.cpus[1].vm_entry_failures, 0u);
  EXPECT_TRUE(r.console.empty());
}

}  // namespace
}  // namespace fredsim::scenario
