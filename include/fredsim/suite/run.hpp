#pragma once
// Running the tests of a suite under a target, on one thread or several, with a
// PASS, FAIL or SKIP verdict each.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/sim/result.hpp"
#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/targets.hpp"

namespace fredsim::suite {

enum class Verdict : std::uint8_t { pass, fail, skip };
std::string_view to_string(Verdict v);

/// Why a test FAILed, for JUnit's failure type: it could not start (the scenario
/// did not load or the runner refused it), ran out of time, missed an expectation,
/// or the runner threw (internal).
enum class FailKind : std::uint8_t { none, premature, timeout, expectation, runner };

struct TestOutcome {
  std::string name;
  Verdict verdict = Verdict::skip;
  FailKind fail_kind = FailKind::none;
  std::string reason;   // FAIL and SKIP: one line
  std::string command;  // the equivalent `fredsim run` line, for a test that ran
  const SuiteTest* test = nullptr;
};

struct SuiteRunOptions {
  const Target* target = nullptr;   // required
  std::vector<std::string> groups;  // -g: empty = every test
  std::vector<std::string> tests;   // by name: empty = every test
  // (With neither groups nor tests, a test in group nodefault SKIPs.)
  unsigned jobs = 1;                      // -j
  std::optional<double> default_timeout;  // FREDSIM_TIMEOUT, for tests without one
  /// Set by a signal (SIGINT, SIGTERM): no test starts after it, the running ones
  /// stop at their next event and are left out of the outcomes.
  const volatile std::sig_atomic_t* interrupt = nullptr;
};

/// The tests a run covers, in cfg order: those of `tests` (or all), in one of
/// `groups` when given. An Error names a test that is not in the suite.
Result<std::vector<const SuiteTest*>> select_tests(const Suite& suite,
                                                   const SuiteRunOptions& options);

/// Runs one test under the target: SKIP (disabled, not a scenario...), a
/// premature FAIL when the scenario does not load, FAIL on a timeout or a failed
/// expectation, else PASS.
TestOutcome run_test(const Suite& suite, const SuiteTest& test, const SuiteRunOptions& options,
                     const scenario::ScenarioRunner& runner);

/// Runs `selected` on `options.jobs` threads. `report(i, outcome)` is called on the
/// calling thread in the order of `selected`, whichever test finishes first, so the
/// report is the same for any -j. The outcomes are those of the tests that ran:
/// every selected one unless options.interrupt was set.
std::vector<TestOutcome> run_suite(
    const Suite& suite, std::span<const SuiteTest* const> selected, const SuiteRunOptions& options,
    const scenario::ScenarioRunner& runner,
    const std::function<void(std::size_t, const TestOutcome&)>& report = {});

}  // namespace fredsim::suite
