// The event queue against a plain model of its order, under random schedules,
// reservations, cancels, runs and time advances. The model keeps the order the
// queue has always had (docs/architecture.md "Layers"): events of one cycle in
// runs, a run being the events schedule() put one after another at that cycle,
// runs ordered by their first sequence number, a reserved number a run of its
// own. It is written with std::map and std::deque for clarity, not speed, so a
// fault in the queue's wheel, far heap or cached first shows as a difference.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "fredsim/sim/event_queue.hpp"

namespace fredsim {
namespace {

class ModelQueue {
 public:
  Cycle now() const { return now_; }
  std::size_t size() const { return live_; }

  std::uint64_t schedule(Cycle at, std::uint64_t label) {
    const std::uint64_t seq = next_seq_++;
    if (!newest_ || newest_->first != at) {
      newest_ = std::make_pair(at, seq);
    }
    runs_[*newest_].push_back(Ev{seq, label, false});
    ++live_;
    return seq;
  }
  std::uint64_t reserve(std::uint64_t n) {
    const std::uint64_t base = next_seq_;
    next_seq_ += n;
    return base;
  }
  void schedule_reserved(Cycle at, std::uint64_t seq, std::uint64_t label) {
    // A number pending twice at one cycle: the later schedule runs later.
    runs_[{at, seq}].push_back(Ev{seq, label, false});
    ++live_;
  }
  // claim_reserved(): a reserved event due now that would run next (nothing
  // pending at or before its key), so it may run at once.
  bool claim(std::uint64_t seq) {
    drop_dead();
    return runs_.empty() || runs_.begin()->first > Key{now_, seq};
  }
  bool cancel(std::uint64_t seq) {
    for (auto& [key, evs] : runs_) {
      for (Ev& e : evs) {
        if (e.seq != seq) continue;
        if (e.dead) return false;
        e.dead = true;
        --live_;
        return true;
      }
    }
    return false;
  }
  Cycle next_cycle() {
    drop_dead();
    return runs_.empty() ? kNever : runs_.begin()->first.first;
  }
  // The next live event's label, with now() at its cycle.
  std::optional<std::uint64_t> take() {
    drop_dead();
    if (runs_.empty()) return std::nullopt;
    now_ = runs_.begin()->first.first;
    --live_;
    return pop_front().label;
  }
  bool try_advance(Cycle to, Cycle horizon) {
    if (to > horizon || to < now_) return false;
    drop_dead();
    if (!runs_.empty() && runs_.begin()->first.first <= to) return false;
    now_ = to;
    return true;
  }
  void set_now(Cycle c) { now_ = c; }

 private:
  struct Ev {
    std::uint64_t seq;
    std::uint64_t label;
    bool dead;
  };
  using Key = std::pair<Cycle, std::uint64_t>;  // (cycle, the run's first seq)
  Ev pop_front() {
    auto it = runs_.begin();
    const Ev e = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) {
      // The run is over: nothing may join it any more.
      if (newest_ && *newest_ == it->first) newest_.reset();
      runs_.erase(it);
    }
    return e;
  }
  void drop_dead() {
    while (!runs_.empty() && runs_.begin()->second.front().dead)
      pop_front();
  }

