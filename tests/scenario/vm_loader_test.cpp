// [[vm]] (docs/scenarios.md "Virtual machines with a kernel of their own"): the
// table's keys, their defaults and every refusal, located.
#include <gtest/gtest.h>

#include <string>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

using test::kHead;
using test::load_error;
using test::load_ok;

std::string vm(const std::string& keys) {
  return std::string(kHead) + "[[vm]]\n" + keys;
}

TEST(VmLoader, EveryKeyIsRead) {
  const ScenarioSpec s =
      load_ok(vm("name = \"vm0\"\ncpus = [3, 1]\nat = 100\nuntil = 900\n"
                 "delivery = \"fred\"\nnmi_source = false\nkernel = \"v5\"\n"
                 "apic = \"xapic\"\nnmi_exiting = true\nvirtual_nmis = false\n"));
  ASSERT_EQ(s.vms.size(), 1u);
  const VmSpec& v = s.vms[0];
  EXPECT_EQ(v.name, "vm0");
  EXPECT_EQ(v.cpus, (std::vector<CpuId>{3, 1})) << "vCPU 0 on host CPU 3, vCPU 1 on 1";
  EXPECT_EQ(v.at, 100u);
  EXPECT_EQ(v.until, 900u);
  EXPECT_EQ(v.delivery, Delivery::fred);
  EXPECT_FALSE(v.nmi_source);
  EXPECT_EQ(v.kernel, kernel::Revision::v5);
  EXPECT_EQ(v.apic, apic::ApicMode::xapic);
  EXPECT_TRUE(v.nmi_exiting);
  EXPECT_EQ(v.virtual_nmis, false);
  EXPECT_EQ(s.find_vm("vm0"), &s.vms[0]);
  EXPECT_EQ(s.find_vm("vm1"), nullptr);
}

TEST(VmLoader, DefaultsFollowTheHost) {
  const ScenarioSpec s = load_ok(vm("name = \"a\"\ncpus = [1]\n"));
  const VmSpec& v = s.vms[0];
  EXPECT_EQ(v.at, 0u);
  EXPECT_FALSE(v.until.has_value());
  EXPECT_EQ(v.delivery, Delivery::fred);
  EXPECT_TRUE(v.nmi_source);
  EXPECT_EQ(v.kernel, kernel::Revision::v7);
  EXPECT_EQ(v.apic, apic::ApicMode::x2apic);
  EXPECT_TRUE(v.nmi_exiting);
  EXPECT_FALSE(v.virtual_nmis.has_value()) << "KVM's choice";
  // An IDT host (no FRED): the guest is IDT without NMI-source.
  const ScenarioSpec idt = load_ok(
      "name = \"x\"\n[system]\ncpus = 2\ndelivery = \"idt\"\n[[vm]]\nname = \"a\"\ncpus = [1]\n");
  EXPECT_EQ(idt.vms[0].delivery, Delivery::idt);
  EXPECT_FALSE(idt.vms[0].nmi_source);
  // A FRED host without NMI-source: a FRED guest without it by default, with it on request.
  const std::string no_src =
      "name = \"x\"\n[system]\ncpus = 2\nnmi_source = false\n[[vm]]\n"
      "name = \"a\"\ncpus = [1]\n";
  EXPECT_FALSE(load_ok(no_src).vms[0].nmi_source);
  EXPECT_TRUE(load_ok(no_src + "nmi_source = true\n").vms[0].nmi_source);
  // A guest may choose IDT on a FRED host.
  const ScenarioSpec g = load_ok(vm("name = \"a\"\ncpus = [1]\ndelivery = \"idt\"\n"));
  EXPECT_EQ(g.vms[0].delivery, Delivery::idt);
  EXPECT_FALSE(g.vms[0].nmi_source);
}

TEST(VmLoader, KeysBySet) {
  const ScenarioSpec s =
      load_ok(vm("name = \"a\"\ncpus = [1]\n"), {Override{"vm.0.nmi_source=false"}});
  EXPECT_FALSE(s.vms[0].nmi_source);
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\n"), {Override{"vm.0.cpus=[1, 9]"}}),
            "error: --set vm.0.cpus=[1, 9]: vm.cpus = 9 is not a CPU of this system (cpus = 4: "
            "0..3)");
}

