#pragma once
// fredsim's diagnostics logger, for .cpp files only. Debug and trace calls are
// compiled out of release builds by SPDLOG_ACTIVE_LEVEL.
#ifndef SPDLOG_ACTIVE_LEVEL
#ifdef NDEBUG
#define SPDLOG_ACTIVE_LEVEL SPDLOG_LEVEL_INFO
#else
#define SPDLOG_ACTIVE_LEVEL SPDLOG_LEVEL_TRACE
#endif
#endif
#include <spdlog/spdlog.h>

namespace fredsim::detail {
spdlog::logger& logger();
}  // namespace fredsim::detail

#define FREDSIM_LOG_DEBUG(...) SPDLOG_LOGGER_DEBUG(&::fredsim::detail::logger(), __VA_ARGS__)
#define FREDSIM_LOG_INFO(...) SPDLOG_LOGGER_INFO(&::fredsim::detail::logger(), __VA_ARGS__)
#define FREDSIM_LOG_WARN(...) SPDLOG_LOGGER_WARN(&::fredsim::detail::logger(), __VA_ARGS__)
