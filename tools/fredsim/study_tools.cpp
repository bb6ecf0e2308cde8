// study_tools.hpp: files written whole and programs run from PATH.
#include "study_tools.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <sstream>

#include "outputs.hpp"

extern char** environ;

namespace fredsim::cli {

Status write_file(const std::string& path, const std::string& text) {
  std::ostringstream unused;  // no output here is "-"
  OutputFiles files(unused);
  const std::size_t f = files.add("--out", path);
  if (auto st = files.open_all(); !st) return st;
  files.stream(f) << text;
  return files.commit();
}

int run_program(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (!WIFEXITED(status)) return -1;
  // 127: the shell-style "command not found" of an exec that failed in the child.
  return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}

bool have_matplotlib() {
  return run_program({"python3", "-c", "import matplotlib"}, true) == 0;
}

bool have_gnuplot() {
  return run_program({"gnuplot", "--version"}, true) == 0;
}

}  // namespace fredsim::cli