TEST(VmLoader, TheGuestKernelsSysctls) {
  // Linux's defaults unless the [[vm]] sets them; the host's [kernel] is the
  // host's only.
  const ScenarioSpec d = load_ok(std::string(kHead) +
                                 "[kernel]\nunknown_nmi_panic = true\n[[vm]]\nname = \"a\"\n"
                                 "cpus = [1]\n");
  EXPECT_TRUE(d.kernel.unknown_nmi_panic);
  EXPECT_FALSE(d.vms[0].unknown_nmi_panic);
  EXPECT_EQ(d.vms[0].nmi_longest_ns, 1'000'000u);
  const ScenarioSpec s =
      load_ok(vm("name = \"a\"\ncpus = [1]\nunknown_nmi_panic = true\nnmi_longest_ns = 500\n"));
  EXPECT_TRUE(s.vms[0].unknown_nmi_panic);
  EXPECT_EQ(s.vms[0].nmi_longest_ns, 500u);
  EXPECT_FALSE(s.kernel.unknown_nmi_panic);
  EXPECT_TRUE(load_ok(vm("name = \"a\"\ncpus = [1]\n"), {Override{"vm.0.unknown_nmi_panic=true"}})
                  .vms[0]
                  .unknown_nmi_panic);
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nunknown_nmi_panic = 1\n")),
            "t.toml:7:21: error: vm.unknown_nmi_panic must be true or false, not an integer");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nnmi_longest_ns = -1\n")),
            "t.toml:7:18: error: vm.nmi_longest_ns = -1 is out of range (at least 0)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\npanic_on_unrecovered_nmi = true\n")),
            "t.toml:7:28: error: vm.panic_on_unrecovered_nmi has no effect in a guest: KVM raises "
            "no SERR or IOCHK NMI in it (its port 0x61 reports neither), so only the host's "
            "[kernel] takes it");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\npanic_on_io_nmi = true\n")),
            "t.toml:7:19: error: vm.panic_on_io_nmi has no effect in a guest: KVM raises no SERR "
            "or IOCHK NMI in it (its port 0x61 reports neither), so only the host's [kernel] "
            "takes it");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nsource_vectors = 16\n")),
            "t.toml:7:18: error: vm.source_vectors is the host's [kernel] key; a [[vm]]'s guest "
            "kernel takes unknown_nmi_panic and nmi_longest_ns (the guest runs the host's kernel "
            "build: its source_vectors)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nignore_nmis = 1\n")),
            "t.toml:7:15: error: vm.ignore_nmis is the host's [kernel] key; a [[vm]]'s guest "
            "kernel takes unknown_nmi_panic and nmi_longest_ns");
}

TEST(VmLoader, NameAndCpusAreRequiredAndChecked) {
  EXPECT_EQ(load_error(vm("cpus = [1]\n")),
            "t.toml:4:1: error: missing required key 'name' in "
            "[[vm]]");
  EXPECT_EQ(load_error(vm("name = \"\"\ncpus = [1]\n")),
            "t.toml:5:8: error: vm.name must not be empty");
  EXPECT_EQ(load_error(vm("name = 3\ncpus = [1]\n")),
            "t.toml:5:8: error: vm.name must be a string, not an integer");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\n[[vm]]\nname = \"a\"\ncpus = [2]\n")),
            "t.toml:8:8: error: duplicate vm name 'a' (first declared at t.toml:4:1)");
  EXPECT_EQ(load_error(vm("name = \"a\"\n")),
            "t.toml:4:1: error: missing required key 'cpus' in [[vm]] (the host CPU of each "
            "vCPU)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = 1\n")),
            "t.toml:6:8: error: vm.cpus must be an array of host CPU numbers (vCPU i runs on "
            "cpus[i]), not an integer");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = []\n")),
            "t.toml:6:8: error: vm.cpus must list at least one host CPU");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1, 4]\n")),
            "t.toml:6:12: error: vm.cpus = 4 is not a CPU of this system (cpus = 4: 0..3)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1, \"2\"]\n")),
            "t.toml:6:12: error: vm.cpus must be a CPU number, not a string");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [2, 1, 2]\n")),
            "t.toml:6:15: error: vm.cpus lists host CPU 2 twice (vCPUs 0 and 2); a CPU runs "
            "one vCPU at a time");
}

