#pragma once
// The machine layer: the hardware assembled (CPUs, APICs, interconnect, VMCSs,
// platform) and its size bounds.
#include "fredsim/machine/limits.hpp"
#include "fredsim/machine/machine.hpp"
