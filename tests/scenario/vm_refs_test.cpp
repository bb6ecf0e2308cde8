// `vm = NAME` on [[handler]], [[event]] and [[expect]] (docs/scenarios.md
// "Virtual machines with a kernel of their own"): the element is the guest
// kernel's, its CPU numbers are vCPUs and its handler names the guest's.
#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::load_error;
using test::load_ok;

// Four host CPUs; VM "g" has two vCPUs (on host CPUs 2 and 3).
constexpr std::string_view kVmHead =
    "name = \"x\"\n[system]\ncpus = 4\n[[vm]]\nname = \"g\"\ncpus = [2, 3]\n";

std::string with(const std::string& rest) {
  return std::string(kVmHead) + rest;
}

TEST(VmRefs, HandlerNamesArePerKernel) {
  const ScenarioSpec s =
      load_ok(with("[[handler]]\nname = \"bt\"\n[[handler]]\nname = \"bt\"\n"
                   "vm = \"g\"\n"));
  ASSERT_EQ(s.handlers.size(), 2u);
  EXPECT_FALSE(s.handlers[0].vm.has_value());
  EXPECT_EQ(s.handlers[1].vm, 0u);
  EXPECT_EQ(s.find_handler("bt"), &s.handlers[0]) << "the host's";
  EXPECT_EQ(load_error(with("[[handler]]\nname = \"bt\"\nvm = \"g\"\n[[handler]]\nname = \"bt\"\n"
                            "vm = \"g\"\n")),
            "t.toml:11:8: error: duplicate handler name 'bt' (first declared at t.toml:7:1)");
}

TEST(VmRefs, VmMustNameADeclaredVm) {
  EXPECT_EQ(load_error(with("[[handler]]\nname = \"bt\"\nvm = \"h\"\n")),
            "t.toml:9:6: error: handler.vm names no VM 'h' (declared: g)");
  EXPECT_EQ(
      load_error("name = \"x\"\n[system]\ncpus = 4\n[[handler]]\nname = \"bt\"\nvm = \"g\"\n"),
      "t.toml:6:6: error: handler.vm names no VM 'g' (no [[vm]] is declared)");
  EXPECT_EQ(load_error(with("[[event]]\nat = 0\ntype = \"pmi\"\ncpu = 0\nvm = 3\n")),
            "t.toml:11:6: error: event.vm must be a string, not an integer");
}

TEST(VmRefs, AGuestEventsCpusAreVcpus) {
  const ScenarioSpec s =
      load_ok(with("[[event]]\nat = 0\ntype = \"ipi\"\nvm = \"g\"\nfrom = 1\n"
                   "dest = 0\n"));
  EXPECT_EQ(s.events[0].vm, 0u);
  EXPECT_EQ(s.events[0].from, 1u);
  EXPECT_EQ(load_error(with("[[event]]\nat = 0\ntype = \"ipi\"\nvm = \"g\"\ndest = [0, 2]\n")),
            "t.toml:11:12: error: event.dest = 2 is not a vCPU of VM 'g' (it has 2: 0..1)");
  EXPECT_EQ(load_error(with("[[event]]\nat = 0\ntype = \"pmi\"\nvm = \"g\"\ncpu = 3\n")),
            "t.toml:11:7: error: event.cpu = 3 is not a vCPU of VM 'g' (it has 2: 0..1)");
  // The host's CPU 3 is still the host's for a host event.
  load_ok(with("[[event]]\nat = 0\ntype = \"pmi\"\ncpu = 3\n"));
  // Work names the guest kernel's handlers only.
  EXPECT_EQ(load_error(with("[[handler]]\nname = \"hbt\"\n[[handler]]\nname = \"gbt\"\n"
                            "vm = \"g\"\n[[event]]\nat = 0\ntype = \"ipi\"\nvm = \"g\"\ndest = 1\n"
                            "work = \"hbt\"\n")),
            "t.toml:17:8: error: event.work names no handler 'hbt' (declared in VM 'g': gbt)");
}

