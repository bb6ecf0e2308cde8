#include "fredsim/scenario/trace_sinks.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <limits>
#include <ostream>
#include <utility>

#include "fredsim/scenario/spec.hpp"
#include "fredsim/sim/timing_profile.hpp"

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

// vCPU tracks (docs/format.md "Chrome trace"): tid 1,000,000 + 10,000 x the
// VM's index + the vCPU, above any CPU number (at most 4096) and room for
// 4096 vCPUs a VM.
constexpr CpuId kVcpuTidBase = 1'000'000;
constexpr CpuId kVcpuTidPerVm = 10'000;

}  // namespace

TraceSinkContext trace_sink_context(const ScenarioSpec& spec) {
  TraceSinkContext ctx;
  ctx.frequency_mhz = spec.system.frequency_mhz;
  // The costs the run uses: the named profile with the [timing] overrides, as
  // system_runner.cpp builds the machine (an unknown profile fails the run itself).
  auto profile = TimingProfile::named(spec.system.timing);
  TimingProfile timing = profile.ok() ? *profile : TimingProfile{};
  for (const auto& t : spec.timing)
    timing.set(t.param, t.cycles);
  ctx.icr_write = timing.get(TimingParam::icr_write);
  ctx.ipi_latency = timing.get(TimingParam::ipi_latency);
  ctx.ipi_per_destination = timing.get(TimingParam::ipi_per_destination);
  for (const VmSpec& vm : spec.vms)
    ctx.vms.push_back({vm.name, vm.cpus});
  for (const EventSpec& ev : spec.events) {
    if (ev.type != EventType::user || ev.count == 0) continue;
    ctx.user.push_back({ev.cpu, ev.at, ev.until.value_or(~Cycle{0})});
  }
  std::sort(ctx.user.begin(), ctx.user.end(), [](const auto& a, const auto& b) {
    return a.from != b.from ? a.from < b.from : a.cpu < b.cpu;
  });
  return ctx;
}

ChromeTraceSink::ChromeTraceSink(std::ostream& out, TraceSinkContext ctx)
    : out_(out), ctx_(std::move(ctx)), cycles_per_us_(ctx_.frequency_mhz ? ctx_.frequency_mhz : 1) {
  for (const auto& u : ctx_.user) {
    boundaries_.push_back({u.from, u.cpu, true});
    if (u.until != ~Cycle{0}) boundaries_.push_back({u.until, u.cpu, false});
  }
  // By cycle; at one cycle an end before a start (intervals on one CPU do not
  // overlap, so an end and a start at one cycle are two intervals meeting).
  std::stable_sort(boundaries_.begin(), boundaries_.end(), [](const auto& a, const auto& b) {
    return a.at != b.at ? a.at < b.at : (!a.begins && b.begins);
  });
}

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

ChromeTraceSink::Track& ChromeTraceSink::track(CpuId cpu) {
  auto [it, added] = tracks_.try_emplace(cpu);
  if (added) {
    if (!started_) {
      begin_event("process_name", "__metadata", "M", 0, 0);
      line_ += ",\"args\":{\"name\":\"fredsim\"}";
      end_event();
    }
    const bool vcpu = cpu != kNoCpu && cpu >= kVcpuTidBase;
    const std::size_t vm = vcpu ? (cpu - kVcpuTidBase) / kVcpuTidPerVm : 0;
    const CpuId v = vcpu ? (cpu - kVcpuTidBase) % kVcpuTidPerVm : 0;
    begin_event("thread_name", "__metadata", "M", 0, cpu);
    line_ += ",\"args\":{\"name\":";
    append_json_string(line_, cpu == kNoCpu ? std::string("platform")
                              : vcpu        ? fmt::format("{} vCPU {}", ctx_.vms[vm].name, v)
                                            : fmt::format("CPU {}", cpu));
    line_ += '}';
    end_event();
    if (!ctx_.vms.empty()) {
      // With VMs, each vCPU's track sorts right below its host CPU's
      // (thread_sort_index, Trace Event Format "Metadata Events"): CPU N at
      // 100 x N, a vCPU on it at 100 x N + 1 + the VM's index.
      std::int64_t sort = -1;
      if (vcpu) {
        sort = 100 * static_cast<std::int64_t>(ctx_.vms[vm].host_cpus[v]) + 1 +
               static_cast<std::int64_t>(std::min<std::size_t>(vm, 98));
      } else if (cpu != kNoCpu) {
        sort = 100 * static_cast<std::int64_t>(cpu);
      }
      begin_event("thread_sort_index", "__metadata", "M", 0, cpu);
      fmt::format_to(std::back_inserter(line_), ",\"args\":{{\"sort_index\":{}}}", sort);
      end_event();
    }
  }
  return it->second;
}

