#pragma once
// The study layer: sweeps of scenarios over a grid of parameters.
#include "fredsim/study/sweep.hpp"
