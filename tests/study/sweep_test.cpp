// The dispatch study: its scenarios, its figures on the simulator, its outputs.
#include "fredsim/study/sweep.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/system_runner.hpp"

namespace fredsim::study {
namespace {

using namespace fredsim::scenario;

SweepOptions small(std::vector<SweepMix> mixes, std::vector<SweepPlace> places = {SweepPlace::bare},
                   std::vector<unsigned> handlers = {1, 4, 16, 64}) {
  SweepOptions o;
  o.handlers = std::move(handlers);
  o.mixes = std::move(mixes);
  o.places = std::move(places);
  o.nmis = 20;
  return o;
}

const SweepPoint& at(const std::vector<SweepPoint>& points, SweepMode mode, unsigned handlers,
                     SweepMix mix = SweepMix::one, SweepPlace place = SweepPlace::bare) {
  for (const auto& p : points) {
    if (p.c.mode == mode && p.c.handlers == handlers && p.c.mix == mix && p.c.place == place)
      return p;
  }
  static SweepPoint none;
  ADD_FAILURE() << "no point " << to_string(mode) << " " << handlers;
  return none;
}

TEST(SweepRoster, LinuxUsersFirstThenDevicesWithSourceVectors) {
  auto r = sweep_roster(64);
  ASSERT_EQ(r.size(), 64u);
  EXPECT_EQ(r[0].name, "perf");
  EXPECT_EQ(r[0].vector, 7u);
  EXPECT_EQ(r[1].model, "ghes");
  EXPECT_EQ(r[1].vector, 0u);
  EXPECT_TRUE(r[6].first) << "smp_stop registers NMI_FLAG_FIRST";
  std::set<std::string> names;
  for (const auto& h : r) {
    names.insert(h.name);
    if (h.model == "device") {
      EXPECT_GE(h.vector, 8u);
      EXPECT_LE(h.vector, 15u);
    }
  }
  EXPECT_EQ(names.size(), 64u) << "names are unique";
  EXPECT_EQ(sweep_roster(3).size(), 3u);
}

TEST(SweepScenario, EveryCellIsAScenarioThatLoads) {
  SweepOptions o;
  o.nmis = 10;
  const auto cases = sweep_cases(o);
  // 4 modes x 2 places x (7 + 7 + 6 + 5) handler counts: `two` starts at 4, `unsourced10` at 2.
  EXPECT_EQ(cases.size(), 4u * 2u * (7u + 5u + 6u + 7u));
  for (const auto& c : cases) {
    for (bool pairs : {true, false}) {
      auto spec = load_scenario_string(sweep_scenario(c, pairs), "sweep");
      ASSERT_TRUE(spec.ok()) << spec.error().message;
      EXPECT_EQ(spec->system.cpus, 2u);
      EXPECT_EQ(spec->system.nmi_source,
                c.mode == SweepMode::fred_nmisrc_v7 || c.mode == SweepMode::fred_nmisrc_v5);
      EXPECT_EQ(spec->system.delivery == Delivery::idt, c.mode == SweepMode::idt);
    }
  }
}

TEST(SweepScenario, TheVmPlaceGivesTheModeToTheGuestKernel) {
  SweepOptions o;
  o.nmis = 10;
  o.places = {SweepPlace::vm};
  const auto cases = sweep_cases(o);
  // A guest has no platform NMI: `two` and `external10` are left out.
  EXPECT_EQ(cases.size(), 4u * (7u + 6u));
  for (const auto& c : cases) {
    EXPECT_TRUE(c.mix == SweepMix::one || c.mix == SweepMix::unsourced10) << to_string(c.mix);
    auto spec = load_scenario_string(sweep_scenario(c), "sweep");
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    ASSERT_EQ(spec->vms.size(), 1u);
    const VmSpec& vm = spec->vms[0];
    EXPECT_EQ(vm.cpus, (std::vector<CpuId>{0, 1}));
    EXPECT_EQ(vm.nmi_source,
              c.mode == SweepMode::fred_nmisrc_v7 || c.mode == SweepMode::fred_nmisrc_v5);
    EXPECT_EQ(vm.delivery == Delivery::idt, c.mode == SweepMode::idt);
    EXPECT_TRUE(spec->system.nmi_source) << "the host keeps FRED with NMI-source";
    for (const auto& h : spec->handlers)
      EXPECT_EQ(h.vm, std::optional<std::size_t>{0}) << h.name << ": a guest handler";
    for (const auto& e : spec->events)
      EXPECT_EQ(e.vm, std::optional<std::size_t>{0}) << "a guest event";
  }
}

TEST(SweepRun, InAVmTheGuestsBitmapFiltersAndTheHostPaysTheExits) {
  SystemRunner runner;
  auto points =
      run_sweep(small({SweepMix::one, SweepMix::unsourced10}, {SweepPlace::vm}, {4, 64}), runner);
  ASSERT_TRUE(points.ok()) << points.error().message;
  for (SweepMode m : {SweepMode::fred_nmisrc_v7, SweepMode::fred_nmisrc_v5}) {
    EXPECT_DOUBLE_EQ(at(*points, m, 64, SweepMix::one, SweepPlace::vm).calls_per_nmi(), 1.0)
        << "the injected event data names perf alone";
    EXPECT_EQ(at(*points, m, 64, SweepMix::one, SweepPlace::vm).dispatch_cycles,
              at(*points, m, 4, SweepMix::one, SweepPlace::vm).dispatch_cycles);
  }
  for (SweepMode m : {SweepMode::idt, SweepMode::fred}) {
    EXPECT_DOUBLE_EQ(at(*points, m, 64, SweepMix::one, SweepPlace::vm).calls_per_nmi(), 64.0)
        << "no NMI-source in the guest: every guest handler polled";
  }
  // The exits (the kick that brings each PMI, the sender's ICR writes) do not
  // depend on how the guest dispatches.
  for (SweepMix mix : {SweepMix::one, SweepMix::unsourced10}) {
    const SweepPoint& bitmap = at(*points, SweepMode::fred_nmisrc_v7, 64, mix, SweepPlace::vm);
    EXPECT_GT(bitmap.host_cycles, 0u);
    for (SweepMode m : {SweepMode::idt, SweepMode::fred, SweepMode::fred_nmisrc_v5})
      EXPECT_EQ(at(*points, m, 64, mix, SweepPlace::vm).host_cycles, bitmap.host_cycles);
  }
  EXPECT_GT(at(*points, SweepMode::fred, 64, SweepMix::unsourced10, SweepPlace::vm).host_cycles,
            at(*points, SweepMode::fred, 64, SweepMix::one, SweepPlace::vm).host_cycles)
      << "the unsourced NMIs are IPIs from vCPU 1: ICR-write exits besides the kicks";
  for (const auto& p : *points) {
    EXPECT_EQ(p.nmis, 20u);
    EXPECT_EQ(p.deliveries, 20u);
    EXPECT_EQ(p.unknown, 0u);
    EXPECT_EQ(p.lost, 0u);
  }
}

TEST(SweepOptions, BadOptionsAreNamed) {
  SweepOptions o;
  o.nmis = 15;
  EXPECT_NE(check_sweep_options(o).error().message.find("multiple of 10"), std::string::npos);
  o = SweepOptions{};
  o.handlers = {0};
  EXPECT_NE(check_sweep_options(o).error().message.find("0 handlers"), std::string::npos);
  o = SweepOptions{};
  o.modes.clear();
  EXPECT_FALSE(check_sweep_options(o).ok());
  o = SweepOptions{};
  o.overrides = {Override{"system.nmi_source=false"}};
  EXPECT_NE(check_sweep_options(o).error().message.find("sets this itself"), std::string::npos);
  o.overrides = {Override{"timing.vm_exit=900"}};
  EXPECT_TRUE(check_sweep_options(o).ok());
  o.overrides = {Override{"timing.vm_exit"}};
  EXPECT_FALSE(check_sweep_options(o).ok()) << "no '='";
}

TEST(SweepRun, BitmapDispatchStaysFlatAndPollingGrowsWithHandlers) {
  SystemRunner runner;
  auto points = run_sweep(small({SweepMix::one}), runner);
  ASSERT_TRUE(points.ok()) << points.error().message;
  for (SweepMode m : {SweepMode::fred_nmisrc_v7, SweepMode::fred_nmisrc_v5}) {
    EXPECT_DOUBLE_EQ(at(*points, m, 64).calls_per_nmi(), 1.0) << "only perf is called";
    EXPECT_EQ(at(*points, m, 64).dispatch_cycles, at(*points, m, 1).dispatch_cycles);
  }
  for (SweepMode m : {SweepMode::idt, SweepMode::fred}) {
    EXPECT_DOUBLE_EQ(at(*points, m, 64).calls_per_nmi(), 64.0) << "every handler polled";
    EXPECT_GT(at(*points, m, 16).cycles_per_nmi(), at(*points, m, 4).cycles_per_nmi());
    EXPECT_GT(at(*points, m, 64).cycles_per_nmi(), at(*points, m, 16).cycles_per_nmi());
  }
  // With one handler there is nothing to filter: FRED with and without the bitmap agree.
  EXPECT_EQ(at(*points, SweepMode::fred, 1).dispatch_cycles,
            at(*points, SweepMode::fred_nmisrc_v7, 1).dispatch_cycles);
  for (const auto& p : *points) {
    EXPECT_EQ(p.nmis, 20u);
    EXPECT_EQ(p.deliveries, 20u);
    EXPECT_EQ(p.unknown, 0u);
    EXPECT_EQ(p.lost, 0u);
    EXPECT_EQ(p.host_cycles, p.dispatch_cycles) << "on bare metal the host dispatches";
  }
}

TEST(SweepRun, PairsCoalesceIntoOneDeliveryWithTwoBits) {
  SystemRunner runner;
  auto points = run_sweep(small({SweepMix::two}, {SweepPlace::bare, SweepPlace::guest}), runner);
  ASSERT_TRUE(points.ok()) << points.error().message;
  for (const auto& p : *points) {
    EXPECT_EQ(p.nmis, 20u);
    EXPECT_EQ(p.coalesced, 10u) << "each pair is one delivery";
    EXPECT_EQ(p.deliveries, 10u);
    EXPECT_EQ(p.lost, 0u);
  }
  // Bitmap: perf and nic (and at 16 handlers the device that shares vector 8).
  EXPECT_DOUBLE_EQ(at(*points, SweepMode::fred_nmisrc_v7, 4, SweepMix::two).calls_per_nmi(), 1.0);
  EXPECT_DOUBLE_EQ(at(*points, SweepMode::fred_nmisrc_v7, 16, SweepMix::two).calls_per_nmi(), 1.5);
  // Polling: one walk of the whole list serves both NMIs of the pair.
  EXPECT_DOUBLE_EQ(at(*points, SweepMode::fred, 16, SweepMix::two).calls_per_nmi(), 8.0);
  // A guest pays the VM exit and entry on top.
  EXPECT_GT(
      at(*points, SweepMode::fred_nmisrc_v7, 4, SweepMix::two, SweepPlace::guest).cycles_per_nmi(),
      at(*points, SweepMode::fred_nmisrc_v7, 4, SweepMix::two).cycles_per_nmi());
}

TEST(SweepRun, UnsourcedNmisPollEveryHandlerExternalOnesNone) {
  SystemRunner runner;
  auto points = run_sweep(small({SweepMix::unsourced10, SweepMix::external10}), runner);
  ASSERT_TRUE(points.ok()) << points.error().message;
  // Bit 0 becomes all ones (docs/linux.md "nmi_handle" 2): 18 PMIs call perf, the 2
  // unsourced NMIs call all 64.
  const auto& u = at(*points, SweepMode::fred_nmisrc_v7, 64, SweepMix::unsourced10);
  EXPECT_EQ(u.handler_calls, 18u + 2u * 64u);
  EXPECT_EQ(u.unknown, 0u);
  EXPECT_EQ(u.lost, 0u);
  // Bit 2 alone calls no LOCAL handler; the SERR handler takes the reason.
  const auto& e = at(*points, SweepMode::fred_nmisrc_v7, 64, SweepMix::external10);
  EXPECT_EQ(e.handler_calls, 18u + 2u);
  const auto& ep = at(*points, SweepMode::fred, 64, SweepMix::external10);
  EXPECT_EQ(ep.handler_calls, 20u * 64u + 2u);
  EXPECT_EQ(ep.lost, 0u);
}

TEST(SweepRun, TimingOverridesReachEveryPoint) {
  SystemRunner runner;
  auto o = small({SweepMix::one}, {SweepPlace::guest}, {1});
  o.modes = {SweepMode::fred_nmisrc_v7};
  auto base = run_sweep(o, runner);
  o.overrides = {Override{"timing.vm_exit=2000"}};
  auto slow = run_sweep(o, runner);
  ASSERT_TRUE(base.ok() && slow.ok());
  EXPECT_GT((*slow)[0].dispatch_cycles, (*base)[0].dispatch_cycles);
}

TEST(SweepOutput, CsvJsonAndPlotScriptCarryEveryPoint) {
  SystemRunner runner;
  auto o = small({SweepMix::one, SweepMix::two});
  auto points = run_sweep(o, runner);
  ASSERT_TRUE(points.ok());
  const std::string csv = sweep_csv(*points);
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line.rfind("place,mix,mode,handlers,", 0), 0u);
  std::size_t rows = 0;
  while (std::getline(lines, line)) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 14);
  }
  EXPECT_EQ(rows, points->size());

  auto j = nlohmann::json::parse(sweep_json(o, *points));
  EXPECT_EQ(j["points"].size(), points->size());
  EXPECT_EQ(j["options"]["nmis"], 20);
  EXPECT_EQ(j["points"][0]["mode"], "idt");

  const std::string gp = sweep_gnuplot(*points, SweepPlot{"out/s\"weep.png", "out/s.svg", 2000});
  EXPECT_NE(gp.find("set output \"out/s\\\"weep.png\""), std::string::npos) << "quoted";
  EXPECT_NE(gp.find("set output \"out/s.svg\""), std::string::npos) << "and the SVG";
  EXPECT_NE(gp.find("simulated cycles at 2 GHz"), std::string::npos);
  // Two rows (mixes); v5 equals v7 everywhere, so 3 series: a data block each per
  // row, drawn in the cycles and calls panels, v7 alone in the ratio panel, for
  // the PNG and the SVG.
  std::size_t blocks = 0;
  for (auto at = gp.find("<< EOD"); at != std::string::npos; at = gp.find("<< EOD", at + 1))
    ++blocks;
  EXPECT_EQ(blocks, 2u * 3u);
  EXPECT_NE(gp.find("fred-nmisrc-v7 = v5"), std::string::npos) << "the merge is said";
  EXPECT_EQ(std::count(gp.begin(), gp.end(), '$'), 2 * 3 + 2 * 2 * (3 + 3 + 1));
  EXPECT_NE(sweep_matplotlib("a.json", "b.png").find("json.load(open(\"a.json\"))"),
            std::string::npos);

  // The same options give the same bytes.
  auto again = run_sweep(o, runner);
  EXPECT_EQ(sweep_csv(*again), csv);
  EXPECT_NE(sweep_table(*points).find("fred-nmisrc-v7"), std::string::npos);
}

}  // namespace
}  // namespace fredsim::study

