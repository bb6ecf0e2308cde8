#include "scenario/input.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace fredsim::scenario::input {
namespace {

/// What a file that is not a regular file is, for "PATH: error: is a FIFO".
std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Error not_regular(const std::string& path, mode_t mode) {
  const std::string_view kind = kind_of(mode);
  if (kind.starts_with("not ")) return Error{fmt::format("{}: error: is {}", path, kind)};
  return Error{fmt::format("{}: error: is {}, not a regular file", path, kind)};
}

Error too_large(const std::string& path) {
  return Error{
      fmt::format("{}: error: file too large (more than {} MiB)", path, kMaxFileBytes >> 20)};
}

/// Closes the descriptor on every path out of read_file.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// The length of the UTF-8 sequence at text[i], or 0 when it is not valid
/// (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;  // overlong
    if (b == 0xED) hi = 0x9F;  // surrogates
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;  // overlong
    if (b == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

namespace {

Result<std::string> read_file_impl(const std::string& path) {
  // stat() first: opening a FIFO for reading blocks until a writer comes.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error{fmt::format("{}: error: cannot open: {}", path, std::strerror(errno))};
  }
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxFileBytes) return too_large(path);
  // The path may name something else by now: O_NONBLOCK keeps a FIFO put in its
  // place from blocking the open, and fstat() checks what was opened.
  Fd f{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)};
  if (f.fd < 0) {
    return Error{fmt::format("{}: error: cannot open: {}", path, std::strerror(errno))};
  }
  if (::fstat(f.fd, &st) != 0) {
    return Error{fmt::format("{}: error: cannot read: {}", path, std::strerror(errno))};
  }
  if (!S_ISREG(st.st_mode)) return not_regular(path, st.st_mode);
  // Read to the end, one byte past the cap at most: a file that grows while it
  // is read is still refused, not read on and on.
  std::string text;
  const std::size_t expected = static_cast<std::size_t>(st.st_size);
  text.resize(std::min<std::size_t>(expected, kMaxFileBytes) + 1);
  std::size_t have = 0;
  while (true) {
    if (have == text.size()) {
      if (text.size() > kMaxFileBytes) return too_large(path);
      text.resize(std::min<std::size_t>(text.size() * 2, kMaxFileBytes + 1));
    }
    const ssize_t got = ::read(f.fd, text.data() + have, text.size() - have);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error{fmt::format("{}: error: cannot read: {}", path, std::strerror(errno))};
    }
    if (got == 0) break;
    have += static_cast<std::size_t>(got);
  }
  text.resize(have);
  return text;
}

}  // namespace

Result<std::string> read_file(const std::string& path) {
  try {
    return read_file_impl(path);
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(fmt::format("out of memory while reading {}", path));
  }
}

std::string clip(std::string_view value) {
  std::size_t keep = value.size();
  if (keep > kMaxEcho) {
    keep = kMaxEcho;
    // Back to the start of a character: continuation bytes are 10xxxxxx.
    while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80)
      --keep;
  }
  std::string out;
  out.reserve(keep + 24);
  for (char c : value.substr(0, keep)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (keep < value.size()) out += fmt::format("... ({} bytes)", value.size());
  return out;
}

std::optional<BadByte> find_bad_byte(std::string_view text) {
  std::uint32_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = ++i;
      continue;
    }
    std::string what;
    std::size_t n = 1;
    if (c == '\0') {
      what = "a NUL byte";
    } else {
      n = utf8_length(text, i);
      if (n == 0) {
        what = fmt::format("invalid UTF-8 (byte {:#04x})", static_cast<unsigned char>(c));
      }
    }
    if (!what.empty()) {
      return BadByte{i, line, static_cast<std::uint32_t>(i - line_start + 1), std::move(what)};
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace fredsim::scenario::input
