#include "fredsim/sim/event_queue.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

// The queue's small steps, inlined into schedule() and the run loops: the
// calls cost more than the steps.
#define FREDSIM_INLINE [[gnu::always_inline]] inline

namespace fredsim {
namespace {

// The index of the lowest bit set in `bits`, which is not 0: a bit scan
// without std::countr_zero's care for 0.
FREDSIM_INLINE std::uint32_t lowest_bit(std::uint64_t bits) {
  assert(bits != 0);
  return static_cast<std::uint32_t>(__builtin_ctzll(bits));
}

}  // namespace

// The order is (cycle, seq), seq counting schedule() calls: FIFO at equal cycles.
//
// Runs. An event joins the run created last when it is for that run's cycle,
// and opens a new run otherwise; a run is keyed by its first event's sequence
// number, and the events of one cycle run in (run, seq) order. Without
// reserve_seqs() that is exactly seq order. With it, a reserved number is a run
// of its own that nothing joins, and sorts by that number among the runs of its
// cycle. (The queue used to keep each run as one heap entry; the key keeps
// that order bit for bit.) A reserved number scheduled twice for one cycle
// (both pending) is two runs with one key: the order of the schedules decides,
// through the node's stamp.
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
//
// The first. first_ and its cycle, first_cycle_ (kEmpty, past every cycle
// and run limit, when nothing is queued), are kept up to date by every
// schedule and removal: a schedule compares its cycle with first_cycle_ (an
// event appended to a slot with events is never first), a removal takes the
// next event of the slot, or scans the bitmap from the emptied slot on.
// schedule_next()'s event waits outside the wheel and the heap, as the front,
// while it comes before every queued event: an event that comes before the
// front moves it into the queue.
//
// Costs. The common schedules (link, queue_event, schedule_next) are inline in
// the header and every rare case is a call in tail position; the run loop
// tests one state byte for everything but the first event (the front, an
// overrun, tombstones), and sets kInRun and the horizon once per loop. No
// counter is kept per event but events_run_: size() is worked out from the
// sequence numbers (uncounted_).

EventQueue::EventQueue(std::size_t initial_capacity) {
  initial_capacity = std::max<std::size_t>(initial_capacity, 16);
  nodes_.reserve(initial_capacity);
  far_.reserve(initial_capacity);
}

void EventQueue::grow() {
  // push_back doubles the storage when full: reallocations stay logarithmic in
  // the working size, and none happen once it is reached.
  nodes_.push_back(Node{});
  nodes_.back().next = free_;
  free_ = static_cast<std::uint32_t>(nodes_.size() - 1);
}

FREDSIM_INLINE std::uint32_t EventQueue::alloc_node() {
  if (free_ == kNone) [[unlikely]]
    grow();
  const std::uint32_t i = free_;
  free_ = nodes_[i].next;
  return i;
}

void EventQueue::record_overrun(Cycle at, const EventTarget& target, std::uint32_t kind) {
  if (!overrun_) overrun_ = TimeOverrun{now_, at, target.event_name(kind)};
  state_ |= kOverrun;
}

EventId EventQueue::maybe_first(std::uint32_t i, Cycle at) {
  // At the first's cycle only a reserved number, or an event in the wheel
  // beside a heap one, can come before the first: compare the whole key.
  if (at == first_cycle_ && !before(i, first_)) return EventId{nodes_[i].seq};
  // Before every queued event: then maybe before the front too, which then
  // goes into the queue (and becomes first_ for the moment).
  if (front_live() && precedes(nodes_[i], front_)) [[unlikely]]
    displace_front();
  first_ = i;
  first_cycle_ = at;
  return EventId{nodes_[i].seq};
}

EventId EventQueue::slot_insert(std::uint32_t i, Cycle at) {
  Slot& slot = slots_[static_cast<std::uint32_t>(at) & kSlotMask];
  // A reserved number (or the displaced front) older than the chain's last
  // (link() has seen to the rest): walk to its place. At the head, it may be
  // the queue's first.
  std::uint32_t* link = &slot.head;
  while (before(*link, i))
    link = &nodes_[*link].next;
  nodes_[i].next = *link;
  const bool head = link == &slot.head;
  *link = i;
  if (head && at <= first_cycle_) return maybe_first(i, at);
  return EventId{nodes_[i].seq};
}

EventId EventQueue::far_push(std::uint32_t i, Cycle at) {
  far_.push_back(i);
  std::size_t k = far_.size() - 1;
  while (k > 0) {
    const std::size_t parent = (k - 1) / 2;
    if (!before(i, far_[parent])) break;
    far_[k] = far_[parent];
    k = parent;
  }
  far_[k] = i;
  if (k == 0) far_cycle_ = at;
  if (at <= first_cycle_) return maybe_first(i, at);
  return EventId{nodes_[i].seq};
}

void EventQueue::displace_front() {
  state_ &= ~kFront;
  const std::uint32_t j = alloc_node();
  nodes_[j] = front_;
  if (newest_tail_ == kFrontTail) newest_tail_ = j;
  link<false>(j, front_.cycle);
}

template <bool posted>
EventId EventQueue::queue_event_rare(Cycle at, EventTarget& target, std::uint32_t kind,
                                     std::uint64_t arg) {
  if (at > kMaxCycle) {
    record_overrun(at, target, kind);
    return EventId{};
  }
  grow();
  return queue_event<posted>(at, target, kind, arg);
}

template EventId EventQueue::queue_event_rare<false>(Cycle, EventTarget&, std::uint32_t,
                                                     std::uint64_t);
template EventId EventQueue::queue_event_rare<true>(Cycle, EventTarget&, std::uint32_t,
                                                    std::uint64_t);

EventId EventQueue::schedule(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg) {
  return queue_event<false>(at, target, kind, arg);
}

void EventQueue::post_new(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg) {
  queue_event<true>(at, target, kind, arg);
}

void EventQueue::post_many(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg,
                           std::uint32_t count) {
  if (queue_event<true>(at, target, kind, arg).seq == EventId{}.seq) return;  // past the end
  if (posted_tail_ == kNone) [[unlikely]] {
    // The entry is not the one to take repeats (no path does this today): the
    // others as posts of their own, which come out the same.
    for (std::uint32_t k = 1; k < count; ++k)
      post(at, target, kind, arg);
    return;
  }
  // The entry just made (posted_tail_) takes the other count - 1.
  nodes_[posted_tail_].repeat = count - 1;
  next_seq_ += count - 1;
}

EventId EventQueue::schedule_reserved(Cycle at, std::uint64_t seq, EventTarget& target,
                                      std::uint32_t kind, std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  assert(seq < next_seq_ && "a reserved sequence number");
  if (free_ == kNone || at > kMaxCycle) [[unlikely]]
    return schedule_reserved_rare(at, seq, target, kind, arg);
  // A run of its own, which nothing joins: its number is older than the newest
  // run's, so events joining it would overtake that run's.
  const std::uint32_t i = free_;
  free_ = nodes_[i].next;
  nodes_[i] = Node{&target, arg, seq, seq, at, kind, kNone, 0, ++reserved_stamp_};
  --uncounted_;
  return link<false>(i, at);
}

EventId EventQueue::schedule_reserved_rare(Cycle at, std::uint64_t seq, EventTarget& target,
                                           std::uint32_t kind, std::uint64_t arg) {
  if (at > kMaxCycle) {
    record_overrun(at, target, kind);
    return EventId{};
  }
  grow();
  return schedule_reserved(at, seq, target, kind, arg);
}

template <typename F>
void EventQueue::for_each_queued(F&& f) const {
  for (std::uint32_t w = 0; w < kWords; ++w) {
    for (std::uint64_t bits = occupied_[w]; bits != 0; bits &= bits - 1) {
      const std::uint32_t s = (w << 6) | static_cast<std::uint32_t>(std::countr_zero(bits));
      for (std::uint32_t i = slots_[s].head; i != kNone; i = nodes_[i].next) {
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
      ++uncounted_;
      ++tombstones_;
      state_ |= kTombstones;
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
    return (w << 6) | lowest_bit(m);
  }
  const std::uint64_t after = w == 63 ? 0 : summary_ & (~std::uint64_t{0} << (w + 1));
  // None after now's word: round to the first in use (word w's bits at or after
  // now's slot are ruled out above).
  const std::uint32_t v = lowest_bit(after != 0 ? after : summary_);
  return (v << 6) | lowest_bit(occupied_[v]);
}

FREDSIM_INLINE void EventQueue::set_first(std::uint32_t i, Cycle c) {
  // The heap's top instead, when it is due no later (both kEmpty: nothing queued).
  if (far_cycle_ <= c) [[unlikely]] {
    if (far_cycle_ != kEmpty && (far_cycle_ < c || before(far_.front(), i))) {
      i = far_.front();
      c = far_cycle_;
    }
  }
  first_ = i;
  first_cycle_ = c;
}

FREDSIM_INLINE void EventQueue::find_first() {
  if (summary_ == 0) {
    set_first(kNone, kEmpty);
    return;
  }
  const std::uint32_t i = slots_[first_wheel_slot()].head;
  set_first(i, nodes_[i].cycle);
}

FREDSIM_INLINE void EventQueue::remove_first(std::uint32_t i) {
  assert(i == first_);
  Node& n = nodes_[i];
  const std::uint32_t s = static_cast<std::uint32_t>(first_cycle_) & kSlotMask;
  Slot& slot = slots_[s];
  if (slot.head != i) [[unlikely]] {
    far_pop(i);
    return;
  }
  const std::uint32_t next = n.next;
  slot.head = next;
  if (i == newest_tail_) end_newest();
  n.next = free_;
  free_ = i;
  if (next != kNone) {
    // The first event's slot goes on: its next event is the wheel's first,
    // no scan needed; only the heap's top may come before it, at this cycle.
    first_ = next;
    if (far_cycle_ == first_cycle_ && before(far_.front(), next)) [[unlikely]]
      first_ = far_.front();
    return;
  }
  // The slot is empty (its head kNone; its tail is not looked at again until
  // an event goes in). The wheel's next event is the first in use after it,
  // going round: every event in the wheel is due in [first_cycle_, now +
  // kSlots), so the scan starts from this slot and this bitmap word, which is
  // in a register already.
  const std::uint32_t w = s >> 6;
  const std::uint64_t bit = std::uint64_t{1} << (s & 63);
  const std::uint64_t word = occupied_[w] & ~bit;
  occupied_[w] = word;
  std::uint32_t next_slot;
  if (const std::uint64_t later = word & (0 - bit); later != 0) {
    next_slot = (w << 6) | lowest_bit(later);
  } else {
    if (word == 0) summary_ &= ~(std::uint64_t{1} << w);
    if (summary_ == 0) [[unlikely]] {
      set_first(kNone, kEmpty);
      return;
    }
    // The words after w (~1 << w: none after the last word), else round to the
    // first in use (w's own bits before s among them).
    const std::uint64_t after = summary_ & (~std::uint64_t{1} << w);
    const std::uint32_t v = lowest_bit(after != 0 ? after : summary_);
    next_slot = (v << 6) | lowest_bit(occupied_[v]);
  }
  const std::uint32_t j = slots_[next_slot].head;
  set_first(j, nodes_[j].cycle);
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
    far_cycle_ = nodes_[far_.front()].cycle;
  } else {
    far_cycle_ = kEmpty;
  }
  if (i == newest_tail_) end_newest();
  nodes_[i].next = free_;
  free_ = i;
  find_first();
}

void EventQueue::take_first() {
  remove_first(first_);
}

void EventQueue::drop_tombstones() {
  while (first_ != kNone && nodes_[first_].target == nullptr) {
    take_first();
    if (--tombstones_ == 0) state_ &= ~kTombstones;
  }
}

Cycle EventQueue::next_cycle() {
  if (overrun_) return kNever;
  if (front_live()) return front_.cycle;
  drop_stale_first();
  return first_ == kNone ? kNever : first_cycle_;
}

FREDSIM_INLINE void EventQueue::consume_first(std::uint32_t i) {
  Node& n = nodes_[i];
  if (n.repeat != 0) {
    --n.repeat;
    ++n.seq;
  } else {
    remove_first(i);
  }
  ++events_run_;
}

EventQueue::Taken EventQueue::take_next() {
  if (overrun_) return Taken{};  // time ran out: the run stops here
  if (front_live()) {
    take_front();
    ++events_run_;
    return Taken{front_.target, front_.kind, front_.arg, front_.seq};
  }
  drop_stale_first();
  if (first_ == kNone) return Taken{};
  const std::uint32_t i = first_;
  Node& n = nodes_[i];
  const Taken taken{n.target, n.kind, n.arg, n.seq};
  now_ = first_cycle_;
  consume_first(i);
  return taken;
}

FREDSIM_INLINE bool EventQueue::next_event(Cycle limit) {
  if (state_ != kInRun) {
    if ((state_ & kOverrun) != 0) return false;  // time ran out: the run stops here
    if (front_live()) {
      // Before every queued event (tombstones too): nothing to search or unlink.
      if (front_.cycle > limit) return false;
      take_front();
      ++events_run_;
      front_.target->on_event(front_.kind, front_.arg);
      return true;
    }
    // Tombstones at the front go whatever the limit (as next_cycle() drops them).
    drop_stale_first();
  }
  // The first is live now (or none: kEmpty, past every limit).
  const Cycle at = first_cycle_;
  if (at > limit) return false;
  const std::uint32_t i = first_;
  // The fields the call needs, copied out first: the call may schedule into
  // the node's slot, or reuse the node.
  Node& n = nodes_[i];
  EventTarget* const target = n.target;
  const std::uint32_t kind = n.kind;
  const std::uint64_t arg = n.arg;
  now_ = at;
  consume_first(i);
  target->on_event(kind, arg);
  return true;
}

std::uint64_t EventQueue::run_loop(Cycle limit, Cycle horizon, std::uint64_t max_events,
                                   const bool& stop) {
  // No event's cycle is past kMaxCycle, nor may try_advance go there.
  limit = std::min(limit, kMaxCycle);
  // Set once for the whole loop: between two events only the queue runs.
  horizon_ = std::min(horizon, kMaxCycle);
  state_ |= kInRun;
  std::uint64_t ran = 0;
  while (ran < max_events && next_event(limit)) {
    ++ran;
    if (stop) break;
  }
  state_ &= ~kInRun;
  horizon_ = 0;
  return ran;
}

bool EventQueue::run_next(Cycle limit, Cycle horizon) {
  constexpr bool kGo = false;
  return run_loop(limit, horizon, 1, kGo) != 0;
}

std::uint64_t EventQueue::run_batch(Cycle limit, std::uint64_t max_events, const bool& stop) {
  return run_loop(limit, limit, max_events, stop);
}

bool EventQueue::try_advance(Cycle to) {
  // horizon_ is at most kMaxCycle: past the end of time, the event the caller
  // schedules instead records it.
  if (to > horizon_ || to < now_) return false;
  if (front_live() && front_.cycle <= to) return false;
  drop_stale_first();
  if (first_cycle_ <= to) return false;
  now_ = to;
  return true;
}

std::optional<StepInfo> EventQueue::step() {
  const Taken n = take_next();
  if (n.target == nullptr) return std::nullopt;
  // Named before the event runs: the target may be gone after it.
  StepInfo info{now_, n.seq, n.target->event_cpu(), n.target->event_name(n.kind)};
  n.target->on_event(n.kind, n.arg);
  return info;
}

std::uint64_t EventQueue::run_until(Cycle limit, std::uint64_t max_events) {
  constexpr bool kGo = false;
  const std::uint64_t ran = run_loop(limit, limit, max_events, kGo);
  if (ran < max_events && !overrun_ && limit != kNever && limit > now_) {
    now_ = std::min(limit, kMaxCycle);
  }
  return ran;
}

std::uint64_t EventQueue::run_to_idle(std::uint64_t max_events) {
  constexpr bool kGo = false;
  return run_loop(kNever, kNever, max_events, kGo);
}

}  // namespace fredsim
