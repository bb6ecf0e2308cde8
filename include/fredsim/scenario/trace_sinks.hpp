#pragma once
// Trace sinks for the outputs of `fredsim run` beyond --trace: Chrome/Perfetto
// trace events and ftrace-style nmi_handler lines (docs/cli.md).
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "fredsim/sim/trace.hpp"

namespace fredsim::scenario {

/// Chrome trace-event JSON ({"traceEvents": [...]}), loadable in Perfetto or
/// chrome://tracing. One track per CPU; timestamps in microseconds at
/// `frequency_mhz`. nmi_deliver..nmi_return become a duration "nmi", each
/// handler_call a complete event of its `cycles` (taken to start at the record's
/// cycle); every other record an instant event with its fields as args.
class ChromeTraceSink final : public TraceSink {
 public:
  ChromeTraceSink(std::ostream& out, std::uint32_t frequency_mhz);
  ~ChromeTraceSink() override;
  void record(const TraceRecord& r) override;
  void flush() override;
  /// Closes the JSON document; further records are ignored. Also done on destruction.
  void finish();

 private:
  struct PendingFlow {
    std::uint64_t id;
    CpuId from;
    CpuId to;
    std::uint32_t vector;
    double ts;
  };
  void begin_event(std::string_view name, std::string_view cat, std::string_view ph, double ts,
                   CpuId cpu);
  void end_event();
  void name_track(CpuId cpu);
  std::ostream& out_;
  std::string line_;  // the event being written, reused
  double cycles_per_us_;
  bool started_ = false;
  bool finished_ = false;
  double last_ts_ = 0;
  std::uint64_t next_flow_ = 1;
  std::vector<PendingFlow> flows_;           // IPIs sent, not yet received
  std::map<CpuId, std::vector<char>> open_;  // per CPU: 'n' NMI slice, 'v' VM-exit slice
};

/// Lines as Linux's nmi_handler trace event prints them in trace_pipe:
///   "<idle>-0 [003] d.Z1. 0.000510: nmi_handler: perf() delta_ns: 750 handled: 1"
/// from handler_call records (`handler`, `returned`, `cycles`). With
/// `with_source_bitmap` (kernel v5) a " source_bitmap: 0x..." field follows, from
/// the record's `source_bitmap` field or 0.
///
/// As trace_pipe: no header, and lines in timestamp order across CPUs (the
/// kernel's reader merges the per-CPU buffers by timestamp, the lowest CPU first
/// on a tie). A line is stamped when its call returns, but its record comes when
/// the call starts, so a line waits until no later record can end earlier: the
/// ones waiting are at most the calls in progress, about one per CPU.
class FtraceSink final : public TraceSink {
 public:
  FtraceSink(std::ostream& out, std::uint32_t frequency_mhz, bool with_source_bitmap);
  void record(const TraceRecord& r) override;
  /// Writes the lines still waiting (the run is over).
  void flush() override;

 private:
  struct Line {
    std::uint64_t end_ns;  // the timestamp: when the call returned
    CpuId cpu;
    std::uint64_t seq;  // record order, for lines of one CPU and timestamp
    std::string handler;
    std::int32_t delta_ns;
    std::int32_t handled;
    std::uint64_t source_bitmap;
  };
  static bool later(const Line& a, const Line& b);
  void write(const Line& l);
  /// Writes, in order, the waiting lines stamped before `ns`.
  void write_before(std::uint64_t ns);

  std::ostream& out_;
  std::uint32_t frequency_mhz_;
  bool with_source_bitmap_;
  std::vector<Line> waiting_;  // a min-heap by (end_ns, cpu, seq)
  std::uint64_t seq_ = 0;
};

}  // namespace fredsim::scenario
