// The kernel's NMI senders (reference/linux-nmi.md "Senders and their handlers"),
// through APIC register writes only, and the NMI selftest.
#include <fmt/format.h>

#include <bit>
#include <cassert>
#include <optional>

#include "fredsim/kernel_model/kernel.hpp"
#include "kernel_model/apicdef.hpp"
#include "kernel_model/kernel_internal.hpp"

namespace fredsim::kernel {

apic::IcrValue Kernel::prepare_icr(CpuId from, apic::Shorthand shorthand, apic::DeliveryMode mode,
                                   std::uint32_t vector, std::uint32_t dest_apic_id) const {
  // The NMI-source series' encoder: NMI mode carries the source vector only when
  // NMI-source is on; Linux's plain NMI_VECTOR request is bare NMI mode, so its
  // receivers see bit 0, never bit 2 (reference/hardware.md §3).
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
    machine_.write_icr(
        from, prepare_icr(from, apic::Shorthand::none, apic::DeliveryMode::nmi, vector, d));
  }
}

void Kernel::send_nmi_ipi_shorthand(CpuId from, apic::Shorthand shorthand, unsigned vector) {
  machine_.write_icr(from, prepare_icr(from, shorthand, apic::DeliveryMode::nmi, vector, 0));
}

namespace {
// The handler Linux registers for each of these senders (reference/linux-nmi.md table).
struct RoleDefault {
  HandlerModel model;
  std::string_view name;
  unsigned flags;
  unsigned vector;
};
constexpr RoleDefault kRoleDefaults[] = {
    {HandlerModel::pmi, "PMI", 0, nmis::VECTOR_PMI},
    {HandlerModel::selftest, "nmi_selftest", NMI_FLAG_FIRST, nmis::VECTOR_TEST},
    {HandlerModel::stop, "smp_stop", NMI_FLAG_FIRST, nmis::VECTOR_SMP_STOP},
    {HandlerModel::backtrace, "arch_bt", 0, nmis::VECTOR_BT},
    {HandlerModel::kgdb, "kgdb", 0, nmis::VECTOR_KGDB},
    {HandlerModel::mce, "mce", 0, nmis::VECTOR_MCE},
};
const RoleDefault& role_default(HandlerModel model) {
  for (const auto& d : kRoleDefaults) {
    if (d.model == model) return d;
  }
  assert(false && "ensure_role of a model without a sender");
  return kRoleDefaults[0];
}
}  // namespace

std::optional<HandlerModel> reserved_handler_model(std::string_view name) {
  for (const auto& d : kRoleDefaults) {
    if (d.name == name) return d.model;
  }
  return std::nullopt;
}

std::vector<std::string_view> reserved_handler_names() {
  std::vector<std::string_view> names;
  for (const auto& d : kRoleDefaults)
    names.push_back(d.name);
  return names;
}

HandlerId Kernel::ensure_role(HandlerModel model) {
  HandlerId& role = roles_[static_cast<int>(model)];
  if (role != kNoHandler && actions_[role].registered) return role;
  const RoleDefault& d = role_default(model);
  // The name is reserved for this model, so a handler registered under it on
  // the LOCAL list is this role's (registered by a user to configure it).
  if (const auto it = by_name_[static_cast<int>(NmiType::local)].find(d.name);
      it != by_name_[static_cast<int>(NmiType::local)].end() && actions_[it->second].registered) {
    assert(actions_[it->second].model == model);
    role = it->second;
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
    if (c >= machine_.cpu_count()) continue;
    if (c == from) {
      // The sender prints its own backtrace directly, without an NMI.
      if (!exclude_self) printk(from, fmt::format("NMI backtrace for cpu {}", from));
      continue;
    }
    add_work(h, c);
    targets.push_back(c);
  }
  if (!targets.empty()) {
    printk(from, fmt::format("Sending NMI from CPU {} to {} CPUs", from, targets.size()));
    send_nmi_ipi(from, targets, nmis::VECTOR_BT);
  }
}

void Kernel::stop_other_cpus(CpuId from) {
  // Only the first CPU to get here stops the others (native_stop_other_cpus'
  // cmpxchg on stopping_cpu); a later call returns. Taking it over would make
  // the first stopper's handler claim the NMI without its work.
  if (stopping_cpu_ != kNoCpu) return;
  stopping_cpu_ = from;
  const HandlerId h = ensure_role(HandlerModel::stop);
  for (CpuId c = 0; c < machine_.cpu_count(); ++c) {
    if (c != from) add_work(h, c);
  }
  if (machine_.cpu_count() > 1) {
    send_nmi_ipi_shorthand(from, apic::Shorthand::all_excluding_self, nmis::VECTOR_SMP_STOP);
  }
}

void Kernel::kgdb_roundup(CpuId from) {
  kgdb_active_ = true;
  const HandlerId h = ensure_role(HandlerModel::kgdb);
  for (CpuId c = 0; c < machine_.cpu_count(); ++c) {
    if (c != from) add_work(h, c);
  }
  if (machine_.cpu_count() > 1) {
    send_nmi_ipi_shorthand(from, apic::Shorthand::all_excluding_self, nmis::VECTOR_KGDB);
  }
}

