#pragma once
// `fredsim list`: what a scenario may name (handler models, event types and their
// keys, timing parameters, suite targets), printed from the tables the loader and
// the suite read, so the list cannot drift from what they accept.
#include <iosfwd>
#include <string>

#include "subcommand.hpp"

namespace fredsim::cli {

/// The kinds `fredsim list` prints, in the order "all" prints them.
inline constexpr const char* kListKinds[] = {"models", "events", "timing", "targets", "all"};

/// Prints the list `what` names ("models", "events", "timing", "targets" or
/// "all") to `out`; exit status 0.
int list_command(const std::string& what, std::ostream& out);

Subcommand add_list_subcommand(CLI::App& app, const CliContext& ctx);

}  // namespace fredsim::cli
