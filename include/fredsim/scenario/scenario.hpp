#pragma once
// Scenario files, runs, results and the command line, as a library.
#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/scenario/suite.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
