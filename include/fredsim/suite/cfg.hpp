#pragma once
// A suite file: the unittests.cfg of kvm-unit-tests, its [test] sections read
// into SuiteTest records, and the small word and duration parsers it needs.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fredsim/sim/result.hpp"
#include "fredsim/suite/condition.hpp"
#include "fredsim/suite/targets.hpp"

namespace fredsim::suite {

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

}  // namespace fredsim::suite
