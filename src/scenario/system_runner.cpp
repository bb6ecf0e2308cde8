// Scenario -> System: the configuration, the handlers, the events; and System ->
// result (docs/format.md "Result JSON").
#include "fredsim/scenario/system_runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <numeric>
#include <sstream>

#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/cpu/arch.hpp"
#include "fredsim/scenario/trace_counts.hpp"
#include "fredsim/vmx.hpp"

namespace fredsim::scenario {
namespace {

/// The CPUs a destination names, for work items and kernel senders.
/// The CPUs a destination names, into `out` (a buffer the caller reuses, so a
/// repeated event allocates nothing once it has the machine's size).
const std::vector<CpuId>& dest_cpus(const Destination& d, CpuId from, std::uint32_t cpus,
                                    std::vector<CpuId>& out) {
  out.clear();
  switch (d.kind) {
    case Destination::Kind::self:
      out.push_back(from);
      break;
    case Destination::Kind::all:
      out.resize(cpus);
      std::iota(out.begin(), out.end(), 0);
      break;
    case Destination::Kind::all_but_self:
      for (CpuId c = 0; c < cpus; ++c) {
        if (c != from) out.push_back(c);
      }
      break;
    case Destination::Kind::cpus:
      out.assign(d.cpus.begin(), d.cpus.end());
      break;
  }
  return out;
}

/// The ICR values CPU `from` writes for an "ipi" event or a handler's `send`:
/// delivery mode, vector field and destination exactly as written
/// (docs/hardware.md §3 "Local APIC"); one write per CPU of a list. Worked out
/// once, when the driver is built: an occurrence only writes them.
std::vector<apic::IcrValue> icr_writes(const Destination& dest, apic::DeliveryMode mode,
                                       std::uint32_t vector) {
  const apic::IcrValue icr =
      apic::IcrValue{}.with_delivery_mode(mode).with_vector(static_cast<std::uint8_t>(vector));
  std::vector<apic::IcrValue> out;
  auto add = [&](apic::Shorthand shorthand, std::uint32_t dest_id) {
    out.push_back(icr.with_shorthand(shorthand).with_destination(dest_id));
  };
  switch (dest.kind) {
    case Destination::Kind::self:
      add(apic::Shorthand::self, 0);
      break;
    case Destination::Kind::all:
      add(apic::Shorthand::all_including_self, 0);
      break;
    case Destination::Kind::all_but_self:
      add(apic::Shorthand::all_excluding_self, 0);
      break;
    case Destination::Kind::cpus:
      for (CpuId c : dest.cpus)
        add(apic::Shorthand::none, c);
      break;
  }
  return out;
}

/// CPU `from` writes those ICR values. `p` is the platform of the sending CPU:
/// the machine's APIC, or a VM's (each ICR write of a vCPU is a VM exit KVM
/// emulates).
void write_icrs(kernel::Platform& p, CpuId from, std::span<const apic::IcrValue> icrs) {
  for (const apic::IcrValue icr : icrs)
    p.write_icr(from, icr);
}

/// Resolves handler names to ids (the loader checked them).
std::vector<kernel::HandlerId> handler_ids(const kernel::Kernel& k,
                                           const std::vector<std::string>& names) {
  std::vector<kernel::HandlerId> out;
  for (const auto& name : names) {
    const kernel::HandlerId h = k.registry().find_handler(name);
    if (h != kernel::kNoHandler) out.push_back(h);
  }
  return out;
}

/// Runs the scenario's events: kind = event index, arg = occurrence.
class Driver final : public EventTarget {
 public:
  Driver(const ScenarioSpec& spec, system::System& sys) : spec_(spec), sys_(sys) {
    // Each event's work names, resolved once: a repeated event looks up nothing.
    work_.resize(spec.events.size());
    ipis_.resize(spec.events.size());
    for (std::size_t e = 0; e < spec.events.size(); ++e) {
      const EventSpec& ev = spec.events[e];
      kernel::Kernel& k = kernel_of(ev.vm);
      work_[e] = handler_ids(k, ev.work);
      if (ev.type == EventType::ipi) {
        IpiPlan& p = ipis_[e];
        p.platform = &k.platform();
        p.registry = &k.registry();
        p.from = ev.from;
        p.icrs = icr_writes(ev.dest, ev.mode, ev.vector);
        // The CPUs its work goes to: the destination depends on the file
        // alone, so every occurrence uses the list worked out here.
        if (!work_[e].empty()) {
          std::vector<CpuId> cpus;
          dest_cpus(ev.dest, ev.from, k.cpu_count(), cpus);
          for (kernel::HandlerId h : work_[e]) {
            for (CpuId c : cpus)
              p.work.emplace_back(h, c);
          }
        }
      }
    }
    // A VM has at most one vCPU per host CPU: the machine's count bounds every list.
    dest_.reserve(sys.machine().cpu_count());
    watch_handlers();
  }
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;
  ~Driver() {
    // The kernel may outlive the driver: it must not call a watch that is gone.
    for (const auto& w : watches_)
      kernel_of(w->vm()).registry().observe_calls(w->name(), nullptr);
  }

  /// Schedules the first occurrence of every event (and the end of every
  /// interval); each occurrence schedules the next when it fires, so a storm of
  /// 10^9 NMIs holds one queue entry. Each event runs under a sequence number
  /// reserved now, base + its file position: at one cycle the scenario's events
  /// come in file order and before anything the machine scheduled after the
  /// start (docs/scenarios.md "Order").
  void schedule_all() {
    EventQueue& q = sys_.machine().queue();
    // The VMs' entries and ends first (a guest event at a VM's `at` finds it
    // started), then the events in file order.
    seq_base_ = q.reserve_seqs(spec_.vms.size() + spec_.events.size());
    const auto events = static_cast<std::uint32_t>(spec_.events.size());
    for (std::uint32_t i = 0; i < spec_.vms.size(); ++i) {
      q.schedule_reserved(spec_.vms[i].at, seq_base_ + i, *this, events + i, 0);
      if (spec_.vms[i].until)
        q.schedule_reserved(*spec_.vms[i].until, seq_base_ + i, *this, events + i, 1);
    }
    for (std::uint32_t e = 0; e < spec_.events.size(); ++e) {
      const EventSpec& ev = spec_.events[e];
      if (ev.count == 0 || ev.after) continue;  // a rendezvous schedules its own
      q.schedule_reserved(ev.at, seq_of(e), *this, e, 0);
      if ((ev.type == EventType::user || ev.type == EventType::guest ||
           ev.type == EventType::irqs_off) &&
          ev.until) {
        // The end of a user, guest or irqs_off interval: arg bit 0 (intervals do not repeat).
        q.schedule_reserved(*ev.until, seq_of(e), *this, e, 1);
      }
    }
  }

