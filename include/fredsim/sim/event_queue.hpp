#pragma once
// The deterministic event queue (docs/architecture.md "Layers").
//
// Events are ordered by (cycle, sequence number): two events at the same cycle
// run in the order they were scheduled (FIFO), never LIFO. Storage is reserved up
// front and reused, so a queue that has reached its working size schedules and
// pops without touching the heap.
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "fredsim/sim/cycle.hpp"

namespace fredsim {

/// Something that events are delivered to: a CPU, an APIC, the interconnect, a
/// kernel CPU context. `kind` and `arg` are the target's own encoding.
class EventTarget {
 public:
  virtual void on_event(std::uint32_t kind, std::uint64_t arg) = 0;
  /// A short name for the kind, for step() and the stepper ("nmi_arrive").
  virtual std::string_view event_name(std::uint32_t kind) const = 0;
  /// The CPU the target belongs to, or kNoCpu.
  virtual CpuId event_cpu() const { return kNoCpu; }

 protected:
  ~EventTarget() = default;
};

/// A handle for cancel(): the event's sequence number. Stale handles (event
/// already run or cancelled) are safe.
struct EventId {
  std::uint64_t seq = ~std::uint64_t{0};
};

/// Where simulated time ran out: an event was asked for past kMaxCycle (or so
/// far ahead that the cycle would not fit in 64 bits).
struct TimeOverrun {
  Cycle now = 0;          // when it was asked for
  Cycle at = 0;           // the cycle asked for; kNever when it would not fit
  std::string_view name;  // the target's name for the event's kind
};

/// What one step() ran.
struct StepInfo {
  Cycle cycle = 0;
  std::uint64_t seq = 0;
  CpuId cpu = kNoCpu;
  std::string_view name;  // the target's name for the kind
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t initial_capacity = 256);

  /// Schedules `target.on_event(kind, arg)` at cycle `at` (>= now()). Time ends
  /// at kMaxCycle: an event past it is not scheduled; the queue records the
  /// overrun() and runs nothing more, so the run stops there instead of going
  /// on with a wrapped or impossible time. The EventId is then a stale one.
  EventId schedule(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg = 0);
  /// Schedules `delay` cycles from now (checked: a sum past 64 bits is an overrun).
  EventId schedule_in(Cycle delay, EventTarget& target, std::uint32_t kind, std::uint64_t arg = 0) {
    Cycle at = 0;
    if (__builtin_add_overflow(now_, delay, &at)) at = kNever;
    return schedule(at, target, kind, arg);
  }
  /// For a driver that feeds events one occurrence at a time but wants them
  /// ordered as if it had scheduled them all now (a scenario's periodic events):
  /// reserve a block of `n` sequence numbers now, then schedule_reserved() with
  /// one of them at any later time. The event runs among the events of its
  /// cycle as if scheduled at the reservation. A reserved number may be reused
  /// once its event has run. One pending twice at one cycle (a scenario's
  /// rendezvous met by two calls at one cycle) runs in the order of its
  /// schedules, as any two events of one cycle do.
  std::uint64_t reserve_seqs(std::uint64_t n) {
    const std::uint64_t base = next_seq_;
    next_seq_ += n;
    uncounted_ += n;       // numbers, not events, until schedule_reserved() (size())
    posted_tail_ = kNone;  // the next number is not the last post's next event's
    return base;
  }
  EventId schedule_reserved(Cycle at, std::uint64_t seq, EventTarget& target, std::uint32_t kind,
                            std::uint64_t arg = 0);
  /// schedule() for an event nobody cancels (no EventId): when the event
  /// scheduled just before it is the same (a post() of this cycle, target, kind
  /// and argument, nothing scheduled in between), the queue keeps the two as one
  /// entry that runs twice, in the same place of the order, under their two
  /// sequence numbers. An APIC that receives ten identical NMI messages at one
  /// cycle costs one queue entry, not ten; every one of them still runs (and
  /// steps) as an event of its own.
  ///
  /// With a `count`, the same event `count` times in a row (0: none), as that
  /// many post() calls with nothing between them make it: one entry that runs
  /// `count` times more. A sender that writes one ICR ten times at one cycle
  /// (kvm-unit-tests' "pending nmi") posts its ten messages in one call.
  void post(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg = 0,
            std::uint32_t count = 1) {
    if (count == 0) return;
    // posted_tail_ is the newest run's last event, when post() made it and no
    // sequence number was taken since; newest_cycle_ is then its cycle.
    if (at == newest_cycle_ && posted_tail_ != kNone) {
      Node& t = nodes_[posted_tail_];
      if (t.target == &target && t.kind == kind && t.arg == arg && t.repeat <= kMaxRepeat - count) {
        t.repeat += count;
        next_seq_ += count;  // counts the events in size() too
        return;
      }
    }
    if (count == 1) {
      post_new(at, target, kind, arg);
    } else {
      post_many(at, target, kind, arg, count);
    }
  }
  /// schedule() for the next step of a component whose event is running (a
  /// CPU's delivery reaching its entry point, a return completing), which no one
  /// cancels. When it comes before every event in the queue, it is kept outside
  /// it, as the queue's front, and the run loop takes it from there when the
  /// running event's callback has returned: no slot, no search. An event
  /// scheduled after it that comes first moves it into the queue. The order is
  /// schedule()'s, exactly.
  void schedule_next(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg = 0);
  void schedule_next_in(Cycle delay, EventTarget& target, std::uint32_t kind,
                        std::uint64_t arg = 0) {
    Cycle at = 0;
    if (__builtin_add_overflow(now_, delay, &at)) at = kNever;
    schedule_next(at, target, kind, arg);
  }
  /// Cancels a scheduled event; false when it already ran or was cancelled.
  /// Cancelling is rare, so it costs a linear search of the queue and leaves a
  /// tombstone that pop skips: scheduling and running pay nothing for it.
  bool cancel(EventId id);
  /// Linear in the queue's size, like cancel().
  bool pending(EventId id) const;

