#pragma once
// Helpers shared by the scenario tests.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fredsim/scenario/loader.hpp"
#include "fredsim/scenario/runner.hpp"

namespace fredsim::scenario::test {

/// A file's first three lines: a name and a four-CPU [system].
inline constexpr std::string_view kHead = "name = \"x\"\n[system]\ncpus = 4\n";

/// Loads `text` as "t.toml"; fails the test on an error.
inline ScenarioSpec load_ok(std::string_view text, const std::vector<Override>& o = {}) {
  auto r = load_scenario_string(text, "t.toml", o);
  EXPECT_TRUE(r.ok()) << r.error().message;
  if (!r.ok()) return {};
  return std::move(r).value();
}

/// The error message of loading `text` as "t.toml" (empty when it loads).
inline std::string load_error(std::string_view text, const std::vector<Override>& o = {}) {
  auto r = load_scenario_string(text, "t.toml", o);
  if (r.ok()) return "";
  return r.error().message;
}

/// A file in a per-test temporary directory, removed with it.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("fredsim_scenario_") + info->test_suite_name() + "_" + info->name() + "_" +
            std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, std::string_view text) const {
    auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

inline std::string read_file(const std::string& path) {
  // One bulk copy: a character-at-a-time read of a growing trace (tests poll
  // a child's output) is slow in unoptimised test code.
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The repository root (set by ctest; else the source tree relative to the build).
inline std::string source_dir() {
  if (const char* d = std::getenv("FREDSIM_SOURCE_DIR")) return d;
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

}  // namespace fredsim::scenario::test
