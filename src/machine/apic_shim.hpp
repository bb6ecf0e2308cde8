#pragma once
// TEMPORARY: the smallest APIC the kernel model needs, until src/apic lands.
#include <cstdint>
#include <vector>

#include "fredsim/machine/machine.hpp"

namespace fredsim {

class ApicShim final : public EventTarget {
 public:
  static constexpr std::uint32_t kLvtCmci = 0x2F0, kLvtThermal = 0x330, kLvtPc = 0x340,
                                 kLvt1 = 0x360;
  explicit ApicShim(Machine& m) : m_(m), regs_(m.cpu_count() * 64, 0) {}

  void write(CpuId cpu, std::uint32_t offset, std::uint64_t value) {
    if (offset == 0x300) {
      send(cpu, value);
      return;
    }
    regs_[cpu * 64 + (offset >> 4)] = value;
  }
  std::uint64_t read(CpuId cpu, std::uint32_t offset) { return regs_[cpu * 64 + (offset >> 4)]; }
  void assert_lvt(CpuId cpu, std::uint32_t offset) {
    std::uint64_t& lvt = regs_[cpu * 64 + (offset >> 4)];
    if ((lvt & (1u << 16)) || ((lvt >> 8) & 7) != 4) return;
    std::uint32_t vector = offset == kLvt1 ? 2 : (lvt & 0xFF);
    if (offset == kLvtPc) lvt |= 1u << 16;
    m_.queue().schedule_in(m_.timing()[TimingParam::lvt_delivery], *this, 0,
                           (std::uint64_t{cpu} << 32) | vector);
  }
  void on_event(std::uint32_t, std::uint64_t arg) override {
    m_.cpu(static_cast<CpuId>(arg >> 32)).raise_nmi(static_cast<std::uint32_t>(arg));
  }
  std::string_view event_name(std::uint32_t) const override { return "nmi_arrive"; }

 private:
  void send(CpuId from, std::uint64_t icr) {
    if (((icr >> 8) & 7) != 4) return;
    const std::uint32_t vector = icr & 0xFF;
    const unsigned sh = (icr >> 18) & 3;
    const std::uint32_t dest = m_.apic_mode() == ApicMode::x2apic
                                   ? static_cast<std::uint32_t>(icr >> 32)
                                   : static_cast<std::uint32_t>(icr >> 56);
    auto post = [&](CpuId to) {
      m_.queue().schedule_in(m_.timing()[TimingParam::ipi_latency], *this, 0,
                             (std::uint64_t{to} << 32) | vector);
    };
    if (sh == 1) {
      post(from);
    } else if (sh == 2 || sh == 3) {
      for (CpuId c = 0; c < m_.cpu_count(); ++c) {
        if (sh == 2 || c != from) post(c);
      }
    } else if (dest < m_.cpu_count()) {
      post(dest);
    }
  }
  Machine& m_;
  std::vector<std::uint64_t> regs_;
};

}  // namespace fredsim