  Cycle now() const { return now_; }
  bool empty() const { return size() == 0; }
  std::size_t size() const {
    // Every sequence number is an event scheduled, but for uncounted_; the
    // ones run are gone. No counter per schedule or per event beyond these.
    return static_cast<std::size_t>(next_seq_ - uncounted_ - events_run_);
  }
  /// Cycle of the next live event, or kNever (also after an overrun).
  Cycle next_cycle();
  /// The first schedule past kMaxCycle, if any: the queue has stopped.
  const std::optional<TimeOverrun>& overrun() const { return overrun_; }

  /// Runs the next event (advancing now()). Empty optional when idle.
  std::optional<StepInfo> step();
  /// Runs the next event without describing it; false when idle. While it
  /// runs, try_advance() may move time up to `horizon`.
  bool run_one(Cycle horizon = kNever) { return run_next(kNever, horizon); }
  /// run_one(limit) when the next event is due at or before `limit`; false,
  /// running nothing, otherwise (next_cycle() and run_one() in one).
  bool run_next(Cycle limit) { return run_next(limit, limit); }
  /// run_next(limit) in a loop: runs the events due at or before `limit` until
  /// `max_events` have run, none is left, or `stop` (a flag of the caller's,
  /// such as the kernel's machine-halted flag) is true after one. Returns how
  /// many ran. One call for a whole run of events, for a run loop that checks
  /// its other conditions every few thousand events: the same events in the
  /// same order as the loop of run_next calls, without a call per event.
  std::uint64_t run_batch(Cycle limit, std::uint64_t max_events, const bool& stop);
  /// Moves now() to `to` without an event, for a target that would otherwise
  /// schedule an event for itself at `to` and do the rest of its work there
  /// (the kernel model between two handler calls). Allowed only inside an event
  /// run by run_one/run_until/run_to_idle, when no event is due at or before
  /// `to` (so nothing could have happened in between, and the order is the one
  /// the event would have had) and `to` is within the run's horizon. Returns
  /// false, changing nothing, otherwise: then schedule the event. step() runs
  /// with no horizon, so stepping still shows every event.
  bool try_advance(Cycle to);
  /// For a target whose events often come in a row at one cycle (a scenario's
  /// events at the same cycle): inside an event run by run_next, run_batch,
  /// run_one, run_until or run_to_idle, when the queue's next event in the
  /// order is `target`'s and due now, takes it off the queue into `kind` and
  /// `arg` and returns true; the target runs it itself, right away. It is the
  /// event the run loop would run next, in its place of the order, and counts
  /// in events_run() and size() as one (a loop's `max_events` counts only the
  /// event that took it). False, taking nothing, otherwise, and always under
  /// step(), which shows every event.
  bool take_next_of(const EventTarget& target, std::uint32_t& kind, std::uint64_t& arg) {
    Node* const next = next_of(target);
    if (next == nullptr) return false;
    Node& n = *next;
    kind = n.kind;
    arg = n.arg;
    if (n.repeat != 0) {
      // A posted entry's next identical event: the entry stays first.
      --n.repeat;
      ++n.seq;
    } else {
      take_first();
    }
    ++events_run_;
    return true;
  }
  /// For a target about to schedule_reserved(now(), seq, ...) an event of its
  /// own (a scenario's events that one handler call met together: the first is
  /// queued, the others follow it): when that event would be the next to run,
  /// counts it as scheduled and run (in events_run() and size(), as
  /// take_next_of() does) and returns true, and the target runs it right away,
  /// in its place of the order. That is inside a run loop (not under step(),
  /// which shows every event), with no front, overrun or tombstone, and no
  /// queued event at now() at or before (now(), seq) in the order: one there
  /// with the same number was scheduled first, and runs first. False, changing
  /// nothing, otherwise: then schedule_reserved() it.
  bool claim_reserved(std::uint64_t seq) {
    assert(seq < next_seq_ && "a reserved sequence number");
    if (state_ != kInRun) return false;
    if (first_cycle_ == now_) {
      const Node& f = nodes_[first_];
      if (f.run < seq || (f.run == seq && f.seq <= seq)) return false;
    }
    --uncounted_;
    ++events_run_;
    return true;
  }
  /// take_next_of() for a whole entry: the queue's next event, when it is
  /// `target`'s and due now, with the identical events posted with it (post()'s
  /// repeats), which come right after it in the order. Returns how many events
  /// it took (1 for an event without repeats), their `kind` and `arg`; 0,
  /// taking nothing, when take_next_of() would take nothing. Each counts in
  /// events_run() and size() as one. For a target that runs alike events
  /// together (an APIC's identical NMI messages).
  std::uint64_t take_entry_of(const EventTarget& target, std::uint32_t& kind, std::uint64_t& arg) {
    const Node* const next = next_of(target);
    if (next == nullptr) return 0;
    const Node& n = *next;
    kind = n.kind;
    arg = n.arg;
    const std::uint64_t taken = std::uint64_t{n.repeat} + 1;
    take_first();
    events_run_ += taken;
    return taken;
  }
  /// Runs every event with cycle <= limit, then sets now() to limit (if it is
  /// later; at most kMaxCycle, and not after an overrun). Returns how many events
  /// ran. Stops early after `max_events`.
  std::uint64_t run_until(Cycle limit, std::uint64_t max_events = ~std::uint64_t{0});
  /// Runs until no event is left, or `max_events` ran. Returns how many ran.
  std::uint64_t run_to_idle(std::uint64_t max_events = ~std::uint64_t{0});

