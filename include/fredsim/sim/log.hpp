#pragma once
// Diagnostics logging (spdlog behind this interface), off by default.
#include <string_view>

namespace fredsim {

enum class LogLevel { trace, debug, info, warn, error, off };

/// Sets the level of fredsim's diagnostics logger (stderr). Default: off.
void set_log_level(LogLevel level);
/// Parses "trace|debug|info|warn|error|off".
bool parse_log_level(std::string_view text, LogLevel& out);

}  // namespace fredsim
