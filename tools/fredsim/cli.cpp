// The fredsim command line: the CLI11 application, its subcommands (one file
// each) and the exit status of an exception that escapes a command.
#include "cli.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <iostream>
#include <new>

#include "compare_command.hpp"
#include "completion_command.hpp"
#include "exit_codes.hpp"
#include "list_command.hpp"
#include "run_command.hpp"
#include "scenario/input.hpp"
#include "sensitivity_command.hpp"
#include "signals.hpp"
#include "step_command.hpp"
#include "subcommand.hpp"
#include "suite_command.hpp"
#include "sweep_command.hpp"

namespace fredsim::cli {

int cli_main(const std::vector<std::string>& args, const scenario::ScenarioRunner& runner,
             std::istream& in, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "fredsim: a cycle-level simulator of the x86 NMI path (FRED, NMI-source reporting, "
      "local APIC, VMX, Linux NMI dispatch).\n"
      "Exit status: 0 every expectation holds, 1 an expectation failed, 2 bad input or usage "
      "(a write error included), 3 cut short by --max-cycles/--max-wall, 4 out of memory, "
      "130/143 SIGINT/SIGTERM.",
      "fredsim"};
  app.require_subcommand(1, 1);
  app.set_help_all_flag("--help-all", "Print the help of every subcommand");
  app.set_version_flag("--version", std::string("fredsim ") + FREDSIM_VERSION,
                       "Print the version of fredsim");

  // Progress only on a terminal, so pipes, files and tests never see it.
  const bool progress = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  const CliContext ctx{runner, in, out, err, progress};
  // In the order of --help.
  const Subcommand run = add_run_subcommand(app, ctx);
  const Subcommand compare = add_compare_subcommand(app, ctx);
  const Subcommand step = add_step_subcommand(app, ctx);
  const Subcommand sweep = add_sweep_subcommand(app, ctx);
  const Subcommand suite = add_suite_subcommand(app, ctx);
  const Subcommand sensitivity = add_sensitivity_subcommand(app, ctx);
  const Subcommand list = add_list_subcommand(app, ctx);
  const Subcommand completion = add_completion_subcommand(app, ctx);

  // CLI11 reports a word it cannot place as "A subcommand is required"; name it.
  if (args.size() >= 2) {
    const std::string& first = args[1];
    if (!first.starts_with('-')) {
      std::vector<std::string> names;
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        names.push_back(sub->get_name());
      if (std::find(names.begin(), names.end(), first) == names.end()) {
        err << fmt::format("error: unknown subcommand '{}' (subcommands: {}; --help lists them)\n",
                           first, fmt::join(names, ", "));
        return kExitBadUsage;
      }
    } else if (first != "-h" && first != "--help" && first != "--help-all" &&
               first != "--version") {
      err << fmt::format(
          "error: unknown option '{}' (before a subcommand: --help, --help-all, --version)\n",
          first);
      return kExitBadUsage;
    }
  }

  std::vector<const char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args)
    argv.push_back(a.c_str());
  if (argv.empty()) argv.push_back("fredsim");
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    // Help and version are successes; every other parse error is bad usage.
    return code == static_cast<int>(CLI::ExitCodes::Success) ? kExitPassed : kExitBadUsage;
  }

  // The commands that stop on the flag handle the signals; sweep keeps their
  // default action (its files are replaced only when written whole).
  if (signal_handlers_wanted() && !*sweep.app && !*sensitivity.app) arm_signal_handlers();
  try {
    for (const Subcommand* s : {&run, &compare, &sweep, &suite, &sensitivity, &list, &completion}) {
      if (*s->app) return s->run();
    }
    return step.run();
  } catch (const std::bad_alloc& e) {
    // Not bad input: its own message and status (docs/scenarios.md "Limits").
    const bool known = dynamic_cast<const scenario::input::OutOfMemory*>(&e) != nullptr;
    err << "error: " << (known ? e.what() : "out of memory while running") << '\n';
    return kExitNoMemory;
  } catch (const std::exception& e) {
    err << "error: internal: " << e.what() << '\n';
    return kExitBadInput;
  }
}

}  // namespace fredsim::cli
