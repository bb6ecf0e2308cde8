// docs/linux.md "The selftest".
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

class Selftest : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(Selftest, PassesAndPrintsTheLinuxSummary) {
  for (bool source : {true, false}) {
    auto sys = make_system(make_config(GetParam(), true, source));
    Kernel& k = sys->kernel();
    sys->at(0, [&] { k.run_selftest(0); });
    sys->run_to_idle();
    EXPECT_TRUE(console_has(k, "Good, all   2 testcases passed! |")) << "source=" << source;
    EXPECT_EQ(k.selftest().report().passed, 2u);
    EXPECT_EQ(k.selftest().report().failed + k.selftest().report().timeout, 0u);
    EXPECT_EQ(k.registry().find_handler("nmi_selftest") == kNoHandler
                  ? 0u
                  : k.registry().handler(k.registry().find_handler("nmi_selftest")).registered,
              0u)
        << "unregistered at the end";
    for (CpuId c = 0; c < GetParam(); ++c)
      EXPECT_EQ(k.lost_work(c), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Cpus, Selftest, ::testing::Values(1u, 2u, 64u));

// CPU 1 is busy in a handler that never returns (it gets an NMI at cycle 0),
// then CPU 0 runs the selftest at 10,000: the remote testcase times out.
void run_selftest_with_cpu1_hung(system::System& sys) {
  Kernel& k = sys.kernel();
  ASSERT_TRUE(k.register_nmi_handler(
                   NmiType::local,
                   [](NmiType, const PtRegs&, NmiContext& ctx) {
                     ctx.halt_cpu();
                     return NMI_HANDLED;
                   },
                   NMI_FLAG_FIRST, "hang", 0)
                  .ok());
  const CpuId dest[] = {1};
  sys.at(0, [&k, dest] { k.send_nmi_ipi(0, dest, 0); });
  sys.at(10'000, [&k] { k.run_selftest(0); });
  sys.run_to_idle();
}

TEST(SelftestFailure, ATargetThatNeverAnswersTimesOut) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  run_selftest_with_cpu1_hung(*sys);
  EXPECT_TRUE(console_has(k, "TIMEOUT"));
  EXPECT_TRUE(console_has(k, "BUG:   1 unexpected failures (out of   2)"));
  EXPECT_EQ(k.selftest().report().timeout, 1u);
}

// --- Golden tests: the console text of arch/x86/kernel/nmi_selftest.c -------

// printf with one of nmi_selftest.c's printk format strings, as Linux formats it.
// The format attribute has the compiler check each literal against its arguments.
__attribute__((format(printf, 1, 2))) std::string c_format(const char* format, ...) {
  char buf[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

// nmi_selftest's header.
std::vector<std::string> linux_header() {
  return {c_format("----------------"), c_format("| NMI testsuite:"),
          c_format("--------------------")};
}

// print_testname("%12s:") followed by dotest's KERN_CONT verdict.
std::string linux_testcase(const char* name, const char* verdict) {
  return c_format("%12s:", name) + verdict;
}

// The lines the console printed for `cpu`, in order.
std::vector<std::string> lines_of(const Kernel& k, CpuId cpu) {
  std::vector<std::string> out;
  for (const auto& l : k.console().lines()) {
    if (l.cpu == cpu) out.push_back(l.text);
  }
  return out;
}

// nmi_selftest(): a passing run prints exactly Linux's lines, byte for byte
// (on one CPU remote_ipi sends nothing and still counts as passed).
TEST(SelftestGolden, NmiSelftestPassingRunPrintsLinuxText) {
  for (std::uint32_t cpus : {1u, 2u, 8u}) {
    SCOPED_TRACE(cpus);
    auto sys = make_system(make_config(cpus));
    Kernel& k = sys->kernel();
    sys->at(0, [&] { k.run_selftest(0); });
    sys->run_to_idle();
    std::vector<std::string> want = linux_header();
    want.push_back(linux_testcase("remote IPI", "  ok  |"));
    want.push_back(linux_testcase("local IPI", "  ok  |"));
    want.push_back(c_format("--------------------"));
    want.push_back(c_format("Good, all %3d testcases passed! |", 2));
    want.push_back(c_format("---------------------------------"));
    EXPECT_EQ(lines_of(k, 0), want);
    EXPECT_EQ(k.console().lines().size(), want.size()) << "no line from another CPU";
  }
}

// nmi_selftest(): a run whose remote testcase times out (dotest's "TIMEOUT|",
// then the "unexpected failures" branch of the summary).
TEST(SelftestGolden, NmiSelftestFailingRunPrintsLinuxText) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  run_selftest_with_cpu1_hung(*sys);
  std::vector<std::string> want = linux_header();
  want.push_back(linux_testcase("remote IPI", "TIMEOUT|"));
  want.push_back(linux_testcase("local IPI", "  ok  |"));
  want.push_back(c_format("--------------------"));
  want.push_back(
      c_format("BUG: %3d unexpected failures (out of %3d) - debugging disabled! |", 1, 2));
  want.push_back(c_format("-----------------------------------------------------------------"));
  EXPECT_EQ(lines_of(k, 0), want);
}

// dotest's four verdicts and every branch of nmi_selftest's summary, against
// the format strings of nmi_selftest.c.
TEST(SelftestGolden, NmiSelftestEveryFormatString) {
  using V = fredsim::kernel::Selftest::Verdict;
  EXPECT_EQ(fredsim::kernel::Selftest::testcase_line("remote IPI", V::ok), "  remote IPI:  ok  |");
  EXPECT_EQ(fredsim::kernel::Selftest::testcase_line("local IPI", V::failed),
            linux_testcase("local IPI", "FAILED |"));
  EXPECT_EQ(fredsim::kernel::Selftest::testcase_line("local IPI", V::timeout),
            linux_testcase("local IPI", "TIMEOUT|"));
  EXPECT_EQ(fredsim::kernel::Selftest::testcase_line("local IPI", V::error),
            linux_testcase("local IPI", "ERROR  |"));
  const std::string d20 = c_format("--------------------");
  using C = fredsim::kernel::Selftest::Counts;
  EXPECT_EQ(
      fredsim::kernel::Selftest::summary_lines(C{3, 0, 0, 12}),
      (std::vector<std::string>{
          d20, c_format("BUG: %3d unexpected failures (out of %3d) - debugging disabled! |", 3, 12),
          c_format("-----------------------------------------------------------------")}));
  EXPECT_EQ(fredsim::kernel::Selftest::summary_lines(C{0, 1, 1, 2}),
            (std::vector<std::string>{
                d20, c_format("%3d out of %3d testcases failed, as expected. |", 1, 2),
                c_format("----------------------------------------------------")}));
  EXPECT_EQ(fredsim::kernel::Selftest::summary_lines(C{0, 2, 0, 2}),
            (std::vector<std::string>{d20, c_format("All %3d testcases failed, as expected. |", 2),
                                      c_format("----------------------------------------")}));
  EXPECT_EQ(fredsim::kernel::Selftest::summary_lines(C{0, 0, 2, 2}),
            (std::vector<std::string>{d20, c_format("Good, all %3d testcases passed! |", 2),
                                      c_format("---------------------------------")}));
}

// init_nmi_testsuite registers nmi_unk_cb as "nmi_selftest_unk" on NMI_UNKNOWN
// for the whole run: an NMI nobody claims meanwhile is counted as handled by
// it (no "Uhhuh", no panic even with unknown_nmi_panic). After
// cleanup_nmi_testsuite the next one is an unknown NMI again.
TEST(SelftestRun, NmiUnkCbClaimsStrayNmisDuringTheRunOnly) {
  auto cfg = make_config(2);
  cfg.kernel.unknown_nmi_panic = true;
  auto sys = make_system(cfg);
  Kernel& k = sys->kernel();
  sys->at(0, [&] { k.run_selftest(0); });
  // A platform NMI without a reason on the testing CPU (LINT1 is unmasked on
  // CPU 0 only) while the remote testcase waits.
  sys->at(1, [&] { k.external_nmi(0, machine::NmiReason::none); });
  sys->run_to_idle();
  EXPECT_FALSE(k.panicked());
  EXPECT_FALSE(console_has(k, "Uhhuh"));
  EXPECT_EQ(k.selftest().report().unknowns, 1u);
  EXPECT_EQ(k.cpu_state(0).stats.unknown, 1u);
  EXPECT_TRUE(console_has(k, "Good, all   2 testcases passed! |"));
  const HandlerId unk = k.registry().find_handler("nmi_selftest_unk");
  ASSERT_NE(unk, kNoHandler);
  EXPECT_FALSE(k.registry().handler(unk).registered) << "cleanup_nmi_testsuite unregisters it";
  // After the run: unknown_nmi_error as usual.
  sys->at(sys->machine().now() + 10, [&] { k.external_nmi(0, machine::NmiReason::none); });
  sys->run_to_idle();
  EXPECT_TRUE(console_has(k, "Uhhuh"));
  EXPECT_TRUE(k.panicked());
}

// test_nmi_ipi's wait loop runs in process context on the testing CPU: while
// that CPU is in its own (local) test NMI, here held by a slow handler after
// nmi_selftest's, the loop does not run, so the testcase ends after the NMI
// and unregister_nmi_handler is not called from NMI context (no warning).
TEST(SelftestRun, TestNmiIpiWaitsInProcessContext) {
  // NMI-source off: the slow vector-0 handler runs for the TEST NMI too.
  auto sys = make_system(make_config(2, true, false));
  Kernel& k = sys->kernel();
  Cycle slow_end = 0;
  unsigned cpu0_calls = 0;
  ASSERT_TRUE(k.register_nmi_handler(
                   NmiType::local,
                   [&](NmiType, const PtRegs&, NmiContext& ctx) {
                     ctx.charge(200'000);
                     if (ctx.cpu() == 0) {
                       ++cpu0_calls;
                       slow_end = ctx.now() + ctx.charged();
                     }
                     return NMI_DONE;
                   },
                   0, "slow", 0)
                  .ok());
  sys->at(0, [&] { k.run_selftest(0); });
  sys->run_to_idle();
  ASSERT_EQ(cpu0_calls, 1u);
  EXPECT_FALSE(console_has(k, "Trying to free NMI"));
  Cycle local_line = 0;
  for (const auto& l : k.console().lines()) {
    if (l.text == "   local IPI:  ok  |") local_line = l.cycle;
  }
  ASSERT_NE(local_line, 0u);
  EXPECT_GE(local_line, slow_end);
}

// unregister_nmi_handler (arch/x86/kernel/nmi.c): WARN(in_nmi(), "Trying to
// free NMI (%s) from NMI context!") is about the calling CPU, and a WARN, not a
// WARN_ONCE: a handler unregistering from its NMI warns each time; process
// context does not warn while another CPU is inside an NMI.
TEST(SelftestRun, UnregisterNmiHandlerWarnsOnlyFromTheCallersNmiContext) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, fredsim::testing::done, 0, "u1").ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, fredsim::testing::done, 0, "u2").ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, fredsim::testing::done, 0, "u3").ok());
  bool process_removed = false;
  ASSERT_TRUE(k.register_nmi_handler(
                   NmiType::local,
                   [&](NmiType, const PtRegs&, NmiContext& ctx) {
                     ctx.charge(100'000);
                     if (ctx.cpu() == 1) {
                       k.unregister_nmi_handler(NmiType::unknown, "u1");
                       k.unregister_nmi_handler(NmiType::unknown, "u2");
                     }
                     return NMI_HANDLED;
                   },
                   0, "remover", 0)
                  .ok());
  const CpuId one[] = {1};
  sys->at(10, [&] { k.send_nmi_ipi(0, one, 0); });
  // CPU 1 is inside its NMI (the 100,000-cycle handler) at cycle 50,000.
  sys->at(50'000, [&] {
    ASSERT_TRUE(k.cpu_state(1).in_dispatch);
    process_removed = k.unregister_nmi_handler(NmiType::unknown, "u3");
  });
  sys->run_to_idle();
  EXPECT_TRUE(process_removed);
  unsigned warnings = 0;
  for (const auto& l : k.console().lines()) {
    if (l.text.find("Trying to free NMI (") == std::string::npos) continue;
    ++warnings;
    EXPECT_EQ(l.cpu, 1u);
    EXPECT_EQ(l.text.find("(u3)"), std::string::npos) << l.text;
  }
  EXPECT_EQ(warnings, 2u);
  EXPECT_TRUE(console_has(k, "Trying to free NMI (u1) from NMI context!"));
  EXPECT_TRUE(console_has(k, "Trying to free NMI (u2) from NMI context!"));
}

}  // namespace
}  // namespace fredsim::kernel
