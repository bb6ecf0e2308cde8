// The fredsim command: a thin wrapper over fredsim::scenario::cli_main.
#include <iostream>
#include <string>
#include <vector>

#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/runner.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  // NullRunner stands in until the System-backed runner lands: it simulates nothing.
  fredsim::scenario::NullRunner runner;
  if (args.size() > 1 && (args[1] == "run" || args[1] == "compare" || args[1] == "step")) {
    std::cerr << "note: this build has no simulator yet (NullRunner): every count is zero\n";
  }
  return fredsim::scenario::cli_main(args, runner, std::cin, std::cout, std::cerr);
}
