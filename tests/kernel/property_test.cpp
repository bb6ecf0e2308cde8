// Properties over random scenarios (issue: kernel model): bitmap dispatch and
// polling handle the same work items, none is lost, and bitmap dispatch calls a
// handler only when its source bit is set (or the bitmap is 0 or has bit 0).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

struct Plan {
  std::uint32_t cpus;
  std::vector<unsigned> vectors;  // one device handler per entry
  struct Send {
    Cycle at;
    CpuId from, to;
    std::size_t handler;
    std::uint32_t items;
  };
  std::vector<Send> sends;
};

Plan random_plan(std::mt19937_64& rng) {
  static constexpr unsigned kVectors[] = {0, 1, 3, 4, 5, 6, 7};
  Plan p;
  p.cpus = std::uniform_int_distribution<std::uint32_t>(1, 8)(rng);
  const int handlers = std::uniform_int_distribution<int>(1, 6)(rng);
  for (int i = 0; i < handlers; ++i) {
    p.vectors.push_back(kVectors[std::uniform_int_distribution<int>(0, 6)(rng)]);
  }
  const int sends = std::uniform_int_distribution<int>(1, 12)(rng);
  for (int i = 0; i < sends; ++i) {
    Plan::Send s;
    s.at = std::uniform_int_distribution<Cycle>(0, 20'000)(rng);
    s.from = std::uniform_int_distribution<CpuId>(0, p.cpus - 1)(rng);
    s.to = std::uniform_int_distribution<CpuId>(0, p.cpus - 1)(rng);
    s.handler = std::uniform_int_distribution<std::size_t>(0, p.vectors.size() - 1)(rng);
    s.items = std::uniform_int_distribution<std::uint32_t>(1, 3)(rng);
    p.sends.push_back(s);
  }
  return p;
}

// Checks every handler_call against the event data of the NMI being handled.
struct FilterCheck final : TraceSink {
  const Kernel* k = nullptr;
  std::map<CpuId, std::uint64_t> event_data;
  int violations = 0;
  void record(const TraceRecord& r) override {
    if (r.event == "nmi_deliver") {
      event_data[r.cpu] = r.find("event_data")->value.u;
    } else if (r.event == "handler_call" && r.find("type")->value.s == "local") {
      const std::uint64_t data = event_data[r.cpu];
      if (data == 0 || (data & 1u)) return;  // polling is allowed
      const unsigned v =
          k->registry().handler(k->registry().find_handler(r.find("handler")->value.s)).vector;
      if (((data >> v) & 1u) == 0) ++violations;
    }
  }
};

struct Outcome {
  std::vector<std::uint64_t> handled;
  std::uint64_t lost = 0;
  std::uint64_t calls = 0;
  int violations = 0;
};

Outcome run(const Plan& p, bool source) {
  auto sys = make_system(make_config(p.cpus, true, source));
  Kernel& k = sys->kernel();
  std::vector<HandlerId> ids;
  for (std::size_t i = 0; i < p.vectors.size(); ++i) {
    ids.push_back(*k.register_model(NmiType::local, HandlerModel::device, 0,
                                    std::string("h").append(std::to_string(i)), p.vectors[i]));
  }
  FilterCheck check;
  check.k = &k;
  sys->machine().tracer().add_sink(check);
  for (const auto& s : p.sends) {
    sys->at(s.at, [&k, &ids, &p, s] {
      k.registry().add_work(ids[s.handler], s.to, s.items);  // the sender sets its flag first
      const CpuId dest[] = {s.to};
      k.send_nmi_ipi(s.from, dest, p.vectors[s.handler]);
    });
  }
  sys->run_to_idle();
  Outcome o;
  for (HandlerId h : ids) {
    o.handled.push_back(k.registry().handler(h).total.handled);
    o.calls += k.registry().handler(h).total.calls;
  }
  for (CpuId c = 0; c < p.cpus; ++c)
    o.lost += k.lost_work(c);
  o.violations = check.violations;
  return o;
}

TEST(Properties, BitmapAndPollingHandleTheSameWorkAndLoseNone) {
  std::mt19937_64 rng(20251125);
  std::uint64_t bitmap_calls = 0, polling_calls = 0;
  for (int i = 0; i < 300; ++i) {
    const Plan p = random_plan(rng);
    const Outcome bitmap = run(p, true);
    const Outcome polling = run(p, false);
    ASSERT_EQ(bitmap.lost, 0u) << "scenario " << i;
    ASSERT_EQ(polling.lost, 0u) << "scenario " << i;
    ASSERT_EQ(bitmap.handled, polling.handled) << "scenario " << i;
    ASSERT_EQ(bitmap.violations, 0) << "scenario " << i;
    bitmap_calls += bitmap.calls;
    polling_calls += polling.calls;
  }
  EXPECT_LT(bitmap_calls, polling_calls) << "bitmap dispatch should call fewer handlers";
}

}  // namespace
}  // namespace fredsim::kernel
