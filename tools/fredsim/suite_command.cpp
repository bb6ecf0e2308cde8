// `fredsim suite` (docs/suites.md): reads the cfg and the targets, picks the target
// (--target, else FREDSIM_TARGET, else fred-nmisrc), runs the selected tests and
// writes the report. Exit status as run_tests.sh's, in the terms of docs/cli.md "Exit status": 0
// nothing failed, 1 a test failed, 2 bad input or usage.
#include <fmt/format.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <optional>
#include <ostream>

#include "exit_codes.hpp"
#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/report.hpp"
#include "fredsim/suite/run.hpp"
#include "fredsim/suite/targets.hpp"
#include "outputs.hpp"
#include "signals.hpp"
#include "suite_command.hpp"

#include <CLI/CLI.hpp>

namespace fredsim::cli {

using namespace fredsim::suite;

int suite_command(const SuiteCommand& cmd, const scenario::ScenarioRunner& runner,
                  std::ostream& out, std::ostream& err) {
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

Subcommand add_suite_subcommand(CLI::App& app, const CliContext& ctx) {
  auto state = std::make_shared<SuiteCommand>();
  SuiteCommand& suite = *state;
  CLI::App* suite_cmd = app.add_subcommand(
      "suite",
      "Run a suite of scenarios (a unittests.cfg) under a machine target: PASS, FAIL or SKIP "
      "per test, as kvm-unit-tests' run_tests.sh");
  suite_cmd->footer(
      "Example:\n"
      "  fredsim suite scenarios/unittests.cfg --target idt\n"
      "Environment:\n"
      "  FREDSIM_TARGET   the target when --target is not given (default fred-nmisrc)\n"
      "  FREDSIM_TIMEOUT  the timeout of a test without its own (default: none)\n"
      "Exit status: 0 no test failed, 1 a test failed, 2 bad input or usage. "
      "Format, targets and disabled_if: docs/suites.md");
  suite_cmd->add_option("FILE", suite.file, "The suite: a unittests.cfg (docs/suites.md)")
      ->required();
  suite_cmd->add_option("TEST", suite.tests, "Run only these tests (by [name]; default: all)");
  suite_cmd
      ->add_option("--target", suite.target,
                   "The machine target: idt, fred, fred-nmisrc or one of --targets (default: "
                   "$FREDSIM_TARGET, else fred-nmisrc)")
      ->type_name("NAME");
  suite_cmd
      ->add_option("--targets", suite.targets_file,
                   "Define more targets from FILE ([name] sections with set = KEY=VALUE ...)")
      ->type_name("FILE");
  suite_cmd
      ->add_option("-g,--group", suite.groups,
                   "Run only the tests of GROUP (repeatable, or comma-separated); a test in "
                   "group nodefault runs only when selected by group or name")
      ->type_name("GROUP")
      ->delimiter(',')
      ->allow_extra_args(false);
  suite_cmd
      ->add_option("-j,--jobs", suite.jobs,
                   "Run N tests at once; the report keeps the cfg's order (default 1)")
      ->type_name("N")
      ->check(CLI::Range(1u, 1024u));
  suite_cmd->add_flag("-v,--verbose", suite.verbose,
                      "Show the equivalent 'fredsim run FILE --set ...' line of each test run");
  suite_cmd->add_flag("-t,--tap", suite.tap, "Write the report as TAP version 13");
  suite_cmd
      ->add_option("--junit", suite.junit_out,
                   "Also write a JUnit XML report to OUT; '-' writes it to stdout and nothing "
                   "else there (the report then goes to stderr)")
      ->type_name("OUT");

  return {suite_cmd, [state, &ctx] {
            // Read here, once, before any thread starts.
            if (const char* t = std::getenv(std::string(kTargetEnvVar).c_str()))
              state->env_target = t;
            if (const char* t = std::getenv(std::string(kTimeoutEnvVar).c_str()))
              state->env_timeout = t;
            return suite_command(*state, ctx.runner, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
