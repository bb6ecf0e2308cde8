#pragma once
// What the study commands (sweep, sensitivity) share: writing a file whole,
// running a program found on PATH (gnuplot, python3) to draw a plot, and
// reading comma-separated names into a list.
#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "fredsim/sim/result.hpp"

namespace fredsim::cli {

/// Writes `text` whole to `path` or leaves the old file as it was.
Status write_file(const std::string& path, const std::string& text);

/// Runs a program found on PATH and waits for it: its exit status, or -1 when it
/// could not be started (not installed). `quiet` sends its output to /dev/null.
int run_program(const std::vector<std::string>& args, bool quiet = false);

/// python3 with matplotlib can be run.
bool have_matplotlib();
/// gnuplot can be run.
bool have_gnuplot();

/// Replaces `list` by the values `names` parse to, in order, without repeats;
/// no names keeps the defaults. CLI11 has checked each name already.
template <typename List, typename Parse>
void parse_names(const std::vector<std::string>& names, List& list, Parse parse) {
  if (names.empty()) return;
  list.clear();
  for (const auto& n : names) {
    typename List::value_type v{};
    if (parse(n, v) && std::find(list.begin(), list.end(), v) == list.end()) list.push_back(v);
  }
}

}  // namespace fredsim::cli
