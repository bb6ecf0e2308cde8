#include "fredsim/kernel/handler_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>

#include "fredsim/kernel/console.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

namespace {
// The handler Linux registers for each of these senders (docs/linux.md "Senders and their
// handlers").
constexpr ReservedHandler kReservedHandlers[] = {
    {HandlerModel::pmi, "PMI", 0, nmis::VECTOR_PMI},
    {HandlerModel::selftest, "nmi_selftest", NMI_FLAG_FIRST, nmis::VECTOR_TEST},
    {HandlerModel::stop, "smp_stop", NMI_FLAG_FIRST, nmis::VECTOR_SMP_STOP},
    {HandlerModel::backtrace, "arch_bt", 0, nmis::VECTOR_BT},
    {HandlerModel::kgdb, "kgdb", 0, nmis::VECTOR_KGDB},
    {HandlerModel::mce, "mce", 0, nmis::VECTOR_MCE},
};

}  // namespace

const ReservedHandler& reserved_handler(HandlerModel model) {
  for (const auto& d : kReservedHandlers) {
    if (d.model == model) return d;
  }
  assert(false && "a model without a handler of the kernel's own");
  return kReservedHandlers[0];
}

std::optional<HandlerModel> reserved_handler_model(std::string_view name) {
  for (const auto& d : kReservedHandlers) {
    if (d.name == name) return d.model;
  }
  return std::nullopt;
}

std::vector<std::string_view> reserved_handler_names() {
  std::vector<std::string_view> names;
  for (const auto& d : kReservedHandlers)
    names.push_back(d.name);
  return names;
}

HandlerRegistry::HandlerRegistry(std::uint32_t cpu_count, Console& console)
    : cpu_count_(cpu_count), console_(console) {
  actions_.reserve(64);
  for (auto& l : lists_) {
    l.first.reserve(64);
    l.rest.reserve(64);
    l.order.reserve(64);
  }
}

HandlerId HandlerRegistry::find_handler(std::string_view name) const {
  const auto it = first_by_name_.find(name);
  return it == first_by_name_.end() ? kNoHandler : it->second;
}

HandlerId HandlerRegistry::find_registered(NmiType type, std::string_view name) const {
  const NameIndex& index = by_name_[static_cast<int>(type)];
  const auto it = index.find(name);
  return it != index.end() && actions_[it->second].registered ? it->second : kNoHandler;
}

void HandlerRegistry::observe_calls(std::string_view name, CallObserver* observer) {
  if (const HandlerId id = find_handler(name); id != kNoHandler) {
    actions_[id].observer = observer;
    return;
  }
  for (auto& [n, o] : pending_observers_) {
    if (n == name) {
      o = observer;
      return;
    }
  }
  pending_observers_.emplace_back(std::string(name), observer);
}

const std::vector<HandlerId>& HandlerRegistry::handler_list(NmiType type) const {
  const HandlerList& l = lists_[static_cast<int>(type)];
  if (l.stale) {
    // Linux's list: FIRST handlers at the head, the newest of them first.
    l.order.assign(l.first.rbegin(), l.first.rend());
    l.order.insert(l.order.end(), l.rest.begin(), l.rest.end());
    l.stale = false;
    std::fill(std::begin(l.by_vector), std::end(l.by_vector), std::uint64_t{0});
    l.by_vector_ok = l.order.size() <= 64;
    if (l.by_vector_ok) {
      for (std::size_t i = 0; i < l.order.size(); ++i) {
        const unsigned v = actions_[l.order[i]].vector;
        if (v < 64) l.by_vector[v] |= std::uint64_t{1} << i;
      }
    }
  }
  return l.order;
}