  void on_event(std::uint32_t kind, std::uint64_t arg) override {
    occur_with_riders(kind, arg);
    // The scenario's next event, when it is the queue's next and due now (the
    // three ICR writes of kvm-unit-tests' "multiple nmi"), runs here: the same
    // event in the same place of the order, without a trip through the run loop.
    EventQueue& q = sys_.machine().queue();
    while (q.take_next_of(*this, kind, arg))
      occur_with_riders(kind, arg);
  }
  std::string_view event_name(std::uint32_t kind) const override {
    // Past the file's events: a VM's start or stop (schedule_all).
    if (kind >= spec_.events.size()) return "vm";
    return to_string(spec_.events[kind].type);
  }

 private:
  /// occur(), then the same occurrence of the events that ride with `kind`
  /// (riders_): the rendezvous the call that met it met too. meet() scheduled
  /// only the first; each of the others runs now, right after it, when nothing
  /// queued comes between them in the order (the queue's claim_reserved()),
  /// and is scheduled as meet() would have scheduled it otherwise, so the
  /// order is the one a schedule of each at the meeting gives.
  void occur_with_riders(std::uint32_t kind, std::uint64_t arg) {
    occur(kind, arg);
    if (kind >= riders_.size() || riders_[kind].empty()) return;
    EventQueue& q = sys_.machine().queue();
    const std::vector<std::uint32_t>& riders = riders_[kind];
    std::size_t i = 0;
    for (; i < riders.size() && q.claim_reserved(seq_of(riders[i])); ++i)
      occur(riders[i], arg);
    // The rest come after the one that could not run (they are in file order).
    for (; i < riders.size(); ++i)
      q.schedule_reserved(sys_.now(), seq_of(riders[i]), *this, riders[i], arg);
  }

  /// Occurrence `arg` of event `kind` (or a VM's start or stop, schedule_all).
  void occur(std::uint32_t kind, std::uint64_t arg) {
    if (kind >= spec_.events.size()) {
      // A VM's `at` (arg 0: its vCPUs enter) or `until` (arg 1: they leave).
      kernel::Vm& vm = *sys_.vms()[kind - spec_.events.size()];
      if (arg == 0) {
        vm.start();
      } else {
        vm.stop();
      }
      return;
    }
    const EventSpec& ev = spec_.events[kind];
    const bool end_of_interval = (arg & 1) != 0;
    if (!end_of_interval && !ev.after) {
      const std::uint64_t next = (arg >> 1) + 1;
      if (next < ev.count) {
        sys_.machine().queue().schedule_reserved(ev.occurrence(next), seq_of(kind), *this, kind,
                                                 next << 1);
      }
    }
    if (ev.type == EventType::ipi) {
      // The raw "ipi" event: its work, then the ICR exactly as the scenario
      // gives it, from its plan alone.
      const IpiPlan& p = ipis_[kind];
      for (const auto& [h, c] : p.work)
        p.registry->add_work(h, c, 1);
      write_icrs(*p.platform, p.from, p.icrs);
      return;
    }
    // A guest event (`vm = NAME`): the guest kernel's senders and PMU on the
    // VM's vCPUs, whose ICR writes go to KVM's emulated APIC.
    kernel::Kernel& k = kernel_of(ev.vm);
    machine::Machine& m = sys_.machine();
    const std::uint32_t cpus = k.cpu_count();
    switch (ev.type) {
      case EventType::ipi:
        break;  // above
      case EventType::pmi:
        k.pmu_overflow(ev.cpu, ev.counters);
        break;
      case EventType::external: {
        const CpuId one[] = {ev.cpu};
        give_work(kind, one);
        k.external_nmi(ev.cpu, ev.reason);
        break;
      }
      case EventType::user:
        m.cpu(ev.cpu).set_user_mode(!end_of_interval);
        break;
      case EventType::guest:
        if (end_of_interval) {
          sys_.kvm().stop_guest(ev.cpu);
        } else {
          sys_.kvm().request_guest(ev.cpu, ev.nmi_exiting, ev.guest);
        }
        break;
      case EventType::backtrace: {
        // trigger_all_cpu_backtrace() is the all-CPU mask with the sender excluded.
        const bool all_but_self = ev.dest.kind == Destination::Kind::all_but_self;
        const Destination mask = all_but_self ? Destination{Destination::Kind::all, {}} : ev.dest;
        k.trigger_backtrace(ev.from, dest_cpus(mask, ev.from, cpus, dest_), all_but_self);
        break;
      }
      case EventType::stop:
        k.stop_other_cpus(ev.from);
        break;
      case EventType::selftest:
        k.run_selftest(ev.from);
        break;
      case EventType::kgdb:
        k.kgdb_roundup(ev.from);
        break;
      case EventType::mce:
        k.mce_inject(ev.from, dest_cpus(ev.dest, ev.from, cpus, dest_));
        break;
      case EventType::irqs_off:
        // CLI at `at`, STI at `until` in the CPU's ordinary code; a CPU that
        // stop_this_cpu() halted keeps interrupts off for good.
        if (!k.cpu_state(ev.cpu).halted) m.cpu(ev.cpu).set_interrupt_flag(end_of_interval);
        break;
      case EventType::kvm_nmi:
        // User space's KVM_NMI ioctl on the vCPU (the loader requires `vm`).
        if (ev.vm) sys_.vms()[*ev.vm]->kvm_nmi(ev.cpu);
        break;
      case EventType::sti:
      case EventType::mov_ss:
        // The CPU's ordinary code executes STI (IF was 0) or MOV SS now.
        m.cpu(ev.cpu).open_shadow(
            ev.type == EventType::sti ? cpu::Shadow::sti : cpu::Shadow::mov_ss, ev.blocks_nmi);
        break;
    }
  }

