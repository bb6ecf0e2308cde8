#pragma once
// Machine targets of a suite (docs/suites.md "Targets"): the built-in idt, fred
// and fred-nmisrc, and those a targets file adds.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/sim/result.hpp"

namespace fredsim::suite {

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

}  // namespace fredsim::suite
