// libFuzzer target: the suite reader (unittests.cfg, targets files, disabled_if)
// must return a value or an Error "FILE:LINE: error: ..." for any input, never
// crash, hang or throw; and whatever it reads must go through the reports (TAP,
// JUnit) with the XML escaped. An input "TARGETS\n%%\nCFG" gives a targets file
// first; without the separator the whole input is the cfg.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fredsim/suite.hpp"

namespace {

using namespace fredsim::suite;

void check_error(const std::string& m, std::string_view source) {
  if (!m.starts_with(source) || m.find(": error: ") == std::string::npos) __builtin_trap();
}

void check_escaped(const std::string& x) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    const char c = x[i];
    if (c == '<' || c == '>' || c == '"' || c == '\'') __builtin_trap();
    if (c == '&' && x.find(';', i) == std::string::npos) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  TargetSet targets = TargetSet::builtin();
  constexpr std::string_view kSeparator = "\n%%\n";
  if (const auto sep = text.find(kSeparator); sep != std::string_view::npos) {
    if (auto st = targets.add_string(text.substr(0, sep), "fuzz.targets"); !st) {
      check_error(st.error().message, "fuzz.targets:");
    }
    text.remove_prefix(sep + kSeparator.size());
  }
  auto suite = parse_suite(text, "fuzz.cfg", targets);
  if (!suite) {
    check_error(suite.error().message, "fuzz.cfg:");
    return 0;
  }
  std::vector<TestOutcome> outcomes;
  for (const auto& t : suite->tests) {
    for (const Target& target : targets.all()) {
      const ConditionVars vars{target.name, "idt",   "false",   t.smp,
                               t.arch,      t.accel, t.machine, t.file};
      if (t.disabled_if) (void)t.disabled_if->eval(vars);
    }
    TestOutcome o;
    o.name = t.name;
    o.test = &t;
    o.verdict = static_cast<Verdict>(outcomes.size() % 3);
    o.fail_kind = o.verdict == Verdict::fail ? FailKind::premature : FailKind::none;
    o.reason = t.disabled_reason + t.file;
    o.command = "fredsim run " + shell_quote(t.file);
    for (const auto& w : t.test_args)
      o.command += " --set " + shell_quote(w);
    outcomes.push_back(std::move(o));
  }
  std::ostringstream out;
  write_tap_header(out, outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    write_tap(out, i + 1, outcomes[i], true);
    write_plain(out, outcomes[i], true);
  }
  (void)junit_xml(*suite, targets.all().front(), outcomes);
  check_escaped(xml_escape(text));
  return 0;
}
