// `fredsim step` (step_command.hpp).
#include "step_command.hpp"

#include <CLI/CLI.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "exit_codes.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "fredsim/scenario/report.hpp"
#include "line_editor.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "signals.hpp"

namespace fredsim::cli {

using namespace fredsim::scenario;

namespace {

constexpr std::string_view kStepHelp =
    "commands (Enter on an empty line repeats the last one at a terminal):\n"
    "  s, step [N]            run the next N events (default 1)\n"
    "  u, until CYCLE         run every event up to CYCLE (also: run CYCLE)\n"
    "  c, continue            run to the next breakpoint, or to the end\n"
    "  b, break [cycle] N     stop `continue` at cycle N, after its events\n"
    "  break handler NAME     stop `continue` after a call of handler NAME (host or guest)\n"
    "  break cpu N            stop `continue` after an event on CPU N\n"
    "  info break             list the breakpoints, with their numbers and hits\n"
    "  delete [N...]          remove breakpoints N..., or every one\n"
    "  p, print WHAT          show state: cpu N, apic N, vmcs N, handlers, stats\n"
    "                         vm NAME (a [[vm]]: its vCPUs, KVM's virtual NMIs, handlers)\n"
    "                         vcpu [VM] N (one vCPU; VM may be left out with one VM)\n"
    "  result                 the summary so far, with expectations\n"
    "  q, quit                end stepping (prints the summary)\n"
    "  h, help                this text\n";

/// The command names completion offers (the short forms are not offered).
constexpr std::string_view kCommands[] = {"step",   "until", "run",    "continue", "break", "info",
                                          "delete", "print", "result", "quit",     "help"};

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

std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

void print_lines(std::ostream& out, const std::vector<std::string>& lines) {
  for (const auto& l : lines)
    out << l << '\n';
  out.flush();  // stepping is watched as it goes
}

/// A `continue` stop: a cycle, a handler's call, or any event of one CPU.
struct Breakpoint {
  enum class Kind : std::uint8_t { cycle, handler, cpu };
  std::uint32_t number = 0;
  Kind kind = Kind::cycle;
  Cycle cycle = 0;
  std::string handler;
  CpuId cpu = 0;
  std::uint64_t hits = 0;

