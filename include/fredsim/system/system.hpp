#pragma once
// A whole simulated system: the machine (CPUs, APICs, VMX) with the Linux
// kernel model booted on it. Build one in code, step it one event at a time, run
// it to a cycle or to idle, and inspect it between steps (docs/architecture.md "Public API").
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "fredsim/kernel/kernel.hpp"
#include "fredsim/kernel/kvm.hpp"
#include "fredsim/kernel/vm.hpp"
#include "fredsim/machine/machine.hpp"

namespace fredsim::system {

struct SystemConfig {
  machine::MachineConfig machine;
  kernel::KernelConfig kernel;
};

class System {
 public:
  /// Builds the machine and boots the kernel on it; an inconsistent
  /// configuration is an error naming what is wrong.
  static Result<std::unique_ptr<System>> create(const SystemConfig& config);
  ~System();

  machine::Machine& machine() { return *machine_; }
  kernel::Kernel& kernel() { return *kernel_; }
  kernel::Kvm& kvm() { return *kvm_; }
  /// Adds a VM with its guest kernel (docs/vmx.md "Guests with a kernel of their
  /// own"); it runs once started (Vm::start(), the scenario's `at`).
  kernel::Vm& add_vm(kernel::VmConfig config);
  std::span<const std::unique_ptr<kernel::Vm>> vms() const { return vms_; }
  Cycle now() const { return machine_->now(); }

  /// Runs the next event; nothing when idle or after a panic stopped the machine.
  std::optional<StepInfo> step();
  /// Runs the events up to and including `cycle` (fewer after a panic).
  std::uint64_t run_until(Cycle cycle);
  /// Runs until no event is left (or a panic), at most `max_events`.
  std::uint64_t run_to_idle(std::uint64_t max_events = ~std::uint64_t{0});
  bool idle() { return machine_->queue().next_cycle() == kNever; }

  /// Runs `action` at `cycle` (>= now), in the order of scheduling for equal
  /// cycles: scenario events, test drivers. The action list is setup storage.
  void at(Cycle cycle, std::function<void()> action);
  /// Keeps `owned` alive as long as the System (a driver of its events, say).
  void adopt(std::shared_ptr<void> owned) { owned_.push_back(std::move(owned)); }
  bool stopped() const { return kernel_->machine_halted(); }
  /// The flag behind stopped(), for EventQueue::run_batch.
  const bool& stopped_flag() const { return kernel_->machine_halted_flag(); }

 private:
  System() = default;
  struct Actions;
  std::unique_ptr<machine::Machine> machine_;
  std::unique_ptr<kernel::Kernel> kernel_;
  std::unique_ptr<kernel::Kvm> kvm_;
  std::vector<std::unique_ptr<kernel::Vm>> vms_;
  std::unique_ptr<Actions> actions_;
  std::vector<std::shared_ptr<void>> owned_;
};

}  // namespace fredsim::system
