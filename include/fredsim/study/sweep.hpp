#pragma once
// The dispatch study behind `fredsim sweep` in simulated cycles (docs/benchmarks.md,
// bench/README.md). For each handler count, NMI mix, dispatch mode and place (bare
// metal or a guest with NMI exiting), it generates a scenario, runs it through a
// ScenarioRunner and reports dispatch cycles and handler calls per NMI.
//
// Every point is an ordinary scenario: `sweep_scenario` gives its TOML, which
// `fredsim run` runs to the same figures.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::study {

/// How the target CPU takes an NMI and how the kernel dispatches it.
enum class SweepMode : std::uint8_t {
  idt,             // IDT delivery, no source information: every handler polled
  fred,            // FRED without NMI-source: every handler polled
  fred_nmisrc_v7,  // FRED with NMI-source, dispatch of the v7 series: bitmap
  fred_nmisrc_v5,  // the same with the v5 series
};
/// What the NMIs are (docs/benchmarks.md "The dispatch study" has the details).
enum class SweepMix : std::uint8_t {
  one,          // every NMI a perf PMI: one source bit
  two,          // a PMI and a device IPI coalesced into one delivery: two source bits
  unsourced10,  // 90% PMIs, 10% NMIs without a source (bit 0), for GHES
  external10,   // 90% PMIs, 10% platform NMIs through LINT1 (bit 2) with SERR set
};
enum class SweepPlace : std::uint8_t {
  bare,   // the target CPU runs the host kernel
  guest,  // the target CPU runs a VMX guest with NMI exiting; NMIs arrive by VM exit
  vm,     // the NMIs are a VM's own: its guest kernel (the mode) takes them through
          // KVM's injection; the mixes `one` and `unsourced10` only
};

std::string_view to_string(SweepMode m);
std::string_view to_string(SweepMix m);
std::string_view to_string(SweepPlace p);
bool parse_sweep_mode(std::string_view text, SweepMode& out);
bool parse_sweep_mix(std::string_view text, SweepMix& out);
bool parse_sweep_place(std::string_view text, SweepPlace& out);

inline constexpr SweepMode kAllSweepModes[] = {
    SweepMode::idt, SweepMode::fred, SweepMode::fred_nmisrc_v7, SweepMode::fred_nmisrc_v5};
inline constexpr SweepMix kAllSweepMixes[] = {SweepMix::one, SweepMix::two, SweepMix::unsourced10,
                                              SweepMix::external10};
inline constexpr SweepPlace kAllSweepPlaces[] = {SweepPlace::bare, SweepPlace::guest,
                                                 SweepPlace::vm};
/// The places a sweep covers unless told (the guest-dispatch study, `vm`, is asked
/// for by name: `--places vm`).
inline constexpr SweepPlace kDefaultSweepPlaces[] = {SweepPlace::bare, SweepPlace::guest};

/// The LOCAL handlers a point registers: the first `handlers` of this roster
/// (name, model, vector), the Linux users first, then device drivers.
struct SweepHandler {
  std::string name;
  std::string model;
  unsigned vector = 0;
  bool first = false;
};
std::vector<SweepHandler> sweep_roster(unsigned handlers);
/// The fewest handlers a mix needs (the handlers its NMIs are for).
unsigned sweep_min_handlers(SweepMix mix);
/// Whether a place has a mix: a VM's guest has no platform NMI (LINT1 with
/// SERR), which `two` and `external10` are built on.
bool sweep_place_has_mix(SweepPlace place, SweepMix mix);

struct SweepOptions {
  std::vector<unsigned> handlers{1, 2, 4, 8, 16, 32, 64};
  std::vector<SweepMode> modes{std::begin(kAllSweepModes), std::end(kAllSweepModes)};
  std::vector<SweepMix> mixes{std::begin(kAllSweepMixes), std::end(kAllSweepMixes)};
  std::vector<SweepPlace> places{std::begin(kDefaultSweepPlaces), std::end(kDefaultSweepPlaces)};
  std::uint32_t nmis = 1000;                  // NMIs raised per point (a multiple of 10)
  std::vector<scenario::Override> overrides;  // applied to every point (timing.*, system.apic, ...)
};

/// One cell of the study.
struct SweepCase {
  SweepMode mode = SweepMode::fred_nmisrc_v7;
  SweepMix mix = SweepMix::one;
  SweepPlace place = SweepPlace::bare;
  unsigned handlers = 1;
  std::uint32_t nmis = 1000;
};

/// The figures of one cell. For the `two` mix they are the difference between the
/// run with the coalesced pairs and the same run without them (see
/// sweep_scenario), so the NMI that holds the CPU busy is not counted. In the
/// `vm` place they are the guest's: its vCPU 0 and its kernel's handlers.
struct SweepPoint {
  SweepCase c;
  std::uint64_t nmis = 0;        // NMIs raised at the target CPU (vCPU)
  std::uint64_t deliveries = 0;  // FRED/IDT deliveries and NMI VM exits
  std::uint64_t coalesced = 0;
  std::uint64_t dispatch_cycles = 0;  // delivery to return, summed
  std::uint64_t handler_calls = 0;    // every handler list (LOCAL, SERR, UNKNOWN)
  std::uint64_t unknown = 0;          // Linux's unknown-NMI stat
  std::uint64_t lost = 0;             // work items never handled
  /// Host cycles the NMIs took outside any guest: in `bare` and `guest` the
  /// dispatch itself (the host kernel's, or the VM exit to the entry after it);
  /// in `vm` the VM exits of every vCPU (the sender's ICR writes, the kicks,
  /// NMI windows: exit to the next entry), on top of the guest's dispatch.
  std::uint64_t host_cycles = 0;
  double cycles_per_nmi() const;
  double calls_per_nmi() const;
  double host_cycles_per_nmi() const;
};

