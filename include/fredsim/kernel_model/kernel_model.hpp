#pragma once
// The OS side: the Linux NMI dispatch port and KVM's NMI-exit path.
#include "fredsim/kernel_model/console.hpp"
#include "fredsim/kernel_model/handler_model.hpp"
#include "fredsim/kernel_model/handler_registry.hpp"
#include "fredsim/kernel_model/kernel.hpp"
#include "fredsim/kernel_model/kvm.hpp"
#include "fredsim/kernel_model/nmi.hpp"
#include "fredsim/kernel_model/selftest.hpp"
