// Machine targets: the built-in ones and targets files.
#include <gtest/gtest.h>

#include "fredsim/suite/targets.hpp"

namespace fredsim::suite {
namespace {

std::string add_error(std::string_view text) {
  TargetSet t = TargetSet::builtin();
  auto st = t.add_string(text, "x.targets");
  return st.ok() ? std::string() : st.error().message;
}

TEST(SuiteTargets, BuiltIn) {
  const TargetSet t = TargetSet::builtin();
  ASSERT_EQ(t.all().size(), 3u);
  EXPECT_EQ(t.names(), "idt, fred, fred-nmisrc");
  EXPECT_EQ(t.find("idt")->sets,
            (std::vector<std::string>{"system.delivery=idt", "system.nmi_source=false"}));
  EXPECT_EQ(t.find("fred")->sets,
            (std::vector<std::string>{"system.delivery=fred", "system.nmi_source=false"}));
  EXPECT_EQ(t.find("fred-nmisrc")->sets,
            (std::vector<std::string>{"system.delivery=fred", "system.nmi_source=true"}));
  EXPECT_EQ(t.find(kDefaultTarget)->name, "fred-nmisrc");
  EXPECT_EQ(t.find("idt")->origin, "built in");
  EXPECT_FALSE(t.find("qemu"));
  EXPECT_TRUE(t.knows("qemu"));  // kvm-unit-tests' VMMs, for cfgs of its own
  EXPECT_TRUE(t.knows("kvmtool"));
  EXPECT_FALSE(t.knows("bochs"));
}

TEST(SuiteTargets, File) {
  TargetSet t = TargetSet::builtin();
  auto st = t.add_string(
      "# two more\n"
      "[idt-xapic]\n"
      "description = IDT on an xAPIC machine   # a comment\n"
      "set = system.delivery=idt system.nmi_source=false\n"
      "set = system.apic=xapic 'name=two words'\n"
      "\n"
      "[v5]\n"
      "set = \"\"\"system.kernel=v5\n"
      "        timing.vm_exit=900\"\"\"\n"
      "[as-written]\n",
      "x.targets");
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(t.names(), "idt, fred, fred-nmisrc, idt-xapic, v5, as-written");
  const Target* x = t.find("idt-xapic");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->description, "IDT on an xAPIC machine");
  EXPECT_EQ(x->sets, (std::vector<std::string>{"system.delivery=idt", "system.nmi_source=false",
                                               "system.apic=xapic", "name=two words"}));
  EXPECT_EQ(x->origin, "x.targets:2");
  EXPECT_EQ(t.find("v5")->sets,
            (std::vector<std::string>{"system.kernel=v5", "timing.vm_exit=900"}));
  EXPECT_TRUE(t.find("as-written")->sets.empty());
}

TEST(SuiteTargets, FileErrors) {
  EXPECT_EQ(add_error("set = a=1\n"), "x.targets:1: error: 'set' outside a [target-name] section");
  EXPECT_EQ(add_error("[a]\nsets = a=1\n"),
            "x.targets:2: error: unknown key 'sets' in target [a] (allowed: set, description)");
  EXPECT_EQ(add_error("[a]\n[b]\n[a]\n"),
            "x.targets:3: error: target 'a' is already defined (x.targets:1)");
  EXPECT_EQ(add_error("[idt]\nset = system.apic=xapic\n"),
            "x.targets:1: error: target 'idt' is already defined (built in)");
  EXPECT_EQ(add_error("[qemu]\n"),
            "x.targets:1: error: 'qemu' is a kvm-unit-tests VMM name; choose another");
  EXPECT_EQ(add_error("[a/b]\n"),
            "x.targets:1: error: bad target name 'a/b' (letters, digits, '_', '-', '.')");
  EXPECT_EQ(add_error("[a]\nset = nokey\n"),
            "x.targets:2: error: set nokey: expected KEY=VALUE (e.g. system.cpus=64)");
  EXPECT_EQ(add_error("[a]\nset = 'open\n"), "x.targets:2: error: set: unterminated quote");
  EXPECT_EQ(add_error("[a]\ndescription = x\ndescription = y\n"),
            "x.targets:3: error: duplicate key 'description'");
  // A file with an error adds nothing.
  TargetSet t = TargetSet::builtin();
  EXPECT_FALSE(t.add_string("[good]\n[bad\n", "x.targets").ok());
  EXPECT_FALSE(t.find("good"));
  auto missing = t.add_file("/nonexistent/x.targets");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "/nonexistent/x.targets: error: cannot open: No such file or directory");
}

}  // namespace
}  // namespace fredsim::suite
