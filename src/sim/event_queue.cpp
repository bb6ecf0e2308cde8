#include "fredsim/sim/event_queue.hpp"

#include <algorithm>
#include <cassert>

namespace fredsim {

// The order is (cycle, seq), seq counting schedule() calls: FIFO at equal cycles.
//
// Events live in a pool of nodes; the heap holds buckets, each a FIFO chain of
// events of one cycle. An event joins the bucket created last when it is for that
// bucket's cycle, and opens a new bucket otherwise. That keeps the order exact:
// every event of a bucket was scheduled while it was the newest, so any other
// bucket of the same cycle holds only earlier (older bucket) or only later (newer
// bucket) sequence numbers, and the heap orders buckets by (cycle, first seq).
//
// What it buys: a broadcast schedules thousands of events at one cycle (the NMI
// arrivals, then the deliveries, ...), which join one bucket in O(1) instead of
// each sifting through a heap thousands deep; a lone event costs one bucket, as
// a plain heap entry would.
//
// The heap is 4-ary: half the depth of a binary heap, and the four children of a
// node share a cache line or two. Sifting moves a hole instead of swapping.
namespace {
constexpr std::size_t kArity = 4;
}  // namespace

void EventQueue::sift_up(std::size_t i) {
  const Bucket b = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / kArity;
    if (!later(heap_[parent], b)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = b;
}

void EventQueue::sift_down(std::size_t i) {
  const std::size_t n = heap_.size();
  const Bucket b = heap_[i];
  for (;;) {
    const std::size_t first = i * kArity + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t last = std::min(first + kArity, n);
    for (std::size_t c = first + 1; c < last; ++c) {
      if (later(heap_[best], heap_[c])) best = c;
    }
    if (!later(b, heap_[best])) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = b;
}

void EventQueue::pop_top() {
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
}

EventQueue::EventQueue(std::size_t initial_capacity) {
  initial_capacity = std::max<std::size_t>(initial_capacity, 16);
  heap_.reserve(initial_capacity);
  nodes_.reserve(initial_capacity);
}

std::uint32_t EventQueue::alloc_node() {
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

bool EventQueue::past_end(Cycle at, const EventTarget& target, std::uint32_t kind) {
  if (at <= kMaxCycle) [[likely]]
    return false;
  if (!overrun_) overrun_ = TimeOverrun{now_, at, target.event_name(kind)};
  return true;
}

EventId EventQueue::schedule(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  if (past_end(at, target, kind)) return EventId{};
  const std::uint64_t seq = next_seq_++;
  const std::uint32_t i = alloc_node();
  nodes_[i] = Node{&target, arg, seq, kind, kNone};
  if (newest_live_ && at == newest_cycle_) {
    nodes_[newest_tail_].next = i;
  } else {
    heap_.push_back(Bucket{at, seq, i});
    sift_up(heap_.size() - 1);
    newest_live_ = true;
    newest_cycle_ = at;
    newest_first_seq_ = seq;
  }
  newest_tail_ = i;
  ++live_;
  return EventId{seq};
}

EventId EventQueue::schedule_reserved(Cycle at, std::uint64_t seq, EventTarget& target,
                                      std::uint32_t kind, std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  assert(seq < next_seq_ && "a reserved sequence number");
  if (past_end(at, target, kind)) return EventId{};
  const std::uint32_t i = alloc_node();
  nodes_[i] = Node{&target, arg, seq, kind, kNone};
  // A bucket of its own, which nothing joins: its number is older than the
  // newest bucket's, so events joining it would overtake that bucket's.
  heap_.push_back(Bucket{at, seq, i});
  sift_up(heap_.size() - 1);
  ++live_;
  return EventId{seq};
}

bool EventQueue::pending(EventId id) const {
  for (const Bucket& b : heap_) {
    for (std::uint32_t i = b.head; i != kNone; i = nodes_[i].next) {
      if (nodes_[i].seq == id.seq) return nodes_[i].target != nullptr;
    }
  }
  return false;
}

bool EventQueue::cancel(EventId id) {
  for (const Bucket& b : heap_) {
    for (std::uint32_t i = b.head; i != kNone; i = nodes_[i].next) {
      Node& n = nodes_[i];
      if (n.seq != id.seq) continue;
      if (n.target == nullptr) return false;
      n.target = nullptr;  // a tombstone: popped and skipped in its turn
      --live_;
      return true;
    }
  }
  return false;
}

// Takes the first event of the top bucket off the queue (tombstone or not).
EventQueue::Node EventQueue::pop_front() {
  Bucket& top = heap_.front();
  const std::uint32_t i = top.head;
  const Node n = nodes_[i];
  nodes_[i].next = free_;
  free_ = i;
  if (n.next == kNone) {
    // The bucket is empty; no event may join it any more.
    if (top.first_seq == newest_first_seq_) newest_live_ = false;
    pop_top();
  } else {
    top.head = n.next;  // the key (cycle, first_seq) stays: the heap stays valid
  }
  return n;
}

void EventQueue::drop_stale_top() {
  while (!heap_.empty() && nodes_[heap_.front().head].target == nullptr)
    pop_front();
}

Cycle EventQueue::next_cycle() {
  if (overrun_) return kNever;
  drop_stale_top();
  return heap_.empty() ? kNever : heap_.front().cycle;
}

std::optional<EventQueue::Node> EventQueue::take_next() {
  if (overrun_) return std::nullopt;  // time ran out: the run stops here
  drop_stale_top();
  if (heap_.empty()) return std::nullopt;
  now_ = heap_.front().cycle;
  --live_;
  ++events_run_;
  return pop_front();
}

bool EventQueue::run_one(Cycle horizon) {
  const auto n = take_next();
  if (!n) return false;
  horizon_ = horizon;
  n->target->on_event(n->kind, n->arg);
  horizon_ = 0;
  return true;
}

bool EventQueue::try_advance(Cycle to) {
  // Past the end of time, the event the caller schedules instead records it.
  if (to > horizon_ || to < now_ || to > kMaxCycle) return false;
  drop_stale_top();
  if (!heap_.empty() && heap_.front().cycle <= to) return false;
  now_ = to;
  return true;
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
  while (ran < max_events) {
    const Cycle next = next_cycle();
    if (next == kNever || next > limit) break;
    run_one(limit);
    ++ran;
  }
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
