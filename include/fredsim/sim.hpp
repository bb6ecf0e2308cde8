#pragma once
// The simulation core: cycles, the event queue, timing, tracing, statistics.
#include "fredsim/sim/bit_field.hpp"
#include "fredsim/sim/context.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/event_queue.hpp"
#include "fredsim/sim/log.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/sim/stats.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/sim/trace.hpp"
