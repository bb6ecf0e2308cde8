#pragma once
// A parsed scenario file (docs/scenarios.md "File", extensions in docs/scenarios.md).
//
// Plain data: the loader fills it, a runner builds a System from it. Every element
// keeps where it came from, so a later error (an inconsistent system found while
// building) can name the place: ScenarioSpec::error_at(loc, what).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fredsim/apic/apic_mode.hpp"
#include "fredsim/apic/delivery_mode.hpp"
#include "fredsim/kernel/guest_setup.hpp"
#include "fredsim/kernel/handler_model.hpp"
#include "fredsim/kernel/nmi.hpp"
#include "fredsim/machine/limits.hpp"
#include "fredsim/machine/machine.hpp"
#include "fredsim/sim/cycle.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/sim/timing_profile.hpp"

namespace fredsim::scenario {

/// Where a spec element or key came from: a line and column of the file (1-based),
/// or a --set argument (then `set_arg` holds it, "system.cpus=64", and line is 0).
struct SourceLoc {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string set_arg;

  bool known() const { return line != 0 || !set_arg.empty(); }
};

/// The locations of the keys an element was given with (in the order the loader
/// declares them, not file order). Keys left to their defaults are absent;
/// loc_of() then falls back to the element's own.
class KeyLocations {
 public:
  void add(std::string key, SourceLoc loc) { keys_.emplace_back(std::move(key), std::move(loc)); }
  bool has(std::string_view key) const;
  /// The key's location, or `fallback` when the key was not given.
  const SourceLoc& loc_of(std::string_view key, const SourceLoc& fallback) const;
  const std::vector<std::pair<std::string, SourceLoc>>& keys() const { return keys_; }

 private:
  std::vector<std::pair<std::string, SourceLoc>> keys_;
};

// Closed sets of strings are enums; to_string() gives the file's spelling. The
// APIC mode, the handler model, the handler (NMI) type and the kernel revision are
// the lower layers' enums (apic::ApicMode, kernel::HandlerModel, kernel::NmiType,
// kernel::Revision), like an IPI's delivery mode (apic::DeliveryMode: nmi, fixed,
// init, startup, smi) and an external NMI's reason (machine::NmiReason): a file
// names only some of their values (xapic and x2apic; every model but custom).
enum class Delivery : std::uint8_t { fred, idt };
enum class EventType : std::uint8_t {
  ipi,
  pmi,
  external,
  guest,
  user,
  backtrace,
  stop,
  selftest,
  kgdb,
  mce,
  sti,  // instruction shadows (docs/scenarios.md "Instruction shadows")
  mov_ss,
  irqs_off,  // RFLAGS.IF = 0 on a CPU (docs/scenarios.md "Interrupts off")
  kvm_nmi    // user space's KVM_NMI ioctl on a vCPU of a [[vm]]
};
/// ICR delivery mode of an "ipi" event.
enum class StatKind : std::uint8_t { normal, unknown, external, swallow, lost };
enum class Comparison : std::uint8_t { equals, at_least, at_most };

std::string_view to_string(Delivery v);
std::string_view to_string(apic::ApicMode v);
std::string_view to_string(kernel::Revision v);
std::string_view to_string(kernel::NmiType v);
std::string_view to_string(EventType v);
std::string_view to_string(apic::DeliveryMode v);
std::string_view to_string(machine::NmiReason v);
std::string_view to_string(StatKind v);
/// "==", ">=", "<=".
std::string_view to_symbol(Comparison v);

// The CPU count of a system is 1..kMaxCpus (fredsim/machine/limits.hpp), and
// 1..apic::kXapicMaxCpus with apic = "xapic".
inline constexpr std::uint32_t kMaxVector = 255;  // the ICR's 8-bit vector field
inline constexpr std::uint32_t kMaxFrequencyMhz = 1'000'000;
/// The largest cost a file gives (a [timing] parameter, check_cycles,
/// handle_cycles), 2^31 cycles. Times (at, until, end, every occurrence of a
/// repeat) end at kMaxCycle, 2^50. Why these keep every sum of the simulator
/// below 2^63: docs/scenarios.md "Limits".
inline constexpr Cycle kMaxCost = Cycle{1} << 31;
/// A handler's [[handler.action]] tables, and the ICR writes of one `send`: each
/// write costs the call `icr_write` (at most kMaxCost), so a call's actions add
/// at most 2^6 * 2^10 * 2^31 = 2^47 cycles (docs/scenarios.md "Limits").
inline constexpr std::size_t kMaxHandlerActions = 64;
inline constexpr std::int64_t kMaxSendCount = 1024;

/// [system]
struct SystemSpec {
  std::uint32_t cpus = 1;
  Delivery delivery = Delivery::fred;
  bool nmi_source = true;                        // default: delivery == fred
  apic::ApicMode apic = apic::ApicMode::x2apic;  // xapic or x2apic
  kernel::Revision kernel = kernel::Revision::v7;
  std::string timing = "default";
  std::uint64_t seed = 1;
  std::optional<Cycle> end;            // default: run until idle
  std::uint32_t frequency_mhz = 2000;  // extension: converts cycles to ns (ftrace, durations)
  SourceLoc loc;                       // the [system] header, or line 1
  KeyLocations keys;
};

/// One [timing] entry: a timing-profile parameter overridden by name.
struct TimingOverride {
  TimingParam param{};
  Cycle cycles = 0;
  SourceLoc loc;
};

/// [kernel] (extension): the kernel's NMI-related tunables.
struct KernelSpec {
  bool unknown_nmi_panic = false;
  bool panic_on_unrecovered_nmi = false;
  bool panic_on_io_nmi = false;
  std::uint32_t ignore_nmis = 0;             // the ignore_nmis counter at start (stop_nmi)
  std::uint64_t nmi_longest_ns = 1'000'000;  // the duration-check threshold
  std::uint32_t source_vectors = 8;          // v7's NMIS_VECTOR_COUNT: 8 as the series, to 16
  SourceLoc loc;
  KeyLocations keys;
};

/// Destination of an IPI: a shorthand or a list of CPUs (sorted, no duplicates).
struct Destination {
  enum class Kind : std::uint8_t { self, all, all_but_self, cpus };
  Kind kind = Kind::all_but_self;
  std::vector<CpuId> cpus;  // Kind::cpus only
};
std::string to_string(const Destination& d);

/// One [[handler.action]] (docs/scenarios.md "Handler actions and rendezvous"):
/// ICR writes the handler makes inside the calls it names, from its own CPU.
struct HandlerActionSpec {
  std::uint64_t on_call = 0;  // the call on that CPU (1-based); 0: every call
  std::uint64_t every = 0;    // with on_call: also calls on_call + every, + 2 * every, ...
  std::optional<CpuId> cpu;   // only on this CPU
  // send = { dest, mode, vector, count, work }: as an "ipi" event's keys
  Destination dest;
  apic::DeliveryMode mode = apic::DeliveryMode::nmi;
  std::uint32_t vector = 0;
  std::uint32_t count = 1;        // ICR writes per call
  std::vector<std::string> work;  // handler names: one item per write per destination
  SourceLoc loc;
  KeyLocations keys;  // the action's own keys (not those inside send)

