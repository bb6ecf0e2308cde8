#pragma once
// The OS side: the Linux NMI dispatch port and KVM's NMI-exit path.
#include "fredsim/kernel/console.hpp"
#include "fredsim/kernel/handler_model.hpp"
#include "fredsim/kernel/handler_registry.hpp"
#include "fredsim/kernel/kernel.hpp"
#include "fredsim/kernel/kvm.hpp"
#include "fredsim/kernel/nmi.hpp"
#include "fredsim/kernel/platform.hpp"
#include "fredsim/kernel/selftest.hpp"
#include "fredsim/kernel/virtual_nmi.hpp"
