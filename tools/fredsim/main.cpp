// The fredsim command: a thin wrapper over fredsim::scenario::cli_main.
#include <iostream>
#include <string>
#include <vector>

#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/system_runner.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  fredsim::scenario::SystemRunner runner;
  return fredsim::scenario::cli_main(args, runner, std::cin, std::cout, std::cerr);
}
