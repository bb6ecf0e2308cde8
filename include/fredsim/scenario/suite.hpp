#pragma once
// Suites (docs/suites.md): a kvm-unit-tests-style unittests.cfg that names
// scenarios, run under a machine target (idt, fred, fred-nmisrc, or one of a
// targets file) with PASS, FAIL or SKIP per test, as kvm-unit-tests' run_tests.sh
// runs guest binaries under a VMM. `fredsim suite` is suite_command().
//
// Bad input (a malformed cfg or targets file) is an Error "FILE:LINE: error: what
// is wrong"; nothing here throws.
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/sim/result.hpp"

namespace fredsim::scenario {

// --- Targets ---------------------------------------------------------------------------

/// A machine variant: a named list of overrides applied (as --set) before a test's
/// own. The built-in ones are idt, fred and fred-nmisrc.
struct Target {
  std::string name;
  std::string description;
  std::vector<std::string> sets;  // KEY=VALUE, in order
  std::string origin;             // "built in", or "FILE:LINE" of its [name] line
};

/// The target a suite runs under when neither --target nor FREDSIM_TARGET names one.
inline constexpr std::string_view kDefaultTarget = "fred-nmisrc";
/// The environment variables `fredsim suite` reads (docs/suites.md "Environment").
inline constexpr std::string_view kTargetEnvVar = "FREDSIM_TARGET";
inline constexpr std::string_view kTimeoutEnvVar = "FREDSIM_TIMEOUT";
/// kvm-unit-tests' own VMM names: their `<vmm>_params` keys and `TARGET == <vmm>`
/// conditions are accepted in a cfg even though fredsim defines no such target.
inline constexpr std::string_view kForeignVmms[] = {"qemu", "kvmtool"};

class TargetSet {
 public:
  /// idt, fred, fred-nmisrc.
  static TargetSet builtin();

  /// Adds the targets of a targets file (docs/suites.md "Targets file").
  Status add_file(const std::string& path);
  /// `source_name` stands for the file name in messages.
  Status add_string(std::string_view text, std::string_view source_name);

  const Target* find(std::string_view name) const;
  const std::vector<Target>& all() const { return targets_; }
  /// "idt, fred, fred-nmisrc", for messages.
  std::string names() const;
  /// True for a defined target or a kvm-unit-tests VMM name.
  bool knows(std::string_view name) const;

 private:
  std::vector<Target> targets_;
};

/// The target name to use: --target, else a non-empty FREDSIM_TARGET, else
/// kDefaultTarget.
std::string resolve_target_name(const std::optional<std::string>& flag,
                                const std::optional<std::string>& env);

// --- disabled_if -----------------------------------------------------------------------

/// What a condition can look at: the target and the test's own settings.
struct ConditionVars {
  std::string_view target;      // TARGET
  std::string_view delivery;    // DELIVERY: the target's system.delivery, "" if it sets none
  std::string_view nmi_source;  // NMI_SOURCE: the target's system.nmi_source, "" if none
  std::string_view smp;         // SMP: the test's smp, "" if none
  std::string_view arch;        // ARCH
  std::string_view accel;       // ACCEL
  std::string_view machine;     // MACHINE
  std::string_view file;        // FILE: the test's file as written
};

namespace detail {
class ConditionParser;
}

/// A parsed disabled_if expression (grammar in docs/suites.md "disabled_if"):
/// comparisons of variables and words joined by !, &&, || and parentheses, with
/// the bash spelling of kvm-unit-tests accepted ([[ "$TARGET" != qemu ]]).
class Condition {
 public:
  /// `targets` checks the words compared with TARGET (a typo is an error, not a
  /// condition that never holds). The message has no position; the caller adds it.
  static Result<Condition> parse(std::string_view text, const TargetSet& targets);

  bool eval(const ConditionVars& vars) const;
  /// The text as written, trimmed.
  const std::string& text() const { return text_; }

