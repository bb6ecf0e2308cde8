// `fredsim sweep`: runs the dispatch study, writes sweep.csv, sweep.json and a plot
// (docs/benchmarks.md, bench/README.md).
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "fredsim/scenario/cli.hpp"
#include "outputs.hpp"

extern char** environ;

namespace fredsim::scenario {
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

int sweep_command(const SweepCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                  std::ostream& err) {
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

}  // namespace fredsim::scenario
