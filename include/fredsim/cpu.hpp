#pragma once
// The CPU layer: FRED/IDT delivery, the NMI latch, return instructions, MSRs.
#include "fredsim/cpu/arch.hpp"
#include "fredsim/cpu/cpu.hpp"
#include "fredsim/cpu/fault.hpp"
#include "fredsim/cpu/fred_frame.hpp"
#include "fredsim/cpu/fred_msrs.hpp"
#include "fredsim/cpu/msr_device.hpp"
