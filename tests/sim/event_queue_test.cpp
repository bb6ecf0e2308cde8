#include "fredsim/sim/event_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

namespace fredsim {
namespace {

struct Recorder final : EventTarget {
  std::vector<std::pair<Cycle, std::uint64_t>> seen;
  EventQueue* q = nullptr;
  void on_event(std::uint32_t, std::uint64_t arg) override { seen.emplace_back(q->now(), arg); }
  std::string_view event_name(std::uint32_t) const override { return "rec"; }
  CpuId event_cpu() const override { return 7; }
};

TEST(EventQueue, OrdersByCycle) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(30, r, 0, 3);
  q.schedule(10, r, 0, 1);
  q.schedule(20, r, 0, 2);
  EXPECT_EQ(q.run_to_idle(), 3u);
  ASSERT_EQ(r.seen.size(), 3u);
  EXPECT_EQ(r.seen[0], (std::pair<Cycle, std::uint64_t>{10, 1}));
  EXPECT_EQ(r.seen[1], (std::pair<Cycle, std::uint64_t>{20, 2}));
  EXPECT_EQ(r.seen[2], (std::pair<Cycle, std::uint64_t>{30, 3}));
}

TEST(EventQueue, TiesKeepInsertionOrder) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  for (std::uint64_t i = 0; i < 100; ++i)
    q.schedule(5, r, 0, i);
  q.run_to_idle();
  ASSERT_EQ(r.seen.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i)
    EXPECT_EQ(r.seen[i].second, i) << "FIFO tie order";
}

TEST(EventQueue, EventsScheduledDuringARunAtTheSameCycleRunAfterEarlierOnes) {
  struct Chain final : EventTarget {
    EventQueue* q;
    std::vector<std::uint64_t> order;
    void on_event(std::uint32_t, std::uint64_t arg) override {
      order.push_back(arg);
      if (arg == 1) q->schedule(q->now(), *this, 0, 3);  // same cycle, scheduled later
    }
    std::string_view event_name(std::uint32_t) const override { return "chain"; }
  } c;
  EventQueue q;
  c.q = &q;
  q.schedule(0, c, 0, 1);
  q.schedule(0, c, 0, 2);
  q.run_to_idle();
  EXPECT_EQ(c.order, (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST(EventQueue, CancelRemovesOnlyThatEvent) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(10, r, 0, 1);
  EventId id = q.schedule(10, r, 0, 2);
  q.schedule(10, r, 0, 3);
  EXPECT_TRUE(q.pending(id));
  EXPECT_TRUE(q.cancel(id));
  EXPECT_FALSE(q.pending(id));
  EXPECT_FALSE(q.cancel(id)) << "second cancel of the same handle";
  EXPECT_EQ(q.size(), 2u);
  q.run_to_idle();
  ASSERT_EQ(r.seen.size(), 2u);
  EXPECT_EQ(r.seen[0].second, 1u);
  EXPECT_EQ(r.seen[1].second, 3u);
}

TEST(EventQueue, StaleHandleDoesNotCancelALaterEvent) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  EventId first = q.schedule(1, r, 0, 1);
  q.run_to_idle();  // first ran
  EventId second = q.schedule(2, r, 0, 2);
  EXPECT_NE(first.seq, second.seq);
  EXPECT_FALSE(q.cancel(first));
  EXPECT_TRUE(q.pending(second));
  q.run_to_idle();
  EXPECT_EQ(r.seen.size(), 2u);
}

TEST(EventQueue, RunUntilStopsAtTheLimitAndAdvancesTime) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(10, r, 0, 1);
  q.schedule(20, r, 0, 2);
  q.schedule(21, r, 0, 3);
  EXPECT_EQ(q.run_until(19), 1u) << "not at t-1";
  EXPECT_EQ(q.now(), 19u);
  EXPECT_EQ(q.run_until(20), 1u) << "yes at t";
  EXPECT_EQ(q.now(), 20u);
  EXPECT_EQ(q.next_cycle(), 21u);
  EXPECT_EQ(q.run_until(kNever), 1u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_cycle(), kNever);
}

