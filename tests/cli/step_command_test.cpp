// `fredsim step` with its commands piped in, as a script gives them (docs/cli.md
// "step"); the terminal side (libedit) is tested under a pseudo-terminal in
// cli_process_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_util.hpp"
#include "step_command.hpp"

namespace fredsim::cli {
namespace {

using test::run_cli;

std::string swallow() {
  return test::source_dir() + "/scenarios/swallow.toml";
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

/// The output after the last prompt: the summary `quit` prints.
std::string final_summary(const std::string& out) {
  const auto at = out.rfind(") \n");
  return at == std::string::npos ? "" : out.substr(at + 3);
}

// The swallow scenario's first handler call runs from cycle 1780 for 2320
// cycles; the next event is at 4100. `break cycle 2000` stops at 2000, between
// the two, not at the event after it (it stopped at 4100).
TEST(StepCommand, BreakCycleStopsAtTheCycle) {
  for (const char* command : {"break cycle 2000", "b 2000"}) {
    auto r = run_cli({"step", swallow()}, std::string(command) + "\ncontinue\nprint cpu 1\nquit\n");
    EXPECT_EQ(r.code, 1) << r.err;  // quit mid-run: the expectations do not hold yet
    EXPECT_NE(r.out.find("breakpoint 1, cycle 2000: stopped at cycle 2000, between events (the "
                         "next at cycle 4100)\n(fredsim 2000) "),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("cycle=1780 cpu=1 handler_call handler=nic"), std::string::npos);
    EXPECT_EQ(r.out.find("cycle=4100"), std::string::npos) << r.out;
    // Still in the handler: NMIs blocked, the second one pending.
    EXPECT_NE(r.out.find("nmi: pending=true bitmap=0x0200 blocked=true"), std::string::npos);
  }
}

// Stopping at cycle breakpoints changes nothing of the run: the summary at its end
// is `fredsim run`'s, byte for byte.
TEST(StepCommand, CycleBreakpointsLeaveTheRunAsItWas) {
  const auto run = run_cli({"run", swallow()});
  auto r = run_cli({"step", swallow()},
                   "break 1000\nbreak 2000\nbreak 3333\ncontinue\ncontinue\ncontinue\ncontinue\n"
                   "quit\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_of(r.out, ": stopped at cycle "), 3u) << r.out;
  EXPECT_EQ(final_summary(r.out), run.out);
}

// An event exactly at the breakpoint's cycle runs before the stop (as `until`).
TEST(StepCommand, BreakCycleRunsTheEventsOfItsCycle) {
  auto r = run_cli({"step", swallow()}, "break 1600\ncontinue\nquit\n");
  EXPECT_NE(r.out.find("cycle=1600 cpu=1 nmi_deliver"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breakpoint 1, cycle 1600: stopped at cycle 1600, between events (the "
                       "next at cycle 1601)"),
            std::string::npos)
      << r.out;
}

TEST(StepCommand, InfoBreakListsNumbersAndHits) {
  auto r = run_cli({"step", swallow()},
                   "info break\nbreak handler nic\nbreak cycle 5000\nbreak cpu 1\ncontinue\n"
                   "info break\n");
  EXPECT_NE(r.out.find("(fredsim 0) no breakpoints\n"), std::string::npos) << r.out;
  // cpu 1 hits first (its NMI at 1600), then nic's call at 1780.
  EXPECT_NE(r.out.find("breakpoint 3, cpu 1: stopped at cycle 1600\n"), std::string::npos);
  EXPECT_NE(r.out.find("num  stops at                 hits\n"
                       "1    handler nic              0\n"
                       "2    cycle 5000               0\n"
                       "3    cpu 1                    1\n"),
            std::string::npos)
      << r.out;
}

TEST(StepCommand, DeleteRemovesOneOrAll) {
  auto r = run_cli({"step", swallow()},
                   "break handler nic\nbreak cycle 5000\nbreak cpu 1\ndelete 2\ninfo break\n"
                   "delete 7\ndelete x\ndelete 1 9\ninfo break\nbreak cpu 0\ndelete\ninfo break\n"
                   "delete\ndelete 1\nquit\n");
  EXPECT_NE(r.out.find("deleted breakpoint 2: cycle 5000\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1    handler nic              0\n3    cpu 1                    0\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("delete: no breakpoint 7 (breakpoints: 1, 3); nothing deleted\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("delete: 'x' is not a breakpoint number (breakpoints: 1, 3); nothing "
                       "deleted\n"),
            std::string::npos);
  // A bad number among good ones: nothing goes.
  EXPECT_NE(r.out.find("delete: no breakpoint 9 (breakpoints: 1, 3); nothing deleted\n"),
            std::string::npos);
  EXPECT_EQ(r.out.find("deleted breakpoint 1"), std::string::npos);
  // Numbers are not reused, as in gdb.
  EXPECT_NE(r.out.find("breakpoint 4: cpu 0\n"), std::string::npos);
  EXPECT_NE(r.out.find("deleted 3 breakpoints\n(fredsim 0) no breakpoints\n"), std::string::npos);
  EXPECT_NE(r.out.find("deleted 0 breakpoints\n"), std::string::npos);
  EXPECT_NE(r.out.find("delete: no breakpoint 1 (there are none); nothing deleted\n"),
            std::string::npos);
}

TEST(StepCommand, DeletedBreakpointsNoLongerStop) {
  auto r =
      run_cli({"step", swallow()}, "break cpu 1\nbreak handler nic\ndelete 1\ncontinue\nquit\n");
  EXPECT_EQ(r.out.find("breakpoint 1, cpu 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breakpoint 2, handler nic: stopped at cycle 1780\n"), std::string::npos);
}

TEST(StepCommand, BreakpointsThatCannotHitAreRefused) {
  auto r = run_cli({"step", swallow()},
                   "until 2000\nbreak 2000\nbreak cycle 10\nbreak cycle\nbreak cycle x\nbreak x\n"
                   "break\nbreak cpu 1 2\nbreak handler\nbreak cpu 2\nquit\n");
  EXPECT_NE(r.out.find("break cycle: cycle 2000 is not after now (cycle 2000): `continue` could "
                       "never stop there\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("break cycle: cycle 10 is not after now (cycle 2000)"), std::string::npos);
  EXPECT_NE(r.out.find("break cycle: give a cycle (break cycle 5000)\n"), std::string::npos);
  EXPECT_NE(r.out.find("break: 'x' is not a cycle (give a cycle, 'cycle N', 'handler NAME' or "
                       "'cpu N')\n"),
            std::string::npos);
  EXPECT_EQ(count_of(r.out, "break: 'x' is not a cycle"), 2u);
  EXPECT_NE(
      r.out.find("(fredsim 2000) break: give a cycle, 'cycle N', 'handler NAME' or 'cpu N'\n"),
      std::string::npos);
  EXPECT_NE(r.out.find("break: '2' is one word too many"), std::string::npos);
  EXPECT_NE(r.out.find("break handler: give a name (handlers: nic, "), std::string::npos);
  EXPECT_NE(r.out.find("break cpu: CPU 2 is out of range: the system has 2 CPUs (0..1)\n"),
            std::string::npos);
  EXPECT_EQ(r.out.find("breakpoint 1"), std::string::npos) << r.out;
}

TEST(StepCommand, BreakCycleAfterTheEndIsRefused) {
  auto r = run_cli({"step", swallow(), "--set", "system.end=3000"}, "break 4000\nquit\n");
  EXPECT_NE(r.out.find("break cycle: cycle 4000 is after the scenario's end (system.end = 3000)"),
            std::string::npos)
      << r.out;
}

TEST(StepCommand, UntilACyclePastIsSaid) {
  auto r = run_cli({"step", swallow()}, "until 2000\nuntil 1000\nuntil\nquit\n");
  EXPECT_NE(r.out.find("until: cycle 1000 is past (now 2000)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("until: give a cycle (until 5000)\n"), std::string::npos);
}

// Mid-run, work not yet handled is pending (an NMI is on its way), not lost,
// and the expectations hold or not so far.
TEST(StepCommand, ResultMidRunSaysRunning) {
  auto r = run_cli({"step", swallow()},
                   "until 1000\nprint stats\nuntil 2000\nresult\ncontinue\nresult\nprint stats\n"
                   "quit\n");
  // The two items of the first NMI, on its way to CPU 1.
  EXPECT_NE(r.out.find("cpu 1: normal=0 unknown=0 external=0 swallow=0 pending=2\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cpu 1: normal=2 unknown=0 external=0 swallow=1 lost=0\n"),
            std::string::npos);
  const auto mid = r.out.find("(fredsim 2000) scenario swallow:");
  ASSERT_NE(mid, std::string::npos) << r.out;
  const std::string during = r.out.substr(mid, r.out.find("(fredsim", mid + 1) - mid);
  EXPECT_NE(during.find("\nrunning: at cycle 2000 (1.000 us), events left; the counts are those so "
                        "far, and `pending` is work no NMI has handled yet\n"),
            std::string::npos)
      << during;
  EXPECT_NE(during.find(" swallow  pending\n"), std::string::npos) << during;
  EXPECT_NE(during.find("      1         2         0         1"), std::string::npos);
  EXPECT_EQ(during.find("lost"), std::string::npos) << during;
  EXPECT_NE(during.find("expectations (so far: the run goes on):\n"), std::string::npos);
  EXPECT_NE(during.find("\nRUNNING: 2 of 5 expectations hold so far\n"), std::string::npos);
  EXPECT_EQ(during.find("FAILED"), std::string::npos);
  // At the end: the run's own summary.
  const auto end = r.out.find("(fredsim 6840, done) scenario swallow:");
  ASSERT_NE(end, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ended at cycle 6840", end), std::string::npos);
  EXPECT_NE(r.out.find(" swallow   lost\n", end), std::string::npos);
  EXPECT_NE(r.out.find("PASSED: 5 of 5 expectations hold", end), std::string::npos);
}

// A fixed interrupt waits in CPU 1's IRR while its NMI handler runs; CPU 0's
// send with vector 5 (illegal, SDM 11.5.2) sets its ESR.
TEST(StepCommand, PrintApicShowsEveryLvtIsrIrrAndEsr) {
  test::TempDir dir;
  const std::string file = dir.write("a.toml", R"(name = "apic"
[system]
cpus = 2
[[handler]]
name = "nic"
vector = 9
[[event]]
at = 100
type = "ipi"
dest = 1
vector = 9
work = ["nic", "nic"]
[[event]]
at = 300
type = "ipi"
dest = 1
mode = "fixed"
vector = 0x31
[[event]]
at = 400
type = "ipi"
dest = 1
mode = "fixed"
vector = 5
)");
  auto r = run_cli({"step", file}, "until 2000\nprint apic 1\nprint apic 0\nprint apic 2\nquit\n");
  EXPECT_NE(r.out.find("apic 1: mode=x2apic id=0x1 software_enabled=true svr=0x1ff tpr=0x0 "),
            std::string::npos)
      << r.out;
  for (const char* lvt : {"cmci", "timer", "thermal", "perfmon", "lint0", "lint1", "error"}) {
    EXPECT_EQ(count_of(r.out, std::string("  lvt ") + lvt + " "), 2u) << lvt;
  }
  EXPECT_NE(r.out.find("  lvt perfmon  0x00000407 unmasked vector=7 mode=nmi\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("  lvt lint1    0x00000400 unmasked vector=0 mode=nmi trigger=edge "
                       "polarity=active_high remote_irr=false\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("  isr: none\n  irr: 0x31\n"), std::string::npos);
  EXPECT_NE(r.out.find("  esr=0x0 (none); since the last ESR write: 0x20 (send_illegal_vector)"),
            std::string::npos);
  EXPECT_NE(r.out.find("print apic: give a CPU number 0..1"), std::string::npos);
}

// An event that writes no trace record is named as an event, not printed as if
// it were a record (docs/format.md lists the records; handler_done is none).
TEST(StepCommand, AnEventWithoutARecordIsNamedAsSuch) {
  auto r = run_cli({"step", swallow()}, "step 20\nquit\n");
  EXPECT_NE(r.out.find("\ncycle=4720 cpu=1 (event handler_done, no trace record)\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("cpu=1 handler_done"), std::string::npos);
}

// From a script an empty line does nothing (gdb: "An empty line in a command
// file does nothing"); at a terminal it repeats (cli_process_test.cpp).
TEST(StepCommand, AScriptsEmptyLineDoesNothing) {
  auto r = run_cli({"step", swallow()}, "step\n\n   \nquit\n");
  EXPECT_NE(r.out.find("cycle=100 cpu=0 ipi_send"), std::string::npos);
  EXPECT_EQ(r.out.find("cycle=101 "), std::string::npos) << r.out;
}

TEST(StepCommand, HelpNamesEveryCommand) {
  auto r = run_cli({"step", swallow()}, "help\n");
  for (const char* c :
       {"step [N]", "until CYCLE", "continue", "break [cycle] N", "break handler", "break cpu",
        "info break", "delete [N...]", "print WHAT", "result", "quit"}) {
    EXPECT_NE(r.out.find(c), std::string::npos) << c;
  }
}

// --- VMs: print vm, print vcpu -------------------------------------------------------

std::string vm_backtrace() {
  return test::source_dir() + "/scenarios/vm-backtrace.toml";
}

// vm-backtrace: vCPU 0 (host CPU 1) writes its ICR for vCPUs 1 and 2 from cycle
// 50000; KVM kicks vCPU 1's host CPU 2 out of the guest (exit at 53300) and
// injects at 54100. At 53500 the NMI waits in KVM's queue with source vector 4
// (bit 4); at 60000 each target has taken its NMI and runs arch_bt.
TEST(StepCommand, PrintVcpuShowsKvmsQueueAndTheHostCpusMode) {
  auto r = run_cli({"step", vm_backtrace()}, "until 53500\nprint vcpu vm0 1\nquit\n");
  EXPECT_NE(r.out.find("(fredsim 53500) vm vm0 vcpu 1: host_cpu=2 vmx=exiting booted=true\n"
                       "    virtual nmis: queued=1 pending=0 pending_sources=0x10 "
                       "injection_in_flight=false\n"
                       "    injected=0 window_exits=0 delivered=0 collapsed=0 kicks=1 icr_exits=0 "
                       "nmi_ipis=1 pmis=0\n"
                       "    guest: in_dispatch=false normal=0 unknown=0 external=0 swallow=0 "
                       "pending=1 lvtpc=0x407\n"),
            std::string::npos)
      << r.out;
}

TEST(StepCommand, PrintVmShowsEveryVcpuAndTheGuestsHandlers) {
  auto r = run_cli({"step", vm_backtrace()}, "until 60000\nprint vm vm0\nprint vcpu 2\nquit\n");
  EXPECT_NE(r.out.find("vm vm0: 3 vCPUs on host CPUs [1,2,3], delivery=fred nmi_source=on "
                       "apic=x2apic kernel=v7, at=0 until=end\n"
                       "  vcpu 0: host_cpu=1 vmx=guest booted=true\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    injected=0 window_exits=0 delivered=0 collapsed=0 kicks=0 icr_exits=2 "
                       "nmi_ipis=0 pmis=0\n"),
            std::string::npos)
      << "vCPU 0 sent: two ICR-write exits";
  EXPECT_EQ(count_of(r.out,
                     "    injected=1 window_exits=0 delivered=1 collapsed=0 kicks=1 "
                     "icr_exits=0 nmi_ipis=1 pmis=0\n"),
            3u)
      << "vCPUs 1 and 2 in `print vm`, vCPU 2 again in `print vcpu 2`";
  EXPECT_EQ(count_of(r.out, "guest: in_dispatch=true "), 3u) << "inside arch_bt";
  EXPECT_NE(r.out.find("  handlers:\n    arch_bt (local, vector 4): calls=2 handled=2 "
                       "cycles=100100\n    perf (local, vector 7): calls=0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(fredsim 60000) vm vm0 vcpu 2: host_cpu=3 vmx=guest"), std::string::npos);
}

// A guest kernel's call hits `break handler` as the host's does: vm-backtrace's
// arch_bt runs only in the guest, first on vCPU 1 (host CPU 2) at 55030.
TEST(StepCommand, BreakHandlerStopsAtAGuestsCall) {
  auto r = run_cli({"step", vm_backtrace()}, "break handler arch_bt\ncontinue\nquit\n");
  EXPECT_NE(r.out.find("cycle=55030 cpu=2 handler_call vm=vm0 vcpu=1 handler=arch_bt "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("breakpoint 1, handler arch_bt: stopped at cycle 55030\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("cycle=57580"), std::string::npos) << "stopped before vCPU 2's call";
}

TEST(StepCommand, AVmsStartIsAStepOfItsOwn) {
  // The VM's start is an event of the scenario's driver past the file's own
  // events: its name is "vm" (it was read from past the end of the events).
  auto r = run_cli({"step", vm_backtrace()}, "step\nquit\n");
  EXPECT_NE(r.out.find("cycle=0 cpu=- (event vm, no trace record)\n"), std::string::npos)
      << r.out << r.err;
}

TEST(StepCommand, PrintVmRefusesWhatIsNotThere) {
  auto r = run_cli({"step", vm_backtrace()},
                   "print vm\nprint vm vm1\nprint vcpu vm0 3\nprint vcpu vm0 x\nprint vcpu\n"
                   "quit\n");
  EXPECT_EQ(count_of(r.out, "print vm: give a VM's name: vm0\n"), 2u) << r.out;
  EXPECT_EQ(count_of(r.out, "print vcpu: vm0 has vCPUs 0..2\n"), 2u);
  EXPECT_NE(r.out.find("print vcpu: give a VM's name (vm0) and a vCPU number, or only the number"),
            std::string::npos);
  auto none = run_cli({"step", swallow()}, "print vm vm0\nprint vcpu 0\nquit\n");
  EXPECT_NE(none.out.find("print vm: the scenario has no [[vm]]\n"), std::string::npos);
  EXPECT_NE(none.out.find("print vcpu: the scenario has no [[vm]]\n"), std::string::npos);
}

// --- Completion (TAB at a terminal) -------------------------------------------------

StepVocabulary vocabulary() {
  StepVocabulary v;
  v.handlers = {"nic", "perf", "PMI", "nmi_selftest"};
  v.cpus = 12;
  v.breakpoints = {1, 3};
  return v;
}

using Words = std::vector<std::string>;

TEST(StepCompletion, Commands) {
  EXPECT_EQ(step_completions("", vocabulary()),
            (Words{"step", "until", "run", "continue", "break", "info", "delete", "print", "result",
                   "quit", "help"}));
  EXPECT_EQ(step_completions("co", vocabulary()), (Words{"continue"}));
  EXPECT_EQ(step_completions("re", vocabulary()), (Words{"result"}));
  EXPECT_EQ(step_completions("x", vocabulary()), Words{});
}

TEST(StepCompletion, WhatBreakAndPrintTake) {
  EXPECT_EQ(step_completions("break ", vocabulary()), (Words{"cycle", "handler", "cpu"}));
  EXPECT_EQ(step_completions("b c", vocabulary()), (Words{"cycle", "cpu"}));
  EXPECT_EQ(step_completions("break handler n", vocabulary()), (Words{"nic", "nmi_selftest"}));
  EXPECT_EQ(step_completions("break handler ", vocabulary()), vocabulary().handlers);
  EXPECT_EQ(step_completions("break cpu 1", vocabulary()), (Words{"1", "10", "11"}));
  EXPECT_EQ(step_completions("break cycle ", vocabulary()), Words{});
  EXPECT_EQ(step_completions("print ", vocabulary()),
            (Words{"cpu", "apic", "vmcs", "handlers", "stats"}));
  EXPECT_EQ(step_completions("p apic 1", vocabulary()), (Words{"1", "10", "11"}));
  EXPECT_EQ(step_completions("print handlers ", vocabulary()), Words{});
  EXPECT_EQ(step_completions("info ", vocabulary()), (Words{"break"}));
}

TEST(StepCompletion, VmNamesAndVcpuNumbers) {
  StepVocabulary v = vocabulary();
  v.vms = {{"vm0", 3}, {"web", 12}};
  EXPECT_EQ(step_completions("print ", v),
            (Words{"cpu", "apic", "vmcs", "handlers", "stats", "vm", "vcpu"}));
  EXPECT_EQ(step_completions("print v", v), (Words{"vmcs", "vm", "vcpu"}));
  EXPECT_EQ(step_completions("print vm ", v), (Words{"vm0", "web"}));
  EXPECT_EQ(step_completions("p vcpu w", v), (Words{"web"}));
  EXPECT_EQ(step_completions("print vcpu vm0 ", v), (Words{"0", "1", "2"}));
  EXPECT_EQ(step_completions("print vcpu web 1", v), (Words{"1", "10", "11"}));
  EXPECT_EQ(step_completions("print vm vm0 ", v), Words{});
  v.vms.pop_back();
  EXPECT_EQ(step_completions("print vcpu ", v), (Words{"vm0", "0", "1", "2"}))
      << "one VM: the number alone";
}

TEST(StepCompletion, BreakpointNumbersNotYetNamed) {
  EXPECT_EQ(step_completions("delete ", vocabulary()), (Words{"1", "3"}));
  EXPECT_EQ(step_completions("delete 1 ", vocabulary()), (Words{"3"}));
}

}  // namespace
}  // namespace fredsim::cli
