// The fredsim command line: argument parsing (CLI11) and the commands (suite's in
// suite_command.cpp).
#include "fredsim/scenario/cli.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <tuple>

#include "fredsim/kernel_model/kernel.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/suite.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
#include "outputs.hpp"
#include "scenario/input.hpp"

namespace fredsim::scenario {
namespace {

volatile std::sig_atomic_t g_signal = 0;
bool g_installed = false;  // the handlers are in place (arm_signal_handlers)

extern "C" void on_signal(int sig) {
  g_signal = sig;  // all a handler may do: the command checks it
}

/// 128 + the signal, as a shell reports a process a signal ended.
int signal_status(int sig) {
  return 128 + sig;
}

std::string_view signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

/// The line the progress callback overwrites in place; cleared at the end.
class ProgressLine {
 public:
  explicit ProgressLine(std::ostream& err) : err_(err) {}
  ~ProgressLine() { clear(); }
  void show(const RunProgress& p) {
    const double speed = p.host_seconds > 0 ? static_cast<double>(p.cycle) / p.host_seconds : 0;
    // \r and erase-to-end-of-line: the next update or clear() overwrites it.
    fmt::print(err_, "\rfredsim: cycle {}  NMIs {}  {:.3g} cycles/s  ({:.0f} s)\x1b[K", p.cycle,
               p.nmis, speed, p.host_seconds);
    err_.flush();
    shown_ = true;
  }
  void clear() {
    if (!shown_) return;
    err_ << "\r\x1b[K" << std::flush;
    shown_ = false;
  }

 private:
  std::ostream& err_;
  bool shown_ = false;
};

/// The RunLimits of a command's options (the deadline counts from now).
RunLimits make_limits(const LimitOptions& o, ProgressLine& line) {
  RunLimits l;
  l.interrupt = &g_signal;
  l.max_cycles = o.max_cycles;
  if (o.max_wall_seconds) {
    l.deadline = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(*o.max_wall_seconds));
  }
  if (o.progress) l.progress = [&line](const RunProgress& p) { line.show(p); };
  return l;
}

/// The exit status of a run that produced `r`: a signal first, then a limit,
/// then the expectations. A cut run never exits 0.
int run_status(const ScenarioResult& r, std::ostream& err) {
  if (g_signal != 0) {
    err << fmt::format("fredsim: stopped by {} at cycle {}; the outputs hold the run so far{}\n",
                       signal_name(g_signal), r.end_cycle,
                       r.stopped == StopReason::interrupted ? ", marked interrupted" : "");
    return signal_status(g_signal);
  }
  if (r.stopped != StopReason::none) return kExitCutShort;
  return r.passed ? kExitPassed : kExitFailed;
}

int report_error(std::ostream& err, const Error& e) {
  err << e.message << '\n';
  return kExitBadInput;
}

int report_error(std::ostream& err, const Status& st) {
  return report_error(err, st.error());
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

namespace {

bool g_wanted = false;  // install_signal_handlers() was called (by main)

/// Installs the handlers (for the commands that check the flag).
void arm_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a read at the `step` prompt returns, so ^C is seen there.
  // SA_RESETHAND: a second signal, while the first is being handled, ends the
  // process as it would have without fredsim's handler.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  g_installed = true;
}

}  // namespace

void install_signal_handlers() {
  g_wanted = true;
}

const volatile std::sig_atomic_t* interrupt_flag() {
  return &g_signal;
}

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
  if (auto st = files.open_all(); !st) return report_error(err, st);

  RunOptions options;
  std::unique_ptr<TraceSink> trace_sink, chrome_sink, ftrace_sink;
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
        std::make_unique<ChromeTraceSink>(files.stream(*chrome_file), spec->system.frequency_mhz);
    options.trace_sinks.push_back(chrome_sink.get());
  }
  if (ftrace_file) {
    ftrace_sink =
        std::make_unique<FtraceSink>(files.stream(*ftrace_file), spec->system.frequency_mhz,
                                     spec->system.kernel == KernelRevision::v5);
    options.trace_sinks.push_back(ftrace_sink.get());
  }

  ProgressLine progress(err);
  options.limits = make_limits(cmd.limits, progress);
  auto result = runner.run(*spec, options);
  progress.clear();
  for (TraceSink* s : options.trace_sinks)
    s->flush();
  chrome_sink.reset();  // closes the JSON document
  if (!result) return report_error(err, result.error());
  apply_expectations(*spec, *result);

  if (json_file) files.stream(*json_file) << to_json(*result) << '\n';
  if (auto st = files.commit(); !st) return report_error(err, st);
  if (!cmd.quiet) write_summary(stdout_users ? err : out, *result);
  if (auto st = check_stdout(out); !st) return report_error(err, st);
  return run_status(*result, err);
}

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
    err << "note: the scenario has system.nmi_source = false, so both runs poll\n";
  }
  ScenarioSpec polling_spec = *spec;
  polling_spec.system.nmi_source = false;
  for (auto& e : polling_spec.events)
    e.guest_nmi_source = false;

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
  if (g_signal == 0 && bitmap->stopped == StopReason::none &&
      polling->stopped != StopReason::none) {
    return kExitCutShort;
  }
  return run_status(*bitmap, err);
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
  out.flush();  // stepping is watched as it goes
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

