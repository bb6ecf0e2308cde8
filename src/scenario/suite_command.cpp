// `fredsim suite` (docs/suites.md): reads the cfg and the targets, picks the target
// (--target, else FREDSIM_TARGET, else fred-nmisrc), runs the selected tests and
// writes the report. Exit status as run_tests.sh's, in SCENARIO.md's terms: 0
// nothing failed, 1 a test failed, 2 bad input or usage.
#include <fmt/format.h>

#include <csignal>
#include <optional>
#include <ostream>

#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/suite.hpp"
#include "outputs.hpp"

namespace fredsim::scenario {

int suite_command(const SuiteCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                  std::ostream& err) {
  const bool junit_stdout = cmd.junit_out && *cmd.junit_out == "-";
  if (junit_stdout && cmd.tap) {
    err << "error: -t and --junit - both write to stdout; give --junit a file\n";
    return kExitBadUsage;
  }
  if (cmd.jobs == 0) {
    err << "error: -j needs at least 1\n";
    return kExitBadUsage;
  }

  TargetSet targets = TargetSet::builtin();
  if (cmd.targets_file) {
    if (auto st = targets.add_file(*cmd.targets_file); !st) {
      err << st.error().message << '\n';
      return kExitBadInput;
    }
  }
  const std::string target_name = resolve_target_name(cmd.target, cmd.env_target);
  const Target* target = targets.find(target_name);
  if (target == nullptr) {
    const bool from_env = !cmd.target && cmd.env_target && !cmd.env_target->empty();
    err << fmt::format("error: {}unknown target '{}' (targets: {})\n",
                       from_env ? fmt::format("{}={}: ", kTargetEnvVar, target_name) : "",
                       target_name, targets.names());
    return kExitBadInput;
  }

  SuiteRunOptions options;
  options.target = target;
  options.groups = cmd.groups;
  options.tests = cmd.tests;
  options.jobs = cmd.jobs;
  if (cmd.env_timeout && !cmd.env_timeout->empty()) {
    auto d = parse_duration(*cmd.env_timeout);
    if (!d) {
      err << fmt::format(
          "error: {}={}: not a duration (seconds, or N with s, m, h, d; 0 = no limit)\n",
          kTimeoutEnvVar, *cmd.env_timeout);
      return kExitBadInput;
    }
    options.default_timeout = *d;
  }

  auto suite = load_suite_file(cmd.file, targets);
  if (!suite) {
    err << suite.error().message << '\n';
    return kExitBadInput;
  }
  auto selected = select_tests(*suite, options);
  if (!selected) {
    err << selected.error().message << '\n';
    return kExitBadUsage;
  }

  // The JUnit file is opened now and replaced only once it is written whole.
  OutputFiles files(out);
  files.add_input("suite file", cmd.file);
  if (cmd.targets_file) files.add_input("targets file", *cmd.targets_file);
  std::optional<std::size_t> junit_file;
  if (cmd.junit_out) junit_file = files.add("--junit", *cmd.junit_out);
  if (auto st = files.open_all(); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  options.interrupt = interrupt_flag();

  // With the XML on stdout, stdout has nothing else (as `run --json -`).
  std::ostream& report = junit_stdout ? err : out;
  if (cmd.tap) write_tap_header(report, selected->size());
  auto outcomes =
      run_suite(*suite, *selected, options, runner, [&](std::size_t i, const TestOutcome& o) {
        if (cmd.tap) {
          write_tap(report, i + 1, o, cmd.verbose);
        } else {
          write_plain(report, o, cmd.verbose);
        }
        report.flush();
      });

  const int sig = *options.interrupt;
  if (sig != 0 && cmd.tap) report << "Bail out! interrupted by a signal\n";
  if (junit_file) files.stream(*junit_file) << junit_xml(*suite, *target, outcomes);
  if (auto st = files.commit(); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (auto st = check_stdout(out); !st) {
    err << st.error().message << '\n';
    return kExitBadInput;
  }
  if (sig != 0) {
    err << fmt::format("fredsim: stopped by {}; {} of {} tests ran to their end\n",
                       sig == SIGINT    ? "SIGINT"
                       : sig == SIGTERM ? "SIGTERM"
                                        : "a signal",
                       outcomes.size(), selected->size());
    return 128 + sig;
  }
  for (const auto& o : outcomes) {
    if (o.verdict == Verdict::fail) return kExitFailed;
  }
  return kExitPassed;
}

}  // namespace fredsim::scenario
