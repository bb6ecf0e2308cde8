// `fredsim sweep` (sweep_command.hpp): the study's files, then the plot drawn by a
// program found on PATH (docs/benchmarks.md, bench/README.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <ranges>
#include <sstream>
#include <thread>

#include "exit_codes.hpp"
#include "fredsim/suite/cfg.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "study_tools.hpp"
#include "sweep_command.hpp"

#include <CLI/CLI.hpp>

namespace fredsim::cli {

using namespace fredsim::study;

namespace {

namespace fs = std::filesystem;

/// The files and the table of a whole sweep (a run, or a merge of shards), and
/// the plot.
int write_study(const SweepCommand& cmd, const SweepOptions& options,
                const std::vector<SweepPoint>& points, std::ostream& out, std::ostream& err) {
  const fs::path dir(cmd.out_dir);
  const fs::path csv = dir / "sweep.csv", json = dir / "sweep.json", png = dir / "sweep.png",
                 svg = dir / "sweep.svg";
  for (auto [path, text] :
       {std::pair{csv, sweep_csv(points)}, std::pair{json, sweep_json(options, points) + "\n"}}) {
    if (auto st = write_file(path, text); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  if (!cmd.quiet) out << sweep_table(points);
  out << fmt::format("wrote {} and {} ({} points)\n", csv.string(), json.string(), points.size());
  if (auto st = check_stdout(out); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }

  // The plot: an optional dependency; the table is complete without it.
  PlotTool tool = cmd.plot;
  if (tool == PlotTool::automatic) {
    tool = have_gnuplot()      ? PlotTool::gnuplot
           : have_matplotlib() ? PlotTool::matplotlib
                               : PlotTool::none;
    if (tool == PlotTool::none) {
      out << "plot skipped: neither gnuplot nor python3 with matplotlib is installed "
             "(apt-get install gnuplot-nox, or python3-matplotlib)\n";
      return kExitPassed;
    }
  }
  if (tool == PlotTool::none) return kExitPassed;
  std::vector<std::string> args;
  fs::path script;
  if (tool == PlotTool::gnuplot) {
    script = dir / "sweep.gp";
    const SweepPlot plot{png.string(), svg.string(), sweep_frequency_mhz(options)};
    if (auto st = write_file(script, sweep_gnuplot(points, plot)); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
    args = {"gnuplot", script.string()};
  } else {
    if (!have_matplotlib()) {
      err << fmt::format(
          "error: --plot matplotlib: python3 with matplotlib is not installed "
          "(apt-get install python3-matplotlib); the table is in {}\n",
          csv.string());
      return kExitBadInput;
    }
    script = dir / "sweep_plot.py";
    if (auto st = write_file(script.string(), sweep_matplotlib(json.string(), png.string())); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
    args = {"python3", script.string()};
  }
  const int rc = run_program(args);
  if (rc != 0) {
    err << fmt::format("error: --plot {}: {} ({}); the table is in {}\n", args[0],
                       rc < 0 ? "not installed" : fmt::format("exited with status {}", rc),
                       script.string(), csv.string());
    return kExitBadInput;
  }
  if (tool == PlotTool::gnuplot) {
    out << fmt::format("wrote {} and {} (plotted by gnuplot from {})\n", png.string(), svg.string(),
                       script.string());
  } else {
    out << fmt::format("wrote {} (plotted by {} from {})\n", png.string(), args[0],
                       script.string());
  }
  return kExitPassed;
}

/// Creates `path` (and its parents); false after writing the message.
bool make_dir(const std::string& path, std::ostream& err) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) {
    err << fmt::format("error: cannot create {}: {}\n", path, ec.message());
    return false;
  }
  return true;
}

/// --merge: reads each shard's file, checks they make one sweep, writes its files.
int merge_command(const SweepCommand& cmd, std::ostream& out, std::ostream& err) {
  std::vector<SweepShardFile> shards;
  for (const std::string& given : cmd.merge) {
    std::error_code ec;
    const fs::path path =
        fs::is_directory(given, ec) ? fs::path(given) / kSweepShardFile : fs::path(given);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      err << fmt::format("error: sweep --merge: cannot read {}: {}\n", path.string(),
                         std::strerror(errno));
      return kExitBadInput;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto f = parse_sweep_shard(text.str(), path.string());
    if (!f) {
      err << f.error().message << '\n';
      return kExitBadInput;
    }
    shards.push_back(std::move(*f));
  }
  auto points = merge_sweep_shards(shards);
  if (!points) {
    err << points.error().message << '\n';
    return kExitBadInput;
  }
  if (!make_dir(cmd.out_dir, err)) return kExitBadInput;
  return write_study(cmd, shards.front().options, *points, out, err);
}

/// --list: one self-contained command per cell, shard i of the number of cells,
/// each writing OUT/cell-i/sweep.shard.json.
void list_command(const SweepCommand& cmd, std::ostream& out) {
  const SweepOptions& o = cmd.options;
  const std::size_t total = sweep_cases(o).size();
  auto names = [](const auto& list) {
    std::vector<std::string> v;
    for (auto x : list)
      v.emplace_back(to_string(x));
    return fmt::format("{}", fmt::join(v, ","));
  };
  std::string common = fmt::format(" --handlers {} --modes {} --mixes {} --places {} --nmis {}",
                                   fmt::join(o.handlers, ","), names(o.modes), names(o.mixes),
                                   names(o.places), o.nmis);
  for (const auto& ov : o.overrides)
    common += " --set " + suite::shell_quote(ov.text);
  common += " --plot none -q -j 1";
  for (std::size_t i = 1; i <= total; ++i) {
    out << fmt::format(
        "fredsim sweep --shard {}/{} --out {}{}\n", i, total,
        suite::shell_quote((fs::path(cmd.out_dir) / fmt::format("cell-{}", i)).string()), common);
  }
}

}  // namespace

int sweep_command(const SweepCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err) {
  if (cmd.jobs == 0) {
    err << "error: sweep: -j needs at least 1\n";
    return kExitBadUsage;
  }
  if (!cmd.merge.empty()) return merge_command(cmd, out, err);
  if (auto st = check_sweep_options(cmd.options); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  // A mix whose every handler count is below its minimum would give no point at
  // all: refuse it rather than write an empty study.
  for (SweepMix mix : cmd.options.mixes) {
    const unsigned need = sweep_min_handlers(mix);
    if (std::none_of(cmd.options.handlers.begin(), cmd.options.handlers.end(),
                     [&](unsigned h) { return h >= need; })) {
      err << fmt::format(
          "error: sweep: --mixes {} needs at least {} LOCAL handlers; --handlers {} gives it no "
          "point (add a count of {} or more)\n",
          to_string(mix), need, fmt::join(cmd.options.handlers, ","), need);
      return kExitBadUsage;
    }
  }
  // Likewise a place none of the mixes applies to (a guest's own NMIs have no
  // platform NMI: the vm place takes one and unsourced10 only).
  for (SweepPlace place : cmd.options.places) {
    if (std::none_of(cmd.options.mixes.begin(), cmd.options.mixes.end(),
                     [&](SweepMix m) { return sweep_place_has_mix(place, m); })) {
      std::string mixes;
      for (SweepMix m : cmd.options.mixes)
        mixes += fmt::format("{}{}", mixes.empty() ? "" : ",", to_string(m));
      err << fmt::format(
          "error: sweep: --places {} takes the mixes one and unsourced10 only (a VM's guest has "
          "no platform NMI); --mixes {} gives it no point\n",
          to_string(place), mixes);
      return kExitBadUsage;
    }
  }
  if (cmd.list) {
    list_command(cmd, out);
    if (auto st = check_stdout(out); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
    return kExitPassed;
  }
  std::optional<SweepShard> shard;
  if (cmd.shard) {
    auto s = parse_shard(*cmd.shard);
    if (!s) {
      err << s.error().message << '\n';
      return kExitBadUsage;
    }
    shard = SweepShard{s->index, s->count};
  }
  const std::vector<SweepCase> all = sweep_cases(cmd.options);
  std::vector<std::size_t> cells;
  if (shard) {
    cells = sweep_shard_cells(all.size(), *shard);
  } else {
    for (std::size_t i = 0; i < all.size(); ++i)
      cells.push_back(i);
  }
  const fs::path dir(cmd.out_dir);
  if (!make_dir(cmd.out_dir, err)) return kExitBadInput;
  if (cmd.emit_dir && !make_dir(*cmd.emit_dir, err)) return kExitBadInput;

  if (cmd.emit_dir) {
    // Written before the runs, so a cell that fails can be run on its own.
    for (std::size_t i : cells) {
      const SweepCase& c = all[i];
      for (bool with_pairs : {true, false}) {
        if (!with_pairs && c.mix != SweepMix::two) continue;
        const fs::path file = fs::path(*cmd.emit_dir) / (sweep_case_id(c, with_pairs) + ".toml");
        if (auto st = write_file(file, sweep_scenario(c, with_pairs)); !st) {
          err << st.error().message << '\n';
          return kExitBadInput;
        }
      }
    }
  }

  auto points = run_sweep_cells(cmd.options, cells, runner, cmd.jobs);
  if (!points) {
    err << points.error().message << '\n';
    return kExitBadInput;
  }
  if (shard) {
    // A shard writes its points for --merge; the table, CSV and plot are the
    // merge's.
    const fs::path file = dir / kSweepShardFile;
    if (auto st = write_file(file, sweep_shard_json(cmd.options, *shard, cells, *points)); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
    if (!cmd.quiet) out << sweep_table(*points);
    out << fmt::format("wrote {} (shard {}/{}: {} of {} points)\n", file.string(), shard->index,
                       shard->count, points->size(), all.size());
    if (auto st = check_stdout(out); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
    return kExitPassed;
  }
  return write_study(cmd, cmd.options, *points, out, err);
}

Subcommand add_sweep_subcommand(CLI::App& app, const CliContext& ctx) {
  struct State {
    SweepCommand sweep;
    std::vector<std::string> sets, modes, mixes, places;
    std::string plot_tool = "auto";
  };
  auto state = std::make_shared<State>();
  SweepCommand& sweep = state->sweep;
  std::vector<std::string>& sweep_sets = state->sets;
  std::vector<std::string>& sweep_modes = state->modes;
  std::vector<std::string>& sweep_mixes = state->mixes;
  std::vector<std::string>& sweep_places = state->places;
  std::string& plot_tool = state->plot_tool;
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep",
      "The dispatch study in simulated cycles: cycles and handler calls per NMI against the "
      "number of LOCAL handlers, for each mode (IDT, FRED polling, FRED + NMI-source v7/v5), "
      "NMI mix and place (bare metal, guest, or a VM's own NMIs with --places vm); writes "
      "DIR/sweep.csv, DIR/sweep.json and "
      "DIR/sweep.png");
  sweep_cmd->footer(
      "Example:\n"
      "  fredsim sweep --out sweep-out --handlers 1,8 --plot none");
  sweep_cmd->add_option("--out", sweep.out_dir, "Directory for the files (created)")
      ->type_name("DIR")
      ->capture_default_str();
  CLI::Option* handlers_opt = sweep_cmd
                                  ->add_option("--handlers", sweep.options.handlers,
                                               "LOCAL handler counts, comma-separated (1..256)")
                                  ->delimiter(',')
                                  ->type_name("N,...")
                                  ->default_str("1,2,4,8,16,32,64");
  CLI::Option* modes_opt =
      sweep_cmd->add_option("--modes", sweep_modes, "Modes, comma-separated")
          ->delimiter(',')
          ->check(CLI::IsMember({"idt", "fred", "fred-nmisrc-v7", "fred-nmisrc-v5"}))
          ->type_name("MODE,...")
          ->default_str("idt,fred,fred-nmisrc-v7,fred-nmisrc-v5");
  CLI::Option* mixes_opt =
      sweep_cmd->add_option("--mixes", sweep_mixes, "NMI mixes, comma-separated")
          ->delimiter(',')
          ->check(CLI::IsMember({"one", "two", "unsourced10", "external10"}))
          ->type_name("MIX,...")
          ->default_str("one,two,unsourced10,external10");
  CLI::Option* places_opt =
      sweep_cmd->add_option("--places", sweep_places, "Where the target CPU runs, comma-separated")
          ->delimiter(',')
          ->check(CLI::IsMember({"bare", "guest", "vm"}))
          ->type_name("PLACE,...")
          ->default_str("bare,guest");
  CLI::Option* nmis_opt =
      sweep_cmd
          ->add_option("--nmis", sweep.options.nmis,
                       "NMIs raised per point (a multiple of 10, 10..10,000,000)")
          ->capture_default_str();
  CLI::Option* set_opt =
      sweep_cmd
          ->add_option(
              "--set", sweep_sets,
              "Override for every point: timing.*, system.apic, system.timing, system.seed "
              "(repeatable)")
          ->type_name("KEY=VALUE")
          ->allow_extra_args(false);
  sweep_cmd
      ->add_option("--plot", plot_tool,
                   "Who draws sweep.png: auto (gnuplot, else python3 + matplotlib, else none), "
                   "gnuplot, matplotlib, none")
      ->check(CLI::IsMember({"auto", "gnuplot", "matplotlib", "none"}))
      ->capture_default_str();
  CLI::Option* emit_opt =
      sweep_cmd
          ->add_option("--emit-scenarios", sweep.emit_dir,
                       "Also write each point's scenario to DIR (fredsim run gives its figures)")
          ->type_name("DIR");
  sweep_cmd->add_flag("-q,--quiet", sweep.quiet, "Do not print the table");
  sweep.jobs = std::max(1u, std::thread::hardware_concurrency());
  sweep_cmd
      ->add_option("-j,--jobs", sweep.jobs,
                   "Run N cells at once; the files and the table are the same for any N "
                   "(default: the hardware threads)")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u))
      ->default_str("hardware threads");
  CLI::Option* shard_opt =
      sweep_cmd
          ->add_option("--shard", sweep.shard,
                       "Run only shard K of N (cells K, K+N, K+2N, ... counted from 1) and "
                       "write DIR/sweep.shard.json for --merge (docs/scaling.md)")
          ->type_name("K/N");
  CLI::Option* merge_opt =
      sweep_cmd
          ->add_option("--merge", sweep.merge,
                       "Run nothing: combine the shards' directories (or their sweep.shard.json "
                       "files) into the files of one whole run, in --out")
          ->type_name("DIR...");
  CLI::Option* list_opt = sweep_cmd->add_flag(
      "--list", sweep.list,
      "Run nothing: print one self-contained command per cell (for GNU parallel or a Slurm "
      "array), each writing DIR/cell-I for --merge");
  for (CLI::Option* o : {handlers_opt, modes_opt, mixes_opt, places_opt, nmis_opt, set_opt,
                         emit_opt, shard_opt, list_opt})
    merge_opt->excludes(o);
  list_opt->excludes(shard_opt);
  list_opt->excludes(emit_opt);

  return {sweep_cmd, [state, &ctx] {
            parse_names(state->modes, state->sweep.options.modes, parse_sweep_mode);
            parse_names(state->mixes, state->sweep.options.mixes, parse_sweep_mix);
            parse_names(state->places, state->sweep.options.places, parse_sweep_place);
            state->sweep.plot = state->plot_tool == "gnuplot"      ? PlotTool::gnuplot
                                : state->plot_tool == "matplotlib" ? PlotTool::matplotlib
                                : state->plot_tool == "none"       ? PlotTool::none
                                                                   : PlotTool::automatic;
            state->sweep.options.overrides = to_overrides(state->sets);
            return sweep_command(state->sweep, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
