#pragma once
// Helpers for kernel-model tests: a booted System and common queries.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "fredsim/system/system.hpp"

namespace fredsim::testing {

inline system::SystemConfig make_config(std::uint32_t cpus, bool fred = true,
                                        bool nmi_source = true,
                                        kernel::Revision rev = kernel::Revision::v7) {
  system::SystemConfig c;
  c.machine.cpus = cpus;
  c.machine.features.fred = fred;
  c.machine.features.nmi_source = fred && nmi_source;
  c.machine.apic = apic::ApicMode::x2apic;
  c.kernel.revision = rev;
  return c;
}

inline std::unique_ptr<system::System> make_system(const system::SystemConfig& c) {
  auto s = system::System::create(c);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? std::move(*s) : nullptr;
}

inline bool console_has(const kernel::Kernel& k, const std::string& text) {
  for (const auto& l : k.console().lines()) {
    if (l.text.find(text) != std::string::npos) return true;
  }
  return false;
}

/// A handler that never claims an NMI.
inline int done(kernel::NmiType, const kernel::PtRegs&, kernel::NmiContext&) {
  return kernel::NMI_DONE;
}

}  // namespace fredsim::testing
