#include "fredsim/sim/event_queue.hpp"

#include <gtest/gtest.h>

#include <string>
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
