#pragma once
// The exit statuses of the fredsim command (docs/cli.md "Exit status").
namespace fredsim::cli {

enum ExitCode : int {
  kExitPassed = 0,    // every expectation holds
  kExitFailed = 1,    // an expectation failed
  kExitBadInput = 2,  // bad file, bad key, bad value, inconsistent system, write error
  kExitBadUsage = 2,  // bad command line
  kExitCutShort = 3,  // --max-cycles or --max-wall stopped the run before its end
  kExitNoMemory = 4,  // memory ran out while loading or running (not bad input)
  // A signal: 128 + its number (130 SIGINT, 143 SIGTERM), as a shell reports it.
};

}  // namespace fredsim::cli
