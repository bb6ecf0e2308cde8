// The kernel's NMI senders (docs/linux.md "Senders and their handlers"),
// through APIC register writes only.
#include <fmt/format.h>

#include <bit>
#include <cassert>

#include "fredsim/kernel/kernel.hpp"
#include "kernel/apicdef.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

apic::IcrValue Kernel::prepare_icr(CpuId from, apic::Shorthand shorthand, apic::DeliveryMode mode,
                                   std::uint32_t vector, std::uint32_t dest_apic_id) const {
  // The NMI-source series' encoder: NMI mode carries the source vector only when
  // NMI-source is on; Linux's plain NMI_VECTOR request is bare NMI mode, so its
  // receivers see bit 0, never bit 2 (docs/hardware.md §3 "Local APIC").
  if (mode == apic::DeliveryMode::nmi) {
    if (vector == apicdef::NMI_VECTOR || !nmi_source_enabled(from)) vector = 0;
  }
  // The destination is the 32-bit x2APIC one; Machine::write_icr narrows it for xAPIC.
  return apic::IcrValue{}
      .with_shorthand(shorthand)
      .with_delivery_mode(mode)
      .with_vector(static_cast<std::uint8_t>(vector))
      .with_destination(dest_apic_id);
}

void Kernel::send_nmi_ipi(CpuId from, std::span<const CpuId> dest, unsigned vector) {
  // x2APIC physical mode sends one ICR write per destination (send_IPI_mask).
  for (CpuId d : dest) {
    platform_.write_icr(
        from, prepare_icr(from, apic::Shorthand::none, apic::DeliveryMode::nmi, vector, d));
  }
}

void Kernel::send_nmi_ipi_shorthand(CpuId from, apic::Shorthand shorthand, unsigned vector) {
  platform_.write_icr(from, prepare_icr(from, shorthand, apic::DeliveryMode::nmi, vector, 0));
}

HandlerId Kernel::ensure_role(HandlerModel model) {
  HandlerId& role = roles_[static_cast<int>(model)];
  if (role != kNoHandler && registry_.handler(role).registered) return role;
  const ReservedHandler& d = reserved_handler(model);
  // The name is reserved for this model, so a handler registered under it on
  // the LOCAL list is this role's (registered by a user to configure it).
  if (const HandlerId h = registry_.find_registered(NmiType::local, d.name); h != kNoHandler) {
    assert(registry_.handler(h).model == model);
    role = h;
    return role;
  }
  // Neither refusal can happen: the callable is set, the name is free on the
  // list (just checked) and reserved for this very model.
  auto r = register_model(NmiType::local, model, d.flags, d.name, d.vector);
  assert(r.ok());
  role = *r;
  return role;
}

void Kernel::trigger_backtrace(CpuId from, std::span<const CpuId> mask, bool exclude_self) {
  const HandlerId h = ensure_role(HandlerModel::backtrace);
  std::vector<CpuId> targets;
  targets.reserve(mask.size());
  for (CpuId c : mask) {
    if (c >= cpu_count_) continue;
    if (c == from) {
      // The sender prints its own backtrace directly, without an NMI.
      if (!exclude_self) console_.printk(from, fmt::format("NMI backtrace for cpu {}", from));
      continue;
    }
    registry_.add_work(h, c);
    targets.push_back(c);
  }
  if (!targets.empty()) {
    console_.printk(from, fmt::format("Sending NMI from CPU {} to {} CPUs", from, targets.size()));
    send_nmi_ipi(from, targets, nmis::VECTOR_BT);
  }
}

void Kernel::kgdb_roundup(CpuId from) {
  kgdb_active_ = true;
  roundup_others(from, HandlerModel::kgdb, nmis::VECTOR_KGDB);
  // kgdb_arch_init registers kgdb_nmi_handler on NMI_LOCAL and NMI_UNKNOWN,
  // both named "kgdb"; the model registers the UNKNOWN one at the first roundup
  // (after the LOCAL one, which stays the sender's role).
  if (registry_.find_registered(NmiType::unknown, reserved_handler(HandlerModel::kgdb).name) ==
      kNoHandler) {
    auto r = register_model(NmiType::unknown, HandlerModel::kgdb, 0,
                            reserved_handler(HandlerModel::kgdb).name, 0);
    assert(r.ok());  // the name is free on the UNKNOWN list and reserved for kgdb
    (void)r;
  }
}

void Kernel::roundup_others(CpuId from, HandlerModel model, unsigned vector) {
  // Work for the model's handler on every CPU but the sender, then one
  // all-but-self NMI (none on a single CPU: there is no other to send to).
  const HandlerId h = ensure_role(model);
  for (CpuId c = 0; c < cpu_count_; ++c) {
    if (c != from) registry_.add_work(h, c);
  }
  if (cpu_count_ > 1) {
    send_nmi_ipi_shorthand(from, apic::Shorthand::all_excluding_self, vector);
  }
}

void Kernel::mce_inject(CpuId from, std::span<const CpuId> targets) {
  // raise_mce (arch/x86/kernel/cpu/mce/inject.c): the NMI broadcast's mask
  // leaves out the sending CPU (cpumask_clear_cpu(get_cpu(), ...)), which
  // raises its own MCE locally afterwards (raise_local), without an NMI.
  const HandlerId h = ensure_role(HandlerModel::mce);
  std::vector<CpuId> mask;
  mask.reserve(targets.size());
  for (CpuId c : targets) {
    if (c < cpu_count_ && c != from) {
      registry_.add_work(h, c);
      mask.push_back(c);
    }
  }
  if (!mask.empty()) send_nmi_ipi(from, mask, nmis::VECTOR_MCE);
}

void Kernel::pmu_overflow(CpuId cpu, unsigned counters) {
  const HandlerId h = ensure_role(HandlerModel::pmi);
  const std::uint64_t mask =
      counters >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << counters) - 1;
  // A counter that overflows again before its PMI was handled adds no sample.
  const std::uint64_t fresh = mask & ~platform_.perf_global_status(cpu);
  if (fresh != 0) registry_.add_work(h, cpu, static_cast<std::uint32_t>(std::popcount(fresh)));
  platform_.pmu_overflow(cpu, mask);
}

void Kernel::external_nmi(CpuId cpu, machine::NmiReason reason) {
  if (reason != machine::NmiReason::none) reason_owner_ = cpu;
  platform_.external_nmi(cpu, reason);
}

void Kernel::run_selftest(CpuId from) {
  selftest_.run(from);
}

}  // namespace fredsim::kernel
