#pragma once
// The built-in handler models a scenario can name, and the handler names the
// kernel reserves for its own models.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace fredsim::kernel {

/// The behaviour of a built-in handler model (docs/scenarios.md "Handler models").
enum class HandlerModel : std::uint8_t {
  custom,     // a user's callable
  device,     // handles the work items pending for it on its CPU
  ghes,       // a device handler with GHES's costs (firmware status block read)
  pmi,        // perf: LVTPC rewrite, overflow status, every overflowed counter
  selftest,   // test-and-clear of its CPU's bit in the selftest mask
  stop,       // stop-other-CPUs: halts every CPU but the stopping one
  backtrace,  // prints its CPU's backtrace when its CPU is in the mask
  kgdb,       // the kgdb roundup (LOCAL) or the kgdb UNKNOWN-type claimer
  mce,        // MCE injection
};
std::string_view handler_model_name(HandlerModel m);
bool parse_handler_model(std::string_view text, HandlerModel& out);

/// The kernel registers a handler of its own for some senders (PMI, nmi_selftest,
/// smp_stop, arch_bt, kgdb, mce). Such a name belongs to that model: another
/// handler may take it only with the same model (configuring that very
/// handler). Returns the model a name is reserved for, if any.
std::optional<HandlerModel> reserved_handler_model(std::string_view name);
/// Those names, in a fixed order.
std::vector<std::string_view> reserved_handler_names();

}  // namespace fredsim::kernel
