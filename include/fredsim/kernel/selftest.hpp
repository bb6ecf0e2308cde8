#pragma once
// The kernel's NMI selftest (nmi_selftest): a remote stage, which sends an NMI
// to every other CPU, then a local one, which sends one to the testing CPU. Each
// stage waits up to a simulated second for its handler to claim every NMI, then
// reports on the console.
#include <optional>
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
  };

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
    std::vector<CpuId> targets;
    unsigned failures = 0;
    unsigned tests = 0;
  };

  void begin_stage();
  void poll();
  void record(const char* name, const char* verdict, bool passed, bool timeout);

  Kernel& kernel_;
  CpuId from_ = kNoCpu;  // the testing CPU of the last run
  std::optional<Run> run_;
  Report report_;
};

}  // namespace fredsim::kernel
