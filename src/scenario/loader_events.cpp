// [[event]]: what happens when. The keys an event takes depend on its type.
#include <algorithm>

#include "fredsim/kernel/handler_model.hpp"

#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

namespace {
// The guest event's NMI controls (docs/scenarios.md "Guest NMI controls").
enum class GuestBlocking : std::uint8_t { nmi, sti, mov_ss };
constexpr Names<GuestBlocking, 3> kGuestBlockingNames{
    {{"nmi", GuestBlocking::nmi}, {"sti", GuestBlocking::sti}, {"mov_ss", GuestBlocking::mov_ss}}};
constexpr Names<bool, 2> kGuestActivityNames{{{"active", false}, {"hlt", true}}};
enum class InjectType : std::uint8_t { nmi };
constexpr Names<InjectType, 1> kInjectTypeNames{{{"nmi", InjectType::nmi}}};
}  // namespace

/// The keys an event of type `ty` takes, in the order "allowed:" lists them:
/// read_event reads them, event_keys() lists them (fredsim list), one code.
Validator::EventFields Validator::take_event_fields(TableReader& r, EventType ty) {
  EventFields f;
  // Every type takes at and type; the rest by type.
  const bool interval =
      ty == EventType::guest || ty == EventType::user || ty == EventType::irqs_off;
  const bool sender = ty == EventType::ipi || ty == EventType::backtrace || ty == EventType::kgdb ||
                      ty == EventType::mce || ty == EventType::stop || ty == EventType::selftest;
  const bool targeted = sender && ty != EventType::stop && ty != EventType::selftest;
  const bool shadow = ty == EventType::sti || ty == EventType::mov_ss;
  const bool kvm_nmi = ty == EventType::kvm_nmi;
  const bool on_cpu =
      ty == EventType::pmi || ty == EventType::external || interval || shadow || kvm_nmi;
  // The guest kernel's events: its senders, its PMU, and user space's KVM_NMI.
  const bool guest_side = sender || ty == EventType::pmi || kvm_nmi;
  f.every = r.take_if(!interval, "every");
  f.count = r.take_if(!interval, "count");
  f.from = r.take_if(sender, "from");
  f.dest = r.take_if(targeted, "dest");
  f.mode = r.take_if(ty == EventType::ipi, "mode");
  f.vector = r.take_if(ty == EventType::ipi, "vector");
  f.cpu = r.take_if(on_cpu, "cpu");
  f.counters = r.take_if(ty == EventType::pmi, "counters");
  f.reason = r.take_if(ty == EventType::external, "reason");
  f.work_items = r.take_if(ty == EventType::ipi || ty == EventType::external, "work");
  f.until = r.take_if(interval, "until");
  f.nmi_exiting = r.take_if(ty == EventType::guest, "nmi_exiting");
  f.after = r.take_if(!interval, "after");
  f.delay = r.take_if(!interval, "delay");
  const bool guest = ty == EventType::guest;
  f.guest = GuestFields{r.take_if(guest, "virtual_nmis"), r.take_if(guest, "nmi_window_exiting"),
                        r.take_if(guest, "blocking"), r.take_if(guest, "activity"),
                        r.take_if(guest, "inject")};
  // Instruction shadows: whether an STI shadow holds NMIs is the processor's
  // choice (SDM Vol. 2B "STI"); a MOV SS shadow always does (docs/cpu.md).
  f.blocks_nmi = r.take_if(ty == EventType::sti, "blocks_nmi");
  f.vm = r.take_if(guest_side, "vm");
  return f;
}