namespace fredsim::study {
namespace {

using scenario::SystemRunner;

SweepOptions shard_options() {
  SweepOptions o;
  o.handlers = {1, 3, 8};
  o.mixes = {SweepMix::one, SweepMix::two};
  o.modes = {SweepMode::idt, SweepMode::fred_nmisrc_v7};
  o.places = {SweepPlace::bare, SweepPlace::guest};
  o.nmis = 10;
  o.overrides = {scenario::Override{"system.seed=5"}};
  return o;
}

std::vector<std::size_t> every_cell(const SweepOptions& o) {
  std::vector<std::size_t> cells(sweep_cases(o).size());
  for (std::size_t i = 0; i < cells.size(); ++i)
    cells[i] = i;
  return cells;
}

// Any number of threads gives the points of one thread, in cell order.
TEST(SweepParallel, JobsGiveTheSerialPoints) {
  SystemRunner runner;
  const SweepOptions o = shard_options();
  auto serial = run_sweep(o, runner);
  ASSERT_TRUE(serial.ok()) << serial.error().message;
  ASSERT_EQ(serial->size(), 20u);  // the `two` mix skips 1 handler
  for (unsigned jobs : {1u, 2u, 3u, 64u}) {
    auto parallel = run_sweep_cells(o, every_cell(o), runner, jobs);
    ASSERT_TRUE(parallel.ok()) << parallel.error().message;
    EXPECT_EQ(sweep_csv(*parallel), sweep_csv(*serial)) << jobs;
    EXPECT_EQ(sweep_json(o, *parallel), sweep_json(o, *serial)) << jobs;
  }
}

// An error is the first failing cell's in cell order, whatever the threads do.
TEST(SweepParallel, ErrorIsTheFirstFailingCells) {
  SystemRunner runner;
  SweepOptions o = shard_options();
  // A VM exit longer than the 200,000 cycles between NMIs: the guest cells (the
  // second half) see NMIs coalesce and fail their own check; the bare ones pass.
  o.overrides = {scenario::Override{"timing.vm_exit=300000"}};
  auto serial = run_sweep(o, runner);
  ASSERT_FALSE(serial.ok());
  EXPECT_NE(serial.error().message.find("guest-one-idt-1 with 1 handlers"), std::string::npos)
      << serial.error().message;
  for (unsigned jobs : {2u, 4u}) {
    auto parallel = run_sweep_cells(o, every_cell(o), runner, jobs);
    ASSERT_FALSE(parallel.ok());
    EXPECT_EQ(parallel.error().message, serial.error().message);
  }
  EXPECT_FALSE(run_sweep_cells(o, std::vector<std::size_t>{99}, runner, 1).ok());
}

TEST(SweepShard, ShardsPartitionTheCellsRoundRobin) {
  EXPECT_EQ(sweep_shard_cells(10, {2, 3}), (std::vector<std::size_t>{1, 4, 7}));
  EXPECT_EQ(sweep_shard_cells(10, {1, 1}).size(), 10u);
  EXPECT_TRUE(sweep_shard_cells(2, {3, 3}).empty());  // more shards than cells
  EXPECT_TRUE(sweep_shard_cells(10, {0, 3}).empty());
  EXPECT_TRUE(sweep_shard_cells(10, {4, 3}).empty());
  for (unsigned n : {1u, 2u, 3u, 7u, 23u}) {
    std::vector<int> seen(23, 0);
    for (unsigned k = 1; k <= n; ++k) {
      for (std::size_t i : sweep_shard_cells(23, {k, n}))
        ++seen[i];
    }
    for (int s : seen)
      EXPECT_EQ(s, 1) << n << " shards";
  }
}

// The shards of a sweep, written and read back in any order, merge into the
// points of the whole run: its CSV and JSON byte for byte.
std::vector<SweepShardFile> run_shards(const SweepOptions& o, unsigned n,
                                       const scenario::ScenarioRunner& runner) {
  std::vector<SweepShardFile> files;
  const std::size_t total = sweep_cases(o).size();
  for (unsigned k = n; k >= 1; --k) {
    const auto cells = sweep_shard_cells(total, {k, n});
    auto points = run_sweep_cells(o, cells, runner, 2);
    EXPECT_TRUE(points.ok());
    auto f =
        parse_sweep_shard(sweep_shard_json(o, {k, n}, cells, *points), "shard" + std::to_string(k));
    EXPECT_TRUE(f.ok()) << f.error().message;
    files.push_back(*f);
  }
  return files;
}

TEST(SweepShard, MergeIsTheWholeRun) {
  SystemRunner runner;
  const SweepOptions o = shard_options();
  auto whole = run_sweep(o, runner);
  ASSERT_TRUE(whole.ok());
  for (unsigned n : {1u, 3u, 20u, 25u}) {
    const auto files = run_shards(o, n, runner);
    EXPECT_EQ(files.front().options_json, files.back().options_json);
    auto merged = merge_sweep_shards(files);
    ASSERT_TRUE(merged.ok()) << merged.error().message;
    EXPECT_EQ(sweep_csv(*merged), sweep_csv(*whole)) << n;
    EXPECT_EQ(sweep_json(files.front().options, *merged), sweep_json(o, *whole)) << n;
  }
}

TEST(SweepShard, MergeRefusesShardsThatAreNotOneSweep) {
  SystemRunner runner;
  const SweepOptions o = shard_options();
  const auto files = run_shards(o, 3, runner);  // shards 3, 2, 1
  auto refused = [](const std::vector<SweepShardFile>& f) {
    auto r = merge_sweep_shards(f);
    return r.ok() ? std::string("merged") : r.error().message;
  };
  EXPECT_EQ(refused({}), "error: sweep --merge: no shard given");
  EXPECT_EQ(refused({files[0], files[1]}),
            "error: sweep --merge: missing shard 1/3 (given 2 of 3)");
  EXPECT_EQ(refused({files[0]}), "error: sweep --merge: missing shards 1/3, 2/3 (given 1 of 3)");
  EXPECT_EQ(refused({files[0], files[1], files[2], files[1]}),
            "error: sweep --merge: shard 2/3 is given twice: shard2 and shard2");
  // Another sweep: other NMIs per point.
  SweepOptions other = o;
  other.nmis = 20;
  auto other_files = run_shards(other, 3, runner);
  EXPECT_EQ(refused({files[0], files[1], other_files[2]}),
            "error: sweep --merge: shard3 and shard1 are shards of different sweeps: nmis is 10 "
            "in one, 20 in the other");
  // Another split.
  auto two = run_shards(o, 2, runner);
  EXPECT_EQ(refused({files[2], files[1], two[0]}),
            "error: sweep --merge: shard1 is shard 1/3 but shard2 is shard 2/2: a sweep is "
            "merged from the shards of one split");
  // A file whose points are not its shard's cells.
  SweepShardFile wrong = files[2];
  wrong.points[1].c.handlers = 8;
  EXPECT_EQ(refused({files[0], files[1], wrong}),
            "error: sweep --merge: shard1: cell 3 is bare-one-fred-nmisrc-v7-1, the file's point "
            "is bare-one-fred-nmisrc-v7-8");
  SweepShardFile short_file = files[2];
  short_file.points.pop_back();
  short_file.point_cells.pop_back();
  EXPECT_EQ(refused({files[0], files[1], short_file}),
            "error: sweep --merge: shard1: shard 1/3 of this sweep has 7 cells, the file has 6 "
            "points");
}

TEST(SweepShard, ParseRefusesFilesThatAreNotShards) {
  auto msg = [](std::string_view text) {
    auto r = parse_sweep_shard(text, "f.json");
    return r.ok() ? std::string("parsed") : r.error().message;
  };
  EXPECT_EQ(msg("{"), "error: f.json: not a sweep shard file: not JSON");
  EXPECT_EQ(msg("{\"points\": []}"),
            "error: f.json: not a sweep shard file: no \"format\": \"fredsim-sweep-shard-2\" "
            "(written by fredsim sweep --shard)");
  const SweepOptions o = shard_options();
  std::string good = sweep_shard_json(o, {2, 3}, {}, {});
  EXPECT_EQ(msg(good), "parsed");
  std::string bad_index = good;
  bad_index.replace(bad_index.find("\"index\": 2"), 10, "\"index\": 4");
  EXPECT_EQ(msg(bad_index),
            "error: f.json: not a sweep shard file: shard 4/3: the index must be "
            "1..count");
  std::string bad_mode = good;
  bad_mode.replace(bad_mode.find("\"idt\""), 5, "\"warp\"");
  EXPECT_EQ(msg(bad_mode),
            "error: f.json: not a sweep shard file: options.modes: unknown name \"warp\"");
}

}  // namespace
}  // namespace fredsim::study

