// Uses fredsim's public API from outside the source tree. Returns non-zero, with
// a message, when anything does not behave as documented in the headers.
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fredsim/fredsim.hpp>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

// Records the order in which the queue delivers its events.
class Recorder final : public fredsim::EventTarget {
 public:
  struct Seen {
    fredsim::Cycle cycle;
    std::uint32_t kind;
    std::uint64_t arg;
  };
  explicit Recorder(const fredsim::EventQueue& q) : queue_(q) {}
  void on_event(std::uint32_t kind, std::uint64_t arg) override {
    seen.push_back({queue_.now(), kind, arg});
  }
  std::string_view event_name(std::uint32_t) const override { return "tick"; }
  fredsim::CpuId event_cpu() const override { return 0; }

  std::vector<Seen> seen;

 private:
  const fredsim::EventQueue& queue_;
};

}  // namespace

int main() {
  using namespace fredsim;

  // Event ordering: by cycle, and FIFO among events of the same cycle.
  EventQueue queue;
  Recorder rec(queue);
  queue.schedule(30, rec, 1, 300);
  queue.schedule(10, rec, 1, 100);
  queue.schedule(20, rec, 1, 200);
  queue.schedule(20, rec, 2, 201);  // same cycle, scheduled later: runs later
  const EventId dropped = queue.schedule(25, rec, 9, 999);
  check(queue.cancel(dropped), "cancel of a pending event returns true");
  check(!queue.cancel(dropped), "cancel of a cancelled event returns false");

  auto first = queue.step();
  check(first.has_value() && first->cycle == 10 && first->name == "tick",
        "step() runs the earliest event and names it");
  check(queue.run_to_idle() == 3, "run_to_idle() runs the three remaining events");
  check(queue.empty(), "queue is empty afterwards");

  const std::vector<std::uint64_t> want = {100, 200, 201, 300};
  check(rec.seen.size() == want.size(), "four events delivered");
  for (std::size_t i = 0; i < rec.seen.size() && i < want.size(); ++i) {
    check(rec.seen[i].arg == want[i], "events delivered in (cycle, schedule order)");
  }
  check(queue.now() == 30, "now() is the cycle of the last event");

  // Timing profile: named lookup, by-name parameters, overrides, errors.
  auto profile = TimingProfile::named("default");
  check(profile.ok(), "the \"default\" timing profile exists");
  check(!TimingProfile::named("no-such-profile").ok(), "an unknown profile is an error");
  if (profile.ok()) {
    auto vm_exit = timing_param_by_name("vm_exit");
    check(vm_exit.has_value(), "timing parameter vm_exit exists");
    if (vm_exit) {
      check(timing_param_name(*vm_exit) == "vm_exit", "name round trip");
      check(profile->set("vm_exit", 1200).ok(), "override vm_exit by name");
      check(profile->get(*vm_exit) == 1200, "override took effect");
    }
    check(!profile->set("no_such_param", 1).ok(), "unknown parameter is an error");
    check(timing_params().size() == kTimingParamCount, "timing_params() lists every parameter");
  }

  // Tracing through a public sink.
  std::ostringstream out;
  TextTraceSink sink(out);
  Tracer tracer;
  check(!tracer.enabled(), "tracer without sinks is disabled");
  tracer.add_sink(sink);
  tracer.emit(1000, 3, "nmi_receive", {{"vector", TraceValue::dec(4)}});
  tracer.flush();
  check(out.str().find("nmi_receive") != std::string::npos, "text sink writes the record");

  // The whole path through the umbrella header: a System built in code, an NMI
  // IPI with a source vector, bitmap dispatch to the one handler whose bit is set.
  {
    system::SystemConfig cfg;
    cfg.machine.cpus = 4;
    auto sys = system::System::create(cfg);
    check(sys.ok(), "System::create with 4 CPUs");
    if (sys.ok()) {
      kernel::Kernel& k = (*sys)->kernel();
      auto bt = k.register_model(kernel::NmiType::local, kernel::HandlerModel::backtrace, 0,
                                 "arch_bt", kernel::nmis::VECTOR_BT);
      auto other =
          k.register_model(kernel::NmiType::local, kernel::HandlerModel::device, 0, "dev", 5);
      const CpuId all[] = {0, 1, 2, 3};
      (*sys)->at(100, [&] { k.trigger_backtrace(0, all, true); });
      (*sys)->run_to_idle();
      check(bt.ok() && k.registry().handler(*bt).total.handled == 3, "backtrace handled on 3 CPUs");
      check(other.ok() && k.registry().handler(*other).total.calls == 0,
            "bitmap dispatch skips dev");
      check((*sys)->machine().cpu(1).stats().nmi_delivered == 1, "one NMI delivered to CPU 1");
    }
  }

  if (failures != 0) {
    std::fprintf(stderr, "consumer: %d check(s) failed\n", failures);
    return 1;
  }
  std::puts("consumer: fredsim::fredsim found, linked and working");
  return 0;
}