TEST(VmLoader, UnknownKeysAndBadValues) {
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\ncpu = 1\n")),
            "t.toml:7:1: error: unknown key 'cpu' in [[vm]] (allowed: name, cpus, at, until, "
            "delivery, nmi_source, kernel, apic, nmi_exiting, virtual_nmis, unknown_nmi_panic, "
            "nmi_longest_ns)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\ndelivery = \"svm\"\n")),
            "t.toml:7:12: error: vm.delivery = \"svm\" is not one of \"fred\" | \"idt\"");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nat = 50\nuntil = 50\n")),
            "t.toml:8:9: error: vm.until = 50 must come after at = 50");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nat = -1\n")),
            "t.toml:7:6: error: vm.at = -1 is out of range (at least 0)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nnmi_exiting = 1\n")),
            "t.toml:7:15: error: vm.nmi_exiting must be true or false, not an integer");
  EXPECT_EQ(load_error("name = \"x\"\nvm = 1\n"),
            "t.toml:2:6: error: 'vm' must be an array of tables ([[vm]]), not an integer");
}

TEST(VmLoader, TheGuestsSystemKeysMustFitTheHostAndEachOther) {
  EXPECT_EQ(load_error("name = \"x\"\n[system]\ncpus = 2\ndelivery = \"idt\"\n[[vm]]\n"
                       "name = \"a\"\ncpus = [1]\ndelivery = \"fred\"\n"),
            "t.toml:8:12: error: vm.delivery = \"fred\" needs a host CPU with FRED "
            "(system.delivery = \"fred\")");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\ndelivery = \"idt\"\nnmi_source = true\n")),
            "t.toml:8:14: error: vm.nmi_source = true needs delivery = \"fred\" (the guest "
            "receives the NMI-source bitmap as the FRED event data of the NMI KVM injects; IDT "
            "delivery has none)");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nnmi_exiting = false\nvirtual_nmis = true\n")),
            "t.toml:8:16: error: vm.virtual_nmis = true needs nmi_exiting = true (VM entry checks "
            "that the \"virtual NMIs\" control comes with \"NMI exiting\")");
  load_ok(vm("name = \"a\"\ncpus = [1]\nnmi_exiting = false\n"));
}

TEST(VmLoader, AHostCpuRunsOneVcpuGuestOrUserIntervalAtATime) {
  // Two VMs on host CPU 2 at once.
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1, 2]\nuntil = 1000\n[[vm]]\nname = \"b\"\n"
                          "cpus = [2]\nat = 500\n")),
            "t.toml:11:6: error: [[vm]] 'b' on host CPU 2 (cycles 500 to the end of the run) "
            "overlaps [[vm]] 'a' at t.toml:4:1 (cycles 0..1000): cycles 500..1000 would be in "
            "both, and a CPU runs one vCPU, guest or user interval at a time");
  // One after the other is fine, also touching (VMs enter and leave in file order).
  load_ok(
      vm("name = \"a\"\ncpus = [1, 2]\nuntil = 1000\n[[vm]]\nname = \"b\"\ncpus = [2]\n"
         "at = 1000\n"));
  EXPECT_EQ(load_error(vm("name = \"b\"\ncpus = [2]\nat = 1000\n[[vm]]\nname = \"a\"\n"
                          "cpus = [1, 2]\nuntil = 1000\n")),
            "t.toml:7:6: error: [[vm]] 'b' on host CPU 2 starts at cycle 1000, where [[vm]] 'a' "
            "at t.toml:8:1 (cycles 0..1000) ends, but comes before it in the file, so it would "
            "start first: put it after that one");
  // A VM and a guest or user event on one CPU.
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nat = 100\n[[event]]\nat = 0\n"
                          "type = \"user\"\ncpu = 1\nuntil = 200\n")),
            "t.toml:7:6: error: [[vm]] 'a' on host CPU 1 (cycles 100 to the end of the run) "
            "overlaps the \"user\" interval at t.toml:8:1 (cycles 0..200): cycles 100..200 would "
            "be in both, and a CPU runs one vCPU, guest or user interval at a time");
  EXPECT_EQ(load_error(vm("name = \"a\"\ncpus = [1]\nat = 200\n[[event]]\nat = 0\n"
                          "type = \"guest\"\ncpu = 1\nuntil = 200\n")),
            "t.toml:7:6: error: [[vm]] 'a' on host CPU 1 starts at cycle 200, where the "
            "\"guest\" interval at t.toml:8:1 (cycles 0..200) ends, but a VM enters before the "
            "events of its cycle, so it would start first: start it later");
  // The VM leaves before the events of its last cycle: a guest event may start then.
  load_ok(
      vm("name = \"a\"\ncpus = [1]\nuntil = 200\n[[event]]\nat = 200\ntype = \"guest\"\n"
         "cpu = 1\n"));
  // Another CPU, or after the run's end: no conflict.
  load_ok(vm("name = \"a\"\ncpus = [1]\n[[event]]\nat = 0\ntype = \"guest\"\ncpu = 2\n"));
  load_ok(
      "name = \"x\"\n[system]\ncpus = 2\nend = 100\n[[event]]\nat = 0\ntype = \"guest\"\n"
      "cpu = 1\n[[vm]]\nname = \"a\"\ncpus = [1]\nat = 500\n");
}

