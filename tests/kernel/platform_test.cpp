// The platform seam (kernel/platform.hpp): a Kernel reaches the per-platform
// operations (CPUs, APIC writes, ICR writes, PMU, ports) through its Platform
// only, numbers its CPUs 0..n-1 on it, and maps the CPU models that report
// deliveries back to those numbers.
#include <gtest/gtest.h>

#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "fredsim/kernel/platform.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

/// Host CPUs first..first+n-1 as the platform's CPUs 0..n-1, each operation
/// recorded and passed on to the machine with the CPU numbers translated.
class SlicePlatform final : public Platform {
 public:
  SlicePlatform(machine::Machine& m, CpuId first, std::uint32_t n) : m_(m), first_(first), n_(n) {}
  std::uint32_t cpu_count() const override { return n_; }
  cpu::Cpu& cpu(CpuId id) override { return m_.cpu(first_ + id); }
  bool enumerates_nmi_source(CpuId id) override {
    return hide_nmi_source ? false : Platform::enumerates_nmi_source(id);
  }
  bool hide_nmi_source = false;
  void apic_write(CpuId cpu, std::uint32_t offset, std::uint64_t value) override {
    apic_writes.push_back(cpu);
    m_.apic_write(first_ + cpu, offset, value);
  }
  std::uint64_t apic_read(CpuId cpu, std::uint32_t offset) override {
    return m_.apic_read(first_ + cpu, offset);
  }
  void write_icr(CpuId cpu, apic::IcrValue icr) override {
    icr_writes.push_back(cpu);
    m_.write_icr(first_ + cpu, icr.with_destination(icr.destination() + first_));
  }
  void pmu_overflow(CpuId cpu, std::uint64_t mask) override {
    pmu.push_back(cpu);
    m_.pmu_overflow(first_ + cpu, mask);
  }
  void external_nmi(CpuId cpu, machine::NmiReason reason) override {
    m_.external_nmi(first_ + cpu, reason);
  }
  std::uint8_t port_in(std::uint16_t port) override { return m_.port_in(port); }
  void port_out(std::uint16_t port, std::uint8_t value) override { m_.port_out(port, value); }
  std::uint8_t nmi_reason() const override { return m_.nmi_reason(); }

  std::vector<CpuId> apic_writes, icr_writes, pmu;

 private:
  machine::Machine& m_;
  CpuId first_;
  std::uint32_t n_;
};

TEST(Platform, TheHostKernelRunsOnTheMachine) {
  auto sys = make_system(make_config(4));
  Kernel& k = sys->kernel();
  EXPECT_EQ(k.cpu_count(), 4u);
  EXPECT_EQ(&k.platform().cpu(3), &sys->machine().cpu(3));
}

TEST(Platform, ASecondKernelUsesItsPlatformAndItsOwnCpuNumbers) {
  auto sys = make_system(make_config(4));
  Kernel& host = sys->kernel();
  SlicePlatform slice(sys->machine(), 2, 2);
  Kernel k(sys->machine(), slice, KernelConfig{});
  EXPECT_EQ(k.cpu_count(), 2u);
  k.boot();
  // Boot programs LVTPC and LINT1 of each of its CPUs through the platform.
  EXPECT_EQ(slice.apic_writes, (std::vector<CpuId>{0, 0, 1, 1}));
  EXPECT_EQ(sys->machine().cpu(2).os_entry(), &k);
  EXPECT_EQ(sys->machine().cpu(1).os_entry(), &host);

  const HandlerId g = *k.register_model(NmiType::local, HandlerModel::device, 0, "g", 5);
  k.registry().add_work(g, 1);
  const CpuId dest[] = {1};
  sys->at(100, [&] { k.send_nmi_ipi(0, dest, 5); });
  sys->run_to_idle();
  EXPECT_EQ(slice.icr_writes, (std::vector<CpuId>{0}));
  // The NMI reached host CPU 3, which is the second kernel's CPU 1.
  EXPECT_EQ(k.registry().handler(g).per_cpu[1].calls, 1u);
  EXPECT_EQ(k.registry().handler(g).per_cpu[0].calls, 0u);
  EXPECT_EQ(k.cpu_state(1).stats.normal, 1u);
  EXPECT_EQ(host.cpu_state(3).stats.normal + host.cpu_state(3).stats.unknown, 0u);
  EXPECT_EQ(k.lost_work(1), 0u);

  // A PMU overflow of its CPU 0 goes to host CPU 2 through the platform.
  k.pmu_overflow(0, 1);
  EXPECT_EQ(slice.pmu, (std::vector<CpuId>{0}));
  EXPECT_NE(sys->machine().cpu(2).perf_global_status(), 0u);
  EXPECT_EQ(sys->machine().cpu(0).perf_global_status(), 0u);
}

TEST(Platform, NmiSourceIsWhatThePlatformsCpuidEnumerates) {
  // The host CPUs have NMI-source; a platform that does not expose it (a VM
  // with nmi_source = false) makes its kernel encode no source vector and poll.
  for (const bool hide : {false, true}) {
    auto sys = make_system(make_config(4));
    SlicePlatform slice(sys->machine(), 2, 2);
    slice.hide_nmi_source = hide;
    Kernel k(sys->machine(), slice, KernelConfig{});
    k.boot();
    EXPECT_EQ(k.nmi_source_enabled(0), !hide);
    EXPECT_EQ(sys->kernel().nmi_source_enabled(2), true) << "the host's own view is unchanged";
    const HandlerId g = *k.register_model(NmiType::local, HandlerModel::device, 0, "g", 5);
    const HandlerId h = *k.register_model(NmiType::local, HandlerModel::device, 0, "h", 6);
    EXPECT_EQ(k.prepare_icr(0, apic::Shorthand::none, apic::DeliveryMode::nmi, 5, 1).vector(),
              hide ? 0u : 5u);
    k.registry().add_work(g, 1);
    const CpuId dest[] = {1};
    sys->at(100, [&] { k.send_nmi_ipi(0, dest, 5); });
    sys->run_to_idle();
    EXPECT_EQ(k.registry().handler(g).total.handled, 1u);
    EXPECT_EQ(k.registry().handler(h).total.calls, hide ? 1u : 0u) << "polled without NMI-source";
  }
}

TEST(Platform, DestroyingAKernelDetachesItFromItsCpusOnly) {
  auto sys = make_system(make_config(4));
  Kernel& host = sys->kernel();
  {
    SlicePlatform slice(sys->machine(), 2, 2);
    Kernel k(sys->machine(), slice, KernelConfig{});
    k.boot();
  }
  EXPECT_EQ(sys->machine().cpu(2).os_entry(), nullptr);
  EXPECT_EQ(sys->machine().cpu(3).os_entry(), nullptr);
  EXPECT_EQ(sys->machine().cpu(0).os_entry(), &host);
}

}  // namespace
}  // namespace fredsim::kernel
