// The sensitivity study: which costs it varies, what each variant sets, and
// that its figures are the dispatch study's under those costs.
#include "fredsim/study/sensitivity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "fredsim/scenario/system_runner.hpp"

namespace fredsim::study {
namespace {

SensitivityOptions small() {
  SensitivityOptions o;
  o.handlers = 8;
  o.mixes = {SweepMix::one};
  o.places = {SweepPlace::bare};
  o.samples = 3;
  o.nmis = 20;
  return o;
}

const SensitivityVariant* find(const SensitivityReport& r, std::string_view label) {
  for (const auto& v : r.variants) {
    if (v.label == label) return &v;
  }
  ADD_FAILURE() << "no variant " << label;
  return nullptr;
}

TEST(Sensitivity, VariesEveryCostNoMeasurementBacksButNotTheClock) {
  const auto varied = sensitivity_params(*find_timing_profile("default"));
  auto has = [&](TimingParam p) { return std::count(varied.begin(), varied.end(), p) == 1; };
  EXPECT_TRUE(has(TimingParam::device_check));
  EXPECT_TRUE(has(TimingParam::vm_exit)) << "derived: the split of a round trip is assumed";
  EXPECT_TRUE(has(TimingParam::ghes_check));
  EXPECT_FALSE(has(TimingParam::core_mhz));
  // Ice Lake's GHES figure is measured: not varied there.
  const auto ice = sensitivity_params(*find_timing_profile("icelake"));
  EXPECT_EQ(std::count(ice.begin(), ice.end(), TimingParam::ghes_check), 0);
  EXPECT_EQ(ice.size() + 1, varied.size());
}

TEST(Sensitivity, BaselineIsTheDispatchStudyAndEachVariantSetsItsCost) {
  const scenario::SystemRunner runner;
  const SensitivityOptions o = small();
  auto r = run_sensitivity(o, runner);
  ASSERT_TRUE(r.ok()) << r.error().message;
  // The baseline is the sweep's own figures.
  SweepOptions s;
  s.handlers = {o.handlers};
  s.modes = {SweepMode::fred, SweepMode::fred_nmisrc_v7};
  s.mixes = o.mixes;
  s.places = o.places;
  s.nmis = o.nmis;
  auto points = run_sweep(s, runner);
  ASSERT_TRUE(points.ok());
  const SensitivityCell& base = r->variants.front().cells.at(0);
  EXPECT_EQ(r->variants.front().kind, VariantKind::baseline);
  EXPECT_DOUBLE_EQ(base.polling_cycles, (*points)[0].cycles_per_nmi());
  EXPECT_DOUBLE_EQ(base.bitmap_cycles, (*points)[1].cycles_per_nmi());
  EXPECT_DOUBLE_EQ(base.polling_calls, 8.0);
  EXPECT_DOUBLE_EQ(base.bitmap_calls, 1.0);
  EXPECT_GT(base.saved(), 0);

  // A cost only polling pays (the other handlers' checks) moves the saving
  // with it; a cost no NMI of the study pays moves nothing.
  const SensitivityVariant* dev_hi = find(*r, "device_check x2");
  const SensitivityVariant* dev_lo = find(*r, "device_check x0.5");
  const SensitivityVariant* kgdb_hi = find(*r, "kgdb_handle x2");
  ASSERT_TRUE(dev_hi && dev_lo && kgdb_hi);
  ASSERT_EQ(dev_hi->costs.size(), 1u);
  EXPECT_EQ(dev_hi->costs[0].first, TimingParam::device_check);
  EXPECT_EQ(dev_hi->costs[0].second, 2 * TimingProfile{}[TimingParam::device_check]);
  EXPECT_EQ(dev_lo->costs[0].second, TimingProfile{}[TimingParam::device_check] / 2);
  EXPECT_GT(dev_hi->cells[0].saved(), base.saved());
  EXPECT_LT(dev_lo->cells[0].saved(), base.saved());
  EXPECT_DOUBLE_EQ(dev_hi->cells[0].bitmap_cycles, base.bitmap_cycles)
      << "bitmap dispatch calls no device handler for a PMI";
  EXPECT_DOUBLE_EQ(kgdb_hi->cells[0].saved(), base.saved());

  // Baseline, two per varied cost that is not 0, and the random draws, each
  // setting every varied cost within [low, high] of its value.
  std::size_t nonzero = 0;
  for (TimingParam p : r->varied)
    nonzero += TimingProfile{}[p] > 0;
  EXPECT_EQ(r->variants.size(), 1 + 2 * nonzero + o.samples);
  const SensitivityVariant& rnd = r->variants.back();
  EXPECT_EQ(rnd.kind, VariantKind::random);
  ASSERT_EQ(rnd.costs.size(), r->varied.size());
  bool some_moved = false;
  for (const auto& [p, c] : rnd.costs) {
    const Cycle d = TimingProfile{}[p];
    if (d == 0) continue;
    EXPECT_GE(2 * c + 1, d) << timing_param_name(p);
    EXPECT_LE(c, 2 * d + 1) << timing_param_name(p);
    some_moved = some_moved || c != d;
  }
  EXPECT_TRUE(some_moved);
}

TEST(Sensitivity, SameSeedSameBytesOtherSeedOtherDraws) {
  const scenario::SystemRunner runner;
  SensitivityOptions o = small();
  o.mixes = {SweepMix::unsourced10};
  auto a = run_sensitivity(o, runner), b = run_sensitivity(o, runner);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(sensitivity_csv(*a), sensitivity_csv(*b));
  EXPECT_EQ(sensitivity_json(*a), sensitivity_json(*b));
  // Threads change nothing.
  o.jobs = 3;
  auto threaded = run_sensitivity(o, runner);
  ASSERT_TRUE(threaded.ok());
  EXPECT_EQ(sensitivity_csv(*threaded), sensitivity_csv(*a));
  o.jobs = 1;
  o.seed = 2;
  auto c = run_sensitivity(o, runner);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->variants.back().costs, a->variants.back().costs);
  // The JSON carries the options and every variant's costs.
  const auto j = nlohmann::json::parse(sensitivity_json(*a));
  EXPECT_EQ(j["options"]["seed"], 1);
  EXPECT_EQ(j["variants"].size(), a->variants.size());
  EXPECT_EQ(j["variants"][0]["kind"], "baseline");
}

TEST(Sensitivity, TableAndTornadoNameTheCostsThatMoveTheSaving) {
  const scenario::SystemRunner runner;
  auto r = run_sensitivity(small(), runner);
  ASSERT_TRUE(r.ok());
  const std::string table = sensitivity_table(*r);
  EXPECT_NE(table.find("bare one"), std::string::npos) << table;
  EXPECT_NE(table.find("device_check"), std::string::npos) << table;
  const std::string gp = sensitivity_gnuplot(*r, "out/s.png");
  EXPECT_NE(gp.find("set output \"out/s.png\""), std::string::npos);
  EXPECT_NE(gp.find("\"device_check\""), std::string::npos);
  EXPECT_EQ(gp.find("\"kgdb_handle\""), std::string::npos) << "a cost that moves nothing";
}

TEST(Sensitivity, BadOptionsAreRefusedWithTheirValue) {
  SensitivityOptions o = small();
  o.low = 1.0;
  EXPECT_NE(check_sensitivity_options(o).error().message.find("--low 1"), std::string::npos);
  o = small();
  o.high = 0.9;
  EXPECT_NE(check_sensitivity_options(o).error().message.find("--high 0.9"), std::string::npos);
  o = small();
  o.profile = "pentium";
  EXPECT_NE(check_sensitivity_options(o).error().message.find("unknown timing profile 'pentium'"),
            std::string::npos);
  o = small();
  o.handlers = 2;
  o.mixes = {SweepMix::two};
  EXPECT_NE(check_sensitivity_options(o).error().message.find("--mixes two needs at least"),
            std::string::npos);
  o = small();
  o.jobs = 0;
  EXPECT_NE(check_sensitivity_options(o).error().message.find("-j needs at least 1"),
            std::string::npos);
  EXPECT_TRUE(check_sensitivity_options(small()).ok());
}

}  // namespace
}  // namespace fredsim::study
