#pragma once
// The VMX layer: VMCS fields and their typed values, VMREAD/VMWRITE, VM entry and
// the NMI-induced VM exit (docs/hardware.md §4 "VMX").
#include "fredsim/vmx/controls.hpp"
#include "fredsim/vmx/exit_handler.hpp"
#include "fredsim/vmx/exit_reason.hpp"
#include "fredsim/vmx/fields.hpp"
#include "fredsim/vmx/interruptibility.hpp"
#include "fredsim/vmx/intr_info.hpp"
#include "fredsim/vmx/vm_instruction_error.hpp"
#include "fredsim/vmx/vmcs.hpp"
#include "fredsim/vmx/vmx_cpu.hpp"