namespace fredsim::study {
namespace {

// gnuplot draws a one-point sweep without a warning (no empty x or y range,
// no data block without a valid point), into both the PNG and the SVG.
TEST(SweepOutput, GnuplotDrawsAOnePointSweepWithoutWarnings) {
  if (std::system("gnuplot --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gnuplot";
  scenario::SystemRunner runner;
  SweepOptions o;
  o.handlers = {1};
  o.modes = {SweepMode::fred};
  o.mixes = {SweepMix::one};
  o.places = {SweepPlace::bare};
  o.nmis = 10;
  auto points = run_sweep(o, runner);
  ASSERT_TRUE(points.ok());
  ASSERT_EQ(points->size(), 1u);
  const auto dir = std::filesystem::temp_directory_path() / "fredsim-sweep-gnuplot-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    std::ofstream gp(dir / "one.gp");
    gp << sweep_gnuplot(*points, SweepPlot{(dir / "one.png").string(), (dir / "one.svg").string(),
                                           sweep_frequency_mhz(o)});
  }
  const std::string cmd = "gnuplot " + (dir / "one.gp").string() + " 2>" + (dir / "err").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream err(dir / "err");
  const std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "") << "gnuplot's stderr";
  EXPECT_GT(std::filesystem::file_size(dir / "one.png"), 0u);
  EXPECT_GT(std::filesystem::file_size(dir / "one.svg"), 0u);
  std::filesystem::remove_all(dir);
}

// The time axis names the sweep's clock, read from its scenarios.
TEST(SweepOutput, TheTimeAxisNamesTheSweepsClock) {
  SweepOptions o;
  o.handlers = {1};
  o.modes = {SweepMode::fred};
  o.mixes = {SweepMix::one};
  o.places = {SweepPlace::bare};
  o.nmis = 10;
  EXPECT_EQ(sweep_frequency_mhz(o), 2000u);
  o.overrides = {scenario::Override{"timing.core_mhz=2400"}};
  EXPECT_EQ(sweep_frequency_mhz(o), 2400u);
  const SweepPoint p{};
  const std::string gp = sweep_gnuplot({p}, SweepPlot{"a.png", "a.svg", sweep_frequency_mhz(o)});
  EXPECT_NE(gp.find("simulated cycles at 2.4 GHz"), std::string::npos);
}

}  // namespace
}  // namespace fredsim::study

namespace fredsim::study {
namespace {

// The sweep's scenarios give device drivers vectors 8..15 and say that their
// kernel names 16 vectors: no registration warns about them, in any mode.
TEST(SweepScenario, NoWarningAboutItsOwnVectors) {
  scenario::SystemRunner runner;
  for (SweepMode mode :
       {SweepMode::idt, SweepMode::fred, SweepMode::fred_nmisrc_v7, SweepMode::fred_nmisrc_v5}) {
    const SweepCase c{mode, SweepMix::one, SweepPlace::bare, 64, 10};
    auto spec = scenario::load_scenario_string(sweep_scenario(c), "<sweep>");
    ASSERT_TRUE(spec.ok()) << spec.error().message;
    scenario::RunOptions options;
    auto r = runner.run(*spec, options);
    ASSERT_TRUE(r.ok());
    for (const auto& line : r->console)
      EXPECT_EQ(line.text.find("WARNING"), std::string::npos)
          << to_string(mode) << ": " << line.text;
  }
}

}  // namespace
}  // namespace fredsim::study
