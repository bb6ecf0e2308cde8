#pragma once
// What every simulated component needs from its System: the clock and event
// queue, the timing profile and the trace sinks. Held by reference; the System
// owns them and outlives its components.
#include "fredsim/sim/event_queue.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/sim/trace.hpp"

namespace fredsim {

struct SimContext {
  EventQueue& queue;
  TimingProfile& timing;
  Tracer& tracer;

  Cycle now() const { return queue.now(); }
  Cycle cost(TimingParam p) const { return timing.get(p); }
};

}  // namespace fredsim