  /// What one handler does besides its model: its [[handler.action]] tables and
  /// the events with `after` that count its calls (docs/scenarios.md "Handler
  /// actions and rendezvous"). The kernel calls it inside each call of the
  /// handler; it allocates nothing there.
  class Watch final : public kernel::CallObserver {
   public:
    struct Action {
      const HandlerActionSpec* spec;
      std::vector<kernel::HandlerId> work;
      std::vector<apic::IcrValue> icrs;  // one `send`'s writes
    };
    struct Rendezvous {
      std::uint32_t event;     // index in spec.events
      std::uint64_t next = 1;  // the occurrence (1-based) due next
      // What on_call() tests, worked out when `next` moves so that a call that
      // meets nothing costs two compares: the count `next` is due at (next *
      // calls), the CPU it counts on (any: every CPU's calls) and whether an
      // occurrence is left at all (not when the product overflows).
      std::uint64_t due = 0;
      CpuId cpu = 0;
      bool any_cpu = true;
      bool armed = false;
      // The event's `after`, `count` and order, copied at setup: a meet
      // reads nothing but this record.
      std::uint64_t calls = 1;
      std::uint64_t count = 0;
      Cycle delay = 0;
      std::uint64_t seq_offset = 0;  // seq_offset_of(event)
      /// Met by every call that meets `o`, at the same occurrence and cycle.
      bool meets_with(const Rendezvous& o) const {
        return any_cpu == o.any_cpu && cpu == o.cpu && calls == o.calls && count == o.count &&
               delay == o.delay;
      }
    };

    Watch(Driver& d, std::string name, std::optional<std::size_t> vm)
        : d_(d), name_(std::move(name)), vm_(vm) {}
    const std::string& name() const { return name_; }
    /// The VM whose guest kernel the handler belongs to; unset: the host's.
    std::optional<std::size_t> vm() const { return vm_; }
    std::vector<Action> actions;
    std::vector<Rendezvous> rendezvous;

    Cycle on_call(const kernel::HandlerCall& call) override {
      Cycle spent = 0;
      for (const Action& a : actions) {
        if (a.spec->acts_on(call.cpu, call.call_on_cpu)) spent += d_.act(a, call.cpu, vm_);
      }
      for (Rendezvous& r : rendezvous) {
        if (!r.armed) continue;
        if (r.any_cpu ? call.calls == r.due : call.cpu == r.cpu && call.call_on_cpu == r.due)
          d_.meet(r);
      }
      return spent;
    }

   private:
    Driver& d_;
    std::string name_;
    std::optional<std::size_t> vm_;
  };

  kernel::Kernel& kernel_of(std::optional<std::size_t> vm) const {
    return vm ? sys_.vms()[*vm]->kernel() : sys_.kernel();
  }

  /// One Watch per handler that has actions or that an event's `after` names,
  /// in file order (handlers, then events); the kernel's own handlers are
  /// watched from when the kernel registers them.
  void watch_handlers() {
    auto watch_of = [&](const std::string& name, std::optional<std::size_t> vm) -> Watch& {
      for (auto& w : watches_) {
        if (w->name() == name && w->vm() == vm) return *w;
      }
      watches_.push_back(std::make_unique<Watch>(*this, name, vm));
      return *watches_.back();
    };
    for (const HandlerSpec& h : spec_.handlers) {
      if (h.actions.empty()) continue;
      Watch& w = watch_of(h.name, h.vm);
      for (const HandlerActionSpec& a : h.actions)
        w.actions.push_back(
            {&a, handler_ids(kernel_of(h.vm), a.work), icr_writes(a.dest, a.mode, a.vector)});
    }
    // By file position, so two rendezvous met by one call schedule in file order.
    std::vector<std::uint32_t> order;
    for (std::uint32_t e = 0; e < spec_.events.size(); ++e) {
      if (spec_.events[e].after && spec_.events[e].count > 0) order.push_back(e);
    }
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return spec_.events[a].file_index < spec_.events[b].file_index;
    });
    riders_.resize(spec_.events.size());
    for (std::uint32_t e : order) {
      const EventSpec& ev = spec_.events[e];
      Watch::Rendezvous r{e};
      r.any_cpu = !ev.after->cpu;
      r.cpu = ev.after->cpu.value_or(0);
      r.calls = ev.after->calls;
      r.count = ev.count;
      r.delay = ev.after->delay;
      r.seq_offset = seq_offset_of(e);
      arm(r);
      Watch& w = watch_of(ev.after->handler, ev.vm);
      // The same `after`, count and delay as the watch's last rendezvous (the
      // two ICR writes and the fixed IPI of kvm-unit-tests' "multiple nmi"):
      // every call that meets that one meets this one, so it rides with it
      // (occur_with_riders) instead of being tested and queued on its own.
      if (!w.rendezvous.empty() && w.rendezvous.back().meets_with(r)) {
        riders_[w.rendezvous.back().event].push_back(e);
        continue;
      }
      w.rendezvous.push_back(r);
    }
    for (const auto& w : watches_)
      kernel_of(w->vm()).registry().observe_calls(w->name(), w.get());
  }

  /// A handler's `send`, from its CPU, at the call's cycle: `count` times the
  /// ICR write(s) of an "ipi" event, each costing the call `icr_write`.
  Cycle act(const Watch::Action& a, CpuId cpu, std::optional<std::size_t> vm) {
    const HandlerActionSpec& s = *a.spec;
    kernel::Kernel& k = kernel_of(vm);
    if (!a.work.empty()) {
      // The destination's CPUs without building a list: nothing is allocated here.
      auto give = [&](CpuId c) {
        for (kernel::HandlerId h : a.work)
          k.registry().add_work(h, c, s.count);
      };
      switch (s.dest.kind) {
        case Destination::Kind::self:
          give(cpu);
          break;
        case Destination::Kind::all:
        case Destination::Kind::all_but_self:
          for (CpuId c = 0; c < k.cpu_count(); ++c) {
            if (c != cpu || s.dest.kind == Destination::Kind::all) give(c);
          }
          break;
        case Destination::Kind::cpus:
          for (CpuId c : s.dest.cpus)
            give(c);
          break;
      }
    }
    if (a.icrs.size() == 1) {
      // One ICR `count` times: the platform writes them in one call.
      k.platform().write_icr_repeated(cpu, a.icrs.front(), s.count);
    } else {
      for (std::uint32_t i = 0; i < s.count; ++i)
        write_icrs(k.platform(), cpu, a.icrs);
    }
    const std::uint64_t writes = a.icrs.size() * s.count;
    return writes * sys_.machine().timing().get(TimingParam::icr_write);
  }

  /// Works out what the call watch tests for the rendezvous' occurrence
  /// `r.next`: due when the count it watches (on its CPU, or on all) reaches
  /// next * calls; none is left once `count` have been scheduled.
  static void arm(Watch::Rendezvous& r) {
    r.armed = r.next <= r.count && !__builtin_mul_overflow(r.next, r.calls, &r.due);
  }

