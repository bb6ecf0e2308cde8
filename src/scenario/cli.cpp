// The fredsim command line: argument parsing (CLI11) and the commands (suite's in
// suite_command.cpp).
#include "fredsim/scenario/cli.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/suite.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
#include "scenario/input.hpp"

namespace fredsim::scenario {
namespace {

/// An output file opened for a command, or stdout for "-".
class Output {
 public:
  static Result<std::unique_ptr<Output>> open(const std::string& path, std::ostream& stdout_) {
    auto o = std::make_unique<Output>();
    if (path == "-") {
      o->stream_ = &stdout_;
      return o;
    }
    o->file_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*o->file_) {
      return Error{
          fmt::format("error: cannot open {} for writing: {}", path, std::strerror(errno))};
    }
    o->stream_ = o->file_.get();
    return o;
  }
  std::ostream& stream() { return *stream_; }

 private:
  std::unique_ptr<std::ofstream> file_;
  std::ostream* stream_ = nullptr;
};

int report_error(std::ostream& err, const Error& e) {
  err << e.message << '\n';
  return kExitBadInput;
}

std::vector<Override> to_overrides(const std::vector<std::string>& sets) {
  std::vector<Override> out;
  out.reserve(sets.size());
  for (const auto& s : sets)
    out.push_back(Override{s});
  return out;
}

Result<ScenarioSpec> load(const std::string& file, const std::vector<Override>& overrides) {
  for (const auto& o : overrides) {
    if (auto st = check_override_syntax(o.text); !st) return st.error();
  }
  return load_scenario_file(file, overrides);
}

}  // namespace

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

  std::unique_ptr<Output> json_file, trace_file, chrome_file, ftrace_file;
  for (auto [path, slot] :
       {std::pair{&cmd.json_out, &json_file}, std::pair{&cmd.trace_out, &trace_file},
        std::pair{&cmd.chrome_trace, &chrome_file}, std::pair{&cmd.ftrace, &ftrace_file}}) {
    if (!*path) continue;
    auto o = Output::open(**path, out);
    if (!o) return report_error(err, o.error());
    *slot = std::move(*o);
  }

  RunOptions options;
  std::unique_ptr<TraceSink> trace_sink, chrome_sink, ftrace_sink;
  if (cmd.trace != TraceFormat::none) {
    std::ostream& to = trace_file ? trace_file->stream() : out;
    if (cmd.trace == TraceFormat::text) {
      trace_sink = std::make_unique<TextTraceSink>(to);
    } else {
      trace_sink = std::make_unique<JsonlTraceSink>(to);
    }
    options.trace_sinks.push_back(trace_sink.get());
  }
  if (chrome_file) {
    chrome_sink =
        std::make_unique<ChromeTraceSink>(chrome_file->stream(), spec->system.frequency_mhz);
    options.trace_sinks.push_back(chrome_sink.get());
  }
  if (ftrace_file) {
    ftrace_sink = std::make_unique<FtraceSink>(ftrace_file->stream(), spec->system.frequency_mhz,
                                               spec->system.kernel == KernelRevision::v5);
    options.trace_sinks.push_back(ftrace_sink.get());
  }

  auto result = runner.run(*spec, options);
  for (TraceSink* s : options.trace_sinks)
    s->flush();
  chrome_sink.reset();  // closes the JSON document
  if (!result) return report_error(err, result.error());
  apply_expectations(*spec, *result);

  if (json_file) json_file->stream() << to_json(*result) << '\n' << std::flush;
  if (!cmd.quiet) write_summary(stdout_users ? err : out, *result);
  return result->passed ? kExitPassed : kExitFailed;
}