TEST(EventQueue, RunBatchRunsWhatRunNextWouldUntilItsLimitCountOrStop) {
  // A target that schedules more work and raises the caller's stop flag at
  // event 4: the batch runs the same events in the same order as run_next.
  struct Worker final : EventTarget {
    EventQueue* q = nullptr;
    bool stop = false;
    std::vector<std::pair<Cycle, std::uint64_t>> seen;
    void on_event(std::uint32_t, std::uint64_t arg) override {
      seen.emplace_back(q->now(), arg);
      if (arg < 3) q->schedule(q->now() + 5, *this, 0, arg + 10);
      if (arg == 4) stop = true;
    }
    std::string_view event_name(std::uint32_t) const override { return "work"; }
  };
  auto fill = [](EventQueue& q, Worker& w) {
    w.q = &q;
    for (std::uint64_t i = 0; i < 6; ++i)
      q.schedule(10 * i, w, 0, i);
  };
  EventQueue ref;
  Worker wr;
  fill(ref, wr);
  while (ref.run_next(100))
    if (wr.stop) break;

  EventQueue q;
  Worker w;
  fill(q, w);
  EXPECT_EQ(q.run_batch(100, 3, w.stop), 3u) << "at most max_events";
  EXPECT_EQ(q.run_batch(24, 100, w.stop), 2u) << "none due after the limit";
  EXPECT_EQ(q.now(), 20u);
  EXPECT_EQ(q.run_batch(100, 100, w.stop), 3u) << "the flag, read after each event";
  EXPECT_TRUE(w.stop);
  EXPECT_EQ(w.seen, wr.seen);
  EXPECT_EQ(q.now(), 40u);
  EXPECT_EQ(q.next_cycle(), 50u);
}

TEST(EventQueue, TakeNextOfTakesOnlyTheTargetsOwnNextEventDueNow) {
  // A target that runs its own next events itself while they come next.
  struct Taker final : EventTarget {
    EventQueue* q = nullptr;
    std::vector<std::pair<Cycle, std::uint64_t>> seen;
    std::vector<std::size_t> batches;  // events run per call of on_event
    void on_event(std::uint32_t kind, std::uint64_t arg) override {
      std::size_t n = 0;
      do {
        seen.emplace_back(q->now(), arg);
        ++n;
      } while (q->take_next_of(*this, kind, arg));
      batches.push_back(n);
    }
    std::string_view event_name(std::uint32_t) const override { return "taker"; }
  };
  EventQueue q;
  Taker t;
  t.q = &q;
  Recorder r;
  r.q = &q;
  q.schedule(10, t, 0, 1);
  q.schedule(10, t, 0, 2);
  q.schedule(10, r, 0, 100);  // another target's: the taker stops before it
  q.schedule(10, t, 0, 3);
  q.schedule(20, t, 0, 4);  // a later cycle: not taken
  EXPECT_EQ(q.run_to_idle(), 4u) << "the taken event ran inside the one that took it";
  EXPECT_EQ(q.events_run(), 5u);
  EXPECT_EQ(t.seen,
            (std::vector<std::pair<Cycle, std::uint64_t>>{{10, 1}, {10, 2}, {10, 3}, {20, 4}}));
  EXPECT_EQ(t.batches, (std::vector<std::size_t>{2, 1, 1}));
  EXPECT_EQ(r.seen, (std::vector<std::pair<Cycle, std::uint64_t>>{{10, 100}}));
  EXPECT_TRUE(q.empty());

  // step() shows every event: nothing is taken there.
  q.schedule(30, t, 0, 5);
  q.schedule(30, t, 0, 6);
  ASSERT_TRUE(q.step());
  EXPECT_EQ(t.batches.back(), 1u);
  EXPECT_EQ(q.size(), 1u);
  ASSERT_TRUE(q.step());
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, PostWithACountIsThatManyPostsAndTakeEntryOfTakesThemAll) {
  // post(..., n) is n post() calls in a row: the same events under the same
  // sequence numbers, each stepped as an event of its own.
  auto steps = [](bool one_call) {
    EventQueue q;
    Recorder r;
    r.q = &q;
    q.schedule(10, r, 0, 1);
    if (one_call) {
      q.post(10, r, 0, 2, 4);
    } else {
      for (int i = 0; i < 4; ++i)
        q.post(10, r, 0, 2);
    }
    q.post(10, r, 0, 2, 0);  // none
    q.schedule(10, r, 0, 3);
    std::vector<std::pair<std::uint64_t, Cycle>> out;
    while (const auto s = q.step())
      out.emplace_back(s->seq, s->cycle);
    EXPECT_EQ(r.seen.size(), 6u);
    return out;
  };
  EXPECT_EQ(steps(true), steps(false));

  // take_entry_of takes an entry's remaining events together, counts each.
  struct Taker final : EventTarget {
    EventQueue* q = nullptr;
    std::vector<std::uint64_t> counts;  // events per run: the loop's, then each take
    void on_event(std::uint32_t kind, std::uint64_t arg) override {
      std::uint64_t n = 1;
      do {
        counts.push_back(n);
      } while ((n = q->take_entry_of(*this, kind, arg)) != 0);
    }
    std::string_view event_name(std::uint32_t) const override { return "taker"; }
  };
  EventQueue q;
  Taker t;
  t.q = &q;
  q.post(10, t, 0, 5, 4);   // one entry: the loop runs its first, the take the other 3
  q.schedule(10, t, 0, 6);  // the next event, alone
  q.post(20, t, 0, 7, 2);
  EXPECT_EQ(q.size(), 7u);
  EXPECT_EQ(q.run_to_idle(), 2u) << "two runs of the loop: the rest was taken";
  EXPECT_EQ(q.events_run(), 7u);
  EXPECT_EQ(t.counts, (std::vector<std::uint64_t>{1, 3, 1, 1, 1}));
  EXPECT_TRUE(q.empty());
  // Under step() nothing is taken.
  q.post(30, t, 0, 8, 2);
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.size(), 1u);
}