TEST(VmRun, TheRunnerRunsAVmAndJudgesItsExpectationsOnTheGuest) {
  // A host handler and a guest handler of the same name: KVM_NMI on vCPU 1
  // (host CPU 3) reaches the guest's, never the host's, and the result's vms
  // section and the vm expectations read the guest kernel.
  const ScenarioSpec s =
      load_ok(vm("name = \"vm0\"\ncpus = [2, 3]\n") +
              "[[handler]]\nname = \"dev\"\nmodel = \"device\"\n"
              "[[handler]]\nvm = \"vm0\"\nname = \"dev\"\nmodel = \"device\"\n"
              "[[event]]\nvm = \"vm0\"\nat = 10000\ntype = \"kvm_nmi\"\ncpu = 1\n"
              "[[expect]]\nvm = \"vm0\"\nhandler = \"dev\"\ncpu = 1\ncalls = 1\n"
              "[[expect]]\nhandler = \"dev\"\ncalls = 0\n"
              "[[expect]]\nvm = \"vm0\"\nstat = \"unknown\"\nequals = 1\n");
  RunOptions options;
  auto r = SystemRunner{}.run(s, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(s, *r);
  ASSERT_EQ(r->vms.size(), 1u);
  const VmResult& v = r->vms[0];
  EXPECT_EQ(v.name, "vm0");
  ASSERT_EQ(v.vcpus.size(), 2u);
  EXPECT_EQ(v.vcpus[1].host_cpu, 3u);
  EXPECT_EQ(v.vcpus[1].nmi_injected, 1u);
  EXPECT_EQ(v.vcpus[1].nmi_delivered, 1u);
  EXPECT_EQ(v.vcpus[0].nmi_delivered, 0u);
  EXPECT_EQ(v.vcpus[1].stats.unknown, 1u) << "no work: the guest's unknown NMI";
  ASSERT_NE(r->find_handler("dev"), nullptr);
  EXPECT_EQ(r->find_handler("dev")->calls, 0u) << "the host's dev";
  ASSERT_FALSE(v.handlers.empty());
  EXPECT_EQ(v.handlers[0].name, "dev");
  EXPECT_EQ(v.handlers[0].on_cpu(1).calls, 1u);
  EXPECT_EQ(r->cpus[3].stats.unknown, 0u) << "the host saw no NMI";
  ASSERT_EQ(r->expectations.size(), 3u);
  EXPECT_EQ(r->expectations[0].text, "vm vm0: handler dev on cpu 1: calls == 1");
  for (const auto& e : r->expectations)
    EXPECT_TRUE(e.passed) << e.text << ": " << e.actual;
  EXPECT_NE(to_json(*r).find("\"vms\":[{\"name\":\"vm0\",\"vcpus\":[{\"id\":0,\"host_cpu\":2"),
            std::string::npos);
}

TEST(VmRun, KvmsPerVcpuCountsAreInTheResultAndCounterExpectationsReadThem) {
  // vCPU 0 sends a guest NMI IPI to vCPU 1 (an ICR-write exit, the emulated
  // APIC's NMI and a kick), then stops the others (a fixed IPI: the
  // REBOOT_VECTOR, a kick and an injection each): KVM's counts per vCPU.
  const ScenarioSpec s =
      load_ok(vm("name = \"vm0\"\ncpus = [1, 2, 3]\n") +
              "[[event]]\nvm = \"vm0\"\nat = 10000\ntype = \"ipi\"\nfrom = 0\ndest = 1\n"
              "[[event]]\nvm = \"vm0\"\nat = 50000\ntype = \"stop\"\nfrom = 0\n"
              "[[expect]]\nvm = \"vm0\"\ncounter = \"icr_exits\"\ncpu = 0\nequals = 2\n"
              "[[expect]]\nvm = \"vm0\"\ncounter = \"irqs_injected\"\nequals = 2\n"
              "[[expect]]\nvm = \"vm0\"\ncounter = \"kicks\"\ncpu = 1\nat_least = 2\n");
  RunOptions options;
  auto r = SystemRunner{}.run(s, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(s, *r);
  ASSERT_EQ(r->vms.size(), 1u);
  const auto& v = r->vms[0].vcpus;
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].icr_exits, 2u) << "the NMI IPI and the REBOOT_VECTOR to all but self";
  EXPECT_EQ(v[1].icr_exits, 0u);
  EXPECT_EQ(v[1].nmi_ipis, 1u);
  EXPECT_EQ(v[2].nmi_ipis, 0u);
  EXPECT_EQ(v[1].kicks, 2u) << "one for the NMI, one for the REBOOT_VECTOR";
  EXPECT_EQ(v[2].kicks, 1u);
  EXPECT_EQ(v[0].fixed_ipis, 0u);
  EXPECT_EQ(v[1].fixed_ipis, 1u);
  EXPECT_EQ(v[2].fixed_ipis, 1u);
  EXPECT_EQ(v[1].irqs_injected, 1u);
  EXPECT_EQ(v[2].irqs_injected, 1u);
  EXPECT_EQ(v[1].pmis, 0u);
  ASSERT_EQ(r->expectations.size(), 3u);
  EXPECT_EQ(r->expectations[0].text, "vm vm0: counter icr_exits on cpu 0: == 2");
  EXPECT_EQ(r->expectations[0].actual, 2u);
  EXPECT_EQ(r->expectations[1].actual, 2u) << "summed over the vCPUs";
  EXPECT_EQ(r->expectations[2].actual, 2u);
  for (const auto& e : r->expectations)
    EXPECT_TRUE(e.passed) << e.text << ": " << e.actual;
  const std::string json = to_json(*r);
  EXPECT_NE(json.find("\"exit_cycles\":"), std::string::npos);
  EXPECT_NE(json.find("\"nmi_collapsed\":0,\"kicks\":2,\"icr_exits\":0,\"nmi_ipis\":1,\"pmis\":0,"
                      "\"fixed_ipis\":1,\"irqs_injected\":1,\"irq_window_exits\":0}"),
            std::string::npos)
      << "vCPU 1's KVM counts, after exit_cycles";
}

