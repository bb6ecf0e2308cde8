// unittests.cfg: the keys of a test section (docs/suites.md "Keys"). The keys and
// their meaning follow kvm-unit-tests' docs/unittests.txt and scripts/common.bash;
// `file` names a scenario instead of a guest binary, and the `<vmm>_params` keys
// are per machine target.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_map>

#include "fredsim/machine/limits.hpp"
#include "fredsim/scenario/spec.hpp"
#include "fredsim/suite/cfg.hpp"
#include "scenario/input.hpp"
#include "suite/ini.hpp"

namespace fredsim::suite {

namespace input = scenario::input;
namespace {

constexpr std::string_view kParamsSuffix = "_params";
/// kvm-unit-tests keeps extra_params as an alias of qemu_params, its default
/// VMM's; here it is the default target's.
constexpr std::string_view kExtraParams = "extra_params";
constexpr std::string_view kPlainKeys[] = {
    "file", "smp",   "test_args", "groups", "timeout", "disabled_if", "disabled_reason",
    "arch", "accel", "machine",   "check"};

std::string allowed_keys(const TargetSet& targets) {
  std::string out;
  for (auto k : kPlainKeys)
    out += fmt::format("{}, ", k);
  out += "extra_params";
  for (const auto& t : targets.all())
    out += fmt::format(", {}_params", t.name);
  for (auto v : kForeignVmms)
    out += fmt::format(", {}_params", v);
  return out;
}

class SuiteParser {
 public:
  SuiteParser(std::string_view source, const TargetSet& targets)
      : source_(source), targets_(targets) {}

  Result<Suite> run(std::string_view text) {
    auto items = ini::read(text, source_);
    if (!items) return items.error();
    Suite suite;
    suite.path = std::string(source_);
    for (const auto& it : *items) {
      if (it.kind == ini::Item::Kind::section) {
        if (auto st = finish(suite); !st) return st.error();
        // By name, not by a walk of the tests so far: a cfg of a million tests
        // is read in linear time.
        if (auto [first, added] = test_lines_.emplace(it.name, it.line); !added) {
          return fail(it.line, fmt::format("duplicate test [{}] (first at line {})",
                                           input::clip(it.name), first->second));
        }
        cur_ = SuiteTest{};
        cur_->name = it.name;
        cur_->line = it.line;
        seen_.clear();
        continue;
      }
      if (!cur_) {
        return fail(it.line, fmt::format("'{}' outside a test: start one with [test-name]",
                                         input::clip(it.name)));
      }
      if (auto st = entry(it); !st) return st.error();
    }
    if (auto st = finish(suite); !st) return st.error();
    return suite;
  }

 private:
  Error fail(std::uint32_t line, std::string_view what) const {
    return ini::error_at(source_, line, what);
  }

  Status finish(Suite& suite) {
    if (!cur_) return {};
    if (!seen_key("file")) {
      return fail(cur_->line, fmt::format("test [{}] has no 'file' (file = SCENARIO.toml)",
                                          input::clip(cur_->name)));
    }
    suite.tests.push_back(std::move(*cur_));
    cur_.reset();
    return {};
  }

  bool seen_key(std::string_view k) const {
    return std::any_of(seen_.begin(), seen_.end(), [&](const auto& s) { return s.first == k; });
  }

  /// The target a `<name>_params` key belongs to, extra_params being the default's.
  static std::optional<std::string> params_target(std::string_view key) {
    if (key == kExtraParams) return std::string(kDefaultTarget);
    if (key.size() > kParamsSuffix.size() && key.ends_with(kParamsSuffix)) {
      return std::string(key.substr(0, key.size() - kParamsSuffix.size()));
    }
    return std::nullopt;
  }

