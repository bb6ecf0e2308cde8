// Loading a scenario: the text is checked for what toml++ cannot take (bytes
// that are not UTF-8, keys nested too deep), parsed, patched by the --set
// overrides (loader_overrides.cpp) and validated into a ScenarioSpec
// (loader_validator.hpp).
#include "fredsim/scenario/loader.hpp"

#include <fmt/format.h>

#include <exception>
#include <new>
#include <optional>

#include "scenario/input.hpp"
#include "scenario/loader_overrides.hpp"
#include "scenario/loader_toml.hpp"
#include "scenario/loader_validator.hpp"

namespace fredsim::scenario {
namespace {

using loader::bare_key_char;
using loader::toml_error_text;

constexpr std::size_t kMaxFileKeyParts = 16;  // of a key or table name in a file

/// The start of the first dotted key or table name of more than
/// kMaxFileKeyParts parts, outside strings and comments. toml++ nests a table
/// per part and frees them recursively: a key of a million parts (2 MB)
/// overflowed the stack. No key of a scenario has more than three parts
/// (event.2.at), so the scan may be coarse: anything but key characters,
/// blanks, dots and quoted parts ends a chain of parts.
std::optional<SourceLoc> too_deep_key(std::string_view text) {
  std::uint32_t line = 1;
  std::size_t line_start = 0;
  std::size_t dots = 0;
  std::optional<SourceLoc> chain;  // where the current chain of parts began
  auto here = [&](std::size_t i) {
    return SourceLoc{line, static_cast<std::uint32_t>(i - line_start + 1), {}};
  };
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (c == '"' || c == '\'') {
      // A string, perhaps a quoted part of a key: skipped whole, lines counted.
      if (!chain) chain = here(i);
      const bool triple = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      i += triple ? 3 : 1;
      while (i < n) {
        const char d = text[i];
        if (d == '\\' && c == '"') {
          if (i + 1 < n && text[i + 1] == '\n') {  // a line-ending backslash
            ++line;
            line_start = i + 2;
          }
          i += 2;
          continue;
        }
        if (d == '\n') {
          if (!triple) break;  // toml++ reports the open string
          ++line;
          line_start = i + 1;
        }
        if (d == c && !triple) {
          ++i;
          break;
        }
        if (d == c && i + 2 < n && text[i + 1] == c && text[i + 2] == c) {
          i += 3;
          break;
        }
        ++i;
      }
      continue;
    }
    if (c == '.' && chain) {
      if (++dots >= kMaxFileKeyParts) return chain;
    } else if (bare_key_char(c)) {
      if (!chain) chain = here(i);
    } else if (c != ' ' && c != '\t') {
      chain.reset();
      dots = 0;
      if (c == '#') {
        while (i < n && text[i] != '\n')
          ++i;
        continue;
      }
      if (c == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    ++i;
  }
  return std::nullopt;
}

Result<ScenarioSpec> load_impl(std::string_view text, std::string_view source_name,
                               const std::vector<Override>& overrides) {
  ScenarioSpec spec;
  spec.source_name = std::string(source_name);
  // As a cfg: the exact byte, where toml++ would name the character before it.
  if (auto bad = input::find_bad_byte(text)) {
    return spec.error_at(SourceLoc{bad->line, bad->column, {}},
                         fmt::format("{}: a scenario is UTF-8 text", bad->what));
  }
  if (auto deep = too_deep_key(text)) {
    return spec.error_at(*deep, fmt::format("a key or table name of more than {} parts (a "
                                            "scenario's have at most 3: event.2.at)",
                                            kMaxFileKeyParts));
  }
  toml::parse_result parsed = toml::parse(text, std::string(source_name));
  if (!parsed) {
    const auto& e = parsed.error();
    SourceLoc loc{e.source().begin.line, e.source().begin.column, {}};
    return spec.error_at(loc, toml_error_text(e.description()));
  }
  toml::table root = std::move(parsed).table();
  for (const auto& o : overrides) {
    if (auto st = loader::apply_override(root, o); !st) return st.error();
  }
  loader::Validator v(spec);
  if (auto err = v.run(root)) return *err;
  return spec;
}

}  // namespace

Result<ScenarioSpec> load_scenario_string(std::string_view text, std::string_view source_name,
                                          const std::vector<Override>& overrides) {
  try {
    return load_impl(text, source_name, overrides);
  } catch (const std::bad_alloc&) {
    // Not bad input: the command line reports it with its own status.
    throw input::OutOfMemory(fmt::format("out of memory while loading {}", source_name));
  } catch (const std::exception& e) {
    return Error{fmt::format("{}: error: internal error while loading: {}", source_name, e.what())};
  } catch (...) {
    return Error{fmt::format("{}: error: internal error while loading", source_name)};
  }
}

Result<ScenarioSpec> load_scenario_file(const std::string& path,
                                        const std::vector<Override>& overrides) {
  auto text = input::read_file(path);
  if (!text) return text.error();
  return load_scenario_string(*text, path, overrides);
}

}  // namespace fredsim::scenario
