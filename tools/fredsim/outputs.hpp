#pragma once
// The output files of a command (docs/cli.md "Output files"): every one is checked
// and opened before the run, written to a temporary file beside its target and
// renamed over it only when everything was written; a write error is reported,
// never ignored. Part of the command line (tools/fredsim).
#include <cstddef>
#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "fredsim/sim/result.hpp"

namespace fredsim::cli {

class OutputFiles {
 public:
  /// `stdout_` is where an output named "-" goes.
  explicit OutputFiles(std::ostream& stdout_);
  /// Removes the temporaries of outputs not committed: the targets stay as they were.
  ~OutputFiles();
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;

  /// A file the command reads, which no output may name.
  void add_input(std::string what, std::string path);
  /// An output: `option` names it in messages ("--json"). Returns its index.
  std::size_t add(std::string option, std::string path);

  /// Refuses one file named by two outputs, or an output that is an input, then
  /// opens every output (regular files as temporaries beside their targets).
  Status open_all();

  std::ostream& stream(std::size_t index);

  /// Flushes and closes every output and checks each; when all were written,
  /// renames the temporaries over their targets, else removes them. The error
  /// is "error: cannot write PATH: reason".
  Status commit();
  /// Removes every temporary (a failed or refused run): the targets stay as they were.
  void discard();

 private:
  struct Entry;
  std::ostream& stdout_;
  std::vector<std::pair<std::string, std::string>> inputs_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

/// A stream buffer over file descriptor `fd` that keeps its first write error,
/// so a failure to write stdout is reported with its reason: main() gives
/// cli_main an ostream over fd 1 made with it.
std::unique_ptr<std::streambuf> fd_streambuf(int fd);

/// Flushes `out` (the command's stdout) and reports a failure to write it as
/// "error: cannot write stdout: reason".
Status check_stdout(std::ostream& out);

}  // namespace fredsim::cli
