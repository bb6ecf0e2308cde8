// The suite layer: the cfg format, running tests under a target, the reports and
// the repository's own suite.
#include "fredsim/suite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "fredsim/scenario/system_runner.hpp"
#include "scenario/test_util.hpp"
#include "suite/suite_fixture.hpp"

namespace fredsim::suite {
namespace {

using namespace fredsim::scenario;
using namespace fredsim::suite::test;

// --- The cfg format --------------------------------------------------------------------

TEST(SuiteFile, ParsesEveryKey) {
  Suite s = parse_ok(R"(# a comment
[one]
file = a.toml
smp = 4
test_args = system.seed=7 name="two words" 'timing.vm_exit=900'
extra_params = expect.0.calls=1
idt_params = expect.0.calls=2 expect.1.calls=3
fred_params = kernel.unknown_nmi_panic=true
qemu_params = -cpu max -append 'x'
kvmtool_params = --irqchip=gicv3
groups = perf  smp
timeout = 1.5m
disabled_if = TARGET == idt && SMP > 2
disabled_reason = because
arch = x86_64
accel = kvm
machine = q35
check = /proc/a=1
check = /proc/b=2

[two]
file = sub/b.toml
)");
  ASSERT_EQ(s.tests.size(), 2u);
  const SuiteTest& t = s.tests[0];
  EXPECT_EQ(t.name, "one");
  EXPECT_EQ(t.line, 2u);
  EXPECT_EQ(t.file, "a.toml");
  EXPECT_EQ(t.smp, "4");
  EXPECT_EQ(t.test_args,
            (std::vector<std::string>{"system.seed=7", "name=two words", "timing.vm_exit=900"}));
  // extra_params is the default target's (fred-nmisrc) params.
  EXPECT_EQ(std::vector<std::string>(t.params_for("fred-nmisrc").begin(),
                                     t.params_for("fred-nmisrc").end()),
            std::vector<std::string>{"expect.0.calls=1"});
  EXPECT_EQ(t.params_for("idt").size(), 2u);
  EXPECT_EQ(t.params_for("idt")[1], "expect.1.calls=3");
  EXPECT_EQ(t.params_for("fred")[0], "kernel.unknown_nmi_panic=true");
  // Another VMM's options are kept whole, never split nor applied.
  ASSERT_EQ(t.params_for("qemu").size(), 1u);
  EXPECT_EQ(t.params_for("qemu")[0], "-cpu max -append 'x'");
  EXPECT_EQ(t.params_for("kvmtool")[0], "--irqchip=gicv3");
  EXPECT_EQ(t.groups, (std::vector<std::string>{"perf", "smp"}));
  ASSERT_TRUE(t.timeout_seconds);
  EXPECT_DOUBLE_EQ(*t.timeout_seconds, 90.0);
  ASSERT_TRUE(t.disabled_if);
  EXPECT_EQ(t.disabled_if->text(), "TARGET == idt && SMP > 2");
  EXPECT_EQ(t.disabled_reason, "because");
  EXPECT_EQ(t.arch, "x86_64");
  EXPECT_EQ(t.accel, "kvm");
  EXPECT_EQ(t.machine, "q35");
  EXPECT_EQ(t.checks, (std::vector<std::string>{"/proc/a=1", "/proc/b=2"}));
  const SuiteTest& u = s.tests[1];
  EXPECT_EQ(u.name, "two");
  EXPECT_EQ(u.line, 21u);
  EXPECT_EQ(u.file, "sub/b.toml");
  EXPECT_TRUE(u.smp.empty());
  EXPECT_FALSE(u.timeout_seconds);
  EXPECT_FALSE(u.disabled_if);
  EXPECT_TRUE(u.params_for("idt").empty());
}

TEST(SuiteFile, Comments) {
  Suite s = parse_ok(
      "#[commented-out]\n#file = x.toml\n\n   # indented comment\n"
      "[t]   # after a section\n"
      "file = a.toml # after a value\n"
      "test_args = name=\"a #b\" seed=c#d\n"
      "groups = g1 # g2\n");
  ASSERT_EQ(s.tests.size(), 1u);
  EXPECT_EQ(s.tests[0].file, "a.toml");
  // '#' inside quotes, or not after a blank, is text.
  EXPECT_EQ(s.tests[0].test_args, (std::vector<std::string>{"name=a #b", "seed=c#d"}));
  EXPECT_EQ(s.tests[0].groups, std::vector<std::string>{"g1"});
}

TEST(SuiteFile, MultiLineValuesAndLineEndings) {
  Suite s = parse_ok(
      "[t]\r\n"
      "file = a.toml\r\n"
      "test_args = \"\"\"system.cpus=2\r\n"
      "   # not a comment inside but a word\r\n"
      "name=jo\\\r\n"
      "ined   \"\"\"\r\n"
      "idt_params = \"\"\"expect.0.calls=1\"\"\"\r\n"
      "[u]\nfile = b.toml");  // no newline at the end
  ASSERT_EQ(s.tests.size(), 2u);
  EXPECT_EQ(s.tests[0].test_args,
            (std::vector<std::string>{"system.cpus=2", "#", "not", "a", "comment", "inside", "but",
                                      "a", "word", "name=joined"}))
      << "the backslash at the end of a line joins the next one";
  EXPECT_EQ(s.tests[0].params_for("idt")[0], "expect.0.calls=1");
  EXPECT_EQ(s.tests[1].file, "b.toml");
  EXPECT_EQ(s.tests[1].line, 8u);
}

TEST(SuiteFile, EmptyFileIsAnEmptySuite) {
  EXPECT_TRUE(parse_ok("").tests.empty());
  EXPECT_TRUE(parse_ok("\n# only comments\n\n").tests.empty());
}

TEST(SuiteFile, ErrorsNameTheFileAndLine) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"file = a.toml\n", "t.cfg:1: error: 'file' outside a test: start one with [test-name]"},
      {"\n# c\nsmp = 2\n[t]\nfile = a.toml\n",
       "t.cfg:3: error: 'smp' outside a test: start one with [test-name]"},
      {"[t]\nfile = a.toml\nfiel = b\n",
       "t.cfg:3: error: unknown key 'fiel' in [t] (allowed: file, smp, test_args, groups, "
       "timeout, disabled_if, disabled_reason, arch, accel, machine, check, extra_params, "
       "idt_params, fred_params, fred-nmisrc_params, qemu_params, kvmtool_params)"},
      {"[t]\nsmp = 2\n\n[u]\nfile = b.toml\n",
       "t.cfg:1: error: test [t] has no 'file' (file = SCENARIO.toml)"},
      {"[t]\nfile = a.toml\n[u]\nfile = b.toml\n", ""},
      {"[t]\nfile = a.toml\n[u]\nfile = b.toml\n[t]\nfile = c.toml\n",
       "t.cfg:5: error: duplicate test [t] (first at line 1)"},
      {"[t]\nfile = a.toml\nsmp = 2\nsmp = 3\n",
       "t.cfg:4: error: duplicate key 'smp' in [t] (first at line 3)"},
      {"[t]\nfile = a.toml\nextra_params = a=1\nfred-nmisrc_params = b=2\n",
       "t.cfg:4: error: duplicate key 'fred-nmisrc_params' in [t] (first at line 3; extra_params "
       "is fred-nmisrc_params)"},
      {"[t]\nfile = a.toml\ndisabled_if = TARGET == idtt\n",
       "t.cfg:3: error: disabled_if: unknown target 'idtt' (targets: idt, fred, fred-nmisrc; "
       "kvm-unit-tests: qemu, kvmtool)"},
      {"[t]\nfile = a.toml\ndisabled_if = TARGET ==\n",
       "t.cfg:3: error: disabled_if: '==' needs a right-hand side"},
      {"[t]\nfile = a.toml\nfred_nmisrc_params = a=1\n",
       "t.cfg:3: error: 'fred_nmisrc_params': unknown target 'fred_nmisrc' (targets: idt, fred, "
       "fred-nmisrc; kvm-unit-tests: qemu, kvmtool)"},
      {"[t]\nfile = a.toml\nsmp = many\n",
       "t.cfg:3: error: smp = many is not a CPU count (a number, or $MAX_SMP)"},
      {"[t]\nfile = a.toml\nsmp = 0\n", "t.cfg:3: error: smp = 0 is out of range (1..4096)"},
      {"[t]\nfile = a.toml\nsmp = 4097\n", "t.cfg:3: error: smp = 4097 is out of range (1..4096)"},
      {"[t]\nfile = a.toml\ntimeout = soon\n",
       "t.cfg:3: error: timeout = soon is not a duration (seconds, or N with s, m, h, d)"},
      {"[t]\nfile = a.toml\ntimeout = -1\n",
       "t.cfg:3: error: timeout = -1 is not a duration (seconds, or N with s, m, h, d)"},
      {"[t]\nfile =\n", "t.cfg:2: error: file is empty: file = SCENARIO.toml"},
      {"[t]\nfile = a.toml\ntest_args = name='open\n",
       "t.cfg:3: error: test_args: unterminated quote"},
      {"[t]\nfile = a.toml\njust words\n",
       "t.cfg:3: error: expected '[test-name]' or 'KEY = VALUE', not 'just words'"},
      {"[t\nfile = a.toml\n", "t.cfg:1: error: a section line needs a closing ']': [test-name]"},
      {"[]\n",
       "t.cfg:1: error: bad section name '[]': give one word without blanks, quotes or "
       "brackets"},
      {"[two words]\n",
       "t.cfg:1: error: bad section name '[two words]': give one word without "
       "blanks, quotes or brackets"},
      {"[t] x\n", "t.cfg:1: error: unexpected 'x' after the section's ']'"},
      {"[t]\nfi le = a\n", "t.cfg:2: error: bad key 'fi le' (letters, digits, '_', '-', '.')"},
      {"[t]\nfile = a.toml\n\ntest_args = \"\"\"a=1\nb=2\n",
       "t.cfg:4: error: the \"\"\" value opened here is never closed"},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(parse_error(text), want) << text;
  }
}

