// `fredsim suite`: the cfg format, running tests under a target, the reports (plain,
// TAP, JUnit), -j, timeouts and the exit status.
#include "fredsim/scenario/suite.hpp"

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

#include "fredsim/scenario/cli.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "test_util.hpp"

namespace fredsim::scenario {
namespace {

// --- Doubles and helpers ---------------------------------------------------------------

/// A session that never ends: each run_to moves time on and takes a millisecond,
/// as a scenario far too long for its timeout would.
class EndlessSession final : public ScenarioSession {
 public:
  Cycle now() const override { return now_; }
  bool done() const override { return false; }
  std::vector<std::string> step() override {
    ++now_;
    return {};
  }
  std::vector<std::string> run_to(Cycle c) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    now_ = c;
    return {};
  }
  Result<std::string> print(std::string_view) const override { return std::string(); }
  ScenarioResult result() const override { return {}; }

 private:
  Cycle now_ = 0;
};

/// A runner that simulates nothing (every count is zero). A scenario named
/// "slow-N" takes N milliseconds, so with -j a later test finishes first; one named
/// "endless" never ends when started as a session; one named "refused" cannot be
/// built.
class FakeRunner final : public ScenarioRunner {
 public:
  Result<ScenarioResult> run(const ScenarioSpec& spec, RunOptions&) const override {
    if (spec.name == "refused") return spec.error_at(spec.system.loc, "the runner refuses it");
    if (spec.name.starts_with("slow-")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(spec.name.substr(5))));
    }
    return empty_result(spec);
  }
  Result<std::unique_ptr<ScenarioSession>> start(const ScenarioSpec& spec,
                                                 RunOptions& options) const override {
    if (spec.name == "endless") return std::unique_ptr<ScenarioSession>(new EndlessSession);
    return real_.start(spec, options);
  }

 private:
  SystemRunner real_;
};

using Outcome = test::CliOutcome;

Outcome cli(std::vector<std::string> args, const ScenarioRunner& runner) {
  return test::run_cli(std::move(args), runner);
}

Outcome fake_cli(std::vector<std::string> args) {
  return cli(std::move(args), FakeRunner{});
}
Outcome real_cli(std::vector<std::string> args) {
  return cli(std::move(args), SystemRunner{});
}

Suite parse_ok(std::string_view text, const TargetSet& targets = TargetSet::builtin()) {
  auto r = parse_suite(text, "t.cfg", targets);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  return std::move(r).value();
}

std::string parse_error(std::string_view text, const TargetSet& targets = TargetSet::builtin()) {
  auto r = parse_suite(text, "t.cfg", targets);
  if (r.ok()) return "";
  return r.error().message;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    out.push_back(l);
  return out;
}

/// A scenario whose one expectation holds on FakeRunner (no calls at all).
std::string holds(std::string_view name) {
  return "name = \"" + std::string(name) +
         "\"\n[[handler]]\nname = \"perf\"\n[[expect]]\nhandler = \"perf\"\ncalls = 0\n";
}
/// Two expectations that fail on FakeRunner.
constexpr std::string_view kFails = R"(name = "fails"
[[handler]]
name = "perf"
[[expect]]
handler = "perf"
calls = 3
[[expect]]
stat = "unknown"
at_least = 1
[[expect]]
stat = "lost"
equals = 0
)";

/// A temporary suite: scenarios and a cfg in one directory.
class SuiteDir {
 public:
  std::string scenario(const std::string& file, std::string_view text) {
    return dir_.write(file, text);
  }
  std::string cfg(std::string_view text, const std::string& name = "unittests.cfg") {
    return dir_.write(name, text);
  }
  std::string path(const std::string& name) const { return dir_.path(name); }

 private:
  test::TempDir dir_;
};

