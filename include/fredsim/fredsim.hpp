#pragma once
// fredsim: every public header of every layer (docs/architecture.md "Public API").
#include "fredsim/apic/apic.hpp"
#include "fredsim/cpu/cpu_layer.hpp"
#include "fredsim/kernel/kernel_model.hpp"
#include "fredsim/machine/machine.hpp"
#include "fredsim/scenario/scenario.hpp"
#include "fredsim/sim/sim.hpp"
#include "fredsim/study/sweep.hpp"
#include "fredsim/suite/suite.hpp"
#include "fredsim/system/system.hpp"
#include "fredsim/vmx/vmx.hpp"
