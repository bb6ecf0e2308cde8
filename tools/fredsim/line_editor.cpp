// Where `fredsim step` reads its commands (line_editor.hpp).
#include "line_editor.hpp"

#include <histedit.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "signals.hpp"

namespace fredsim::cli {
namespace {

/// Waits until stdin has input (true) or fredsim's signal flag is set (false).
/// SIGINT and SIGTERM are blocked but while ppoll waits, which unblocks them
/// atomically, so a signal that comes between the check of the flag and the
/// wait cannot leave the wait blocked until the next input.
bool wait_for_stdin() {
  sigset_t blocked, old;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &blocked, &old);
  bool ready = false;
  for (;;) {
    if (caught_signal() != 0) break;
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::ppoll(&p, 1, nullptr, &old) >= 0) {
      ready = true;  // input, end of input or an error: read() tells which
      break;
    }
    if (errno != EINTR) {
      ready = true;
      break;
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return ready;
}

class StreamInput final : public LineInput {
 public:
  StreamInput(std::istream& in, std::ostream& out) : in_(in), out_(out) {}
  Read read(std::string_view prompt, std::string& line) override {
    out_ << prompt << std::flush;
    if (&in_ == &std::cin) return read_stdin(line);
    if (std::getline(in_, line)) return Read::line;
    if (caught_signal() != SIGINT) return Read::end;
    // ^C broke the read (no SA_RESTART, signals.cpp): the stream goes on.
    in_.clear();
    return Read::interrupted;
  }
  bool terminal() const override { return false; }

 private:
  /// A line of stdin (a pipe or a file) read from its descriptor, so that a ^C
  /// that comes just after the prompt is seen at once (wait_for_stdin), not
  /// after the next line. As std::getline: the line without its newline; a
  /// last line without one counts.
  Read read_stdin(std::string& line) {
    for (;;) {
      if (const std::size_t nl = pending_.find('\n'); nl != std::string::npos) {
        line.assign(pending_, 0, nl);
        pending_.erase(0, nl + 1);
        return Read::line;
      }
      if (eof_) {
        if (pending_.empty()) return Read::end;
        line.swap(pending_);
        pending_.clear();
        return Read::line;
      }
      if (!wait_for_stdin()) return caught_signal() == SIGINT ? Read::interrupted : Read::end;
      char chunk[4096];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n > 0) {
        pending_.append(chunk, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        eof_ = true;  // end of input, or an error that ends it
      }
    }
  }

  std::istream& in_;
  std::ostream& out_;
  std::string pending_;  // read from stdin, not yet returned
  bool eof_ = false;
};

/// libedit's EditLine and History, with fredsim's prompt, reader and completion.
/// The calls are those of editline(3): el_init, el_set (EL_PROMPT, EL_GETCFN,
/// EL_ADDFN, EL_BIND, EL_HIST), el_gets, history(H_ENTER).
class EditLineInput final : public LineInput {
 public:
  EditLineInput(std::ostream& out, Completer complete) : out_(out), complete_(std::move(complete)) {
    el_ = el_init("fredsim", stdin, stdout, stderr);
    hist_ = history_init();
    HistEvent ev;
    history(hist_, &ev, H_SETSIZE, 1000);
    history(hist_, &ev, H_SETUNIQUE, 1);  // a command repeated is kept once
    el_set(el_, EL_CLIENTDATA, static_cast<void*>(this));
    el_set(el_, EL_EDITOR, "emacs");
    // libedit's own signal handlers stay out: fredsim's set a flag, which
    // read_char sees when a signal breaks its read.
    el_set(el_, EL_SIGNAL, 0);
    el_set(el_, EL_PROMPT, &EditLineInput::prompt_of);
    el_set(el_, EL_HIST, history, hist_);
    el_set(el_, EL_GETCFN, &EditLineInput::read_char);
    // The wide call keeps these (static) strings; the narrow el_set copies them
    // and never frees the copies (libedit eln.c, EL_ADDFN: "The two strdup's
    // leak"), which LeakSanitizer reports.
    el_wset(el_, EL_ADDFN, L"fredsim-complete", L"complete a command, handler name or CPU number",
            &EditLineInput::complete_word);
    el_set(el_, EL_BIND, "^I", "fredsim-complete", nullptr);
    // The user's ~/.editrc (or $EDITRC), as every libedit program reads it.
    el_source(el_, nullptr);
  }
  ~EditLineInput() override {
    el_end(el_);  // restores the terminal's mode
    history_end(hist_);
  }
  EditLineInput(const EditLineInput&) = delete;
  EditLineInput& operator=(const EditLineInput&) = delete;