CpuId ChromeTraceSink::vcpu_key(std::string_view vm, std::uint64_t vcpu) const {
  for (std::size_t i = 0; i < ctx_.vms.size(); ++i) {
    if (ctx_.vms[i].name == vm && vcpu < ctx_.vms[i].host_cpus.size())
      return kVcpuTidBase + static_cast<CpuId>(i) * kVcpuTidPerVm + static_cast<CpuId>(vcpu);
  }
  return kNoCpu;
}

namespace {

std::string_view slice_name(char kind) {
  switch (kind) {
    case 'v':
      return "NMI (VM exit)";
    case 'g':
      return "guest";
    case 'u':
      return "user";
    default:
      return "NMI";
  }
}

// ICR bits 10:8, the delivery mode; 100b is NMI (SDM Vol. 3A 11.6.1 "Interrupt
// Command Register (ICR)").
bool icr_is_nmi(std::uint64_t icr) {
  return ((icr >> 8) & 0x7) == 0x4;
}

}  // namespace

void ChromeTraceSink::open_slice(CpuId cpu, Track& t, char kind, double ts, const TraceRecord* r) {
  t.stack.push_back({kind, ts, {}});
  begin_event(slice_name(kind), kind == 'g' || kind == 'u' ? "context" : "nmi", "B", ts, cpu);
  if (r != nullptr) {
    line_ += ",\"args\":{";
    append_trace_fields_json(line_, r->fields);
    line_ += '}';
  }
  end_event();
}

void ChromeTraceSink::close_slice(CpuId cpu, Track& t, double ts, const TraceRecord* r) {
  Slice s = std::move(t.stack.back());
  t.stack.pop_back();
  begin_event(slice_name(s.kind), s.kind == 'g' || s.kind == 'u' ? "context" : "nmi", "E", ts, cpu);
  if (r != nullptr) {
    line_ += ",\"args\":{";
    append_trace_fields_json(line_, r->fields);
    line_ += '}';
  }
  end_event();
  // An arrow ends inside the NMI that took its IPI: at the slice's middle, away
  // from its edges, where a slice that ends or starts at the same time could
  // claim it.
  for (std::uint64_t id : s.flows) {
    auto it = flows_.find(id);
    if (it == flows_.end()) continue;
    it->second.f_ts = (s.begin + ts) / 2;
    write_flow_if_done(id);
  }
}

// The ICR writes of one cycle on one CPU become back-to-back X slices from that
// cycle, `icr_write` cycles each, but all within `until`: the end of the handler
// call that made them (its cycles include them, docs/scenarios.md
// "[[handler.action]]"), or whatever happens next on the CPU, so that they never
// straddle another slice's edge.
void ChromeTraceSink::place_writes(CpuId cpu, Track& t, double until) {
  if (t.writes.empty()) return;
  const double start = us(t.writes_at);
  const double n = static_cast<double>(t.writes.size());
  const double total = std::max(0.0, std::min(n * us(ctx_.icr_write), until - start));
  const double each = total / n;
  double at = start;
  for (Write& w : t.writes) {
    begin_event("ICR write", "ipi", "X", at, cpu);
    fmt::format_to(std::back_inserter(line_), ",\"dur\":{},\"args\":{{{}}}", each, w.args);
    end_event();
    for (std::uint64_t id : w.flows) {
      auto it = flows_.find(id);
      if (it == flows_.end()) continue;
      it->second.s_ts = at + each / 2;
      write_flow_if_done(id);
    }
    at += each;
  }
  t.writes.clear();
}