// --- A small XML reader, to check the JUnit report as a consumer would ----------------

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<XmlElement> children;
  std::string text;

  std::vector<const XmlElement*> all(std::string_view n) const {
    std::vector<const XmlElement*> out;
    for (const auto& c : children) {
      if (c.name == n) out.push_back(&c);
    }
    return out;
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view s) : s_(s) {}

  /// The root element, or nullopt (with a test failure) when the text is not
  /// well-formed: a prolog, one element, entities among the five and &#N; only.
  std::optional<XmlElement> document() {
    skip_space();
    if (s_.substr(i_, 5) == "<?xml") {
      const auto e = s_.find("?>", i_);
      if (e == std::string_view::npos) return bad("unterminated prolog");
      i_ = e + 2;
    }
    skip_space();
    auto root = element();
    if (!root) return std::nullopt;
    skip_space();
    if (i_ != s_.size()) return bad("text after the root element");
    return root;
  }

 private:
  std::optional<XmlElement> bad(std::string_view what) {
    ADD_FAILURE() << "XML: " << what << " at offset " << i_;
    return std::nullopt;
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
      ++i_;
  }
  std::string name() {
    const std::size_t b = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '_' || s_[i_] == '.' || s_[i_] == ':'))
      ++i_;
    return std::string(s_.substr(b, i_ - b));
  }
  std::optional<std::string> unescape(std::string_view t) {
    std::string out;
    for (std::size_t k = 0; k < t.size(); ++k) {
      if (t[k] == '<') {
        bad("'<' in text");
        return std::nullopt;
      }
      if (t[k] != '&') {
        out += t[k];
        continue;
      }
      const auto semi = t.find(';', k);
      if (semi == std::string_view::npos) {
        bad("unterminated entity");
        return std::nullopt;
      }
      const std::string_view ent = t.substr(k + 1, semi - k - 1);
      static const std::map<std::string_view, char> kNamed = {
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (auto it = kNamed.find(ent); it != kNamed.end()) {
        out += it->second;
      } else if (ent.size() > 1 && ent[0] == '#') {
        out += static_cast<char>(std::stoi(std::string(ent.substr(1))));
      } else {
        bad("unknown entity");
        return std::nullopt;
      }
      k = semi;
    }
    return out;
  }
  std::optional<XmlElement> element() {
    if (i_ >= s_.size() || s_[i_] != '<') return bad("expected '<'");
    ++i_;
    XmlElement e;
    e.name = name();
    if (e.name.empty()) return bad("empty element name");
    while (true) {
      skip_space();
      if (i_ >= s_.size()) return bad("unterminated start tag");
      if (s_.substr(i_, 2) == "/>") {
        i_ += 2;
        return e;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      std::string a = name();
      if (a.empty()) return bad("bad attribute");
      if (s_.substr(i_, 2) != "=\"") return bad("attribute without =\"");
      i_ += 2;
      const auto close = s_.find('"', i_);
      if (close == std::string_view::npos) return bad("unterminated attribute");
      auto v = unescape(s_.substr(i_, close - i_));
      if (!v) return std::nullopt;
      if (!e.attrs.emplace(a, *v).second) return bad("duplicate attribute");
      i_ = close + 1;
    }
    while (true) {
      const auto lt = s_.find('<', i_);
      if (lt == std::string_view::npos) return bad("unterminated element");
      auto text = unescape(s_.substr(i_, lt - i_));
      if (!text) return std::nullopt;
      e.text += *text;
      i_ = lt;
      if (s_.substr(i_, 2) == "</") {
        i_ += 2;
        if (name() != e.name) return bad("mismatched end tag");
        if (i_ >= s_.size() || s_[i_] != '>') return bad("bad end tag");
        ++i_;
        return e;
      }
      auto child = element();
      if (!child) return std::nullopt;
      e.children.push_back(std::move(*child));
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

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

// A cfg of kvm-unit-tests itself (in its format: guest binaries, $MAX_SMP, QEMU
// options, """ values, repeated check lines, a bash disabled_if) reads without an
// error, and every test SKIPs with the reason.
TEST(SuiteFile, KvmUnitTestsCfgParsesAndSkips) {
  const std::string cfg = test::source_dir() + "/tests/scenario/data/kvm-unit-tests-x86.cfg";
  auto suite = load_suite_file(cfg, TargetSet::builtin());
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  ASSERT_EQ(suite->tests.size(), 6u);
  EXPECT_EQ(suite->tests[1].smp, "$MAX_SMP");
  EXPECT_EQ(suite->tests[3].checks.size(), 2u);
  EXPECT_EQ(suite->tests[4].params_for("qemu")[0],
            "-cpu max,+vmx -append \"-exit_monitor_test -ept_access* -vmx_smp*\"\n-m 2048");

  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "SKIP apic-x2 (apic.flat is a guest binary, not a scenario)\n"
            "SKIP smp-max (smptest.flat is a guest binary, not a scenario)\n"
            "SKIP cmpxchg-32 (arch = i386: fredsim models x86_64)\n"
            "SKIP pmu-counters (pmu.flat is a guest binary, not a scenario)\n"
            "SKIP nested-long (in group nodefault: select it with -g or by name)\n"
            "SKIP tcg-only (disabled_if [[ \"$TARGET\" != qemu ]])\n");
  // Selected by its group, the nodefault test is looked at, and skipped for its file.
  auto g = fake_cli({"suite", cfg, "-g", "vmx"});
  EXPECT_EQ(g.out, "SKIP nested-long (vmx.flat is a guest binary, not a scenario)\n");
  // arch and accel are reported: with -v, and in the JUnit properties.
  auto v = fake_cli({"suite", cfg, "-v", "pmu-counters"});
  EXPECT_EQ(v.out,
            "# accel=kvm check=/proc/sys/kernel/nmi_watchdog=0 "
            "check=/sys/module/kvm/parameters/ignore_msrs=N\n"
            "SKIP pmu-counters (pmu.flat is a guest binary, not a scenario)\n");
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

// --- Running tests ---------------------------------------------------------------------

TEST(SuiteRun, PassFailSkipLines) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  d.scenario("fails.toml", kFails);
  const std::string cfg = d.cfg(
      "[first]\nfile = holds.toml\n"
      "[second]\nfile = fails.toml\n"
      "[third]\nfile = holds.toml\ndisabled_if = TARGET == fred-nmisrc\n"
      "[fourth]\nfile = apic.flat\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "");
  // Each failed expectation is named with its actual value; held ones are not.
  EXPECT_EQ(r.out,
            "PASS first\n"
            "FAIL second (handler perf: calls == 3, actual 0; stat unknown: >= 1, actual 0)\n"
            "SKIP third (disabled_if TARGET == fred-nmisrc)\n"
            "SKIP fourth (apic.flat is a guest binary, not a scenario)\n");
}

TEST(SuiteRun, PrematureFailureHasTheLoadersMessage) {
  SuiteDir d;
  const std::string bad = d.scenario("bad.toml", "name = \"bad\"\n[system]\ncpu = 2\n");
  d.scenario("holds.toml", holds("holds"));
  d.scenario("refused.toml", holds("refused"));
  const std::string cfg = d.cfg(
      "[bad-key]\nfile = bad.toml\n"
      "[missing]\nfile = nothere.toml\n"
      "[bad-arg]\nfile = holds.toml\ntest_args = nokey\n"
      "[bad-value]\nfile = holds.toml\ntest_args = system.cpus=0\n"
      "[refused]\nfile = refused.toml\n"
      "[other-file]\nfile = notes.txt\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_EQ(ls.size(), 6u) << r.out;
  EXPECT_EQ(ls[0], "FAIL bad-key (" + bad +
                       ":3:1: error: unknown key 'cpu' in [system] (allowed: cpus, delivery, "
                       "nmi_source, apic, kernel, timing, seed, end, frequency_mhz))");
  EXPECT_EQ(ls[1], "FAIL missing (" + d.path("nothere.toml") +
                       ": error: cannot open: No such file or directory)");
  EXPECT_EQ(ls[2], "FAIL bad-arg (error: --set nokey: expected KEY=VALUE (e.g. system.cpus=64))");
  EXPECT_EQ(ls[3],
            "FAIL bad-value (error: --set system.cpus=0: system.cpus = 0 is out of range "
            "(1..4096))");
  // (The [system] table comes from the target's first override, so the runner's
  // error names that argument.)
  EXPECT_EQ(ls[4], "FAIL refused (error: --set system.delivery=fred: the runner refuses it)");
  EXPECT_EQ(ls[5],
            "SKIP other-file (notes.txt is not a scenario (fredsim runs .toml scenario "
            "files))");
}

TEST(SuiteRun, DisabledTestSkipsWithItsConditionUnderThatTargetOnly) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\ndisabled_if = DELIVERY == idt || NMI_SOURCE == false\n"
      "disabled_reason = needs NMI-source\n");
  for (const char* target : {"idt", "fred"}) {
    auto r = fake_cli({"suite", cfg, "--target", target});
    EXPECT_EQ(r.code, 0);
    EXPECT_EQ(r.out,
              "SKIP t (disabled_if DELIVERY == idt || NMI_SOURCE == false: needs "
              "NMI-source)\n");
  }
  EXPECT_EQ(fake_cli({"suite", cfg, "--target", "fred-nmisrc"}).out, "PASS t\n");
}

TEST(SuiteRun, OverridesApplyTargetThenSmpThenArgsThenParams) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\nsmp = 3\ntest_args = system.seed=5 'name=a b'\n"
      "idt_params = system.seed=6\nfred_params = system.seed=7\n");
  auto r = fake_cli({"suite", cfg, "--target", "idt", "-v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "fredsim run " + d.path("holds.toml") +
                       " --set system.delivery=idt --set system.nmi_source=false --set "
                       "system.cpus=3 --set system.seed=5 --set 'name=a b' --set system.seed=6\n"
                       "PASS t\n");
  // The command is the same run: fredsim run with those arguments passes too.
  auto line = lines_of(r.out)[0];
  auto words = split_words(line);
  ASSERT_TRUE(words);
  words->erase(words->begin());  // "fredsim"
  auto again = fake_cli(*words);
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST(SuiteRun, SmpSetsTheCpuCount) {
  // The expectation names CPU 2, which exists only with 3 CPUs or more: the loader
  // refuses it otherwise, so smp is seen to reach system.cpus.
  SuiteDir d;
  d.scenario("cpu2.toml",
             "name = \"cpu2\"\n[system]\ncpus = 1\n[[expect]]\nstat = \"normal\"\ncpu = 2\n"
             "equals = 0\n");
  const std::string cfg = d.cfg(
      "[two]\nfile = cpu2.toml\nsmp = 2\n[three]\nfile = cpu2.toml\nsmp = 03\n"
      "[max]\nfile = cpu2.toml\nsmp = $MAX_SMP\n"
      "[shell]\nfile = cpu2.toml\nsmp = $((MAX_SMP / 2))\n");
  auto r = real_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_EQ(ls.size(), 4u) << r.out;
  EXPECT_TRUE(ls[0].starts_with("FAIL two (")) << ls[0];
  EXPECT_NE(ls[0].find("cpu = 2"), std::string::npos) << ls[0];
  EXPECT_EQ(ls[1], "PASS three");
  EXPECT_EQ(ls[2], "PASS max");  // 4096 CPUs
  EXPECT_EQ(ls[3], "FAIL shell (smp = $((MAX_SMP / 2)): fredsim reads a number or $MAX_SMP)");
}

TEST(SuiteRun, GroupsAndNames) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[a]\nfile = holds.toml\ngroups = perf\n"
      "[b]\nfile = holds.toml\ngroups = smp perf\n"
      "[c]\nfile = holds.toml\ngroups = manual nodefault\n"
      "[d]\nfile = holds.toml\n");
  EXPECT_EQ(fake_cli({"suite", cfg}).out,
            "PASS a\nPASS b\nSKIP c (in group nodefault: select it with -g or by name)\nPASS d\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "c"}).out, "PASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "perf"}).out, "PASS a\nPASS b\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "smp,manual"}).out, "PASS b\nPASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "smp", "-g", "nodefault"}).out, "PASS b\nPASS c\n");
  EXPECT_EQ(fake_cli({"suite", cfg, "-g", "none"}).out, "");
  EXPECT_EQ(fake_cli({"suite", cfg, "d", "a"}).out, "PASS a\nPASS d\n");  // cfg order
  auto unknown = fake_cli({"suite", cfg, "a", "zz"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_EQ(unknown.err, "error: " + cfg + ": no test named 'zz'\n");
  EXPECT_EQ(unknown.out, "");
}

TEST(SuiteRun, TimeoutFailsTheTestAndStopsIt) {
  SuiteDir d;
  d.scenario("endless.toml", holds("endless"));
  const std::string cfg = d.cfg("[forever]\nfile = endless.toml\ntimeout = 0.2\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = fake_cli({"suite", cfg});
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL forever (timeout after 0.2s)\n");
  EXPECT_GE(took, std::chrono::milliseconds(200));
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(SuiteRun, TimeoutOnTheSimulator) {
  // Far too long to finish: a thousand backtraces to 4095 CPUs. (Slow to run, not
  // to build: a repeating event holds one queue entry, its next occurrence.)
  SuiteDir d;
  d.scenario("long.toml",
             "name = \"long\"\n[system]\ncpus = 4096\n[[handler]]\nname = \"arch_bt\"\n"
             "vector = 4\nmodel = \"backtrace\"\n[[event]]\nat = 0\ntype = \"backtrace\"\n"
             "every = 1_000_000\ncount = 1_000\n");
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg(
      "[long]\nfile = long.toml\ntimeout = 0.3s\n"
      "[quick]\nfile = holds.toml\ntimeout = 60\n");
  const auto t0 = std::chrono::steady_clock::now();
  auto r = real_cli({"suite", cfg, "-j", "2"});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL long (timeout after 0.3s)\nPASS quick\n");
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

TEST(SuiteRun, EnvTimeoutIsTheDefault) {
  SuiteDir d;
  d.scenario("endless.toml", holds("endless"));
  const std::string cfg = d.cfg(
      "[default]\nfile = endless.toml\n"
      "[own]\nfile = endless.toml\ntimeout = 0.1\n"
      "[none]\nfile = endless.toml\ntimeout = 0\n");
  SuiteCommand cmd;
  cmd.file = cfg;
  cmd.env_timeout = "0.15s";
  std::ostringstream out, err;
  EXPECT_EQ(suite_command(cmd, FakeRunner{}, out, err), 1);
  // timeout = 0 disables it, as for timeout(1): FakeRunner's run() then returns.
  EXPECT_EQ(out.str(),
            "FAIL default (timeout after 0.15s)\nFAIL own (timeout after 0.1s)\nPASS none\n");
  cmd.env_timeout = "later";
  std::ostringstream out2, err2;
  EXPECT_EQ(suite_command(cmd, FakeRunner{}, out2, err2), 2);
  EXPECT_EQ(err2.str(),
            "error: FREDSIM_TIMEOUT=later: not a duration (seconds, or N with s, m, h, d; 0 = no "
            "limit)\n");
}

// --- Targets on the command line -------------------------------------------------------

/// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SuiteTargets, FlagThenEnvironmentThenDefault) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string cfg = d.cfg("[t]\nfile = holds.toml\n");
  auto target_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"suite", cfg, "-v"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = fake_cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return lines_of(r.out).empty() ? std::string() : lines_of(r.out)[0];
  };
  const std::string prefix = "fredsim run " + d.path("holds.toml");
  {
    ScopedEnv env("FREDSIM_TARGET", nullptr);
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=true");
    EXPECT_EQ(target_of({"--target", "idt"}),
              prefix + " --set system.delivery=idt --set system.nmi_source=false");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "fred");
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=false");
    EXPECT_EQ(target_of({"--target", "idt"}),
              prefix + " --set system.delivery=idt --set system.nmi_source=false");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "");  // empty: as if unset
    EXPECT_EQ(target_of({}), prefix + " --set system.delivery=fred --set system.nmi_source=true");
  }
  {
    ScopedEnv env("FREDSIM_TARGET", "nope");
    auto r = fake_cli({"suite", cfg});
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err,
              "error: FREDSIM_TARGET=nope: unknown target 'nope' (targets: idt, fred, "
              "fred-nmisrc)\n");
    auto f = fake_cli({"suite", cfg, "--target", "nope"});
    EXPECT_EQ(f.code, 2);
    EXPECT_EQ(f.err, "error: unknown target 'nope' (targets: idt, fred, fred-nmisrc)\n");
  }
  EXPECT_EQ(resolve_target_name(std::nullopt, std::nullopt), "fred-nmisrc");
  EXPECT_EQ(resolve_target_name(std::nullopt, std::string("idt")), "idt");
  EXPECT_EQ(resolve_target_name(std::string("fred"), std::string("idt")), "fred");
  EXPECT_EQ(resolve_target_name(std::nullopt, std::string()), "fred-nmisrc");
}

