#pragma once
// `fredsim completion bash`: a bash completion script made from the command line
// itself (its subcommands and their options), so it lists what the binary takes.
#include <iosfwd>

#include "subcommand.hpp"

namespace fredsim::cli {

/// Writes the bash completion script of `app` (every subcommand and option).
void write_bash_completion(CLI::App& app, std::ostream& out);

Subcommand add_completion_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
