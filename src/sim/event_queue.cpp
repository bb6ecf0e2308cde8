#include "fredsim/sim/event_queue.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

// The queue's small steps, inlined into schedule() and the run loops: the
// calls cost more than the steps.
#define FREDSIM_INLINE [[gnu::always_inline]] inline

namespace fredsim {

// The order is (cycle, seq), seq counting schedule() calls: FIFO at equal cycles.
//
// Runs. An event joins the run created last when it is for that run's cycle,
// and opens a new run otherwise; a run is keyed by its first event's sequence
// number, and the events of one cycle run in (run, seq) order. Without
// reserve_seqs() that is exactly seq order. With it, a reserved number is a run
// of its own that nothing joins, and sorts by that number among the runs of its
// cycle. (The queue used to keep each run as one heap entry; the key keeps
// that order bit for bit.)
//
// Storage. Events live in a pool of nodes. Almost every event of a run is due
// within a few thousand cycles, so those due within kSlots cycles of now go into
// a timing wheel: one slot per cycle (the cycle modulo kSlots; no two pending
// events of different cycles can share a slot, since all are in
// [now, now + kSlots)), each slot a chain in (run, seq) order, and a bitmap of
// the slots in use with a summary word over it. The first event is then the head
// of the first slot in use at or after now's slot, going round: a few bit scans,
// whatever the number of events. Events due later wait in a binary heap (the
// periodic events of a scenario, second-long timeouts); the first event is
// whichever of the wheel's first and the heap's top comes first in the order.
// Scheduling appends to a slot's chain (a reserved number may insert into it)
// or pushes onto the heap.

EventQueue::EventQueue(std::size_t initial_capacity)
    : slot_head_(kSlots, kNone), slot_tail_(kSlots, kNone) {
  initial_capacity = std::max<std::size_t>(initial_capacity, 16);
  nodes_.reserve(initial_capacity);
  far_.reserve(initial_capacity);
}

FREDSIM_INLINE std::uint32_t EventQueue::alloc_node() {
  if (free_ != kNone) {
    const std::uint32_t i = free_;
    free_ = nodes_[i].next;
    return i;
  }
  // push_back doubles the storage when full: reallocations stay logarithmic in
  // the working size, and none happen once it is reached.
  nodes_.push_back(Node{});
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

FREDSIM_INLINE bool EventQueue::past_end(Cycle at, const EventTarget& target, std::uint32_t kind) {
  if (at <= kMaxCycle) [[likely]]
    return false;
  if (!overrun_) overrun_ = TimeOverrun{now_, at, target.event_name(kind)};
  return true;
}

FREDSIM_INLINE void EventQueue::wheel_insert(std::uint32_t i) {
  const std::uint32_t s = static_cast<std::uint32_t>(nodes_[i].cycle) & kSlotMask;
  ++wheel_size_;
  const std::uint32_t tail = slot_tail_[s];
  if (tail == kNone) {
    slot_head_[s] = slot_tail_[s] = i;
    occupied_[s >> 6] |= std::uint64_t{1} << (s & 63);
    summary_ |= std::uint64_t{1} << (s >> 6);
    return;
  }
  if (before(tail, i)) {
    nodes_[tail].next = i;
    slot_tail_[s] = i;
    return;
  }
  // A reserved number older than the chain's last: walk to its place.
  std::uint32_t* link = &slot_head_[s];
  while (before(*link, i))
    link = &nodes_[*link].next;
  nodes_[i].next = *link;
  *link = i;
}

void EventQueue::far_push(std::uint32_t i) {
  far_.push_back(i);
  std::size_t k = far_.size() - 1;
  while (k > 0) {
    const std::size_t parent = (k - 1) / 2;
    if (!before(i, far_[parent])) break;
    far_[k] = far_[parent];
    k = parent;
  }
  far_[k] = i;
}

void EventQueue::displace_front() {
  front_live_ = false;
  const std::uint32_t j = alloc_node();
  nodes_[j] = front_;
  if (newest_tail_ == kFront) newest_tail_ = j;
  --live_;  // insert() counts it again
  insert(j);
}

FREDSIM_INLINE void EventQueue::insert(std::uint32_t i) {
  if (front_live_ && precedes(nodes_[i], front_)) [[unlikely]]
    displace_front();
  if (nodes_[i].cycle - now_ < kSlots) {
    wheel_insert(i);
  } else {
    far_push(i);
  }
  if (first_ == kNone || before(i, first_)) first_ = i;
  ++live_;
}

FREDSIM_INLINE EventId EventQueue::queue_event(Cycle at, EventTarget& target, std::uint32_t kind,
                                               std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  if (past_end(at, target, kind)) return EventId{};
  const std::uint64_t seq = open_seq(at);
  const std::uint32_t i = alloc_node();
  nodes_[i] = Node{&target, arg, seq, newest_run_, at, kind, kNone, 0, false};
  newest_tail_ = i;
  insert(i);
  return EventId{seq};
}

EventId EventQueue::schedule(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg) {
  return queue_event(at, target, kind, arg);
}

void EventQueue::schedule_next(Cycle at, EventTarget& target, std::uint32_t kind,
                               std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  // One front at a time, and only for an event due before the queue's first
  // (at its cycle, schedule() decides): otherwise the queue takes it.
  if (front_live_ || (first_ != kNone && nodes_[first_].cycle <= at) || at > kMaxCycle) {
    queue_event(at, target, kind, arg);
    return;
  }
  const std::uint64_t seq = open_seq(at);
  front_ = Node{&target, arg, seq, newest_run_, at, kind, kNone, 0, false};
  front_live_ = true;
  newest_tail_ = kFront;
  ++live_;
}

EventId EventQueue::schedule_reserved(Cycle at, std::uint64_t seq, EventTarget& target,
                                      std::uint32_t kind, std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  assert(seq < next_seq_ && "a reserved sequence number");
  if (past_end(at, target, kind)) return EventId{};
  // A run of its own, which nothing joins: its number is older than the newest
  // run's, so events joining it would overtake that run's.
  const std::uint32_t i = alloc_node();
  nodes_[i] = Node{&target, arg, seq, seq, at, kind, kNone, 0, false};
  insert(i);
  return EventId{seq};
}

template <typename F>
void EventQueue::for_each_queued(F&& f) const {
  for (std::uint32_t w = 0; w < kWords; ++w) {
    for (std::uint64_t bits = occupied_[w]; bits != 0; bits &= bits - 1) {
      const std::uint32_t s = (w << 6) | static_cast<std::uint32_t>(std::countr_zero(bits));
      for (std::uint32_t i = slot_head_[s]; i != kNone; i = nodes_[i].next) {
        if (f(i)) return;
      }
    }
  }
  for (std::uint32_t i : far_) {
    if (f(i)) return;
  }
}

bool EventQueue::pending(EventId id) const {
  bool found = false;
  for_each_queued([&](std::uint32_t i) {
    if (nodes_[i].seq != id.seq) return false;
    found = nodes_[i].target != nullptr;
    return true;
  });
  return found;
}

bool EventQueue::cancel(EventId id) {
  bool cancelled = false;
  for_each_queued([&](std::uint32_t i) {
    Node& n = const_cast<Node&>(nodes_[i]);
    if (n.seq != id.seq) return false;
    if (n.target != nullptr) {
      n.target = nullptr;  // a tombstone: taken off and skipped in its turn
      --live_;
      cancelled = true;
    }
    return true;
  });
  return cancelled;
}

FREDSIM_INLINE std::uint32_t EventQueue::first_wheel_slot() const {
  // Every event in the wheel is due in [now, now + kSlots): the first slot in
  // use at or after now's, going round, holds the earliest.
  const std::uint32_t start = static_cast<std::uint32_t>(now_) & kSlotMask;
  const std::uint32_t w = start >> 6;
  if (const std::uint64_t m = occupied_[w] & (~std::uint64_t{0} << (start & 63)); m != 0) {
    return (w << 6) | static_cast<std::uint32_t>(std::countr_zero(m));
  }
  const std::uint64_t after = w == 63 ? 0 : summary_ & (~std::uint64_t{0} << (w + 1));
  // None after now's word: round to the first in use (word w's bits at or after
  // now's slot are ruled out above).
  const std::uint32_t v =
      static_cast<std::uint32_t>(std::countr_zero(after != 0 ? after : summary_));
  return (v << 6) | static_cast<std::uint32_t>(std::countr_zero(occupied_[v]));
}

FREDSIM_INLINE std::uint32_t EventQueue::find_first() const {
  const std::uint32_t wheel = wheel_size_ != 0 ? slot_head_[first_wheel_slot()] : kNone;
  if (far_.empty()) return wheel;
  if (wheel == kNone) return far_.front();
  return before(far_.front(), wheel) ? far_.front() : wheel;
}

FREDSIM_INLINE void EventQueue::remove_first(std::uint32_t i) {
  assert(i == first_);
  Node& n = nodes_[i];
  const std::uint32_t s = static_cast<std::uint32_t>(n.cycle) & kSlotMask;
  if (slot_head_[s] != i) [[unlikely]] {
    far_pop(i);
    return;
  }
  --wheel_size_;
  const std::uint32_t next = n.next;
  slot_head_[s] = next;
  if (next == kNone) {
    slot_tail_[s] = kNone;
    occupied_[s >> 6] &= ~(std::uint64_t{1} << (s & 63));
    if (occupied_[s >> 6] == 0) summary_ &= ~(std::uint64_t{1} << (s >> 6));
  }
  // The newest run's last event is gone: no event may join that run any more.
  if (i == newest_tail_) newest_live_ = false;
  n.next = free_;
  free_ = i;
  if (next != kNone) {
    // The first event's slot goes on: its next event is the wheel's first,
    // no scan needed; only the heap's top may come before it.
    first_ = !far_.empty() && before(far_.front(), next) ? far_.front() : next;
  } else {
    first_ = find_first();
  }
}

void EventQueue::far_pop(std::uint32_t i) {
  // The heap's top: move the last entry down from the root.
  const std::uint32_t last = far_.back();
  far_.pop_back();
  const std::size_t size = far_.size();
  if (size != 0) {
    std::size_t k = 0;
    for (;;) {
      std::size_t c = 2 * k + 1;
      if (c >= size) break;
      if (c + 1 < size && before(far_[c + 1], far_[c])) ++c;
      if (!before(far_[c], last)) break;
      far_[k] = far_[c];
      k = c;
    }
    far_[k] = last;
  }
  if (i == newest_tail_) newest_live_ = false;
  nodes_[i].next = free_;
  free_ = i;
  first_ = find_first();
}

FREDSIM_INLINE void EventQueue::consume_first(std::uint32_t i) {
  Node& n = nodes_[i];
  if (n.repeat == 0) {
    remove_first(i);
    return;
  }
  // A posted entry's next identical event: the entry stays first, for the rest.
  --n.repeat;
  ++n.seq;
}

FREDSIM_INLINE EventQueue::Node EventQueue::pop_first() {
  const std::uint32_t i = first();
  const Node n = nodes_[i];
  consume_first(i);
  return n;
}

FREDSIM_INLINE void EventQueue::drop_stale_first() {
  for (std::uint32_t i = first(); i != kNone && nodes_[i].target == nullptr; i = first())
    remove_first(i);
}

Cycle EventQueue::next_cycle() {
  if (overrun_) return kNever;
  if (front_live_) return front_.cycle;
  drop_stale_first();
  const std::uint32_t i = first();
  return i == kNone ? kNever : nodes_[i].cycle;
}

FREDSIM_INLINE std::optional<EventQueue::Node> EventQueue::take_next() {
  if (overrun_) return std::nullopt;  // time ran out: the run stops here
  if (front_live_) {
    take_front();
    --live_;
    ++events_run_;
    return front_;
  }
  drop_stale_first();
  if (live_ == 0) return std::nullopt;
  const Node n = pop_first();
  now_ = n.cycle;
  --live_;
  ++events_run_;
  return n;
}

FREDSIM_INLINE bool EventQueue::next_event(Cycle limit, Cycle horizon) {
  // take_next() without copying the whole node: only what the call needs.
  if (overrun_) return false;
  if (front_live_) {
    // Before every queued event (tombstones too): nothing to search or unlink.
    if (front_.cycle > limit) return false;
    take_front();
    fire(front_.target, front_.kind, front_.arg, horizon);
    return true;
  }
  drop_stale_first();
  if (live_ == 0) return false;
  const std::uint32_t i = first();
  if (nodes_[i].cycle > limit) return false;
  EventTarget* const target = nodes_[i].target;
  const std::uint32_t kind = nodes_[i].kind;
  const std::uint64_t arg = nodes_[i].arg;
  now_ = nodes_[i].cycle;
  consume_first(i);
  fire(target, kind, arg, horizon);
  return true;
}

bool EventQueue::run_next(Cycle limit, Cycle horizon) {
  return next_event(limit, horizon);
}

std::uint64_t EventQueue::run_batch(Cycle limit, std::uint64_t max_events, const bool& stop) {
  std::uint64_t ran = 0;
  while (ran < max_events && next_event(limit, limit)) {
    ++ran;
    if (stop) break;
  }
  return ran;
}

bool EventQueue::try_advance(Cycle to) {
  // Past the end of time, the event the caller schedules instead records it.
  if (to > horizon_ || to < now_ || to > kMaxCycle) return false;
  if (front_live_ && front_.cycle <= to) return false;
  drop_stale_first();
  if (const std::uint32_t i = first(); i != kNone && nodes_[i].cycle <= to) return false;
  now_ = to;
  return true;
}

void EventQueue::take_first() {
  remove_first(first_);
}

std::optional<StepInfo> EventQueue::step() {
  const auto n = take_next();
  if (!n) return std::nullopt;
  // Named before the event runs: the target may be gone after it.
  StepInfo info{now_, n->seq, n->target->event_cpu(), n->target->event_name(n->kind)};
  n->target->on_event(n->kind, n->arg);
  return info;
}

std::uint64_t EventQueue::run_until(Cycle limit, std::uint64_t max_events) {
  std::uint64_t ran = 0;
  while (ran < max_events && run_next(limit))
    ++ran;
  if (ran < max_events && !overrun_ && limit != kNever && limit > now_) {
    now_ = std::min(limit, kMaxCycle);
  }
  return ran;
}

std::uint64_t EventQueue::run_to_idle(std::uint64_t max_events) {
  std::uint64_t ran = 0;
  while (ran < max_events && run_one())
    ++ran;
  return ran;
}

}  // namespace fredsim