void Validator::read_event(const toml::table& t, std::size_t index) {
  EventSpec e;
  e.loc = locate(t);
  e.file_index = index;
  if (const toml::node* gone = t.get("guest_nmi_source")) {
    // The key that re-injected the host's exit bitmap into the guest: KVM never
    // reflects a host NMI into a guest (an NMI-induced exit is the host's), so
    // it modelled nothing real. A guest's own NMIs carry their sources.
    fail(locate(*gone),
         "event.guest_nmi_source is refused: a host NMI is the host's (an NMI-induced VM exit "
         "the host kernel handles, never injected into the guest); to give a guest's own NMIs "
         "their sources, declare the guest as a [[vm]] with nmi_source = true");
    return;
  }
  TableReader r(t, "event", &e.keys);
  const Field at = r.take("at");
  const Field type = r.take("type");
  if (!type) {
    fail(e.loc, "missing required key 'type' in [[event]]");
    return;
  }
  opt(type, e.type, one_of(kEventTypeNames));
  if (error_) return;

  const EventFields f = take_event_fields(r, e.type);
  const EventType ty = e.type;
  const bool interval =
      ty == EventType::guest || ty == EventType::user || ty == EventType::irqs_off;
  const bool shadow = ty == EventType::sti || ty == EventType::mov_ss;
  const bool kvm_nmi = ty == EventType::kvm_nmi;
  const bool on_cpu =
      ty == EventType::pmi || ty == EventType::external || interval || shadow || kvm_nmi;
  const Field &every = f.every, &count = f.count, &from = f.from, &dest = f.dest, &mode = f.mode,
              &vector = f.vector, &cpu = f.cpu, &counters = f.counters, &reason = f.reason,
              &work_items = f.work_items, &until = f.until, &nmi_exiting = f.nmi_exiting,
              &after = f.after, &delay = f.delay, &blocks_nmi = f.blocks_nmi, &vm = f.vm;
  const GuestFields& guest_fields = f.guest;
  if (!known_keys(r, fmt::format("in [[event]] of type \"{}\"", to_string(ty)))) return;
  e.vm = vm_ref(vm);
  if (error_) return;
  if (kvm_nmi && !e.vm) {
    fail(e.loc,
         "missing required key 'vm' in [[event]] of type \"kvm_nmi\" (the VM whose "
         "vCPU gets the NMI)");
    return;
  }
  const VmScope scope(*this, e.vm);

  if (at && after) {
    fail(locate(*after),
         "event.after and event.at are exclusive: an event happens at a cycle "
         "or after a handler's calls, not both");
    return;
  }
  read_after(after, delay, every, e);
  if (error_) return;
  if (!at && !after) {
    fail(e.loc, "missing required key 'at' in [[event]]");
    return;
  }
  opt(at, e.at, a_cycle());
  opt(from, e.from, a_cpu());
  if (error_) return;
  if (dest) {
    if (auto d = destination(*dest, dest.what)) e.dest = std::move(*d);
  } else if (ty == EventType::ipi) {
    fail(e.loc, "missing required key 'dest' in [[event]] of type \"ipi\"");
  }
  if (on_cpu && ty != EventType::external && !cpu) {
    fail(e.loc,
         fmt::format("missing required key 'cpu' in [[event]] of type \"{}\"", to_string(ty)));
  }
  opt(cpu, e.cpu, a_cpu());
  opt(mode, e.mode, one_of(kIpiModeNames));
  opt(vector, e.vector, in_range(0, kMaxVector));
  opt(counters, e.counters, in_range(1, 64));
  opt(reason, e.reason, one_of(kReasonNames));
  opt(nmi_exiting, e.nmi_exiting, a_boolean());
  read_guest_controls(guest_fields, e.guest);
  opt(blocks_nmi, e.blocks_nmi, a_boolean());
  opt(work_items, e.work, [this](const toml::node& n, std::string_view w) { return work(n, w); });
  if (error_) return;
  if (until) {
    if (auto c = cycle(*until, until.what)) {
      if (*c <= e.at) {
        fail(locate(*until), fmt::format("event.until = {} must come after at = {}", *c, e.at));
      }
      e.until = *c;
    }
  }
  if (error_) return;
  read_repeat(every, count, e);
  spec_.events.push_back(std::move(e));
}