  /// Schedules the rendezvous' next occurrence: the watch calls this when a
  /// call brings the count it watches to `r.due`.
  void meet(Watch::Rendezvous& r) {
    sys_.machine().queue().schedule_reserved(sys_.now() + r.delay, seq_base_ + r.seq_offset, *this,
                                             r.event, (r.next - 1) << 1);
    ++r.next;
    arm(r);
  }

  void give_work(std::uint32_t event, std::span<const CpuId> cpus) {
    if (work_[event].empty()) return;  // an event without `work` (most of a test's)
    kernel::Kernel& k = kernel_of(spec_.events[event].vm);
    for (kernel::HandlerId h : work_[event]) {
      for (CpuId c : cpus)
        k.registry().add_work(h, c, 1);
    }
  }

  const ScenarioSpec& spec_;
  system::System& sys_;
  /// Event `e`'s place among the numbers schedule_all() reserves: the VMs'
  /// first, then the events in file order.
  std::uint64_t seq_offset_of(std::uint32_t e) const {
    return spec_.vms.size() + spec_.events[e].file_index;
  }
  std::uint64_t seq_of(std::uint32_t e) const { return seq_base_ + seq_offset_of(e); }

  std::vector<std::vector<kernel::HandlerId>> work_;  // per event
  /// What an "ipi" event does at each occurrence, worked out at setup (the
  /// sender's platform, a VM's for a guest event, whose ICR writes go to KVM's
  /// emulated APIC): an occurrence reads this record and nothing else.
  struct IpiPlan {
    kernel::Platform* platform = nullptr;
    kernel::HandlerRegistry* registry = nullptr;
    CpuId from = 0;
    std::vector<apic::IcrValue> icrs;                       // its ICR writes
    std::vector<std::pair<kernel::HandlerId, CpuId>> work;  // its work items, in order
  };
  std::vector<IpiPlan> ipis_;  // per event (empty but for "ipi" events)
  std::vector<CpuId> dest_;    // an event's destination CPUs, reused
  std::vector<std::unique_ptr<Watch>> watches_;
  // Per event: the rendezvous that ride with it, in file order (watch_handlers).
  std::vector<std::vector<std::uint32_t>> riders_;
  std::uint64_t seq_base_ = 0;
};

struct Built {
  std::unique_ptr<system::System> system;
  std::unique_ptr<Driver> driver;
};

Result<Built> build(const ScenarioSpec& spec) {
  system::SystemConfig cfg;
  cfg.machine.cpus = spec.system.cpus;
  cfg.machine.features.fred = spec.system.delivery == Delivery::fred;
  cfg.machine.features.nmi_source = spec.system.nmi_source;
  cfg.machine.apic = spec.system.apic;
  auto profile = TimingProfile::named(spec.system.timing);
  if (!profile.ok()) {
    return spec.error_at(spec.system.keys.loc_of("timing", spec.system.loc),
                         profile.error().message);
  }
  cfg.machine.timing = *profile;
  // One clock: the kernel's cycles_to_ns, its udelay and rate windows read
  // core_mhz, the trace sinks and the result read system.frequency_mhz; the loader
  // folds timing.core_mhz into system.frequency_mhz, so the overrides never set it.
  cfg.machine.timing.set(TimingParam::core_mhz, spec.system.frequency_mhz);
  for (const auto& t : spec.timing) {
    assert(t.param != TimingParam::core_mhz);
    cfg.machine.timing.set(t.param, t.cycles);
  }
  cfg.kernel.revision = spec.system.kernel;
  cfg.kernel.unknown_nmi_panic = spec.kernel.unknown_nmi_panic;
  cfg.kernel.panic_on_unrecovered_nmi = spec.kernel.panic_on_unrecovered_nmi;
  cfg.kernel.panic_on_io_nmi = spec.kernel.panic_on_io_nmi;
  cfg.kernel.nmi_longest_ns = spec.kernel.nmi_longest_ns;
  cfg.kernel.source_vectors = spec.kernel.source_vectors;

  auto sys = system::System::create(cfg);
  if (!sys.ok()) return spec.error_at(spec.system.loc, sys.error().message);
  Built b;
  b.system = std::move(*sys);
  kernel::Kernel& k = b.system->kernel();
  k.record_dispatch_samples(true);
  for (std::uint32_t i = 0; i < spec.kernel.ignore_nmis; ++i)
    k.stop_nmi();
  // Each [[vm]]: its guest kernel, configured by the VM's own keys (the
  // sysctls it does not set are Linux's defaults), on the VM's vCPUs.
  for (const VmSpec& v : spec.vms) {
    kernel::VmConfig c;
    c.name = v.name;
    c.host_cpus = v.cpus;
    c.kernel.revision = v.kernel;
    c.kernel.use_fred = v.delivery == Delivery::fred;
    c.kernel.unknown_nmi_panic = v.unknown_nmi_panic;
    c.kernel.nmi_longest_ns = v.nmi_longest_ns;
    // The same kernel build as the host's: the NMI-source vectors it names.
    c.kernel.source_vectors = spec.kernel.source_vectors;
    c.nmi_source = v.nmi_source;
    c.apic = v.apic;
    c.nmi_exiting = v.nmi_exiting;
    c.virtual_nmis = v.virtual_nmis;
    b.system->add_vm(std::move(c));
  }
  for (const auto& h : spec.handlers) {
    kernel::Kernel& hk = h.vm ? b.system->vms()[*h.vm]->kernel() : k;
    auto r = hk.register_model(h.type, h.model, h.first ? kernel::NMI_FLAG_FIRST : 0u, h.name,
                               h.vector, h.check_cycles.value_or(0), h.handle_cycles.value_or(0));
    if (!r.ok()) return spec.error_at(h.loc, r.error().message);
  }
  b.driver = std::make_unique<Driver>(spec, *b.system);
  b.driver->schedule_all();
  return b;
}

/// The run's error when simulated time ran out (EventQueue::overrun()): the run
/// stopped there, so its counts are not the scenario's.
Status time_status(const ScenarioSpec& spec, system::System& sys) {
  const auto& o = sys.machine().queue().overrun();
  if (!o) return {};
  return Error{fmt::format(
      "{}: error: simulated time ran out at cycle {}: an event ({}) was due at {}, past cycle {} "
      "(2^50, the end of simulated time); the run stops there",
      spec.source_name, o->now, o->name,
      o->at == kNever ? std::string("a cycle beyond 64 bits") : fmt::format("cycle {}", o->at),
      kMaxCycle)};
}

