// `fredsim list` (list_command.hpp).
#include "list_command.hpp"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <memory>
#include <ostream>
#include <string_view>
#include <vector>

#include "exit_codes.hpp"
#include "fredsim/scenario/loader.hpp"
#include "fredsim/sim/timing_profile.hpp"
#include "fredsim/suite/targets.hpp"
#include "scenario/names.hpp"

namespace fredsim::cli {
namespace {

using namespace fredsim::scenario;

void list_models(std::ostream& out) {
  fmt::print(out, "handler models ([[handler]] model = NAME):\n");
  for (const auto& [name, model] : kHandlerModelNames)
    fmt::print(out, "  {}\n", name);
  std::vector<std::string_view> types;
  for (const auto& [name, type] : kNmiTypeNames)
    types.push_back(name);
  fmt::print(out, "handler types ([[handler]] type = NAME): {}\n", fmt::join(types, ", "));
}

void list_events(std::ostream& out) {
  fmt::print(out, "event types ([[event]] type = NAME; every one takes at and type, then):\n");
  for (const auto& [name, type] : kEventTypeNames) {
    std::vector<std::string_view> keys = event_keys(type);
    std::erase_if(keys, [](std::string_view k) { return k == "at" || k == "type"; });
    fmt::print(out, "  {:<10} {}\n", name, fmt::join(keys, ", "));
  }
}

void list_timing(std::ostream& out) {
  fmt::print(out,
             "timing parameters ([timing] NAME = CYCLES; defaults of the \"default\" profile, "
             "each with what it rests on (measured, derived from published figures, or "
             "assumed) and its source):\n");
  const std::uint32_t scenario_mhz = SystemSpec{}.frequency_mhz;
  for (const TimingParamInfo& p : timing_params()) {
    if (p.param == TimingParam::core_mhz) {
      // The one clock (docs/scenarios.md "One clock"): a scenario sets it with
      // system.frequency_mhz, whatever the profile's own default.
      fmt::print(out,
                 "  {:<26} {:>9}  {:<8}  the clock, in MHz: another name for "
                 "system.frequency_mhz (a scenario's default {}; the library profile's {})\n",
                 p.name, scenario_mhz, to_string(p.basis), scenario_mhz, p.default_cycles);
      continue;
    }
    fmt::print(out, "  {:<26} {:>9}  {:<8}  {}\n", p.name, p.default_cycles, to_string(p.basis),
               p.source);
  }
  // The named profiles (docs/hardware.md "Named profiles"): what each changes.
  fmt::print(out,
             "\nnamed profiles (system.timing = NAME; each sets the costs below, the others "
             "keep the default's):\n");
  for (const NamedTimingProfile& profile : timing_profiles()) {
    fmt::print(out, "  {}: {}\n", profile.name, profile.summary);
    for (const ProfileCost& c : profile.costs)
      fmt::print(out, "    {:<24} {:>9}  {:<8}  {}\n", timing_param_name(c.param), c.cycles,
                 to_string(c.basis), c.source);
  }
}

void list_targets(std::ostream& out) {
  fmt::print(out, "suite targets (fredsim suite --target NAME; default {}):\n",
             suite::kDefaultTarget);
  const suite::TargetSet targets = suite::TargetSet::builtin();
  for (const suite::Target& t : targets.all())
    fmt::print(out, "  {:<12} {} (--set {})\n", t.name, t.description,
               fmt::join(t.sets, " --set "));
}

}  // namespace

int list_command(const std::string& what, std::ostream& out) {
  const bool all = what == "all";
  bool first = true;
  auto section = [&](std::string_view kind, void (*print)(std::ostream&)) {
    if (!all && what != kind) return;
    if (!first) out << '\n';
    first = false;
    print(out);
  };
  section("models", list_models);
  section("events", list_events);
  section("timing", list_timing);
  section("targets", list_targets);
  return kExitPassed;
}

Subcommand add_list_subcommand(CLI::App& app, const CliContext& ctx) {
  auto what = std::make_shared<std::string>("all");
  CLI::App* cmd = app.add_subcommand(
      "list",
      "List what a scenario may name: handler models and types, event types with their keys, "
      "timing parameters with their defaults and sources, built-in suite targets");
  cmd->add_option("WHAT", *what, "models | events | timing | targets | all (default all)")
      ->check(
          CLI::IsMember(std::vector<std::string>(std::begin(kListKinds), std::end(kListKinds))));
  cmd->footer("Example:\n  fredsim list events     # each event type and the keys it takes");
  return {cmd, [what, &ctx] { return list_command(*what, ctx.out); }};
}

}  // namespace fredsim::cli
