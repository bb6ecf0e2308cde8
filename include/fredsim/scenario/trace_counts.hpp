#pragma once
// Trace expectations (docs/scenarios.md "Expectations on counters, console, panic
// and trace"): the record types and fields a `trace`/`where` may name, and the
// sink a runner attaches to count the records they ask for.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fredsim/scenario/spec.hpp"
#include "fredsim/sim/trace.hpp"

namespace fredsim::scenario {

/// One record type of docs/format.md "Trace records" and the fields a `where`
/// may compare (every field but objects such as `frame`; `cpu` is always allowed).
struct TraceEventFields {
  std::string_view event;
  std::span<const std::string_view> fields;
};
/// The record types, in docs/format.md order: the one list of them in code.
std::span<const TraceEventFields> trace_event_fields();
const TraceEventFields* find_trace_event(std::string_view event);

/// Whether record `r` is one that trace expectation `e` counts.
bool trace_matches(const ExpectSpec& e, const TraceRecord& r);

/// Counts, per ExpectSpec::trace_slot, the records the spec's trace expectations
/// match. A runner attaches it only when active(): a scenario without trace
/// expectations keeps its tracer off.
class TraceCountSink final : public TraceSink {
 public:
  explicit TraceCountSink(const std::vector<ExpectSpec>& expects);
  bool active() const { return !matchers_.empty(); }
  void record(const TraceRecord& r) override;
  const std::vector<std::uint64_t>& counts() const { return counts_; }

 private:
  std::vector<const ExpectSpec*> matchers_;  // the first ExpectSpec of each slot
  std::vector<std::uint64_t> counts_;
};

}  // namespace fredsim::scenario
