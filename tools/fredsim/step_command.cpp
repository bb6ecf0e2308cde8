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
#include "options.hpp"
#include "outputs.hpp"
#include "signals.hpp"

namespace fredsim::cli {

using namespace fredsim::scenario;

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
  options.limits.interrupt = interrupt_flag();
  auto started = runner.start(*spec, options);
  if (!started) return report_error(err, started.error());
  ScenarioSession& session = **started;
  std::vector<Breakpoint> breakpoints;
  // ^C (SIGINT) stops what runs and comes back to the prompt; SIGTERM ends the
  // session as `quit` would, with exit status 143.
  auto interrupted = [&] {
    if (!take_sigint()) return false;
    out << "interrupted at cycle " << session.now() << '\n';
    return true;
  };

  out << "fredsim step: " << spec->name << " (" << spec->events.size()
      << " events); 'help' lists the commands\n";
  std::string line;
  bool time_reported = false;
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
      for (Cycle i = 0; i < *n && !session.done() && caught_signal() == 0; ++i)
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
      while (!session.done() && hit == nullptr && caught_signal() == 0) {
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
      "  fredsim step scenarios/swallow.toml          # then: help, step, break handler NAME, ...\n"
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