TEST(EventQueue, StepReportsWhatRan) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(42, r, 0, 9);
  auto info = q.step();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->cycle, 42u);
  EXPECT_EQ(info->cpu, 7u);
  EXPECT_EQ(info->name, "rec");
  EXPECT_FALSE(q.step().has_value());
}

TEST(EventQueue, PostedIdenticalEventsShareAnEntryAndStillRunOneByOne) {
  // post() keeps identical events scheduled one after another as one entry:
  // 1,000 of them need no more storage than 16 pending events, yet each runs
  // and steps as an event of its own, under its own sequence number, in the
  // order schedule() would give them.
  EventQueue q(16);
  Recorder r;
  r.q = &q;
  const std::size_t cap = q.capacity();
  for (int i = 0; i < 1000; ++i)
    q.post(10, r, 0, 5);
  EXPECT_EQ(q.capacity(), cap);
  EXPECT_EQ(q.size(), 1000u);
  q.post(10, r, 0, 6);  // another argument: an entry of its own
  q.post(10, r, 0, 5);  // identical to the first ones, but not adjacent
  q.schedule(9, r, 0, 1);
  std::vector<std::uint64_t> seqs;
  while (const auto info = q.step())
    seqs.push_back(info->seq);
  ASSERT_EQ(seqs.size(), 1003u);
  EXPECT_EQ(seqs.front(), 1002u) << "the event at cycle 9 first";
  for (std::size_t k = 1; k < seqs.size(); ++k)
    EXPECT_EQ(seqs[k], k - 1) << "then the posted ones in schedule order";
  ASSERT_EQ(r.seen.size(), 1003u);
  EXPECT_EQ(r.seen[0], (std::pair<Cycle, std::uint64_t>{9, 1}));
  for (std::size_t k = 1; k <= 1000; ++k)
    EXPECT_EQ(r.seen[k], (std::pair<Cycle, std::uint64_t>{10, 5}));
  EXPECT_EQ(r.seen[1001], (std::pair<Cycle, std::uint64_t>{10, 6}));
  EXPECT_EQ(r.seen[1002], (std::pair<Cycle, std::uint64_t>{10, 5}));
  EXPECT_EQ(q.events_run(), 1003u);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, APostAfterAReservationIsAnEntryOfItsOwn) {
  // A repeat runs under the number after its entry's last one: once
  // reserve_seqs() took numbers in between, an identical post() is a new
  // entry, with its own number (still in the run the first one opened).
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.post(10, r, 0, 5);
  const std::uint64_t base = q.reserve_seqs(2);
  EXPECT_EQ(base, 1u);
  q.post(10, r, 0, 5);
  q.schedule_reserved(10, base, r, 0, 7);
  std::vector<std::uint64_t> seqs;
  while (const auto info = q.step())
    seqs.push_back(info->seq);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{0, 3, 1}));
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, SizeCountsEveryPendingEventWhateverItsWay) {
  // size() is worked out from the sequence numbers: a reserved number counts
  // once it is scheduled (again when it is reused), a repeat counts, a
  // cancelled event or one past the end of time does not.
  EventQueue q;
  Recorder r;
  r.q = &q;
  const std::uint64_t base = q.reserve_seqs(3);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.empty());
  q.schedule_reserved(5, base + 1, r, 0, 1);
  EXPECT_EQ(q.size(), 1u);
  q.post(6, r, 0, 2);
  q.post(6, r, 0, 2);
  EXPECT_EQ(q.size(), 3u);
  const EventId id = q.schedule(7, r, 0, 3);
  EXPECT_EQ(q.size(), 4u);
  EXPECT_TRUE(q.cancel(id));
  EXPECT_FALSE(q.cancel(id));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_TRUE(q.run_one());
  EXPECT_EQ(q.size(), 2u);
  q.schedule_reserved(8, base + 1, r, 0, 4);  // the number again, its event ran
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.run_to_idle(), 3u);
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.events_run(), 4u);
  q.schedule(kMaxCycle + 1, r, 0, 9);  // an overrun: not scheduled
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.empty());
}