TEST(SuiteTargets, TargetsFileOnTheCommandLine) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  const std::string targets = d.cfg(
      "# more machines\n[idt-xapic]\ndescription = IDT on an xAPIC machine\n"
      "set = system.delivery=idt system.nmi_source=false\nset = system.apic=xapic\n",
      "my.targets");
  const std::string cfg = d.cfg(
      "[t]\nfile = holds.toml\nidt-xapic_params = system.seed=3\n"
      "[u]\nfile = holds.toml\ndisabled_if = DELIVERY == idt\n");
  auto r = fake_cli({"suite", cfg, "--targets", targets, "--target", "idt-xapic", "-v"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "fredsim run " + d.path("holds.toml") +
                       " --set system.delivery=idt --set system.nmi_source=false --set "
                       "system.apic=xapic --set system.seed=3\nPASS t\n"
                       "SKIP u (disabled_if DELIVERY == idt)\n");
  // Without the targets file the cfg's idt-xapic_params is an unknown target.
  auto without = fake_cli({"suite", cfg});
  EXPECT_EQ(without.code, 2);
  EXPECT_NE(without.err.find(":3: error: 'idt-xapic_params': unknown target 'idt-xapic'"),
            std::string::npos)
      << without.err;
  auto bad = fake_cli({"suite", cfg, "--targets", d.cfg("[x]\nset = nokey\n", "bad.targets")});
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(bad.err, d.path("bad.targets") +
                         ":2: error: set nokey: expected KEY=VALUE (e.g. system.cpus=64)\n");
}

