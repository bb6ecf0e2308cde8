#include "scenario/loader_overrides.hpp"

#include <fmt/format.h>

#include <charconv>
#include <string>
#include <vector>

#include "scenario/input.hpp"
#include "scenario/loader_toml.hpp"

namespace fredsim::scenario {
namespace loader {
namespace {

constexpr std::size_t kMaxKeyParts = 8;  // of a --set KEY

struct SplitOverride {
  std::vector<std::string> path;
  std::string value;
};

Error set_error(std::string_view text, std::string_view what) {
  return Error{fmt::format("error: --set {}: {}", input::clip(text), what)};
}

/// A decimal integer as TOML writes one ([+-], digits, '_' between digits):
/// when toml++ refuses such a VALUE, it is beyond 64 bits.
bool decimal_integer(std::string_view v) {
  if (!v.empty() && (v.front() == '+' || v.front() == '-')) v.remove_prefix(1);
  if (v.empty() || v.front() < '0' || v.front() > '9' || v.back() == '_') return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const bool digit = v[i] >= '0' && v[i] <= '9';
    if (!digit && !(v[i] == '_' && v[i - 1] != '_')) return false;
  }
  return true;
}

/// KEY=VALUE into the parts of KEY and VALUE, both trimmed.
Result<SplitOverride> split_override(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return set_error(text, "expected KEY=VALUE (e.g. system.cpus=64)");
  }
  std::string_view key = trim(text.substr(0, eq));
  std::string_view value = trim(text.substr(eq + 1));
  if (key.empty()) return set_error(text, "missing KEY before '='");
  if (value.empty()) return set_error(text, "missing VALUE after '='");
  SplitOverride out;
  while (true) {
    auto dot = key.find('.');
    std::string_view part = key.substr(0, dot);
    if (part.empty()) {
      return set_error(text, "KEY must be a dotted path of names (e.g. system.cpus)");
    }
    for (char c : part) {
      if (!bare_key_char(c)) {
        return set_error(text, fmt::format("'{}' is not a key name (letters, digits, _ and -)",
                                           input::clip(part)));
      }
    }
    out.path.emplace_back(part);
    if (dot == std::string_view::npos) break;
    // Every key of a scenario is at most six deep (handler.0.action.0.send.count); a deeper path
    // would only build nested tables, as deep as the argument is long.
    if (out.path.size() == kMaxKeyParts) {
      return set_error(text,
                       fmt::format("KEY has more than {} parts (e.g. event.2.at)", kMaxKeyParts));
    }
    key.remove_prefix(dot + 1);
  }
  out.value = std::string(value);
  return out;
}

}  // namespace

Status apply_override(toml::table& root, const Override& o) {
  auto split = split_override(o.text);
  if (!split) return split.error();
  const auto& path = split->path;
  const std::string source = std::string(kSetSourcePrefix) + o.text;

  // VALUE as TOML; when it is none, as a bare string (system.delivery=idt).
  toml::parse_result parsed = toml::parse("v = " + split->value, source);
  if (!parsed && decimal_integer(split->value)) {
    // Not a string that happens to be digits: a number beyond 64 bits, which
    // the key's range check reports (kSetOverflowPrefix).
    const bool negative = split->value.front() == '-';
    parsed = toml::parse(negative ? "v = -9223372036854775808" : "v = 9223372036854775807",
                         std::string(kSetOverflowPrefix) + o.text);
  }
  if (!parsed || parsed.table().size() != 1) {
    bool bare_ok = split->value.find_first_of("'\"\n\r[]{}#") == std::string::npos;
    if (!bare_ok) {
      std::string why = parsed ? std::string("more than one value")
                               : toml_error_text(parsed.error().description());
      return set_error(o.text,
                       fmt::format("'{}' is not a TOML value: {}", input::clip(split->value), why));
    }
    parsed = toml::parse("v = '" + split->value + "'", source);
    if (!parsed || parsed.table().size() != 1) {
      return set_error(o.text, fmt::format("'{}' is not a TOML value", input::clip(split->value)));
    }
  }
  toml::node* value = parsed.table().get("v");
  if (!value) return set_error(o.text, "no value");

  toml::table* cur = &root;
  std::string walked;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    const std::string& part = path[i];
    walked += walked.empty() ? part : "." + part;
    toml::node* n = cur->get(part);
    if (!n) {
      cur = cur->insert_or_assign(part, toml::table{}).first->second.as_table();
      continue;
    }
    if (auto* t = n->as_table()) {
      cur = t;
      continue;
    }
    if (auto* a = n->as_array()) {
      if (i + 2 >= path.size()) {
        return set_error(o.text, fmt::format("'{}' is an array of tables: give an index and a "
                                             "key ({}.0.KEY)",
                                             input::clip(walked), input::clip(walked)));
      }
      const std::string& idx = path[++i];
      std::size_t index = 0;
      auto [p, ec] = std::from_chars(idx.data(), idx.data() + idx.size(), index);
      if (ec != std::errc() || p != idx.data() + idx.size()) {
        return set_error(o.text,
                         fmt::format("'{}' is an array of tables: '{}' is not an index "
                                     "({}.0.KEY)",
                                     input::clip(walked), input::clip(idx), input::clip(walked)));
      }
      if (index >= a->size()) {
        return set_error(o.text, fmt::format("'{}' has {} entries, so index {} is out of range",
                                             input::clip(walked), a->size(), index));
      }
      auto* t = a->get(index)->as_table();
      if (!t) {
        return set_error(o.text, fmt::format("'{}.{}' is not a table", input::clip(walked), index));
      }
      walked += "." + idx;
      cur = t;
      continue;
    }
    return set_error(
        o.text, fmt::format("'{}' is {}, not a table", input::clip(walked), type_name(n->type())));
  }
  const std::string& last = path.back();
  if (const toml::node* existing = cur->get(last)) {
    if (existing->is_table() || existing->is_array_of_tables()) {
      std::string full = walked.empty() ? last : walked + "." + last;
      return set_error(
          o.text, fmt::format("'{}' is {}; set a key inside it ({}.KEY=VALUE)", input::clip(full),
                              type_name(existing->type()), input::clip(full)));
    }
  }
  cur->insert_or_assign(last, std::move(*value));
  return {};
}

}  // namespace loader

Status check_override_syntax(std::string_view text) {
  auto split = loader::split_override(text);
  if (!split) return split.error();
  return {};
}

}  // namespace fredsim::scenario