void Kernel::mce_inject(CpuId from, std::span<const CpuId> targets) {
  const HandlerId h = ensure_role(HandlerModel::mce);
  for (CpuId c : targets) {
    if (c < machine_.cpu_count()) add_work(h, c);
  }
  send_nmi_ipi(from, targets, nmis::VECTOR_MCE);
}

void Kernel::pmu_overflow(CpuId cpu, unsigned counters) {
  const HandlerId h = ensure_role(HandlerModel::pmi);
  const std::uint64_t mask =
      counters >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << counters) - 1;
  // A counter that overflows again before its PMI was handled adds no sample.
  const std::uint64_t fresh = mask & ~machine_.cpu(cpu).perf_global_status();
  if (fresh != 0) add_work(h, cpu, static_cast<std::uint32_t>(std::popcount(fresh)));
  machine_.pmu_overflow(cpu, mask);
}

void Kernel::external_nmi(CpuId cpu, NmiReason reason) {
  if (reason != NmiReason::none) reason_owner_ = cpu;
  machine_.external_nmi(cpu, reason);
}

// --- The NMI selftest (reference/linux-nmi.md "The selftest") ----------------------

void Kernel::run_selftest(CpuId from) {
  if (selftest_run_) {
    printk(from, "NMI selftest already running");
    return;
  }
  selftest_run_ = std::make_unique<Selftest>();
  selftest_run_->from = from;
  ++selftest_.runs;
  printk(from, "----------------");
  printk(from, "| NMI testsuite:");
  printk(from, "--------------------");
  selftest_begin_stage();
}

void Kernel::selftest_begin_stage() {
  Selftest& s = *selftest_run_;
  CpuCtx& c = *cpus_[s.from];
  s.targets.clear();
  if (s.stage == Selftest::Stage::remote) {
    for (CpuId i = 0; i < machine_.cpu_count(); ++i) {
      if (i != s.from) s.targets.push_back(i);
    }
    if (s.targets.empty()) {
      // One CPU: the remote test is skipped and counts as passed.
      selftest_record(" remote IPI:", "  ok  | (skipped: no other CPU)", true, false);
      return;
    }
  } else {
    s.targets.push_back(s.from);
  }
  // The test registers its handler for the stage and unregisters it after; a
  // handler of that name already registered (a scenario configuring it, the
  // name being reserved for this model) serves instead and stays.
  const auto& local = by_name_[static_cast<int>(NmiType::local)];
  if (const auto it = local.find(role_default(HandlerModel::selftest).name);
      it != local.end() && actions_[it->second].registered) {
    s.handler = it->second;
    s.owns_handler = false;
  } else {
    // Cannot be refused: the name is free on the list and reserved for this model.
    const RoleDefault& d = role_default(HandlerModel::selftest);
    auto r = register_model(NmiType::local, d.model, d.flags, d.name, d.vector);
    assert(r.ok());
    s.handler = *r;
    s.owns_handler = true;
  }
  for (CpuId t : s.targets)
    add_work(s.handler, t);
  send_nmi_ipi(s.from, s.targets, nmis::VECTOR_TEST);
  // Wait up to a second for the mask to empty.
  s.deadline = machine_.now() + machine_.timing().get(TimingParam::core_mhz) * 1'000'000;
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::selftest_poll), c, kSelftestPoll);
}

void Kernel::selftest_step(CpuCtx& c) {
  if (!selftest_run_) return;
  Selftest& s = *selftest_run_;
  bool empty = true;
  for (CpuId t : s.targets)
    empty = empty && pending_work(s.handler, t) == 0;
  const char* name = s.stage == Selftest::Stage::remote ? " remote IPI:" : "  local IPI:";
  if (empty || machine_.now() >= s.deadline) {
    if (s.owns_handler) unregister_nmi_handler(NmiType::local, actions_[s.handler].name);
    // A timed-out test leaves its bits: they are not the kernel's work any more.
    for (CpuId t : s.targets)
      take_work(s.handler, t);
    selftest_record(name, empty ? "  ok  |" : "TIMEOUT|", empty, !empty);
    return;
  }
  machine_.queue().schedule_in(machine_.timing().get(TimingParam::selftest_poll), c, kSelftestPoll);
}

void Kernel::selftest_record(const char* name, const char* verdict, bool passed, bool timeout) {
  Selftest& s = *selftest_run_;
  ++s.tests;
  if (passed) {
    ++selftest_.passed;
  } else {
    ++s.failures;
    if (timeout) {
      ++selftest_.timeout;
    } else {
      ++selftest_.failed;
    }
  }
  printk(s.from, fmt::format("{} {}", name, verdict));
  if (s.stage == Selftest::Stage::remote) {
    s.stage = Selftest::Stage::local;
    selftest_begin_stage();
    return;
  }
  printk(s.from, "--------------------");
  if (s.failures == 0) {
    printk(s.from, fmt::format("Good, all {} testcases passed!", s.tests));
  } else {
    printk(s.from, fmt::format("BUG: {} unexpected failures (out of {})", s.failures, s.tests));
  }
  selftest_run_.reset();
}

}  // namespace fredsim::kernel