int compare_command(const CompareCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                    std::ostream& err) {
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());
  bool json_stdout = cmd.json_out && *cmd.json_out == "-";
  std::unique_ptr<Output> json_file;
  if (cmd.json_out) {
    auto o = Output::open(*cmd.json_out, out);
    if (!o) return report_error(err, o.error());
    json_file = std::move(*o);
  }
  if (!spec->system.nmi_source) {
    err << "note: the scenario has system.nmi_source = false, so both runs poll\n";
  }
  ScenarioSpec polling_spec = *spec;
  polling_spec.system.nmi_source = false;
  for (auto& e : polling_spec.events)
    e.guest_nmi_source = false;

  RunOptions bitmap_options, polling_options;
  auto bitmap = runner.run(*spec, bitmap_options);
  if (!bitmap) return report_error(err, bitmap.error());
  auto polling = runner.run(polling_spec, polling_options);
  if (!polling) return report_error(err, polling.error());
  apply_expectations(*spec, *bitmap);
  apply_expectations(polling_spec, *polling);

  if (json_file) json_file->stream() << compare_json(*bitmap, *polling) << '\n' << std::flush;
  if (!cmd.quiet) write_compare(json_stdout ? err : out, *bitmap, *polling);
  // The scenario's expectations are about the scenario as written: the bitmap run.
  return bitmap->passed ? kExitPassed : kExitFailed;
}

namespace {

constexpr std::string_view kStepHelp =
    "commands:\n"
    "  s, step [N]        run the next N events (default 1)\n"
    "  u, until CYCLE     run every event up to CYCLE (also: run CYCLE)\n"
    "  c, continue        run to the next breakpoint, or to the end\n"
    "  b, break CYCLE     stop `continue` at CYCLE\n"
    "  break handler NAME stop `continue` after a call of handler NAME\n"
    "  break cpu N        stop `continue` after an event on CPU N\n"
    "  delete             remove every breakpoint\n"
    "  p, print WHAT      show state: cpu N, apic N, vmcs N, handlers, stats\n"
    "  result             the summary so far, with expectations\n"
    "  q, quit            end stepping (prints the summary)\n"
    "  h, help            this text\n";

std::optional<Cycle> parse_cycle(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c != '_') digits += c;
  }
  if (digits.empty()) return std::nullopt;
  Cycle v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (kNever - static_cast<Cycle>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<Cycle>(c - '0');
  }
  return v;
}

void print_lines(std::ostream& out, const std::vector<std::string>& lines) {
  for (const auto& l : lines)
    out << l << '\n';
}

/// A `continue` stop: a cycle, a handler's call, or any event of one CPU.
struct Breakpoint {
  enum class Kind : std::uint8_t { cycle, handler, cpu };
  Kind kind = Kind::cycle;
  Cycle cycle = 0;
  std::string text;  // what it matches in the trace text of a step

