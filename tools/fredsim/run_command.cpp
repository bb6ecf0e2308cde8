// `fredsim run` (run_command.hpp).
#include "run_command.hpp"

#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>
#include <tuple>
#include <vector>

#include "exit_codes.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
#include "outputs.hpp"

namespace fredsim::cli {

using namespace fredsim::scenario;

int run_command(const RunCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                std::ostream& err) {
  auto on_stdout = [](const std::optional<std::string>& path) { return path && *path == "-"; };
  bool json_stdout = on_stdout(cmd.json_out);
  bool trace_stdout = cmd.trace != TraceFormat::none && (!cmd.trace_out || *cmd.trace_out == "-");
  int stdout_users =
      json_stdout + trace_stdout + on_stdout(cmd.chrome_trace) + on_stdout(cmd.ftrace);
  if (stdout_users > 1) {
    err << "error: only one of --json, --trace, --chrome-trace and --ftrace can write to "
           "stdout; give the others a file\n";
    return kExitBadUsage;
  }
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());

  // Every output is checked and opened before the run; none is replaced before
  // the run has ended and everything was written.
  OutputFiles files(out);
  files.add_input("scenario file", cmd.file);
  std::optional<std::size_t> json_file, trace_file, chrome_file, ftrace_file;
  for (auto [option, path, slot] : {std::tuple{"--json", &cmd.json_out, &json_file},
                                    std::tuple{"--trace-out", &cmd.trace_out, &trace_file},
                                    std::tuple{"--chrome-trace", &cmd.chrome_trace, &chrome_file},
                                    std::tuple{"--ftrace", &cmd.ftrace, &ftrace_file}}) {
    if (*path) *slot = files.add(option, **path);
  }
  // Each VM's guest lines go to OUT.NAME beside the host's (docs/cli.md "run");
  // on stdout only the host's.
  std::vector<std::size_t> vm_ftrace_files;
  if (ftrace_file && !on_stdout(cmd.ftrace)) {
    for (const VmSpec& vm : spec->vms)
      vm_ftrace_files.push_back(files.add("--ftrace", *cmd.ftrace + "." + vm.name));
  }
  if (auto st = files.open_all(); !st) return report_error(err, st);

  RunOptions options;
  std::unique_ptr<TraceSink> trace_sink, ftrace_sink;
  std::vector<std::unique_ptr<TraceSink>> vm_ftrace_sinks;
  std::unique_ptr<ChromeTraceSink> chrome_sink;
  if (cmd.trace != TraceFormat::none) {
    std::ostream& to = trace_file ? files.stream(*trace_file) : out;
    if (cmd.trace == TraceFormat::text) {
      trace_sink = std::make_unique<TextTraceSink>(to);
    } else {
      trace_sink = std::make_unique<JsonlTraceSink>(to);
    }
    options.trace_sinks.push_back(trace_sink.get());
  }
  if (chrome_file) {
    chrome_sink =
        std::make_unique<ChromeTraceSink>(files.stream(*chrome_file), trace_sink_context(*spec));
    options.trace_sinks.push_back(chrome_sink.get());
  }
  if (ftrace_file) {
    ftrace_sink =
        std::make_unique<FtraceSink>(files.stream(*ftrace_file), trace_sink_context(*spec),
                                     spec->system.kernel == kernel::Revision::v5);
    options.trace_sinks.push_back(ftrace_sink.get());
    for (std::size_t i = 0; i < vm_ftrace_files.size(); ++i) {
      const VmSpec& vm = spec->vms[i];
      vm_ftrace_sinks.push_back(
          std::make_unique<FtraceSink>(files.stream(vm_ftrace_files[i]), trace_sink_context(*spec),
                                       vm.kernel == kernel::Revision::v5, vm.name));
      options.trace_sinks.push_back(vm_ftrace_sinks.back().get());
    }
  }

  ProgressLine progress(err);
  options.limits = make_limits(cmd.limits, progress);
  auto result = runner.run(*spec, options);
  progress.clear();
  for (TraceSink* s : options.trace_sinks)
    s->flush();
  if (chrome_sink && result) chrome_sink->end_at(result->end_cycle);
  chrome_sink.reset();  // closes the JSON document
  if (!result) return report_error(err, result.error());
  apply_expectations(*spec, *result);

  if (json_file) files.stream(*json_file) << to_json(*result) << '\n';
  if (auto st = files.commit(); !st) return report_error(err, st);
  if (!cmd.quiet) write_summary(stdout_users ? err : out, *result);
  if (auto st = check_stdout(out); !st) return report_error(err, st);
  return run_status(*result, err);
}

Subcommand add_run_subcommand(CLI::App& app, const CliContext& ctx) {
  struct State {
    RunCommand run;
    std::vector<std::string> run_sets;
    std::string trace_format;
  };
  auto state = std::make_shared<State>();
  RunCommand& run = state->run;
  std::vector<std::string>& run_sets = state->run_sets;
  std::string& trace_format = state->trace_format;
  CLI::App* run_cmd =
      app.add_subcommand("run", "Run a scenario, check its expectations and print a summary");
  run_cmd->footer(
      "Example:\n"
      "  fredsim run scenarios/demo.toml --json demo.json --ftrace demo.ftrace\n"
      "  fredsim run scenarios/demo.toml --set system.frequency_mhz=1000 --trace=text");
  run_cmd->add_option("FILE", run.file, "Scenario file (TOML, see docs/scenarios.md)")->required();
  run_cmd
      ->add_option("--json", run.json_out,
                   "Write the result JSON to OUT; '-' writes it to stdout and nothing else "
                   "there (the summary then goes to stderr)")
      ->type_name("OUT");
  auto* trace_opt =
      run_cmd
          ->add_option("--trace", trace_format,
                       "Write trace records as 'text' or 'jsonl' (one JSON object a line) to "
                       "stdout, or to --trace-out")
          ->check(CLI::IsMember({"text", "jsonl"}))
          ->type_name("FORMAT");
  run_cmd->add_option("--trace-out", run.trace_out, "Where --trace writes (default stdout)")
      ->needs(trace_opt)
      ->type_name("OUT");
  run_cmd
      ->add_option("--chrome-trace", run.chrome_trace,
                   "Write Chrome/Perfetto trace events (JSON) to OUT")
      ->type_name("OUT");
  run_cmd
      ->add_option("--ftrace", run.ftrace,
                   "Write ftrace-style nmi_handler lines (as trace_pipe shows them) to OUT")
      ->type_name("OUT");
  run_cmd
      ->add_option("--set", run_sets,
                   "Override a key by its dotted path: system.cpus=64, "
                   "system.nmi_source=false, timing.vm_exit=900, handler.0.vector=3 "
                   "(repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  run_cmd->add_flag("-q,--quiet", run.quiet, "Do not print the readable summary");
  add_limit_options(*run_cmd, run.limits);

  run.limits.progress = ctx.progress;
  return {run_cmd, [state, &ctx] {
            if (state->trace_format == "text") state->run.trace = TraceFormat::text;
            if (state->trace_format == "jsonl") state->run.trace = TraceFormat::jsonl;
            state->run.overrides = to_overrides(state->run_sets);
            return run_command(state->run, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
