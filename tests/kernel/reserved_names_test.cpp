// The names the kernel registers for its own senders (PMI, nmi_selftest,
// smp_stop, arch_bt, kgdb, mce), handler ids checked where they are made, and
// the call order of the lists under many registrations.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::done;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

struct Role {
  const char* name;
  HandlerModel model;
  unsigned vector;  // the NMI-source vector its sender uses
};
constexpr Role kRoles[] = {
    {"PMI", HandlerModel::pmi, 7},       {"nmi_selftest", HandlerModel::selftest, 1},
    {"smp_stop", HandlerModel::stop, 3}, {"arch_bt", HandlerModel::backtrace, 4},
    {"kgdb", HandlerModel::kgdb, 5},     {"mce", HandlerModel::mce, 6},
};

/// Runs the sender of `model` from CPU 0 on a 4-CPU machine.
void send(system::System& sys, HandlerModel model) {
  Kernel& k = sys.kernel();
  const CpuId others[] = {1, 2, 3};
  // native_stop_other_cpus sends its NMI (and registers smp_stop) only to CPUs
  // the REBOOT_VECTOR IRQ did not stop: these run with interrupts off.
  if (model == HandlerModel::stop) {
    for (CpuId c : others)
      sys.machine().cpu(c).set_interrupt_flag(false);
  }
  sys.at(100, [&k, model, others] {
    switch (model) {
      case HandlerModel::pmi:
        k.pmu_overflow(1, 1);
        break;
      case HandlerModel::selftest:
        k.run_selftest(0);
        break;
      case HandlerModel::stop:
        k.stop_other_cpus(0);
        break;
      case HandlerModel::backtrace:
        k.trigger_backtrace(0, others, true);
        break;
      case HandlerModel::kgdb:
        k.kgdb_roundup(0);
        break;
      case HandlerModel::mce:
        k.mce_inject(0, others);
        break;
      default:
        break;
    }
  });
}

TEST(ReservedNames, EveryRoleNameBelongsToItsModel) {
  for (const Role& r : kRoles) {
    const auto owner = reserved_handler_model(r.name);
    ASSERT_TRUE(owner.has_value()) << r.name;
    EXPECT_EQ(*owner, r.model) << r.name;
  }
  EXPECT_FALSE(reserved_handler_model("perf").has_value());
  EXPECT_FALSE(reserved_handler_model("pmi").has_value()) << "names are case-sensitive";
}

TEST(ReservedNames, AnotherModelUnderARoleNameIsRefused) {
  for (const Role& r : kRoles) {
    auto sys = make_system(make_config(4));
    Kernel& k = sys->kernel();
    auto dev = k.register_model(NmiType::local, HandlerModel::device, 0, r.name, 0);
    ASSERT_FALSE(dev.ok()) << r.name;
    EXPECT_NE(dev.error().message.find("kernel's own"), std::string::npos) << dev.error().message;
    EXPECT_FALSE(k.register_nmi_handler(NmiType::local, done, 0, r.name, 0).ok()) << r.name;
    EXPECT_FALSE(k.register_model(NmiType::unknown, HandlerModel::device, 0, r.name, 0).ok());
    EXPECT_EQ(k.registry().handler_count(), 0u) << "a refusal registers nothing";
    // The sender then registers the kernel's own handler and its work is done.
    send(*sys, r.model);
    sys->run_to_idle();
    const HandlerId h = k.registry().find_handler(r.name);
    ASSERT_NE(h, kNoHandler) << r.name;
    EXPECT_EQ(k.registry().handler(h).model, r.model);
    EXPECT_GT(k.registry().handler(h).total.handled, 0u) << r.name;
    for (CpuId c = 0; c < 4; ++c)
      EXPECT_EQ(k.lost_work(c), 0u) << r.name << " cpu " << c;
  }
}