TEST(VmRefs, OnlyTheGuestKernelsEventsTakeVm) {
  EXPECT_EQ(load_error(with("[[event]]\nat = 0\ntype = \"external\"\nvm = \"g\"\n")),
            "t.toml:10:1: error: unknown key 'vm' in [[event]] of type \"external\" (allowed: "
            "at, type, every, count, cpu, reason, work, after, delay)");
  EXPECT_EQ(load_error(with("[[event]]\nat = 0\ntype = \"guest\"\ncpu = 1\nvm = \"g\"\n")),
            "t.toml:11:1: error: unknown key 'vm' in [[event]] of type \"guest\" (allowed: at, "
            "type, cpu, until, nmi_exiting, virtual_nmis, nmi_window_exiting, blocking, "
            "activity, inject)");
}

TEST(VmRefs, KvmNmiNeedsAVmAndAVcpu) {
  const ScenarioSpec s =
      load_ok(with("[[event]]\nat = 10\ntype = \"kvm_nmi\"\nvm = \"g\"\ncpu = 1\n"));
  EXPECT_EQ(s.events[0].type, EventType::kvm_nmi);
  EXPECT_EQ(s.events[0].cpu, 1u);
  EXPECT_EQ(s.events[0].vm, 0u);
  EXPECT_EQ(load_error(with("[[event]]\nat = 10\ntype = \"kvm_nmi\"\ncpu = 1\n")),
            "t.toml:7:1: error: missing required key 'vm' in [[event]] of type \"kvm_nmi\" (the "
            "VM whose vCPU gets the NMI)");
  EXPECT_EQ(load_error(with("[[event]]\nat = 10\ntype = \"kvm_nmi\"\nvm = \"g\"\n")),
            "t.toml:7:1: error: missing required key 'cpu' in [[event]] of type \"kvm_nmi\"");
  EXPECT_EQ(load_error(with("[[event]]\nat = 10\ntype = \"kvm_nmi\"\nvm = \"g\"\ncpu = 2\n")),
            "t.toml:11:7: error: event.cpu = 2 is not a vCPU of VM 'g' (it has 2: 0..1)");
}

TEST(VmRefs, AGuestHandlersActionsSendToVcpus) {
  EXPECT_EQ(load_error(with("[[handler]]\nname = \"gbt\"\nvm = \"g\"\n[[handler.action]]\n"
                            "send = { dest = 2 }\n")),
            "t.toml:11:17: error: handler.action.send.dest = 2 is not a vCPU of VM 'g' (it has "
            "2: 0..1)");
  load_ok(
      with("[[handler]]\nname = \"gbt\"\nvm = \"g\"\n[[handler.action]]\n"
           "send = { dest = 1, work = \"gbt\" }\n"));
}

TEST(VmRefs, GuestExpectations) {
  const ScenarioSpec s =
      load_ok(with("[[handler]]\nname = \"gbt\"\nvm = \"g\"\n[[expect]]\n"
                   "vm = \"g\"\nhandler = \"gbt\"\ncpu = 1\ncalls = 2\n"));
  ASSERT_EQ(s.expects.size(), 1u);
  EXPECT_EQ(s.expects[0].vm, 0u);
  EXPECT_EQ(s.expects[0].cpu, 1u);
  EXPECT_EQ(load_error(with("[[handler]]\nname = \"gbt\"\nvm = \"g\"\n[[expect]]\n"
                            "handler = \"gbt\"\ncalls = 2\n")),
            "t.toml:11:11: error: expect.handler names no handler 'gbt' (no handler is "
            "declared; registered by the kernel: PMI, nmi_selftest, smp_stop, arch_bt, kgdb, "
            "mce)");
  EXPECT_EQ(load_error(with("[[expect]]\nvm = \"g\"\nstat = \"normal\"\ncpu = 2\nequals = 0\n")),
            "t.toml:10:7: error: expect.cpu = 2 is not a vCPU of VM 'g' (it has 2: 0..1)");
  EXPECT_EQ(load_error(with("[[expect]]\nvm = \"g\"\ntrace = \"nmi_inject\"\ncount = 1\n")),
            "t.toml:8:6: error: expect.vm goes with handler, stat, counter, console and panic "
            "expectations; not with trace (select a guest's records with where = { vm = NAME })");
}

}  // namespace
}  // namespace fredsim::scenario