  /// Events the storage holds without growing (grows by doubling, never shrinks).
  std::size_t capacity() const { return nodes_.capacity(); }
  /// Events run since construction.
  std::uint64_t events_run() const { return events_run_; }

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  static constexpr std::uint32_t kFrontTail = kNone - 1;          // newest_tail_: the front
  static constexpr std::uint32_t kMaxRepeat = ~std::uint32_t{0};  // Node::repeat's range
  /// first_cycle_ when nothing is queued: after every cycle an event may have
  /// (and after every run's limit, which the run loops clamp to kMaxCycle).
  static constexpr Cycle kEmpty = kMaxCycle + 1;
  // The near wheel: one slot per cycle of the next kSlots cycles (event_queue.cpp).
  static constexpr std::uint32_t kSlotBits = 12;
  static constexpr std::uint32_t kSlots = 1u << kSlotBits;
  static constexpr std::uint32_t kSlotMask = kSlots - 1;
  static constexpr std::uint32_t kWords = kSlots / 64;
  static_assert(kWords <= 64, "one summary word covers the occupancy words");
  /// One scheduled event, in a pool; `next` chains a slot's events or the free list.
  /// Its place in the order is (cycle, run, seq): `run` is the sequence number
  /// of the first event of the run it joined (see event_queue.cpp). A cache
  /// line each: one node per line, and an index is a shift from its address.
  struct alignas(64) Node {
    EventTarget* target;  // null: cancelled (a tombstone)
    std::uint64_t arg;
    std::uint64_t seq;  // of the next run of it (a repeated entry counts up)
    std::uint64_t run;
    Cycle cycle;
    std::uint32_t kind;
    std::uint32_t next;
    std::uint32_t repeat = 0;  // post(): identical events after this one, seq + 1...
    // schedule_reserved()'s count when it made the node (0 for the others,
    // whose (run, seq) no other pending event has): the order of two
    // schedules of one reserved number at one cycle.
    std::uint64_t stamp = 0;
  };
  static_assert(sizeof(Node) == 64, "a node is one cache line");
  /// A wheel slot's chain: head kNone when empty (the tail is then stale).
  struct Slot {
    std::uint32_t head = kNone;
    std::uint32_t tail = kNone;
  };
  static bool precedes(const Node& x, const Node& y) {
    if (x.cycle != y.cycle) return x.cycle < y.cycle;
    if (x.run != y.run) return x.run < y.run;
    if (x.seq != y.seq) return x.seq < y.seq;
    return x.stamp < y.stamp;
  }
  bool before(std::uint32_t a, std::uint32_t b) const { return precedes(nodes_[a], nodes_[b]); }
  /// The first event, for take_next_of and take_entry_of: when it is
  /// `target`'s, due now, inside a run loop, without a front or an overrun;
  /// else null. first_cycle_ is kEmpty (never now) when nothing is queued; the
  /// front runs before every queued event (then the next one is not queued); a
  /// cancelled first (a tombstone) is nobody's.
  Node* next_of(const EventTarget& target) {
    if (first_cycle_ != now_ || (state_ | kTombstones) != (kInRun | kTombstones)) return nullptr;
    Node& n = nodes_[first_];
    return n.target == &target ? &n : nullptr;
  }
  /// The next sequence number, for an event at `at`: it joins the newest run
  /// when that run is at `at`, else begins a new one (newest_run_ after).
  /// newest_cycle_ is kNever (no event's cycle) when no run may be joined.
  std::uint64_t open_seq(Cycle at) {
    const std::uint64_t seq = next_seq_++;
    if (at != newest_cycle_) {
      newest_cycle_ = at;
      newest_run_ = seq;
    }
    return seq;
  }
  /// The newest run's last event is gone: no event may join that run any more.
  void end_newest() {
    newest_cycle_ = kNever;
    newest_tail_ = kNone;
    posted_tail_ = kNone;
  }
  std::uint32_t alloc_node();
  /// Adds a node to the free list (storage for one more event).
  [[gnu::noinline]] void grow();
  /// Records the first overrun (`at` is past kMaxCycle).
  [[gnu::noinline, gnu::cold]] void record_overrun(Cycle at, const EventTarget& target,
                                                   std::uint32_t kind);
  /// schedule()'s work: the event goes into the queue (never the front).
  /// Every rare case (no free node, past kMaxCycle, an event that may come
  /// first, the heap, a walk along a slot) is a call in tail position, so the
  /// common one, an event appended to a wheel slot, saves no registers.
  template <bool posted>
  EventId queue_event(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg);
  template <bool posted>
  [[gnu::noinline]] EventId queue_event_rare(Cycle at, EventTarget& target, std::uint32_t kind,
                                             std::uint64_t arg);
  [[gnu::noinline]] EventId schedule_reserved_rare(Cycle at, std::uint64_t seq, EventTarget& target,
                                                   std::uint32_t kind, std::uint64_t arg);
  /// schedule() for post(), marking the entry as one that may take repeats.
  void post_new(Cycle at, EventTarget& target, std::uint32_t kind, std::uint64_t arg);
  /// post_new() with `count` - 1 repeats already (count > 1).
  [[gnu::noinline]] void post_many(Cycle at, EventTarget& target, std::uint32_t kind,
                                   std::uint64_t arg, std::uint32_t count);
  /// Puts node `i`, due at `at`, into the wheel or the heap, and updates the
  /// first. `newest`: it is the latest schedule() (its seq is the highest), so
  /// it comes after every event of its slot of the same or an older run.
  /// Returns the event's EventId (its seq), so that its callers end in calls.
  template <bool newest>
  EventId link(std::uint32_t i, Cycle at);
  /// Node `i` (at `at` <= first_cycle_) may come first: then it becomes first_,
  /// the front first moving into the queue if `i` comes before it.
  [[gnu::noinline]] EventId maybe_first(std::uint32_t i, Cycle at);
  /// A node not the latest schedule() into a slot with events: walks to its place.
  [[gnu::noinline]] EventId slot_insert(std::uint32_t i, Cycle at);
  [[gnu::noinline]] EventId far_push(std::uint32_t i, Cycle at);
  /// Moves the front into the queue (an event that comes before it was scheduled).
  [[gnu::noinline]] void displace_front();
  /// Takes the front off (its event runs next), with now() at its cycle.
  void take_front() {
    state_ &= ~kFront;
    if (newest_tail_ == kFrontTail) end_newest();
    now_ = front_.cycle;
  }
  bool run_next(Cycle limit, Cycle horizon);
  /// Runs the next event due at or before `limit` (at most kMaxCycle); false,
  /// running nothing, when there is none. kInRun and horizon_ are the caller's.
  bool next_event(Cycle limit);
  /// The loop of next_event calls behind every run function.
  std::uint64_t run_loop(Cycle limit, Cycle horizon, std::uint64_t max_events, const bool& stop);
  /// Finds the first event from scratch (after the first was taken off).
  void find_first();
  /// Makes `i`, the wheel's first, at `c` (kNone and kEmpty when the wheel is
  /// empty), the first, unless the heap's top comes before it.
  void set_first(std::uint32_t i, Cycle c);
  std::uint32_t first_wheel_slot() const;
  /// Takes event `i`, the first, off the queue (its node goes to the free list).
  void remove_first(std::uint32_t i);
  /// Takes the first event's next run off the queue and counts it as run: one
  /// repeat of a posted entry (the entry stays first, for the rest), or the
  /// entry itself.
  void consume_first(std::uint32_t i);
  /// remove_first(first_), out of line (for take_next_of and the tombstones).
  [[gnu::noinline]] void take_first();
  /// remove_first() for a first event that is the heap's top.
  [[gnu::noinline]] void far_pop(std::uint32_t i);
  /// Takes the tombstones off the front of the queue: first_ is then live or kNone.
  void drop_stale_first() {
    if ((state_ & kTombstones) != 0) [[unlikely]]
      drop_tombstones();
  }
  [[gnu::noinline]] void drop_tombstones();
  /// What take_next() took: the fields step() needs (not a whole node).
  struct Taken {
    EventTarget* target = nullptr;  // null: none
    std::uint32_t kind = 0;
    std::uint64_t arg = 0;
    std::uint64_t seq = 0;
  };
  /// The next live event, off the queue, with now() at its cycle; none when idle.
  Taken take_next();
  template <typename F>
  void for_each_queued(F&& f) const;