/// The NMI controls and entry state of a guest event: virtual_nmis,
/// nmi_window_exiting, blocking = [...], activity, inject = { type, vector }.
/// Only their form is checked here; whether they fit together is VM entry's
/// business (a bad combination is a VM-entry failure the run shows).
void Validator::read_guest_controls(const GuestFields& f, kernel::GuestControls& g) {
  if (f.virtual_nmis) {
    // Without the key KVM chooses (kernel::GuestControls::virtual_nmis).
    bool on = false;
    opt(f.virtual_nmis, on, a_boolean());
    g.virtual_nmis = on;
  }
  opt(f.nmi_window_exiting, g.nmi_window_exiting, a_boolean());
  opt(f.activity, g.hlt, one_of(kGuestActivityNames));
  if (error_) return;
  if (f.blocking) {
    const auto* a = f.blocking->as_array();
    if (a == nullptr) {
      fail(locate(*f.blocking),
           fmt::format("{} must be a list of {} (none: []), not {}", f.blocking.what,
                       quoted_names(kGuestBlockingNames), type_name(f.blocking->type())));
      return;
    }
    bool seen[3] = {};
    for (const auto& n : *a) {
      const auto b = enumeration(n, f.blocking.what, kGuestBlockingNames);
      if (!b) return;
      bool& once = seen[static_cast<std::size_t>(*b)];
      if (once) {
        fail(locate(n), fmt::format("{} lists \"{}\" twice", f.blocking.what,
                                    name_of(kGuestBlockingNames, *b)));
        return;
      }
      once = true;
    }
    g.blocking_by_nmi = seen[static_cast<std::size_t>(GuestBlocking::nmi)];
    g.blocking_by_sti = seen[static_cast<std::size_t>(GuestBlocking::sti)];
    g.blocking_by_mov_ss = seen[static_cast<std::size_t>(GuestBlocking::mov_ss)];
  }
  if (f.inject) {
    const toml::table* t = inline_table(*f.inject, f.inject.what, "{ type = \"nmi\", vector = 2 }");
    if (t == nullptr) return;
    TableReader r(*t, f.inject.what);
    const Field type = r.take("type");
    const Field vector = r.take("vector");
    if (!known_keys(r, fmt::format("in {}", f.inject.what))) return;
    if (!type) {
      fail(locate(*f.inject), fmt::format("missing required key 'type' in {}", f.inject.what));
      return;
    }
    InjectType ty = InjectType::nmi;
    opt(type, ty, one_of(kInjectTypeNames));
    // Any 8-bit vector: VM entry checks that an NMI's is 2.
    std::uint32_t v = 2;
    opt(vector, v, in_range(0, 255));
    if (error_) return;
    g.inject_nmi_vector = static_cast<std::uint8_t>(v);
  }
}

/// `every` and `count`: occurrence i is at `at + i * every`.
void Validator::read_repeat(const Field& every, const Field& count, EventSpec& e) {
  if (every) {
    if (auto c = integer(*every, every.what, 1, kMaxInt)) e.every = static_cast<Cycle>(*c);
  }
  if (count) {
    if (auto c = integer(*count, count.what, 1, kMaxInt)) e.count = static_cast<Cycle>(*c);
  }
  if (error_) return;
  if (every && !count) {
    fail(locate(*every), "event.every needs count = N (the number of occurrences)");
    return;
  }
  if (count && !every && e.count > 1 && !e.after) {
    fail(locate(*count), "event.count > 1 needs every = CYCLES (the period)");
    return;
  }
  // The last occurrence, at + every * (count - 1), must not pass the end of
  // simulated time; computed with checked arithmetic, so no value wraps.
  Cycle span = 0;
  Cycle last = 0;
  const bool wraps = __builtin_mul_overflow(e.every, e.count - 1, &span) ||
                     __builtin_add_overflow(e.at, span, &last);
  if (wraps || last > static_cast<Cycle>(kMaxInt)) {
    fail(locate(*count), fmt::format("event repeats past cycle 2^63-1 (at = {}, every = {}, "
                                     "count = {})",
                                     e.at, e.every, e.count));
  } else if (last > kMaxCycle) {
    fail(locate(*count), fmt::format("event repeats past cycle 2^50, the end of simulated time "
                                     "(at = {}, every = {}, count = {}: the last occurrence "
                                     "would be at cycle {})",
                                     e.at, e.every, e.count, last));
  }
}

