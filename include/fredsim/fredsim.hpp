#pragma once
// fredsim: every public header of every layer, through the layer umbrellas
// (docs/architecture.md "Public API").
#include "fredsim/apic.hpp"
#include "fredsim/cpu.hpp"
#include "fredsim/kernel.hpp"
#include "fredsim/machine.hpp"
#include "fredsim/scenario.hpp"
#include "fredsim/sim.hpp"
#include "fredsim/study.hpp"
#include "fredsim/suite.hpp"
#include "fredsim/system.hpp"
#include "fredsim/vmx.hpp"