  std::vector<Node> nodes_;
  std::uint32_t free_ = kNone;
  // The first event in the order (tombstone or not) and its cycle; kNone and
  // kEmpty when none is queued. Kept up to date by every schedule and removal,
  // so finding the next event costs nothing, and a schedule compares a cycle.
  std::uint32_t first_ = kNone;
  Cycle first_cycle_ = kEmpty;
  // What the run loop must look at besides the first event, in one byte
  // (state_): 0 in the common case, kInRun alone inside a run loop.
  static constexpr std::uint8_t kFront = 1;       // front_ holds an event
  static constexpr std::uint8_t kOverrun = 2;     // overrun_ is set: nothing runs
  static constexpr std::uint8_t kTombstones = 4;  // tombstones_ != 0
  static constexpr std::uint8_t kInRun = 8;       // inside a run loop (not step())
  std::uint8_t state_ = 0;
  bool front_live() const { return (state_ & kFront) != 0; }
  std::uint32_t tombstones_ = 0;  // cancelled events still queued
  // schedule_next()'s event while it comes before every queued one: not in the
  // wheel or the heap, not counted in first_.
  Node front_{};
  // The run created last by schedule(): the only one an event may join.
  // newest_tail_ is its last event, kFrontTail when that is the front, and kNone
  // when there is none (newest_cycle_ kNever, see end_newest()).
  Cycle newest_cycle_ = kNever;
  std::uint64_t newest_run_ = 0;
  std::uint32_t newest_tail_ = kNone;
  // newest_tail_ while it is a post()'s entry and nothing took a sequence
  // number since (the next is its next repeat's), else kNone: the one entry
  // that may take repeats.
  std::uint32_t posted_tail_ = kNone;
  Cycle now_ = 0;
  Cycle horizon_ = 0;  // how far try_advance may go (at most kMaxCycle); 0 outside runs
  std::uint64_t next_seq_ = 0;
  std::uint64_t events_run_ = 0;
  std::uint64_t reserved_stamp_ = 0;  // schedule_reserved() calls (Node::stamp)
  // Sequence numbers that are no pending or run event: reserved ones not (yet)
  // scheduled, and cancelled events (counts modulo 2^64: a reserved number
  // scheduled again after its event ran counts twice). See size().
  std::uint64_t uncounted_ = 0;
  std::optional<TimeOverrun> overrun_;
  // Later events: a binary heap of nodes in (cycle, run, seq) order, and its
  // top's cycle (kEmpty when empty).
  std::vector<std::uint32_t> far_;
  Cycle far_cycle_ = kEmpty;
  // The wheel: events due within kSlots cycles of now, in the slot of their
  // cycle, each slot's events chained in order; a bit per slot in use, and a
  // summary bit per word of those bits that is not 0.
  std::uint64_t summary_ = 0;
  std::uint64_t occupied_[kWords] = {};
  Slot slots_[kSlots];
};