/// The handler names a `break handler` can match: the scenario's, those
/// registered so far, and the kernel's own (registered when an event needs them,
/// so they can be broken on before they exist).
std::vector<std::string> known_handlers(const ScenarioSpec& spec, const ScenarioSession& session) {
  std::vector<std::string> names;
  auto add = [&](std::string_view n) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.emplace_back(n);
  };
  for (const auto& h : spec.handlers)
    add(h.name);
  for (const auto& h : session.result().handlers)
    add(h.name);
  for (std::string_view n : kernel::reserved_handler_names())
    add(n);
  return names;
}

}  // namespace

int step_command(const StepCommand& cmd, const ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err) {
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());
  RunOptions options;
  options.limits.interrupt = &g_signal;
  auto started = runner.start(*spec, options);
  if (!started) return report_error(err, started.error());
  ScenarioSession& session = **started;
  std::vector<Breakpoint> breakpoints;
  // ^C (SIGINT) stops what runs and comes back to the prompt; SIGTERM ends the
  // session as `quit` would, with exit status 143.
  auto take_sigint = [&] {
    if (g_signal != SIGINT) return false;
    g_signal = 0;
    if (g_installed) arm_signal_handlers();  // SA_RESETHAND disarmed it
    return true;
  };
  auto interrupted = [&] {
    if (!take_sigint()) return false;
    out << "interrupted at cycle " << session.now() << '\n';
    return true;
  };

  out << "fredsim step: " << spec->name << " (" << spec->events.size()
      << " events); 'help' lists the commands\n";
  std::string line;
  bool time_reported = false;
  while (g_signal != SIGTERM) {
    take_sigint();  // a ^C during `print` or `result`: nothing left to stop
    // The run reached the end of simulated time (docs/scenarios.md "Limits"): say
    // so once, rather than looking like a run that ended.
    if (!time_reported) {
      if (Status st = session.status(); !st) {
        out << st.error().message << '\n';
        time_reported = true;
      }
    }
    out << "(fredsim " << session.now() << (session.done() ? ", done" : "") << ") " << std::flush;
    if (!std::getline(in, line)) {
      if (!take_sigint()) break;
      // ^C at the prompt: a new prompt, as a shell gives; quit or ^D leaves.
      in.clear();
      if (&in == &std::cin) std::clearerr(stdin);
      out << "\n(^C: 'quit' or end of input leaves)\n";
      continue;
    }
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
      for (Cycle i = 0; i < *n && !session.done() && g_signal == 0; ++i)
        print_lines(out, session.step());
      if (interrupted()) continue;
      if (session.done()) out << "no events left\n";
    } else if (verb == "r" || verb == "run" || verb == "u" || verb == "until") {
      auto c = parse_cycle(arg);
      if (!c) {
        out << verb << ": give a cycle (until 5000)\n";
        continue;
      }
      print_lines(out, session.run_to(*c));
      interrupted();
    } else if (verb == "c" || verb == "continue") {
      // Event by event, so handler and CPU breakpoints see every step.
      const Breakpoint* hit = nullptr;
      while (!session.done() && hit == nullptr && g_signal == 0) {
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
      if (interrupted()) continue;
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
      if (what == "handler") {
        // A breakpoint that can never hit is refused, not kept silently.
        std::vector<std::string> names = known_handlers(*spec, session);
        if (std::find(names.begin(), names.end(), value) == names.end()) {
          out << fmt::format("break handler: {} (handlers: {})\n",
                             value.empty() ? "give a name" : "no handler '" + value + "'",
                             fmt::join(names, ", "));
          continue;
        }
        b.kind = Breakpoint::Kind::handler;
        b.text = "handler_call handler=" + value + " ";
      } else if (what == "cpu") {
        const auto cpu = parse_cycle(value);
        const std::uint32_t cpus = spec->system.cpus;
        if (!cpu || *cpu >= cpus) {
          out << fmt::format("break cpu: {}: the system has {} CPU{} (0..{})\n",
                             value.empty() ? std::string("give a CPU number")
                             : cpu         ? fmt::format("CPU {} is out of range", value)
                                           : fmt::format("'{}' is not a CPU number", value),
                             cpus, cpus == 1 ? "" : "s", cpus - 1);
          continue;
        }
        b.kind = Breakpoint::Kind::cpu;
        b.text = fmt::format(" cpu={} ", *cpu);
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
  if (g_signal == SIGTERM) {
    err << "fredsim: stopped by SIGTERM at cycle " << session.now() << '\n';
    return signal_status(SIGTERM);
  }
  if (auto st = check_stdout(out); !st) return report_error(err, st);
  return r.passed ? kExitPassed : kExitFailed;
}

namespace {

void add_limit_options(CLI::App& cmd, LimitOptions& limits) {
  cmd.add_option("--max-cycles", limits.max_cycles,
                 "Stop the run at simulated cycle N (the result says \"stopped\": \"max_cycles\"; "
                 "exit status 3)")
      ->type_name("N");
  cmd.add_option(
         "--max-wall", limits.max_wall_seconds,
         "Stop the run after SECONDS of host time (\"stopped\": \"max_wall\"; exit status 3)")
      ->type_name("SECONDS")
      ->check(CLI::PositiveNumber);
}

}  // namespace

int cli_main(const std::vector<std::string>& args, const ScenarioRunner& runner, std::istream& in,
             std::ostream& out, std::ostream& err) {
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
  add_limit_options(*run_cmd, run.limits);

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
  add_limit_options(*compare_cmd, compare.limits);

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

  // Progress only on a terminal, so pipes, files and tests never see it.
  const bool progress = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  run.limits.progress = progress;
  compare.limits.progress = progress;

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
  if (g_wanted && !*sweep_cmd) arm_signal_handlers();
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
