#pragma once
// A testbench for one Cpu: its own EventQueue, TimingProfile and Tracer, an
// OsEntry that records what reaches it, and a trace sink that keeps every record
// as flat "name" / "frame.rip" -> text fields. Expected values in the tests come
// from docs/hardware.md, computed by hand, never from the model.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "fredsim/cpu/cpu.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/event_queue.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/sim/trace.hpp"

namespace fredsim::cpu::test {

// Costs chosen distinct from each other (and from the defaults) so that a path
// that charges the wrong parameter shows.
inline constexpr Cycle kFredCost = 101;
inline constexpr Cycle kIdtCost = 157;
inline constexpr Cycle kEretsCost = 61;
inline constexpr Cycle kEretuCost = 83;
inline constexpr Cycle kIretCost = 127;

// Linux-like layout (docs/hardware.md §1 "Linux's settings"). All 64-byte aligned and
// canonical.
inline constexpr std::uint64_t kEntryPage = 0xFFFFFFFF81A00000ull;
inline constexpr std::uint64_t kRsp0 = 0xFFFFC90000010000ull;  // task stack top
inline constexpr std::uint64_t kRsp1 = 0xFFFFFE0000011000ull;  // #DB
inline constexpr std::uint64_t kRsp2 = 0xFFFFFE0000021000ull;  // NMI
inline constexpr std::uint64_t kRsp3 = 0xFFFFFE0000031000ull;  // #DF
inline constexpr std::uint64_t kIdleRip = 0xFFFFFFFF81000000ull;
inline constexpr std::uint64_t kIdleRsp = 0xFFFFC90000004000ull;
// STKLVLS: #DB (1) level 1 -> bits 3:2 = 01 (0x4); NMI (2) level 2 -> bits 5:4 =
// 10 (0x20); #DF (8) level 3 -> bits 17:16 = 11 (0x30000); #MC (18) level 2 ->
// bits 37:36 = 10 (0x20_0000_0000).
inline constexpr std::uint64_t kLinuxStklvls = 0x0000002000030024ull;
// CONFIG: entry page | red zone 1 line (bits 8:6 = 1 -> 0x40) | interrupts level 0.
inline constexpr std::uint64_t kLinuxConfig = kEntryPage | 0x40;
// IA32_STAR: [47:32] kernel CS 0x10, [63:48] user base 0x23 (Linux).
inline constexpr std::uint64_t kLinuxStar = 0x0023001000000000ull;
inline constexpr std::uint64_t kCr4Fred = std::uint64_t{1} << 32;

inline constexpr std::uint16_t kKernelCs = 0x10;
inline constexpr std::uint16_t kKernelSs = 0x18;
inline constexpr std::uint16_t kUserCs = 0x33;
inline constexpr std::uint16_t kUserSs = 0x2B;

/// "0x..." as the trace prints register values ("0x0" for zero).
inline std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

/// Records deliveries; on request returns from them at once with the instruction
/// that fits the path (ERETS/ERETU by the CPL at the event, IRET for the IDT).
class RecordingOs final : public OsEntry {
 public:
  struct Seen {
    Delivery d;
    Cycle at;
    std::uint64_t rsp_at_entry;
    std::uint64_t rip_at_entry;
    std::uint64_t rflags_at_entry;
    std::uint8_t cpl_at_entry;
    std::uint8_t csl_at_entry;
    bool blocked_at_entry;
  };
  std::vector<Seen> seen;
  std::vector<std::pair<Cycle, RunState>> resumes;
  std::vector<Fault> return_faults;
  bool auto_return = false;
  Cycle nmi_entry_code = 0;  // what entry_code() answers for NMIs

  Cycle entry_code(const Delivery& d) const override {
    return d.event.type == EventType::nmi ? nmi_entry_code : 0;
  }
  void on_delivery(Cpu& cpu, const Delivery& d) override {
    seen.push_back({d, cpu.now(), cpu.rsp(), cpu.rip(), cpu.rflags(), cpu.cpl(), cpu.csl(),
                    cpu.nmi_blocked()});
    if (!auto_return) return;
    if (d.path == DeliveryPath::idt) {
      return_faults.push_back(cpu.iret());
    } else if (d.from_cpl == 3) {
      return_faults.push_back(cpu.eretu());
    } else {
      return_faults.push_back(cpu.erets());
    }
  }
  void on_resume(Cpu& cpu, RunState s) override { resumes.emplace_back(cpu.now(), s); }
};

/// Keeps every record with its fields flattened to text ("frame.rip" -> "0x...").
class RecordSink final : public TraceSink {
 public:
  struct Rec {
    Cycle cycle = 0;
    CpuId cpu = 0;
    std::string event;
    std::map<std::string, std::string> f;
    bool has(const std::string& k) const { return f.count(k) != 0; }
    const std::string& at(const std::string& k) const { return f.at(k); }
  };
  std::vector<Rec> recs;