// The common schedules, inlined into their callers (the call cost as much as
// the work); every rare case is a call out of line (event_queue.cpp).

template <bool newest>
[[gnu::always_inline]] inline EventId EventQueue::link(std::uint32_t i, Cycle at) {
  if (at - now_ >= kSlots) [[unlikely]]
    return far_push(i, at);
  const std::uint32_t s = static_cast<std::uint32_t>(at) & kSlotMask;
  Slot& slot = slots_[s];
  if (slot.head == kNone) {
    slot.head = slot.tail = i;
    occupied_[s >> 6] |= std::uint64_t{1} << (s & 63);
    summary_ |= std::uint64_t{1} << (s >> 6);
    if (at > first_cycle_) [[likely]]
      return EventId{nodes_[i].seq};
    // Due before the first and no front: the first, without more ado.
    if (at == first_cycle_ || front_live()) return maybe_first(i, at);
    first_ = i;
    first_cycle_ = at;
    return EventId{nodes_[i].seq};
  }
  // The slot's events are at `at` too, so the first is no later: the event
  // is not first unless it goes in at the head (slot_insert sees to that).
  // The latest schedule() has the highest seq: it goes after every event of
  // an older or the same run, the common case, with a compare of runs. Any
  // other (a reserved number) mostly goes last as well.
  Node& tail = nodes_[slot.tail];
  const Node& n = nodes_[i];
  if (newest ? tail.run <= n.run : precedes(tail, n)) [[likely]] {
    tail.next = i;
    slot.tail = i;
    return EventId{n.seq};
  }
  return slot_insert(i, at);
}

