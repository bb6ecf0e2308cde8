// Machine targets: fredsim's counterpart of kvm-unit-tests' TARGET (qemu or
// kvmtool), the VMM a guest binary runs under. Here the "VMM" is the machine a
// scenario runs on, given as overrides (docs/suites.md "Targets").
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/suite/cfg.hpp"
#include "fredsim/suite/targets.hpp"
#include "scenario/input.hpp"
#include "suite/ini.hpp"

namespace fredsim::suite {

namespace input = scenario::input;
using scenario::check_override_syntax;
namespace {

constexpr std::string_view kSetErrorPrefix = "error: --set ";

bool valid_target_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

TargetSet TargetSet::builtin() {
  // The three machines of the NMI path: legacy IDT delivery (every handler
  // polled), FRED without NMI-source (polled as well), and FRED with NMI-source,
  // whose bitmap lets the dispatch call only the handlers of the sources that
  // fired (docs/hardware.md §2 "NMI-source reporting", docs/linux.md "nmi_handle"). nmi_source =
  // true needs FRED (docs/scenarios.md "File").
  TargetSet s;
  s.targets_.push_back({"idt",
                        "legacy IDT delivery, no NMI-source: every handler polled",
                        {"system.delivery=idt", "system.nmi_source=false"},
                        "built in"});
  s.targets_.push_back({"fred",
                        "FRED delivery without NMI-source: every handler polled",
                        {"system.delivery=fred", "system.nmi_source=false"},
                        "built in"});
  s.targets_.push_back({std::string(kDefaultTarget),
                        "FRED delivery with NMI-source: handlers called by source vector",
                        {"system.delivery=fred", "system.nmi_source=true"},
                        "built in"});
  return s;
}

const Target* TargetSet::find(std::string_view name) const {
  for (const auto& t : targets_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string TargetSet::names() const {
  std::string out;
  for (const auto& t : targets_) {
    if (!out.empty()) out += ", ";
    out += t.name;
  }
  return out;
}

bool TargetSet::knows(std::string_view name) const {
  return find(name) != nullptr || std::find(std::begin(kForeignVmms), std::end(kForeignVmms),
                                            name) != std::end(kForeignVmms);
}

Status TargetSet::add_string(std::string_view text, std::string_view source_name) {
  auto items = ini::read(text, source_name);
  if (!items) return items.error();
  std::vector<Target> added;
  Target* cur = nullptr;
  std::vector<std::string> seen_keys;
  // Every name defined so far and where: one look-up per section, however many.
  std::unordered_map<std::string, std::string> origins;
  for (const auto& t : targets_)
    origins.emplace(t.name, t.origin);
  for (const auto& it : *items) {
    auto fail = [&](std::string_view what) { return ini::error_at(source_name, it.line, what); };
    if (it.kind == ini::Item::Kind::section) {
      if (!valid_target_name(it.name)) {
        return fail(fmt::format("bad target name '{}' (letters, digits, '_', '-', '.')",
                                input::clip(it.name)));
      }
      if (const auto o = origins.find(it.name); o != origins.end()) {
        return fail(
            fmt::format("target '{}' is already defined ({})", input::clip(it.name), o->second));
      }
      if (std::find(std::begin(kForeignVmms), std::end(kForeignVmms), it.name) !=
          std::end(kForeignVmms)) {
        // A cfg's qemu_params are QEMU's options, never overrides.
        return fail(fmt::format("'{}' is a kvm-unit-tests VMM name; choose another", it.name));
      }
      added.push_back({it.name, "", {}, fmt::format("{}:{}", source_name, it.line)});
      origins.emplace(it.name, added.back().origin);
      cur = &added.back();
      seen_keys.clear();
      continue;
    }
    if (cur == nullptr) {
      return fail(fmt::format("'{}' outside a [target-name] section", input::clip(it.name)));
    }
    if (it.name == "set") {
      auto words = split_words(it.value);
      if (!words) return fail("set: unterminated quote");
      for (auto& w : *words) {
        if (auto st = check_override_syntax(w); !st) {
          // "error: --set ARG: what" is the command line's form; here it is a line.
          std::string_view m = st.error().message;
          if (m.starts_with(kSetErrorPrefix)) m.remove_prefix(kSetErrorPrefix.size());
          return fail(fmt::format("set {}", m));
        }
        cur->sets.push_back(std::move(w));
      }
    } else if (it.name == "description") {
      if (std::find(seen_keys.begin(), seen_keys.end(), it.name) != seen_keys.end()) {
        return fail("duplicate key 'description'");
      }
      seen_keys.push_back(it.name);
      cur->description = it.value;
    } else {
      return fail(fmt::format("unknown key '{}' in target [{}] (allowed: set, description)",
                              input::clip(it.name), input::clip(cur->name)));
    }
  }
  for (auto& t : added)
    targets_.push_back(std::move(t));
  return {};
}

Status TargetSet::add_file(const std::string& path) {
  auto text = ini::read_file(path);
  if (!text) return text.error();
  try {
    return add_string(*text, path);
  } catch (const std::bad_alloc&) {
    throw input::OutOfMemory(fmt::format("out of memory while loading {}", path));
  }
}

std::string resolve_target_name(const std::optional<std::string>& flag,
                                const std::optional<std::string>& env) {
  if (flag) return *flag;
  if (env && !env->empty()) return *env;
  return std::string(kDefaultTarget);
}

}  // namespace fredsim::suite
