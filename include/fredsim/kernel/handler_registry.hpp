#pragma once
// The kernel's registered NMI handlers: the actions, one call-ordered list per
// handler type, the name index, the emergency handlers, and the work items each
// handler has pending on each CPU (the ground truth of what a handler claims).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fredsim/kernel/handler_model.hpp"
#include "fredsim/kernel/nmi.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::kernel {

class Console;
class Kernel;
class NmiContext;

/// A handler: any callable a user supplies. Returns NMI_DONE, NMI_HANDLED or a
/// count of handled events. Charge its cost through the context.
using NmiHandlerFn = std::function<int(NmiType, const PtRegs&, NmiContext&)>;

using HandlerId = std::uint32_t;
inline constexpr HandlerId kNoHandler = ~HandlerId{0};

/// Per-handler figures for results.
struct HandlerStats {
  std::uint64_t calls = 0;
  std::uint64_t handled = 0;  // sum of return values
  std::uint64_t cycles = 0;   // cycles spent in its calls
};

/// One call of a handler, as its observer sees it.
struct HandlerCall {
  HandlerId handler = kNoHandler;
  CpuId cpu = 0;
  std::uint64_t call_on_cpu = 0;  // this call's number on its CPU, 1-based
  std::uint64_t calls = 0;        // the handler's calls on every CPU, this one included
};

/// Watches the calls of a handler (HandlerRegistry::observe_calls): what a
/// scenario has a handler do besides its model, and rendezvous on its counts
/// (docs/scenarios.md "Handler actions and rendezvous"). Not Linux: Linux has no
/// such hook; it is the test's code inside the handler. Only an observed
/// handler pays for it (one null check per call otherwise).
class CallObserver {
 public:
  /// Runs inside the call, at its cycle, after the handler's own work and before
  /// the call is counted. Returns the cycles it spent, added to the call's cost.
  virtual Cycle on_call(const HandlerCall& call) = 0;

 protected:
  ~CallObserver() = default;
};

/// A registered (or once registered) handler: Linux's nmiaction plus figures.
struct NmiAction {
  std::string name;
  NmiType type = NmiType::local;
  unsigned flags = 0;
  unsigned vector = 0;  // NMI-source vector (0 = none)
  HandlerModel model = HandlerModel::custom;
  NmiHandlerFn fn;
  Cycle max_duration = 0;  // largest duration seen (for the duration check)
  bool registered = false;
  CallObserver* observer = nullptr;  // none: the call is the model alone
  HandlerStats total;
  std::vector<HandlerStats> per_cpu;
};

/// The handlers of a kernel. Registering and unregistering go through the
/// Kernel (Kernel::register_nmi_handler and friends), which builds the models
/// and knows whether an NMI is being handled; the rest is here.
class HandlerRegistry {
 public:
  HandlerRegistry(std::uint32_t cpu_count, Console& console);

  std::size_t handler_count() const { return actions_.size(); }
  const NmiAction& handler(HandlerId id) const { return actions_[id]; }
  /// The first handler ever registered under `name` (any list), or kNoHandler.
  HandlerId find_handler(std::string_view name) const;
  /// The handler registered now under `name` on the list of `type`, or kNoHandler.
  HandlerId find_registered(NmiType type, std::string_view name) const;
  /// Sets the observer of the handler first registered under `name` (null:
  /// none): at once when there is one, else when a handler is first registered
  /// under that name (a kernel's own handler, registered when its sender first
  /// runs). The observer must outlive the registry or be reset.
  void observe_calls(std::string_view name, CallObserver* observer);
  /// The handler list of a type, in call order.
  const std::vector<HandlerId>& handler_list(NmiType type) const;
  /// The positions in handler_list(type) of the handlers whose source vector
  /// has its bit set in `bitmap` (bit i: position i), from a table built with
  /// the list, so a filtered walk need not look at the others; false when the
  /// list is longer than 64. Read handler_list(type) first (or know that
  /// list_changes() has not moved since it was read): the table is rebuilt
  /// with it.
  bool vector_positions(NmiType type, std::uint64_t bitmap, std::uint64_t& positions) const {
    const HandlerList& l = lists_[static_cast<int>(type)];
    if (!l.by_vector_ok) return false;
    positions = 0;
    for (std::uint64_t b = bitmap; b != 0; b &= b - 1)
      positions |= l.by_vector[static_cast<unsigned>(__builtin_ctzll(b))];
    return true;
  }
  /// Registrations so far: a handler's source vector changes only when it is
  /// registered (again), so a table read while this stays the same still holds.
  std::uint64_t registrations() const { return registrations_; }
  /// Changes to any handler list so far (registrations and removals): a copy
  /// of a list taken while this stays the same is still the list.
  std::uint64_t list_changes() const { return list_changes_; }

  /// An emergency handler short-circuits the whole list of its type.
  void set_emergency_handler(NmiType type, NmiHandlerFn fn);
  const NmiHandlerFn& emergency_handler(NmiType type) const {
    return emergency_[static_cast<int>(type)];
  }

