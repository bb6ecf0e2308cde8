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

TEST(TimingProfile, TheGuestNmiIpiStepsAddUpToThePublishedVirtualIpi) {
  TimingProfile t;
  // docs/hardware.md §5: an x2APIC virtual IPI, sender to acknowledgement, 3,293
  // cycles with KVM's fast path: the sender's MSR-write exit and entry, KVM's APIC
  // emulation, the target's entry with the injection (KVM's work, then VMRESUME).
  const Cycle ipi = t[TimingParam::vm_exit_msr_write] + t[TimingParam::vm_entry] +
                    t[TimingParam::kvm_apic_emulation] + t[TimingParam::kvm_nmi_inject] +
                    t[TimingParam::vm_entry];
  EXPECT_GE(ipi, 3293u * 9 / 10);
  EXPECT_LE(ipi, 3293u * 11 / 10);
}

// The exits of the guest NMI path cost what the profile's vm_exit costs: the
// exit transition does not depend on the reason (docs/hardware.md §5 publishes
// one round trip per host), so a profile that sets vm_exit sets them too.
TEST(TimingProfile, NamedProfilesKeepTheGuestPathsExitsWithTheirVmExit) {
  for (const NamedTimingProfile& p : timing_profiles()) {
    auto t = TimingProfile::named(p.name);
    ASSERT_TRUE(t.ok()) << p.name;
    const Cycle exit = t.value()[TimingParam::vm_exit];
    for (TimingParam q : {TimingParam::vm_exit_msr_write, TimingParam::vm_exit_external_interrupt,
                          TimingParam::vm_exit_nmi_window, TimingParam::vm_exit_interrupt_window}) {
      EXPECT_EQ(t.value()[q], exit) << p.name << ": " << timing_param_name(q);
    }
  }
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
  EXPECT_NE(bad.error().message.find("known: default, skylake-sp, icelake, kvm-mediated-pmu"),
            std::string::npos);
}

// Every cost says what its value rests on; a measured or derived one names the
// published figure or kernel constant, an assumed one says so.
TEST(TimingProfile, EveryDefaultCostSaysMeasuredDerivedOrAssumed) {
  int derived = 0;
  for (const auto& p : timing_params()) {
    const bool says_assumption = p.source.find("assumption") != std::string_view::npos;
    if (p.basis == CostBasis::assumed) {
      EXPECT_TRUE(says_assumption) << p.name << ": an assumed cost says so in its source";
    } else {
      ++derived;
      EXPECT_FALSE(p.source.starts_with("assumption")) << p.name << " cites its figure first";
    }
  }
  EXPECT_GE(derived, 3) << "vm_exit, vm_entry (the round trip split) and iochk_udelay";
  EXPECT_EQ(to_string(CostBasis::measured), "measured");
  EXPECT_EQ(to_string(CostBasis::derived), "derived");
  EXPECT_EQ(to_string(CostBasis::assumed), "assumed");
}

// A named profile is the default with published figures in place of some
// costs: each of its costs differs from the default, rests on a figure (not an
// assumption), and loads into the profile by that name.
TEST(TimingProfile, NamedProfilesReplaceCostsWithPublishedFigures) {
  const TimingProfile dflt;
  ASSERT_FALSE(timing_profiles().empty());
  EXPECT_EQ(timing_profiles().front().name, "default");
  EXPECT_TRUE(timing_profiles().front().costs.empty());
  for (const NamedTimingProfile& np : timing_profiles().subspan(1)) {
    EXPECT_FALSE(np.costs.empty()) << np.name;
    EXPECT_FALSE(np.summary.empty()) << np.name;
    auto t = TimingProfile::named(np.name);
    ASSERT_TRUE(t.ok()) << np.name;
    for (const ProfileCost& c : np.costs) {
      EXPECT_NE(c.cycles, dflt[c.param]) << np.name << " " << timing_param_name(c.param);
      EXPECT_NE(c.basis, CostBasis::assumed) << np.name << " " << timing_param_name(c.param);
      EXPECT_FALSE(c.source.empty());
      EXPECT_EQ((*t)[c.param], c.cycles);
      EXPECT_EQ(profile_cost(np, c.param), &c);
    }
    // The rest is the default's.
    for (const auto& p : timing_params()) {
      if (profile_cost(np, p.param) == nullptr) {
        EXPECT_EQ((*t)[p.param], p.default_cycles);
      }
    }
  }
  EXPECT_EQ(find_timing_profile("nope"), nullptr);
}

TEST(TimingProfile, ProfilesFollowTheirPublishedRoundTrips) {
  auto sky = TimingProfile::named("skylake-sp");
  ASSERT_TRUE(sky.ok());
  // vmexit.flat's vmcall round trip with KVM's fastpath (Skylake-SP): 1,529 cycles.
  EXPECT_EQ((*sky)[TimingParam::vm_exit] + (*sky)[TimingParam::vm_entry], 1529u);
  auto pmu = TimingProfile::named("kvm-mediated-pmu");
  ASSERT_TRUE(pmu.ok());
  // CPUID exit round trip about 3,000 cycles with the mediated PMU, KVM's own
  // handling (kvm_nmi_exit) included.
  EXPECT_EQ((*pmu)[TimingParam::vm_exit] + (*pmu)[TimingParam::vm_entry] +
                (*pmu)[TimingParam::kvm_nmi_exit],
            3000u);
  auto ice = TimingProfile::named("icelake");
  ASSERT_TRUE(ice.ok());
  EXPECT_EQ((*ice)[TimingParam::ghes_check], 900u);
}

}  // namespace
}  // namespace fredsim