  void record(const TraceRecord& r) override {
    Rec rec;
    rec.cycle = r.cycle;
    rec.cpu = r.cpu;
    rec.event = std::string(r.event);
    flatten(rec.f, "", r.fields);
    recs.push_back(std::move(rec));
  }
  std::vector<Rec> of(const std::string& event) const {
    std::vector<Rec> out;
    for (const auto& r : recs)
      if (r.event == event) out.push_back(r);
    return out;
  }

 private:
  static void flatten(std::map<std::string, std::string>& out, const std::string& prefix,
                      std::span<const TraceField> fields) {
    for (const auto& fld : fields) {
      const std::string key = prefix + std::string(fld.name);
      const TraceValue& v = fld.value;
      switch (v.kind) {
        case TraceValue::Kind::u64:
          out[key] = std::to_string(v.u);
          break;
        case TraceValue::Kind::i64:
          out[key] = std::to_string(static_cast<std::int64_t>(v.u));
          break;
        case TraceValue::Kind::hex:
          out[key] = hex(v.u);
          break;
        case TraceValue::Kind::boolean:
          out[key] = v.u ? "true" : "false";
          break;
        case TraceValue::Kind::str:
          out[key] = std::string(v.s);
          break;
        case TraceValue::Kind::cpu_list:
          out[key] = "list";
          break;
        case TraceValue::Kind::object:
          out[key] = "object";
          flatten(out, key + ".", v.fields);
          break;
      }
    }
  }
};

struct Harness {
  EventQueue queue;
  TimingProfile timing;
  Tracer tracer;
  RecordSink sink;
  RecordingOs os;
  std::unique_ptr<Cpu> cpu;

  explicit Harness(CpuFeatures features = {}, std::uint64_t idle_rsp = kIdleRsp) {
    timing.set(TimingParam::fred_delivery, kFredCost);
    timing.set(TimingParam::idt_delivery, kIdtCost);
    timing.set(TimingParam::erets, kEretsCost);
    timing.set(TimingParam::eretu, kEretuCost);
    timing.set(TimingParam::iret, kIretCost);
    tracer.add_sink(sink);
    Cpu::Config cfg;
    cfg.id = 0;
    cfg.features = features;
    cfg.idle_rip = kIdleRip;
    cfg.idle_rsp = idle_rsp;
    cpu = std::make_unique<Cpu>(cfg, SimContext{queue, timing, tracer});
    cpu->set_os_entry(&os);
  }

  /// Programs FRED as Linux's fred_cpu_init() would, then sets CR4.FRED.
  void program_linux_fred() {
    Cpu& c = *cpu;
    ok(c.wrmsr(0x1CC, kRsp0));
    ok(c.wrmsr(0x1CD, kRsp1));
    ok(c.wrmsr(0x1CE, kRsp2));
    ok(c.wrmsr(0x1CF, kRsp3));
    ok(c.wrmsr(0x1D0, kLinuxStklvls));
    ok(c.wrmsr(0x1D4, kLinuxConfig));
    ok(c.wrmsr(0xC0000081, kLinuxStar));
    ok(c.write_cr4(c.cr4() | kCr4Fred));
  }
  static void ok(Fault f) {
    if (f != Fault::none) throw std::runtime_error("setup fault");
  }

  /// Runs every event up to and including `cycle`.
  void run_to(Cycle cycle) { queue.run_until(cycle); }
  void run_idle() { queue.run_to_idle(1000); }

  /// Raises an NMI and runs until its entry point is reached.
  void nmi_and_enter(std::uint32_t vector) {
    cpu->raise_nmi(vector);
    run_idle();
  }
};

}  // namespace fredsim::cpu::test
