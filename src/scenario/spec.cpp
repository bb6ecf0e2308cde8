#include "fredsim/scenario/spec.hpp"

#include <fmt/format.h>

#include "scenario/input.hpp"
#include "scenario/names.hpp"

namespace fredsim::scenario {

bool KeyLocations::has(std::string_view key) const {
  for (const auto& [k, loc] : keys_) {
    if (k == key) return true;
  }
  return false;
}

const SourceLoc& KeyLocations::loc_of(std::string_view key, const SourceLoc& fallback) const {
  for (const auto& [k, loc] : keys_) {
    if (k == key) return loc;
  }
  return fallback;
}

std::string_view to_string(Delivery v) {
  return name_of(kDeliveryNames, v);
}
std::string_view to_string(apic::ApicMode v) {
  return name_of(kApicNames, v);
}
std::string_view to_string(kernel::Revision v) {
  return name_of(kKernelNames, v);
}
std::string_view to_string(kernel::NmiType v) {
  return name_of(kNmiTypeNames, v);
}
std::string_view to_string(EventType v) {
  return name_of(kEventTypeNames, v);
}
std::string_view to_string(apic::DeliveryMode v) {
  return name_of(kIpiModeNames, v);
}
std::string_view to_string(machine::NmiReason v) {
  return v == machine::NmiReason::none ? std::string_view("none") : name_of(kReasonNames, v);
}
std::string_view to_string(StatKind v) {
  return name_of(kStatNames, v);
}

std::string_view to_symbol(Comparison v) {
  switch (v) {
    case Comparison::equals:
      return "==";
    case Comparison::at_least:
      return ">=";
    case Comparison::at_most:
      return "<=";
  }
  return "?";
}

std::string to_string(const Destination& d) {
  switch (d.kind) {
    case Destination::Kind::self:
      return "self";
    case Destination::Kind::all:
      return "all";
    case Destination::Kind::all_but_self:
      return "all-but-self";
    case Destination::Kind::cpus:
      break;
  }
  if (d.cpus.size() == 1) return fmt::format("{}", d.cpus.front());
  return fmt::format("[{}]", fmt::join(d.cpus, ", "));
}

bool HandlerActionSpec::acts_on(CpuId on, std::uint64_t call_on_cpu) const {
  if (cpu && *cpu != on) return false;
  if (on_call == 0) return true;  // every call
  if (call_on_cpu < on_call) return false;
  if (every == 0) return call_on_cpu == on_call;
  return (call_on_cpu - on_call) % every == 0;
}

const HandlerSpec* ScenarioSpec::find_handler(std::string_view handler_name) const {
  for (const auto& h : handlers) {
    if (h.name == handler_name && !h.vm) return &h;
  }
  return nullptr;
}

const VmSpec* ScenarioSpec::find_vm(std::string_view vm_name) const {
  for (const auto& v : vms) {
    if (v.name == vm_name) return &v;
  }
  return nullptr;
}

std::string ScenarioSpec::where(const SourceLoc& loc) const {
  if (!loc.set_arg.empty()) return "--set " + input::clip(loc.set_arg);
  return fmt::format("{}:{}:{}", source_name, loc.line ? loc.line : 1, loc.column ? loc.column : 1);
}

Error ScenarioSpec::error_at(const SourceLoc& loc, std::string_view what) const {
  if (!loc.set_arg.empty()) {
    return Error{fmt::format("error: --set {}: {}", input::clip(loc.set_arg), what)};
  }
  return Error{fmt::format("{}: error: {}", where(loc), what)};
}

}  // namespace fredsim::scenario