TEST(EventQueue, CancelledEventsInARowAreSkippedByEveryRunLoop) {
  // Tombstones at the front of the queue, one after another, are taken off by
  // whichever way reaches them first; the run goes on with the live events.
  for (int way = 0; way < 4; ++way) {
    EventQueue q;
    Recorder r;
    r.q = &q;
    const EventId a = q.schedule(5, r, 0, 1);
    const EventId b = q.schedule(6, r, 0, 2);
    q.schedule(7, r, 0, 3);
    const EventId d = q.schedule(8, r, 0, 4);
    const EventId e = q.schedule(9, r, 0, 5);
    q.schedule(10, r, 0, 6);
    for (const EventId id : {a, b, d, e})
      EXPECT_TRUE(q.cancel(id));
    EXPECT_EQ(q.size(), 2u);
    switch (way) {
      case 0:
        EXPECT_EQ(q.next_cycle(), 7u);
        EXPECT_EQ(q.run_to_idle(), 2u);
        break;
      case 1:
        EXPECT_EQ(q.run_until(20), 2u);
        break;
      case 2: {
        const bool stop = false;
        EXPECT_EQ(q.run_batch(kNever, 10, stop), 2u);
        break;
      }
      default:
        ASSERT_TRUE(q.step().has_value());
        ASSERT_TRUE(q.step().has_value());
        EXPECT_FALSE(q.step().has_value());
        break;
    }
    EXPECT_EQ(r.seen, (std::vector<std::pair<Cycle, std::uint64_t>>{{7, 3}, {10, 6}}))
        << "way " << way;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.next_cycle(), kNever);
  }
}

// Schedules from inside an event: schedule_next() at +`next`, then (when
// `other` is not kNever) schedule() at +`other`.
struct Chainer final : EventTarget {
  EventQueue* q = nullptr;
  Cycle next = 0;
  Cycle other = kNever;
  std::vector<std::pair<Cycle, std::uint64_t>> seen;
  void on_event(std::uint32_t, std::uint64_t arg) override {
    seen.emplace_back(q->now(), arg);
    if (arg != 0) return;
    q->schedule_next_in(next, *this, 0, 1);
    if (other != kNever) q->schedule_in(other, *this, 0, 2);
  }
  std::string_view event_name(std::uint32_t) const override { return "chain"; }
};

