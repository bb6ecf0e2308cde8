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

// Chrome trace-event JSON (the Trace Event Format that ui.perfetto.dev and
// chrome://tracing read): one track (tid) per CPU; an NMI is a B/E slice from its
// delivery (or VM exit) to the return that ends it; each handler call is a
// complete (X) slice inside it; an IPI is a flow arrow from its ICR write to the
// NMI's arrival at each destination; other records are instants.
void ChromeTraceSink::name_track(CpuId cpu) {
  if (open_.count(cpu)) return;
  open_[cpu];
  const std::int64_t tid = cpu == kNoCpu ? -1 : static_cast<std::int64_t>(cpu);
  ordered_json m{
      {"name", "thread_name"},
      {"ph", "M"},
      {"ts", 0},
      {"pid", 0},
      {"tid", tid},
      {"args", {{"name", cpu == kNoCpu ? std::string("platform") : fmt::format("CPU {}", cpu)}}}};
  write_event(m.dump());
}

void ChromeTraceSink::record(const TraceRecord& r) {
  if (finished_) return;
  if (!started_) {
    write_event(ordered_json{{"name", "process_name"},
                             {"ph", "M"},
                             {"ts", 0},
                             {"pid", 0},
                             {"tid", 0},
                             {"args", {{"name", "fredsim"}}}}
                    .dump());
  }
  name_track(r.cpu);
  const double ts = static_cast<double>(r.cycle) / cycles_per_us_;
  last_ts_ = std::max(last_ts_, ts);
  const std::int64_t tid = r.cpu == kNoCpu ? -1 : static_cast<std::int64_t>(r.cpu);
  auto event = [&](std::string name, std::string_view ph) {
    return ordered_json{{"name", std::move(name)},
                        {"cat", "nmi"},
                        {"ph", ph},
                        {"ts", ts},
                        {"pid", 0},
                        {"tid", tid},
                        {"args", fields_json(r.fields)}};
  };
  auto& stack = open_[r.cpu];
  if (r.event == "handler_call") {
    ordered_json e = event(std::string(field_s(r, "handler")), "X");
    e["cat"] = "handler";
    e["dur"] = static_cast<double>(field_u(r, "cycles")) / cycles_per_us_;
    write_event(e.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    return;
  }
  if (r.event == "ipi_send") {
    const TraceField* dest = r.find("dest");
    const std::uint32_t vector = static_cast<std::uint32_t>(field_u(r, "icr") & 0xFF);
    if (dest != nullptr) {
      for (CpuId d : dest->value.cpus)
        flows_.push_back({next_flow_++, r.cpu, d, vector, ts});
    }
    write_event(
        event("ipi_send", "i").dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    return;
  }
  if (r.event == "nmi_receive") {
    // The oldest IPI to this CPU with this vector ends its arrow here.
    const std::uint32_t vector = static_cast<std::uint32_t>(field_u(r, "vector"));
    for (auto it = flows_.begin(); it != flows_.end(); ++it) {
      if (it->to != r.cpu || it->vector != vector) continue;
      const std::int64_t from = it->from == kNoCpu ? -1 : static_cast<std::int64_t>(it->from);
      write_event(ordered_json{
          {"name", "ipi"},
          {"cat", "ipi"},
          {"ph", "s"},
          {"id", it->id},
          {"ts", it->ts},
          {"pid", 0},
          {"tid",
           from}}.dump());
      write_event(ordered_json{
          {"name", "ipi"},
          {"cat", "ipi"},
          {"ph", "f"},
          {"bp", "e"},
          {"id", it->id},
          {"ts", ts},
          {"pid", 0},
          {"tid",
           tid}}.dump());
      flows_.erase(it);
      break;
    }
  }
  if (r.event == "nmi_deliver") {
    const bool vmexit = field_s(r, "path") == "vmexit";
    stack.push_back(vmexit ? 'v' : 'n');
    write_event(event(vmexit ? "NMI (VM exit)" : "NMI", "B")
                    .dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    return;
  }
  if (r.event == "nmi_return") {
    // KVM's ERETS of its software frame returns inside the VM-exit slice; the
    // VM entry closes it.
    const bool vmentry = field_s(r, "via") == "vmentry";
    const char want = vmentry ? 'v' : 'n';
    if (!stack.empty() && stack.back() == want) {
      stack.pop_back();
      write_event(event(vmentry ? "NMI (VM exit)" : "NMI", "E")
                      .dump(-1, ' ', false, ordered_json::error_handler_t::replace));
      return;
    }
  }
  ordered_json e = event(std::string(r.event), "i");
  e["s"] = "t";
  write_event(e.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
}

void ChromeTraceSink::flush() {
  out_.flush();
}

void ChromeTraceSink::finish() {
  if (finished_) return;
  // Slices still open at the end (a CPU halted in its handler) end with the run.
  for (auto& [cpu, stack] : open_) {
    const std::int64_t tid = cpu == kNoCpu ? -1 : static_cast<std::int64_t>(cpu);
    while (!stack.empty()) {
      write_event(ordered_json{
          {"name", stack.back() == 'v' ? "NMI (VM exit)" : "NMI"},
          {"cat", "nmi"},
          {"ph", "E"},
          {"ts", last_ts_},
          {"pid", 0},
          {"tid",
           tid}}.dump());
      stack.pop_back();
    }
  }
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
