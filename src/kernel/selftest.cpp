// The NMI selftest (docs/linux.md "The selftest").
#include "fredsim/kernel/selftest.hpp"

#include <fmt/format.h>

#include <cassert>

#include "fredsim/kernel/kernel.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

void Selftest::run(CpuId from) {
  Console& console = kernel_.console();
  if (run_) {
    console.printk(from, "NMI selftest already running");
    return;
  }
  run_ = Run{};  // not emplace(): clang 14 sees the nested Run as not default-constructible
  from_ = from;
  ++report_.runs;
  console.printk(from, "----------------");
  console.printk(from, "| NMI testsuite:");
  console.printk(from, "--------------------");
  begin_stage();
}

void Selftest::begin_stage() {
  Run& s = *run_;
  machine::Machine& machine = kernel_.machine();
  HandlerRegistry& registry = kernel_.registry();
  s.targets.clear();
  if (s.stage == Stage::remote) {
    for (CpuId i = 0; i < machine.cpu_count(); ++i) {
      if (i != from_) s.targets.push_back(i);
    }
    if (s.targets.empty()) {
      // One CPU: the remote test is skipped and counts as passed.
      record(" remote IPI:", "  ok  | (skipped: no other CPU)", true, false);
      return;
    }
  } else {
    s.targets.push_back(from_);
  }
  // The test registers its handler for the stage and unregisters it after; a
  // handler of that name already registered (a scenario configuring it, the
  // name being reserved for this model) serves instead and stays.
  const ReservedHandler& d = reserved_handler(HandlerModel::selftest);
  if (const HandlerId h = registry.find_registered(NmiType::local, d.name); h != kNoHandler) {
    s.handler = h;
    s.owns_handler = false;
  } else {
    // Cannot be refused: the name is free on the list and reserved for this model.
    auto r = kernel_.register_model(NmiType::local, d.model, d.flags, d.name, d.vector);
    assert(r.ok());
    s.handler = *r;
    s.owns_handler = true;
  }
  for (CpuId t : s.targets)
    registry.add_work(s.handler, t);
  kernel_.send_nmi_ipi(from_, s.targets, nmis::VECTOR_TEST);
  // Wait up to a second for the mask to empty.
  s.deadline = machine.now() + machine.timing().get(TimingParam::core_mhz) * 1'000'000;
  machine.queue().schedule_in(machine.timing().get(TimingParam::selftest_poll), *this, 0);
}

void Selftest::on_event(std::uint32_t, std::uint64_t) {
  poll();
}

std::string_view Selftest::event_name(std::uint32_t) const {
  return "selftest_poll";
}

void Selftest::poll() {
  if (!run_) return;
  Run& s = *run_;
  machine::Machine& machine = kernel_.machine();
  HandlerRegistry& registry = kernel_.registry();
  bool empty = true;
  for (CpuId t : s.targets)
    empty = empty && registry.pending_work(s.handler, t) == 0;
  const char* name = s.stage == Stage::remote ? " remote IPI:" : "  local IPI:";
  if (empty || machine.now() >= s.deadline) {
    if (s.owns_handler) {
      kernel_.unregister_nmi_handler(NmiType::local, registry.handler(s.handler).name);
    }
    // A timed-out test leaves its bits: they are not the kernel's work any more.
    for (CpuId t : s.targets)
      registry.take_work(s.handler, t);
    record(name, empty ? "  ok  |" : "TIMEOUT|", empty, !empty);
    return;
  }
  machine.queue().schedule_in(machine.timing().get(TimingParam::selftest_poll), *this, 0);
}

void Selftest::record(const char* name, const char* verdict, bool passed, bool timeout) {
  Run& s = *run_;
  Console& console = kernel_.console();
  ++s.tests;
  if (passed) {
    ++report_.passed;
  } else {
    ++s.failures;
    if (timeout) {
      ++report_.timeout;
    } else {
      ++report_.failed;
    }
  }
  console.printk(from_, fmt::format("{} {}", name, verdict));
  if (s.stage == Stage::remote) {
    s.stage = Stage::local;
    begin_stage();
    return;
  }
  console.printk(from_, "--------------------");
  if (s.failures == 0) {
    console.printk(from_, fmt::format("Good, all {} testcases passed!", s.tests));
  } else {
    console.printk(from_,
                   fmt::format("BUG: {} unexpected failures (out of {})", s.failures, s.tests));
  }
  run_.reset();
}

}  // namespace fredsim::kernel