void ChromeTraceSink::write_flow_if_done(std::uint64_t id) {
  auto it = flows_.find(id);
  const Flow& f = it->second;
  if (f.s_ts < 0 || f.f_ts < 0) return;
  // Flow events (Trace Event Format "Flow Events"): "s" binds to the slice
  // enclosing it on its thread, "f" with "bp":"e" to the slice enclosing it.
  begin_event("IPI", "ipi", "s", f.s_ts, f.from);
  fmt::format_to(std::back_inserter(line_), ",\"id\":{}", id);
  end_event();
  begin_event("IPI", "ipi", "f", f.f_ts, f.to);
  fmt::format_to(std::back_inserter(line_), ",\"id\":{},\"bp\":\"e\"", id);
  end_event();
  flows_.erase(it);
}

void ChromeTraceSink::counters(CpuId cpu, Track& t, double ts) {
  if (cpu == kNoCpu) return;
  if (t.bitmap != t.shown_bitmap) {
    t.shown_bitmap = t.bitmap;
    name_.clear();  // a reused buffer: no allocation per counter event
    fmt::format_to(std::back_inserter(name_), "CPU {} pending NMI sources", cpu);
    begin_event(name_, "counter", "C", ts, cpu);
    fmt::format_to(std::back_inserter(line_), ",\"args\":{{\"bitmap\":{}}}", t.bitmap);
    end_event();
  }
  if (t.sent != t.shown_sent || t.latched != t.shown_latched || t.handling != t.shown_handling) {
    t.shown_sent = t.sent;
    t.shown_latched = t.latched;
    t.shown_handling = t.handling;
    name_.clear();
    fmt::format_to(std::back_inserter(name_), "CPU {} NMIs in flight", cpu);
    begin_event(name_, "counter", "C", ts, cpu);
    fmt::format_to(std::back_inserter(line_),
                   ",\"args\":{{\"sent\":{},\"latched\":{},\"handling\":{}}}", t.sent, t.latched,
                   t.handling);
    end_event();
  }
}

// User code runs on a CPU inside its user intervals whenever no NMI does: a
// "user" slice ends when an NMI comes and starts again at its return.
void ChromeTraceSink::user_boundaries_until(Cycle c) {
  while (next_boundary_ < boundaries_.size() && boundaries_[next_boundary_].at <= c) {
    const Boundary b = boundaries_[next_boundary_++];
    Track& t = track(b.cpu);
    const double ts = us(b.at);
    place_writes(b.cpu, t, ts);
    t.user = b.begins;
    if (b.begins && t.stack.empty()) open_slice(b.cpu, t, 'u', ts, nullptr);
    if (!b.begins && !t.stack.empty() && t.stack.back().kind == 'u') {
      close_slice(b.cpu, t, ts, nullptr);
    }
  }
}

bool ChromeTraceSink::guest_record(const TraceRecord& r, double ts) {
  if (ctx_.vms.empty() || r.cpu == kNoCpu) return false;
  CpuId key = kNoCpu;
  if (const TraceField* vm = r.find("vm"); vm != nullptr) {
    // The guest kernel's records and KVM's injections name their vCPU.
    key = vcpu_key(vm->value.s, field_u(r, "vcpu", kNoCpu));
    if (key == kNoCpu) return false;
    vcpu_on_[r.cpu] = key;
  } else if (r.event == "nmi_deliver" || r.event == "nmi_return") {
    // The CPU's own records: the guest's while its code runs on the CPU (the
    // host track's "guest" slice is open), an injected NMI's delivery and the
    // guest's return from it (docs/format.md "Guest records").
    auto host = tracks_.find(r.cpu);
    auto on = vcpu_on_.find(r.cpu);
    if (host == tracks_.end() || on == vcpu_on_.end()) return false;
    if (host->second.stack.empty() || host->second.stack.back().kind != 'g') return false;
    key = on->second;
    if (r.event == "nmi_return") {
      auto v = tracks_.find(key);
      if (v == tracks_.end() || v->second.stack.empty() || v->second.stack.back().kind != 'n')
        return false;
    }
  } else {
    return false;
  }
  Track& t = track(key);
  if (r.event == "handler_call") {
    write_call(r, key, ts);
    t.call_begin = r.cycle;
    t.call_end = r.cycle + field_u(r, "cycles");
  } else if (r.event == "kvm_apic_ipi") {
    guest_icr_write(r, key, t);
  } else if (r.event == "nmi_deliver") {
    open_slice(key, t, 'n', ts, &r);
    t.stack.back().flows = std::move(t.injected);
    t.injected.clear();
    t.inject_pending = false;
  } else if (r.event == "nmi_return") {
    close_slice(key, t, ts, &r);
  } else {
    if (r.event == "nmi_inject" && !t.inject_pending) {
      // KVM's injection takes every guest NMI IPI queued for the vCPU so far:
      // it ORs their sources into the one NMI it injects (docs/vmx.md "KVM's
      // virtual NMIs of a vCPU"); a re-injection of that NMI takes no more.
      t.injected = std::move(t.arrived);
      t.arrived.clear();
      t.inject_pending = true;
    }
    write_instant(r, key, ts);
  }
  return true;
}