// --- Reports ---------------------------------------------------------------------------

/// A suite with every verdict: passes, failures (expectation, premature, timeout)
/// and skips, whose slow tests come first so that with -j the later ones finish
/// before them.
class MixedSuite {
 public:
  MixedSuite() {
    d_.scenario("slow-60.toml", holds("slow-60"));
    d_.scenario("slow-30.toml", holds("slow-30"));
    d_.scenario("holds.toml", holds("holds"));
    d_.scenario("fails.toml", kFails);
    d_.scenario("endless.toml", holds("endless"));
    cfg_ = d_.cfg(
        "[slow-one]\nfile = slow-60.toml\ngroups = slow\narch = x86_64\naccel = kvm\n"
        "[fails-one]\nfile = fails.toml\n"
        "[skipped-one]\nfile = holds.toml\ndisabled_if = TARGET == fred-nmisrc\n"
        "disabled_reason = \"quotes\" & <brackets> 'too'\n"
        "[slow-two]\nfile = slow-30.toml\nsmp = 2\n"
        "[a&b<c>]\nfile = holds.toml\n"
        "[premature]\nfile = missing.toml\n"
        "[guest]\nfile = x.flat\n"
        "[forever]\nfile = endless.toml\ntimeout = 0.1\n"
        "[hash#name]\nfile = holds.toml\n");
  }
  const std::string& cfg() const { return cfg_; }
  std::string path(const std::string& n) const { return d_.path(n); }