Result<HandlerId> HandlerRegistry::add(NmiType type, NmiHandlerFn fn, unsigned flags,
                                       std::string_view name, unsigned vector, HandlerModel model,
                                       VectorRules rules) {
  if (!fn) return Error{fmt::format("register_nmi_handler({}): no handler function", name)};
  if (const auto owner = reserved_handler_model(name); owner && *owner != model) {
    // The kernel registers this name for its own sender: a handler of another
    // model under it would take (or steal) the sender's work.
    return Error{fmt::format(
        "register_nmi_handler({}): the name '{}' is the kernel's own {} handler; give this "
        "{} handler another name (or model \"{}\" to configure the kernel's)",
        name, name, handler_model_name(*owner), handler_model_name(model),
        handler_model_name(*owner))};
  }
  HandlerList& list = lists_[static_cast<int>(type)];
  NameIndex& index = by_name_[static_cast<int>(type)];
  const auto known = index.find(name);
  if (known != index.end() && actions_[known->second].registered) {
    return Error{fmt::format("register_nmi_handler({}): already registered on the {} list", name,
                             nmi_type_name(type))};
  }
  // docs/linux.md "Registration": the warn-once cases still register.
  if (rules.revision == Revision::v7) {
    // __register_nmi_handler since v6 of the NMI-source series: the vector is
    // kept as given, with a WARN_ON_ONCE for a vector on a non-LOCAL type and
    // one for a vector out of range.
    if (type != NmiType::local && vector != 0) {
      console_.warn_once(kWarnTypeVector,
                         fmt::format("NMI handler {} of type {} with source vector {}: only LOCAL "
                                     "handlers are filtered by source",
                                     name, nmi_type_name(type), vector));
    }
    if (vector >= rules.vector_count) {
      console_.warn_once(
          kWarnVectorRange,
          fmt::format("NMI handler {}: source vector {} >= NMIS_VECTOR_COUNT", name, vector));
    }
  } else {
    // v5's __register_nmi_handler: WARN_ON_ONCE(vector >= NMIS_VECTORS_MAX) on
    // the vector as given, then vector 0 when NMI-source is off or the type is
    // not LOCAL; no warning for the type (v6 added it).
    if (vector >= nmis::VECTOR_MAX) {
      console_.warn_once(kWarnVectorRange,
                         fmt::format("NMI handler {}: source vector {} >= 16", name, vector));
    }
    if (!rules.nmi_source || type != NmiType::local) vector = 0;
  }
  if ((type == NmiType::serr || type == NmiType::io_check) &&
      !(list.first.empty() && list.rest.empty())) {
    console_.warn_once(type == NmiType::serr ? kWarnSecondSerr : kWarnSecondIochk,
                       fmt::format("a second {} NMI handler ({})", nmi_type_name(type), name));
  }

  // An action registered before and unregistered keeps its figures.
  HandlerId id = known != index.end() ? known->second : kNoHandler;
  if (id == kNoHandler) {
    id = static_cast<HandlerId>(actions_.size());
    actions_.emplace_back();
    actions_.back().per_cpu.resize(cpu_count_);
    work_.resize(actions_.size() * cpu_count_, 0);
    index.emplace(std::string(name), id);
    if (first_by_name_.emplace(std::string(name), id).second) {
      // The first handler of this name: the observer waiting for it, if any.
      for (const auto& [n, o] : pending_observers_) {
        if (n == name) actions_[id].observer = o;
      }
    }
  }
  NmiAction& a = actions_[id];
  a.name = std::string(name);
  a.type = type;
  a.flags = flags;
  a.vector = vector;
  a.model = model;
  a.fn = std::move(fn);
  a.registered = true;
  ++registrations_;
  (flags & NMI_FLAG_FIRST ? list.first : list.rest).push_back(id);
  list.stale = true;
  ++list_changes_;
  return id;
}

bool HandlerRegistry::remove(NmiType type, std::string_view name, CpuId nmi_cpu) {
  HandlerList& list = lists_[static_cast<int>(type)];
  const HandlerId id = find_registered(type, name);
  if (id == kNoHandler) return false;
  if (nmi_cpu != kNoCpu) {
    // arch/x86/kernel/nmi.c unregister_nmi_handler: a WARN (not a WARN_ONCE)
    // when the calling CPU is in NMI context; the handler is removed anyway.
    console_.printk(nmi_cpu,
                    fmt::format("WARNING: Trying to free NMI ({}) from NMI context!", name));
  }
  actions_[id].registered = false;
  auto& part = actions_[id].flags & NMI_FLAG_FIRST ? list.first : list.rest;
  part.erase(std::find(part.begin(), part.end(), id));
  list.stale = true;
  ++list_changes_;
  return true;
}

void HandlerRegistry::set_emergency_handler(NmiType type, NmiHandlerFn fn) {
  emergency_[static_cast<int>(type)] = std::move(fn);
}

std::uint64_t HandlerRegistry::pending_on(CpuId cpu) const {
  std::uint64_t n = 0;
  for (HandlerId h = 0; h < actions_.size(); ++h)
    n += pending_work(h, cpu);
  return n;
}

}  // namespace fredsim::kernel
