// Output files written whole or not at all (outputs.hpp).
#include "outputs.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <streambuf>

namespace fredsim::cli {
namespace outputs_detail {

/// A stream buffer over a file descriptor that keeps the first write error
/// (errno) instead of losing it as std::ofstream does.
class FdBuf final : public std::streambuf {
 public:
  FdBuf() : buf_(std::make_unique_for_overwrite<char[]>(kSize)) { reset(); }
  void attach(int fd) { fd_ = fd; }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  static constexpr std::size_t kSize = 64 * 1024;
  void reset() { setp(buf_.get(), buf_.get() + kSize); }
  bool drain() {
    const char* p = pbase();
    std::size_t n = static_cast<std::size_t>(pptr() - pbase());
    reset();
    if (error_ != 0) return false;  // the rest of a failed output is dropped
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;  // a signal the command handles itself
        error_ = errno;
        return false;
      }
      if (w == 0) {
        error_ = EIO;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  std::unique_ptr<char[]> buf_;
  int fd_ = -1;
  int error_ = 0;
};

}  // namespace outputs_detail

namespace {

namespace fs = std::filesystem;

/// What a path names, to compare files by identity rather than by spelling.
struct Identity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string canonical;  // for a file not there yet
};

Identity identity_of(const std::string& path) {
  Identity id;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    return id;
  }
  std::error_code ec;
  fs::path c = fs::weakly_canonical(path, ec);
  id.canonical = ec ? fs::absolute(path, ec).lexically_normal().string() : c.string();
  return id;
}

bool same_file(const Identity& a, const Identity& b) {
  if (a.exists != b.exists) return false;
  return a.exists ? a.dev == b.dev && a.ino == b.ino : a.canonical == b.canonical;
}

/// What fd 1 is, for "-": /dev/stdout or the file stdout was redirected to
/// must not be given to a second output.
Identity stdout_identity() {
  Identity id;
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) == 0) {  // else: like no file, and matches none
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
  }
  return id;
}

/// A path in /dev or /proc (/dev/stdout, /dev/fd/3, /proc/self/fd/1) names an
/// open file or a device: written in place even when it leads to a regular file,
/// which a rename would cut off from whoever holds it open.
bool names_special_file(const std::string& path) {
  std::error_code ec;
  const std::string abs = fs::absolute(path, ec).lexically_normal().string();
  return abs.starts_with("/dev/") || abs.starts_with("/proc/");
}

/// Two outputs may share /dev/null: nothing is kept there to interleave.
bool is_dev_null(const Identity& id) {
  static const Identity null = identity_of("/dev/null");
  return null.exists && same_file(id, null);
}

}  // namespace

struct OutputFiles::Entry {
  enum class Kind : std::uint8_t { to_stdout, direct, replace };
  std::string option, path;
  Kind kind = Kind::replace;
  std::string target;  // what the temporary is renamed to (symbolic links followed)
  std::string temp;    // the temporary beside it, while it exists
  int fd = -1;
  outputs_detail::FdBuf buf;
  std::ostream os{&buf};
};

OutputFiles::OutputFiles(std::ostream& stdout_) : stdout_(stdout_) {}

OutputFiles::~OutputFiles() {
  discard();
}

void OutputFiles::add_input(std::string what, std::string path) {
  inputs_.emplace_back(std::move(what), std::move(path));
}

std::size_t OutputFiles::add(std::string option, std::string path) {
  auto e = std::make_unique<Entry>();
  e->option = std::move(option);
  e->path = std::move(path);
  entries_.push_back(std::move(e));
  return entries_.size() - 1;
}