  std::map<Key, std::deque<Ev>> runs_;
  std::optional<Key> newest_;
  Cycle now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::size_t live_ = 0;
};

// Runs in step with the model: each event it is given must be the model's
// next. Some events try to advance time from inside, as the kernel model does,
// and the model is asked the same.
struct Runner final : EventTarget {
  EventQueue* q = nullptr;
  ModelQueue* model = nullptr;
  Cycle horizon = kNever;
  std::uint64_t* next_label = nullptr;             // shared with run_random
  std::vector<std::uint64_t>* reserved = nullptr;  // likewise
  std::uint64_t claimed = 0;
  std::vector<std::pair<Cycle, std::uint64_t>> ran;
  void on_event(std::uint32_t, std::uint64_t label) override {
    const auto want = model->take();
    ASSERT_TRUE(want.has_value()) << "the queue ran event " << label << "; the model has none";
    EXPECT_EQ(label, *want) << "after " << ran.size() << " events";
    EXPECT_EQ(q->now(), model->now());
    ran.emplace_back(q->now(), label);
    if (label % 5 == 0) {
      const Cycle to = q->now() + label % 97;
      const bool got = q->try_advance(to);
      const bool expected = model->try_advance(to, horizon);
      EXPECT_EQ(got, expected) << "try_advance to " << to << " in event " << label;
    }
    // What a component does from inside its event: its next step
    // (schedule_next), sometimes followed by an event due earlier or at the same
    // cycle; or identical messages (post). The model schedules them all alike.
    if (next_label == nullptr) return;
    if (label % 11 == 4 && !reserved->empty()) {
      // What the scenario driver does with the rendezvous one call met
      // together: run a reserved event of its own at once when it would run
      // next, else schedule it now. The number may be pending already.
      const std::uint64_t seq = (*reserved)[label % reserved->size()];
      const std::uint64_t own = (*next_label)++;
      if (q->claim_reserved(seq)) {
        EXPECT_TRUE(model->claim(seq)) << "claimed reserved " << seq << " in event " << label;
        ++claimed;
        ran.emplace_back(q->now(), own);
      } else {
        q->schedule_reserved(q->now(), seq, *this, 0, own);
        model->schedule_reserved(q->now(), seq, own);
      }
    }
    if (label % 3 == 1) {
      const Cycle at = q->now() + label % 37;
      q->schedule_next(at, *this, 0, *next_label);
      model->schedule(at, (*next_label)++);
      if (label % 4 == 1) {
        const Cycle other = q->now() + label % 41;
        q->schedule(other, *this, 0, *next_label);
        model->schedule(other, (*next_label)++);
      }
    } else if (label % 7 == 2) {
      const Cycle at = q->now() + label % 5;
      for (int k = 0; k < 3; ++k) {
        q->post(at, *this, 0, *next_label);
        model->schedule(at, *next_label);
      }
      ++*next_label;
    }
  }
  std::string_view event_name(std::uint32_t) const override { return "model"; }
};

// Delays that reach every part of the queue: the same cycle, near ones, the
// wheel's edge (4,096 cycles) on both sides, and far ones.
Cycle random_delay(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return 0;
    case 1:
      return rng() % 4;
    case 2:
      return rng() % 64;
    case 3:
      return rng() % 1'000;
    case 4:
      return 4'090 + rng() % 12;
    case 5:
      return rng() % 10'000;
    case 6:
      return rng() % 1'000'000;
    default:
      return 8'192 * (1 + rng() % 3) + rng() % 3;
  }
}

