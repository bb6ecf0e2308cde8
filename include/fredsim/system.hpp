#pragma once
// The system layer: the composition root, a machine with the kernel booted on it.
#include "fredsim/system/system.hpp"
