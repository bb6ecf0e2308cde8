#pragma once
// What the scenario layer reads from outside, checked the same way everywhere:
// input files (scenario, suite cfg, targets file) and the values an error message
// quotes back (docs/scenarios.md "Limits").
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "fredsim/sim/result.hpp"

namespace fredsim::scenario::input {

/// The largest input file read: a scenario, a cfg or a targets file is text
/// written by hand or by a script, far below this.
inline constexpr std::uintmax_t kMaxFileBytes = std::uintmax_t{64} << 20;

/// The bytes of a value an error message quotes before it clips the rest.
inline constexpr std::size_t kMaxEcho = 64;

/// Reads a whole input file: a regular file of at most kMaxFileBytes. Anything
/// else (a FIFO, a directory, a device, a socket) is refused before it is read,
/// so nothing blocks or reads forever. Errors are "PATH: error: WHAT"; memory
/// running out throws OutOfMemory.
Result<std::string> read_file(const std::string& path);

/// `value` as an error message quotes it: the first kMaxEcho bytes (never half a
/// UTF-8 character) and "... (N bytes)" when there are more. Control characters
/// show as '?', so a quoted value cannot break the message's one line.
std::string clip(std::string_view value);

/// The first byte of `text` that makes it not text: a NUL or a byte that is not
/// part of valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF
/// included).
struct BadByte {
  std::size_t offset = 0;
  std::uint32_t line = 1;    // 1-based
  std::uint32_t column = 1;  // 1-based, in bytes
  std::string what;          // "a NUL byte", "invalid UTF-8 (byte 0xff)"
};
std::optional<BadByte> find_bad_byte(std::string_view text);

/// Memory ran out while loading or running. It is not bad input, so it is never
/// an Error value: it is thrown, and the command line reports what() ("out of
/// memory while loading x.toml") with its own exit status (kExitNoMemory).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string what) : what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

}  // namespace fredsim::scenario::input