 private:
  SuiteDir d_;
  std::string cfg_;
};

TEST(SuiteReport, TapStructure) {
  MixedSuite m;
  auto r = fake_cli({"suite", m.cfg(), "-t"});
  EXPECT_EQ(r.code, 1);
  const auto ls = lines_of(r.out);
  ASSERT_GE(ls.size(), 2u);
  EXPECT_EQ(ls[0], "TAP version 13");
  EXPECT_EQ(ls[1], "1..9");
  // Every test line: "ok N - name", "not ok N - name" or "ok N - name # SKIP why",
  // numbered 1..9 in cfg order; each "not ok" is followed by a YAML block.
  std::vector<std::string> results;
  for (std::size_t i = 2; i < ls.size(); ++i) {
    const std::string& l = ls[i];
    if (l.starts_with("ok ") || l.starts_with("not ok ")) {
      results.push_back(l);
      const bool not_ok = l.starts_with("not ok ");
      const std::string want_prefix =
          (not_ok ? "not ok " : "ok ") + std::to_string(results.size()) + " - ";
      EXPECT_TRUE(l.starts_with(want_prefix)) << l;
      if (not_ok) {
        ASSERT_LT(i + 1, ls.size());
        EXPECT_EQ(ls[i + 1], "  ---") << l;
        std::size_t j = i + 2;
        while (j < ls.size() && ls[j] != "  ...")
          EXPECT_TRUE(ls[j++].starts_with("  ")) << ls[j - 1];
        EXPECT_LT(j, ls.size()) << "unterminated YAML block after " << l;
        i = j;
      }
    } else {
      ADD_FAILURE() << "unexpected TAP line: " << l;
    }
  }
  EXPECT_EQ(results,
            (std::vector<std::string>{
                "ok 1 - slow-one",
                "not ok 2 - fails-one",
                "ok 3 - skipped-one # SKIP disabled_if TARGET == fred-nmisrc: \"quotes\" & "
                "<brackets> 'too'",
                "ok 4 - slow-two",
                "ok 5 - a&b<c>",
                "not ok 6 - premature",
                "ok 7 - guest # SKIP x.flat is a guest binary, not a scenario",
                "not ok 8 - forever",
                "ok 9 - hash\\#name",
            }));
  EXPECT_NE(r.out.find("not ok 2 - fails-one\n  ---\n  message: 'handler perf: calls == 3, "
                       "actual 0; stat unknown: >= 1, actual 0'\n  severity: fail\n  type: "
                       "expectation\n  command: 'fredsim run "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  message: 'timeout after 0.1s'\n  severity: fail\n  type: timeout\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("  type: premature\n"), std::string::npos);
  // -v adds the commands and settings as TAP comments.
  auto v = fake_cli({"suite", m.cfg(), "-t", "-v", "slow-one"});
  EXPECT_EQ(v.out, "TAP version 13\n1..1\n# fredsim run " + m.path("slow-60.toml") +
                       " --set system.delivery=fred --set system.nmi_source=true  # arch=x86_64 "
                       "accel=kvm\nok 1 - slow-one\n");
  EXPECT_EQ(fake_cli({"suite", m.cfg(), "-t", "-g", "none"}).out, "TAP version 13\n1..0\n");
}

TEST(SuiteReport, JunitStructure) {
  MixedSuite m;
  const std::string xml_path = m.path("report.xml");
  auto r = fake_cli({"suite", m.cfg(), "--junit", xml_path});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines_of(r.out).size(), 9u);  // the plain report is still on stdout
  const std::string xml = test::read_file(xml_path);
  auto doc = XmlReader(xml).document();
  ASSERT_TRUE(doc) << xml;
  EXPECT_EQ(doc->name, "testsuites");
  EXPECT_EQ(doc->attrs["tests"], "9");
  EXPECT_EQ(doc->attrs["failures"], "3");
  EXPECT_EQ(doc->attrs["skipped"], "2");
  ASSERT_EQ(doc->children.size(), 1u);
  const XmlElement& s = doc->children[0];
  EXPECT_EQ(s.name, "testsuite");
  EXPECT_EQ(s.attrs.at("name"), "unittests.cfg");
  EXPECT_EQ(s.attrs.at("tests"), "9");
  EXPECT_EQ(s.attrs.at("failures"), "3");
  EXPECT_EQ(s.attrs.at("errors"), "0");
  EXPECT_EQ(s.attrs.at("skipped"), "2");
  EXPECT_EQ(s.attrs.count("time"), 0u);  // deterministic: no times
  auto cases = s.all("testcase");
  ASSERT_EQ(cases.size(), 9u);
  std::size_t failures = 0, skipped = 0;
  for (const XmlElement* c : cases) {
    EXPECT_EQ(c->attrs.at("classname"), "unittests.fred-nmisrc");
    EXPECT_EQ(c->attrs.count("time"), 0u);
    failures += c->all("failure").size();
    skipped += c->all("skipped").size();
  }
  EXPECT_EQ(failures, 3u);
  EXPECT_EQ(skipped, 2u);
  // Names and messages come back as they were, escapes undone.
  EXPECT_EQ(cases[4]->attrs.at("name"), "a&b<c>");
  EXPECT_EQ(cases[2]->all("skipped")[0]->attrs.at("message"),
            "disabled_if TARGET == fred-nmisrc: \"quotes\" & <brackets> 'too'");
  EXPECT_EQ(cases[1]->all("failure")[0]->attrs.at("type"), "expectation");
  EXPECT_EQ(cases[1]->all("failure")[0]->attrs.at("message"),
            "handler perf: calls == 3, actual 0; stat unknown: >= 1, actual 0");
  EXPECT_EQ(cases[5]->all("failure")[0]->attrs.at("type"), "premature");
  EXPECT_EQ(cases[7]->all("failure")[0]->attrs.at("type"), "timeout");
  EXPECT_EQ(cases[0]->all("system-out")[0]->text,
            "fredsim run " + m.path("slow-60.toml") +
                " --set system.delivery=fred --set system.nmi_source=true");
  // arch and accel are reported as properties.
  std::map<std::string, std::string> props;
  for (const XmlElement* p : cases[0]->all("properties")[0]->all("property"))
    props[p->attrs.at("name")] = p->attrs.at("value");
  EXPECT_EQ(
      props,
      (std::map<std::string, std::string>{
          {"file", "slow-60.toml"}, {"groups", "slow"}, {"arch", "x86_64"}, {"accel", "kvm"}}));
  // The testsuite's properties name the target.
  auto sp = s.all("properties");
  ASSERT_EQ(sp.size(), 1u);
  EXPECT_EQ(sp[0]->all("property")[0]->attrs.at("value"), "fred-nmisrc");
}