void ChromeTraceSink::write_call(const TraceRecord& r, CpuId tid, double ts) {
  begin_event(field_s(r, "handler"), "handler", "X", ts, tid);
  line_ += ",\"args\":{";
  append_trace_fields_json(line_, r.fields);
  fmt::format_to(std::back_inserter(line_), "}},\"dur\":{}", us(field_u(r, "cycles")));
  end_event();
}

void ChromeTraceSink::write_instant(const TraceRecord& r, CpuId tid, double ts) {
  begin_event(r.event, "nmi", "i", ts, tid);
  line_ += ",\"args\":{";
  append_trace_fields_json(line_, r.fields);
  line_ += "},\"s\":\"t\"";
  end_event();
}

void ChromeTraceSink::guest_icr_write(const TraceRecord& r, CpuId key, Track& t) {
  // The write traps (an MSR-write or APIC-write exit at its instruction) and
  // KVM's emulated APIC sends the IPI when its emulation ends, at this record:
  // the slice runs from the exit to here, as the guest sees the write. Inside
  // a handler call that made it, it ends by the call's end.
  auto host = tracks_.find(r.cpu);
  Cycle start = r.cycle;
  if (host != tracks_.end() && host->second.exit_at) start = std::min(start, *host->second.exit_at);
  Cycle end = r.cycle;
  if (t.call_begin && *t.call_begin <= start && start < t.call_end) {
    end = std::min(end, t.call_end);
  }
  const double mid = (static_cast<double>(start) + static_cast<double>(end)) / 2 / cycles_per_us_;
  begin_event("ICR write", "ipi", "X", us(start), key);
  line_ += ",\"args\":{";
  append_trace_fields_json(line_, r.fields);
  fmt::format_to(std::back_inserter(line_), "}},\"dur\":{}", us(end - start));
  end_event();
  const std::uint64_t icr = field_u(r, "icr");
  const TraceField* dest = r.find("dest");
  const TraceField* vm = r.find("vm");
  if (!icr_is_nmi(icr) || dest == nullptr || vm == nullptr) return;
  for (CpuId d : dest->value.cpus) {
    const CpuId to = vcpu_key(vm->value.s, d);
    if (to == kNoCpu) continue;
    const std::uint64_t id = next_flow_++;
    Flow f{key, to, static_cast<std::uint32_t>(icr & 0xFF), r.cycle};
    f.s_ts = mid;
    f.arrived = true;
    flows_.emplace(id, f);
    track(to).arrived.push_back(id);
  }
}

