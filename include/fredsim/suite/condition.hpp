#pragma once
// The disabled_if expressions of a suite test (docs/suites.md "disabled_if").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/sim/result.hpp"
#include "fredsim/suite/targets.hpp"

namespace fredsim::suite {

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

}  // namespace fredsim::suite
