#pragma once
// The small INI variant of unittests.cfg and of targets files (docs/suites.md
// "Format"): [section] lines, KEY = VALUE lines, '#' comments, and values in
// """...""" over several lines, as kvm-unit-tests' scripts/common.bash reads them.
// Only the lines are read here; what a key means is the caller's.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/sim/result.hpp"

namespace fredsim::suite::ini {

struct Item {
  enum class Kind : std::uint8_t { section, entry };
  Kind kind = Kind::entry;
  std::string name;   // the section's name, or the entry's key
  std::string value;  // entry: trimmed, comment removed; a """ value with its newlines
  std::uint32_t line = 0;
};

/// "SOURCE:LINE: error: WHAT", the form of every suite and targets file error.
Error error_at(std::string_view source, std::uint32_t line, std::string_view what);

/// Reads every line; an Error for a line that is neither blank, a comment, a
/// section nor an entry, for a """ value never closed, or for a NUL byte or
/// invalid UTF-8 anywhere (at its line, naming the column).
Result<std::vector<Item>> read(std::string_view text, std::string_view source);

/// Reads a whole file for read(): input::read_file (a regular file of at most
/// 64 MiB); an Error "PATH: error: ...".
Result<std::string> read_file(const std::string& path);

}  // namespace fredsim::suite::ini
