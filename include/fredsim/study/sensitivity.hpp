#pragma once
// The sensitivity study behind `fredsim sensitivity` (docs/benchmarks.md
// "Sensitivity to the assumed costs"): how far the dispatch study's headline
// (bitmap dispatch against polling at N handlers) moves when the costs that rest
// on no measurement (CostBasis::assumed and ::derived) are wrong.
//
// Each variant is the dispatch study's cells for FRED polling and FRED with
// NMI-source (v7) with some costs scaled: the baseline; each cost alone at the
// low and at the high factor; and `samples` variants that scale every cost at
// once by a factor drawn log-uniformly from [low, high] with a fixed seed.
#include <cstdint>
#include <string>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/study/sweep.hpp"

namespace fredsim::study {

struct SensitivityOptions {
  unsigned handlers = 64;
  std::vector<SweepMix> mixes{SweepMix::one, SweepMix::unsourced10, SweepMix::external10};
  std::vector<SweepPlace> places{std::begin(kAllSweepPlaces), std::end(kAllSweepPlaces)};
  double low = 0.5;                 // factor of the low variant (0 < low < 1)
  double high = 2.0;                // factor of the high variant (1 < high <= 100)
  unsigned samples = 32;            // variants with every cost drawn at random
  std::uint64_t seed = 1;           // of those draws (std::mt19937_64, portable)
  std::uint32_t nmis = 1000;        // NMIs a cell (a multiple of 10)
  std::string profile = "default";  // the timing profile the factors apply to
  unsigned jobs = 1;  // threads for each variant's cells (any count: the same figures)
};

/// What one (place, mix) gives in one variant: polling (FRED without
/// NMI-source) against bitmap dispatch (FRED with NMI-source, v7).
struct SensitivityCell {
  SweepPlace place = SweepPlace::bare;
  SweepMix mix = SweepMix::one;
  double polling_cycles = 0;  // dispatch cycles per NMI
  double bitmap_cycles = 0;
  double polling_calls = 0;  // handler calls per NMI
  double bitmap_calls = 0;
  std::uint64_t polling_lost = 0;
  std::uint64_t bitmap_lost = 0;
  std::uint64_t polling_unknown = 0;
  std::uint64_t bitmap_unknown = 0;
  double saved() const { return polling_cycles - bitmap_cycles; }
  double ratio() const { return bitmap_cycles > 0 ? polling_cycles / bitmap_cycles : 0; }
};

enum class VariantKind : std::uint8_t { baseline, one_low, one_high, random };

struct SensitivityVariant {
  VariantKind kind = VariantKind::baseline;
  std::string label;                                 // "baseline", "ghes_check x0.5", "random 3"
  std::string param;                                 // the cost scaled (one_low / one_high)
  std::vector<std::pair<TimingParam, Cycle>> costs;  // the costs it sets
  std::vector<SensitivityCell> cells;                // in places x mixes order
};

struct SensitivityReport {
  SensitivityOptions options;
  std::vector<TimingParam> varied;           // the costs that rest on no measurement
  std::vector<SensitivityVariant> variants;  // baseline, one-at-a-time, random
};

/// The costs the study varies in `profile`: every cost whose basis there is
/// assumed or derived, but not the clock (core_mhz is not a cost).
std::vector<TimingParam> sensitivity_params(const NamedTimingProfile& profile);

/// Checks the options; the message names what is wrong.
Status check_sensitivity_options(const SensitivityOptions& options);

Result<SensitivityReport> run_sensitivity(const SensitivityOptions& options,
                                          const scenario::ScenarioRunner& runner);

/// One CSV line per variant and cell.
std::string sensitivity_csv(const SensitivityReport& report);
std::string sensitivity_json(const SensitivityReport& report);
/// The headline per place and mix (saved cycles per NMI: baseline, range over
/// every variant) and the costs that move it most.
std::string sensitivity_table(const SensitivityReport& report);
/// A tornado plot for each place (the first mix): saved cycles per NMI at each
/// cost's low and high factor, the costs that move it most on top.
std::string sensitivity_gnuplot(const SensitivityReport& report, const std::string& png_path);

}  // namespace fredsim::study
