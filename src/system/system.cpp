#include "fredsim/system/system.hpp"

namespace fredsim::system {

/// Actions scheduled with at(): each event's arg is the index of its action.
struct System::Actions final : EventTarget {
  std::vector<std::function<void()>> list;
  void on_event(std::uint32_t, std::uint64_t arg) override { list[arg](); }
  std::string_view event_name(std::uint32_t) const override { return "action"; }
};

void System::at(Cycle cycle, std::function<void()> action) {
  actions_->list.push_back(std::move(action));
  machine_->queue().schedule(cycle, *actions_, 0, actions_->list.size() - 1);
}

Result<std::unique_ptr<System>> System::create(const SystemConfig& config) {
  auto machine = machine::Machine::create(config.machine);
  if (!machine.ok()) return machine.error();
  std::unique_ptr<System> s(new System());
  s->machine_ = std::move(*machine);
  s->kernel_ = std::make_unique<kernel::Kernel>(*s->machine_, config.kernel);
  s->kernel_->boot();
  s->kvm_ = std::make_unique<kernel::Kvm>(*s->machine_, *s->kernel_);
  s->actions_ = std::make_unique<Actions>();
  return s;
}

System::~System() = default;

kernel::Vm& System::add_vm(kernel::VmConfig config) {
  vms_.push_back(std::make_unique<kernel::Vm>(*machine_, *kvm_, std::move(config)));
  return *vms_.back();
}

std::optional<StepInfo> System::step() {
  if (stopped()) return std::nullopt;
  return machine_->queue().step();
}

std::uint64_t System::run_until(Cycle cycle) {
  if (stopped()) return 0;
  const std::uint64_t ran = machine_->queue().run_batch(cycle, ~std::uint64_t{0}, stopped_flag());
  if (!stopped()) machine_->queue().run_until(cycle);  // advances the clock to `cycle`
  return ran;
}

std::uint64_t System::run_to_idle(std::uint64_t max_events) {
  if (stopped()) return 0;
  return machine_->queue().run_batch(kNever, max_events, stopped_flag());
}

}  // namespace fredsim::system