TEST(ReservedNames, TheSameModelConfiguresTheKernelsHandler) {
  for (const Role& r : kRoles) {
    auto sys = make_system(make_config(4));
    Kernel& k = sys->kernel();
    auto own = k.register_model(NmiType::local, r.model, 0, r.name, r.vector, 0, 777);
    ASSERT_TRUE(own.ok()) << r.name;
    send(*sys, r.model);
    sys->run_to_idle();
    // The selftest also registers its NMI_UNKNOWN catcher nmi_selftest_unk
    // (nmi_selftest.c init_nmi_testsuite), kgdb its NMI_UNKNOWN "kgdb"
    // (kgdb_arch_init); no second handler of the role's name on its list.
    const bool two = r.model == HandlerModel::selftest || r.model == HandlerModel::kgdb;
    EXPECT_EQ(k.registry().handler_count(), two ? 2u : 1u)
        << r.name << ": no second handler registered";
    EXPECT_TRUE(k.registry().handler(*own).registered) << r.name;
    EXPECT_GT(k.registry().handler(*own).total.handled, 0u) << r.name;
    for (CpuId c = 0; c < 4; ++c)
      EXPECT_EQ(k.lost_work(c), 0u) << r.name << " cpu " << c;
  }
}

TEST(ReservedNames, ASelftestHandlerOfTheScenarioServesTheTest) {
  auto sys = make_system(make_config(4));
  Kernel& k = sys->kernel();
  auto own = k.register_model(NmiType::local, HandlerModel::selftest, NMI_FLAG_FIRST,
                              "nmi_selftest", nmis::VECTOR_TEST);
  ASSERT_TRUE(own.ok());
  sys->at(0, [&] { k.run_selftest(0); });
  sys->run_to_idle();
  EXPECT_TRUE(console_has(k, "Good, all   2 testcases passed! |"));
  EXPECT_EQ(k.selftest().report().failed, 0u);
  EXPECT_EQ(k.registry().handler(*own).total.handled, 4u);
  EXPECT_TRUE(k.registry().handler(*own).registered)
      << "the test leaves a handler it did not register";
}

TEST(ReservedNames, AnUnregisteredRoleFallsBackToTheNamedHandler) {
  auto sys = make_system(make_config(4));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_model(NmiType::local, HandlerModel::mce, 0, "mce", 6).ok());
  ASSERT_TRUE(k.register_model(NmiType::local, HandlerModel::mce, 0, "mce2", 6).ok());
  ASSERT_TRUE(k.unregister_nmi_handler(NmiType::local, "mce2"));
  send(*sys, HandlerModel::mce);
  sys->run_to_idle();
  EXPECT_EQ(k.registry().handler(k.registry().find_handler("mce")).total.handled, 3u);
  for (CpuId c = 0; c < 4; ++c)
    EXPECT_EQ(k.lost_work(c), 0u);
}

TEST(HandlerIds, WorkForAnIdThatNamesNoHandlerIsRefused) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  auto h = k.register_model(NmiType::local, HandlerModel::device, 0, "dev", 0);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(k.registry().add_work(kNoHandler, 0));
  EXPECT_FALSE(k.registry().add_work(*h + 1, 0));
  EXPECT_FALSE(k.registry().add_work(*h, 2)) << "no CPU 2";
  EXPECT_EQ(k.registry().pending_work(kNoHandler, 0), 0u);
  EXPECT_EQ(k.registry().take_work(kNoHandler, 1), 0u);
  EXPECT_EQ(k.registry().pending_work(*h, 7), 0u);
  EXPECT_TRUE(k.registry().add_work(*h, 1, 3));
  EXPECT_EQ(k.registry().pending_work(*h, 1), 3u);
  EXPECT_EQ(k.lost_work(0) + k.lost_work(1), 3u) << "only the valid call recorded work";
}