void run_built(const ScenarioSpec& spec, system::System& sys) {
  if (spec.system.end) {
    sys.run_until(*spec.system.end);
  } else {
    sys.run_to_idle();
  }
}

std::uint64_t nmis_received(system::System& sys) {
  std::uint64_t n = 0;
  for (CpuId c = 0; c < sys.machine().cpu_count(); ++c)
    n += sys.machine().cpu(c).stats().nmi_received;
  return n;
}

/// run_built under limits: the same events in the same order (the loops of
/// System::run_until and run_to_idle), with a check of the interrupt flag and
/// the host clock every few thousand events (a fraction of a millisecond), and
/// of the machine's halt after every one. Returns why it stopped early.
StopReason run_limited(const ScenarioSpec& spec, system::System& sys, const RunLimits& limits) {
  using Clock = std::chrono::steady_clock;
  constexpr std::uint32_t kClockEvery = 4096;
  constexpr auto kQuietFor = std::chrono::seconds(2);
  constexpr auto kProgressEvery = std::chrono::milliseconds(250);
  const Cycle end = spec.system.end.value_or(kNever);
  const bool cut_by_cycles = limits.max_cycles && *limits.max_cycles < end;
  const Cycle horizon = cut_by_cycles ? *limits.max_cycles : end;
  EventQueue& q = sys.machine().queue();
  const Clock::time_point started = Clock::now();
  if (limits.deadline && started >= *limits.deadline) return StopReason::max_wall;
  Clock::time_point next_progress = started + kQuietFor;
  while (!sys.stopped()) {
    if (limits.interrupt && *limits.interrupt) return StopReason::interrupted;
    // Fewer: none left at or before the horizon, or the machine halted.
    if (q.run_batch(horizon, kClockEvery, sys.stopped_flag()) < kClockEvery) break;
    const Clock::time_point now = Clock::now();
    if (limits.deadline && now >= *limits.deadline) return StopReason::max_wall;
    if (limits.progress && now >= next_progress) {
      next_progress = now + kProgressEvery;
      limits.progress(RunProgress{sys.now(), nmis_received(sys),
                                  std::chrono::duration<double>(now - started).count()});
    }
  }
  if (sys.stopped()) return StopReason::none;
  if (cut_by_cycles) {
    const Cycle next = q.next_cycle();
    if (next != kNever && next <= end) {
      q.run_until(horizon);  // the clock ends at the limit
      return StopReason::max_cycles;
    }
  }
  if (end != kNever) q.run_until(end);  // as System::run_until
  return StopReason::none;
}

}  // namespace

Result<std::unique_ptr<system::System>> build_system(const ScenarioSpec& spec) {
  auto b = build(spec);
  if (!b.ok()) return b.error();
  // The driver must live as long as the system.
  b->system->adopt(std::shared_ptr<void>(std::move(b->driver)));
  return std::move(b->system);
}

namespace {
/// Shadow counters appear in the result only for scenarios with shadow events,
/// so every other result stays as it was.
bool uses_shadows(const ScenarioSpec& spec) {
  return std::any_of(spec.events.begin(), spec.events.end(), [](const EventSpec& e) {
    return e.type == EventType::sti || e.type == EventType::mov_ss;
  });
}
}  // namespace

static std::vector<HandlerResult> handler_results(const kernel::Kernel& k) {
  std::vector<HandlerResult> out;
  for (kernel::HandlerId h = 0; h < k.registry().handler_count(); ++h) {
    const kernel::NmiAction& a = k.registry().handler(h);
    HandlerResult hr;
    hr.name = a.name;
    hr.type = a.type;
    hr.vector = a.vector;
    hr.calls = a.total.calls;
    hr.handled = a.total.handled;
    hr.cycles = a.total.cycles;
    for (const auto& pc : a.per_cpu)
      hr.per_cpu.push_back({pc.calls, pc.handled});
    out.push_back(std::move(hr));
  }
  return out;
}

ScenarioResult collect_result(const ScenarioSpec& spec, system::System& sys) {
  ScenarioResult r;
  r.scenario = spec.name;
  r.config = config_of(spec.system);
  r.end_cycle = sys.now();
  const kernel::Kernel& k = sys.kernel();
  machine::Machine& m = sys.machine();
  for (CpuId c = 0; c < m.cpu_count(); ++c) {
    const auto& cs = m.cpu(c).stats();
    const auto& ks = k.cpu_state(c);
    CpuResult cr;
    cr.id = c;
    cr.nmi_received = cs.nmi_received;
    cr.nmi_coalesced = cs.nmi_coalesced;
    cr.nmi_delivered = cs.nmi_delivered;
    cr.vm_exits_nmi = cs.vm_exits_nmi;
    cr.dispatch_cycles = cs.dispatch_cycles;
    if (uses_shadows(spec)) {
      cr.shadow = ShadowCounts{cs.shadows, cs.nmi_deferred_shadow, cs.nmi_at_shadow_rip};
    }
    cr.stats = ks.stats;
    cr.lost = k.lost_work(c);
    cr.pmi_dropped = m.apic(c).counters().lvt_masked[apic::index_of(apic::Lvt::perfmon)];
    if (m.has_vmx(c)) {
      const vmx::VmxStats& vs = m.vmx(c).stats();
      cr.vm_exits_nmi_window = vs.exits_for(vmx::BasicExitReason::nmi_window);
      cr.vm_exits_from_hlt = vs.exits_from_hlt;
      cr.vm_entry_failures = vs.failed_entries;
    }
    r.cpus.push_back(cr);
  }
  r.handlers = handler_results(k);
  for (const auto& l : k.console().lines())
    r.console.push_back({l.cycle, l.cpu, l.text});
  for (const auto& vm : sys.vms()) {
    VmResult vr;
    vr.name = vm->name();
    const kernel::Kernel& g = vm->kernel();
    for (CpuId i = 0; i < vm->vcpu_count(); ++i) {
      const kernel::VcpuCounts& n = vm->counts(i);
      VcpuResult v{i,
                   vm->host_cpu(i),
                   n.nmi_injected,
                   n.nmi_window_exits,
                   n.nmi_delivered,
                   g.cpu_state(i).stats,
                   g.lost_work(i),
                   n.dispatch_cycles,
                   n.exit_cycles};
      v.nmi_collapsed = vm->nmis(i).stats().collapsed;
      v.kicks = n.kicks;
      v.icr_exits = n.icr_exits;
      v.nmi_ipis = n.nmi_ipis;
      v.pmis = n.pmis;
      v.fixed_ipis = n.fixed_ipis;
      v.irqs_injected = n.irqs_injected;
      v.irq_window_exits = n.irq_window_exits;
      vr.vcpus.push_back(v);
    }
    vr.handlers = handler_results(g);
    for (const auto& l : g.console().lines())
      vr.console.push_back({l.cycle, l.cpu, l.text});
    if (const auto& p = g.console().panic()) vr.panic = PanicRecord{p->cycle, p->cpu, p->message};
    r.vms.push_back(std::move(vr));
  }
  if (const auto& p = k.console().panic()) r.panic = PanicRecord{p->cycle, p->cpu, p->message};
  r.dispatch_samples = k.nmi_dispatch_samples();
  return r;
}

