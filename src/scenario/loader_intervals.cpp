// The guest and user intervals of the [[event]] tables: one at a time per CPU.
#include <algorithm>

#include "scenario/loader_validator.hpp"

namespace fredsim::scenario::loader {

/// One CPU is in one guest or user interval at a time: a second one that
/// starts before the first ends would enter a VM that is running (KVM prints
/// "VM entry failed") or leave user mode early, and skew every sum after it.
void Validator::check_intervals() {
  struct Interval {
    CpuId cpu;
    Cycle at;
    Cycle end;  // kNever: to the end of the run
    const EventSpec* e;
  };
  std::vector<Interval> all;
  for (const EventSpec& e : spec_.events) {
    if (e.type != EventType::guest && e.type != EventType::user) continue;
    // One that starts after the run's end never happens.
    if (spec_.system.end && e.at > *spec_.system.end) continue;
    all.push_back({e.cpu, e.at, e.until.value_or(kNever), &e});
  }
  std::sort(all.begin(), all.end(), [](const Interval& a, const Interval& b) {
    if (a.cpu != b.cpu) return a.cpu < b.cpu;
    return a.at != b.at ? a.at < b.at : a.e->file_index < b.e->file_index;
  });
  auto span = [](Cycle from, Cycle to) {
    return to == kNever ? fmt::format("{} to the end of the run", from)
                        : fmt::format("{}..{}", from, to);
  };
  // Against the interval that ends last so far (the later in the file among
  // those ending together): any earlier interval that overlaps this one, that
  // one does too.
  const Interval* open = nullptr;
  for (const Interval& b : all) {
    if (open && open->cpu != b.cpu) open = nullptr;
    if (open) {
      const Interval& a = *open;
      const SourceLoc& at = b.e->keys.loc_of("at", b.e->loc);
      auto first = [&] {
        return fmt::format("the \"{}\" interval at {} (cycles {})", to_string(a.e->type),
                           spec_.where(a.e->loc), span(a.at, a.end));
      };
      if (b.at < a.end) {
        fail(at, fmt::format("[[event]] of type \"{}\" on CPU {} (cycles {}) overlaps {}: "
                             "cycles {} would be in both, and a CPU is in one guest or user "
                             "interval at a time",
                             to_string(b.e->type), b.cpu, span(b.at, b.end), first(),
                             span(b.at, std::min(a.end, b.end))));
        return;
      }
      // Touching: at one cycle, events run in file order, so the end of the
      // first must come first in the file.
      if (b.at == a.end && b.e->file_index < a.e->file_index) {
        fail(at, fmt::format("[[event]] of type \"{}\" on CPU {} starts at cycle {}, where {} "
                             "ends, but comes before it in the file, so it would start "
                             "first: put it after that one",
                             to_string(b.e->type), b.cpu, b.at, first()));
        return;
      }
    }
    if (!open || b.end > open->end ||
        (b.end == open->end && b.e->file_index > open->e->file_index)) {
      open = &b;
    }
  }
}

}  // namespace fredsim::scenario::loader