TEST(EventQueue, ScheduleNextKeepsScheduleOrder) {
  using Seen = std::vector<std::pair<Cycle, std::uint64_t>>;
  // The next step first when it is due first; an event scheduled after it that
  // is due earlier, or at the same cycle, keeps schedule()'s order.
  for (const auto& [next, other, want] : std::vector<std::tuple<Cycle, Cycle, Seen>>{
           {5, kNever, Seen{{0, 0}, {5, 1}}},
           {5, 3, Seen{{0, 0}, {3, 2}, {5, 1}}},
           {5, 5, Seen{{0, 0}, {5, 1}, {5, 2}}},
           {5, 9, Seen{{0, 0}, {5, 1}, {9, 2}}},
           {0, 0, Seen{{0, 0}, {0, 1}, {0, 2}}},
           {2, kNever, Seen{{0, 0}, {2, 1}}},
           {2, 1, Seen{{0, 0}, {1, 2}, {2, 1}}},
           {2, 2, Seen{{0, 0}, {2, 1}, {2, 2}}},
           {2, 3, Seen{{0, 0}, {2, 1}, {3, 2}}},
       }) {
    EventQueue q;
    Chainer c;
    c.q = &q;
    c.next = next;
    c.other = other;
    q.schedule(0, c, 0, 0);
    q.schedule(4, c, 0, 3);  // already queued: before the next step at 5
    EXPECT_EQ(q.size(), 2u);
    EXPECT_TRUE(q.run_one());
    EXPECT_EQ(q.size(), other == kNever ? 2u : 3u);
    EXPECT_EQ(q.next_cycle(), std::min({next, other, Cycle{4}}));
    q.run_to_idle();
    Seen expected = want;
    expected.insert(
        std::find_if(expected.begin(), expected.end(), [](const auto& e) { return e.first > 4; }),
        {4, 3});
    EXPECT_EQ(c.seen, expected) << "next +" << next << ", other +" << other;
  }
}

TEST(EventQueue, StorageStopsGrowingAtTheWorkingSize) {
  EventQueue q(16);
  Recorder r;
  r.q = &q;
  for (int i = 0; i < 64; ++i)
    q.schedule(static_cast<Cycle>(i), r, 0, 0);
  const std::size_t cap = q.capacity();
  for (int i = 0; i < 10000; ++i) {
    q.step();
    q.schedule_in(64, r, 0, 0);
  }
  EXPECT_EQ(q.capacity(), cap);
  EXPECT_EQ(q.size(), 64u);
}