TEST(SuiteFile, LoadErrors) {
  TargetSet targets = TargetSet::builtin();
  auto missing = load_suite_file("/nonexistent/unittests.cfg", targets);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "/nonexistent/unittests.cfg: error: cannot open: No such file or directory");
  test::TempDir dir;
  auto d = load_suite_file(dir.path(""), targets);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
}

TEST(SuiteFile, ParamsKeysFollowTheTargets) {
  constexpr std::string_view kCfg = "[t]\nfile = a.toml\nxapic_params = system.apic=xapic\n";
  EXPECT_NE(parse_error(kCfg), "");
  TargetSet targets = TargetSet::builtin();
  ASSERT_TRUE(targets.add_string("[xapic]\nset = system.apic=xapic\n", "x.targets").ok());
  Suite s = parse_ok(kCfg, targets);
  EXPECT_EQ(s.tests[0].params_for("xapic")[0], "system.apic=xapic");
  // A condition may then name the new target too.
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\ndisabled_if = TARGET != xapic\n", targets), "");
}

TEST(SuiteFile, OddInputsNeverCrash) {
  // Deterministic "fuzzing": random texts over the format's own characters, and
  // random edits of a valid cfg. Each must parse, or fail with FILE:LINE: error.
  const std::string valid =
      "# c\n[t]\nfile = a.toml\nsmp = 2\ntest_args = \"\"\"a=1 \\\nb='2 3'\"\"\"\n"
      "disabled_if = [[ \"$TARGET\" != qemu ]] || !(SMP >= 2 && DELIVERY == idt)\n"
      "idt_params = x=1\ngroups = a b\ntimeout = 1.5s\n";
  const std::string alphabet = "[]=#\"'\\\n\r\t $(){}!&|<>-_.abTARGETSMPfile01234";
  std::mt19937 rng(1);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n)(rng); };
  TargetSet targets = TargetSet::builtin();
  const ConditionVars vars{"idt", "idt", "false", "2", "x86_64", "", "", "a.toml"};
  for (int iter = 0; iter < 4000; ++iter) {
    std::string text;
    if (iter % 2 == 0) {
      const std::size_t n = pick(120);
      for (std::size_t i = 0; i < n; ++i) {
        text += iter % 4 == 0 ? alphabet[pick(alphabet.size() - 1)] : static_cast<char>(pick(255));
      }
    } else {
      text = valid;
      for (std::size_t edits = 1 + pick(4); edits > 0; --edits) {
        const std::size_t at = pick(text.size());
        switch (pick(2)) {
          case 0:
            text.insert(at, 1, alphabet[pick(alphabet.size() - 1)]);
            break;
          case 1:
            if (at < text.size()) text.erase(at, 1);
            break;
          default:
            if (at < text.size()) text[at] = alphabet[pick(alphabet.size() - 1)];
            break;
        }
      }
    }
    auto r = parse_suite(text, "t.cfg", targets);
    if (!r.ok()) {
      EXPECT_TRUE(r.error().message.starts_with("t.cfg:")) << r.error().message;
      EXPECT_NE(r.error().message.find(": error: "), std::string::npos) << r.error().message;
    } else {
      for (const auto& t : r->tests) {
        if (t.disabled_if) (void)t.disabled_if->eval(vars);
      }
    }
    auto c = Condition::parse(text, targets);
    if (c.ok()) (void)c->eval(vars);
    TargetSet more = TargetSet::builtin();
    (void)more.add_string(text, "x.targets");
  }
}