void ChromeTraceSink::record(const TraceRecord& r) {
  if (finished_) return;
  // Scenario events (a user interval's edges) run first at their cycle
  // (docs/scenarios.md "Order").
  user_boundaries_until(r.cycle);
  const double ts = us(r.cycle);
  last_cycle_ = std::max(last_cycle_, r.cycle);
  if (guest_record(r, ts)) return;
  Track& t = track(r.cpu);
  const bool handler = r.event == "handler_call";
  if (!t.writes.empty() && r.cycle != t.writes_at) place_writes(r.cpu, t, ts);
  if (!t.writes.empty() && !handler && r.event != "ipi_send") place_writes(r.cpu, t, ts);
  auto instant = [&] { write_instant(r, r.cpu, ts); };

  if (handler) {
    write_call(r, r.cpu, ts);
    // The writes this call made, inside it (its cycles include them).
    place_writes(r.cpu, t, ts + us(field_u(r, "cycles")));
    return;
  }
  if (r.event == "ipi_send") {
    const std::uint64_t icr = field_u(r, "icr");
    Write w;
    append_trace_fields_json(w.args, r.fields);
    const TraceField* dest = r.find("dest");
    if (icr_is_nmi(icr) && dest != nullptr) {
      // The interconnect posts the messages ipi_latency after the write, each
      // further destination ipi_per_destination later (apic/interconnect.cpp).
      Cycle arrives = r.cycle + ctx_.ipi_latency;
      for (CpuId d : dest->value.cpus) {
        const std::uint64_t id = next_flow_++;
        flows_.emplace(id, Flow{r.cpu, d, static_cast<std::uint32_t>(icr & 0xFF), arrives});
        w.flows.push_back(id);
        arrives += ctx_.ipi_per_destination;
        Track& to = track(d);
        ++to.sent;
        counters(d, to, ts);
      }
    }
    t.writes_at = r.cycle;
    t.writes.push_back(std::move(w));
    return;
  }
  if (r.event == "nmi_receive") {
    // The oldest IPI due here by now with this vector: an NMI from elsewhere (an
    // LVT, LINT1) carrying the same source vector does not take its arrow.
    const auto vector = static_cast<std::uint32_t>(field_u(r, "vector"));
    for (auto& [id, f] : flows_) {
      if (f.arrived || f.to != r.cpu || f.vector != vector || f.arrives > r.cycle) continue;
      f.arrived = true;
      t.arrived.push_back(id);
      --t.sent;
      break;
    }
    t.latched = 1;
    t.bitmap = field_u(r, "pending_bitmap");
    counters(r.cpu, t, ts);
    instant();
    return;
  }
  if (r.event == "vm_exit") {
    t.exit_at = r.cycle;
    // The guest's code stops here (an NMI or an NMI-window exit).
    if (!t.stack.empty() && t.stack.back().kind == 'g') close_slice(r.cpu, t, ts, nullptr);
    instant();
    return;
  }
  if (r.event == "vm_entry") {
    if (t.stack.empty() || t.stack.back().kind != 'g') open_slice(r.cpu, t, 'g', ts, nullptr);
    instant();
    return;
  }
  if (r.event == "nmi_deliver") {
    if (!t.stack.empty() && t.stack.back().kind == 'u') close_slice(r.cpu, t, ts, nullptr);
    open_slice(r.cpu, t, field_s(r, "path") == "vmexit" ? 'v' : 'n', ts, &r);
    // The NMI takes the pending bitmap and every IPI that reached the CPU.
    t.stack.back().flows = std::move(t.arrived);
    t.arrived.clear();
    t.bitmap = 0;
    t.latched = 0;
    ++t.handling;
    counters(r.cpu, t, ts);
    return;
  }
  if (r.event == "nmi_return") {
    // KVM's ERETS of its software frame returns inside the VM-exit slice; the
    // VM entry closes it.
    const bool vmentry = field_s(r, "via") == "vmentry";
    const char want = vmentry ? 'v' : 'n';
    if (!t.stack.empty() && t.stack.back().kind == want) {
      close_slice(r.cpu, t, ts, &r);
      --t.handling;
      counters(r.cpu, t, ts);
      if (t.stack.empty() && t.user) open_slice(r.cpu, t, 'u', ts, nullptr);
      return;
    }
  }
  instant();
}

void ChromeTraceSink::flush() {
  out_.flush();
}

void ChromeTraceSink::finish() {
  if (finished_) return;
  const Cycle end = std::max(last_cycle_, end_.value_or(0));
  user_boundaries_until(end);
  const double ts = us(end);
  for (auto& [cpu, t] : tracks_)
    place_writes(cpu, t, ts);
  // Slices still open at the end (a CPU halted in its handler, a guest or user
  // interval to the end) end with the run. IPIs no NMI took draw no arrow.
  for (auto& [cpu, t] : tracks_) {
    while (!t.stack.empty())
      close_slice(cpu, t, ts, nullptr);
  }
  finished_ = true;
  out_ << (started_ ? "\n]}\n" : "{\"traceEvents\":[]}\n");
  out_.flush();
}

