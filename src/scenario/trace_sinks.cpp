#include "fredsim/scenario/trace_sinks.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <limits>
#include <ostream>
#include <utility>

namespace fredsim::scenario {
namespace {

std::uint64_t field_u(const TraceRecord& r, std::string_view name, std::uint64_t dflt = 0) {
  const TraceField* f = r.find(name);
  return f ? f->value.u : dflt;
}

std::string_view field_s(const TraceRecord& r, std::string_view name) {
  const TraceField* f = r.find(name);
  return f && f->value.kind == TraceValue::Kind::str ? f->value.s : std::string_view("?");
}

std::int64_t tid_of(CpuId cpu) {
  return cpu == kNoCpu ? -1 : static_cast<std::int64_t>(cpu);
}

}  // namespace

ChromeTraceSink::ChromeTraceSink(std::ostream& out, std::uint32_t frequency_mhz)
    : out_(out), cycles_per_us_(frequency_mhz ? frequency_mhz : 1) {}

ChromeTraceSink::~ChromeTraceSink() {
  finish();
}

// Each event is formatted into one reused buffer (no JSON document is built), in
// the member order name, cat, ph, ts, pid, tid, then the event's own members.
void ChromeTraceSink::begin_event(std::string_view name, std::string_view cat, std::string_view ph,
                                  double ts, CpuId cpu) {
  line_.clear();
  line_ += started_ ? ",\n" : "{\"traceEvents\":[\n";
  started_ = true;
  line_ += "{\"name\":";
  append_json_string(line_, name);
  fmt::format_to(std::back_inserter(line_),
                 ",\"cat\":\"{}\",\"ph\":\"{}\",\"ts\":{},\"pid\":0,\"tid\":{}", cat, ph, ts,
                 tid_of(cpu));
}

void ChromeTraceSink::end_event() {
  line_ += '}';
  out_.write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

// Chrome trace-event JSON (the Trace Event Format that ui.perfetto.dev and
// chrome://tracing read): one track (tid) per CPU; an NMI is a B/E slice from its
// delivery (or VM exit) to the return that ends it; each handler call is a
// complete (X) slice inside it; an IPI is a flow arrow from its ICR write to the
// NMI's arrival at each destination; other records are instants.
void ChromeTraceSink::name_track(CpuId cpu) {
  if (open_.count(cpu)) return;
  open_[cpu];
  begin_event("thread_name", "__metadata", "M", 0, cpu);
  line_ += ",\"args\":{\"name\":";
  append_json_string(line_, cpu == kNoCpu ? std::string("platform") : fmt::format("CPU {}", cpu));
  line_ += '}';
  end_event();
}

void ChromeTraceSink::record(const TraceRecord& r) {
  if (finished_) return;
  if (!started_) {
    begin_event("process_name", "__metadata", "M", 0, 0);
    line_ += ",\"args\":{\"name\":\"fredsim\"}";
    end_event();
  }
  name_track(r.cpu);
  const double ts = static_cast<double>(r.cycle) / cycles_per_us_;
  last_ts_ = std::max(last_ts_, ts);
  auto args = [&] {
    line_ += ",\"args\":{";
    append_trace_fields_json(line_, r.fields);
    line_ += '}';
  };
  auto& stack = open_[r.cpu];
  if (r.event == "handler_call") {
    begin_event(field_s(r, "handler"), "handler", "X", ts, r.cpu);
    args();
    fmt::format_to(std::back_inserter(line_), ",\"dur\":{}",
                   static_cast<double>(field_u(r, "cycles")) / cycles_per_us_);
    end_event();
    return;
  }
  if (r.event == "ipi_send") {
    const TraceField* dest = r.find("dest");
    const std::uint32_t vector = static_cast<std::uint32_t>(field_u(r, "icr") & 0xFF);
    if (dest != nullptr) {
      for (CpuId d : dest->value.cpus)
        flows_.push_back({next_flow_++, r.cpu, d, vector, ts});
    }
    begin_event("ipi_send", "nmi", "i", ts, r.cpu);
    args();
    end_event();
    return;
  }
  if (r.event == "nmi_receive") {
    // The oldest IPI to this CPU with this vector ends its arrow here.
    const std::uint32_t vector = static_cast<std::uint32_t>(field_u(r, "vector"));
    for (auto it = flows_.begin(); it != flows_.end(); ++it) {
      if (it->to != r.cpu || it->vector != vector) continue;
      begin_event("ipi", "ipi", "s", it->ts, it->from);
      fmt::format_to(std::back_inserter(line_), ",\"id\":{}", it->id);
      end_event();
      begin_event("ipi", "ipi", "f", ts, r.cpu);
      fmt::format_to(std::back_inserter(line_), ",\"id\":{},\"bp\":\"e\"", it->id);
      end_event();
      flows_.erase(it);
      break;
    }
  }
  if (r.event == "nmi_deliver") {
    const bool vmexit = field_s(r, "path") == "vmexit";
    stack.push_back(vmexit ? 'v' : 'n');
    begin_event(vmexit ? "NMI (VM exit)" : "NMI", "nmi", "B", ts, r.cpu);
    args();
    end_event();
    return;
  }
  if (r.event == "nmi_return") {
    // KVM's ERETS of its software frame returns inside the VM-exit slice; the
    // VM entry closes it.
    const bool vmentry = field_s(r, "via") == "vmentry";
    const char want = vmentry ? 'v' : 'n';
    if (!stack.empty() && stack.back() == want) {
      stack.pop_back();
      begin_event(vmentry ? "NMI (VM exit)" : "NMI", "nmi", "E", ts, r.cpu);
      args();
      end_event();
      return;
    }
  }
  begin_event(r.event, "nmi", "i", ts, r.cpu);
  args();
  line_ += ",\"s\":\"t\"";
  end_event();
}

void ChromeTraceSink::flush() {
  out_.flush();
}

void ChromeTraceSink::finish() {
  if (finished_) return;
  // Slices still open at the end (a CPU halted in its handler) end with the run.
  for (auto& [cpu, stack] : open_) {
    while (!stack.empty()) {
      begin_event(stack.back() == 'v' ? "NMI (VM exit)" : "NMI", "nmi", "E", last_ts_, cpu);
      end_event();
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

bool FtraceSink::later(const Line& a, const Line& b) {
  if (a.end_ns != b.end_ns) return a.end_ns > b.end_ns;
  if (a.cpu != b.cpu) return a.cpu > b.cpu;
  return a.seq > b.seq;
}

void FtraceSink::record(const TraceRecord& r) {
  // Nothing that comes from now on returns before r.cycle: every line stamped
  // before it is final.
  const std::uint64_t now_ns = r.cycle * 1000 / frequency_mhz_;
  write_before(now_ns);
  if (r.event != "handler_call") return;
  std::uint64_t cycles = field_u(r, "cycles");
  // The kernel emits the event after the call returns; delta_ns is truncated to int.
  Line l{(r.cycle + cycles) * 1000 / frequency_mhz_,
         r.cpu == kNoCpu ? 0 : r.cpu,
         seq_++,
         std::string(field_s(r, "handler")),
         static_cast<std::int32_t>(cycles * 1000 / frequency_mhz_),
         static_cast<std::int32_t>(field_u(r, "returned")),
         field_u(r, "source_bitmap")};
  waiting_.push_back(std::move(l));
  std::push_heap(waiting_.begin(), waiting_.end(), later);
}

void FtraceSink::write_before(std::uint64_t ns) {
  while (!waiting_.empty() && waiting_.front().end_ns < ns) {
    std::pop_heap(waiting_.begin(), waiting_.end(), later);
    write(waiting_.back());
    waiting_.pop_back();
  }
}

void FtraceSink::write(const Line& l) {
  // The timestamp in microseconds as Linux's ns2usecs (kernel/trace/trace.c)
  // rounds it, (ns + 500) / 1000, printed as seconds.microseconds
  // (kernel/trace/trace_output.c).
  const std::uint64_t us = (l.end_ns + 500) / 1000;
  fmt::print(out_,
             "          <idle>-0       [{:03}] d.Z1. {:5}.{:06}: nmi_handler: {}() delta_ns: {} "
             "handled: {}",
             l.cpu, us / 1'000'000, us % 1'000'000, l.handler, l.delta_ns, l.handled);
  if (with_source_bitmap_) fmt::print(out_, " source_bitmap: {:#x}", l.source_bitmap);
  out_ << '\n';
}

void FtraceSink::flush() {
  write_before(std::numeric_limits<std::uint64_t>::max());
  out_.flush();
}

}  // namespace fredsim::scenario