TEST(SuiteReport, JunitToStdoutMovesTheReport) {
  MixedSuite m;
  auto r = fake_cli({"suite", m.cfg(), "--junit", "-"});
  EXPECT_EQ(r.code, 1);
  auto doc = XmlReader(r.out).document();
  ASSERT_TRUE(doc) << r.out;
  EXPECT_EQ(doc->attrs["tests"], "9");
  EXPECT_EQ(lines_of(r.err).size(), 9u);
  EXPECT_TRUE(r.err.starts_with("PASS slow-one\n"));
  auto both = fake_cli({"suite", m.cfg(), "--junit", "-", "-t"});
  EXPECT_EQ(both.code, 2);
  EXPECT_EQ(both.err, "error: -t and --junit - both write to stdout; give --junit a file\n");
  auto unwritable = fake_cli({"suite", m.cfg(), "--junit", "/nonexistent/dir/r.xml"});
  EXPECT_EQ(unwritable.code, 2);
  EXPECT_TRUE(unwritable.err.starts_with("error: cannot open /nonexistent/dir/r.xml for writing"));
  EXPECT_EQ(unwritable.out, "");  // nothing ran
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

// -j N reports exactly what -j 1 does, whichever test finishes first.
TEST(SuiteReport, ParallelReportIsTheSerialOne) {
  MixedSuite m;
  for (std::vector<std::string> format :
       {std::vector<std::string>{}, std::vector<std::string>{"-t"}, std::vector<std::string>{"-v"},
        std::vector<std::string>{"--junit", "-"}}) {
    std::vector<std::string> one{"suite", m.cfg(), "-j", "1"};
    one.insert(one.end(), format.begin(), format.end());
    auto serial = fake_cli(one);
    for (const char* jobs : {"2", "4", "16"}) {
      std::vector<std::string> many{"suite", m.cfg(), "-j", jobs};
      many.insert(many.end(), format.begin(), format.end());
      auto parallel = fake_cli(many);
      EXPECT_EQ(parallel.code, serial.code);
      EXPECT_EQ(parallel.out, serial.out) << "-j " << jobs;
      EXPECT_EQ(parallel.err, serial.err) << "-j " << jobs;
    }
  }
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

// --- The command -----------------------------------------------------------------------

TEST(SuiteCommand, ExitStatus) {
  SuiteDir d;
  d.scenario("holds.toml", holds("holds"));
  d.scenario("fails.toml", kFails);
  const std::string pass = d.cfg("[a]\nfile = holds.toml\n[b]\nfile = x.flat\n", "pass.cfg");
  const std::string fail = d.cfg("[a]\nfile = holds.toml\n[b]\nfile = fails.toml\n", "fail.cfg");
  EXPECT_EQ(fake_cli({"suite", pass}).code, 0);  // a SKIP is not a failure
  EXPECT_EQ(fake_cli({"suite", fail}).code, 1);
  // Bad input: the cfg, with its line.
  const std::string bad = d.cfg("[a]\nfile = holds.toml\nbogus = 1\n", "bad.cfg");
  auto b = fake_cli({"suite", bad});
  EXPECT_EQ(b.code, 2);
  EXPECT_TRUE(b.err.starts_with(bad + ":3: error: unknown key 'bogus' in [a]")) << b.err;
  EXPECT_EQ(b.out, "");
  auto missing = fake_cli({"suite", d.path("none.cfg")});
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(missing.err, d.path("none.cfg") + ": error: cannot open: No such file or directory\n");
  // Bad usage.
  EXPECT_EQ(fake_cli({"suite"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "-j", "0"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "-j", "x"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "--bogus"}).code, 2);
  EXPECT_EQ(fake_cli({"suite", pass, "--targets", d.path("none.targets")}).code, 2);
}

TEST(SuiteCommand, HelpNamesEveryOption) {
  auto r = fake_cli({"suite", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* opt :
       {"FILE", "TEST", "--target", "--targets", "-g,--group", "-j,--jobs", "-v,--verbose",
        "-t,--tap", "--junit", "FREDSIM_TARGET", "FREDSIM_TIMEOUT"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  EXPECT_NE(fake_cli({"--help"}).out.find("suite"), std::string::npos);
}

TEST(SuiteCommand, SameInputSameBytes) {
  MixedSuite m;
  auto a = fake_cli({"suite", m.cfg(), "--junit", "-", "-j", "3"});
  auto b = fake_cli({"suite", m.cfg(), "--junit", "-", "-j", "3"});
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.err, b.err);
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

// On the simulator, several Systems at once give what one at a time gives: a
// check that SystemRunner is safe to call from -j's threads.
TEST(RepositorySuite, ParallelOnTheSimulatorIsSerial) {
  const std::string cfg = test::source_dir() + "/scenarios/unittests.cfg";
  for (const char* target : {"idt", "fred", "fred-nmisrc"}) {
    auto serial = real_cli({"suite", cfg, "--target", target, "-t", "-v"});
    auto parallel = real_cli({"suite", cfg, "--target", target, "-t", "-v", "-j", "4"});
    EXPECT_EQ(serial.code, 0) << target << "\n" << serial.out << serial.err;
    EXPECT_EQ(parallel.out, serial.out) << target;
    EXPECT_EQ(parallel.code, serial.code) << target;
  }
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

TEST(SuiteRun, TheTimeoutCoversLoading) {
  // A scenario whose reading alone takes far longer than its test's timeout
  // (tens of MB of TOML string), and that then runs in no time: the test times
  // out. (Its clock used to start after the scenario was loaded.)
  SuiteDir d;
  d.scenario("slow-to-read.toml",
             "name = \"x\"\ndescription = \"" + std::string(20'000'000, 'd') + "\"\n" +
                 std::string(holds("x")).substr(std::string_view("name = \"x\"\n").size()));
  const std::string cfg = d.cfg("[slow]\nfile = slow-to-read.toml\ntimeout = 0.001\n");
  auto r = fake_cli({"suite", cfg});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "FAIL slow (timeout after 0.001s)\n");
}

}  // namespace
}  // namespace fredsim::scenario
