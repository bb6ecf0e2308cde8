// The guest and user intervals of the [[event]] tables and the [[vm]] tables'
// vCPUs: one at a time per CPU.
#include <algorithm>

#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

/// One CPU is in one guest or user interval, or runs one vCPU, at a time: a
/// second one that starts before the first ends would enter a VM that is
/// running (KVM prints "VM entry failed") or leave user mode early, and skew
/// every sum after it. At one cycle, the [[vm]] tables enter and leave in file
/// order before the [[event]]s of that cycle.
void Validator::check_intervals() {
  struct Interval {
    CpuId cpu;
    Cycle at;
    Cycle end;           // kNever: to the end of the run
    const EventSpec* e;  // an event's interval, or
    const VmSpec* vm;    // a VM's vCPU on host CPU `cpu`
    std::size_t order;   // VMs first (file order), then events (file order)
  };
  std::vector<Interval> all;
  for (std::size_t i = 0; i < spec_.vms.size(); ++i) {
    const VmSpec& v = spec_.vms[i];
    if (spec_.system.end && v.at > *spec_.system.end) continue;
    for (CpuId c : v.cpus)
      all.push_back({c, v.at, v.until.value_or(kNever), nullptr, &v, i});
  }
  for (const EventSpec& e : spec_.events) {
    if (e.type != EventType::guest && e.type != EventType::user) continue;
    // One that starts after the run's end never happens.
    if (spec_.system.end && e.at > *spec_.system.end) continue;
    all.push_back(
        {e.cpu, e.at, e.until.value_or(kNever), &e, nullptr, spec_.vms.size() + e.file_index});
  }
  std::sort(all.begin(), all.end(), [](const Interval& a, const Interval& b) {
    if (a.cpu != b.cpu) return a.cpu < b.cpu;
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  });
  auto span = [](Cycle from, Cycle to) {
    return to == kNever ? fmt::format("{} to the end of the run", from)
                        : fmt::format("{}..{}", from, to);
  };
  auto subject = [](const Interval& x) {
    return x.vm ? fmt::format("[[vm]] '{}' on host CPU {}", input::clip(x.vm->name), x.cpu)
                : fmt::format("[[event]] of type \"{}\" on CPU {}", to_string(x.e->type), x.cpu);
  };
  // Against the interval that ends last so far (the later in order among
  // those ending together): any earlier interval that overlaps this one, that
  // one does too.
  const Interval* open = nullptr;
  for (const Interval& b : all) {
    if (open && open->cpu != b.cpu) open = nullptr;
    if (open) {
      const Interval& a = *open;
      const SourceLoc& at =
          b.vm ? b.vm->keys.loc_of("at", b.vm->loc) : b.e->keys.loc_of("at", b.e->loc);
      auto first = [&] {
        return a.vm ? fmt::format("[[vm]] '{}' at {} (cycles {})", input::clip(a.vm->name),
                                  spec_.where(a.vm->loc), span(a.at, a.end))
                    : fmt::format("the \"{}\" interval at {} (cycles {})", to_string(a.e->type),
                                  spec_.where(a.e->loc), span(a.at, a.end));
      };
      const bool vms = a.vm || b.vm;
      if (b.at < a.end) {
        fail(at,
             fmt::format("{} (cycles {}) overlaps {}: cycles {} would be in both, and a "
                         "CPU {} at a time",
                         subject(b), span(b.at, b.end), first(), span(b.at, std::min(a.end, b.end)),
                         vms ? "runs one vCPU, guest or user interval"
                             : "is in one guest or user interval"));
        return;
      }
      // Touching: at one cycle, VMs enter and leave first, then the events run
      // in file order, so the end of the first must come first.
      if (b.at == a.end && b.order < a.order) {
        fail(at, b.vm && a.e
                     ? fmt::format("{} starts at cycle {}, where {} ends, but a VM enters "
                                   "before the events of its cycle, so it would start first: "
                                   "start it later",
                                   subject(b), b.at, first())
                     : fmt::format("{} starts at cycle {}, where {} ends, but comes before it "
                                   "in the file, so it would start first: put it after that one",
                                   subject(b), b.at, first()));
        return;
      }
    }
    if (!open || b.end > open->end || (b.end == open->end && b.order > open->order)) {
      open = &b;
    }
  }
}

}  // namespace fredsim::scenario::loader
