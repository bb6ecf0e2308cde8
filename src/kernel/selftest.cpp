// The NMI selftest (docs/linux.md "The selftest"), after
// arch/x86/kernel/nmi_selftest.c: nmi_selftest, init_nmi_testsuite /
// cleanup_nmi_testsuite (the NMI_UNKNOWN catcher nmi_unk_cb), test_nmi_ipi's
// wait loop, dotest's verdicts and print_testname.
#include "fredsim/kernel/selftest.hpp"

#include <fmt/format.h>

#include <cassert>

#include "fredsim/kernel/kernel.hpp"
#include "kernel/kernel_internal.hpp"

namespace fredsim::kernel {

namespace {
constexpr std::string_view kUnknownName = "nmi_selftest_unk";
constexpr std::string_view kDashes20 = "--------------------";
}  // namespace

std::string Selftest::testcase_line(std::string_view name, Verdict v) {
  // print_testname: "%12s:"; dotest: a 7-character verdict ending in '|'.
  std::string_view verdict = "ERROR  |";
  switch (v) {
    case Verdict::ok:
      verdict = "  ok  |";
      break;
    case Verdict::failed:
      verdict = "FAILED |";
      break;
    case Verdict::timeout:
      verdict = "TIMEOUT|";
      break;
    case Verdict::error:
      break;
  }
  return fmt::format("{:>12}:{}", name, verdict);
}

std::vector<std::string> Selftest::summary_lines(const Counts& c) {
  // nmi_selftest's four branches, in its order; counts are "%3d".
  if (c.unexpected_failures != 0) {
    return {std::string(kDashes20),
            fmt::format("BUG: {:3} unexpected failures (out of {:3}) - debugging disabled! |",
                        c.unexpected_failures, c.total),
            std::string(65, '-')};
  }
  if (c.expected_failures != 0 && c.successes != 0) {
    return {std::string(kDashes20),
            fmt::format("{:3} out of {:3} testcases failed, as expected. |", c.expected_failures,
                        c.total),
            std::string(52, '-')};
  }
  if (c.expected_failures != 0) {
    return {std::string(kDashes20),
            fmt::format("All {:3} testcases failed, as expected. |", c.expected_failures),
            std::string(40, '-')};
  }
  return {std::string(kDashes20), fmt::format("Good, all {:3} testcases passed! |", c.successes),
          std::string(33, '-')};
}

void Selftest::run(CpuId from) {
  Console& console = kernel_.console();
  if (run_) {
    console.printk(from, "NMI selftest already running");
    return;
  }
  run_ = Run{};  // not emplace(): clang 14 sees the nested Run as not default-constructible
  from_ = from;
  ++report_.runs;
  Run& s = *run_;
  // init_nmi_testsuite: an NMI_UNKNOWN handler claims (and counts) every NMI
  // no LOCAL handler claimed until the run ends, so a stray NMI during the test
  // is neither "Uhhuh" nor a panic. One of that name already registered serves.
  HandlerRegistry& registry = kernel_.registry();
  if (registry.find_registered(NmiType::unknown, kUnknownName) != kNoHandler) {
    s.owns_unknown = false;
  } else {
    auto r = kernel_.register_nmi_handler(
        NmiType::unknown,
        [this](NmiType, const PtRegs&, NmiContext& ctx) {
          ctx.charge(TimingParam::selftest_check);
          ++report_.unknowns;
          return NMI_HANDLED;
        },
        0, kUnknownName);
    assert(r.ok());  // the name is free on the UNKNOWN list and reserved for no model
    (void)r;
  }
  console.printk(from, "----------------");
  console.printk(from, "| NMI testsuite:");
  console.printk(from, std::string(kDashes20));
  begin_stage();
}

void Selftest::begin_stage() {
  Run& s = *run_;
  machine::Machine& machine = kernel_.machine();
  HandlerRegistry& registry = kernel_.registry();
  s.targets.clear();
  if (s.stage == Stage::remote) {
    for (CpuId i = 0; i < kernel_.cpu_count(); ++i) {
      if (i != from_) s.targets.push_back(i);
    }
    if (s.targets.empty()) {
      // remote_ipi with no other CPU sends nothing; nmi_fail stays SUCCESS, so
      // dotest prints "  ok  |" and counts a success.
      record(Verdict::ok);
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
  const KernelCpuState& sender = kernel_.cpu_state(from_);
  // test_nmi_ipi's loop runs in process context on the testing CPU: while that
  // CPU is inside an NMI the loop does not run, and a CPU stopped for good
  // never comes back to it.
  if (sender.halted || kernel_.panicked()) return;
  if (sender.in_dispatch) {
    machine.queue().schedule_in(machine.timing().get(TimingParam::selftest_poll), *this, 0);
    return;
  }
  bool empty = true;
  for (CpuId t : s.targets)
    empty = empty && registry.pending_work(s.handler, t) == 0;
  if (empty || machine.now() >= s.deadline) {
    if (s.owns_handler) {
      kernel_.unregister_nmi_handler(NmiType::local, registry.handler(s.handler).name);
    }
    // A timed-out test leaves its bits: they are not the kernel's work any more.
    for (CpuId t : s.targets)
      registry.take_work(s.handler, t);
    record(empty ? Verdict::ok : Verdict::timeout);
    return;
  }
  machine.queue().schedule_in(machine.timing().get(TimingParam::selftest_poll), *this, 0);
}

void Selftest::record(Verdict v) {
  Run& s = *run_;
  // dotest: every testcase expects SUCCESS.
  ++s.counts.total;
  switch (v) {
    case Verdict::ok:
      ++s.counts.successes;
      ++report_.passed;
      break;
    case Verdict::timeout:
      ++s.counts.unexpected_failures;
      ++report_.timeout;
      break;
    case Verdict::failed:
    case Verdict::error:
      ++s.counts.unexpected_failures;
      ++report_.failed;
      break;
  }
  // dotest's dump_stack() after a failure prints nothing here (docs/kernel.md
  // "Known differences from Linux").
  kernel_.console().printk(from_,
                           testcase_line(s.stage == Stage::remote ? "remote IPI" : "local IPI", v));
  if (s.stage == Stage::remote) {
    s.stage = Stage::local;
    begin_stage();
    return;
  }
  finish();
}

void Selftest::finish() {
  Run& s = *run_;
  // cleanup_nmi_testsuite, then the summary.
  if (s.owns_unknown) kernel_.unregister_nmi_handler(NmiType::unknown, kUnknownName);
  for (std::string& line : summary_lines(s.counts))
    kernel_.console().printk(from_, std::move(line));
  run_.reset();
}

}  // namespace fredsim::kernel
