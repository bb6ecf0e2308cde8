#pragma once
// Trace records and sinks (docs/architecture.md "Conventions", docs/format.md "Trace records").
//
// A record is built on the stack, from views into the caller's data, only when a
// sink is attached: emitters test Tracer::enabled() first, so tracing costs one
// predictable branch when nobody listens.
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/sim/cycle.hpp"

namespace fredsim {

struct TraceField;

/// One field's value. `hex` prints as a "0x..." string (register values).
struct TraceValue {
  enum class Kind : std::uint8_t { u64, i64, hex, boolean, str, cpu_list, object };
  Kind kind = Kind::u64;
  std::uint64_t u = 0;  // u64, hex, boolean (0/1), i64 (two's complement)
  std::string_view s;
  std::span<const CpuId> cpus;
  std::span<const TraceField> fields;

  static TraceValue dec(std::uint64_t v) { return {Kind::u64, v, {}, {}, {}}; }
  static TraceValue sdec(std::int64_t v) {
    return {Kind::i64, static_cast<std::uint64_t>(v), {}, {}, {}};
  }
  static TraceValue hex(std::uint64_t v) { return {Kind::hex, v, {}, {}, {}}; }
  static TraceValue boolean(bool v) { return {Kind::boolean, v ? 1u : 0u, {}, {}, {}}; }
  static TraceValue str(std::string_view v) { return {Kind::str, 0, v, {}, {}}; }
  static TraceValue cpu_list(std::span<const CpuId> v) { return {Kind::cpu_list, 0, {}, v, {}}; }
  static TraceValue object(std::span<const TraceField> v) { return {Kind::object, 0, {}, {}, v}; }
};

struct TraceField {
  std::string_view name;
  TraceValue value;
};

struct TraceRecord {
  Cycle cycle = 0;
  CpuId cpu = kNoCpu;
  std::string_view event;  // "ipi_send", "nmi_receive", ...
  std::span<const TraceField> fields;

  /// The field of that name, or nullptr.
  const TraceField* find(std::string_view name) const;
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void record(const TraceRecord& r) = 0;
  virtual void flush() {}
};

/// The sinks of one System. No sink: enabled() is false and nothing is built.
class Tracer {
 public:
  bool enabled() const { return !sinks_.empty(); }
  void add_sink(TraceSink& sink) { sinks_.push_back(&sink); }
  void remove_sink(TraceSink& sink);
  void clear() { sinks_.clear(); }
  void emit(const TraceRecord& r) const {
    for (TraceSink* s : sinks_)
      s->record(r);
  }
  void emit(Cycle cycle, CpuId cpu, std::string_view event,
            std::initializer_list<TraceField> fields) const {
    emit(
        TraceRecord{cycle, cpu, event, std::span<const TraceField>(fields.begin(), fields.size())});
  }
  void flush() const {
    for (TraceSink* s : sinks_)
      s->flush();
  }

 private:
  std::vector<TraceSink*> sinks_;
};

/// "cycle=1000 cpu=3 nmi_receive vector=4 pending_bitmap=0x10 coalesced=false"
class TextTraceSink final : public TraceSink {
 public:
  explicit TextTraceSink(std::ostream& out) : out_(out) {}
  void record(const TraceRecord& r) override;
  void flush() override;

 private:
  std::ostream& out_;
  std::string line_;  // reused: formatting a record allocates nothing once warm
};

/// One JSON object a line: {"cycle":1000,"cpu":3,"event":"nmi_receive",...}
class JsonlTraceSink final : public TraceSink {
 public:
  explicit JsonlTraceSink(std::ostream& out) : out_(out) {}
  void record(const TraceRecord& r) override;
  void flush() override;

 private:
  std::ostream& out_;
  std::string line_;  // reused: formatting a record allocates nothing once warm
};

/// Keeps every record's text form in memory; for tests and the stepper.
class MemoryTraceSink final : public TraceSink {
 public:
  void record(const TraceRecord& r) override;
  const std::vector<std::string>& lines() const { return lines_; }
  std::vector<std::string> take() { return std::move(lines_); }
  void clear() { lines_.clear(); }

 private:
  std::vector<std::string> lines_;
};

/// Formats one record as the text sink does (no newline).
std::string format_trace_text(const TraceRecord& r);
/// Formats one record as the JSON-lines sink does (no newline).
std::string format_trace_json(const TraceRecord& r);
/// The same, appended to `out`.
void append_trace_text(std::string& out, const TraceRecord& r);
void append_trace_json(std::string& out, const TraceRecord& r);
/// The fields as the members of a JSON object ("name":value,...; no braces), as
/// the JSON-lines sink writes them; for sinks of other JSON formats.
void append_trace_fields_json(std::string& out, std::span<const TraceField> fields);
/// `s` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

}  // namespace fredsim
