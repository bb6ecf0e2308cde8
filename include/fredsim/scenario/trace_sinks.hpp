#pragma once
// Trace sinks for the outputs of `fredsim run` beyond --trace: Chrome/Perfetto
// trace events and ftrace-style nmi_handler lines (docs/cli.md).
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fredsim/sim/trace.hpp"

namespace fredsim::scenario {
struct ScenarioSpec;
}

namespace fredsim::scenario {

/// What the Chrome trace and ftrace sinks need of the scenario besides its
/// records: the clock, the costs that place ICR writes and IPI arrivals, and the
/// user intervals (no record marks them).
struct TraceSinkContext {
  std::uint32_t frequency_mhz = 2000;
  Cycle icr_write = 0;            // one ICR write (TimingParam::icr_write)
  Cycle ipi_latency = 0;          // ICR write to the first destination's arrival
  Cycle ipi_per_destination = 0;  // each further destination arrives this much later
  struct Interval {
    CpuId cpu = 0;
    Cycle from = 0;
    Cycle until = ~Cycle{0};  // none: to the end of the run
  };
  std::vector<Interval> user;  // the scenario's `user` events, by (from, cpu)
  /// The scenario's `[[vm]]`s in file order: the Chrome trace's vCPU tracks.
  struct Vm {
    std::string name;
    std::vector<CpuId> host_cpus;  // the host CPU of vCPU 0, 1, ...
  };
  std::vector<Vm> vms;
};

/// The context of `spec` (its timing profile with the [timing] overrides).
TraceSinkContext trace_sink_context(const ScenarioSpec& spec);

/// Chrome trace-event JSON ({"traceEvents": [...]}), loadable in Perfetto or
/// chrome://tracing (docs/format.md "Chrome trace"). One track per CPU;
/// timestamps in microseconds at `frequency_mhz`. Slices: each NMI (delivery to
/// return), each handler call, each ICR write, each stretch of guest or user
/// code; flow arrows from an ICR write to the NMI it raised; counters of the
/// pending NMI-source bitmap and the NMIs in flight per CPU; every other record
/// an instant with its fields as args. A VM's vCPU has a track of its own,
/// sorted right below its host CPU's: the guest's NMIs, handler calls and
/// injections.
class ChromeTraceSink final : public TraceSink {
 public:
  ChromeTraceSink(std::ostream& out, TraceSinkContext ctx);
  ~ChromeTraceSink() override;
  void record(const TraceRecord& r) override;
  void flush() override;
  /// The run's end (its end_cycle): what is still open at finish() ends there
  /// (default: the last record's cycle).
  void end_at(Cycle end) { end_ = end; }
  /// Closes the JSON document; further records are ignored. Also done on destruction.
  void finish();

 private:
  struct Flow {
    CpuId from;
    CpuId to;
    std::uint32_t vector;
    Cycle arrives;     // when the IPI reaches `to`
    double s_ts = -1;  // inside its ICR-write slice, once placed
    double f_ts = -1;  // inside the NMI slice that took it, once closed
    bool arrived = false;
  };
  struct Slice {
    char kind;  // 'n' NMI, 'v' NMI VM exit, 'g' guest code, 'u' user code
    double begin;
    std::vector<std::uint64_t> flows;  // IPIs this NMI took
  };
  struct Write {
    std::string args;                  // the ipi_send record's fields
    std::vector<std::uint64_t> flows;  // its NMI IPIs
  };
  struct Track {
    std::vector<Slice> stack;
    bool user = false;
    Cycle writes_at = 0;                 // the cycle of `writes`
    std::vector<Write> writes;           // ICR writes of that cycle, not placed yet
    std::vector<std::uint64_t> arrived;  // IPIs received, not yet taken by an NMI
    std::uint64_t bitmap = 0, shown_bitmap = 0;
    std::uint32_t sent = 0, latched = 0, handling = 0;
    std::uint32_t shown_sent = 0, shown_latched = 0, shown_handling = 0;
    std::optional<Cycle> exit_at;  // a host CPU's last VM exit
    // A vCPU's guest NMI IPIs that KVM's injection (nmi_inject) took, for the
    // NMI it delivers; inject_pending: that delivery is still to come.
    std::vector<std::uint64_t> injected;
    bool inject_pending = false;
    // A vCPU's last handler call (cycles), which an ICR write of that call ends within.
    std::optional<Cycle> call_begin;
    Cycle call_end = 0;
  };
  double us(Cycle c) const { return static_cast<double>(c) / cycles_per_us_; }
  void begin_event(std::string_view name, std::string_view cat, std::string_view ph, double ts,
                   CpuId cpu);
  void end_event();
  Track& track(CpuId cpu);
  /// The track key of a VM's vCPU (above every CPU number), or kNoCpu for a VM
  /// not in the context.
  CpuId vcpu_key(std::string_view vm, std::uint64_t vcpu) const;
  /// A guest record (with `vm`) or a delivery or return of the guest running on
  /// its CPU: on the vCPU's track. False: the record is the host CPU's.
  bool guest_record(const TraceRecord& r, double ts);
  /// kvm_apic_ipi: the guest's ICR write on the sender's vCPU track, and an
  /// arrow to each target's next injected NMI when it is an NMI IPI.
  void guest_icr_write(const TraceRecord& r, CpuId key, Track& t);
  /// A handler_call record as a complete (X) slice of its cycles on track `tid`.
  void write_call(const TraceRecord& r, CpuId tid, double ts);
  /// Any other record as an instant on track `tid`.
  void write_instant(const TraceRecord& r, CpuId tid, double ts);
  void open_slice(CpuId cpu, Track& t, char kind, double ts, const TraceRecord* r);
  void close_slice(CpuId cpu, Track& t, double ts, const TraceRecord* r);
  /// Writes the pending ICR-write slices, ending by `until` (microseconds).
  void place_writes(CpuId cpu, Track& t, double until);
  void user_boundaries_until(Cycle c);
  void counters(CpuId cpu, Track& t, double ts);
  void write_flow_if_done(std::uint64_t id);