/// A cell's name, "PLACE-MIX-MODE-N" ("-base" added for the `two` mix's run
/// without the pairs): its scenario's name after "sweep-", its file name with
/// --emit-scenarios.
std::string sweep_case_id(const SweepCase& c, bool with_pairs = true);

/// The scenario of a cell. `with_pairs` is for the `two` mix only: false gives the
/// baseline run that has the busy NMIs but not the pairs.
std::string sweep_scenario(const SweepCase& c, bool with_pairs = true);

/// Checks the options (empty lists, counts, handler counts 1..64, the overrides'
/// form); the message names what is wrong.
Status check_sweep_options(const SweepOptions& options);

/// Every cell of the options: places x mixes x modes x handler counts, in that
/// order, without a mix below its handler minimum.
std::vector<SweepCase> sweep_cases(const SweepOptions& options);

/// Runs every cell of sweep_cases in its order. `progress` is called after each.
Result<std::vector<SweepPoint>> run_sweep(
    const SweepOptions& options, const scenario::ScenarioRunner& runner,
    const std::function<void(const SweepPoint&)>& progress = {});

/// Runs the cells of sweep_cases(options) whose indices are in `cells` on `jobs`
/// threads (at most one per cell). The points come in the order of `cells` whatever
/// the threads' order, so any `jobs` gives the same points; an error is that of the
/// first failing cell in that order. Running cells at once is safe for the same
/// reason as the suite's -j: ScenarioRunner::run is const and builds a System of
/// its own for each call.
Result<std::vector<SweepPoint>> run_sweep_cells(const SweepOptions& options,
                                                std::span<const std::size_t> cells,
                                                const scenario::ScenarioRunner& runner,
                                                unsigned jobs);

/// Shard `index` of `count` (1 <= index <= count): the cells i (counted from 0 in
/// sweep_cases order) with i mod count == index - 1, round robin, so each shard
/// gets a like mix of places, mixes and modes. With count = the number of cells,
/// shard i + 1 is cell i alone (what `fredsim sweep --list` prints).
struct SweepShard {
  unsigned index = 1;
  unsigned count = 1;
};
/// The indices of the cells of `shard` among `total` cells, in order.
std::vector<std::size_t> sweep_shard_cells(std::size_t total, SweepShard shard);

/// A shard's output (docs/format.md "Sweep shard file"): the options, the shard,
/// the number of cells of the whole sweep and each point with its cell index;
/// the figures are the integers of SweepPoint (the ratios are derived).
std::string sweep_shard_json(const SweepOptions& options, SweepShard shard,
                             std::span<const std::size_t> cells,
                             const std::vector<SweepPoint>& points);

/// A shard file read back.
struct SweepShardFile {
  std::string source;  // its path, for messages
  SweepOptions options;
  std::string options_json;  // the "options" object as written, to compare sweeps
  SweepShard shard;
  std::size_t cells = 0;  // of the whole sweep
  std::vector<std::size_t> point_cells;
  std::vector<SweepPoint> points;
};
/// Reads a shard file; an error names `source` and what is wrong.
Result<SweepShardFile> parse_sweep_shard(std::string_view text, std::string_view source);

/// The points of the whole sweep, in cell order, from one file per shard (in any
/// order). Refuses shards of different sweeps (options, shard counts or cell
/// counts differ), a shard given twice or missing, and a file whose cells are not
/// its shard's.
Result<std::vector<SweepPoint>> merge_sweep_shards(const std::vector<SweepShardFile>& shards);

/// The table as CSV (a header line, one line per point) and as JSON
/// ({"options": ..., "points": [...]}).
std::string sweep_csv(const std::vector<SweepPoint>& points);
std::string sweep_json(const SweepOptions& options, const std::vector<SweepPoint>& points);
/// A readable table: cycles per NMI by handler count, a block per place and mix.
std::string sweep_table(const std::vector<SweepPoint>& points);
/// The clock (MHz) of the sweep's scenarios, after its --set overrides.
std::uint32_t sweep_frequency_mhz(const SweepOptions& options);
/// Where the figure goes and the clock its time axis names.
struct SweepPlot {
  std::string png;
  std::string svg;
  std::uint32_t frequency_mhz = 2000;
};
/// A gnuplot script (data inline) that draws the figure into `plot.png` and
/// `plot.svg`: a row per place and mix; columns dispatch cycles per NMI, handler
/// calls per NMI and, where the sweep has FRED polling and a bitmap mode, their
/// ratio; a line per mode (v5 merged into v7 when they are equal everywhere);
/// one legend; axis ranges from the data (no gnuplot warnings, even for one point).
std::string sweep_gnuplot(const std::vector<SweepPoint>& points, const SweepPlot& plot);
/// The same plot as a Python script for matplotlib, reading `json_path`.
std::string sweep_matplotlib(const std::string& json_path, const std::string& png_path);

}  // namespace fredsim::study
