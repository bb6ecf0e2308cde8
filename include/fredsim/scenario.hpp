#pragma once
// Scenario files, runs and results, as a library.
#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/scenario/trace_sinks.hpp"
