// The fredsim command: sets up the process (signals, stdout) and runs cli_main.
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "outputs.hpp"
#include "signals.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  fredsim::scenario::SystemRunner runner;
  // ^C and SIGTERM stop a run at its next event and still write its outputs.
  fredsim::cli::install_signal_handlers();
  // stdout through a buffer that keeps the reason of a failed write.
  auto stdout_buf = fredsim::cli::fd_streambuf(1);
  std::ostream out(stdout_buf.get());
  const int status = fredsim::cli::cli_main(args, runner, std::cin, out, std::cerr);
  out.flush();  // what --help printed; the commands check their own writes
  return status;
}
