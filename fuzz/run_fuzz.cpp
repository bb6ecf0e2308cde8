// libFuzzer target: whole scenarios through the simulator. The input bytes drive
// a generator that writes scenario TOML (every key, value form and event type of
// docs/scenarios.md, small values so a run takes milliseconds); the text goes
// through the loader the CLI uses and build_system, the runner's own build; the
// System is then stepped one event at a time, at most kMaxSteps, and the
// invariants below are checked after every step and at the end. A violation
// prints the scenario and what broke, then traps (libFuzzer saves the input).
//
//   after each step, per CPU: nmi_received == nmi_coalesced + nmi_delivered
//     (+1 while an NMI is pending), and no counter goes backwards (past 16
//     CPUs: the step's CPU, and every CPU each 64 steps and at the end);
//   when the run ends idle (queue empty, no panic):
//     - the dispatch samples add up to the CPUs' dispatch_cycles, unless a
//       guest took an NMI or a guest interval ended (docs/kernel.md
//       "Dispatch time");
//     - no CPU that is not stopped still has an NMI pending;
//     - in a strict scenario (one the generator kept inside the rule of
//       docs/kernel.md "When work may be lost"), no CPU that is not stopped
//       has work left;
//     - the result the CLI would print agrees with the System.
//
// Reproduce a crash: run the target on the artifact; it prints the scenario,
// which `fredsim run` takes as is. With RUN_FUZZ_PRINT set in the environment
// every generated scenario is printed (to see what a corpus file stands for).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/apic/local_apic.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/report.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/system/system.hpp"

namespace {

using namespace fredsim;

constexpr std::uint64_t kMaxSteps = 3000;
constexpr std::uint32_t kMaxHandlers = 7;
constexpr std::uint32_t kMaxEvents = 9;

// The names and models of the handlers the kernel registers at first use.
struct KernelHandler {
  std::string_view name;
  std::string_view model;
  unsigned vector;
};
constexpr KernelHandler kKernelHandlers[] = {
    {"PMI", "pmi", 7},       {"nmi_selftest", "selftest", 1},
    {"smp_stop", "stop", 3}, {"arch_bt", "backtrace", 4},
    {"kgdb", "kgdb", 5},     {"mce", "mce", 6},
};

constexpr std::string_view kTypes[] = {"local", "unknown", "serr", "io_check"};
constexpr std::string_view kModels[] = {"device",    "pmi",  "selftest", "stop",
                                        "backtrace", "kgdb", "mce",      "ghes"};
constexpr std::string_view kEventTypes[] = {"ipi",       "pmi",  "external", "guest", "user",
                                            "backtrace", "stop", "selftest", "kgdb",  "mce"};
constexpr std::string_view kModes[] = {"nmi", "fixed", "init", "startup", "smi"};

/// The default vector of a role model (the kernel's sender sends it), or -1.
int role_vector(std::string_view model) {
  for (const auto& k : kKernelHandlers) {
    if (k.model == model && model != "selftest") return static_cast<int>(k.vector);
  }
  return -1;
}

struct HandlerInfo {
  std::string name;
  std::string_view type;
  std::string_view model;
  unsigned vector = 0;
};

/// Writes one scenario from the input. `strict` keeps it inside the rule under
/// which no work may be lost (docs/kernel.md "When work may be lost").
class Generator {
 public:
  explicit Generator(FuzzedDataProvider& in) : in_(in) {}

  std::string make() {
    strict_ = in_.ConsumeBool();
    system();
    kernel_and_timing();
    handlers();
    events();
    return out_;
  }
  bool strict() const { return strict_; }
  /// A handler took a kernel handler's name with another model.
  bool reserved_clash() const { return reserved_clash_; }

