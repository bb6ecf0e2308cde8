#pragma once
// The reports of a suite run: plain lines, TAP version 13 and JUnit XML.
#include <cstddef>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/run.hpp"
#include "fredsim/suite/targets.hpp"

namespace fredsim::suite {

/// "PASS name", "FAIL name (reason)", "SKIP name (reason)"; with `verbose` the
/// command line first, for a test that ran.
void write_plain(std::ostream& out, const TestOutcome& outcome, bool verbose);
/// TAP version 13: "TAP version 13" and the plan "1..N".
void write_tap_header(std::ostream& out, std::size_t count);
/// "ok N - name", "not ok N - name" with a YAML block, "ok N - name # SKIP reason";
/// `number` counts from 1. With `verbose` the command line first, as a comment.
void write_tap(std::ostream& out, std::size_t number, const TestOutcome& outcome, bool verbose);
/// A JUnit XML document with one testsuite: tests, failures, skipped counted; no
/// times (the report is deterministic).
std::string junit_xml(const Suite& suite, const Target& target,
                      std::span<const TestOutcome> outcomes);
/// &, <, >, " and ' as entities; control characters and invalid UTF-8 as '?'.
std::string xml_escape(std::string_view text);

}  // namespace fredsim::suite