  /// Whether the call numbered `call_on_cpu` (1-based) on `cpu` acts.
  bool acts_on(CpuId cpu, std::uint64_t call_on_cpu) const;
};

/// One [[handler]], in registration order.
struct HandlerSpec {
  std::string name;
  kernel::NmiType type = kernel::NmiType::local;
  std::uint32_t vector = 0;  // NMI-source vector; the kernel model warns where Linux does
  bool first = false;        // NMI_FLAG_FIRST
  kernel::HandlerModel model = kernel::HandlerModel::device;  // never custom
  std::optional<Cycle> check_cycles;       // default: the timing profile's <model>_check
  std::optional<Cycle> handle_cycles;      // default: the timing profile's <model>_handle
  std::vector<HandlerActionSpec> actions;  // [[handler.action]], file order
  /// `vm = NAME`: a handler of that VM's guest kernel (an index into
  /// ScenarioSpec::vms); names are per kernel. Unset: the host's.
  std::optional<std::size_t> vm;
  SourceLoc loc;
  KeyLocations keys;
};

/// An event's `after` (docs/scenarios.md "Handler actions and rendezvous"): its
/// occurrence k (1-based) fires `delay` cycles after the call that brings the
/// handler's count (on `cpu`, or on every CPU) to k * calls.
struct RendezvousSpec {
  std::string handler;  // declared, or a handler the kernel registers itself
  std::uint64_t calls = 1;
  std::optional<CpuId> cpu;
  Cycle delay = 0;
};

/// One [[event]]. Fields not used by its type keep their defaults (the loader
/// rejects keys that do not belong to the type). A repeating event is kept as one
/// element with `every`/`count`: occurrence i is at `at + i * every`; the loader
/// checks that the last one is at most kMaxCycle.
struct EventSpec {
  Cycle at = 0;
  EventType type = EventType::ipi;
  // ipi and the kernel senders
  CpuId from = 0;
  Destination dest;
  apic::DeliveryMode mode = apic::DeliveryMode::nmi;
  std::uint32_t vector = 0;
  std::vector<std::string> work;  // handler names, each declared (ipi, external)
  // pmi, external, guest, user
  CpuId cpu = 0;
  std::uint32_t counters = 1;  // pmi
  machine::NmiReason reason = machine::NmiReason::none;
  std::optional<Cycle> until;   // guest, user, irqs_off: default until the end of the run
  bool nmi_exiting = true;      // guest
  kernel::GuestControls guest;  // guest: NMI controls and entry state (docs/vmx.md)
  bool blocks_nmi = true;       // sti: the shadow holds NMIs (mov_ss always does)
  // repetition
  Cycle every = 0;
  std::uint64_t count = 1;
  /// Instead of `at` (then 0 and not scheduled at the start): the rendezvous.
  std::optional<RendezvousSpec> after;
  /// `vm = NAME`: an event of that VM's guest kernel (an index into
  /// ScenarioSpec::vms); its from, cpu, dest and handler names are the guest's.
  std::optional<std::size_t> vm;