TEST(SuiteFile, SplitWords) {
  using W = std::vector<std::string>;
  EXPECT_EQ(split_words(""), W{});
  EXPECT_EQ(split_words("  a  b\tc\n"), (W{"a", "b", "c"}));
  EXPECT_EQ(split_words("a='b c' \"d e\"f"), (W{"a=b c", "d ef"}));
  EXPECT_EQ(split_words(R"(a\ b "c\"d" 'e\f' "g\h")"), (W{"a b", "c\"d", "e\\f", "g\\h"}));
  EXPECT_EQ(split_words("'' x"), (W{"", "x"}));
  EXPECT_EQ(split_words("a\\\nb"), W{"ab"});
  EXPECT_EQ(split_words("tail\\"), W{"tail\\"});
  EXPECT_FALSE(split_words("'open"));
  EXPECT_FALSE(split_words("\"open"));
}

TEST(SuiteFile, ShellQuote) {
  EXPECT_EQ(shell_quote("system.cpus=4"), "system.cpus=4");
  EXPECT_EQ(shell_quote("/a/b-c_d.toml"), "/a/b-c_d.toml");
  EXPECT_EQ(shell_quote("name=two words"), "'name=two words'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  // What it quotes reads back as the same word.
  for (std::string w : {"a b", "it's", "$HOME", "x\"y", "", "tab\there"}) {
    auto back = split_words(shell_quote(w));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, std::vector<std::string>{w});
  }
}

