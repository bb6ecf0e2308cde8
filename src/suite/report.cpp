// A suite's reports: run_tests.sh's lines ("PASS name", "FAIL name (reason)",
// "SKIP name (reason)"), TAP version 13 (testanything.org/tap-version-13-
// specification.html: plan, "ok"/"not ok", "# SKIP" directive, a YAML block for
// diagnostics) and JUnit XML (the testsuites/testsuite/testcase form that Jenkins,
// GitLab and GitHub read). None has a time in it: the same suite under the same
// target gives the same bytes.
#include <fmt/format.h>

#include <filesystem>
#include <ostream>

#include "fredsim/suite/report.hpp"

namespace fredsim::suite {
namespace {

/// arch, accel, machine and check of a test (accepted from kvm-unit-tests' cfgs and
/// reported, not acted on but for arch), as "arch=x86_64 accel=kvm".
std::string settings(const TestOutcome& o) {
  if (o.test == nullptr) return {};
  std::string out;
  auto add = [&](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", k, shell_quote(v));
  };
  add("arch", o.test->arch);
  add("accel", o.test->accel);
  add("machine", o.test->machine);
  for (const auto& c : o.test->checks)
    add("check", c);
  return out;
}

/// The -v line: the command of a test that ran, with its reported settings as a
/// shell comment; empty when there is neither.
std::string verbose_line(const TestOutcome& o) {
  const std::string s = settings(o);
  if (o.command.empty()) return s.empty() ? std::string() : "# " + s;
  return s.empty() ? o.command : o.command + "  # " + s;
}

/// A TAP description: '#' starts a directive and '\' escapes, so both are escaped.
std::string tap_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '#' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

/// A YAML single-quoted scalar.
std::string yaml_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string_view fail_type(FailKind k) {
  switch (k) {
    case FailKind::premature:
      return "premature";
    case FailKind::timeout:
      return "timeout";
    case FailKind::expectation:
      return "expectation";
    case FailKind::runner:
      return "internal";
    case FailKind::none:
      break;
  }
  return "failure";
}

/// The length of the UTF-8 sequence at s[i], 0 when it is not a valid one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
    cp = b & 0x1Fu;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    cp = b & 0x0Fu;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    cp = b & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (c & 0x3Fu);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  // U+FFFE and U+FFFF are not XML characters either.
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

}  // namespace

void write_plain(std::ostream& out, const TestOutcome& o, bool verbose) {
  if (verbose) {
    if (auto line = verbose_line(o); !line.empty()) out << line << '\n';
  }
  out << to_string(o.verdict) << ' ' << o.name;
  if (!o.reason.empty()) out << " (" << o.reason << ')';
  out << '\n';
}

void write_tap_header(std::ostream& out, std::size_t count) {
  out << "TAP version 13\n1.." << count << '\n';
}

void write_tap(std::ostream& out, std::size_t number, const TestOutcome& o, bool verbose) {
  if (verbose) {
    if (auto line = verbose_line(o); !line.empty()) {
      out << (line.starts_with("# ") ? "" : "# ") << line << '\n';
    }
  }
  switch (o.verdict) {
    case Verdict::pass:
      out << "ok " << number << " - " << tap_text(o.name) << '\n';
      break;
    case Verdict::skip:
      out << "ok " << number << " - " << tap_text(o.name) << " # SKIP " << tap_text(o.reason)
          << '\n';
      break;
    case Verdict::fail:
      out << "not ok " << number << " - " << tap_text(o.name) << '\n'
          << "  ---\n"
          << "  message: " << yaml_quote(o.reason) << '\n'
          << "  severity: fail\n"
          << "  type: " << fail_type(o.fail_kind) << '\n';
      if (!o.command.empty()) out << "  command: " << yaml_quote(o.command) << '\n';
      out << "  ...\n";
      break;
  }
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        // Kept in text; in an attribute they would be normalised to spaces.
        out += fmt::format("&#{};", static_cast<int>(c));
        break;
      default: {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20) {
          out += '?';  // not an XML 1.0 character, not even as a reference
          break;
        }
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
          out += '?';
          break;
        }
        out += text.substr(i, n);
        i += n;
        continue;
      }
    }
    ++i;
  }
  return out;
}

std::string junit_xml(const Suite& suite, const Target& target,
                      std::span<const TestOutcome> outcomes) {
  std::size_t failures = 0, skipped = 0;
  for (const auto& o : outcomes) {
    failures += o.verdict == Verdict::fail;
    skipped += o.verdict == Verdict::skip;
  }
  const std::filesystem::path cfg(suite.path);
  const std::string suite_name = cfg.filename().string();
  const std::string classname = fmt::format("{}.{}", cfg.stem().string(), target.name);
  std::string sets;
  for (const auto& s : target.sets)
    sets += (sets.empty() ? "" : " ") + s;

  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  const std::string counts = fmt::format("tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\"",
                                         outcomes.size(), failures, skipped);
  x += fmt::format("<testsuites name=\"fredsim suite\" {}>\n", counts);
  x += fmt::format("  <testsuite name=\"{}\" {}>\n", xml_escape(suite_name), counts);
  x += "    <properties>\n";
  x += fmt::format("      <property name=\"target\" value=\"{}\"/>\n", xml_escape(target.name));
  x += fmt::format("      <property name=\"target.set\" value=\"{}\"/>\n", xml_escape(sets));
  x += "    </properties>\n";
  for (const auto& o : outcomes) {
    x += fmt::format("    <testcase name=\"{}\" classname=\"{}\">\n", xml_escape(o.name),
                     xml_escape(classname));
    if (o.test != nullptr) {
      x += "      <properties>\n";
      auto prop = [&](std::string_view k, std::string_view v) {
        if (v.empty()) return;
        x += fmt::format("        <property name=\"{}\" value=\"{}\"/>\n", k, xml_escape(v));
      };
      prop("file", o.test->file);
      std::string groups;
      for (const auto& g : o.test->groups)
        groups += (groups.empty() ? "" : " ") + g;
      prop("groups", groups);
      prop("smp", o.test->smp);
      prop("arch", o.test->arch);
      prop("accel", o.test->accel);
      prop("machine", o.test->machine);
      for (const auto& c : o.test->checks)
        prop("check", c);
      x += "      </properties>\n";
    }
    if (o.verdict == Verdict::fail) {
      x += fmt::format("      <failure type=\"{}\" message=\"{}\"/>\n", fail_type(o.fail_kind),
                       xml_escape(o.reason));
    } else if (o.verdict == Verdict::skip) {
      x += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(o.reason));
    }
    if (!o.command.empty()) {
      x += fmt::format("      <system-out>{}</system-out>\n", xml_escape(o.command));
    }
    x += "    </testcase>\n";
  }
  x += "  </testsuite>\n</testsuites>\n";
  return x;
}

}  // namespace fredsim::suite
