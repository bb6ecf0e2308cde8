// [[event]]: what happens when. The keys an event takes depend on its type.
#include <algorithm>

#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

void Validator::read_event(const toml::table& t, std::size_t index) {
  EventSpec e;
  e.loc = locate(t);
  e.file_index = index;
  e.guest_nmi_source = false;  // a model of a proposal: opt in
  TableReader r(t, "event", &e.keys);
  const Field at = r.take("at");
  const Field type = r.take("type");
  if (!type) {
    fail(e.loc, "missing required key 'type' in [[event]]");
    return;
  }
  opt(type, e.type, one_of(kEventTypeNames));
  if (error_) return;

  // Every type takes at and type; the rest by type.
  const EventType ty = e.type;
  const bool interval = ty == EventType::guest || ty == EventType::user;
  const bool sender = ty == EventType::ipi || ty == EventType::backtrace || ty == EventType::kgdb ||
                      ty == EventType::mce || ty == EventType::stop || ty == EventType::selftest;
  const bool targeted = sender && ty != EventType::stop && ty != EventType::selftest;
  const bool shadow = ty == EventType::sti || ty == EventType::mov_ss;
  const bool on_cpu = ty == EventType::pmi || ty == EventType::external || interval || shadow;
  const Field every = r.take_if(!interval, "every");
  const Field count = r.take_if(!interval, "count");
  const Field from = r.take_if(sender, "from");
  const Field dest = r.take_if(targeted, "dest");
  const Field mode = r.take_if(ty == EventType::ipi, "mode");
  const Field vector = r.take_if(ty == EventType::ipi, "vector");
  const Field cpu = r.take_if(on_cpu, "cpu");
  const Field counters = r.take_if(ty == EventType::pmi, "counters");
  const Field reason = r.take_if(ty == EventType::external, "reason");
  const Field work_items = r.take_if(ty == EventType::ipi || ty == EventType::external, "work");
  const Field until = r.take_if(interval, "until");
  const Field nmi_exiting = r.take_if(ty == EventType::guest, "nmi_exiting");
  const Field guest_nmi_source = r.take_if(ty == EventType::guest, "guest_nmi_source");
  // Instruction shadows: whether an STI shadow holds NMIs is the processor's
  // choice (SDM Vol. 2B "STI"); a MOV SS shadow always does (docs/cpu.md).
  const Field blocks_nmi = r.take_if(ty == EventType::sti, "blocks_nmi");
  if (!known_keys(r, fmt::format("in [[event]] of type \"{}\"", to_string(ty)))) return;

  if (!at) {
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
  opt(guest_nmi_source, e.guest_nmi_source, a_boolean());
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
  if (e.guest_nmi_source && !spec_.system.nmi_source) {
    fail(e.keys.loc_of("guest_nmi_source", e.loc),
         "event.guest_nmi_source = true needs system.nmi_source = true (the host CPU must "
         "report NMI sources for the guest's exits to carry them)");
    return;
  }
  read_repeat(every, count, e);
  spec_.events.push_back(std::move(e));
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
  if (count && !every && e.count > 1) {
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