  Status entry(const ini::Item& it) {
    SuiteTest& t = *cur_;
    const std::string& k = it.name;
    const std::string& v = it.value;
    auto bad = [&](std::string_view what) -> Status { return fail(it.line, what); };

    // One key once, but `check`, which kvm-unit-tests' cfgs repeat; extra_params
    // and the default target's params are one key.
    const auto target = params_target(k);
    const std::string canonical = target ? *target + std::string(kParamsSuffix) : k;
    if (k != "check") {
      for (const auto& [name, line] : seen_) {
        if (name == canonical) {
          return bad(fmt::format("duplicate key '{}' in [{}] (first at line {}{})", input::clip(k),
                                 input::clip(t.name), line,
                                 target && *target == kDefaultTarget
                                     ? fmt::format("; extra_params is {}_params", kDefaultTarget)
                                     : std::string()));
        }
      }
      seen_.emplace_back(canonical, it.line);
    }

    if (target) {
      if (!targets_.knows(*target)) {
        return bad(
            fmt::format("'{}': unknown target '{}' (targets: {}; kvm-unit-tests: qemu, "
                        "kvmtool)",
                        input::clip(k), input::clip(*target), targets_.names()));
      }
      std::vector<std::string> words;
      if (targets_.find(*target) != nullptr) {
        auto w = split_words(v);
        if (!w) return bad(fmt::format("{}: unterminated quote", input::clip(k)));
        words = std::move(*w);
      } else if (!v.empty()) {
        words.push_back(v);  // another VMM's options: kept, never applied
      }
      t.params.emplace_back(*target, std::move(words));
      return {};
    }
    if (k == "file") {
      if (v.empty()) return bad("file is empty: file = SCENARIO.toml");
      t.file = v;
    } else if (k == "smp") {
      // A number, or kvm-unit-tests' $MAX_SMP (shell forms are kept as written and
      // refused only if the test runs).
      if (v.empty()) return bad("smp is empty: give a CPU count");
      if (v.front() != '$') {
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        const bool digits = ec == std::errc::result_out_of_range &&
                            v.find_first_not_of("0123456789") == std::string::npos;
        if (!digits && (ec != std::errc() || p != v.data() + v.size())) {
          return bad(
              fmt::format("smp = {} is not a CPU count (a number, or $MAX_SMP)", input::clip(v)));
        }
        if (digits || n < 1 || n > machine::kMaxCpus) {
          return bad(
              fmt::format("smp = {} is out of range (1..{})", input::clip(v), machine::kMaxCpus));
        }
      }
      t.smp = v;
    } else if (k == "test_args") {
      auto w = split_words(v);
      if (!w) return bad("test_args: unterminated quote");
      t.test_args = std::move(*w);
    } else if (k == "groups") {
      auto w = split_words(v);
      if (!w) return bad("groups: unterminated quote");
      t.groups = std::move(*w);
    } else if (k == "timeout") {
      auto d = parse_duration(v);
      if (!d) {
        return bad(fmt::format("timeout = {} is not a duration (seconds, or N with s, m, h, d)",
                               input::clip(v)));
      }
      t.timeout_seconds = *d;
    } else if (k == "disabled_if") {
      auto c = Condition::parse(v, targets_);
      if (!c) return bad(fmt::format("disabled_if: {}", c.error().message));
      t.disabled_if = std::move(*c);
    } else if (k == "disabled_reason") {
      t.disabled_reason = v;
    } else if (k == "arch") {
      t.arch = v;
    } else if (k == "accel") {
      t.accel = v;
    } else if (k == "machine") {
      t.machine = v;
    } else if (k == "check") {
      t.checks.push_back(v);
    } else {
      return bad(fmt::format("unknown key '{}' in [{}] (allowed: {})", input::clip(k),
                             input::clip(t.name), allowed_keys(targets_)));
    }
    return {};
  }

  std::string_view source_;
  const TargetSet& targets_;
  std::optional<SuiteTest> cur_;
  std::vector<std::pair<std::string, std::uint32_t>> seen_;    // key, line
  std::unordered_map<std::string, std::uint32_t> test_lines_;  // test name, line
};

}  // namespace

std::span<const std::string> SuiteTest::params_for(std::string_view target) const {
  for (const auto& [name, words] : params) {
    if (name == target) return words;
  }
  return {};
}

Result<Suite> parse_suite(std::string_view text, std::string_view source_name,
                          const TargetSet& targets) {
  return SuiteParser(source_name, targets).run(text);
}

Result<Suite> load_suite_file(const std::string& path, const TargetSet& targets) {
  auto text = ini::read_file(path);
  if (!text) return text.error();
  try {
    return parse_suite(*text, path, targets);
  } catch (const std::bad_alloc&) {
    throw input::OutOfMemory(fmt::format("out of memory while loading {}", path));
  }
}

std::optional<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      if (in_word) out.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '\'') {
      const auto close = text.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      word += text.substr(i + 1, close - i - 1);
      in_word = true;
      i = close;
    } else if (c == '"') {
      in_word = true;
      bool closed = false;
      for (++i; i < text.size(); ++i) {
        const char d = text[i];
        if (d == '"') {
          closed = true;
          break;
        }
        // Inside double quotes a backslash quotes only these (POSIX 2.2.3).
        if (d == '\\' && i + 1 < text.size() &&
            std::string_view("$`\"\\\n").find(text[i + 1]) != std::string_view::npos) {
          ++i;
          if (text[i] == '\n') continue;
        }
        word += text[i];
      }
      if (!closed) return std::nullopt;
    } else if (c == '\\') {
      if (i + 1 < text.size()) {
        ++i;
        if (text[i] == '\n') continue;  // a line continuation
        word += text[i];
      } else {
        word += c;
      }
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) out.push_back(std::move(word));
  return out;
}

std::string shell_quote(std::string_view word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_./=:,+@%^-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::optional<double> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double unit = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  // Digits with at most one '.', no sign, no exponent: what timeout(1) is given.
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string_view::npos ||
      std::count(text.begin(), text.end(), '.') > 1 || text == ".") {
    return std::nullopt;
  }
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v * unit)) {
    return std::nullopt;
  }
  return v * unit;
}

}  // namespace fredsim::suite
