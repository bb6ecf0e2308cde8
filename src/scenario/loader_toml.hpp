#pragma once
// The loader's view of toml++: what a node's type is called in messages, where a
// node came from (a line of the file or a --set argument), and TableReader, which
// hands out the keys of one table and names those it was not asked for.
//
// toml++ is header-only and without exceptions (see CMakeLists.txt): parse errors
// come back as values. Only the loader's own files include this header.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fredsim/scenario/spec.hpp"
#include "scenario/toml.hpp"

namespace fredsim::scenario::loader {

/// Nodes parsed from a --set argument carry this prefix and the argument as their
/// source path, so errors about them name the argument instead of a file line.
inline constexpr std::string_view kSetSourcePrefix = "--set ";
/// A --set VALUE that is a decimal integer beyond 64 bits stands in the tree as
/// the nearest 64-bit integer with this prefix on its source path, so the key's
/// own range check reports it ("system.cpus = 99999999999999999999 is out of
/// range (1..4096)") instead of taking it as a string or as that integer.
inline constexpr std::string_view kSetOverflowPrefix = "(beyond 64 bits) --set ";

inline constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();
inline constexpr auto kMaxTime = static_cast<std::int64_t>(kMaxCycle);
inline constexpr auto kMaxCostCycles = static_cast<std::int64_t>(kMaxCost);

/// "an integer", "a table", ...: a node type as a message names it.
std::string_view type_name(toml::node_type t);

/// The place of a node: its own source, else (a table made by --set) the first
/// descendant that has one.
SourceLoc locate(const toml::node& n);
/// The place of a key, else of its value.
SourceLoc locate_key(const toml::key& k, const toml::node& v);

/// The digits of a --set integer beyond 64 bits (kSetOverflowPrefix), or none.
std::optional<std::string_view> overflowed_text(const toml::node& n);

/// The range a value `below` or above it missed: "1..4096"; for the wide ranges
/// of times and costs the side it missed, "at least 0" or "at most 2147483648
/// (2^31)".
std::string range_text(std::int64_t min, std::int64_t max, bool below);

/// A character of a bare key: A-Z, a-z, 0-9, _ and -.
constexpr bool bare_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

/// `s` without the blanks (spaces, tabs) at either end.
std::string_view trim(std::string_view s);

/// toml++ says "Error while parsing key: expected ..."; the message already has
/// "error:", so this reads "TOML syntax error in key: expected ...".
std::string toml_error_text(std::string_view description);

/// A key of a table as the reader handed it out: its node (null when the table
/// does not have it) and its name as messages give it ("system.cpus").
struct Field {
  const toml::node* node = nullptr;
  std::string what;

  explicit operator bool() const { return node != nullptr; }
  const toml::node& operator*() const { return *node; }
  const toml::node* operator->() const { return node; }
};

/// One table of the file. take() declares a key the table may have and hands out
/// its node; unknown_key() then names the first key of the table nobody took.
/// So each key is spelled once, where it is read, and the list a message gives
/// ("allowed: ...") is the order of the take() calls.
class TableReader {
 public:
  /// `prefix` qualifies key names in messages ("system" makes "system.cpus"; none
  /// at the top level). The location of each key taken that the table has goes
  /// to `keys`.
  TableReader(const toml::table& table, std::string_view prefix, KeyLocations* keys = nullptr)
      : table_(table), prefix_(prefix), keys_(keys) {}

  Field take(std::string_view key);
  /// take(key) when the table may have the key, else an absent field (and the
  /// key, if given, is unknown).
  Field take_if(bool allowed, std::string_view key) { return allowed ? take(key) : Field{}; }

  /// The first key of the table (in toml++'s order) that no take() declared: its
  /// location and the message "unknown key 'K' WHERE (allowed: ...)", `where`
  /// placing the table ("in [system]").
  std::optional<std::pair<SourceLoc, std::string>> unknown_key(std::string_view where) const;
  /// The keys declared so far, in take() order.
  const std::vector<std::string_view>& taken() const { return taken_; }

 private:
  const toml::table& table_;
  std::string_view prefix_;
  KeyLocations* keys_;
  std::vector<std::string_view> taken_;
};

}  // namespace fredsim::scenario::loader
