#pragma once
// Where `fredsim step` reads its commands: a stream (a pipe, a file, a test's
// string) line by line, or a terminal through libedit, BSD's line editor (Debian
// libedit-dev), with editing, history and completion.
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fredsim::cli {

class LineInput {
 public:
  enum class Read {
    line,         // a line was read (without its newline)
    end,          // end of input (^D at a terminal)
    interrupted,  // a signal came while waiting (^C): the typed text is dropped
  };
  virtual ~LineInput() = default;
  /// Shows `prompt` and reads one line into `line`.
  virtual Read read(std::string_view prompt, std::string& line) = 0;
  /// True at a terminal: there an empty line repeats the last command, as in gdb;
  /// from a script it does nothing.
  virtual bool terminal() const = 0;
  /// Adds a line to the history (a terminal's; a stream keeps none).
  virtual void remember(const std::string& line) { (void)line; }
};

/// The completions of the word under the cursor, given the text before it.
using Completer = std::function<std::vector<std::string>(std::string_view before_cursor)>;

/// Reads `in`, writing the prompt to `out`. A read that a SIGINT breaks
/// (signals.hpp) is `interrupted`.
std::unique_ptr<LineInput> stream_input(std::istream& in, std::ostream& out);

/// libedit on the process's stdin and stdout, which must be terminals (see
/// stdio_is_terminal()); TAB completes with `complete`. `out`, the command's
/// stream on stdout, is flushed before each prompt. A SIGINT or SIGTERM while
/// it waits ends the read (`interrupted`).
std::unique_ptr<LineInput> terminal_input(std::ostream& out, Completer complete);

/// True when stdin and stdout are both terminals.
bool stdio_is_terminal();

}  // namespace fredsim::cli