  std::size_t file_index = 0;  // position among the [[event]] tables of the file
  SourceLoc loc;
  KeyLocations keys;

  Cycle occurrence(std::uint64_t i) const { return at + i * every; }
  Cycle last_occurrence() const { return occurrence(count - 1); }
};

/// One [[vm]] (docs/scenarios.md "Virtual machines with a kernel of their own"):
/// a VM whose vCPU i runs on host CPU cpus[i] from `at` to `until`, with a guest
/// kernel of its own configured by its delivery, nmi_source, kernel and apic
/// (each defaults to the host's [system] value; nmi_source to the host's when
/// the VM's delivery is FRED, else false).
struct VmSpec {
  std::string name;
  std::vector<CpuId> cpus;  // host CPU of vCPU 0, 1, ...: distinct, at least one
  Cycle at = 0;
  std::optional<Cycle> until;  // default: to the end of the run
  Delivery delivery = Delivery::fred;
  bool nmi_source = true;
  kernel::Revision kernel = kernel::Revision::v7;
  apic::ApicMode apic = apic::ApicMode::x2apic;
  bool nmi_exiting = true;           // pin-based NMI exiting
  std::optional<bool> virtual_nmis;  // unset: KVM's choice (on with NMI exiting)
  // The guest kernel's sysctls (docs/scenarios.md "The guest kernel's
  // sysctls"): Linux's defaults unless the [[vm]] sets them.
  bool unknown_nmi_panic = false;
  std::uint64_t nmi_longest_ns = 1'000'000;
  SourceLoc loc;
  KeyLocations keys;
};

/// A compiled `console` pattern (scenario/console_pattern.hpp): kept opaque here so
/// that every user of a spec does not compile <regex>.
struct ConsolePattern;

/// One `where` condition of a trace expectation: a field of the record (or `cpu`,
/// the record's CPU) and the value it must have. A number matches integer and hex
/// fields by value, a string string fields by text (a "0x.." string is both),
/// a boolean boolean fields, a list of integers a list field with those
/// elements.
struct TraceWhere {
  std::string field;
  std::optional<std::uint64_t> number;
  std::optional<std::string> text;
  std::optional<bool> boolean;
  std::optional<std::vector<std::uint64_t>> list;  // sorted
  SourceLoc loc;
};

/// One [[expect]]: one check of a handler count, a stat, a per-CPU counter of
/// the result, the console, the panic or the trace (docs/scenarios.md
/// "[[expect]]" and "Expectations on counters, console, panic and trace"). A
/// [[expect]] table that gives two values (`calls` and `handled`, `at_least` and
/// `at_most`) becomes two ExpectSpecs.
struct ExpectSpec {
  enum class Kind : std::uint8_t {
    handler_calls,
    handler_handled,
    stat,
    counter,  // `counter`: a per-CPU integer of the result (cpu_counters())
    console,  // console lines that match `regex`
    panic,    // value 1: the run ended in a panic, 0: it did not
    trace     // trace records of `trace_event` that match `where`
  };
  Kind kind = Kind::stat;
  std::string handler;  // handler_calls, handler_handled
  StatKind stat = StatKind::normal;
  std::string counter;                          // counter: its name
  std::string pattern;                          // console: the regular expression as written
  std::shared_ptr<const ConsolePattern> regex;  // console: compiled by the loader
  std::string trace_event;                      // trace
  std::vector<TraceWhere> where;                // trace, in file order
  /// trace: the index of its count in ScenarioResult::trace_counts (the
  /// ExpectSpecs of one [[expect]] table share it).
  std::size_t trace_slot = 0;
  std::optional<CpuId> cpu;  // summed over CPUs when absent (handler, stat, counter, console)
  /// `vm = NAME`: judged on that VM's guest kernel (an index into
  /// ScenarioSpec::vms); `cpu` is then a vCPU.
  std::optional<std::size_t> vm;
  Comparison cmp = Comparison::equals;
  std::uint64_t value = 0;
  SourceLoc loc;
};

struct ScenarioSpec {
  std::string name;
  std::string description;
  std::string source_name;  // the file path (or the name given to load_scenario_string)
  SystemSpec system;
  std::vector<TimingOverride> timing;  // by parameter name
  KernelSpec kernel;
  std::vector<VmSpec> vms;            // file order
  std::vector<HandlerSpec> handlers;  // registration order
  std::vector<EventSpec> events;      // by `at`, ties in file order
  std::vector<ExpectSpec> expects;    // file order

  /// The host's handler of that name (a VM's handlers are its kernel's).
  const HandlerSpec* find_handler(std::string_view name) const;
  const VmSpec* find_vm(std::string_view name) const;
  /// "FILE:LINE:COLUMN" or "--set ARG".
  std::string where(const SourceLoc& loc) const;
  /// "FILE:LINE:COLUMN: error: WHAT" (or "error: --set ARG: WHAT"), the contract's form.
  Error error_at(const SourceLoc& loc, std::string_view what) const;
};

}  // namespace fredsim::scenario
