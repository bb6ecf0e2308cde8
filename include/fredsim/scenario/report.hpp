#pragma once
// What is done with a ScenarioResult: expectations, JSON, readable summaries.
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

/// The readable summary of `fredsim run` (summary.cpp).
void write_summary(std::ostream& out, const ScenarioResult& result);
/// The side-by-side table of `fredsim compare`.
void write_compare(std::ostream& out, const ScenarioResult& bitmap, const ScenarioResult& polling);

}  // namespace fredsim::scenario
