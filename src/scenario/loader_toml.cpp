// toml++'s implementation lives in this file only (src/scenario/CMakeLists.txt).
#define TOML_IMPLEMENTATION
#include "scenario/loader_toml.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "scenario/input.hpp"

namespace fredsim::scenario::loader {
namespace {

std::optional<SourceLoc> from_region(const toml::source_region& r) {
  if (r.path) {
    for (std::string_view prefix : {kSetSourcePrefix, kSetOverflowPrefix}) {
      if (!std::string_view(*r.path).starts_with(prefix)) continue;
      SourceLoc l;
      l.set_arg = r.path->substr(prefix.size());
      return l;
    }
  }
  if (r.begin.line == 0) return std::nullopt;
  return SourceLoc{r.begin.line, r.begin.column, {}};
}

}  // namespace

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  return "a value";
}

SourceLoc locate(const toml::node& n) {
  if (auto l = from_region(n.source())) return *l;
  if (const auto* t = n.as_table()) {
    for (auto&& [k, v] : *t) {
      if (auto l = locate(v); l.known()) return l;
    }
  } else if (const auto* a = n.as_array()) {
    for (const auto& v : *a) {
      if (auto l = locate(v); l.known()) return l;
    }
  }
  return {};
}

SourceLoc locate_key(const toml::key& k, const toml::node& v) {
  if (auto l = from_region(k.source())) return *l;
  return locate(v);
}

std::optional<std::string_view> overflowed_text(const toml::node& n) {
  const auto& path = n.source().path;
  if (!path || !std::string_view(*path).starts_with(kSetOverflowPrefix)) return std::nullopt;
  std::string_view arg = std::string_view(*path).substr(kSetOverflowPrefix.size());
  arg.remove_prefix(std::min(arg.size(), arg.find('=') + 1));
  return trim(arg);
}

std::string range_text(std::int64_t min, std::int64_t max, bool below) {
  if (max == kMaxInt || ((max == kMaxTime || max == kMaxCostCycles) && below)) {
    return fmt::format("at least {}", min);
  }
  if (max == kMaxTime) return fmt::format("at most {} (2^50, the end of simulated time)", max);
  if (max == kMaxCostCycles) return fmt::format("at most {} (2^31)", max);
  return fmt::format("{}..{}", min, max);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string toml_error_text(std::string_view description) {
  constexpr std::string_view prefix = "Error while parsing ";
  if (!description.starts_with(prefix)) return "TOML syntax error: " + std::string(description);
  description.remove_prefix(prefix.size());
  return "TOML syntax error in " + std::string(description);
}

Field TableReader::take(std::string_view key) {
  taken_.push_back(key);
  Field f;
  f.what = prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
  f.node = table_.get(key);
  if (f.node && keys_) keys_->add(std::string(key), locate(*f.node));
  return f;
}

std::optional<std::pair<SourceLoc, std::string>> TableReader::unknown_key(
    std::string_view where) const {
  for (auto&& [k, v] : table_) {
    if (std::find(taken_.begin(), taken_.end(), k.str()) != taken_.end()) continue;
    std::string allowed;
    for (auto name : taken_) {
      if (!allowed.empty()) allowed += ", ";
      allowed += name;
    }
    return std::pair{locate_key(k, v), fmt::format("unknown key '{}' {} (allowed: {})",
                                                   input::clip(k.str()), where, allowed)};
  }
  return std::nullopt;
}

}  // namespace fredsim::scenario::loader
