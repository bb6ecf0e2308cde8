#pragma once
// Doubles and helpers of the suite tests: a runner that simulates nothing, a
// temporary suite directory, a small XML reader, a suite with every verdict.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fredsim/scenario/runner.hpp"
#include "fredsim/scenario/system_runner.hpp"
#include "fredsim/suite.hpp"
#include "scenario/test_util.hpp"

namespace fredsim::suite::test {

using namespace fredsim::scenario;
using namespace fredsim::scenario::test;

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

inline Suite parse_ok(std::string_view text, const TargetSet& targets = TargetSet::builtin()) {
  auto r = parse_suite(text, "t.cfg", targets);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  return std::move(r).value();
}

inline std::string parse_error(std::string_view text,
                               const TargetSet& targets = TargetSet::builtin()) {
  auto r = parse_suite(text, "t.cfg", targets);
  if (r.ok()) return "";
  return r.error().message;
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l))
    out.push_back(l);
  return out;
}

/// A scenario whose one expectation holds on FakeRunner (no calls at all).
inline std::string holds(std::string_view name) {
  return "name = \"" + std::string(name) +
         "\"\n[[handler]]\nname = \"perf\"\n[[expect]]\nhandler = \"perf\"\ncalls = 0\n";
}
/// Two expectations that fail on FakeRunner.
inline constexpr std::string_view kFails = R"(name = "fails"
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
  scenario::test::TempDir dir_;
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

}  // namespace fredsim::suite::test
