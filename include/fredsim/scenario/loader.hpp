#pragma once
// Reads a scenario file into a ScenarioSpec (docs/scenarios.md "File").
//
// Errors are values in the contract's form, "FILE:LINE:COLUMN: error: what is
// wrong", or "error: --set ARG: what is wrong" for an override. The loader never
// crashes or hangs, whatever the input: it reads regular files of at most 64 MiB,
// and every time and cost it accepts is bounded (docs/scenarios.md "Limits").
// The one exception it throws is std::bad_alloc when memory runs out (what():
// "out of memory while loading FILE"), which is not bad input.
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/spec.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::scenario {

/// One --set KEY=VALUE, applied to the TOML tree before validation. KEY is a
/// dotted path ("system.cpus", "timing.vm_exit", "name", "handler.0.vector":
/// arrays of tables take an index); VALUE is read as a TOML value (true, 1_000,
/// "text") and, when it is not one, as a bare string.
struct Override {
  std::string text;  // "system.cpus=64", as given
};

/// Splits and checks the form of a --set argument (KEY=VALUE, KEY a dotted path of
/// non-empty parts). The tree-level checks come when the file is loaded.
Status check_override_syntax(std::string_view text);

/// The keys an [[event]] of `type` takes, in the order the loader's "allowed:"
/// lists give them (the loader's own list: `fredsim list events`).
std::vector<std::string_view> event_keys(EventType type);

Result<ScenarioSpec> load_scenario_file(const std::string& path,
                                        const std::vector<Override>& overrides = {});

/// `source_name` stands for the file name in messages.
Result<ScenarioSpec> load_scenario_string(std::string_view text, std::string_view source_name,
                                          const std::vector<Override>& overrides = {});

}  // namespace fredsim::scenario