  Read read(std::string_view prompt, std::string& line) override {
    prompt_.assign(prompt);
    out_.flush();    // what the last command printed, before libedit writes
    el_resize(el_);  // the terminal may have changed size since (no SIGWINCH handler)
    int count = 0;
    const char* text = el_gets(el_, &count);
    if (text == nullptr || count <= 0) {
      if (caught_signal() == 0) return Read::end;
      el_reset(el_);  // drops what was typed; the next read starts afresh
      return Read::interrupted;
    }
    line.assign(text, static_cast<std::size_t>(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    return Read::line;
  }
  bool terminal() const override { return true; }
  void remember(const std::string& line) override {
    HistEvent ev;
    history(hist_, &ev, H_ENTER, line.c_str());
  }

 private:
  static EditLineInput& self(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return *static_cast<EditLineInput*>(data);
  }
  static char* prompt_of(EditLine* el) { return self(el).prompt_.data(); }

  /// One character from stdin. A signal ends el_gets (-1), so ^C at the prompt
  /// is seen at once, also one that came while libedit was busy with the keys
  /// before it (the terminal sends SIGINT as soon as ^C is typed): SIGINT and
  /// SIGTERM are blocked but while ppoll waits, which unblocks them atomically,
  /// so none can slip in between the check of the flag and the wait.
  static int read_char(EditLine*, wchar_t* c) {
    sigset_t blocked, old;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &blocked, &old);
    int got = -1;
    for (;;) {
      if (caught_signal() != 0) break;
      pollfd p{STDIN_FILENO, POLLIN, 0};
      const int ready = ::ppoll(&p, 1, nullptr, &old);
      if (ready < 0) {
        if (errno == EINTR) continue;  // the flag says whether it was ours
        break;
      }
      unsigned char byte = 0;
      const ssize_t n = ::read(STDIN_FILENO, &byte, 1);
      if (n == 1) {
        *c = static_cast<wchar_t>(byte);  // the commands are ASCII
        got = 1;
      } else if (n == 0) {
        got = 0;
      } else if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      break;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return got;
  }

  /// TAB: completes the word under the cursor as far as its completions agree;
  /// when they do not, lists them.
  static unsigned char complete_word(EditLine* el, int) {
    EditLineInput& me = self(el);
    const LineInfo* li = el_line(el);
    const std::string_view before(li->buffer, static_cast<std::size_t>(li->cursor - li->buffer));
    const std::size_t start =
        before.find_last_of(" \t") == std::string_view::npos ? 0 : before.find_last_of(" \t") + 1;
    const std::string_view partial = before.substr(start);
    const std::vector<std::string> options = me.complete_(before);
    if (options.empty()) return CC_REFRESH_BEEP;
    if (options.size() == 1) {
      const std::string rest = options.front().substr(partial.size()) + " ";
      el_insertstr(el, rest.c_str());
      return CC_REFRESH;
    }
    std::string common = options.front();
    for (const auto& o : options) {
      std::size_t i = 0;
      while (i < common.size() && i < o.size() && common[i] == o[i])
        ++i;
      common.resize(i);
    }
    if (common.size() > partial.size()) {
      el_insertstr(el, common.substr(partial.size()).c_str());
      return CC_REFRESH;
    }
    // A list, as a shell shows one, at most 100 entries.
    std::string list = "\n";
    std::size_t width = 0;
    for (std::size_t i = 0; i < options.size() && i < 100; ++i) {
      if (width + options[i].size() + 2 > 78 && width > 0) {
        list += '\n';
        width = 0;
      }
      list += options[i] + "  ";
      width += options[i].size() + 2;
    }
    if (options.size() > 100) list += "\n(" + std::to_string(options.size()) + " in all)";
    list += '\n';
    std::fputs(list.c_str(), stdout);
    std::fflush(stdout);
    return CC_REDISPLAY;
  }

  std::ostream& out_;
  Completer complete_;
  EditLine* el_ = nullptr;
  History* hist_ = nullptr;
  std::string prompt_;
};

}  // namespace

std::unique_ptr<LineInput> stream_input(std::istream& in, std::ostream& out) {
  return std::make_unique<StreamInput>(in, out);
}

std::unique_ptr<LineInput> terminal_input(std::ostream& out, Completer complete) {
  return std::make_unique<EditLineInput>(out, std::move(complete));
}

bool stdio_is_terminal() {
  return ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1;
}

}  // namespace fredsim::cli
