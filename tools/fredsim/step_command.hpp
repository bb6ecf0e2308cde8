#pragma once
// `fredsim step`: steps through a scenario from commands read on stdin.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"
#include "subcommand.hpp"

namespace fredsim::cli {

struct StepCommand {
  std::string file;
  std::vector<scenario::Override> overrides;
};

/// What `fredsim step` completes words from.
struct StepVocabulary {
  std::vector<std::string> handlers;       // names `break handler` takes
  std::uint32_t cpus = 0;                  // CPU numbers are 0..cpus-1
  std::vector<std::uint32_t> breakpoints;  // numbers `delete` takes
  struct Vm {
    std::string name;
    std::uint32_t vcpus = 0;  // vCPU numbers are 0..vcpus-1
  };
  std::vector<Vm> vms;  // names `print vm` and `print vcpu` take
};

/// The completions of the last word of `before_cursor` (the whole line up to the
/// cursor; an empty last word when it ends in a space): command names, then the
/// words each command takes (break cycle/handler/cpu, print cpu/apic/vmcs/...,
/// handler names, CPU numbers, breakpoint numbers, VM names and vCPU numbers),
/// those that begin with it.
std::vector<std::string> step_completions(std::string_view before_cursor,
                                          const StepVocabulary& words);

/// Reads stepping commands until "quit" or the end of input: from a terminal
/// through libedit when `in` is std::cin and stdin and stdout are terminals,
/// else from `in` line by line.
int step_command(const StepCommand& cmd, const scenario::ScenarioRunner& runner, std::istream& in,
                 std::ostream& out, std::ostream& err);

Subcommand add_step_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
