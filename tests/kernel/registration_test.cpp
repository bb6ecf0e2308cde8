// docs/linux.md "Registration".
#include <gtest/gtest.h>

#include "fredsim/kernel/kernel.hpp"
#include "test_support.hpp"

namespace fredsim::kernel {
namespace {

using fredsim::testing::console_has;
using fredsim::testing::done;
using fredsim::testing::make_config;
using fredsim::testing::make_system;

std::vector<std::string> names(const Kernel& k, NmiType t) {
  std::vector<std::string> out;
  for (HandlerId id : k.registry().handler_list(t))
    out.push_back(k.registry().handler(id).name);
  return out;
}

TEST(Registration, FirstHandlersGoToTheHeadNewestFirst) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "a", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, NMI_FLAG_FIRST, "f1", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "b", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, NMI_FLAG_FIRST, "f2", 0).ok());
  EXPECT_EQ(names(k, NmiType::local), (std::vector<std::string>{"f2", "f1", "a", "b"}));
}

TEST(Registration, NullCallableAndDuplicatesAreRefused) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  EXPECT_FALSE(k.register_nmi_handler(NmiType::local, nullptr, 0, "x", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "x", 0).ok());
  auto again = k.register_nmi_handler(NmiType::local, done, 0, "x", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already registered"), std::string::npos);
  EXPECT_EQ(names(k, NmiType::local).size(), 1u) << "nothing registered by a refusal";
}

TEST(Registration, UnregisterRemovesTheFirstMatchAndAllowsReRegistration) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "x", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "y", 0).ok());
  EXPECT_TRUE(k.unregister_nmi_handler(NmiType::local, "x"));
  EXPECT_FALSE(k.unregister_nmi_handler(NmiType::local, "x"));
  EXPECT_EQ(names(k, NmiType::local), (std::vector<std::string>{"y"}));
  EXPECT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "x", 0).ok());
  EXPECT_EQ(names(k, NmiType::local), (std::vector<std::string>{"y", "x"}));
}

TEST(Registration, WarnOnceCasesStillRegister) {
  auto sys = make_system(make_config(1));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, done, 0, "u", 3).ok());
  EXPECT_TRUE(console_has(k, "only LOCAL handlers are filtered"));
  ASSERT_TRUE(k.register_nmi_handler(NmiType::local, done, 0, "big", 9).ok());
  EXPECT_TRUE(console_has(k, ">= NMIS_VECTOR_COUNT"));
  EXPECT_EQ(k.registry().handler(k.registry().find_handler("big")).vector, 9u)
      << "v7 keeps the vector as given";
  ASSERT_TRUE(k.register_nmi_handler(NmiType::serr, done, 0, "s1", 0).ok());
  ASSERT_TRUE(k.register_nmi_handler(NmiType::serr, done, 0, "s2", 0).ok());
  EXPECT_TRUE(console_has(k, "a second serr NMI handler (s2)"));
  EXPECT_EQ(names(k, NmiType::serr).size(), 2u);
  // Warned once: a second offender adds no second warning.
  const auto lines = k.console().lines().size();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, done, 0, "u2", 4).ok());
  EXPECT_EQ(k.console().lines().size(), lines);
}

TEST(Registration, V5ForcesVectorZeroWhenTheFeatureIsOffOrTheTypeIsNotLocal) {
  auto off = make_system(make_config(1, true, false, Revision::v5));
  ASSERT_TRUE(off->kernel().register_nmi_handler(NmiType::local, done, 0, "p", 7).ok());
  EXPECT_EQ(off->kernel().registry().handler(0).vector, 0u);
  auto on = make_system(make_config(1, true, true, Revision::v5));
  ASSERT_TRUE(on->kernel().register_nmi_handler(NmiType::local, done, 0, "p", 7).ok());
  ASSERT_TRUE(on->kernel().register_nmi_handler(NmiType::unknown, done, 0, "u", 7).ok());
  EXPECT_EQ(on->kernel().registry().handler(on->kernel().registry().find_handler("p")).vector, 7u);
  EXPECT_EQ(on->kernel().registry().handler(on->kernel().registry().find_handler("u")).vector, 0u);
}

// v5 of the NMI-source series, __register_nmi_handler: WARN_ON_ONCE(vector >=
// NMIS_VECTORS_MAX) on the vector as given, then vector 0 when the feature is
// off or the type is not LOCAL; no type warning (v6 added
// WARN_ON_ONCE(type != NMI_LOCAL && source_vector)).
TEST(Registration, V5RegisterNmiHandlerWarnsForTheVectorBeforeForcingZero) {
  for (bool source : {false, true}) {
    SCOPED_TRACE(source);
    auto sys = make_system(make_config(1, true, source, Revision::v5));
    Kernel& k = sys->kernel();
    ASSERT_TRUE(k.register_nmi_handler(NmiType::unknown, done, 0, "u", 20).ok());
    EXPECT_TRUE(console_has(k, "source vector 20 >= 16")) << "the vector as given is checked";
    EXPECT_EQ(k.registry().handler(k.registry().find_handler("u")).vector, 0u);
    EXPECT_FALSE(console_has(k, "only LOCAL handlers are filtered")) << "no type warning in v5";
  }
  auto sys = make_system(make_config(1, true, true, Revision::v5));
  Kernel& k = sys->kernel();
  ASSERT_TRUE(k.register_nmi_handler(NmiType::serr, done, 0, "s", 3).ok());
  EXPECT_EQ(k.registry().handler(k.registry().find_handler("s")).vector, 0u);
  EXPECT_TRUE(k.console().lines().empty()) << "a small vector on another type: no warning";
}

// nmi_handle with an NMI-source bitmap of 0 (here a KVM NMI exit whose exit
// qualification is 0): v5 treats it as no source information and calls every
// LOCAL handler silently; v6 and v7 also call every handler, after a
// WARN_ON_ONCE(!source_bitmap).
TEST(Registration, NmiHandleWithABitmapOfZeroWarnsFromV6Only) {
  for (Revision rev : {Revision::v5, Revision::v7}) {
    SCOPED_TRACE(rev == Revision::v5 ? "v5" : "v7");
    auto sys = make_system(make_config(2, true, true, rev));
    Kernel& k = sys->kernel();
    int calls = 0;
    ASSERT_TRUE(k.register_nmi_handler(
                     NmiType::local,
                     [&](NmiType, const PtRegs&, NmiContext&) {
                       ++calls;
                       return NMI_HANDLED;
                     },
                     0, "v5h", 5)
                    .ok());
    sys->at(10, [&] { k.kvm_handle_nmi_exit(1, 0, 10, 0, [] {}); });
    sys->run_to_idle();
    EXPECT_EQ(calls, 1) << "a bitmap of 0 filters nothing";
    EXPECT_EQ(console_has(k, "event data 0"), rev == Revision::v7);
  }
}

}  // namespace
}  // namespace fredsim::kernel