TEST(SuiteFile, ParseDuration) {
  EXPECT_EQ(parse_duration("30"), 30.0);
  EXPECT_EQ(parse_duration("0"), 0.0);
  EXPECT_EQ(parse_duration("1.5"), 1.5);
  EXPECT_EQ(parse_duration("90s"), 90.0);
  EXPECT_EQ(parse_duration("2m"), 120.0);
  EXPECT_EQ(parse_duration("1h"), 3600.0);
  EXPECT_EQ(parse_duration("1d"), 86400.0);
  EXPECT_EQ(parse_duration(".5"), 0.5);
  for (std::string_view bad : {"", "s", "-1", "1e3", "1.2.3", "1x", "inf", "nan", ".", " 1"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(SuiteRun, TimedRunMatchesTheUntimedOne) {
  // The timed path (a session in chunks) and runner.run reach the same verdicts on
  // the library's scenarios: here the whole repository suite, with a timeout for
  // every test from FREDSIM_TIMEOUT.
  const std::string cfg = test::source_dir() + "/scenarios/unittests.cfg";
  TargetSet targets = TargetSet::builtin();
  auto suite = load_suite_file(cfg, targets);
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  for (const char* name : {"idt", "fred", "fred-nmisrc"}) {
    SuiteRunOptions plain;
    plain.target = targets.find(name);
    auto selected = select_tests(*suite, plain);
    ASSERT_TRUE(selected.ok());
    // The 100,000-iteration loops (group long) are left out: they add seconds,
    // not paths the comparison needs.
    std::erase_if(*selected, [](const SuiteTest* t) {
      return std::find(t->groups.begin(), t->groups.end(), "long") != t->groups.end();
    });
    SuiteRunOptions timed = plain;
    timed.default_timeout = 600;
    SystemRunner runner;
    auto a = run_suite(*suite, *selected, plain, runner);
    auto b = run_suite(*suite, *selected, timed, runner);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].verdict, b[i].verdict) << name << " " << a[i].name;
      EXPECT_EQ(a[i].reason, b[i].reason) << name << " " << a[i].name;
    }
  }
}

