#pragma once
// The OS side: the Linux NMI dispatch port, KVM's NMI-exit path, the System.
#include "fredsim/kernel_model/kernel.hpp"
#include "fredsim/kernel_model/kvm.hpp"
#include "fredsim/kernel_model/nmi.hpp"
#include "fredsim/kernel_model/system.hpp"