  std::string describe() const {
    switch (kind) {
      case Kind::cycle:
        return "cycle " + std::to_string(cycle);
      case Kind::handler: {
        const std::size_t prefix = std::string_view("handler_call handler=").size();
        return "handler " + text.substr(prefix, text.size() - prefix - 1);
      }
      case Kind::cpu:
        return "cpu " + text.substr(5, text.size() - 6);
    }
    return "?";
  }
  bool hit_by(const std::vector<std::string>& lines) const {
    for (const auto& l : lines) {
      if (kind == Kind::handler && l.find(text) != std::string::npos) return true;
      if (kind == Kind::cpu && l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

}  // namespace

int step_command(const StepCommand& cmd, const ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err) {
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());
  RunOptions options;
  auto started = runner.start(*spec, options);
  if (!started) return report_error(err, started.error());
  ScenarioSession& session = **started;
  std::vector<Breakpoint> breakpoints;

  out << "fredsim step: " << spec->name << " (" << spec->events.size()
      << " events); 'help' lists the commands\n";
  std::string line;
  while (true) {
    out << "(fredsim " << session.now() << (session.done() ? ", done" : "") << ") " << std::flush;
    if (!std::getline(in, line)) break;
    std::istringstream words(line);
    std::string verb, arg;
    words >> verb;
    std::getline(words >> std::ws, arg);
    if (verb.empty()) continue;
    if (verb == "q" || verb == "quit" || verb == "exit") break;
    if (verb == "h" || verb == "help") {
      out << kStepHelp;
    } else if (verb == "s" || verb == "step") {
      auto n = arg.empty() ? std::optional<Cycle>(1) : parse_cycle(arg);
      if (!n) {
        out << "step: '" << arg << "' is not a count\n";
        continue;
      }
      for (Cycle i = 0; i < *n && !session.done(); ++i)
        print_lines(out, session.step());
      if (session.done()) out << "no events left\n";
    } else if (verb == "r" || verb == "run" || verb == "u" || verb == "until") {
      auto c = parse_cycle(arg);
      if (!c) {
        out << verb << ": give a cycle (until 5000)\n";
        continue;
      }
      print_lines(out, session.run_to(*c));
    } else if (verb == "c" || verb == "continue") {
      // Event by event, so handler and CPU breakpoints see every step.
      const Breakpoint* hit = nullptr;
      while (!session.done() && hit == nullptr) {
        Cycle next_stop = kNever;
        for (const auto& b : breakpoints) {
          if (b.kind == Breakpoint::Kind::cycle && b.cycle > session.now()) {
            next_stop = std::min(next_stop, b.cycle);
          }
        }
        auto lines = session.step();
        print_lines(out, lines);
        for (const auto& b : breakpoints) {
          if (b.kind == Breakpoint::Kind::cycle ? session.now() >= next_stop && b.cycle == next_stop
                                                : b.hit_by(lines)) {
            hit = &b;
            break;
          }
        }
      }
      if (hit != nullptr) {
        out << "breakpoint: " << hit->describe() << " (cycle " << session.now() << ")\n";
      } else {
        out << "no events left\n";
      }
    } else if (verb == "b" || verb == "break") {
      std::istringstream parts(arg);
      std::string what, value;
      parts >> what >> value;
      Breakpoint b;
      if (what == "handler" && !value.empty()) {
        b.kind = Breakpoint::Kind::handler;
        b.text = "handler_call handler=" + value + " ";
      } else if (what == "cpu" && parse_cycle(value)) {
        b.kind = Breakpoint::Kind::cpu;
        b.text = " cpu=" + value + " ";
      } else if (auto c = parse_cycle(arg)) {
        b.cycle = *c;
      } else {
        out << "break: give a cycle, 'handler NAME' or 'cpu N'\n";
        continue;
      }
      breakpoints.push_back(b);
      out << "breakpoint " << breakpoints.size() << ": " << b.describe() << '\n';
    } else if (verb == "delete") {
      breakpoints.clear();
    } else if (verb == "p" || verb == "print") {
      auto text = session.print(arg);
      out << (text ? *text : text.error().message) << '\n';
    } else if (verb == "result") {
      ScenarioResult r = session.result();
      apply_expectations(*spec, r);
      write_summary(out, r);
    } else {
      out << "unknown command '" << verb << "'; 'help' lists the commands\n";
    }
  }
  out << '\n';
  ScenarioResult r = session.result();
  apply_expectations(*spec, r);
  write_summary(out, r);
  return r.passed ? kExitPassed : kExitFailed;
}

int cli_main(const std::vector<std::string>& args, const ScenarioRunner& runner, std::istream& in,
             std::ostream& out, std::ostream& err) {
  CLI::App app{
      "fredsim: a cycle-level simulator of the x86 NMI path (FRED, NMI-source reporting, "
      "local APIC, VMX, Linux NMI dispatch).\n"
      "Exit status: 0 every expectation holds, 1 an expectation failed, 2 bad input or usage.",
      "fredsim"};
  app.require_subcommand(1, 1);
  app.set_help_all_flag("--help-all", "Print the help of every subcommand");

  RunCommand run;
  std::vector<std::string> run_sets;
  std::string trace_format;
  CLI::App* run_cmd =
      app.add_subcommand("run", "Run a scenario, check its expectations and print a summary");
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

  CompareCommand compare;
  std::vector<std::string> compare_sets;
  CLI::App* compare_cmd = app.add_subcommand(
      "compare",
      "Run a scenario with bitmap dispatch (as written) and with polling "
      "(system.nmi_source = false) and show them side by side; the exit status is the bitmap "
      "run's");
  compare_cmd->add_option("FILE", compare.file, "Scenario file (TOML)")->required();
  compare_cmd
      ->add_option("--json", compare.json_out,
                   "Write {\"bitmap\": RESULT, \"polling\": RESULT} to OUT ('-' = stdout only)")
      ->type_name("OUT");
  compare_cmd->add_option("--set", compare_sets, "Override a key (as for run; repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  compare_cmd->add_flag("-q,--quiet", compare.quiet, "Do not print the side-by-side table");

  StepCommand step;
  std::vector<std::string> step_sets;
  CLI::App* step_cmd = app.add_subcommand(
      "step", "Step through a scenario interactively: step, run to a cycle, break, print state");
  step_cmd->add_option("FILE", step.file, "Scenario file (TOML)")->required();
  step_cmd->add_option("--set", step_sets, "Override a key (as for run; repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);

  SweepCommand sweep;
  std::vector<std::string> sweep_sets, sweep_modes, sweep_mixes, sweep_places;
  std::string plot_tool = "auto";
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep",
      "The dispatch study in simulated cycles: cycles and handler calls per NMI against the "
      "number of LOCAL handlers, for each mode (IDT, FRED polling, FRED + NMI-source v7/v5), "
      "NMI mix and place (bare metal, guest); writes DIR/sweep.csv, DIR/sweep.json and "
      "DIR/sweep.png");
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

  SuiteCommand suite;
  CLI::App* suite_cmd = app.add_subcommand(
      "suite",
      "Run a suite of scenarios (a unittests.cfg) under a machine target: PASS, FAIL or SKIP "
      "per test, as kvm-unit-tests' run_tests.sh");
  suite_cmd->footer(
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

  try {
    if (*run_cmd) {
      if (trace_format == "text") run.trace = TraceFormat::text;
      if (trace_format == "jsonl") run.trace = TraceFormat::jsonl;
      run.overrides = to_overrides(run_sets);
      return run_command(run, runner, out, err);
    }
    if (*compare_cmd) {
      compare.overrides = to_overrides(compare_sets);
      return compare_command(compare, runner, out, err);
    }
    if (*sweep_cmd) {
      auto parse_list = [](const std::vector<std::string>& names, auto& list, auto parse) {
        if (names.empty()) return;
        list.clear();
        for (const auto& n : names) {
          typename std::decay_t<decltype(list)>::value_type v{};
          if (parse(n, v) && std::find(list.begin(), list.end(), v) == list.end())
            list.push_back(v);
        }
      };
      parse_list(sweep_modes, sweep.options.modes, parse_sweep_mode);
      parse_list(sweep_mixes, sweep.options.mixes, parse_sweep_mix);
      parse_list(sweep_places, sweep.options.places, parse_sweep_place);
      sweep.plot = plot_tool == "gnuplot"      ? PlotTool::gnuplot
                   : plot_tool == "matplotlib" ? PlotTool::matplotlib
                   : plot_tool == "none"       ? PlotTool::none
                                               : PlotTool::automatic;
      sweep.options.overrides = to_overrides(sweep_sets);
      return sweep_command(sweep, runner, out, err);
    }
    if (*suite_cmd) {
      // Read here, once, before any thread starts.
      if (const char* t = std::getenv(std::string(kTargetEnvVar).c_str())) suite.env_target = t;
      if (const char* t = std::getenv(std::string(kTimeoutEnvVar).c_str())) suite.env_timeout = t;
      return suite_command(suite, runner, out, err);
    }
    step.overrides = to_overrides(step_sets);
    return step_command(step, runner, in, out, err);
  } catch (const std::bad_alloc& e) {
    // Not bad input: its own message and status (docs/scenarios.md "Limits").
    const bool known = dynamic_cast<const input::OutOfMemory*>(&e) != nullptr;
    err << "error: " << (known ? e.what() : "out of memory while running") << '\n';
    return kExitNoMemory;
  } catch (const std::exception& e) {
    err << "error: internal: " << e.what() << '\n';
    return kExitBadInput;
  }
}

}  // namespace fredsim::scenario
