#include "fredsim/sim/event_queue.hpp"

#include <algorithm>
#include <cassert>

namespace fredsim {

// A 4-ary min-heap on (cycle, seq): half the depth of a binary heap, and the four
// children of a node share a cache line or two. Sifting moves a hole instead of
// swapping entries.
namespace {
constexpr std::size_t kArity = 4;
}  // namespace

void EventQueue::sift_up(std::size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!later(heap_[parent], e)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void EventQueue::sift_down(std::size_t i) {
  const std::size_t n = heap_.size();
  Entry e = heap_[i];
  for (;;) {
    const std::size_t first = i * kArity + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t last = std::min(first + kArity, n);
    for (std::size_t c = first + 1; c < last; ++c) {
      if (later(heap_[best], heap_[c])) best = c;
    }
    if (!later(e, heap_[best])) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = e;
}

void EventQueue::pop_top() {
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
}

EventQueue::EventQueue(std::size_t initial_capacity) {
  heap_.reserve(std::max<std::size_t>(initial_capacity, 16));
}

EventId EventQueue::schedule(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  // push_back doubles the storage when full: reallocations stay logarithmic in
  // the working size, and none happen once it is reached.
  const std::uint64_t seq = next_seq_++;
  heap_.push_back(Entry{at, seq, &target, arg, kind});
  sift_up(heap_.size() - 1);
  ++live_;
  return EventId{seq};
}

bool EventQueue::pending(EventId id) const {
  return std::any_of(heap_.begin(), heap_.end(),
                     [&](const Entry& e) { return e.seq == id.seq && e.target != nullptr; });
}

bool EventQueue::cancel(EventId id) {
  for (Entry& e : heap_) {
    if (e.seq == id.seq && e.target != nullptr) {
      e.target = nullptr;  // the heap order is on (cycle, seq), which stays
      --live_;
      return true;
    }
  }
  return false;
}

void EventQueue::drop_stale_top() {
  while (!heap_.empty() && heap_.front().target == nullptr)
    pop_top();
}

Cycle EventQueue::next_cycle() {
  drop_stale_top();
  return heap_.empty() ? kNever : heap_.front().cycle;
}

EventQueue::Entry EventQueue::pop_live() {
  const Entry e = heap_.front();
  pop_top();
  --live_;
  now_ = e.cycle;
  ++events_run_;
  return e;
}

bool EventQueue::run_one() {
  drop_stale_top();
  if (heap_.empty()) return false;
  const Entry e = pop_live();
  e.target->on_event(e.kind, e.arg);
  return true;
}

std::optional<StepInfo> EventQueue::step() {
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  const Entry e = pop_live();
  // Named before the event runs: the target may be gone after it.
  StepInfo info{e.cycle, e.seq, e.target->event_cpu(), e.target->event_name(e.kind)};
  e.target->on_event(e.kind, e.arg);
  return info;
}

std::uint64_t EventQueue::run_until(Cycle limit, std::uint64_t max_events) {
  std::uint64_t ran = 0;
  while (ran < max_events) {
    const Cycle next = next_cycle();
    if (next == kNever || next > limit) break;
    run_one();
    ++ran;
  }
  if (ran < max_events && limit != kNever && limit > now_) now_ = limit;
  return ran;
}

std::uint64_t EventQueue::run_to_idle(std::uint64_t max_events) {
  std::uint64_t ran = 0;
  while (ran < max_events && run_one())
    ++ran;
  return ran;
}

}  // namespace fredsim