Result<ScenarioResult> SystemRunner::run(const ScenarioSpec& spec, RunOptions& options) const {
  auto b = build(spec);
  if (!b.ok()) return b.error();
  system::System& sys = *b->system;
  for (TraceSink* s : options.trace_sinks)
    sys.machine().tracer().add_sink(*s);
  // Trace expectations count records whether or not a trace was asked for.
  TraceCountSink trace_counts(spec.expects);
  if (trace_counts.active()) sys.machine().tracer().add_sink(trace_counts);
  StopReason stopped = StopReason::none;
  if (options.limits.any()) {
    stopped = run_limited(spec, sys, options.limits);
  } else {
    run_built(spec, sys);
  }
  sys.machine().tracer().flush();
  if (Status st = time_status(spec, sys); !st) {
    sys.machine().tracer().clear();
    return st.error();
  }
  ScenarioResult r = collect_result(spec, sys);
  r.stopped = stopped;
  r.trace_counts = trace_counts.counts();
  sys.machine().tracer().clear();
  return r;
}

// --- Stepping -------------------------------------------------------------------------

namespace {

/// The vectors whose bit is set in the ISR or IRR, "none" when none is.
std::string vector_list(const apic::LocalApic& a, bool isr) {
  std::string out;
  for (unsigned v = 0; v < 256; ++v) {
    const auto vec = static_cast<std::uint8_t>(v);
    if (isr ? a.isr_bit(vec) : a.irr_bit(vec))
      out += fmt::format("{}{:#04x}", out.empty() ? "" : " ", v);
  }
  return out.empty() ? "none" : out;
}

/// ESR bits by name (SDM Vol. 3A 11.5.3 "Error Handling", Figure 11-9).
std::string esr_names(std::uint32_t esr) {
  static constexpr std::pair<std::uint32_t, std::string_view> kBits[] = {
      {apic::APIC_ESR_SEND_CS, "send_checksum"},
      {apic::APIC_ESR_RECV_CS, "receive_checksum"},
      {apic::APIC_ESR_SEND_ACC, "send_accept"},
      {apic::APIC_ESR_RECV_ACC, "receive_accept"},
      {apic::APIC_ESR_REDIRECTABLE_IPI, "redirectable_ipi"},
      {apic::APIC_ESR_SENDILL, "send_illegal_vector"},
      {apic::APIC_ESR_RECVILL, "receive_illegal_vector"},
      {apic::APIC_ESR_ILLREGA, "illegal_register_address"},
  };
  std::string out;
  for (const auto& [bit, name] : kBits) {
    if ((esr & bit) != 0) out += fmt::format("{}{}", out.empty() ? "" : ",", name);
  }
  return out.empty() ? "none" : out;
}

/// `print apic N`: the registers of one local APIC, every LVT decoded by the
/// fields it has (SDM Vol. 3A 11.5.1 "Local Vector Table", Figure 11-8).
std::string describe_apic(const apic::LocalApic& a) {
  std::string out = fmt::format(
      "apic {}: mode={} id={:#x} software_enabled={} svr={:#x} tpr={:#x} ldr={:#x} icr={:#x}\n",
      a.cpu(), apic::apic_mode_name(a.mode()), a.apic_id(), a.software_enabled(), a.svr(), a.tpr(),
      a.ldr(), a.icr().raw());
  for (const apic::LvtInfo& info : apic::kLvtInfo) {
    const apic::LvtEntry e = a.lvt(info.lvt);
    out += fmt::format("  lvt {:<8} {:#010x} {} vector={}", info.name, e.raw(),
                       e.masked() ? "masked  " : "unmasked", e.vector());
    if (info.has_delivery_mode)
      out += fmt::format(" mode={}", apic::delivery_mode_name(e.delivery_mode()));
    if (info.has_timer_mode) {
      static constexpr std::string_view kTimer[] = {"one_shot", "periodic", "tsc_deadline",
                                                    "reserved"};
      out += fmt::format(" timer={}", kTimer[static_cast<unsigned>(e.timer_mode()) & 3]);
    }
    if (info.has_lint_fields) {
      out += fmt::format(" trigger={} polarity={} remote_irr={}",
                         e.trigger() == apic::LvtTrigger::level ? "level" : "edge",
                         e.polarity() == apic::Polarity::active_low ? "active_low" : "active_high",
                         e.remote_irr());
    }
    if (e.delivery_status()) out += " send_pending";
    out += '\n';
  }
  out += fmt::format("  isr: {}\n  irr: {}\n", vector_list(a, true), vector_list(a, false));
  out += fmt::format("  esr={:#x} ({}); since the last ESR write: {:#x} ({})", a.esr(),
                     esr_names(a.esr()), a.esr_pending(), esr_names(a.esr_pending()));
  return out;
}

/// `print vm NAME` and `print vcpu`: a vCPU's line (docs/cli.md "step").
std::string describe_vcpu(system::System& s, const kernel::Vm& vm, CpuId v, bool done) {
  const CpuId host = vm.host_cpu(v);
  // In or out of the guest: the host CPU's VMX mode (root: KVM's host code,
  // or the vCPU has left the VM).
  const std::string_view mode =
      s.machine().has_vmx(host) ? vmx::vmx_mode_name(s.machine().vmx(host).mode()) : "root";
  const kernel::VirtualNmiQueue& q = vm.nmis(v);
  const kernel::VcpuCounts& n = vm.counts(v);
  const kernel::NmiStats& st = vm.kernel().cpu_state(v).stats;
  return fmt::format(
      "vcpu {}: host_cpu={} vmx={} booted={}\n"
      "    virtual nmis: queued={} pending={} pending_sources={:#x} injection_in_flight={}\n"
      "    injected={} window_exits={} delivered={} collapsed={} kicks={} icr_exits={} "
      "nmi_ipis={} pmis={}\n"
      "    guest: in_dispatch={} normal={} unknown={} external={} swallow={} {}={} lvtpc={:#x}",
      v, host, mode, vm.booted(v), q.queued(), q.pending(), q.pending_sources(),
      q.injection_in_flight(), n.nmi_injected, n.nmi_window_exits, n.nmi_delivered,
      q.stats().collapsed, n.kicks, n.icr_exits, n.nmi_ipis, n.pmis,
      vm.kernel().cpu_state(v).in_dispatch, st.normal, st.unknown, st.external, st.swallow,
      done ? "lost" : "pending", vm.kernel().lost_work(v), vm.apic(v).lvtpc);
}

class SystemSession final : public ScenarioSession {
 public:
  SystemSession(const ScenarioSpec& spec, Built built, RunOptions& options)
      : spec_(spec),
        b_(std::move(built)),
        interrupt_(options.limits.interrupt),
        trace_counts_(spec.expects) {
    for (TraceSink* s : options.trace_sinks)
      b_.system->machine().tracer().add_sink(*s);
    if (options.session_lines) b_.system->machine().tracer().add_sink(lines_);
    if (trace_counts_.active()) b_.system->machine().tracer().add_sink(trace_counts_);
  }
  ~SystemSession() override { b_.system->machine().tracer().clear(); }

