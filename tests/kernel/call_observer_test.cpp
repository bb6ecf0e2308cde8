// HandlerRegistry::observe_calls and the call of a CallObserver inside
// Kernel::call_next_handler: what a scenario's handler actions and rendezvous
// stand on (docs/scenarios.md "Handler actions and rendezvous").
#include <gtest/gtest.h>

#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::make_config;
using fredsim::testing::make_system;

/// Records each call it sees and charges `extra` cycles to it.
struct Recorder final : CallObserver {
  explicit Recorder(Kernel& k, Cycle charge = 0) : kernel(k), extra(charge) {}
  Cycle on_call(const HandlerCall& call) override {
    calls.push_back(call);
    cycles.push_back(kernel.machine().now());
    // Inside the call, before it is counted: the count is the one before.
    counted_before.push_back(kernel.registry().handler(call.handler).total.calls);
    return extra;
  }
  Kernel& kernel;
  Cycle extra;
  std::vector<HandlerCall> calls;
  std::vector<Cycle> cycles;
  std::vector<std::uint64_t> counted_before;
};

TEST(CallObserver, SeesEachCallWithItsNumberOnItsCpuAndInAll) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const HandlerId dev = *k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
  Recorder rec(k);
  k.registry().observe_calls("dev", &rec);
  const CpuId one[] = {1};
  const CpuId zero[] = {0};
  k.send_nmi_ipi(0, one, 5);
  sys->run_to_idle();
  k.send_nmi_ipi(1, zero, 5);
  sys->run_to_idle();
  k.send_nmi_ipi(0, one, 5);
  sys->run_to_idle();
  ASSERT_EQ(rec.calls.size(), 3u);
  EXPECT_EQ(rec.calls[0].handler, dev);
  EXPECT_EQ(rec.calls[0].cpu, 1u);
  EXPECT_EQ(rec.calls[0].call_on_cpu, 1u);
  EXPECT_EQ(rec.calls[0].calls, 1u);
  EXPECT_EQ(rec.calls[1].cpu, 0u);
  EXPECT_EQ(rec.calls[1].call_on_cpu, 1u);
  EXPECT_EQ(rec.calls[1].calls, 2u);
  EXPECT_EQ(rec.calls[2].cpu, 1u);
  EXPECT_EQ(rec.calls[2].call_on_cpu, 2u);
  EXPECT_EQ(rec.calls[2].calls, 3u);
  EXPECT_EQ(rec.counted_before, (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(k.registry().handler(dev).total.calls, 3u);
}

TEST(CallObserver, ItsCyclesAreAddedToTheCall) {
  auto run = [](Cycle extra) {
    auto sys = make_system(make_config(2));
    Kernel& k = sys->kernel();
    const HandlerId dev =
        *k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5, 300, 1000);
    Recorder rec(k, extra);
    k.registry().observe_calls("dev", &rec);
    const CpuId one[] = {1};
    k.send_nmi_ipi(0, one, 5);
    sys->run_to_idle();
    return std::pair{k.registry().handler(dev).total.cycles, sys->now()};
  };
  const auto [plain, plain_end] = run(0);
  const auto [more, more_end] = run(777);
  EXPECT_EQ(more, plain + 777);
  EXPECT_EQ(more_end, plain_end + 777) << "the dispatch goes on after the observer's cycles";
}

TEST(CallObserver, WaitsForAHandlerRegisteredLater) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  Recorder rec(k);
  k.registry().observe_calls("late", &rec);
  const HandlerId late = *k.register_model(NmiType::local, HandlerModel::device, 0, "late", 3);
  const CpuId one[] = {1};
  k.send_nmi_ipi(0, one, 3);
  sys->run_to_idle();
  ASSERT_EQ(rec.calls.size(), 1u);
  EXPECT_EQ(rec.calls[0].handler, late);
}

TEST(CallObserver, ANullObserverStopsWatching) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  (void)*k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 5);
  Recorder rec(k);
  k.registry().observe_calls("dev", &rec);
  k.registry().observe_calls("dev", nullptr);
  Recorder waiting(k);
  k.registry().observe_calls("later", &waiting);
  k.registry().observe_calls("later", nullptr);
  (void)*k.register_model(NmiType::local, HandlerModel::device, 0, "later", 5);
  const CpuId one[] = {1};
  k.send_nmi_ipi(0, one, 5);
  sys->run_to_idle();
  EXPECT_TRUE(rec.calls.empty());
  EXPECT_TRUE(waiting.calls.empty());
  EXPECT_EQ(k.registry().handler(k.registry().find_handler("dev")).total.calls, 1u);
}

}  // namespace
}  // namespace fredsim::kernel
