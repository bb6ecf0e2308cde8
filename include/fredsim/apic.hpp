#pragma once
// The local APIC and interconnect layer (docs/architecture.md "Layers").
#include "fredsim/apic/constants.hpp"
#include "fredsim/apic/delivery_mode.hpp"
#include "fredsim/apic/icr.hpp"
#include "fredsim/apic/interconnect.hpp"
#include "fredsim/apic/local_apic.hpp"
#include "fredsim/apic/lvt.hpp"
#include "fredsim/apic/nmi_sink.hpp"
#include "fredsim/sim/bit_field.hpp"