  Cycle now() const override { return b_.system->now(); }
  bool done() const override {
    system::System& s = *b_.system;
    if (s.stopped()) return true;
    const Cycle next = s.machine().queue().next_cycle();
    return next == kNever || (spec_.system.end && next > *spec_.system.end);
  }
  Cycle next_cycle() const override {
    if (b_.system->stopped()) return kNever;
    return b_.system->machine().queue().next_cycle();
  }
  std::vector<std::string> step() override {
    lines_.clear();
    if (!done()) {
      auto info = b_.system->step();
      std::vector<std::string> lines = lines_.take();
      // The event's own name (the kernel model's handler_done, a PMI's tick...)
      // is not a trace record: said so, so it cannot be taken for one.
      if (info && lines.empty()) {
        lines.push_back(
            info->cpu == kNoCpu
                ? fmt::format("cycle={} cpu=- (event {}, no trace record)", info->cycle, info->name)
                : fmt::format("cycle={} cpu={} (event {}, no trace record)", info->cycle, info->cpu,
                              info->name));
      }
      return lines;
    }
    return lines_.take();
  }
  std::vector<std::string> run_to(Cycle cycle) override {
    lines_.clear();
    if (spec_.system.end) cycle = std::min(cycle, *spec_.system.end);
    if (interrupt_) {
      // Event by event, so an interrupt (^C in `step`) stops before the next one.
      system::System& s = *b_.system;
      EventQueue& q = s.machine().queue();
      while (!s.stopped() && !*interrupt_) {
        const Cycle next = q.next_cycle();
        if (next == kNever || next > cycle) break;
        q.run_one(cycle);
      }
      if (*interrupt_) return lines_.take();
    }
    b_.system->run_until(cycle);
    return lines_.take();
  }
  Result<std::string> print(std::string_view what) const override;
  /// `print vm NAME`, `print vcpu [VM] N`.
  Result<std::string> print_vm(std::string_view noun, std::string_view what) const;
  ScenarioResult result() const override {
    ScenarioResult r = collect_result(spec_, *b_.system);
    r.trace_counts = trace_counts_.counts();
    return r;
  }
  Status status() const override { return time_status(spec_, *b_.system); }