  std::string describe() const {
    switch (kind) {
      case Kind::cycle:
        return fmt::format("cycle {}", cycle);
      case Kind::handler:
        return "handler " + handler;
      case Kind::cpu:
        return fmt::format("cpu {}", cpu);
    }
    return "?";
  }
  /// A handler or CPU breakpoint against the trace text of one step
  /// (docs/format.md "Trace"): `handler_call handler=NAME `, or a guest
  /// kernel's `handler_call vm=VM vcpu=N handler=NAME ` ("Guest records"),
  /// ` cpu=N `.
  bool hit_by(const std::vector<std::string>& lines) const {
    if (kind == Kind::cycle) return false;
    if (kind == Kind::handler) {
      const std::string host = "handler_call handler=" + handler + " ";
      const std::string guest = " handler=" + handler + " ";
      for (const auto& l : lines) {
        if (l.find(host) != std::string::npos) return true;
        if (l.find("handler_call vm=") != std::string::npos && l.find(guest) != std::string::npos)
          return true;
      }
      return false;
    }
    const std::string text = fmt::format(" cpu={} ", cpu);
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
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

/// The commands of one session: the state they share and what each does.
class Stepper {
 public:
  Stepper(const ScenarioSpec& spec, ScenarioSession& session, std::ostream& out)
      : spec_(spec), session_(session), out_(out) {}

  /// Runs one command line (not empty); false when it is `quit`.
  bool execute(const std::string& line);
  /// Whether Enter may repeat the command: not `break` (a second breakpoint),
  /// `delete` or `quit`, as gdb does not repeat what would do harm twice.
  static bool repeatable(const std::string& line) {
    const auto w = split_words(line);
    if (w.empty()) return false;
    const std::string& v = w.front();
    return !(v == "b" || v == "break" || v == "delete" || v == "d" || v == "q" || v == "quit" ||
             v == "exit");
  }
  StepVocabulary vocabulary() const {
    StepVocabulary v;
    v.handlers = known_handlers(spec_, session_);
    v.cpus = spec_.system.cpus;
    for (const auto& b : breakpoints_)
      v.breakpoints.push_back(b.number);
    for (const VmSpec& vm : spec_.vms)
      v.vms.push_back({vm.name, static_cast<std::uint32_t>(vm.cpus.size())});
    return v;
  }

 private:
  void step(const std::vector<std::string>& args);
  void until(const std::string& verb, const std::vector<std::string>& args);
  void cont();
  void add_break(const std::vector<std::string>& args);
  void info(const std::vector<std::string>& args);
  void remove(const std::vector<std::string>& args);
  void result();
  /// The next cycle breakpoint after now, or kNever.
  Cycle next_cycle_stop() const {
    Cycle next = kNever;
    for (const auto& b : breakpoints_) {
      if (b.kind == Breakpoint::Kind::cycle && b.cycle > session_.now())
        next = std::min(next, b.cycle);
    }
    return next;
  }

  const ScenarioSpec& spec_;
  ScenarioSession& session_;
  std::ostream& out_;
  std::vector<Breakpoint> breakpoints_;
  std::uint32_t next_number_ = 1;  // numbers are never reused, as in gdb
};

/// ^C (SIGINT) stops what runs: says where and comes back to the prompt.
bool interrupted(std::ostream& out, const ScenarioSession& session) {
  if (!take_sigint()) return false;
  out << "interrupted at cycle " << session.now() << '\n';
  return true;
}

bool Stepper::execute(const std::string& line) {
  std::vector<std::string> words = split_words(line);
  const std::string verb = words.front();
  words.erase(words.begin());
  if (verb == "q" || verb == "quit" || verb == "exit") return false;
  if (verb == "h" || verb == "help") {
    out_ << kStepHelp;
  } else if (verb == "s" || verb == "step") {
    step(words);
  } else if (verb == "r" || verb == "run" || verb == "u" || verb == "until") {
    until(verb, words);
  } else if (verb == "c" || verb == "continue") {
    cont();
  } else if (verb == "b" || verb == "break") {
    add_break(words);
  } else if (verb == "i" || verb == "info") {
    info(words);
  } else if (verb == "d" || verb == "delete") {
    remove(words);
  } else if (verb == "p" || verb == "print") {
    std::string what;
    for (const auto& w : words)
      what += (what.empty() ? "" : " ") + w;
    auto text = session_.print(what);
    out_ << (text ? *text : text.error().message) << '\n';
  } else if (verb == "result") {
    result();
  } else {
    out_ << "unknown command '" << verb << "'; 'help' lists the commands\n";
  }
  return true;
}

void Stepper::step(const std::vector<std::string>& args) {
  auto n = args.empty() ? std::optional<Cycle>(1) : parse_cycle(args.front());
  if (!n || args.size() > 1) {
    out_ << "step: '" << fmt::format("{}", fmt::join(args, " ")) << "' is not a count\n";
    return;
  }
  for (Cycle i = 0; i < *n && !session_.done() && caught_signal() == 0; ++i)
    print_lines(out_, session_.step());
  if (interrupted(out_, session_)) return;
  if (session_.done()) out_ << "no events left\n";
}

void Stepper::until(const std::string& verb, const std::vector<std::string>& args) {
  auto c = args.size() == 1 ? parse_cycle(args.front()) : std::nullopt;
  if (!c) {
    out_ << verb << ": give a cycle (until 5000)\n";
    return;
  }
  if (*c < session_.now()) {
    out_ << fmt::format("{}: cycle {} is past (now {})\n", verb, *c, session_.now());
    return;
  }
  print_lines(out_, session_.run_to(*c));
  interrupted(out_, session_);
}

void Stepper::cont() {
  // Event by event, so handler and CPU breakpoints see every step. A cycle
  // breakpoint splits the run there: the events up to its cycle run, then the
  // clock moves to it, between two events (ScenarioSession::run_to), so the
  // stop is at the cycle asked for even when no event falls on it.
  std::vector<Breakpoint*> hit;
  // Fixed before the first event: once the events of its cycle have run, the
  // clock is at it, no longer after it.
  const Cycle stop = next_cycle_stop();
  while (!session_.done() && hit.empty() && caught_signal() == 0) {
    if (stop != kNever && session_.next_cycle() > stop) {
      print_lines(out_, session_.run_to(stop));
      if (caught_signal() != 0) break;
      for (auto& b : breakpoints_) {
        if (b.kind == Breakpoint::Kind::cycle && b.cycle == stop) hit.push_back(&b);
      }
      break;
    }
    const auto lines = session_.step();
    print_lines(out_, lines);
    for (auto& b : breakpoints_) {
      if (b.hit_by(lines)) hit.push_back(&b);
    }
  }
  if (interrupted(out_, session_)) return;
  if (hit.empty()) {
    out_ << "no events left\n";
    return;
  }
  for (Breakpoint* b : hit) {
    ++b->hits;
    if (b->kind == Breakpoint::Kind::cycle) {
      const Cycle next = session_.next_cycle();
      out_ << fmt::format(
          "breakpoint {}, {}: stopped at cycle {}{}\n", b->number, b->describe(), session_.now(),
          session_.done() ? std::string(", no events left")
                          : fmt::format(", between events (the next at cycle {})", next));
    } else {
      out_ << fmt::format("breakpoint {}, {}: stopped at cycle {}\n", b->number, b->describe(),
                          session_.now());
    }
  }
}

void Stepper::add_break(const std::vector<std::string>& args) {
  constexpr std::string_view kUsage = "give a cycle, 'cycle N', 'handler NAME' or 'cpu N'";
  if (args.empty()) {
    out_ << "break: " << kUsage << '\n';
    return;
  }
  const std::string& what = args.front();
  const bool keyword = what == "cycle" || what == "handler" || what == "cpu";
  const std::size_t want = keyword ? 2 : 1;
  if (args.size() > want) {
    out_ << fmt::format("break: '{}' is one word too many ({})\n", args[want], kUsage);
    return;
  }
  const std::string value = keyword && args.size() == 2 ? args[1] : keyword ? "" : what;
  Breakpoint b;
  if (what == "handler") {
    // A breakpoint that can never hit is refused, not kept silently.
    std::vector<std::string> names = known_handlers(spec_, session_);
    if (std::find(names.begin(), names.end(), value) == names.end()) {
      out_ << fmt::format("break handler: {} (handlers: {})\n",
                          value.empty() ? "give a name" : "no handler '" + value + "'",
                          fmt::join(names, ", "));
      return;
    }
    b.kind = Breakpoint::Kind::handler;
    b.handler = value;
  } else if (what == "cpu") {
    const auto cpu = parse_cycle(value);
    const std::uint32_t cpus = spec_.system.cpus;
    if (!cpu || *cpu >= cpus) {
      out_ << fmt::format("break cpu: {}: the system has {} CPU{} (0..{})\n",
                          value.empty() ? std::string("give a CPU number")
                          : cpu         ? fmt::format("CPU {} is out of range", value)
                                        : fmt::format("'{}' is not a CPU number", value),
                          cpus, cpus == 1 ? "" : "s", cpus - 1);
      return;
    }
    b.kind = Breakpoint::Kind::cpu;
    b.cpu = static_cast<CpuId>(*cpu);
  } else {
    const auto c = parse_cycle(value);
    if (!c) {
      out_ << (value.empty() ? std::string("break cycle: give a cycle (break cycle 5000)\n")
                             : fmt::format("break: '{}' is not a cycle ({})\n", value, kUsage));
      return;
    }
    if (*c <= session_.now()) {
      out_ << fmt::format(
          "break cycle: cycle {} is not after now (cycle {}): `continue` could never stop there\n",
          *c, session_.now());
      return;
    }
    if (spec_.system.end && *c > *spec_.system.end) {
      out_ << fmt::format(
          "break cycle: cycle {} is after the scenario's end (system.end = {}): `continue` "
          "could never stop there\n",
          *c, *spec_.system.end);
      return;
    }
    b.cycle = *c;
  }
  b.number = next_number_++;
  breakpoints_.push_back(b);
  out_ << "breakpoint " << b.number << ": " << b.describe() << '\n';
}

void Stepper::info(const std::vector<std::string>& args) {
  if (args.size() != 1 || !(args[0] == "break" || args[0] == "breakpoints" || args[0] == "b")) {
    out_ << "info: only 'info break' (the breakpoints); 'print' shows the machine's state\n";
    return;
  }
  if (breakpoints_.empty()) {
    out_ << "no breakpoints\n";
    return;
  }
  out_ << fmt::format("{:<4} {:<24} {}\n", "num", "stops at", "hits");
  for (const auto& b : breakpoints_) {
    out_ << fmt::format("{:<4} {:<24} {}\n", b.number, b.describe(), b.hits);
  }
}

void Stepper::remove(const std::vector<std::string>& args) {
  if (args.empty()) {
    out_ << fmt::format("deleted {} breakpoint{}\n", breakpoints_.size(),
                        breakpoints_.size() == 1 ? "" : "s");
    breakpoints_.clear();
    return;
  }
  // Every number is checked before any is removed: a typo removes nothing.
  std::vector<std::uint32_t> numbers;
  for (const auto& a : args) {
    const auto n = parse_cycle(a);
    const bool known = n && std::any_of(breakpoints_.begin(), breakpoints_.end(),
                                        [&](const Breakpoint& b) { return b.number == *n; });
    if (!known) {
      std::vector<std::uint32_t> have;
      for (const auto& b : breakpoints_)
        have.push_back(b.number);
      out_ << fmt::format("delete: {} ({}); nothing deleted\n",
                          n ? fmt::format("no breakpoint {}", a)
                            : fmt::format("'{}' is not a breakpoint number", a),
                          have.empty() ? std::string("there are none")
                                       : fmt::format("breakpoints: {}", fmt::join(have, ", ")));
      return;
    }
    numbers.push_back(static_cast<std::uint32_t>(*n));
  }
  for (std::uint32_t n : numbers) {
    const auto it = std::find_if(breakpoints_.begin(), breakpoints_.end(),
                                 [&](const Breakpoint& b) { return b.number == n; });
    if (it == breakpoints_.end()) continue;  // named twice
    out_ << "deleted breakpoint " << n << ": " << it->describe() << '\n';
    breakpoints_.erase(it);
  }
}

void Stepper::result() {
  ScenarioResult r = session_.result();
  apply_expectations(spec_, r);
  write_summary(out_, r, session_.done() ? RunState::ended : RunState::running);
}

}  // namespace

std::vector<std::string> step_completions(std::string_view before_cursor,
                                          const StepVocabulary& words) {
  std::vector<std::string> done = split_words(before_cursor);
  std::string partial;
  if (!before_cursor.empty() && before_cursor.back() != ' ' && before_cursor.back() != '\t') {
    partial = done.back();
    done.pop_back();
  }
  std::vector<std::string> options;
  auto cpu_numbers = [&] {
    for (std::uint32_t c = 0; c < words.cpus; ++c)
      options.push_back(std::to_string(c));
  };
  const std::string verb = done.empty() ? "" : done.front();
  if (done.empty()) {
    options.assign(std::begin(kCommands), std::end(kCommands));
  } else if (verb == "b" || verb == "break") {
    if (done.size() == 1) {
      options = {"cycle", "handler", "cpu"};
    } else if (done.size() == 2 && done[1] == "handler") {
      options = words.handlers;
    } else if (done.size() == 2 && done[1] == "cpu") {
      cpu_numbers();
    }
  } else if (verb == "p" || verb == "print") {
    auto vcpu_numbers = [&](std::uint32_t n) {
      for (std::uint32_t c = 0; c < n; ++c)
        options.push_back(std::to_string(c));
    };
    if (done.size() == 1) {
      options = {"cpu", "apic", "vmcs", "handlers", "stats"};
      if (!words.vms.empty()) options.insert(options.end(), {"vm", "vcpu"});
    } else if (done.size() == 2 && (done[1] == "cpu" || done[1] == "apic" || done[1] == "vmcs")) {
      cpu_numbers();
    } else if (done.size() == 2 && (done[1] == "vm" || done[1] == "vcpu")) {
      for (const auto& vm : words.vms)
        options.push_back(vm.name);
      // `print vcpu N` takes the number alone when there is one VM.
      if (done[1] == "vcpu" && words.vms.size() == 1) vcpu_numbers(words.vms[0].vcpus);
    } else if (done.size() == 3 && done[1] == "vcpu") {
      for (const auto& vm : words.vms) {
        if (vm.name == done[2]) vcpu_numbers(vm.vcpus);
      }
    }
  } else if ((verb == "i" || verb == "info") && done.size() == 1) {
    options = {"break"};
  } else if (verb == "d" || verb == "delete") {
    for (std::uint32_t n : words.breakpoints) {
      const std::string s = std::to_string(n);
      if (std::find(done.begin() + 1, done.end(), s) == done.end()) options.push_back(s);
    }
  }
  std::erase_if(options, [&](const std::string& o) { return !o.starts_with(partial); });
  return options;
}

int step_command(const StepCommand& cmd, const ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err) {
  auto spec = load(cmd.file, cmd.overrides);
  if (!spec) return report_error(err, spec.error());
  RunOptions options;
  options.limits.interrupt = interrupt_flag();
  auto started = runner.start(*spec, options);
  if (!started) return report_error(err, started.error());
  ScenarioSession& session = **started;
  Stepper stepper(*spec, session, out);
  // A terminal gets line editing, history and completion; anything else (a
  // pipe, a file, a test's stream) is read line by line, as a script.
  std::unique_ptr<LineInput> input =
      &in == &std::cin && stdio_is_terminal()
          ? terminal_input(out,
                           [&](std::string_view before) {
                             return step_completions(before, stepper.vocabulary());
                           })
          : stream_input(in, out);

  out << "fredsim step: " << spec->name << " (" << spec->events.size()
      << " events); 'help' lists the commands\n";
  std::string line, last;
  bool time_reported = false;
  // ^C (SIGINT) stops what runs and comes back to the prompt; SIGTERM ends the
  // session as `quit` would, with exit status 143.
  while (caught_signal() != SIGTERM) {
    take_sigint();  // a ^C during `print` or `result`: nothing left to stop
    // The run reached the end of simulated time (docs/scenarios.md "Limits"): say
    // so once, rather than looking like a run that ended.
    if (!time_reported) {
      if (Status st = session.status(); !st) {
        out << st.error().message << '\n';
        time_reported = true;
      }
    }
    const std::string prompt =
        fmt::format("(fredsim {}{}) ", session.now(), session.done() ? ", done" : "");
    const LineInput::Read got = input->read(prompt, line);
    if (got == LineInput::Read::end) break;
    if (got == LineInput::Read::interrupted) {
      if (!take_sigint()) break;  // SIGTERM
      // ^C at the prompt: a new prompt, as a shell gives; quit or ^D leaves.
      out << "\n(^C: 'quit' or end of input leaves)\n";
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      // Enter repeats the last command at a terminal (gdb); a script's empty
      // line does nothing.
      if (!input->terminal() || last.empty()) continue;
      line = last;
    } else {
      input->remember(line);
      last = Stepper::repeatable(line) ? line : std::string();
    }
    if (!stepper.execute(line)) break;
  }
  out << '\n';
  ScenarioResult r = session.result();
  apply_expectations(*spec, r);
  write_summary(out, r, session.done() ? RunState::ended : RunState::running);
  if (caught_signal() == SIGTERM) {
    err << "fredsim: stopped by SIGTERM at cycle " << session.now() << '\n';
    return signal_status(SIGTERM);
  }
  if (auto st = check_stdout(out); !st) return report_error(err, st);
  return r.passed ? kExitPassed : kExitFailed;
}

Subcommand add_step_subcommand(CLI::App& app, const CliContext& ctx) {
  struct State {
    StepCommand step;
    std::vector<std::string> step_sets;
  };
  auto state = std::make_shared<State>();
  StepCommand& step = state->step;
  std::vector<std::string>& step_sets = state->step_sets;
  CLI::App* step_cmd = app.add_subcommand(
      "step", "Step through a scenario interactively: step, run to a cycle, break, print state");
  step_cmd->footer(
      "Example:\n"
      "  fredsim step scenarios/swallow.toml          # then: help, break cycle 2000, continue\n"
      "  printf 'run 5000\\nprint cpu 1\\ncontinue\\n' | fredsim step scenarios/demo.toml");
  step_cmd->add_option("FILE", step.file, "Scenario file (TOML)")->required();
  step_cmd->add_option("--set", step_sets, "Override a key (as for run; repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);

  return {step_cmd, [state, &ctx] {
            state->step.overrides = to_overrides(state->step_sets);
            return step_command(state->step, ctx.runner, ctx.in, ctx.out, ctx.err);
          }};
}

}  // namespace fredsim::cli
