#pragma once
// The kernel's NMI selftest (arch/x86/kernel/nmi_selftest.c, nmi_selftest): it
// registers its NMI_UNKNOWN catcher "nmi_selftest_unk" for the whole run, then
// runs a remote testcase, which sends an NMI to every other CPU, and a local
// one, which sends one to the testing CPU. Each testcase registers the LOCAL
// handler "nmi_selftest", waits up to a simulated second in process context on
// the testing CPU for its mask to empty, and unregisters it. The console lines
// are Linux's printk text.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/kernel/handler_registry.hpp"
#include "fredsim/sim/event_queue.hpp"

namespace fredsim::kernel {

class Kernel;

class Selftest final : public EventTarget {
 public:
  /// Outcome counts over every run.
  struct Report {
    unsigned passed = 0, failed = 0, timeout = 0, runs = 0;
    /// NMIs claimed by nmi_selftest_unk (Linux's unexpected_testcase_unknowns,
    /// which it counts and never prints).
    unsigned unknowns = 0;
  };

  /// A testcase's outcome: nmi_fail's values (SUCCESS, FAILURE, TIMEOUT) and
  /// dotest's fallback for any other value.
  enum class Verdict { ok, failed, timeout, error };
  /// The counts nmi_selftest's summary reads.
  struct Counts {
    int unexpected_failures = 0;
    int expected_failures = 0;
    int successes = 0;
    int total = 0;
  };
  /// A testcase's console line: print_testname's "%12s:" and dotest's verdict
  /// (nmi_selftest.c), printed with KERN_CONT on one line.
  static std::string testcase_line(std::string_view name, Verdict v);
  /// nmi_selftest's closing lines for these counts (each branch of its summary).
  static std::vector<std::string> summary_lines(const Counts& c);

  explicit Selftest(Kernel& kernel) : kernel_(kernel) {}
  Selftest(const Selftest&) = delete;
  Selftest& operator=(const Selftest&) = delete;

  /// Starts a run from `from`; one already running refuses (on the console).
  void run(CpuId from);
  bool running() const { return run_.has_value(); }
  const Report& report() const { return report_; }

  // EventTarget: the wait loop's polls.
  void on_event(std::uint32_t kind, std::uint64_t arg) override;
  std::string_view event_name(std::uint32_t kind) const override;
  CpuId event_cpu() const override { return from_; }

 private:
  enum class Stage { remote, local };
  /// The run in progress.
  struct Run {
    Stage stage = Stage::remote;
    Cycle deadline = 0;
    HandlerId handler = kNoHandler;
    bool owns_handler = true;  // registered for this stage, unregistered after it
    bool owns_unknown = true;  // nmi_selftest_unk registered by this run
    std::vector<CpuId> targets;
    Counts counts;
  };

  void begin_stage();
  void poll();
  void record(Verdict v);
  void finish();

  Kernel& kernel_;
  CpuId from_ = kNoCpu;  // the testing CPU of the last run
  std::optional<Run> run_;
  Report report_;
};

}  // namespace fredsim::kernel