TEST(SuiteReport, XmlEscape) {
  EXPECT_EQ(xml_escape("a&b<c>\"d\"'e'"), "a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;");
  EXPECT_EQ(xml_escape("tab\there\nnl"), "tab&#9;here&#10;nl");
  EXPECT_EQ(xml_escape(std::string("nul\0bell\a", 9)), "nul?bell?");
  EXPECT_EQ(xml_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");  // valid UTF-8 kept
  EXPECT_EQ(xml_escape("\xC3"), "?");                      // truncated
  EXPECT_EQ(xml_escape("\xC0\xAF"), "??");                 // overlong
  EXPECT_EQ(xml_escape("\xED\xA0\x80"), "???");            // a surrogate
  EXPECT_EQ(xml_escape("\xFF"), "?");
}

TEST(SuiteReport, RunSuiteReportsInOrder) {
  MixedSuite m;
  TargetSet targets = TargetSet::builtin();
  auto suite = load_suite_file(m.cfg(), targets);
  ASSERT_TRUE(suite.ok());
  SuiteRunOptions o;
  o.target = targets.find("fred-nmisrc");
  o.jobs = 4;
  auto selected = select_tests(*suite, o);
  ASSERT_TRUE(selected.ok());
  std::vector<std::size_t> order;
  auto outcomes = run_suite(*suite, *selected, o, FakeRunner{},
                            [&](std::size_t i, const TestOutcome&) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_EQ(outcomes.size(), 9u);
  EXPECT_EQ(outcomes[0].verdict, Verdict::pass);
  EXPECT_EQ(outcomes[1].fail_kind, FailKind::expectation);
  EXPECT_EQ(outcomes[5].fail_kind, FailKind::premature);
  EXPECT_EQ(outcomes[7].fail_kind, FailKind::timeout);
  EXPECT_EQ(outcomes[2].verdict, Verdict::skip);
}

// --- The repository's suite ------------------------------------------------------------

TEST(RepositorySuite, ListsEveryScenario) {
  const std::string root = test::source_dir();
  auto suite = load_suite_file(root + "/scenarios/unittests.cfg", TargetSet::builtin());
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  std::set<std::string> listed;
  for (const auto& t : suite->tests)
    listed.insert(t.file);
  std::set<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(root + "/scenarios")) {
    if (e.path().extension() == ".toml") files.insert(e.path().filename().string());
  }
  ASSERT_FALSE(files.empty());
  for (const auto& f : files)
    EXPECT_TRUE(listed.count(f)) << f << " is not in scenarios/unittests.cfg";
  for (const auto& f : listed)
    EXPECT_TRUE(files.count(f)) << f << " is in unittests.cfg but not in scenarios/";
}

// --- Bad bytes, long values, slow loads -------------------------------------------------

TEST(SuiteFile, NulAndInvalidUtf8AreErrorsAtTheirLine) {
  using namespace std::string_literals;
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\n\0\n"s),
            "t.cfg:3: error: a NUL byte at column 1: the file must be UTF-8 text");
  EXPECT_EQ(parse_error("[t]\nfile = a.toml # \xc3\xa9t\xc3\n"),
            "t.cfg:2: error: invalid UTF-8 (byte 0xc3) at column 20: the file must be UTF-8 text");
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
  for (std::string bad : {"\xc0\xaf"s, "\xe0\x80\xaf"s, "\xed\xa0\x80"s, "\xf4\x90\x80\x80"s,
                          "\xf8\x88\x80\x80\x80"s, "\x80"s}) {
    EXPECT_EQ(
        parse_error("[t" + bad + "]\nfile = a.toml\n").rfind("t.cfg:1: error: invalid UTF-8", 0),
        0u)
        << parse_error("[t" + bad + "]\nfile = a.toml\n");
  }
  // Valid UTF-8 of every length is fine.
  Suite s = parse_ok("[caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80]\nfile = a.toml\n");
  EXPECT_EQ(s.tests[0].name, "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80");
}

TEST(SuiteFile, LongValuesAreClippedInErrors) {
  const std::string huge(5'000'000, 's');
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\nsmp = " + huge + "\n"),
            "t.cfg:3: error: smp = " + std::string(64, 's') +
                "... (5000000 bytes) is not a CPU count (a number, or $MAX_SMP)");
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\ntimeout = " + huge + "\n"),
            "t.cfg:3: error: timeout = " + std::string(64, 's') +
                "... (5000000 bytes) is not a duration (seconds, or N with s, m, h, d)");
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\ndisabled_if = TARGET == " + huge + "\n"),
            "t.cfg:3: error: disabled_if: unknown target '" + std::string(64, 's') +
                "... (5000000 bytes)' (targets: idt, fred, fred-nmisrc; kvm-unit-tests: qemu, "
                "kvmtool)");
  EXPECT_EQ(parse_error("[" + huge + "]\nfile = a.toml\n[" + huge + "]\n"),
            "t.cfg:3: error: duplicate test [" + std::string(64, 's') +
                "... (5000000 bytes)] (first at line 1)");
  // A number too large for 64 bits is out of range, not "not a number".
  EXPECT_EQ(parse_error("[t]\nfile = a.toml\nsmp = 99999999999999999999\n"),
            "t.cfg:3: error: smp = 99999999999999999999 is out of range (1..4096)");
}

}  // namespace
}  // namespace fredsim::suite
