#include "fredsim/scenario/trace_sinks.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <nlohmann/json.hpp>
#include <ostream>

namespace fredsim::scenario {
namespace {

using nlohmann::ordered_json;

ordered_json value_json(const TraceValue& v);

ordered_json fields_json(std::span<const TraceField> fields) {
  ordered_json j = ordered_json::object();
  for (const auto& f : fields)
    j[std::string(f.name)] = value_json(f.value);
  return j;
}

ordered_json value_json(const TraceValue& v) {
  using K = TraceValue::Kind;
  switch (v.kind) {
    case K::u64:
      return v.u;
    case K::i64:
      return static_cast<std::int64_t>(v.u);
    case K::hex:
      return fmt::format("{:#x}", v.u);
    case K::boolean:
      return v.u != 0;
    case K::str:
      return std::string(v.s);
    case K::cpu_list: {
      ordered_json a = ordered_json::array();
      for (CpuId c : v.cpus)
        a.push_back(c);
      return a;
    }
    case K::object:
      return fields_json(v.fields);
  }
  return nullptr;
}

std::uint64_t field_u(const TraceRecord& r, std::string_view name, std::uint64_t dflt = 0) {
  const TraceField* f = r.find(name);
  return f ? f->value.u : dflt;
}

std::string_view field_s(const TraceRecord& r, std::string_view name) {
  const TraceField* f = r.find(name);
  return f && f->value.kind == TraceValue::Kind::str ? f->value.s : std::string_view("?");
}

}  // namespace

ChromeTraceSink::ChromeTraceSink(std::ostream& out, std::uint32_t frequency_mhz)
    : out_(out), cycles_per_us_(frequency_mhz ? frequency_mhz : 1) {}

ChromeTraceSink::~ChromeTraceSink() {
  finish();
}

void ChromeTraceSink::write_event(const std::string& json) {
  out_ << (started_ ? ",\n" : "{\"traceEvents\":[\n") << json;
  started_ = true;
}

void ChromeTraceSink::record(const TraceRecord& r) {
  if (finished_) return;
  ordered_json e;
  double ts = static_cast<double>(r.cycle) / cycles_per_us_;
  std::int64_t tid = r.cpu == kNoCpu ? -1 : static_cast<std::int64_t>(r.cpu);
  if (r.event == "handler_call") {
    e = ordered_json{{"name", std::string(field_s(r, "handler"))},
                     {"cat", "handler"},
                     {"ph", "X"},
                     {"ts", ts},
                     {"dur", static_cast<double>(field_u(r, "cycles")) / cycles_per_us_},
                     {"pid", 0},
                     {"tid", tid},
                     {"args", fields_json(r.fields)}};
  } else if (r.event == "nmi_deliver" || r.event == "nmi_return") {
    e = ordered_json{{"name", "nmi"},
                     {"cat", "nmi"},
                     {"ph", r.event == "nmi_deliver" ? "B" : "E"},
                     {"ts", ts},
                     {"pid", 0},
                     {"tid", tid},
                     {"args", fields_json(r.fields)}};
  } else {
    e = ordered_json{{"name", std::string(r.event)},
                     {"cat", "nmi"},
                     {"ph", "i"},
                     {"s", "t"},
                     {"ts", ts},
                     {"pid", 0},
                     {"tid", tid},
                     {"args", fields_json(r.fields)}};
  }
  write_event(e.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
}

void ChromeTraceSink::flush() {
  out_.flush();
}

void ChromeTraceSink::finish() {
  if (finished_) return;
  finished_ = true;
  out_ << (started_ ? "\n]}\n" : "{\"traceEvents\":[]}\n");
  out_.flush();
}

FtraceSink::FtraceSink(std::ostream& out, std::uint32_t frequency_mhz, bool with_source_bitmap)
    : out_(out),
      frequency_mhz_(frequency_mhz ? frequency_mhz : 1),
      with_source_bitmap_(with_source_bitmap) {}

void FtraceSink::record(const TraceRecord& r) {
  if (!header_written_) {
    out_ << "# tracer: nop\n#\n#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
            "#              | |         |   |||||     |         |\n";
    header_written_ = true;
  }
  if (r.event != "handler_call") return;
  std::uint64_t cycles = field_u(r, "cycles");
  // The kernel emits the event after the call returns; delta_ns is truncated to int.
  std::uint64_t end = r.cycle + cycles;
  std::uint64_t end_ns = end * 1000 / frequency_mhz_;
  auto delta_ns = static_cast<std::int32_t>(cycles * 1000 / frequency_mhz_);
  auto handled = static_cast<std::int32_t>(field_u(r, "returned"));
  std::uint32_t cpu = r.cpu == kNoCpu ? 0 : r.cpu;
  fmt::print(out_,
             "          <idle>-0       [{:03}] d.Z1. {:5}.{:06}: nmi_handler: {}() delta_ns: {} "
             "handled: {}",
             cpu, end_ns / 1'000'000'000, (end_ns / 1000) % 1'000'000, field_s(r, "handler"),
             delta_ns, handled);
  if (with_source_bitmap_) fmt::print(out_, " source_bitmap: {:#x}", field_u(r, "source_bitmap"));
  out_ << '\n';
}

void FtraceSink::flush() {
  out_.flush();
}

}  // namespace fredsim::scenario