FtraceSink::FtraceSink(std::ostream& out, TraceSinkContext ctx, bool with_source_bitmap,
                       std::string vm)
    : out_(out),
      ctx_(std::move(ctx)),
      frequency_mhz_(ctx_.frequency_mhz ? ctx_.frequency_mhz : 1),
      with_source_bitmap_(with_source_bitmap),
      vm_(std::move(vm)) {}

bool FtraceSink::in_user(CpuId cpu, Cycle c) const {
  // [from, until): the interval's end event runs before anything else of its
  // cycle (docs/scenarios.md "Order"), so an NMI at `until` interrupts the kernel.
  for (const auto& u : ctx_.user) {
    if (u.from > c) break;
    if (u.cpu == cpu && c < u.until) return true;
  }
  return false;
}

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
  if (r.event == "nmi_deliver" && vm_.empty()) {
    // The host's handlers run for an NMI-induced VM exit in KVM's vCPU thread
    // (vmx_handle_nmi(), arch/x86/kvm/vmx/vmx.c); otherwise in whatever ran.
    interrupted_[r.cpu] = field_s(r, "path") == "vmexit" ? Context::guest
                          : in_user(r.cpu, r.cycle)      ? Context::user
                                                         : Context::idle;
  }
  if (r.event != "handler_call") return;
  // A guest kernel's call (docs/format.md "Guest records") is its VM's, on
  // its vCPU; the guest's NMIs interrupt its idle task (the model's guests
  // run no user tasks).
  const TraceField* vm = r.find("vm");
  if (vm_.empty() != (vm == nullptr)) return;
  if (vm != nullptr && vm->value.s != vm_) return;
  const CpuId cpu = vm != nullptr     ? static_cast<CpuId>(field_u(r, "vcpu"))
                    : r.cpu == kNoCpu ? 0
                                      : r.cpu;
  std::uint64_t cycles = field_u(r, "cycles");
  // The kernel emits the event after the call returns; delta_ns is truncated to int.
  const auto ctx = interrupted_.find(r.cpu);
  Line l{(r.cycle + cycles) * 1000 / frequency_mhz_,
         cpu,
         seq_++,
         vm != nullptr || ctx == interrupted_.end() ? Context::idle : ctx->second,
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
  // The task: trace_print_context() prints "%16s-%-7d [%03d] " (comm, pid, CPU).
  // A user task is "user" with pid 1000 + CPU, the vCPU thread QEMU's "CPU N/KVM"
  // (vCPU N on host CPU N) with pid 2000 + CPU (docs/format.md "ftrace").
  std::string comm = "<idle>";
  std::uint32_t pid = 0;
  // The flags, as trace_print_lat_fmt() (kernel/trace/trace_output.c) prints
  // them: irqs off 'd' (NMI delivery clears IF), need-resched '.', 'Z' for NMI
  // inside hardirq (nmi_enter() adds NMI_OFFSET + HARDIRQ_OFFSET), the
  // interrupted context's preempt depth ('.' for 0), migrate-disable '.'. The
  // idle task runs with preemption disabled (init_idle_preempt_count(),
  // kernel/sched/core.c), KVM enters the guest with it disabled
  // (vcpu_enter_guest(), arch/x86/kvm/x86.c), user code runs with depth 0.
  std::string_view flags = "d.Z1.";
  if (l.context == Context::user) {
    comm = "user";
    pid = 1000 + l.cpu;
    flags = "d.Z..";
  } else if (l.context == Context::guest) {
    comm = fmt::format("CPU {}/KVM", l.cpu);
    pid = 2000 + l.cpu;
  }
  fmt::print(out_, "{:>16}-{:<7} [{:03}] {} {:5}.{:06}: nmi_handler: {}() delta_ns: {} handled: {}",
             comm, pid, l.cpu, flags, us / 1'000'000, us % 1'000'000, l.handler, l.delta_ns,
             l.handled);
  if (with_source_bitmap_) fmt::print(out_, " source_bitmap: {:#x}", l.source_bitmap);
  out_ << '\n';
}

void FtraceSink::flush() {
  write_before(std::numeric_limits<std::uint64_t>::max());
  out_.flush();
}

}  // namespace fredsim::scenario
