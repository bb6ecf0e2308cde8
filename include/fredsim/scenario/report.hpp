#pragma once
// What is done with a ScenarioResult: expectations, JSON, readable summaries.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "fredsim/scenario/result.hpp"
#include "fredsim/scenario/spec.hpp"

namespace fredsim::scenario {

/// Checks each expectation against the counts of `result` (expect.cpp). The lines
/// read "handler perf on cpu 3: calls == 1", "handler bt: handled >= 7",
/// "stat unknown: == 0", "stat lost on cpu 2: <= 1".
std::vector<ExpectationResult> evaluate_expectations(const std::vector<ExpectSpec>& expects,
                                                     const ScenarioResult& result);
/// Fills result.expectations and result.passed.
void apply_expectations(const ScenarioSpec& spec, ScenarioResult& result);
/// The text of one expectation, without its outcome.
std::string expectation_text(const ExpectSpec& e);

/// The result JSON of docs/format.md "Result JSON" (result_json.cpp), one line, no newline.
std::string to_json(const ScenarioResult& result);
/// {"bitmap": RESULT, "polling": RESULT}
std::string compare_json(const ScenarioResult& bitmap, const ScenarioResult& polling);

/// How far the run behind a summary has come.
enum class RunState : std::uint8_t {
  ended,    // ran to its end (or was cut short: ScenarioResult::stopped says)
  running,  // `fredsim step` mid-run: events are left, so work not yet handled is
            // pending, not lost, and expectations hold or not only so far
};

/// The readable summary of `fredsim run` (summary.cpp).
void write_summary(std::ostream& out, const ScenarioResult& result,
                   RunState state = RunState::ended);
/// The side-by-side table of `fredsim compare`.
void write_compare(std::ostream& out, const ScenarioResult& bitmap, const ScenarioResult& polling);

}  // namespace fredsim::scenario
