// Cost of one NMI on a CPU running a VMX guest (NMI -> VM exit -> KVM-like
// handler: software FRED frame + ERETS -> VMRESUME) against a bare-metal FRED CPU
// (NMI -> FRED delivery -> ERETS): host time per NMI, simulated cycles per NMI
// and heap allocations per NMI as counters.
#include <benchmark/benchmark.h>

#include "alloc_counter.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/vmx.hpp"

namespace {

using namespace fredsim;
namespace arch = cpu::arch;

constexpr std::uint64_t kHostEntryPage = 0xFFFFFFFF81100000ull;
constexpr std::uint64_t kGuestEntryPage = 0xFFFFFFFF82200000ull;
constexpr std::uint32_t kSourceVector = 4;

void setup_fred(cpu::Cpu& c, std::uint64_t entry_page) {
  (void)c.write_cr4(arch::kCr4Fred);
  (void)c.wrmsr(arch::kMsrFredRsp0, 0xFFFFC90000010000ull);
  (void)c.wrmsr(arch::kMsrFredRsp0 + 2, 0xFFFFFE0000008000ull);
  (void)c.wrmsr(arch::kMsrFredStklvls, cpu::FredStklvls{}.set_level(arch::kNmiVector, 2).encode());
  (void)c.wrmsr(arch::kMsrFredConfig, cpu::FredConfig::make(entry_page, 1, 0).encode());
}

// The OS: returns from every delivery at once; resumes the guest when its code resumes.
struct ReturningOs final : cpu::OsEntry {
  vmx::VmxCpu* resume = nullptr;
  void on_delivery(cpu::Cpu& c, const cpu::Delivery&) override { (void)c.erets(); }
  void on_resume(cpu::Cpu&, cpu::RunState s) override {
    if (resume != nullptr && s == cpu::RunState::in_os) (void)resume->vm_resume();
  }
};

// KVM's NMI exit path (docs/hardware.md §4 "VMX"): frame with event data = exit qualification.
struct Kvm final : vmx::VmExitHandler {
  void on_vm_exit(vmx::VmxCpu& v, const vmx::ExitInfo& e) override {
    cpu::Cpu& c = v.cpu();
    c.push_software_frame(c.software_nmi_frame(c.rflags(), /*fred=*/true, e.qualification));
    (void)c.erets();
  }
};

struct Machine {
  EventQueue queue;
  TimingProfile timing;
  Tracer tracer;
  cpu::Cpu cpu{cpu::Cpu::Config{}, SimContext{queue, timing, tracer}};
};

template <class Setup>
void run_nmis(benchmark::State& state, Machine& m, Setup&& check) {
  const Cycle start = m.queue.now();
  const std::uint64_t allocs_before = bench::allocation_count();
  for (auto _ : state) {
    m.cpu.raise_nmi(kSourceVector);
    m.queue.run_to_idle();
  }
  const std::uint64_t allocs = bench::allocation_count() - allocs_before;
  const auto n = static_cast<double>(state.iterations());
  check();
  state.SetItemsProcessed(state.iterations());
  state.counters["sim_cycles_per_nmi"] =
      benchmark::Counter(static_cast<double>(m.queue.now() - start) / n);
  state.counters["allocs_per_nmi"] = benchmark::Counter(static_cast<double>(allocs) / n);
}

void BM_NmiGuestVmExit(benchmark::State& state) {
  Machine m;
  setup_fred(m.cpu, kHostEntryPage);
  ReturningOs host;
  ReturningOs guest;
  Kvm kvm;
  vmx::VmxCpu vcpu(m.cpu, vmx::VmxCpu::Config{&guest, &kvm, true});
  host.resume = &vcpu;
  m.cpu.set_os_entry(&host);
  (void)vcpu.vmcs().vmwrite(vmx::field::kPinControls,
                            vmx::PinControls{}.set_nmi_exiting(true).encode());
  cpu::ArchState g = m.cpu.save_state();
  g.rip = 0xFFFFFFFF82000000ull;
  g.rsp = 0xFFFFC90000104000ull;
  g.config = cpu::FredConfig::make(kGuestEntryPage, 1, 0);
  vcpu.write_guest_state(g);
  if (!vcpu.vm_enter().ok()) state.SkipWithError("VMLAUNCH failed");
  m.queue.run_to_idle();
  run_nmis(state, m, [&] {
    if (!vcpu.in_guest() || vcpu.stats().exits != static_cast<std::uint64_t>(state.iterations())) {
      state.SkipWithError("the guest did not take one exit per NMI");
    }
  });
}
BENCHMARK(BM_NmiGuestVmExit);

void BM_NmiBareMetalFred(benchmark::State& state) {
  Machine m;
  setup_fred(m.cpu, kHostEntryPage);
  ReturningOs os;
  m.cpu.set_os_entry(&os);
  run_nmis(state, m, [&] {
    if (m.cpu.stats().nmi_delivered != static_cast<std::uint64_t>(state.iterations())) {
      state.SkipWithError("one FRED delivery per NMI expected");
    }
  });
}
BENCHMARK(BM_NmiBareMetalFred);

}  // namespace

BENCHMARK_MAIN();
