#include "fredsim/sim/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include "sim/log_internal.hpp"

namespace fredsim {
namespace detail {

spdlog::logger& logger() {
  // One logger for the process, made on first use; it only formats when enabled.
  static spdlog::logger instance = [] {
    spdlog::logger l("fredsim", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l.set_level(spdlog::level::off);
    l.set_pattern("[fredsim %l] %v");
    return l;
  }();
  return instance;
}

}  // namespace detail

void set_log_level(LogLevel level) {
  static constexpr spdlog::level::level_enum kMap[] = {spdlog::level::trace, spdlog::level::debug,
                                                       spdlog::level::info,  spdlog::level::warn,
                                                       spdlog::level::err,   spdlog::level::off};
  detail::logger().set_level(kMap[static_cast<int>(level)]);
}

bool parse_log_level(std::string_view text, LogLevel& out) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"error", LogLevel::error}, {"off", LogLevel::off}};
  for (const auto& [name, level] : kNames) {
    if (name == text) {
      out = level;
      return true;
    }
  }
  return false;
}

}  // namespace fredsim