template <bool posted>
[[gnu::always_inline]] inline EventId EventQueue::queue_event(Cycle at, EventTarget& target,
                                                              std::uint32_t kind,
                                                              std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  if (free_ == kNone || at > kMaxCycle) [[unlikely]]
    return queue_event_rare<posted>(at, target, kind, arg);
  const std::uint64_t seq = open_seq(at);
  const std::uint32_t i = free_;
  free_ = nodes_[i].next;
  nodes_[i] = Node{&target, arg, seq, newest_run_, at, kind, kNone, 0};
  newest_tail_ = i;
  posted_tail_ = posted ? i : kNone;
  return link<true>(i, at);
}

[[gnu::always_inline]] inline void EventQueue::schedule_next(Cycle at, EventTarget& target,
                                                             std::uint32_t kind,
                                                             std::uint64_t arg) {
  assert(at >= now_ && "events cannot be scheduled in the past");
  // One front at a time, and only for an event due before the queue's first
  // (at its cycle, schedule() decides): otherwise the queue takes it.
  // first_cycle_ is at most kEmpty, so the front is never past kMaxCycle. No
  // front after an overrun or with tombstones either (one test of state_).
  if ((state_ & ~kInRun) != 0 || at >= first_cycle_) {
    queue_event<false>(at, target, kind, arg);
    return;
  }
  const std::uint64_t seq = open_seq(at);
  front_ = Node{&target, arg, seq, newest_run_, at, kind, kNone, 0};
  state_ |= kFront;
  newest_tail_ = kFrontTail;
  posted_tail_ = kNone;
}

}  // namespace fredsim
