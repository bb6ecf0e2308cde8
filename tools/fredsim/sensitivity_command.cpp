// `fredsim sensitivity` (sensitivity_command.hpp; docs/benchmarks.md
// "Sensitivity to the assumed costs").
#include "sensitivity_command.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <ostream>
#include <thread>

#include "exit_codes.hpp"
#include "outputs.hpp"
#include "study_tools.hpp"

#include <CLI/CLI.hpp>

namespace fredsim::cli {

int sensitivity_command(const SensitivityCommand& cmd, const scenario::ScenarioRunner& runner,
                        std::ostream& out, std::ostream& err) {
  if (auto st = study::check_sensitivity_options(cmd.options); !st) {
    err << st.error().message << '\n';
    return kExitBadUsage;
  }
  namespace fs = std::filesystem;
  const fs::path dir(cmd.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << fmt::format("error: cannot create {}: {}\n", dir.string(), ec.message());
    return kExitBadInput;
  }
  auto report = study::run_sensitivity(cmd.options, runner);
  if (!report) {
    err << report.error().message << '\n';
    return kExitBadInput;
  }
  const fs::path csv = dir / "sensitivity.csv", json = dir / "sensitivity.json",
                 png = dir / "sensitivity.png", gp = dir / "sensitivity.gp";
  for (auto [path, text] : {std::pair{csv, study::sensitivity_csv(*report)},
                            std::pair{json, study::sensitivity_json(*report) + "\n"},
                            std::pair{gp, study::sensitivity_gnuplot(*report, png.string())}}) {
    if (auto st = write_file(path.string(), text); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  if (!cmd.quiet) out << study::sensitivity_table(*report);
  out << fmt::format("wrote {}, {} and {} ({} variants)\n", csv.string(), json.string(),
                     gp.string(), report->variants.size());
  if (auto st = check_stdout(out); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (!cmd.plot) return kExitPassed;
  if (!have_gnuplot()) {
    out << "plot skipped: gnuplot is not installed (apt-get install gnuplot-nox)\n";
    return kExitPassed;
  }
  if (const int rc = run_program({"gnuplot", gp.string()}); rc != 0) {
    err << fmt::format("error: gnuplot {} exited with status {}; the table is in {}\n", gp.string(),
                       rc, csv.string());
    return kExitBadInput;
  }
  out << fmt::format("wrote {}\n", png.string());
  return kExitPassed;
}

Subcommand add_sensitivity_subcommand(CLI::App& app, const CliContext& ctx) {
  struct State {
    SensitivityCommand cmd;
    std::vector<std::string> mixes, places;
    bool no_plot = false;
  };
  auto state = std::make_shared<State>();
  SensitivityCommand& c = state->cmd;
  CLI::App* sub = app.add_subcommand(
      "sensitivity",
      "How bitmap dispatch's saving over polling moves when the costs no measurement backs "
      "are wrong: each such cost alone at --low and --high times its value, then all at once "
      "at random within that range; writes DIR/sensitivity.csv, .json and a tornado plot");
  sub->footer(
      "Example:\n  fredsim sensitivity --out sens --handlers 64 --low 0.5 --high 2 --samples 32\n"
      "  (docs/benchmarks.md \"Sensitivity to the assumed costs\" shows its output)");
  sub->add_option("--out", c.out_dir, "Directory for the files (created)")
      ->type_name("DIR")
      ->capture_default_str();
  sub->add_option("--handlers", c.options.handlers, "LOCAL handlers (1..256)")
      ->capture_default_str();
  sub->add_option("--mixes", state->mixes, "NMI mixes, comma-separated (as sweep's)")
      ->delimiter(',')
      ->check(CLI::IsMember({"one", "two", "unsourced10", "external10"}))
      ->type_name("MIX,...")
      ->default_str("one,unsourced10,external10");
  sub->add_option("--places", state->places, "Where the target CPU runs, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember({"bare", "guest"}))
      ->type_name("PLACE,...")
      ->default_str("bare,guest");
  sub->add_option("--low", c.options.low, "The low factor (above 0, below 1)")
      ->capture_default_str();
  sub->add_option("--high", c.options.high, "The high factor (above 1, at most 100)")
      ->capture_default_str();
  sub->add_option("--samples", c.options.samples,
                  "Variants with every cost drawn at random in [low, high] (0..10,000)")
      ->capture_default_str();
  sub->add_option("--seed", c.options.seed, "Seed of those draws")->capture_default_str();
  sub->add_option("--nmis", c.options.nmis, "NMIs per cell (a multiple of 10)")
      ->capture_default_str();
  sub->add_option("--timing", c.options.profile,
                  "The timing profile the factors apply to (default, skylake-sp, icelake, "
                  "kvm-mediated-pmu)")
      ->capture_default_str();
  c.options.jobs = std::max(1u, std::thread::hardware_concurrency());
  sub->add_option("-j,--jobs", c.options.jobs,
                  "Run N cells at once; the files and the table are the same for any N "
                  "(default: the hardware threads)")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u))
      ->default_str("hardware threads");
  sub->add_flag("--no-plot", state->no_plot, "Do not run gnuplot");
  sub->add_flag("-q,--quiet", c.quiet, "Do not print the table");
  return {sub, [state, &ctx] {
            parse_names(state->mixes, state->cmd.options.mixes, study::parse_sweep_mix);
            parse_names(state->places, state->cmd.options.places, study::parse_sweep_place);
            state->cmd.plot = !state->no_plot;
            return sensitivity_command(state->cmd, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
