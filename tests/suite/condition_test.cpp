// disabled_if: the grammar of docs/suites.md, its errors, and its evaluation.
#include <gtest/gtest.h>

#include <string>

#include "fredsim/suite/condition.hpp"

namespace fredsim::suite {
namespace {

const TargetSet& targets() {
  static const TargetSet t = TargetSet::builtin();
  return t;
}

/// The value of `text` under `vars`; fails the test when it does not parse.
bool holds(std::string_view text, const ConditionVars& vars) {
  auto c = Condition::parse(text, targets());
  EXPECT_TRUE(c.ok()) << text << ": " << c.error().message;
  return c.ok() && c->eval(vars);
}

std::string error_of(std::string_view text) {
  auto c = Condition::parse(text, targets());
  return c.ok() ? std::string() : c.error().message;
}

ConditionVars on(std::string_view target) {
  ConditionVars v;
  v.target = target;
  v.delivery = target == "idt" ? "idt" : "fred";
  v.nmi_source = target == "fred-nmisrc" ? "true" : "false";
  v.smp = "4";
  v.arch = "x86_64";
  v.file = "demo.toml";
  return v;
}

TEST(SuiteCondition, ComparesTheTarget) {
  EXPECT_TRUE(holds("TARGET == idt", on("idt")));
  EXPECT_FALSE(holds("TARGET == idt", on("fred")));
  EXPECT_TRUE(holds("TARGET != idt", on("fred-nmisrc")));
  EXPECT_TRUE(holds("TARGET = fred", on("fred")));  // bash's single '='
  EXPECT_TRUE(holds("TARGET == 'fred-nmisrc'", on("fred-nmisrc")));
  EXPECT_TRUE(holds("idt == TARGET", on("idt")));
}

TEST(SuiteCondition, BashSpellingOfKvmUnitTests) {
  // arm/unittests.cfg: disabled_if = [[ "$TARGET" != qemu ]]
  EXPECT_TRUE(holds("[[ \"$TARGET\" != qemu ]]", on("idt")));
  EXPECT_FALSE(holds("[[ \"$TARGET\" == fred ]]", on("idt")));
  EXPECT_TRUE(holds("[[ $TARGET == idt ]]", on("idt")));
  EXPECT_TRUE(holds("[[ \"${TARGET}\" == idt ]] && [[ $SMP == 4 || false ]]", on("idt")));
  EXPECT_TRUE(holds("[[ ${TARGET} == idt ]]", on("idt")));
}

TEST(SuiteCondition, Operators) {
  const ConditionVars v = on("idt");
  EXPECT_TRUE(holds("true", v));
  EXPECT_FALSE(holds("false", v));
  EXPECT_FALSE(holds("!true", v));
  EXPECT_TRUE(holds("!!true", v));
  // && binds tighter than ||.
  EXPECT_TRUE(holds("true || false && false", v));
  EXPECT_FALSE(holds("(true || false) && false", v));
  EXPECT_TRUE(holds("! (TARGET == fred) && DELIVERY == idt", v));
  EXPECT_TRUE(holds("TARGET == fred || TARGET == idt", v));
  EXPECT_TRUE(holds("NMI_SOURCE == false && ARCH == x86_64 && FILE == demo.toml", v));
  EXPECT_TRUE(holds("ACCEL == '' && MACHINE == \"\"", v));
}

TEST(SuiteCondition, NumbersCompareAsNumbers) {
  ConditionVars v = on("fred");
  v.smp = "16";
  EXPECT_TRUE(holds("SMP > 4", v));
  EXPECT_TRUE(holds("SMP >= 16", v));
  EXPECT_FALSE(holds("SMP < 4", v));  // "16" < "4" as text, not as numbers
  EXPECT_TRUE(holds("SMP <= 16", v));
  EXPECT_TRUE(holds("SMP == 16", v));
  // A side that is not a number (SMP left out, $MAX_SMP) makes an ordering false.
  v.smp = "";
  EXPECT_FALSE(holds("SMP > 4", v));
  EXPECT_FALSE(holds("SMP <= 4", v));
  v.smp = "$MAX_SMP";
  EXPECT_FALSE(holds("SMP > 4", v));
}

TEST(SuiteCondition, Errors) {
  EXPECT_EQ(error_of(""), "empty condition");
  EXPECT_EQ(error_of("   "), "empty condition");
  EXPECT_EQ(error_of("TARGET == idtt"),
            "unknown target 'idtt' (targets: idt, fred, fred-nmisrc; kvm-unit-tests: qemu, "
            "kvmtool)");
  EXPECT_EQ(error_of("DELIVERY == ifred"), "DELIVERY is \"fred\", \"idt\" or \"\", not 'ifred'");
  EXPECT_EQ(error_of("NMI_SOURCE == yes"), "NMI_SOURCE is \"true\", \"false\" or \"\", not 'yes'");
  EXPECT_EQ(error_of("$NOPE == 1"),
            "unknown variable '$NOPE' (known: TARGET, DELIVERY, NMI_SOURCE, SMP, ARCH, ACCEL, "
            "MACHINE, FILE)");
  EXPECT_EQ(error_of("SMP > many"), "'many' is not a number (< <= > >= compare numbers)");
  EXPECT_EQ(error_of("TARGET"), "'TARGET' needs a comparison (== != < <= > >=)");
  EXPECT_EQ(error_of("TARGET =="), "'==' needs a right-hand side");
  EXPECT_EQ(error_of("(TARGET == idt"), "missing ')'");
  EXPECT_EQ(error_of("[[ TARGET == idt"), "missing ']]'");
  EXPECT_EQ(error_of("[ TARGET == idt ]"),
            "single '[' at column 1: group with [[ ... ]] or ( ... )");
  EXPECT_EQ(error_of("TARGET == idt )"), "unexpected ')' at column 15");
  EXPECT_EQ(error_of("TARGET == idt & true"), "unexpected character '&' at column 15");
  EXPECT_EQ(error_of("TARGET == 'idt"), "unterminated ' quote at column 11");
  EXPECT_EQ(error_of("\"$TARGET-x\" == idt"),
            "\"$TARGET-x\" at column 1: only a whole \"$VARIABLE\" is expanded in quotes");
  EXPECT_EQ(error_of("${TARGET == idt"), "'${' at column 1 needs a closing '}'");
  EXPECT_EQ(error_of("true true"), "unexpected 'true' at column 6");
  EXPECT_EQ(error_of("&& true"), "unexpected '&&' at column 1");
}

TEST(SuiteCondition, DeepInputsDoNotOverflow) {
  const ConditionVars v = on("idt");
  // Nesting is bounded...
  EXPECT_EQ(error_of(std::string(10000, '(') + "true" + std::string(10000, ')')),
            "the condition is nested too deeply");
  EXPECT_EQ(error_of(std::string(10000, '!') + "true"), "the condition is nested too deeply");
  EXPECT_TRUE(holds(std::string(60, '(') + "true" + std::string(60, ')'), v));
  // ...and a long chain is not nesting: it parses and evaluates without recursion.
  std::string chain = "true";
  for (int i = 0; i < 20000; ++i)
    chain += " && TARGET == idt";
  EXPECT_TRUE(holds(chain, v));
  chain += " && false";
  EXPECT_FALSE(holds(chain, v));
}

TEST(SuiteCondition, KeepsItsText) {
  auto c = Condition::parse("  TARGET == idt \n", targets());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->text(), "TARGET == idt");
}

}  // namespace
}  // namespace fredsim::suite