 private:
  const ScenarioSpec& spec_;
  Built b_;
  const volatile std::sig_atomic_t* interrupt_;
  mutable MemoryTraceSink lines_;
  TraceCountSink trace_counts_;
};

Result<std::string> SystemSession::print(std::string_view what) const {
  system::System& s = *b_.system;
  std::istringstream in{std::string(what)};
  std::string noun;
  in >> noun;
  long long n = -1;
  in >> n;
  auto bad_cpu = [&]() -> Result<std::string> {
    return Error{
        fmt::format("print {}: give a CPU number 0..{}", noun, s.machine().cpu_count() - 1)};
  };
  if (noun == "cpu") {
    if (n < 0 || n >= static_cast<long long>(s.machine().cpu_count())) return bad_cpu();
    const cpu::Cpu& c = s.machine().cpu(static_cast<CpuId>(n));
    std::string out =
        fmt::format("cpu {}: {} cpl={} csl={} rip={:#x} rsp={:#x} rflags={:#x} cs={:#x} ss={:#x}\n",
                    n, cpu::run_state_name(c.run_state()), c.cpl(), c.csl(), c.rip(), c.rsp(),
                    c.rflags(), c.cs(), c.ss());
    out += fmt::format(
        "  nmi: pending={} bitmap={:#06x} blocked={} source_active={} fred={} non_root={}\n",
        c.nmi_pending(), c.nmi_source_bitmap(), c.nmi_blocked(), c.nmi_source_active(),
        c.fred_enabled(), c.non_root());
    out += fmt::format(
        "  FRED_CONFIG={:#x} STKLVLS={:#x} RSP0={:#x} RSP1={:#x} RSP2={:#x} RSP3={:#x}\n",
        c.fred_config().encode(), c.fred_stklvls().encode(), c.fred_rsp(0), c.fred_rsp(1),
        c.fred_rsp(2), c.fred_rsp(3));
    const auto& st = c.stats();
    out += fmt::format(
        "  received={} coalesced={} delivered={} vm_exits_nmi={} dispatch_cycles={} faults={}",
        st.nmi_received, st.nmi_coalesced, st.nmi_delivered, st.vm_exits_nmi, st.dispatch_cycles,
        st.faults);
    return out;
  }
  if (noun == "apic") {
    if (n < 0 || n >= static_cast<long long>(s.machine().cpu_count())) return bad_cpu();
    return describe_apic(s.machine().apic(static_cast<CpuId>(n)));
  }
  if (noun == "vmcs") {
    if (n < 0 || n >= static_cast<long long>(s.machine().cpu_count())) return bad_cpu();
    const CpuId id = static_cast<CpuId>(n);
    if (!s.machine().has_vmx(id)) return fmt::format("vmcs {}: no guest has run on CPU {}", n, n);
    vmx::VmxCpu& v = s.machine().vmx(id);
    const vmx::Vmcs& f = v.vmcs();
    std::string out = fmt::format("vmcs {}: mode={} exits={} entries={} failed_entries={}\n", n,
                                  vmx::vmx_mode_name(v.mode()), v.stats().exits, v.stats().entries,
                                  v.stats().failed_entries);
    out += fmt::format(
        "  pin_controls={:#x} exit_reason={:#x} exit_qualification={:#x} exit_intr_info={:#x}\n",
        f.get(vmx::field::kPinControls), f.get(vmx::field::kExitReason),
        f.get(vmx::field::kExitQualification), f.get(vmx::field::kExitIntrInfo));
    out += fmt::format(
        "  entry_intr_info={:#x} injected_event_data={:#x} guest_interruptibility={:#x} "
        "guest_rip={:#x}",
        f.get(vmx::field::kEntryIntrInfo), f.get(vmx::field::kInjectedEventData),
        f.get(vmx::field::kGuestInterruptibility), f.get(vmx::field::kGuestRip));
    return out;
  }
  if (noun == "vm" || noun == "vcpu") return print_vm(noun, what);
  if (noun == "stats") {
    std::string out;
    // Work no NMI has handled is lost at the end of the run, pending before it.
    const std::string_view unhandled = done() ? "lost" : "pending";
    for (CpuId c = 0; c < s.machine().cpu_count(); ++c) {
      const auto& st = s.kernel().cpu_state(c);
      out += fmt::format("cpu {}: normal={} unknown={} external={} swallow={} {}={}{}\n", c,
                         st.stats.normal, st.stats.unknown, st.stats.external, st.stats.swallow,
                         unhandled, s.kernel().lost_work(c), st.halted ? " (stopped)" : "");
    }
    if (!out.empty()) out.pop_back();
    return out;
  }
  if (noun == "handlers") {
    std::string out;
    for (kernel::HandlerId h = 0; h < s.kernel().registry().handler_count(); ++h) {
      const auto& a = s.kernel().registry().handler(h);
      out +=
          fmt::format("{} ({}, vector {}{}): calls={} handled={} cycles={}\n", a.name,
                      kernel::nmi_type_name(a.type), a.vector, a.registered ? "" : ", unregistered",
                      a.total.calls, a.total.handled, a.total.cycles);
    }
    if (!out.empty()) out.pop_back();
    return out;
  }
  return Error{fmt::format(
      "cannot print '{}': try cpu N, apic N, vmcs N, stats, handlers, vm NAME, vcpu [VM] N", what)};
}

Result<std::string> SystemSession::print_vm(std::string_view noun, std::string_view what) const {
  system::System& s = *b_.system;
  const auto vms = s.vms();
  if (vms.empty()) return Error{fmt::format("print {}: the scenario has no [[vm]]", noun)};
  std::string names;
  for (const auto& vm : vms)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", vm->name());
  std::vector<std::string> words;
  {
    std::istringstream in{std::string(what)};
    for (std::string w; in >> w;)
      words.push_back(w);
  }
  // `print vm NAME`, `print vcpu NAME N`, or `print vcpu N` with one VM.
  const kernel::Vm* vm = nullptr;
  if (words.size() >= 2) {
    for (const auto& v : vms) {
      if (v->name() == words[1]) vm = v.get();
    }
  }
  const bool one = vms.size() == 1;
  if (noun == "vm") {
    if (words.size() != 2 || vm == nullptr)
      return Error{fmt::format("print vm: give a VM's name: {}", names)};
    const VmSpec* spec = nullptr;
    for (const VmSpec& v : spec_.vms) {
      if (v.name == vm->name()) spec = &v;
    }
    const kernel::VmConfig& c = vm->config();
    std::string out = fmt::format(
        "vm {}: {} vCPUs on host CPUs [{}], delivery={} nmi_source={} apic={} kernel={}",
        vm->name(), vm->vcpu_count(), fmt::join(c.host_cpus, ","),
        c.kernel.use_fred ? "fred" : "idt", c.nmi_source ? "on" : "off",
        apic::apic_mode_name(c.apic), kernel::revision_name(c.kernel.revision));
    if (spec != nullptr) {
      out += fmt::format(", at={} until={}", spec->at,
                         spec->until ? fmt::format("{}", *spec->until) : std::string("end"));
    }
    out += '\n';
    for (CpuId v = 0; v < vm->vcpu_count(); ++v)
      out += "  " + describe_vcpu(s, *vm, v, done()) + '\n';
    out += "  handlers:";
    const auto& reg = vm->kernel().registry();
    if (reg.handler_count() == 0) out += " none";
    for (kernel::HandlerId h = 0; h < reg.handler_count(); ++h) {
      const auto& a = reg.handler(h);
      out +=
          fmt::format("\n    {} ({}, vector {}{}): calls={} handled={} cycles={}", a.name,
                      kernel::nmi_type_name(a.type), a.vector, a.registered ? "" : ", unregistered",
                      a.total.calls, a.total.handled, a.total.cycles);
    }
    return out;
  }
  // vcpu
  std::string number;
  if (words.size() == 3 && vm != nullptr) {
    number = words[2];
  } else if (words.size() == 2 && one && vm == nullptr) {
    vm = vms.front().get();
    number = words[1];
  } else {
    return Error{fmt::format("print vcpu: give a VM's name ({}) and a vCPU number{}", names,
                             one ? ", or only the number" : "")};
  }
  long long n = -1;
  std::istringstream in{number};
  if (!(in >> n) || !in.eof() || n < 0 || n >= static_cast<long long>(vm->vcpu_count())) {
    return Error{fmt::format("print vcpu: {} has vCPUs 0..{}", vm->name(), vm->vcpu_count() - 1)};
  }
  return fmt::format("vm {} ", vm->name()) + describe_vcpu(s, *vm, static_cast<CpuId>(n), done());
}

}  // namespace

Result<std::unique_ptr<ScenarioSession>> SystemRunner::start(const ScenarioSpec& spec,
                                                             RunOptions& options) const {
  auto b = build(spec);
  if (!b.ok()) return b.error();
  return std::unique_ptr<ScenarioSession>(new SystemSession(spec, std::move(*b), options));
}

}  // namespace fredsim::scenario
