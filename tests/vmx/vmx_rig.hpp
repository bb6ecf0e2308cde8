#pragma once
// A CPU with its own event queue, timing profile and tracer, a VmxCpu over it,
// and small recording OsEntry / VmExitHandler models for the vmx tests.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fredsim/cpu/cpu.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/vmx.hpp"

namespace fredsim::vmx::testing {

namespace arch = cpu::arch;

inline constexpr std::uint64_t kHostEntryPage = 0xFFFFFFFF81100000ull;
inline constexpr std::uint64_t kGuestEntryPage = 0xFFFFFFFF82200000ull;
inline constexpr std::uint64_t kGuestRip = 0xFFFFFFFF82000000ull;
inline constexpr std::uint64_t kGuestRsp = 0xFFFFC90000104000ull;
inline constexpr std::uint64_t kGuestNmiStack = 0xFFFFFE0000208000ull;  // guest FRED RSP2
inline constexpr std::uint64_t kHostNmiStack = 0xFFFFFE0000008000ull;   // host FRED RSP2

/// Records what it is given; optionally returns with ERETS at once.
struct RecordingOs final : cpu::OsEntry {
  std::vector<cpu::Delivery> deliveries;
  std::vector<Cycle> delivered_at;
  std::vector<cpu::RunState> resumes;
  bool erets_on_delivery = true;
  VmxCpu* resume_guest = nullptr;  // host: VMRESUME when OS code resumes
  std::vector<VmxResult> resume_results;

  void on_delivery(cpu::Cpu& cpu, const cpu::Delivery& d) override {
    deliveries.push_back(d);
    delivered_at.push_back(cpu.now());
    if (erets_on_delivery) (void)cpu.erets();
  }
  void on_resume(cpu::Cpu&, cpu::RunState resumed) override {
    resumes.push_back(resumed);
    if (resume_guest != nullptr && resumed == cpu::RunState::in_os) {
      resume_results.push_back(resume_guest->vm_resume());
    }
  }
};

/// KVM's NMI-exit path in miniature (docs/hardware.md §4 "VMX"): a software FRED frame with
/// event data = exit qualification and SS bit 18, then ERETS.
struct KvmLike final : VmExitHandler {
  std::vector<ExitInfo> exits;
  std::vector<Cycle> at;
  bool handle = true;
  bool nmi_bit = true;

  void on_vm_exit(VmxCpu& vcpu, const ExitInfo& e) override {
    exits.push_back(e);
    at.push_back(vcpu.cpu().now());
    if (handle) handle_nmi(vcpu.cpu(), e.qualification, nmi_bit);
  }
  static cpu::Fault handle_nmi(cpu::Cpu& c, std::uint64_t event_data, bool nmi_bit) {
    cpu::FredFrame f = c.software_nmi_frame(c.rflags(), /*fred=*/true, event_data);
    f.ss.set_nmi(nmi_bit);  // cleared by a test: ERETS of such a frame leaves NMIs blocked
    c.push_software_frame(f);
    return c.erets();
  }
};

/// Keeps the records it sees as event name + field values (strings and numbers).
struct CapturingSink final : TraceSink {
  struct Rec {
    Cycle cycle;
    std::string event;
    std::map<std::string, std::uint64_t> num;
    std::map<std::string, std::string> str;
  };
  std::vector<Rec> recs;
  void record(const TraceRecord& r) override {
    Rec x{r.cycle, std::string(r.event), {}, {}};
    for (const auto& f : r.fields) {
      if (f.value.kind == TraceValue::Kind::str) {
        x.str[std::string(f.name)] = std::string(f.value.s);
      } else {
        x.num[std::string(f.name)] = f.value.u;
      }
    }
    recs.push_back(std::move(x));
  }
  const Rec* find(std::string_view event) const {
    for (const auto& r : recs) {
      if (r.event == event) return &r;
    }
    return nullptr;
  }
};

inline cpu::CpuFeatures features(bool nmi_source) {
  cpu::CpuFeatures f;
  f.nmi_source = nmi_source;
  return f;
}

struct Rig {
  EventQueue queue;
  TimingProfile timing;
  Tracer tracer;
  CapturingSink sink;
  cpu::Cpu cpu;
  RecordingOs host_os;
  RecordingOs guest_os;
  KvmLike kvm;
  VmxCpu vcpu;

  explicit Rig(cpu::CpuFeatures f = features(true), bool host_fred = true)
      : cpu(cpu::Cpu::Config{0, f}, SimContext{queue, timing, tracer}),
        vcpu(cpu, VmxCpu::Config{&guest_os, &kvm, true}) {
    tracer.add_sink(sink);
    cpu.set_os_entry(&host_os);
    if (host_fred) {
      (void)cpu.write_cr4(arch::kCr4Fred);
      (void)cpu.wrmsr(arch::kMsrFredRsp0, 0xFFFFC90000010000ull);
      (void)cpu.wrmsr(arch::kMsrFredRsp0 + 2, kHostNmiStack);
      (void)cpu.wrmsr(arch::kMsrFredStklvls,
                      cpu::FredStklvls{}.set_level(arch::kNmiVector, 2).encode());
      (void)cpu.wrmsr(arch::kMsrFredConfig, cpu::FredConfig::make(kHostEntryPage, 1, 0).encode());
    }
  }

  static cpu::ArchState fred_guest() {
    cpu::ArchState g;
    g.cpl = 0;
    g.csl = 0;
    g.rip = kGuestRip;
    g.rsp = kGuestRsp;
    g.rflags = arch::kRflagsFixed1 | arch::kRflagsIf;
    g.cs = arch::kKernelCs;
    g.ss = arch::kKernelSs;
    g.cr4 = arch::kCr4Fred;
    g.fred_rsp = {0xFFFFC90000110000ull, 0, kGuestNmiStack, 0};
    g.stklvls = cpu::FredStklvls{}.set_level(arch::kNmiVector, 2);
    g.config = cpu::FredConfig::make(kGuestEntryPage, 1, 0);
    return g;
  }

  void set_pin(PinControls p) {
    ASSERT_TRUE(vcpu.vmcs().vmwrite(field::kPinControls, p.encode()).ok());
  }

  /// A FRED guest with the given pin controls, launched now; runs until it is in.
  void launch(PinControls p) {
    set_pin(p);
    vcpu.write_guest_state(fred_guest());
    ASSERT_TRUE(vcpu.vm_enter().ok());
    queue.run_until(queue.now() + timing.get(TimingParam::vm_entry));
    ASSERT_TRUE(vcpu.in_guest());
  }
  Cycle cost(TimingParam p) const { return timing.get(p); }
};

inline PinControls nmi_exiting() {
  return PinControls{}.set_nmi_exiting(true);
}
inline PinControls nmi_exiting_virtual() {
  return PinControls{}.set_nmi_exiting(true).set_virtual_nmis(true);
}

}  // namespace fredsim::vmx::testing