  /// Gives `count` work items to handler `h` on `cpu` (a mask-like model, such
  /// as backtrace, keeps at most one). False, and nothing recorded, for an id
  /// that names no handler or a CPU that does not exist; pending_work and
  /// take_work answer 0 for those.
  /// (Inline: one add and one take per NMI a scenario sends.)
  bool add_work(HandlerId h, CpuId cpu, std::uint32_t count = 1) {
    if (!valid_work_slot(h, cpu)) return false;
    std::uint32_t& w = work_[std::size_t{h} * cpu_count_ + cpu];
    w = mask_like(actions_[h].model) ? 1 : w + count;
    return true;
  }
  std::uint32_t pending_work(HandlerId h, CpuId cpu) const {
    if (!valid_work_slot(h, cpu)) return 0;
    return work_[std::size_t{h} * cpu_count_ + cpu];
  }
  std::uint32_t take_work(HandlerId h, CpuId cpu) {
    // An emergency handler's context has no handler id: it has no work of its own.
    if (!valid_work_slot(h, cpu)) return 0;
    return std::exchange(work_[std::size_t{h} * cpu_count_ + cpu], 0);
  }
  /// Work items pending on `cpu`, all handlers together.
  std::uint64_t pending_on(CpuId cpu) const;

 private:
  friend class Kernel;

  /// What the checks of a source vector depend on at registration.
  struct VectorRules {
    Revision revision = Revision::v7;
    bool nmi_source = false;                     // the boot CPU has NMI-source on
    unsigned vector_count = nmis::VECTOR_COUNT;  // v7's NMIS_VECTOR_COUNT
  };
  /// Registers (or re-registers) a handler; refusals are errors, the warn-once
  /// cases are printed and the handler is registered.
  Result<HandlerId> add(NmiType type, NmiHandlerFn fn, unsigned flags, std::string_view name,
                        unsigned vector, HandlerModel model, VectorRules rules);
  /// Unregisters the handler of that name on that list; false if none.
  /// `nmi_cpu`: the calling CPU when it runs in NMI context, else kNoCpu
  /// (unregister_nmi_handler's WARN(in_nmi(), ...), on every such call).
  bool remove(NmiType type, std::string_view name, CpuId nmi_cpu);
  NmiAction& action(HandlerId id) { return actions_[id]; }

  /// A model whose work is a per-CPU bit: at most one item pending, however
  /// many are given. nmi_selftest's cpumask, arch_bt's backtrace mask,
  /// smp_stop's cpus_stop_mask, kgdb's roundup, and mce_raise_notify's
  /// mce_inject_cpumask (arch/x86/kernel/cpu/mce/inject.c), one bit however
  /// many injections are queued.
  static bool mask_like(HandlerModel m) {
    constexpr unsigned kMaskLike = 1u << static_cast<unsigned>(HandlerModel::backtrace) |
                                   1u << static_cast<unsigned>(HandlerModel::selftest) |
                                   1u << static_cast<unsigned>(HandlerModel::stop) |
                                   1u << static_cast<unsigned>(HandlerModel::kgdb) |
                                   1u << static_cast<unsigned>(HandlerModel::mce);
    return (kMaskLike >> static_cast<unsigned>(m)) & 1u;
  }
  bool valid_work_slot(HandlerId h, CpuId cpu) const {
    return h < actions_.size() && cpu < cpu_count_;
  }

  /// A handler list is kept as its FIRST handlers in registration order and
  /// the others in registration order, so registering appends; the call order
  /// (newest FIRST first, then the others) is built when next read.
  struct HandlerList {
    std::vector<HandlerId> first;
    std::vector<HandlerId> rest;
    mutable std::vector<HandlerId> order;
    mutable bool stale = false;
    // By source vector (0..63): the positions in `order` of its handlers, for
    // a list of at most 64 (by_vector_ok); built with `order`.
    mutable std::uint64_t by_vector[64] = {};
    mutable bool by_vector_ok = true;
  };
  /// Name indexes, for lookup only (nothing iterates them): the action of a
  /// name on each type's list (at most one: a name is unique per list, and a
  /// re-registration reuses the action), and the first action of a name.
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameIndex = std::unordered_map<std::string, HandlerId, NameHash, std::equal_to<>>;

  std::uint32_t cpu_count_;
  Console& console_;
  std::vector<NmiAction> actions_;
  HandlerList lists_[kNmiTypeCount];
  NameIndex by_name_[kNmiTypeCount];
  NameIndex first_by_name_;
  NmiHandlerFn emergency_[kNmiTypeCount];
  std::vector<std::uint32_t> work_;  // [handler * cpus + cpu]
  std::uint64_t registrations_ = 0;
  std::uint64_t list_changes_ = 0;
  /// Observers of names no handler has yet (observe_calls), taken at registration.
  std::vector<std::pair<std::string, CallObserver*>> pending_observers_;
};

}  // namespace fredsim::kernel