 private:
  template <class T, std::size_t N>
  T pick(const T (&a)[N]) {
    return a[in_.ConsumeIntegralInRange<std::size_t>(0, N - 1)];
  }
  /// True with chance 1/n; false once the input is used up, so that the rare
  /// choices (panics, an end cycle) stay rare in short inputs.
  bool one_in(unsigned n) { return in_.ConsumeIntegralInRange<unsigned>(0, n - 1) == n - 1; }
  std::uint64_t range(std::uint64_t lo, std::uint64_t hi) {
    return in_.ConsumeIntegralInRange<std::uint64_t>(lo, hi);
  }
  void line(std::string_view key, std::string_view value) {
    out_ += key;
    out_ += " = ";
    out_ += value;
    out_ += '\n';
  }
  void line(std::string_view key, std::uint64_t value) { line(key, std::to_string(value)); }
  static std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
  std::uint32_t cpu() { return static_cast<std::uint32_t>(range(0, cpus_ - 1)); }

  void system() {
    // Mostly 1..8 CPUs; sometimes a few dozen, rarely past xAPIC's 255.
    const unsigned size = static_cast<unsigned>(range(0, 15));
    cpus_ = size < 13   ? static_cast<std::uint32_t>(range(1, 8))
            : size < 15 ? static_cast<std::uint32_t>(range(9, 40))
                        : static_cast<std::uint32_t>(range(250, 300));
    fred_ = in_.ConsumeBool();
    nmi_source_ = fred_ && in_.ConsumeBool();
    out_ += "name = \"fuzz\"\n[system]\n";
    line("cpus", cpus_);
    line("delivery", quoted(fred_ ? "fred" : "idt"));
    if (fred_ || in_.ConsumeBool()) line("nmi_source", nmi_source_ ? "true" : "false");
    line("apic", quoted(cpus_ <= 255 && in_.ConsumeBool() ? "xapic" : "x2apic"));
    line("kernel", quoted(in_.ConsumeBool() ? "v5" : "v7"));
    if (in_.ConsumeBool()) line("seed", range(0, 1000));
    // A slow clock makes the selftest's one-second timeout a few hundred polls.
    constexpr std::uint64_t kMhz[] = {1, 3, 100, 2500};
    line("frequency_mhz", pick(kMhz));
    if (one_in(8)) line("end", range(1, 400'000));
  }

  void kernel_and_timing() {
    out_ += "[kernel]\n";
    line("unknown_nmi_panic", one_in(8) ? "true" : "false");
    line("panic_on_unrecovered_nmi", one_in(8) ? "true" : "false");
    line("panic_on_io_nmi", one_in(8) ? "true" : "false");
    // ignore_nmis makes the IDT entry drop NMIs: work is lost by design.
    if (!strict_) line("ignore_nmis", range(0, 2));
    line("nmi_longest_ns", range(1, 2'000'000));
    out_ += "[timing]\n";
    const auto params = timing_params();
    const unsigned n = static_cast<unsigned>(range(0, 4));
    std::vector<std::size_t> used;
    for (unsigned i = 0; i < n; ++i) {
      const std::size_t p = range(0, params.size() - 1);
      if (params[p].param == TimingParam::core_mhz) continue;  // frequency_mhz sets it
      bool dup = false;
      for (std::size_t u : used)
        dup = dup || u == p;
      if (dup) continue;  // a key twice is a TOML error
      used.push_back(p);
      // Costs stay small (well below the loader's bounds); 0 is a legal cost.
      line(params[p].name, in_.ConsumeBool() ? range(0, 5000) : range(0, 1u << 20));
    }
  }

  void handlers() {
    const unsigned n = static_cast<unsigned>(range(0, kMaxHandlers));
    bool have_pmi = false;
    for (unsigned i = 0; i < n; ++i) {
      HandlerInfo h;
      h.model = pick(kModels);
      h.type = one_in(4) ? pick(kTypes) : kTypes[0];
      h.vector = in_.ConsumeBool() ? static_cast<unsigned>(range(0, 9))
                                   : static_cast<unsigned>(range(0, 255));
      h.name = "h" + std::to_string(i);
      if (one_in(4)) {
        // A kernel handler's name is the kernel's: with another model the loader
        // must refuse it at the name (it used to crash the run in add_work).
        const KernelHandler& k = pick(kKernelHandlers);
        h.name = std::string(k.name);
      }
      const int rv = role_vector(h.model);
      if (strict_ && rv >= 0) {
        // A role handler must be LOCAL and carry the vector its sender sends,
        // and two perf handlers would share one overflow status.
        h.type = "local";
        h.vector = static_cast<unsigned>(rv);
        if (h.model == "pmi" && have_pmi) h.model = "device";
      }
      have_pmi = have_pmi || h.model == "pmi";
      bool dup = false;
      for (const auto& o : handlers_)
        dup = dup || o.name == h.name;
      if (dup) h.name = "h" + std::to_string(i);
      for (const KernelHandler& k : kKernelHandlers)
        reserved_clash_ = reserved_clash_ || (h.name == k.name && h.model != k.model);
      out_ += "[[handler]]\n";
      line("name", quoted(h.name));
      if (h.type != "local" || in_.ConsumeBool()) line("type", quoted(h.type));
      line("vector", h.vector);
      line("model", quoted(h.model));
      if (one_in(4)) line("first", "true");
      if (in_.ConsumeBool()) line("check_cycles", range(0, 20'000));
      if (in_.ConsumeBool()) line("handle_cycles", range(0, 200'000));
      handlers_.push_back(std::move(h));
    }
  }

  /// Work names for an event. In a strict scenario only handlers that take
  /// their work when called and are called for this NMI: LOCAL, a model that
  /// takes work, and (with NMI-source) the vector the NMI carries or a vector
  /// that makes the dispatch poll every handler.
  void work(bool strict_ok, int vector) {
    std::vector<std::string_view> names;
    const unsigned n = static_cast<unsigned>(range(0, 3));
    for (unsigned i = 0; i < n && !handlers_.empty(); ++i) {
      const HandlerInfo& h = handlers_[range(0, handlers_.size() - 1)];
      if (strict_) {
        // Not kgdb: its LOCAL handler claims (and takes work) only while a
        // session is active, which a scenario's own work items do not start.
        const bool takes = h.model == "device" || h.model == "ghes" || h.model == "mce" ||
                           h.model == "backtrace" || h.model == "selftest";
        const bool polled = vector < 1 || vector > 15;
        const bool reached = !nmi_source_ || polled || static_cast<int>(h.vector) == vector;
        if (!strict_ok || !takes || h.type != "local" || !reached) continue;
      }
      names.push_back(h.name);
    }
    if (names.empty()) return;
    if (names.size() == 1 && in_.ConsumeBool()) {
      line("work", quoted(names[0]));
      return;
    }
    std::string list = "[";
    for (std::size_t i = 0; i < names.size(); ++i)
      list += (i ? ", " : "") + quoted(names[i]);
    line("work", list + "]");
  }

  void dest(bool list_ok) {
    switch (range(0, list_ok ? 4 : 3)) {
      case 0:
        line("dest", quoted("self"));
        break;
      case 1:
        line("dest", quoted("all"));
        break;
      case 2:
        line("dest", quoted("all-but-self"));
        break;
      case 3:
        line("dest", cpu());
        break;
      default: {
        // A sorted list without repeats.
        std::string list = "[";
        bool first = true;
        for (std::uint32_t c = 0; c < cpus_; ++c) {
          if (in_.ConsumeBool()) continue;
          list += (first ? "" : ", ") + std::to_string(c);
          first = false;
        }
        if (first) list += std::to_string(cpu());
        line("dest", list + "]");
      }
    }
  }

  /// True when [at, until] on `c` stays clear of every interval there.
  bool interval_free(std::uint32_t c, std::uint64_t at, std::uint64_t until) const {
    for (const auto& iv : intervals_) {
      if (iv.cpu == c && at <= iv.until && iv.at <= until) return false;
    }
    return true;
  }

  void repeat() {
    if (!one_in(3)) return;
    line("every", range(1, 50'000));
    line("count", range(1, 20));
  }

  void events() {
    const unsigned n = static_cast<unsigned>(range(0, kMaxEvents));
    for (unsigned i = 0; i < n; ++i) {
      const std::string_view type = pick(kEventTypes);
      const std::uint64_t at = in_.ConsumeBool() ? range(0, 2000) : range(0, 300'000);
      std::string body;
      if (type == "guest" || type == "user") {
        const std::uint32_t c = cpu();
        const std::uint64_t until = at + range(1, 200'000);
        // Overlapping intervals on one CPU are refused (issue 13 item 8).
        if (!interval_free(c, at, until)) continue;
        intervals_.push_back({c, at, until});
        out_ += "[[event]]\n";
        line("at", at);
        line("type", quoted(type));
        line("cpu", c);
        line("until", until);
        if (type == "guest") {
          // No guest_nmi_source: the loader refuses it (a host NMI is never
          // injected into a guest; a [[vm]]'s nmi_source gives a guest's own
          // NMIs their sources).
          line("nmi_exiting", strict_ || !one_in(4) ? "true" : "false");
        }
        continue;
      }
      out_ += "[[event]]\n";
      line("at", at);
      line("type", quoted(type));
      if (type == "ipi") {
        line("from", cpu());
        dest(true);
        const std::string_view mode = one_in(4) ? pick(kModes) : "nmi";
        line("mode", quoted(mode));
        const int vector = static_cast<int>(in_.ConsumeBool() ? range(0, 9) : range(0, 255));
        line("vector", static_cast<std::uint64_t>(vector));
        work(mode == "nmi", vector);
      } else if (type == "pmi") {
        line("cpu", cpu());
        line("counters", range(1, 64));
      } else if (type == "external") {
        const std::uint32_t c = cpu();
        line("cpu", c);
        // A latched reason is read only by an NMI whose LOCAL handlers claim
        // nothing: strict scenarios have none. LINT1 is live on CPU 0 only and
        // carries source vector 2.
        if (!strict_ && in_.ConsumeBool()) {
          line("reason", quoted(in_.ConsumeBool() ? "serr" : "iochk"));
        }
        work(c == 0, 2);
      } else if (type == "backtrace" || type == "kgdb" || type == "mce") {
        line("from", cpu());
        if (in_.ConsumeBool()) dest(true);
      } else {  // stop, selftest
        line("from", cpu());
      }
      repeat();
    }
  }

  struct Interval {
    std::uint32_t cpu;
    std::uint64_t at, until;
  };
  FuzzedDataProvider& in_;
  std::string out_;
  bool strict_ = false;
  bool reserved_clash_ = false;
  std::uint32_t cpus_ = 1;
  bool fred_ = true;
  bool nmi_source_ = true;
  std::vector<HandlerInfo> handlers_;
  std::vector<Interval> intervals_;
};

[[noreturn]] void fail(const std::string& scenario, const std::string& what) {
  std::fprintf(stderr, "run_fuzz: %s\n--- scenario ---\n%s--- end ---\n", what.c_str(),
               scenario.c_str());
  __builtin_trap();
}

// The only reads of the per-NMI dispatch samples, the kernel's and the result's:
// Samples keeps an exact sum however many NMIs it has folded into its histogram.
Samples::Sum dispatch_sample_sum(const kernel::Kernel& k) {
  return k.nmi_dispatch_samples().sum();
}
Samples::Sum dispatch_sample_sum(const scenario::ScenarioResult& r) {
  return r.dispatch_samples.sum();
}

struct CpuCounts {
  std::uint64_t received = 0, coalesced = 0, delivered = 0, dispatch = 0;
};

class Checker {
 public:
  Checker(const std::string& text, system::System& sys) : text_(text), sys_(sys) {
    prev_.resize(sys.machine().cpu_count());
  }

  /// Checks every CPU after each step on small machines; on large ones the CPU
  /// the step ran on, and every CPU each kSweepEvery steps and at the end (a
  /// full sweep per step would make a run of 300 CPUs take a second).
  void after_step(const StepInfo& step) {
    const std::uint32_t n = sys_.machine().cpu_count();
    if (n <= kSweepAll || ++since_sweep_ == kSweepEvery) {
      sweep();
      return;
    }
    if (step.cpu < n) check_cpu(step.cpu);
  }
  void sweep() {
    since_sweep_ = 0;
    for (CpuId c = 0; c < sys_.machine().cpu_count(); ++c)
      check_cpu(c);
  }

  void check_cpu(CpuId c) {
    const cpu::Cpu& cpu = sys_.machine().cpu(c);
    const auto& s = cpu.stats();
    const std::uint64_t pending = cpu.nmi_pending() ? 1 : 0;
    if (s.nmi_received != s.nmi_coalesced + s.nmi_delivered + pending) {
      fail(text_, "cpu " + std::to_string(c) + ": nmi_received " + std::to_string(s.nmi_received) +
                      " != coalesced " + std::to_string(s.nmi_coalesced) + " + delivered " +
                      std::to_string(s.nmi_delivered) + " + pending " + std::to_string(pending) +
                      " at cycle " + std::to_string(sys_.now()));
    }
    CpuCounts now{s.nmi_received, s.nmi_coalesced, s.nmi_delivered, s.dispatch_cycles};
    const CpuCounts& p = prev_[c];
    if (now.received < p.received || now.coalesced < p.coalesced || now.delivered < p.delivered ||
        now.dispatch < p.dispatch) {
      fail(text_, "cpu " + std::to_string(c) + ": a counter went backwards");
    }
    prev_[c] = now;
  }

  /// The run ended with an empty queue and no panic. `guest_left`: a guest
  /// interval of the scenario ended (its `until`).
  void at_rest(bool strict, bool guest_left) {
    machine::Machine& m = sys_.machine();
    const kernel::Kernel& k = sys_.kernel();
    std::uint64_t dispatch = 0;
    for (CpuId c = 0; c < m.cpu_count(); ++c) {
      dispatch += m.cpu(c).stats().dispatch_cycles;
      // A CPU stopped by stop-other-CPUs keeps NMIs blocked and its work.
      if (k.cpu_state(c).halted) continue;
      if (m.cpu(c).nmi_pending()) {
        fail(text_, "cpu " + std::to_string(c) + ": an NMI is still pending at the end");
      }
      // A software-disabled APIC (the stopper's, at the end of stop-other-CPUs)
      // masks LVTPC for good: perf work left there is lost by design.
      if (strict && k.lost_work(c) != 0 && m.apic(c).software_enabled()) {
        fail(text_, "cpu " + std::to_string(c) + ": " + std::to_string(k.lost_work(c)) +
                        " work items lost in a strict scenario");
      }
    }
    // docs/kernel.md "Dispatch time": NMIs a guest took count in the CPU's
    // dispatch_cycles only, and an NMI exit that a guest's end cuts off (no VM
    // entry follows) leaves the two apart.
    bool guest_nmis = false;
    for (CpuId c = 0; c < m.cpu_count(); ++c)
      guest_nmis = guest_nmis || sys_.kvm().guest_stats(c).nmis != 0;
    if (guest_nmis || guest_left) return;
    const Samples::Sum samples = dispatch_sample_sum(k);
    if (samples != Samples::Sum{dispatch}) {
      fail(text_, "dispatch samples sum to " + std::to_string(static_cast<std::uint64_t>(samples)) +
                      " but the CPUs' dispatch_cycles to " + std::to_string(dispatch));
    }
  }

 private:
  const std::string& text_;
  system::System& sys_;
  static constexpr std::uint32_t kSweepAll = 16, kSweepEvery = 64;
  std::vector<CpuCounts> prev_;
  std::uint32_t since_sweep_ = 0;
};

/// The result the CLI would write agrees with the System it came from.
void check_result(const std::string& text, const scenario::ScenarioSpec& spec,
                  system::System& sys) {
  scenario::ScenarioResult r = scenario::collect_result(spec, sys);
  scenario::apply_expectations(spec, r);
  // The JSON of a big machine is slow to build and adds no path.
  if (r.cpus.size() <= 16) (void)scenario::to_json(r);
  machine::Machine& m = sys.machine();
  if (r.cpus.size() != m.cpu_count()) fail(text, "result has the wrong number of CPUs");
  for (CpuId c = 0; c < m.cpu_count(); ++c) {
    const auto& s = m.cpu(c).stats();
    const auto& rc = r.cpus[c];
    if (rc.nmi_received != s.nmi_received || rc.nmi_delivered != s.nmi_delivered ||
        rc.nmi_coalesced != s.nmi_coalesced || rc.dispatch_cycles != s.dispatch_cycles ||
        rc.lost != sys.kernel().lost_work(c)) {
      fail(text, "result cpu " + std::to_string(c) + " differs from the CPU's counters");
    }
  }
  if (dispatch_sample_sum(r) != dispatch_sample_sum(sys.kernel())) {
    fail(text, "the result's dispatch samples differ from the kernel's");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // An input that starts with a marker line is a scenario itself (a reproducer,
  // a corpus file); anything else feeds the generator.
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kFree = "#!scenario\n", kStrict = "#!strict\n";
  const bool given = raw.starts_with(kFree) || raw.starts_with(kStrict);
  FuzzedDataProvider in(data, size);
  Generator gen(in);
  const std::string text = given ? std::string(raw) : gen.make();
  // libFuzzer mutates text inputs too, and a mutated `#!strict` file (a vector
  // changed, a handler renamed) no longer keeps the lost-work rule: the rule holds
  // for text only when asked for, to check a reproducer by hand.
  static const bool strict_text = std::getenv("RUN_FUZZ_STRICT_TEXT") != nullptr;
  const bool strict = given ? strict_text && raw.starts_with(kStrict) : gen.strict();
  static const bool print = std::getenv("RUN_FUZZ_PRINT") != nullptr;
  if (print)
    std::fprintf(stderr, "--- scenario (%s) ---\n%s", strict ? "strict" : "free", text.c_str());

  auto spec = scenario::load_scenario_string(text, "fuzz.toml");
  if (!given && gen.reserved_clash()) {
    if (spec) fail(text, "the loader took a handler under a kernel handler's name and model");
    if (spec.error().message.find("is reserved: the kernel registers its own") ==
        std::string::npos) {
      fail(text, "a reserved handler name refused for another reason: " + spec.error().message);
    }
    return 0;
  }
  if (!spec) {
    // The generator writes only valid scenarios: a refusal is a loader bug or a
    // generator that no longer matches the documented bounds.
    if (!given) fail(text, "the loader refused a generated scenario: " + spec.error().message);
    return 0;
  }
  auto built = scenario::build_system(*spec);
  if (!built) {
    if (built.error().message.find("error: ") == std::string::npos) {
      fail(text, "a build error not in the contract's form: " + built.error().message);
    }
    return 0;
  }
  system::System& sys = **built;
  Checker check(text, sys);
  const std::optional<Cycle> end = spec->system.end;
  std::uint64_t steps = 0;
  bool rest = false;
  for (; steps < kMaxSteps; ++steps) {
    if (sys.stopped()) break;
    const Cycle next = sys.machine().queue().next_cycle();
    if (next == kNever) {
      rest = true;
      break;
    }
    if (end && next > *end) break;
    const auto info = sys.step();
    if (!info) break;
    check.after_step(*info);
  }
  bool guest_left = false;
  for (const auto& ev : spec->events)
    guest_left = guest_left || (ev.type == scenario::EventType::guest && ev.until);
  check.sweep();
  if (rest) check.at_rest(strict, guest_left);
  check_result(text, *spec, sys);
  return 0;
}