Status OutputFiles::open_all() {
  // Every check first: a refused command opens (and so creates) nothing.
  std::vector<Identity> ids(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = *entries_[i];
    if (e.path == "-") {
      ids[i] = stdout_identity();
      continue;
    }
    ids[i] = identity_of(e.path);
    for (const auto& [what, input] : inputs_) {
      if (same_file(ids[i], identity_of(input))) {
        return Error{fmt::format("error: {} {} is the {} {}; an output must not overwrite an input",
                                 e.option, e.path, what, input)};
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      const Entry& other = *entries_[j];
      if (!same_file(ids[i], ids[j]) || is_dev_null(ids[i])) continue;
      return Error{fmt::format("error: {} {} and {} {} are one file; give each output its own",
                               other.option, other.path, e.option, e.path)};
    }
  }
  for (auto& ep : entries_) {
    Entry& e = *ep;
    if (e.path == "-") {
      e.kind = Entry::Kind::to_stdout;
      continue;
    }
    auto cannot_open = [&](int err) {
      discard();
      return Error{
          fmt::format("error: cannot open {} for writing: {}", e.path, std::strerror(err))};
    };
    struct stat st {};
    const bool exists = ::stat(e.path.c_str(), &st) == 0;
    if ((exists && !S_ISREG(st.st_mode)) || names_special_file(e.path)) {
      // A device, FIFO or terminal is written in place: renaming over one would
      // replace the device node itself (/dev/null as root).
      e.kind = Entry::Kind::direct;
      e.fd = ::open(e.path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (e.fd < 0) return cannot_open(errno);
      e.buf.attach(e.fd);
      continue;
    }
    // A regular file (or none yet): a temporary in the same directory, so the
    // final rename is atomic and a failed run leaves the old file as it was.
    if (exists && ::access(e.path.c_str(), W_OK) != 0) return cannot_open(errno);
    std::error_code ec;
    fs::path target =
        fs::is_symlink(e.path, ec) ? fs::weakly_canonical(e.path, ec) : fs::path(e.path);
    if (ec) target = e.path;
    e.target = target.string();
    fs::path dir = target.parent_path();
    if (dir.empty()) dir = ".";
    std::string temp =
        (dir / fmt::format(".{}.fredsim-XXXXXX", target.filename().string())).string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) return cannot_open(errno);
    e.fd = fd;
    e.temp = std::move(temp);
    e.buf.attach(fd);
    // The mode the file would have had: the old file's, else the default's.
    mode_t mode = 0;
    if (exists) {
      mode = st.st_mode & 07777;
    } else {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      mode = 0666 & ~mask;
    }
    ::fchmod(fd, mode);
  }
  return {};
}

std::ostream& OutputFiles::stream(std::size_t index) {
  Entry& e = *entries_.at(index);
  return e.kind == Entry::Kind::to_stdout ? stdout_ : e.os;
}

Status OutputFiles::commit() {
  std::optional<Error> first;
  for (auto& ep : entries_) {
    Entry& e = *ep;
    int err = 0;
    if (e.kind == Entry::Kind::to_stdout) {
      errno = 0;
      stdout_.flush();
      if (!stdout_) err = errno != 0 ? errno : EIO;
    } else if (e.fd >= 0) {
      e.os.flush();
      err = e.buf.error();
      if (err == 0 && !e.os) err = EIO;
      if (::close(e.fd) != 0 && err == 0) err = errno;
      e.fd = -1;
    }
    if (err != 0 && !first) {
      first = Error{fmt::format("error: cannot write {}: {}",
                                e.kind == Entry::Kind::to_stdout ? "stdout" : e.path,
                                std::strerror(err))};
    }
  }
  if (first) {
    discard();
    return *first;
  }
  for (auto& ep : entries_) {
    Entry& e = *ep;
    if (e.temp.empty()) continue;
    if (::rename(e.temp.c_str(), e.target.c_str()) != 0) {
      const int err = errno;
      discard();
      return Error{fmt::format("error: cannot write {}: {}", e.path, std::strerror(err))};
    }
    e.temp.clear();
  }
  return {};
}

void OutputFiles::discard() {
  for (auto& ep : entries_) {
    Entry& e = *ep;
    if (e.fd >= 0) ::close(e.fd);
    e.fd = -1;
    if (!e.temp.empty()) ::unlink(e.temp.c_str());
    e.temp.clear();
  }
}

std::unique_ptr<std::streambuf> fd_streambuf(int fd) {
  auto b = std::make_unique<outputs_detail::FdBuf>();
  b->attach(fd);
  return b;
}

Status check_stdout(std::ostream& out) {
  errno = 0;
  out.flush();
  if (out) return {};
  // The first error's reason, kept by an fd_streambuf; errno is that of the
  // last write, or none when the stream had failed before.
  int err = errno != 0 ? errno : EIO;
  if (const auto* fb = dynamic_cast<const outputs_detail::FdBuf*>(out.rdbuf());
      fb && fb->error() != 0)
    err = fb->error();
  return Error{fmt::format("error: cannot write stdout: {}", std::strerror(err))};
}

}  // namespace fredsim::cli