/// `after = { handler, calls, cpu }` and `delay` (docs/scenarios.md "Handler actions and
/// rendezvous"): occurrence k fires `delay` cycles after the call that brings the
/// handler's count to k * calls, so `every` has no meaning with it.
void Validator::read_after(const Field& after, const Field& delay, const Field& every,
                           EventSpec& e) {
  if (!after) {
    if (delay) {
      fail(locate(*delay),
           "event.delay needs after = { handler = NAME, calls = N } (the delay "
           "counts from the call that meets it)");
    }
    return;
  }
  if (every) {
    fail(locate(*every),
         "event.every does not go with after: occurrence k of an event with "
         "after fires when the handler's count reaches k * calls, so `calls` "
         "is its period");
    return;
  }
  const toml::table* t =
      inline_table(*after, "event.after", "{ handler = NAME, calls = N, cpu = C }");
  if (!t) return;
  RendezvousSpec rv;
  TableReader r(*t, "event.after");
  const Field handler = r.take("handler");
  const Field calls = r.take("calls");
  const Field cpu = r.take("cpu");
  if (!known_keys(r, "in event.after")) return;
  if (!handler || !calls) {
    fail(locate(*after),
         fmt::format("missing required key '{}' in event.after", handler ? "calls" : "handler"));
    return;
  }
  if (auto s = string(*handler, handler.what)) {
    if (!find_handler(*s) && !kernel::reserved_handler_model(*s)) {
      std::string kernel_names;
      for (const auto n : kernel::reserved_handler_names()) {
        if (!kernel_names.empty()) kernel_names += ", ";
        kernel_names += n;
      }
      fail(locate(*handler),
           fmt::format("{} names no handler '{}' ({}; or one the kernel registers: {})",
                       handler.what, input::clip(*s), declared_handlers(), kernel_names));
      return;
    }
    rv.handler = std::move(*s);
  }
  opt(calls, rv.calls, in_range(1, kMaxInt));
  opt(cpu, rv.cpu, a_cpu());
  opt(delay, rv.delay, a_cycle());
  if (error_) return;
  e.after = std::move(rv);
}

std::optional<Destination> Validator::destination(const toml::node& n, std::string_view what) {
  Destination d;
  if (const auto* s = n.as_string()) {
    if (s->get() == "self") {
      d.kind = Destination::Kind::self;
    } else if (s->get() == "all") {
      d.kind = Destination::Kind::all;
    } else if (s->get() == "all-but-self") {
      d.kind = Destination::Kind::all_but_self;
    } else {
      fail(locate(n), fmt::format("{} = \"{}\" is not one of \"self\" | \"all\" | "
                                  "\"all-but-self\", a CPU number or a list of CPU numbers",
                                  what, input::clip(s->get())));
      return std::nullopt;
    }
    return d;
  }
  d.kind = Destination::Kind::cpus;
  if (n.is_integer()) {
    auto c = cpu_number(n, what);
    if (!c) return std::nullopt;
    d.cpus.push_back(*c);
    return d;
  }
  const auto* a = n.as_array();
  if (!a) {
    fail(locate(n), fmt::format("{} must be \"self\", \"all\", \"all-but-self\", a CPU number "
                                "or a list of CPU numbers, not {}",
                                what, type_name(n.type())));
    return std::nullopt;
  }
  if (a->empty()) {
    fail(locate(n), fmt::format("{} must list at least one CPU", what));
    return std::nullopt;
  }
  for (const auto& e : *a) {
    auto c = cpu_number(e, what);
    if (!c) return std::nullopt;
    if (std::find(d.cpus.begin(), d.cpus.end(), *c) != d.cpus.end()) {
      fail(locate(e), fmt::format("{} lists CPU {} twice", what, *c));
      return std::nullopt;
    }
    d.cpus.push_back(*c);
  }
  std::sort(d.cpus.begin(), d.cpus.end());
  return d;
}

std::optional<std::vector<std::string>> Validator::work(const toml::node& n,
                                                        std::string_view what) {
  std::vector<std::string> out;
  if (n.is_string()) {
    auto h = handler_name(n, what);
    if (!h) return std::nullopt;
    out.push_back(*h);
    return out;
  }
  const auto* a = n.as_array();
  if (!a) {
    fail(locate(n), fmt::format("{} must be a handler name or a list of them, not {}", what,
                                type_name(n.type())));
    return std::nullopt;
  }
  if (a->empty()) {
    fail(locate(n), fmt::format("{} must name at least one handler", what));
    return std::nullopt;
  }
  for (const auto& e : *a) {
    auto h = handler_name(e, what);
    if (!h) return std::nullopt;
    out.push_back(*h);
  }
  return out;
}

}  // namespace fredsim::scenario::loader

namespace fredsim::scenario {

std::vector<std::string_view> event_keys(EventType type) {
  const toml::table none;
  loader::TableReader r(none, "event");
  (void)r.take("at");
  (void)r.take("type");
  (void)loader::Validator::take_event_fields(r, type);
  return r.taken();
}

}  // namespace fredsim::scenario
