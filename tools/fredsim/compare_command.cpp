// `fredsim compare` (compare_command.hpp).
#include "compare_command.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>

#include "exit_codes.hpp"
#include "fredsim/scenario/report.hpp"
#include "outputs.hpp"
#include "signals.hpp"

namespace fredsim::cli {

using namespace fredsim::scenario;

int compare_command(const CompareCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                    std::ostream& err) {
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());
  bool json_stdout = cmd.json_out && *cmd.json_out == "-";
  OutputFiles files(out);
  files.add_input("scenario file", cmd.file);
  std::optional<std::size_t> json_file;
  if (cmd.json_out) json_file = files.add("--json", *cmd.json_out);
  if (auto st = files.open_all(); !st) return report_error(err, st);
  if (!spec->system.nmi_source) {
    // Both runs poll: there is no bitmap run to set against the polling one.
    err << "note: the scenario has system.nmi_source = false, so both runs poll and compare "
        << "runs the same configuration twice"
        << "; for bitmap against polling use delivery = \"fred\" with nmi_source = true\n";
  }
  ScenarioSpec polling_spec = *spec;
  polling_spec.system.nmi_source = false;
  // The guests too: the polling run has NMI-source nowhere.
  for (auto& vm : polling_spec.vms)
    vm.nmi_source = false;

  // One deadline for both runs: --max-wall bounds the command.
  ProgressLine progress(err);
  RunOptions bitmap_options, polling_options;
  bitmap_options.limits = make_limits(cmd.limits, progress);
  polling_options.limits = bitmap_options.limits;
  auto bitmap = runner.run(*spec, bitmap_options);
  progress.clear();
  if (!bitmap) return report_error(err, bitmap.error());
  auto polling = runner.run(polling_spec, polling_options);
  progress.clear();
  if (!polling) return report_error(err, polling.error());
  apply_expectations(*spec, *bitmap);
  apply_expectations(polling_spec, *polling);

  if (json_file) files.stream(*json_file) << compare_json(*bitmap, *polling) << '\n';
  if (auto st = files.commit(); !st) return report_error(err, st);
  if (!cmd.quiet) write_compare(json_stdout ? err : out, *bitmap, *polling);
  if (auto st = check_stdout(out); !st) return report_error(err, st);
  // The scenario's expectations are about the scenario as written: the bitmap run;
  // but a cut polling run leaves the comparison incomplete.
  if (caught_signal() == 0 && bitmap->stopped == StopReason::none &&
      polling->stopped != StopReason::none) {
    return kExitCutShort;
  }
  return run_status(*bitmap, err);
}

Subcommand add_compare_subcommand(CLI::App& app, const CliContext& ctx) {
  struct State {
    CompareCommand compare;
    std::vector<std::string> compare_sets;
  };
  auto state = std::make_shared<State>();
  CompareCommand& compare = state->compare;
  std::vector<std::string>& compare_sets = state->compare_sets;
  CLI::App* compare_cmd = app.add_subcommand(
      "compare",
      "Run a scenario with bitmap dispatch (as written) and with polling "
      "(system.nmi_source = false) and show them side by side; the exit status is the bitmap "
      "run's");
  compare_cmd->footer(
      "Example:\n"
      "  fredsim compare scenarios/demo.toml\n"
      "  fredsim compare scenarios/storm.toml --json storm-compare.json -q");
  compare_cmd->add_option("FILE", compare.file, "Scenario file (TOML)")->required();
  compare_cmd
      ->add_option("--json", compare.json_out,
                   "Write {\"bitmap\": RESULT, \"polling\": RESULT} to OUT ('-' = stdout only)")
      ->type_name("OUT");
  compare_cmd->add_option("--set", compare_sets, "Override a key (as for run; repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  compare_cmd->add_flag("-q,--quiet", compare.quiet, "Do not print the side-by-side table");
  add_limit_options(*compare_cmd, compare.limits);

  compare.limits.progress = ctx.progress;
  return {compare_cmd, [state, &ctx] {
            state->compare.overrides = to_overrides(state->compare_sets);
            return compare_command(state->compare, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
