// `fredsim sweep` (sweep_command.hpp): the study's files, then the plot drawn by a
// program found on PATH (docs/benchmarks.md, bench/README.md).
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <ostream>
#include <sstream>

#include "exit_codes.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "sweep_command.hpp"

#include <CLI/CLI.hpp>

extern char** environ;

namespace fredsim::cli {

using namespace fredsim::study;

namespace {

namespace fs = std::filesystem;

/// Writes `text` whole to `path` or leaves the old file as it was.
Status write_file(const fs::path& path, const std::string& text) {
  std::ostringstream unused;  // no output here is "-"
  OutputFiles files(unused);
  const std::size_t f = files.add("--out", path.string());
  if (auto st = files.open_all(); !st) return st;
  files.stream(f) << text;
  return files.commit();
}

/// Runs a program found on PATH and waits for it: its exit status, or -1 when it
/// could not be started (not installed). `quiet` sends its output to /dev/null.
int run_program(const std::vector<std::string>& args, bool quiet = false) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (!WIFEXITED(status)) return -1;
  // 127: the shell-style "command not found" of an exec that failed in the child.
  return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}

bool have_matplotlib() {
  return run_program({"python3", "-c", "import matplotlib"}, true) == 0;
}

}  // namespace

int sweep_command(const SweepCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err) {
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
  const fs::path dir(cmd.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << fmt::format("error: cannot create {}: {}\n", dir.string(), ec.message());
    return kExitBadInput;
  }
  if (cmd.emit_dir) {
    fs::create_directories(*cmd.emit_dir, ec);
    if (ec) {
      err << fmt::format("error: cannot create {}: {}\n", *cmd.emit_dir, ec.message());
      return kExitBadInput;
    }
  }

  if (cmd.emit_dir) {
    // Written before the runs, so a cell that fails can be run on its own.
    for (const SweepCase& c : sweep_cases(cmd.options)) {
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

  auto points = run_sweep(cmd.options, runner);
  if (!points) {
    err << points.error().message << '\n';
    return kExitBadInput;
  }

  const fs::path csv = dir / "sweep.csv", json = dir / "sweep.json", png = dir / "sweep.png";
  for (auto [path, text] : {std::pair{csv, sweep_csv(*points)},
                            std::pair{json, sweep_json(cmd.options, *points) + "\n"}}) {
    if (auto st = write_file(path, text); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  if (!cmd.quiet) out << sweep_table(*points);
  out << fmt::format("wrote {} and {} ({} points)\n", csv.string(), json.string(), points->size());
  if (auto st = check_stdout(out); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }

  // The plot: an optional dependency; the table is complete without it.
  PlotTool tool = cmd.plot;
  if (tool == PlotTool::automatic) {
    tool = run_program({"gnuplot", "--version"}, true) == 0 ? PlotTool::gnuplot
           : have_matplotlib()                              ? PlotTool::matplotlib
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
    if (auto st = write_file(script, sweep_gnuplot(*points, png.string())); !st) {
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
    if (auto st = write_file(script, sweep_matplotlib(json.string(), png.string())); !st) {
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
  out << fmt::format("wrote {} (plotted by {} from {})\n", png.string(), args[0], script.string());
  return kExitPassed;
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
      "NMI mix and place (bare metal, guest); writes DIR/sweep.csv, DIR/sweep.json and "
      "DIR/sweep.png");
  sweep_cmd->footer(
      "Example:\n"
      "  fredsim sweep --out sweep-out --handlers 1,8 --plot none");
  sweep_cmd->add_option("--out", sweep.out_dir, "Directory for the files (created)")
      ->type_name("DIR")
      ->capture_default_str();
  sweep_cmd
      ->add_option("--handlers", sweep.options.handlers,
                   "LOCAL handler counts, comma-separated (1..256)")
      ->delimiter(',')
      ->type_name("N,...")
      ->default_str("1,2,4,8,16,32,64");
  sweep_cmd->add_option("--modes", sweep_modes, "Modes, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"idt", "fred", "fred-nmisrc-v7", "fred-nmisrc-v5"}))
      ->type_name("MODE,...")
      ->default_str("idt,fred,fred-nmisrc-v7,fred-nmisrc-v5");
  sweep_cmd->add_option("--mixes", sweep_mixes, "NMI mixes, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"one", "two", "unsourced10", "external10"}))
      ->type_name("MIX,...")
      ->default_str("one,two,unsourced10,external10");
  sweep_cmd->add_option("--places", sweep_places, "Where the target CPU runs, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"bare", "guest"}))
      ->type_name("PLACE,...")
      ->default_str("bare,guest");
  sweep_cmd
      ->add_option("--nmis", sweep.options.nmis,
                   "NMIs raised per point (a multiple of 10, 10..10,000,000)")
      ->capture_default_str();
  sweep_cmd
      ->add_option("--set", sweep_sets,
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
  sweep_cmd
      ->add_option("--emit-scenarios", sweep.emit_dir,
                   "Also write each point's scenario to DIR (fredsim run gives its figures)")
      ->type_name("DIR");
  sweep_cmd->add_flag("-q,--quiet", sweep.quiet, "Do not print the table");

  return {sweep_cmd, [state, &ctx] {
            auto parse_list = [](const std::vector<std::string>& names, auto& list, auto parse) {
              if (names.empty()) return;
              list.clear();
              for (const auto& n : names) {
                typename std::decay_t<decltype(list)>::value_type v{};
                if (parse(n, v) && std::find(list.begin(), list.end(), v) == list.end())
                  list.push_back(v);
              }
            };
            parse_list(state->modes, state->sweep.options.modes, parse_sweep_mode);
            parse_list(state->mixes, state->sweep.options.mixes, parse_sweep_mix);
            parse_list(state->places, state->sweep.options.places, parse_sweep_place);
            state->sweep.plot = state->plot_tool == "gnuplot"      ? PlotTool::gnuplot
                                : state->plot_tool == "matplotlib" ? PlotTool::matplotlib
                                : state->plot_tool == "none"       ? PlotTool::none
                                                                   : PlotTool::automatic;
            state->sweep.options.overrides = to_overrides(state->sets);
            return sweep_command(state->sweep, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