TEST(VmRun, AVmCounterExpectationNamesAPerVcpuCounter) {
  EXPECT_EQ(load_error(vm("name = \"vm0\"\ncpus = [1]\n") +
                       "[[expect]]\nvm = \"vm0\"\ncounter = \"nmi_received\"\nequals = 0\n"),
            "t.toml:9:11: error: expect.counter = \"nmi_received\" is not a per-vCPU counter of a "
            "VM's result (one of \"nmi_injected\" | \"nmi_window_exits\" | \"nmi_delivered\" | "
            "\"normal\" | \"unknown\" | \"external\" | \"swallow\" | \"lost\" | "
            "\"dispatch_cycles\" | \"exit_cycles\" | \"nmi_collapsed\" | \"kicks\" | "
            "\"icr_exits\" | \"nmi_ipis\" | \"pmis\" | \"fixed_ipis\" | \"irqs_injected\" | "
            "\"irq_window_exits\")");
  EXPECT_EQ(load_error(vm("name = \"vm0\"\ncpus = [1]\n") +
                       "[[expect]]\nvm = \"vm0\"\ncounter = \"kicks\"\ncpu = 1\nequals = 0\n"),
            "t.toml:10:7: error: expect.cpu = 1 is not a vCPU of VM 'vm0' (it has 1: 0..0)");
  const ScenarioSpec s = load_ok(vm("name = \"vm0\"\ncpus = [1]\n") +
                                 "[[expect]]\nvm = \"vm0\"\ncounter = \"kicks\"\nequals = 0\n");
  ASSERT_EQ(s.expects.size(), 1u);
  EXPECT_EQ(s.expects[0].kind, ExpectSpec::Kind::counter);
  EXPECT_EQ(s.expects[0].vm, 0u);
}

