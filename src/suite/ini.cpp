// The line reader of unittests.cfg and targets files. The rules follow
// kvm-unit-tests (docs/unittests.txt: "# is the comment symbol"; scripts/common.bash:
// a "[name]" line starts a test, "key = value" lines follow, a value opened with
// """ runs to the line that ends with """, and a backslash at the end of such a
// line joins the next one). It is strict where the original is silent: any other
// line is an error.
#include "suite/ini.hpp"

#include <fmt/format.h>

#include <optional>

#include "scenario/input.hpp"

namespace fredsim::suite::ini {

namespace input = scenario::input;
namespace {

constexpr std::string_view kBlanks = " \t\r\f\v";
constexpr std::string_view kTripleQuote = R"(""")";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kBlanks);
  return s.substr(b, e - b + 1);
}

std::string_view trim_right(std::string_view s) {
  const auto e = s.find_last_not_of(kBlanks);
  return e == std::string_view::npos ? std::string_view{} : s.substr(0, e + 1);
}

bool is_blank(char c) {
  return kBlanks.find(c) != std::string_view::npos;
}

/// The text before a comment: a '#' at the start or after a blank, outside quotes
/// (so `name="a #b"` and `a#b` keep theirs).
std::string_view strip_comment(std::string_view s) {
  char quote = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '#' && (i == 0 || is_blank(s[i - 1]))) {
      return s.substr(0, i);
    }
  }
  return s;
}

bool valid_key(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

/// A section name: no blanks, control characters, brackets or quotes (it is one
/// word in every report).
bool valid_section_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '[' || c == ']' || c == '"' || c == '\'') return false;
  }
  return true;
}

/// Ends with an odd number of backslashes: the last one escapes the newline.
bool escapes_newline(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() && s[s.size() - 1 - n] == '\\')
    ++n;
  return n % 2 == 1;
}

class Reader {
 public:
  Reader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Result<std::vector<Item>> run() {
    std::vector<Item> items;
    while (auto raw = next_line()) {
      const std::uint32_t line = line_;
      std::string_view s = trim(*raw);
      if (s.empty() || s.front() == '#') continue;
      if (s.front() == '[') {
        const auto close = s.find(']');
        if (close == std::string_view::npos) {
          return error_at(source_, line, "a section line needs a closing ']': [test-name]");
        }
        if (!trim(strip_comment(s.substr(close + 1))).empty()) {
          return error_at(source_, line,
                          fmt::format("unexpected '{}' after the section's ']'",
                                      input::clip(trim(strip_comment(s.substr(close + 1))))));
        }
        std::string_view name = trim(s.substr(1, close - 1));
        if (!valid_section_name(name)) {
          return error_at(source_, line,
                          fmt::format("bad section name '[{}]': give one word without blanks, "
                                      "quotes or brackets",
                                      input::clip(name)));
        }
        items.push_back({Item::Kind::section, std::string(name), {}, line});
        continue;
      }
      const auto eq = s.find('=');
      if (eq == std::string_view::npos) {
        return error_at(
            source_, line,
            fmt::format("expected '[test-name]' or 'KEY = VALUE', not '{}'", input::clip(s)));
      }
      std::string_view key = trim(s.substr(0, eq));
      if (!valid_key(key)) {
        return error_at(
            source_, line,
            fmt::format("bad key '{}' (letters, digits, '_', '-', '.')", input::clip(key)));
      }
      std::string_view rest = trim(s.substr(eq + 1));
      Item item{Item::Kind::entry, std::string(key), {}, line};
      if (rest.starts_with(kTripleQuote)) {
        auto v = multi_line(rest.substr(kTripleQuote.size()), line);
        if (!v) return v.error();
        item.value = std::move(*v);
      } else {
        item.value = std::string(trim(strip_comment(rest)));
      }
      items.push_back(std::move(item));
    }
    return items;
  }

 private:
  std::optional<std::string_view> next_line() {
    if (pos_ >= text_.size()) return std::nullopt;
    const auto nl = text_.find('\n', pos_);
    const auto end = nl == std::string_view::npos ? text_.size() : nl;
    std::string_view l = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    ++line_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
  }

  /// The rest of a """ value: raw lines (no comments) up to one that ends with """.
  Result<std::string> multi_line(std::string_view first, std::uint32_t opened) {
    std::string value;
    auto add = [&](std::string_view part, bool last) {
      // A backslash at the end of the previous line joins this one to it.
      if (!value.empty() && value.back() == '\n' &&
          escapes_newline(std::string_view(value).substr(0, value.size() - 1))) {
        value.resize(value.size() - 2);
      }
      value += part;
      if (!last) value += '\n';
    };
    std::string_view line = first;
    while (true) {
      std::string_view t = trim_right(line);
      if (t.ends_with(kTripleQuote)) {
        add(t.substr(0, t.size() - kTripleQuote.size()), true);
        const auto b = value.find_first_not_of(" \t\r\f\v\n");
        const auto e = value.find_last_not_of(" \t\r\f\v\n");
        return b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
      }
      add(line, false);
      auto next = next_line();
      if (!next) {
        return error_at(source_, opened, "the \"\"\" value opened here is never closed");
      }
      line = *next;
    }
  }

  std::string_view text_;
  std::string_view source_;
  std::size_t pos_ = 0;
  std::uint32_t line_ = 0;
};

}  // namespace

Error error_at(std::string_view source, std::uint32_t line, std::string_view what) {
  return Error{fmt::format("{}:{}: error: {}", source, line, what)};
}

Result<std::vector<Item>> read(std::string_view text, std::string_view source) {
  // A cfg is text: a NUL or a byte that is not UTF-8 means the wrong file (or a
  // damaged one), and would reach reports and scenario paths unseen.
  if (auto bad = input::find_bad_byte(text)) {
    return error_at(
        source, bad->line,
        fmt::format("{} at column {}: the file must be UTF-8 text", bad->what, bad->column));
  }
  return Reader(text, source).run();
}

Result<std::string> read_file(const std::string& path) {
  return input::read_file(path);
}

}  // namespace fredsim::suite::ini