// `claimed` counts the reserved events that ran at once (claim_reserved()).
void run_random(std::uint64_t seed, int ops, bool nested, std::uint64_t* claimed = nullptr) {
  std::mt19937_64 rng(seed);
  EventQueue q(16);
  ModelQueue model;
  Runner r;
  r.q = &q;
  r.model = &model;
  std::vector<std::pair<EventId, std::uint64_t>> ids;  // queue's, model's
  std::vector<std::uint64_t> reserved;
  std::uint64_t label = 1;
  if (nested) {
    r.next_label = &label;
    r.reserved = &reserved;
  }
  for (int op = 0; op < ops; ++op) {
    const unsigned what = rng() % 20;
    if (what >= 16) {
      // The same from outside an event: a next step, or identical messages
      // (with, sometimes, another event between two runs of them).
      const Cycle at = q.now() + random_delay(rng);
      if (what == 16) {
        q.schedule_next(at, r, 0, label);
        model.schedule(at, label);
      } else {
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < n; ++k) {
          q.post(at, r, 0, label);
          model.schedule(at, label);
        }
        if (what == 18) {
          const EventId id = q.schedule(at, r, 0, label + 1);
          ids.emplace_back(id, model.schedule(at, label + 1));
          q.post(at, r, 0, label);
          model.schedule(at, label);
          ++label;
        }
      }
      ++label;
    } else if (what < 7) {
      const Cycle at = q.now() + random_delay(rng);
      const EventId id = q.schedule(at, r, 0, label);
      ids.emplace_back(id, model.schedule(at, label));
      ASSERT_EQ(id.seq, ids.back().second);
      ++label;
    } else if (what == 7) {
      const std::uint64_t base = q.reserve_seqs(4);
      ASSERT_EQ(base, model.reserve(4));
      for (std::uint64_t k = 0; k < 4; ++k)
        reserved.push_back(base + k);
    } else if (what == 8 && !reserved.empty()) {
      // A reserved number, sometimes used again while it is pending, at the
      // same cycle or another.
      const std::size_t k = rng() % reserved.size();
      const std::uint64_t seq = reserved[k];
      if (rng() % 2 == 0) reserved.erase(reserved.begin() + static_cast<std::ptrdiff_t>(k));
      const Cycle at = q.now() + random_delay(rng);
      q.schedule_reserved(at, seq, r, 0, label);
      model.schedule_reserved(at, seq, label);
      ++label;
    } else if (what == 9 && !ids.empty()) {
      const auto& [id, seq] = ids[rng() % ids.size()];
      ASSERT_EQ(q.cancel(id), model.cancel(seq));
    } else if (what < 14) {
      r.horizon = kNever;
      const std::size_t before = r.ran.size() - r.claimed;
      if (!q.run_one()) {
        ASSERT_FALSE(model.take().has_value()) << "the queue is idle; the model is not";
      }
      ASSERT_LE(r.ran.size() - r.claimed, before + 1);  // one event, and what it claimed
    } else {
      // run_until a near or far limit: every event up to it, then the clock.
      const Cycle limit = q.now() + random_delay(rng);
      r.horizon = limit;
      q.run_until(limit);
      ASSERT_TRUE(model.next_cycle() == kNever || model.next_cycle() > limit) << "op " << op;
      if (limit > model.now()) model.set_now(limit);
    }
    if (::testing::Test::HasFailure()) FAIL() << "seed " << seed << " op " << op;
    ASSERT_EQ(q.now(), model.now()) << "op " << op;
    ASSERT_EQ(q.size(), model.size()) << "op " << op;
    ASSERT_EQ(q.next_cycle(), model.next_cycle()) << "op " << op;
  }
  // Drain both.
  r.horizon = kNever;
  q.run_to_idle();
  EXPECT_FALSE(model.take().has_value()) << "the model has events the queue did not run";
  EXPECT_TRUE(q.empty());
  if (claimed != nullptr) *claimed += r.claimed;
}

TEST(EventQueueModel, RandomSchedulesRunInTheModelsOrder) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed)
    run_random(seed, 4'000, false);
}

TEST(EventQueueModel, EventsThatScheduleTheirNextStepOrPostRunInTheModelsOrder) {
  // schedule_next() keeps an event outside the wheel and the heap while it
  // comes first, post() keeps identical events as one entry: neither may change
  // the order, whatever is scheduled around them, from inside events or not;
  // nor may claim_reserved() running a reserved event at once, or a reserved
  // number pending twice.
  std::uint64_t claimed = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed)
    run_random(seed, 4'000, true, &claimed);
  EXPECT_GT(claimed, 100u) << "the events hardly ever claimed a reserved number";
}

TEST(EventQueueModel, ManyEventsAtOneCycleAndTheWheelsEdge) {
  // A broadcast's worth of events at one cycle, others exactly kSlots apart
  // (the same wheel slot a turn later), runs interleaved with schedules.
  EventQueue q(16);
  ModelQueue model;
  Runner r;
  r.q = &q;
  r.model = &model;
  for (std::uint64_t i = 0; i < 3'000; ++i) {
    const Cycle at = (i % 3 == 0) ? 100 : (i % 3 == 1) ? 100 + 4'096 : 100 + 2 * 4'096;
    q.schedule(at, r, 0, i + 1);
    model.schedule(at, i + 1);
    if (i % 50 == 49) {
      ASSERT_TRUE(q.run_one());
    }
  }
  q.run_to_idle();
  EXPECT_EQ(r.ran.size(), 3'000u);
  EXPECT_FALSE(model.take().has_value());
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace fredsim
