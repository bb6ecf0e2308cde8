// The built-in handler models (docs/scenarios.md "Handler models"; docs/linux.md
// "Senders and their handlers" and "Perf's handler"). Costs are read from the
// timing profile at call time unless the registration fixed them.
#include <fmt/format.h>

#include <bit>

#include "fredsim/cpu/arch.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "kernel/apicdef.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {
namespace {

struct Costs {
  TimingParam check;
  TimingParam handle;
};

Costs model_costs(HandlerModel m) {
  switch (m) {
    case HandlerModel::ghes:
      return {TimingParam::ghes_check, TimingParam::ghes_handle};
    case HandlerModel::pmi:
      return {TimingParam::pmi_check, TimingParam::pmi_handle};
    case HandlerModel::selftest:
      return {TimingParam::selftest_check, TimingParam::selftest_handle};
    case HandlerModel::stop:
      return {TimingParam::stop_check, TimingParam::stop_handle};
    case HandlerModel::backtrace:
      return {TimingParam::backtrace_check, TimingParam::backtrace_handle};
    case HandlerModel::kgdb:
      return {TimingParam::kgdb_check, TimingParam::kgdb_handle};
    case HandlerModel::mce:
      return {TimingParam::mce_check, TimingParam::mce_handle};
    default:
      return {TimingParam::device_check, TimingParam::device_handle};
  }
}

// AMD's perf handler claims unattributed NMIs for 100 ms after a real PMI.
constexpr std::uint64_t kAmdClaimWindowMs = 100;

}  // namespace

NmiHandlerFn Kernel::make_model(HandlerId id, HandlerModel model, Cycle check, Cycle handle) {
  const Costs costs = model_costs(model);
  // A cost fixed at registration, or the profile's at call time.
  auto check_cost = [this, check, costs] {
    return check != 0 ? check : machine_.timing().get(costs.check);
  };
  auto handle_cost = [this, handle, costs] {
    return handle != 0 ? handle : machine_.timing().get(costs.handle);
  };
  (void)id;

  switch (model) {
    case HandlerModel::custom:
    case HandlerModel::device:
    case HandlerModel::ghes:
      return [this, check_cost, handle_cost](NmiType type, const PtRegs&, NmiContext& ctx) {
        ctx.charge(check_cost());
        std::uint32_t n = 0;
        if (type == NmiType::serr || type == NmiType::io_check) {
          // A platform error handler: its work is the latched port 0x61 reason.
          const std::uint8_t bit =
              type == NmiType::serr ? machine::port61::kSerr : machine::port61::kIochk;
          const std::uint8_t clear = type == NmiType::serr ? machine::port61::kSerrDisable
                                                           : machine::port61::kIochkDisable;
          if (platform_.nmi_reason() & bit) {
            platform_.port_out(machine::port61::kPort, clear);
            platform_.port_out(machine::port61::kPort, 0);
            n = 1;
          }
        } else {
          n = ctx.take_work();
        }
        ctx.charge(n * handle_cost());
        return static_cast<int>(n);
      };

    case HandlerModel::pmi:
      return [this, check_cost, handle_cost](NmiType, const PtRegs&, NmiContext& ctx) {
        using namespace cpu::arch;
        ctx.charge(check_cost());
        cpu::Cpu& cpu = ctx.cpu_model();
        CpuCtx& c = *cpus_[ctx.cpu()];
        // Unmask LVTPC by rewriting it, then read and clear the overflow status.
        const std::uint32_t vector = nmi_source_enabled(ctx.cpu()) ? nmis::VECTOR_PMI : 0;
        platform_.apic_write(ctx.cpu(), apicdef::APIC_LVTPC, apicdef::APIC_DM_NMI | vector);
        const std::uint64_t status = platform_.perf_global_status(ctx.cpu());
        const int n = std::popcount(status);
        if (n > 0) {
          platform_.perf_global_ack(ctx.cpu(), status);
          // perf_event_overflow() of each counter: one of KVM's vPMU events
          // calls kvm_perf_overflow (arch/x86/kvm/pmu.c).
          if (perf_sink_ != nullptr) perf_sink_->perf_overflow(cpu.id(), status);
          ctx.take_work();
          c.had_pmi = true;
          c.last_pmi = ctx.now();
          ctx.charge(static_cast<Cycle>(n) * handle_cost());
          return n;
        }
        if (config_.perf_amd_claim_window && c.had_pmi) {
          const Cycle window =
              kAmdClaimWindowMs * machine_.timing().get(TimingParam::core_mhz) * 1000;
          if (ctx.now() - c.last_pmi < window) return NMI_HANDLED;  // swallowed
        }
        return NMI_DONE;
      };

    // Mask-like handlers: NMI_DONE unless their CPU's bit is set; then they
    // clear it and return NMI_HANDLED, at most 1, so they never arm the swallow
    // flag on their own. nmi_selftest's test_nmi_ipi_callback (its cpumask), and
    // mce_raise_notify (arch/x86/kernel/cpu/mce/inject.c: mce_inject_cpumask;
    // it then raises the MCE).
    case HandlerModel::selftest:
    case HandlerModel::mce:
      return [check_cost, handle_cost](NmiType, const PtRegs&, NmiContext& ctx) {
        ctx.charge(check_cost());
        if (ctx.take_work() == 0) return NMI_DONE;
        ctx.charge(handle_cost());
        return NMI_HANDLED;
      };

    case HandlerModel::backtrace:
      return [this, check_cost, handle_cost](NmiType, const PtRegs&, NmiContext& ctx) {
        ctx.charge(check_cost());
        if (ctx.take_work() == 0) return NMI_DONE;
        ctx.charge(handle_cost());
        console_.printk(ctx.cpu(), fmt::format("NMI backtrace for cpu {}", ctx.cpu()));
        return NMI_HANDLED;
      };

    case HandlerModel::stop:
      return [this, check_cost, handle_cost](NmiType, const PtRegs&, NmiContext& ctx) {
        ctx.charge(check_cost());
        if (stopping_cpu_ == kNoCpu) return NMI_DONE;  // no stop in progress
        if (ctx.cpu() == stopping_cpu_) return NMI_HANDLED;
        ctx.take_work();
        ctx.charge(handle_cost());
        ctx.halt_cpu();  // stop_this_cpu(): never returns
        return NMI_HANDLED;
      };

    case HandlerModel::kgdb:
      // kgdb_nmi_handler (arch/x86/kernel/kgdb.c). NMI_LOCAL: while a session
      // is active (kgdb_active != -1) it claims every NMI on every CPU, the
      // roundup's or not, and sets the CPU's was_in_debug_nmi bit. NMI_UNKNOWN:
      // it claims one unknown NMI on a CPU whose bit is set, clearing it (the
      // NMI that follows a roundup). Other types: NMI_DONE.
      return [this, check_cost, handle_cost](NmiType type, const PtRegs&, NmiContext& ctx) {
        ctx.charge(check_cost());
        CpuCtx& c = *cpus_[ctx.cpu()];
        if (type == NmiType::local) {
          if (!kgdb_active_) return NMI_DONE;
          ctx.take_work();  // the roundup's bit, when this is its NMI
          ctx.charge(handle_cost());
          c.was_in_debug_nmi = true;
          return NMI_HANDLED;
        }
        if (type == NmiType::unknown && c.was_in_debug_nmi) {
          c.was_in_debug_nmi = false;
          return NMI_HANDLED;
        }
        return NMI_DONE;
      };
  }
  return nullptr;
}

}  // namespace fredsim::kernel