TEST(VmRun, AGuestWithUnknownNmiPanicPanicsAloneAndTheHostRunsOn) {
  // KVM_NMI on vCPU 1 with no guest handler: an unknown NMI. With the VM's
  // unknown_nmi_panic the guest panics (and stops its other vCPUs through
  // KVM's emulated APIC); the host neither panics nor halts, and handles its
  // own backtrace NMI afterwards.
  const std::string text = vm("name = \"vm0\"\ncpus = [1, 2, 3]\n") +
                           "[[handler]]\nname = \"bt\"\nmodel = \"backtrace\"\nvector = 4\n"
                           "[[event]]\nvm = \"vm0\"\nat = 50000\ntype = \"kvm_nmi\"\ncpu = 1\n"
                           "[[event]]\nat = 500000\ntype = \"backtrace\"\nfrom = 0\ndest = [3]\n"
                           "[[expect]]\nvm = \"vm0\"\npanic = true\n[[expect]]\npanic = false\n";
  RunOptions options;
  auto quiet = SystemRunner{}.run(load_ok(text), options);
  ASSERT_TRUE(quiet.ok()) << quiet.error().message;
  // The same VM without the key: Linux's default, "Dazed and confused".
  EXPECT_FALSE(quiet->vms[0].panic.has_value());

  std::string on = text;
  on.replace(on.find("cpus = [1, 2, 3]\n"), 17, "cpus = [1, 2, 3]\nunknown_nmi_panic = true\n");
  const ScenarioSpec s = load_ok(on);
  auto r = SystemRunner{}.run(s, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(s, *r);
  const VmResult& v = r->vms[0];
  ASSERT_TRUE(v.panic.has_value());
  EXPECT_EQ(v.panic->cpu, 1u) << "a vCPU number";
  EXPECT_EQ(v.panic->message, "NMI: Not continuing");
  EXPECT_GT(v.panic->cycle, 50000u);
  EXPECT_LT(v.panic->cycle, 500000u);
  EXPECT_FALSE(r->panic.has_value()) << "the host does not panic";
  EXPECT_EQ(v.vcpus[0].irqs_injected, 1u) << "smp_send_stop's REBOOT_VECTOR";
  EXPECT_EQ(v.vcpus[2].irqs_injected, 1u);
  ASSERT_NE(r->find_handler("bt"), nullptr);
  EXPECT_EQ(r->find_handler("bt")->on_cpu(3).calls, 1u) << "the host runs on after the panic";
  EXPECT_GT(r->end_cycle, 500000u);
  ASSERT_EQ(r->expectations.size(), 2u);
  EXPECT_EQ(r->expectations[0].text, "vm vm0: panic: == true");
  for (const auto& e : r->expectations)
    EXPECT_TRUE(e.passed) << e.text << ": " << e.actual;
  EXPECT_NE(to_json(*r).find("\"panic\":{\"cycle\":"), std::string::npos);
}

TEST(VmRun, AGuestsNmiLongestNsIsItsOwnDurationCheck) {
  // A guest handler call of 50,050 cycles (25 us at 2000 MHz): over the VM's
  // nmi_longest_ns = 1000, under Linux's default 1 ms, which the host's
  // [kernel] setting does not change.
  const std::string text =
      "name = \"x\"\n[system]\ncpus = 4\n[kernel]\nnmi_longest_ns = 1000\n"
      "[[vm]]\nname = \"vm0\"\ncpus = [1, 2]\n"
      "[[handler]]\nvm = \"vm0\"\nname = \"bt\"\nmodel = \"backtrace\"\nvector = 4\n"
      "[[event]]\nvm = \"vm0\"\nat = 10000\ntype = \"backtrace\"\nfrom = 0\ndest = [1]\n"
      "[[expect]]\nvm = \"vm0\"\nconsole = \"took too long\"\ncount = 1\n";
  RunOptions options;
  const ScenarioSpec d = load_ok(text);
  auto r = SystemRunner{}.run(d, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(d, *r);
  ASSERT_EQ(r->expectations.size(), 1u);
  EXPECT_EQ(r->expectations[0].actual, 0u) << "the guest's default, not the host's 1000";

  std::string set = text;
  set.replace(set.find("cpus = [1, 2]\n"), 14, "cpus = [1, 2]\nnmi_longest_ns = 1000\n");
  const ScenarioSpec s = load_ok(set);
  r = SystemRunner{}.run(s, options);
  ASSERT_TRUE(r.ok()) << r.error().message;
  apply_expectations(s, *r);
  ASSERT_EQ(r->expectations.size(), 1u);
  EXPECT_EQ(r->expectations[0].actual, 1u);
  ASSERT_FALSE(r->vms[0].console.empty());
  EXPECT_NE(r->vms[0].console.back().text.find("INFO: NMI handler (bt) took too long to run"),
            std::string::npos);
}

}  // namespace
}  // namespace fredsim::scenario
