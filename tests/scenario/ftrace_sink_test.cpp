// The ftrace lines as trace_pipe shows them: no header, lines merged across CPUs
// by timestamp (the lowest CPU first on a tie), timestamps rounded to the
// microsecond as Linux's ns2usecs does (kernel/trace/trace.c).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"

namespace fredsim::scenario {
namespace {

TraceSinkContext at_mhz(std::uint32_t mhz) {
  TraceSinkContext ctx;
  ctx.frequency_mhz = mhz;
  return ctx;
}

/// A handler_call record of `cycles` on `cpu` starting at `at`.
void call(FtraceSink& sink, Cycle at, CpuId cpu, std::string_view handler, std::uint64_t cycles) {
  const TraceField fields[] = {{"handler", TraceValue::str(handler)},
                               {"type", TraceValue::str("local")},
                               {"returned", TraceValue::sdec(1)},
                               {"cycles", TraceValue::dec(cycles)}};
  sink.record(TraceRecord{at, cpu, "handler_call", fields});
}

void other(FtraceSink& sink, Cycle at, CpuId cpu) {
  sink.record(TraceRecord{at, cpu, "nmi_return", {}});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

std::string stamp(const std::string& line) {
  const auto colon = line.find(": nmi_handler");
  const auto start = line.rfind(' ', colon) + 1;
  return line.substr(start, colon - start);
}

// At 1000 MHz a cycle is a ns: a call on CPU 0 from 1000 for 100000 cycles
// returns at 101000 ns; one on CPU 1 from 2000 for 1000 at 3000 ns. The record
// order is CPU 0's first, the timestamp order CPU 1's.
TEST(FtraceSink, LinesAreInTimestampOrderAcrossCpus) {
  std::ostringstream out;
  FtraceSink sink(out, at_mhz(1000), false);
  call(sink, 1000, 0, "long", 100'000);
  call(sink, 2000, 1, "short", 1000);
  other(sink, 3000, 1);
  // Nothing written while the long call may still be overtaken... but the
  // short one is final once time passes its end.
  other(sink, 3001, 1);
  EXPECT_EQ(out.str(),
            "          <idle>-0       [001] d.Z1.     0.000003: nmi_handler: short() "
            "delta_ns: 1000 handled: 1\n");
  call(sink, 4000, 2, "tie", 97'000);  // returns at 101000 ns too, on a higher CPU
  call(sink, 200'000, 1, "after", 10);
  sink.flush();
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 4u) << out.str();
  EXPECT_NE(lines[1].find("[000]"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("long()"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("[002]"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("after()"), std::string::npos) << lines[3];
  EXPECT_EQ(stamp(lines[1]), "0.000101");
  EXPECT_EQ(stamp(lines[2]), "0.000101");
  EXPECT_EQ(stamp(lines[3]), "0.000200");
}

// ns2usecs: (ns + 500) / 1000, where truncation would drop the fraction: 1500
// ns is 2 us, 3499 ns 3 us, and 1,999,999,500 ns carries into the seconds.
TEST(FtraceSink, TimestampsRoundAsNs2usecs) {
  std::ostringstream out;
  FtraceSink sink(out, at_mhz(1000), false);
  call(sink, 0, 0, "a", 1500);
  call(sink, 2000, 0, "b", 1499);
  call(sink, 1'999'999'000, 0, "c", 500);
  sink.flush();
  const auto lines = lines_of(out.str());
  ASSERT_EQ(lines.size(), 3u) << out.str();
  EXPECT_EQ(stamp(lines[0]), "0.000002");
  EXPECT_EQ(stamp(lines[1]), "0.000003");
  EXPECT_EQ(stamp(lines[2]), "2.000000");
}

TEST(FtraceSink, NoHeaderAsTracePipe) {
  std::ostringstream out;
  FtraceSink sink(out, at_mhz(2000), true);
  other(sink, 10, 0);
  call(sink, 100, 3, "perf", 1500);
  sink.flush();
  EXPECT_EQ(out.str(),
            "          <idle>-0       [003] d.Z1.     0.000001: nmi_handler: perf() "
            "delta_ns: 750 handled: 1 source_bitmap: 0x0\n");
}

// A whole run: timestamps never go back, for every scenario with handler calls
// on several CPUs.
TEST(FtraceSink, ScenarioTimestampsNeverGoBack) {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  for (const char* name : {"demo.toml", "backtrace-all.toml", "storm.toml", "selftest.toml"}) {
    auto spec = load_scenario_file(std::string(root ? root : ".") + "/scenarios/" + name);
    ASSERT_TRUE(spec.ok()) << name;
    std::ostringstream out;
    FtraceSink sink(out, trace_sink_context(*spec), false);
    RunOptions options;
    options.trace_sinks.push_back(&sink);
    ASSERT_TRUE(SystemRunner{}.run(*spec, options).ok());
    std::string prev;
    for (const auto& l : lines_of(out.str())) {
      const std::string s = stamp(l);
      const std::string padded = std::string(20 - s.size(), ' ') + s;
      EXPECT_LE(prev, padded) << name << ": " << l;
      prev = padded;
    }
  }
}

void deliver(FtraceSink& sink, Cycle at, CpuId cpu, std::string_view path) {
  const TraceField fields[] = {{"path", TraceValue::str(path)}};
  sink.record(TraceRecord{at, cpu, "nmi_deliver", fields});
}

// The task and flags of what the NMI interrupted: the idle task (preempt depth
// 1), a user task (depth 0), the vCPU thread for an NMI VM exit (depth 1, KVM
// enters the guest with preemption off).
TEST(FtraceSink, TaskAndFlagsOfTheInterruptedContext) {
  std::ostringstream out;
  TraceSinkContext ctx = at_mhz(1000);
  ctx.user.push_back({1, 5000, 9000});  // CPU 1 runs user code in [5000, 9000)
  FtraceSink sink(out, ctx, false);
  deliver(sink, 1000, 1, "fred");  // before the interval: idle
  call(sink, 1000, 1, "a", 1000);
  deliver(sink, 6000, 1, "fred");  // inside it
  call(sink, 6000, 1, "b", 1000);
  deliver(sink, 9000, 1, "fred");  // at its end: the end came first
  call(sink, 9000, 1, "c", 1000);
  deliver(sink, 12000, 3, "vmexit");
  call(sink, 12000, 3, "d", 1000);
  deliver(sink, 13000, 3, "idt");  // the guest stopped; plain idle again
  call(sink, 13000, 3, "e", 1000);
  sink.flush();
  EXPECT_EQ(out.str(),
            "          <idle>-0       [001] d.Z1.     0.000002: nmi_handler: a() delta_ns: 1000 "
            "handled: 1\n"
            "            user-1001    [001] d.Z..     0.000007: nmi_handler: b() delta_ns: 1000 "
            "handled: 1\n"
            "          <idle>-0       [001] d.Z1.     0.000010: nmi_handler: c() delta_ns: 1000 "
            "handled: 1\n"
            "       CPU 3/KVM-2003    [003] d.Z1.     0.000013: nmi_handler: d() delta_ns: 1000 "
            "handled: 1\n"
            "          <idle>-0       [003] d.Z1.     0.000014: nmi_handler: e() delta_ns: 1000 "
            "handled: 1\n");
}

// A whole run: the NMI exits of guest-nmi-exit's guest on CPU 2 show the vCPU
// thread, every other line the idle task.
TEST(FtraceSink, GuestExitsShowTheVcpuThread) {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  auto spec = load_scenario_file(std::string(root ? root : ".") + "/scenarios/guest-nmi-exit.toml");
  ASSERT_TRUE(spec.ok());
  std::ostringstream out;
  FtraceSink sink(out, trace_sink_context(*spec), false);
  RunOptions options;
  options.trace_sinks.push_back(&sink);
  ASSERT_TRUE(SystemRunner{}.run(*spec, options).ok());
  sink.flush();
  int kvm = 0, idle = 0;
  for (const auto& l : lines_of(out.str())) {
    if (l.find("[002]") != std::string::npos) {
      EXPECT_EQ(l.substr(0, 40), "       CPU 2/KVM-2002    [002] d.Z1.    ") << l;
      ++kvm;
    } else {
      EXPECT_EQ(l.substr(0, 25), "          <idle>-0       ") << l;
      ++idle;
    }
  }
  EXPECT_EQ(kvm, 5) << "one handler call per NMI exit";
}

/// A guest kernel's handler_call: `vm` and `vcpu` ahead, on host CPU `cpu`.
void guest_call(FtraceSink& sink, Cycle at, CpuId cpu, std::string_view vm, std::uint64_t vcpu,
                std::string_view handler) {
  const TraceField fields[] = {
      {"vm", TraceValue::str(vm)},           {"vcpu", TraceValue::dec(vcpu)},
      {"handler", TraceValue::str(handler)}, {"type", TraceValue::str("local")},
      {"returned", TraceValue::sdec(1)},     {"cycles", TraceValue::dec(1000)}};
  sink.record(TraceRecord{at, cpu, "handler_call", fields});
}

// The host's file has the host's calls only; a VM's file that VM's, on its
// vCPU numbers, in the guest's idle task even when the host CPU's last NMI
// was an NMI exit (the host's context is not the guest's).
TEST(FtraceSink, GuestCallsGoToTheirVmsLinesOnTheirVcpus) {
  std::ostringstream host, g, h;
  FtraceSink host_sink(host, at_mhz(1000), false);
  FtraceSink g_sink(g, at_mhz(1000), true, "g");
  FtraceSink h_sink(h, at_mhz(1000), false, "h");
  for (FtraceSink* s : {&host_sink, &g_sink, &h_sink}) {
    const TraceField exit[] = {{"path", TraceValue::str("vmexit")}};
    s->record(TraceRecord{500, 2, "nmi_deliver", exit});
    call(*s, 1000, 2, "host", 1000);
    guest_call(*s, 3000, 2, "g", 1, "g_a");
    guest_call(*s, 4000, 3, "h", 0, "h_a");
    s->flush();
  }
  EXPECT_EQ(host.str(),
            "       CPU 2/KVM-2002    [002] d.Z1.     0.000002: nmi_handler: host() delta_ns: 1000 "
            "handled: 1\n");
  EXPECT_EQ(g.str(),
            "          <idle>-0       [001] d.Z1.     0.000004: nmi_handler: g_a() delta_ns: 1000 "
            "handled: 1 source_bitmap: 0x0\n");
  EXPECT_EQ(h.str(),
            "          <idle>-0       [000] d.Z1.     0.000005: nmi_handler: h_a() delta_ns: 1000 "
            "handled: 1\n");
}

// A whole run: vm-backtrace's guest calls arch_bt on vCPUs 1 and 2; the host
// calls nothing.
TEST(FtraceSink, AGuestsBacktraceIsInItsVmsLines) {
  const char* root = std::getenv("FREDSIM_SOURCE_DIR");
  auto spec = load_scenario_file(std::string(root ? root : ".") + "/scenarios/vm-backtrace.toml");
  ASSERT_TRUE(spec.ok());
  std::ostringstream host, guest;
  FtraceSink host_sink(host, trace_sink_context(*spec), false);
  FtraceSink guest_sink(guest, trace_sink_context(*spec), false, "vm0");
  RunOptions options;
  options.trace_sinks = {&host_sink, &guest_sink};
  ASSERT_TRUE(SystemRunner{}.run(*spec, options).ok());
  host_sink.flush();
  guest_sink.flush();
  EXPECT_EQ(host.str(), "");
  const auto lines = lines_of(guest.str());
  ASSERT_EQ(lines.size(), 2u) << guest.str();
  EXPECT_TRUE(lines[0].starts_with("          <idle>-0       [001] d.Z1.     0.000053: "))
      << lines[0];
  EXPECT_TRUE(lines[1].starts_with("          <idle>-0       [002] d.Z1.     0.000054: "))
      << lines[1];
  EXPECT_NE(lines[0].find("arch_bt() delta_ns: 25025 handled: 1"), std::string::npos);
}

}  // namespace
}  // namespace fredsim::scenario