// A mask-like model (a per-CPU bit: selftest, stop, backtrace, kgdb, mce)
// keeps one work item however many it is given; the others count them.
TEST(HandlerIds, MaskLikeModelsKeepOneWorkItem) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  const HandlerModel models[] = {
      HandlerModel::custom,    HandlerModel::device,   HandlerModel::ghes,
      HandlerModel::pmi,       HandlerModel::selftest, HandlerModel::stop,
      HandlerModel::backtrace, HandlerModel::kgdb,     HandlerModel::mce};
  for (const HandlerModel m : models) {
    const std::string name = "w_" + std::string(handler_model_name(m));
    auto h = k.register_model(NmiType::local, m, 0, name, 0);
    ASSERT_TRUE(h.ok()) << name;
    EXPECT_TRUE(k.registry().add_work(*h, 1, 3));
    EXPECT_TRUE(k.registry().add_work(*h, 1, 2));
    const bool mask = m == HandlerModel::selftest || m == HandlerModel::stop ||
                      m == HandlerModel::backtrace || m == HandlerModel::kgdb ||
                      m == HandlerModel::mce;
    EXPECT_EQ(k.registry().pending_work(*h, 1), mask ? 1u : 5u) << name;
    EXPECT_EQ(k.registry().take_work(*h, 1), mask ? 1u : 5u) << name;
    EXPECT_EQ(k.registry().pending_work(*h, 1), 0u) << name;
  }
}

TEST(HandlerIds, AnEmergencyHandlerHasNoWorkOfItsOwn) {
  auto sys = make_system(make_config(2));
  Kernel& k = sys->kernel();
  std::uint32_t taken = 99;
  k.registry().set_emergency_handler(NmiType::local, [&](NmiType, const PtRegs&, NmiContext& ctx) {
    taken = ctx.pending_work() + ctx.take_work();
    return NMI_HANDLED;
  });
  const CpuId dest[] = {1};
  sys->at(0, [&] { k.send_nmi_ipi(0, dest, 0); });
  sys->run_to_idle();
  EXPECT_EQ(taken, 0u);
}

// The call order against the list Linux keeps (FIRST at the head, newest FIRST
// first), under random registrations, unregistrations and re-registrations.
TEST(Registration, CallOrderMatchesLinuxUnderChurn) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  std::vector<std::string> linux_list;
  std::mt19937 rng(10);
  for (int step = 0; step < 3000; ++step) {
    std::string name = "h";
    name += std::to_string(rng() % 200);
    const bool first = rng() % 3 == 0;
    const bool listed = std::find(linux_list.begin(), linux_list.end(), name) != linux_list.end();
    if (listed && rng() % 2 == 0) {
      ASSERT_TRUE(k.unregister_nmi_handler(NmiType::local, name));
      linux_list.erase(std::find(linux_list.begin(), linux_list.end(), name));
    } else {
      auto r = k.register_nmi_handler(NmiType::local, done, first ? NMI_FLAG_FIRST : 0u, name, 0);
      ASSERT_EQ(r.ok(), !listed) << name;
      if (r.ok()) {
        if (first) {
          linux_list.insert(linux_list.begin(), name);
        } else {
          linux_list.push_back(name);
        }
      }
    }
    std::vector<std::string> got;
    for (HandlerId id : k.registry().handler_list(NmiType::local))
      got.push_back(k.registry().handler(id).name);
    ASSERT_EQ(got, linux_list) << "after step " << step;
  }
}

TEST(Registration, FindHandlerGivesTheFirstRegisteredOfAName) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  auto a = k.register_nmi_handler(NmiType::unknown, done, 0, "x", 0);
  auto b = k.register_nmi_handler(NmiType::local, done, 0, "x", 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(k.registry().find_handler("x"), *a);
  ASSERT_TRUE(k.unregister_nmi_handler(NmiType::unknown, "x"));
  EXPECT_EQ(k.registry().find_handler("x"), *a)
      << "an unregistered action keeps its figures and id";
  EXPECT_EQ(k.registry().find_handler("y"), kNoHandler);
}

}  // namespace
}  // namespace fredsim::kernel
