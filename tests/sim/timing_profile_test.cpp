#include "fredsim/sim/timing_profile.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace fredsim {
namespace {

TEST(TimingProfile, EveryParameterHasAUniqueNameAndASource) {
  std::set<std::string_view> names;
  for (const auto& p : timing_params()) {
    EXPECT_TRUE(names.insert(p.name).second) << "duplicate name " << p.name;
    EXPECT_FALSE(p.source.empty()) << p.name << " needs a source or 'assumption'";
    EXPECT_EQ(timing_param_by_name(p.name), p.param);
    EXPECT_EQ(timing_param_name(p.param), p.name);
  }
  EXPECT_EQ(names.size(), kTimingParamCount);
}

TEST(TimingProfile, DefaultsFollowThePublishedRoundTrip) {
  TimingProfile t;
  // docs/hardware.md §5 "Published costs": vmcall exit + entry about 1,530 to 1,560 cycles.
  const Cycle round_trip = t[TimingParam::vm_exit] + t[TimingParam::vm_entry];
  EXPECT_GE(round_trip, 1530u);
  EXPECT_LE(round_trip, 1560u);
}

TEST(TimingProfile, OverrideByName) {
  TimingProfile t;
  ASSERT_TRUE(t.set("vm_exit", 1200).ok());
  EXPECT_EQ(t[TimingParam::vm_exit], 1200u);
}

TEST(TimingProfile, UnknownNameIsAnErrorWithSuggestions) {
  TimingProfile t;
  Status s = t.set("vm_exits", 5);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("unknown timing parameter 'vm_exits'"), std::string::npos);
  EXPECT_NE(s.error().message.find("vm_exit"), std::string::npos);
}

TEST(TimingProfile, NamedProfiles) {
  EXPECT_TRUE(TimingProfile::named("default").ok());
  auto bad = TimingProfile::named("skylake");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("known: default"), std::string::npos);
}

}  // namespace
}  // namespace fredsim