 private:
  friend class detail::ConditionParser;
  enum class Var : std::uint8_t { target, delivery, nmi_source, smp, arch, accel, machine, file };
  enum class Op : std::uint8_t { eq, ne, lt, le, gt, ge };
  struct Operand {
    bool is_var = false;
    Var var = Var::target;
    std::string word;
  };
  struct Node {
    enum class Kind : std::uint8_t { constant, negate, all, any, compare };
    Kind kind = Kind::constant;
    bool value = false;   // constant
    std::size_t a = 0;    // negate, all, any: operand nodes
    std::size_t b = 0;    // all, any
    Op op = Op::eq;       // compare
    Operand left, right;  // compare
  };
  static std::string_view value_of(const Operand& o, const ConditionVars& vars);
  static bool compare(const Node& n, const ConditionVars& vars);

  std::string text_;
  std::vector<Node> nodes_;  // nodes_.back() is the root
};

// --- The cfg file ----------------------------------------------------------------------

/// One [test-name] section.
struct SuiteTest {
  std::string name;
  std::uint32_t line = 0;              // of the [name] line
  std::string file;                    // as written: relative to the cfg file's directory
  std::string smp;                     // as written ("4", "$MAX_SMP"); empty = the scenario's own
  std::vector<std::string> test_args;  // overrides, split as a shell splits words
  /// `<target>_params` (extra_params is the default target's): per target name, the
  /// words; for a name that is not a defined target (qemu, kvmtool) the raw text.
  std::vector<std::pair<std::string, std::vector<std::string>>> params;
  std::vector<std::string> groups;
  std::optional<double> timeout_seconds;  // 0 = none
  std::optional<Condition> disabled_if;
  std::string disabled_reason;  // fredsim extension: shown after the condition
  std::string arch, accel, machine;
  std::vector<std::string> checks;  // kvm-unit-tests `check` lines: accepted, reported

  /// The words of `<target>_params` for this target (none when not given).
  std::span<const std::string> params_for(std::string_view target) const;
};

struct Suite {
  std::string path;  // the cfg file (or the name given to parse_suite)
  std::vector<SuiteTest> tests;
};

/// Reads a unittests.cfg. `targets` decides which `<name>_params` keys exist.
Result<Suite> parse_suite(std::string_view text, std::string_view source_name,
                          const TargetSet& targets);
Result<Suite> load_suite_file(const std::string& path, const TargetSet& targets);

/// Splits a value into words as a POSIX shell would without expansions: blanks
/// separate, '...' and "..." group, a backslash quotes the next character.
/// nullopt for an unterminated quote.
std::optional<std::vector<std::string>> split_words(std::string_view text);
/// Quotes a word for a shell command line only when it needs it.
std::string shell_quote(std::string_view word);
/// "30", "1.5", "2m", "1h", "1d" (kvm-unit-tests' timeout, as timeout(1) reads it).
std::optional<double> parse_duration(std::string_view text);

// --- Running ---------------------------------------------------------------------------

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
                     const ScenarioRunner& runner);

/// Runs `selected` on `options.jobs` threads. `report(i, outcome)` is called on the
/// calling thread in the order of `selected`, whichever test finishes first, so the
/// report is the same for any -j. The outcomes are those of the tests that ran:
/// every selected one unless options.interrupt was set.
std::vector<TestOutcome> run_suite(
    const Suite& suite, std::span<const SuiteTest* const> selected, const SuiteRunOptions& options,
    const ScenarioRunner& runner,
    const std::function<void(std::size_t, const TestOutcome&)>& report = {});

// --- Reports ---------------------------------------------------------------------------

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

// --- The command -----------------------------------------------------------------------

/// `fredsim suite` (docs/suites.md).
struct SuiteCommand {
  std::string file;
  std::vector<std::string> tests;
  std::optional<std::string> target;        // --target
  std::optional<std::string> env_target;    // FREDSIM_TARGET
  std::optional<std::string> env_timeout;   // FREDSIM_TIMEOUT
  std::optional<std::string> targets_file;  // --targets
  std::vector<std::string> groups;          // -g
  unsigned jobs = 1;                        // -j
  bool verbose = false;                     // -v
  bool tap = false;                         // -t
  std::optional<std::string> junit_out;     // --junit ("-" = stdout)
};

/// Exit status: 0 nothing failed, 1 a test failed, 2 bad input or usage.
int suite_command(const SuiteCommand& cmd, const ScenarioRunner& runner, std::ostream& out,
                  std::ostream& err);

}  // namespace fredsim::scenario