TEST(EventQueue, SameScheduleGivesTheSameOrderTwice) {
  auto run = [] {
    EventQueue q;
    Recorder r;
    r.q = &q;
    std::uint64_t x = 12345;
    for (int i = 0; i < 500; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      q.schedule((x >> 33) % 50, r, 0, static_cast<std::uint64_t>(i));
    }
    q.run_to_idle();
    return r.seen;
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace fredsim

namespace fredsim {
namespace {

// A target that schedules more events while it runs, as CPUs and APICs do.
struct Chain final : EventTarget {
  EventQueue* q = nullptr;
  std::vector<std::pair<Cycle, std::uint64_t>> seen;
  std::uint64_t next_id = 1000;
  std::uint64_t state = 12345;  // a fixed LCG: the same "random" choices every run
  std::uint64_t draw(std::uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  }
  void on_event(std::uint32_t, std::uint64_t arg) override {
    seen.emplace_back(q->now(), arg);
    if (next_id < 3000) {
      // Zero to two follow-ups, often at the same cycle or a shared later one.
      const std::uint64_t k = draw(3);
      for (std::uint64_t i = 0; i < k; ++i) {
        const Cycle at = q->now() + (draw(2) == 0 ? 0 : 10 * draw(3));
        q->schedule(at, *this, 0, next_id++);
      }
    }
  }
  std::string_view event_name(std::uint32_t) const override { return "chain"; }
};

TEST(EventQueue, SameCycleEventsAroundAnotherCycleKeepScheduleOrder) {
  // 10 (a), 20 (b), 10 (c), 10 (d): c and d open a second bucket of cycle 10,
  // which must still run after a and before b.
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(10, r, 0, 1);
  q.schedule(20, r, 0, 2);
  q.schedule(10, r, 0, 3);
  q.schedule(10, r, 0, 4);
  q.schedule(20, r, 0, 5);
  q.run_to_idle();
  std::vector<std::uint64_t> order;
  for (auto& [c, a] : r.seen)
    order.push_back(a);
  EXPECT_EQ(order, (std::vector<std::uint64_t>{1, 3, 4, 2, 5}));
}

TEST(EventQueue, RunsInCycleThenScheduleOrderUnderChurn) {
  // Events that schedule events, at the current cycle and at shared later ones,
  // with cancels: the run order is exactly the sort by (cycle, schedule order).
  EventQueue q(16);
  Chain t;
  t.q = &q;
  std::vector<EventId> ids;
  for (std::uint64_t i = 0; i < 200; ++i)
    ids.push_back(q.schedule(10 * (i % 7), t, 0, i));
  std::size_t cancelled = 0;
  for (std::size_t i = 0; i < ids.size(); i += 9) {
    EXPECT_TRUE(q.cancel(ids[i]));
    ++cancelled;
  }
  q.run_to_idle();
  ASSERT_EQ(t.seen.size(), 200 - cancelled + (t.next_id - 1000));
  for (std::size_t i = 1; i < t.seen.size(); ++i) {
    ASSERT_LE(t.seen[i - 1].first, t.seen[i].first) << "time never goes back, at " << i;
  }
  // Ids grow with schedule order (0..199 first, then 1000, 1001, ... as the
  // follow-ups are scheduled), so within a cycle they must run increasing.
  for (std::size_t i = 1; i < t.seen.size(); ++i) {
    if (t.seen[i - 1].first == t.seen[i].first) {
      EXPECT_LT(t.seen[i - 1].second, t.seen[i].second) << "at " << i;
    }
  }
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace fredsim

namespace fredsim {
namespace {

// Tries to advance time from inside its event, and records what it got.
struct Advancer final : EventTarget {
  EventQueue* q = nullptr;
  Cycle to = 0;
  std::vector<bool> results;
  std::vector<Cycle> after;
  void on_event(std::uint32_t, std::uint64_t) override {
    results.push_back(q->try_advance(to));
    after.push_back(q->now());
  }
  std::string_view event_name(std::uint32_t) const override { return "adv"; }
};

TEST(EventQueue, TryAdvanceMovesTimeOnlyOverAnEmptyStretch) {
  EventQueue q;
  Advancer a;
  a.q = &q;
  Recorder r;
  r.q = &q;
  EXPECT_FALSE(q.try_advance(5)) << "outside an event";
  EXPECT_EQ(q.now(), 0u);

  q.schedule(10, a, 0);
  q.schedule(50, r, 0, 1);
  a.to = 49;
  q.run_one();
  EXPECT_TRUE(a.results.back());
  EXPECT_EQ(a.after.back(), 49u);

  q.schedule(60, a, 0);
  a.to = 70;    // the event at 50 has run; none is due before 70 now
  q.run_one();  // r at 50
  q.run_one();  // a at 60
  EXPECT_TRUE(a.results.back());

  q.schedule(80, a, 0);
  q.schedule(90, r, 0, 2);
  a.to = 90;  // an event is due at 90: it must run first (it was scheduled first)
  q.run_one();
  EXPECT_FALSE(a.results.back());
  EXPECT_EQ(q.now(), 80u);
  q.run_to_idle();

  q.schedule(100, a, 0);
  a.to = 150;
  EXPECT_EQ(q.run_until(120), 1u);
  EXPECT_FALSE(a.results.back()) << "beyond run_until's limit";
  EXPECT_EQ(q.now(), 120u);

  q.schedule(130, a, 0);
  a.to = 140;
  ASSERT_TRUE(q.step());
  EXPECT_FALSE(a.results.back()) << "step() shows every event";
  EXPECT_EQ(q.now(), 130u);
}

}  // namespace
}  // namespace fredsim

// --- The end of simulated time (kMaxCycle) -------------------------------------------------

namespace fredsim {
namespace {

TEST(EventQueueTime, AnEventAtTheEndOfTimeRuns) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(kMaxCycle, r, 0, 1);
  EXPECT_EQ(q.run_to_idle(), 1u);
  EXPECT_EQ(q.now(), kMaxCycle);
  EXPECT_FALSE(q.overrun());
}

TEST(EventQueueTime, PastTheEndStopsTheRunInsteadOfScheduling) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(10, r, 0, 1);
  q.schedule(20, r, 0, 2);
  ASSERT_TRUE(q.run_one());                                // now = 10
  const EventId late = q.schedule_in(kMaxCycle, r, 3, 3);  // at 2^50 + 10
  EXPECT_FALSE(q.pending(late));
  ASSERT_TRUE(q.overrun());
  EXPECT_EQ(q.overrun()->now, 10u);
  EXPECT_EQ(q.overrun()->at, kMaxCycle + 10);
  EXPECT_EQ(q.overrun()->name, "rec");
  // Nothing runs any more, though an event at 20 is still queued: the run stops.
  EXPECT_EQ(q.next_cycle(), kNever);
  EXPECT_FALSE(q.run_one());
  EXPECT_FALSE(q.step());
  EXPECT_EQ(q.run_until(100), 0u);
  EXPECT_EQ(q.run_to_idle(), 0u);
  EXPECT_EQ(q.now(), 10u);
  EXPECT_EQ(r.seen.size(), 1u);
  // The first overrun is the one kept.
  q.schedule(kMaxCycle + 99, r, 0, 4);
  EXPECT_EQ(q.overrun()->at, kMaxCycle + 10);
}

TEST(EventQueueTime, ADelayPast64BitsIsAnOverrunNotAWrap) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(100, r, 0, 1);
  ASSERT_TRUE(q.run_one());
  // 100 + (2^64 - 50) wraps to 50, in the past; it must not be scheduled there.
  q.schedule_in(~Cycle{0} - 49, r, 0, 2);
  ASSERT_TRUE(q.overrun());
  EXPECT_EQ(q.overrun()->at, kNever);
  EXPECT_EQ(q.run_to_idle(), 0u);
  EXPECT_EQ(r.seen.size(), 1u);
}

TEST(EventQueueTime, ReservedSchedulesAreCheckedToo) {
  EventQueue q;
  Recorder r;
  const std::uint64_t seq = q.reserve_seqs(1);
  q.schedule_reserved(kMaxCycle + 1, seq, r, 0, 0);
  ASSERT_TRUE(q.overrun());
  EXPECT_EQ(q.overrun()->at, kMaxCycle + 1);
  EXPECT_TRUE(q.empty());
}

/// Moves time on by `step` from inside run_one, as the kernel's handler walk
/// does, and schedules the rest when it may not.
struct Walker final : EventTarget {
  EventQueue* q = nullptr;
  Cycle step = 0;
  int advanced = 0;
  void on_event(std::uint32_t, std::uint64_t) override {
    while (q->try_advance(q->now() + step))
      ++advanced;
    q->schedule_in(step, *this, 0);
  }
  std::string_view event_name(std::uint32_t) const override { return "walk"; }
};

TEST(EventQueueTime, TryAdvanceStopsAtTheEndOfTime) {
  EventQueue q;
  Walker w;
  w.q = &q;
  w.step = Cycle{1} << 48;
  q.schedule(0, w, 0);
  q.run_to_idle();
  // To 2^48, 2^49, 3 * 2^48 and 2^50 by try_advance; 5 * 2^48 would pass the end.
  EXPECT_EQ(w.advanced, 4);
  EXPECT_EQ(q.now(), kMaxCycle);
  ASSERT_TRUE(q.overrun());
  EXPECT_EQ(q.overrun()->at, kMaxCycle + (Cycle{1} << 48));
  EXPECT_EQ(q.overrun()->name, "walk");
}

TEST(EventQueueTime, RunUntilStopsTheClockAtTheEndOfTime) {
  EventQueue q;
  Recorder r;
  r.q = &q;
  q.schedule(5, r, 0, 1);
  q.run_until(~Cycle{0} - 1);
  EXPECT_EQ(q.now(), kMaxCycle);
  // From there, any delay but 0 is past the end.
  q.schedule_in(0, r, 0, 2);
  EXPECT_FALSE(q.overrun());
  q.schedule_in(1, r, 0, 3);
  EXPECT_TRUE(q.overrun());
  // run_until(kNever) leaves the clock at the last event, as before.
  EventQueue q2;
  Recorder r2;
  r2.q = &q2;
  q2.schedule(7, r2, 0, 1);
  q2.run_until(kNever);
  EXPECT_EQ(q2.now(), 7u);
}

}  // namespace
}  // namespace fredsim