  std::ostream& out_;
  TraceSinkContext ctx_;
  std::string line_;  // the event being written, reused
  std::string name_;  // a counter's name, reused
  double cycles_per_us_;
  bool started_ = false;
  bool finished_ = false;
  Cycle last_cycle_ = 0;
  std::optional<Cycle> end_;
  std::uint64_t next_flow_ = 1;
  std::map<std::uint64_t, Flow> flows_;  // IPIs whose arrow is not written yet
  std::map<CpuId, Track> tracks_;
  struct Boundary {
    Cycle at;
    CpuId cpu;
    bool begins;
  };
  std::vector<Boundary> boundaries_;  // user intervals' starts and ends, in order
  std::size_t next_boundary_ = 0;
  std::map<CpuId, CpuId> vcpu_on_;  // host CPU -> the vCPU track it ran last
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
///
/// The task and flags are those of the context the NMI interrupted
/// (docs/format.md "ftrace"): the idle task, a user task inside a scenario
/// `user` interval, the vCPU thread for an NMI-induced VM exit.
///
/// With `vm`, the lines of that VM's guest kernel instead (its records with
/// `vm` = that name), as the guest's own trace_pipe shows them: the CPU is the
/// vCPU, the task the guest's idle task. Without, the guest records are left
/// out: the host's trace has none of the guest's calls.
class FtraceSink final : public TraceSink {
 public:
  FtraceSink(std::ostream& out, TraceSinkContext ctx, bool with_source_bitmap, std::string vm = {});
  void record(const TraceRecord& r) override;
  /// Writes the lines still waiting (the run is over).
  void flush() override;

 private:
  /// What the NMI interrupted.
  enum class Context : std::uint8_t { idle, user, guest };
  struct Line {
    std::uint64_t end_ns;  // the timestamp: when the call returned
    CpuId cpu;
    std::uint64_t seq;  // record order, for lines of one CPU and timestamp
    Context context;
    std::string handler;
    std::int32_t delta_ns;
    std::int32_t handled;
    std::uint64_t source_bitmap;
  };
  static bool later(const Line& a, const Line& b);
  void write(const Line& l);
  /// Writes, in order, the waiting lines stamped before `ns`.
  void write_before(std::uint64_t ns);
  bool in_user(CpuId cpu, Cycle c) const;

  std::ostream& out_;
  TraceSinkContext ctx_;
  std::uint32_t frequency_mhz_;
  bool with_source_bitmap_;
  std::string vm_;             // a guest's lines: its VM's name
  std::vector<Line> waiting_;  // a min-heap by (end_ns, cpu, seq)
  std::uint64_t seq_ = 0;
  std::map<CpuId, Context> interrupted_;  // per CPU: what its current NMI interrupted
};

}  // namespace fredsim::scenario
